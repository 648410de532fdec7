"""The PostgreSQL store on a real server: the guarantees SQLite gives, kept.

Positions gapless and in commit order under concurrent writers (the sequence
pitfall), the same hash chain over the same bytes as SQLite, the server's clock
for ``recorded_at``, append-only triggers, schema checks, and SIGKILLed writers.
Every test needs the server (``TIMELINE_TEST_POSTGRES``; see ``.ci/postgres``).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import timeline as tl
from tests.conftest import H200, StepClock
from tests.integration._channel import Channel
from tests.integration._workers import BATCH_SIZE, STORY, event
from timeline.store.base import EventFilter

pytestmark = pytest.mark.slow

COLUMNS = (
    "position, id, story, version, type, schema_version, occurred_at, precision, "
    "reported_at, recorded_at, payload, prev_hash, hash"
)


def _raw(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def _rows(url: str) -> list[tuple[Any, ...]]:
    with _raw(url) as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY position").fetchall()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tl.Timeline]:
    """An empty PostgreSQL store using the server's clock."""
    with tl.Timeline.open(postgres_url) as store:
        yield store


# --- the same bytes ---------------------------------------------------------------


def test_the_h200_story_gets_the_same_rows_and_hashes_on_both_backends(
    postgres_url: str, db_path: Path
) -> None:
    for location in (str(db_path), postgres_url):
        with tl.Timeline.open(location, clock=StepClock()) as store:
            store.load(H200)
    with tl.Timeline.open(db_path) as lite:
        sqlite_rows = lite.store.conn.execute(
            f"SELECT {COLUMNS} FROM events ORDER BY position"
        ).fetchall()
    assert _rows(postgres_url) == sqlite_rows
    assert len(sqlite_rows) == 21


def test_payloads_are_stored_as_text_byte_for_byte(pg: tl.Timeline, postgres_url: str) -> None:
    pg.load(H200)
    with _raw(postgres_url) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'events' "
            "AND column_name = 'payload'"
        ).fetchone()
    assert kind == ("text",)
    assert pg.verify() == 21


# --- the server's clock -------------------------------------------------------------


def test_recorded_at_comes_from_the_server_clock(pg: tl.Timeline, postgres_url: str) -> None:
    with _raw(postgres_url) as conn:
        before = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        recorded = pg.append([event("a")], story=STORY).appended[0].recorded_at
        after = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    assert before <= recorded <= after


def test_recorded_at_strictly_increases_within_and_across_batches(pg: tl.Timeline) -> None:
    pg.append([event(f"a{i}") for i in range(50)], story=STORY)
    pg.append([event(f"b{i}") for i in range(50)], story=STORY)
    times = [r.recorded_at for r in pg.events()]
    assert len(times) == 100
    assert all(a < b for a, b in itertools.pairwise(times))


# --- append-only, schema checks ------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events WHERE position = 1",
        "TRUNCATE events CASCADE",
        "UPDATE event_actors SET actor = 'someone-else'",
    ],
)
def test_a_raw_connection_cannot_change_the_log(
    pg: tl.Timeline, postgres_url: str, statement: str
) -> None:
    pg.load(H200)
    with _raw(postgres_url) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement)  # type: ignore[arg-type]
    assert pg.verify() == 21


def test_verify_names_the_position_whose_payload_was_edited(
    pg: tl.Timeline, postgres_url: str
) -> None:
    pg.load(H200)
    with _raw(postgres_url) as conn:
        conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        conn.execute(
            "UPDATE events SET payload = replace(payload, 'H200', 'H100') WHERE position = 4"
        )
    with pytest.raises(tl.IntegrityError, match="position 4") as info:
        pg.verify()
    assert info.value.position == 4


def test_a_schema_holding_other_tables_is_not_a_timeline_store(postgres_url: str) -> None:
    with _raw(postgres_url) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(tl.StoreFormatError, match="not a timeline store"):
        tl.Timeline.open(postgres_url)
    with _raw(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    assert tables == [("invoices",)]


def test_a_store_from_a_newer_version_is_refused(pg: tl.Timeline, postgres_url: str) -> None:
    with _raw(postgres_url) as conn:
        conn.execute("INSERT INTO timeline_migrations (name) VALUES ('0099_from_the_future')")
    with pytest.raises(tl.StoreFormatError, match=r"newer version.*0099_from_the_future"):
        tl.Timeline.open(postgres_url)


def test_opening_without_create_finds_no_store_and_creates_nothing(postgres_url: str) -> None:
    with pytest.raises(tl.StoreFormatError, match="no timeline store"):
        tl.Timeline.open(postgres_url, create=False)
    with _raw(postgres_url) as conn:
        count = conn.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    assert count == (0,)


def test_an_unreachable_server_is_a_store_error_naming_it_without_the_password() -> None:
    url = "postgresql://me:secret@/nowhere?host=/nonexistent-socket-dir&connect_timeout=1"
    with pytest.raises(tl.StoreError, match="cannot connect") as info:
        tl.Timeline.open(url)
    assert "secret" not in str(info.value)
    assert "***" in str(info.value)


def test_a_read_only_store_refuses_writes(pg: tl.Timeline, postgres_url: str) -> None:
    pg.load(H200)
    with tl.Timeline.open(postgres_url, readonly=True) as reader:
        assert reader.verify() == 21
        with pytest.raises(tl.StoreError, match="read-only"):
            reader.append([event("x")], story=STORY)
    assert pg.store.head() == 21


# --- concurrency: the sequence pitfall ---------------------------------------------------


def test_concurrent_batches_do_not_interleave(postgres_url: str, tmp_path: Path) -> None:
    tl.Timeline.open(postgres_url).close()
    size = 400
    workers = [
        Channel("batcher", postgres_url, name, str(size), stderr_path=tmp_path / f"{name}.err")
        for name in ("a", "b", "c")
    ]
    try:
        assert [w.read_line() for w in workers] == ["ready"] * 3
        for w in workers:
            w.send("go")
        got = [json.loads(w.read_line(timeout=120)) for w in workers]
    finally:
        for w in workers:
            w.close()
    for positions in got:
        assert positions == list(range(positions[0], positions[0] + size))
    assert sorted(p for positions in got for p in positions) == list(range(1, 3 * size + 1))
    with tl.Timeline.open(postgres_url) as store:
        assert store.verify() == 3 * size


def test_a_reader_tailing_by_position_misses_nothing_while_writers_race(
    postgres_url: str, tmp_path: Path
) -> None:
    tl.Timeline.open(postgres_url).close()
    writers = [
        Channel("writer", postgres_url, f"w{n}", "20", stderr_path=tmp_path / f"w{n}.err")
        for n in range(3)
    ]
    seen: list[int] = []
    done = threading.Event()

    def tail() -> None:
        with tl.Timeline.open(postgres_url) as store:
            while True:
                finished = done.is_set()  # read before the last pass: nothing after it is missed
                new = store.store.read(EventFilter(after_position=len(seen)))
                seen.extend(r.position for r in new)
                if finished:
                    return
                store.store.wait(len(seen), timeout=0.5)

    reader = threading.Thread(target=tail)
    try:
        assert [w.read_line() for w in writers] == ["ready"] * 3
        reader.start()
        for w in writers:
            w.send("go")
        reports = [json.loads(w.read_line(timeout=120)) for w in writers]
    finally:
        done.set()
        reader.join(timeout=60)
        for w in writers:
            w.close()
    assert [r["failures"] for r in reports] == [[]] * 3
    assert seen == list(range(1, 61))


def test_racing_expected_versions_raise_concurrency_errors_and_lose_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    tl.Timeline.open(postgres_url).close()
    writers = [
        Channel("writer", postgres_url, f"w{n}", "25", stderr_path=tmp_path / f"w{n}.err")
        for n in range(4)
    ]
    try:
        assert [w.read_line() for w in writers] == ["ready"] * 4
        for w in writers:
            w.send("go")
        reports = [json.loads(w.read_line(timeout=120)) for w in writers]
    finally:
        for w in writers:
            w.close()
    assert [r["failures"] for r in reports] == [[]] * 4
    assert sum(int(r["conflicts"]) for r in reports) > 0
    rows = _rows(postgres_url)
    assert [row[0] for row in rows] == list(range(1, 101))
    assert [row[3] for row in rows] == list(range(1, 101))
    assert sorted(row[1] for row in rows) == sorted(
        f"w{n}-{i:03d}" for n in range(4) for i in range(25)
    )
    with tl.Timeline.open(postgres_url) as store:
        assert store.verify() == 100


def test_a_writer_killed_mid_batch_leaves_no_partial_batch_and_no_held_lock(
    postgres_url: str, tmp_path: Path
) -> None:
    tl.Timeline.open(postgres_url).close()
    server = Channel("crash-server", postgres_url, stderr_path=tmp_path / "server.err")
    try:
        for run in range(8):
            server.send(f"spawn {run}")
            lines = server.read_until(lambda line: line.startswith("spawned "))
            pid = int(lines[-1].split()[1])
            server.read_until(lambda line: line == f"R{run} commit 2")  # noqa: B023
            os.kill(pid, signal.SIGKILL)
            server.send(f"reap {pid}")
            done = f"reaped {pid} "
            reaped = server.read_until(lambda line: line.startswith(done))  # noqa: B023
            assert reaped[-1].endswith(" -9")
            with tl.Timeline.open(postgres_url, busy_timeout=5) as store:
                counts: dict[str, int] = {}
                for record in store.events():
                    if record.id.startswith("after-"):
                        continue
                    prefix = record.id[:11]
                    counts[prefix] = counts.get(prefix, 0) + 1
                assert set(counts.values()) <= {BATCH_SIZE}, counts
                # the lock died with the writer's connection: this append does not wait
                store.append([event(f"after-{run}")], story=STORY)
                assert store.verify() == store.store.head()
    finally:
        server.close()


# --- search: one syntax, the same hits ------------------------------------------------

SHARED_QUERIES = [
    "chip",
    "chips",
    "nvidia h200",
    '"grey market"',
    "bytedance OR alibaba",
    "h200 -bytedance",
    "procur*",
    "beijing approval",
    "Tencent",
    "ministry OR regulator -commerce",
    "approv*",
    "customs",
    "declined comment",
]


def test_both_backends_find_the_same_events_for_the_shared_syntax(
    postgres_url: str, db_path: Path
) -> None:
    found: dict[str, list[set[str]]] = {q: [] for q in SHARED_QUERIES}
    for location in (str(db_path), postgres_url):
        with tl.Timeline.open(location) as store:
            store.load(H200)
            for query in SHARED_QUERIES:
                found[query].append({h.record.id for h in store.search(query, limit=None)})
    differ = {q: hits for q, hits in found.items() if hits[0] != hits[1]}
    assert differ == {}
    assert found["Tencent"][0] == {"h200-0005"}
    assert found['"grey market"'][0] == found["procur*"][0] == {"h200-0002"}
    assert len(found["ministry OR regulator -commerce"][0]) == 9
    assert len(found["chip"][0]) == 21


def test_sqlite_only_search_syntax_is_refused_on_postgresql_saying_so(pg: tl.Timeline) -> None:
    pg.load(H200)
    for query in ("nvidia NEAR(h200 chips)", "summary: tender", "grey AND market", "(a OR b)"):
        with pytest.raises(tl.ValidationError, match="SQLite-only search syntax"):
            pg.search(query)


def test_search_hits_come_best_first_with_marked_snippets(pg: tl.Timeline) -> None:
    pg.load(H200)
    hits = pg.search("grey market")
    assert [h.record.id for h in hits] == ["h200-0002"]
    assert "[grey]" in hits[0].snippet
    assert hits[0].rank < 0


# --- reliability: writers, readers and a server restart -----------------------------------

RELIABILITY = Path(__file__).resolve().parents[2] / "bench" / "reliability_postgres.py"


def test_eight_writers_two_readers_and_a_server_restart_lose_and_duplicate_nothing(
    postgres_url: str,
) -> None:
    command = [sys.executable, str(RELIABILITY), "--url", postgres_url, "--seconds", "10"]
    if os.environ.get("TIMELINE_PG_DIR"):
        command.append("--restart")  # the cluster .ci/postgres started: ours to restart
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(done.stdout)
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert failed == [], (failed, report.get("foreign_errors"), done.stderr[-2000:])
    assert report["events"] > 100
    assert report["conflicts"] > 0
    assert done.returncode == 0


# --- a streaming replica ----------------------------------------------------------------


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture
def replica(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """A streaming replica of the test cluster (pg_basebackup -R), on its own socket.

    Needs the cluster ``.ci/postgres`` started (TIMELINE_PG_DIR): under CI it
    always is; elsewhere, without it, this skips.
    """
    pg_dir = os.environ.get("TIMELINE_PG_DIR")
    if not pg_dir:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI must test replicas: start the server with .ci/postgres")
        pytest.skip("no cluster of ours to replicate (start one with .ci/postgres)")
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    primary = psycopg.conninfo.conninfo_to_dict(postgres_url)
    home = Path(pg_dir) / f"replica-{os.getpid()}"
    data, sock = home / "data", home / "sock"
    subprocess.run(["mkdir", "-p", str(sock)], check=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(home)], check=True)
    subprocess.run(
        _as_postgres(
            str(binaries / "pg_basebackup"), "-D", str(data), "-R", "-X", "stream",
            "-h", str(primary["host"]), "-p", str(primary["port"]), "-U", "postgres",
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    port = int(str(primary["port"])) + 1
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {port}\nunix_socket_directories = '{sock}'\nhot_standby = on\n")
    subprocess.run(
        _as_postgres(
            str(binaries / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w", "start"
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield postgres_url.replace(f"host={primary['host']}", f"host={sock}").replace(
            f"port={primary['port']}", f"port={port}"
        )
    finally:
        subprocess.run(
            _as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            check=False, capture_output=True,
        )  # fmt: skip
        subprocess.run(["rm", "-rf", str(home)], check=False)


def _replayed(primary: str, replica: str, timeout: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with psycopg.connect(primary, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            if row is not None and row[0]:
                return
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)


def test_a_replica_answers_reads_follows_the_primary_and_refuses_writes(
    postgres_url: str, replica: str
) -> None:
    with tl.Timeline.open(postgres_url) as primary:
        primary.load(H200)
        _replayed(postgres_url, replica)  # the schema must have reached it to be opened
        with tl.Timeline.open(replica) as standby:
            assert standby.store.readonly
            # the replica may lag: follow() waits for it, 21 events and no more
            followed = [r.id for r in itertools.islice(standby.follow(0, timeout=20), 21)]
            assert followed == [f"h200-{i:04d}" for i in range(1, 22)]
            assert standby.state() == primary.state()
            assert [s.event.id for s in standby.replay()] == [s.event.id for s in primary.replay()]
            assert standby.verify() == 21
            with pytest.raises(tl.StoreError, match="read-only replica"):
                standby.append([event("x")], story=STORY)
            primary.append([event("after-the-copy")], story=STORY)
            late = next(standby.follow(21, timeout=20))
            assert (late.position, late.id) == (22, "after-the-copy")


def test_datasette_metadata_on_postgresql_says_to_copy_into_an_sqlite_file(
    pg: tl.Timeline,
) -> None:
    with pytest.raises(tl.ValidationError, match="timeline copy"):
        pg.datasette_metadata()

"""Readers never write and never fail because of writers."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

import timeline as tl
from tests.cli.conftest import LOADED_AT, run
from tests.conftest import FIXTURES, H200
from timeline.projections.fold import diff_states
from timeline.store import integrity

DEC_1 = datetime(2025, 12, 1, tzinfo=UTC)


def test_verify_during_a_concurrent_append_reads_one_snapshot_and_passes(
    h200: tl.Timeline, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = tl.Timeline.open(store_location)
    hashed = integrity.row_hash
    appended: list[int] = []

    def hash_then_let_a_writer_commit(prev_hash: str, row: Sequence[Any]) -> str:
        # while verify walks the rows, another connection appends and commits
        if not appended:
            appended.append(1)
            for i in range(3):
                writer.append([tl.Report(id=f"w{i}", occurred_at=DEC_1)], story="w")
        return hashed(prev_hash, row)

    monkeypatch.setattr(integrity, "row_hash", hash_then_let_a_writer_commit)
    try:
        assert h200.verify() == 21  # the log as it was when verify began
    finally:
        writer.close()
    monkeypatch.undo()
    assert h200.verify() == 24


# --- read-only files and directories, without root's privileges --------------------------

DROP = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]
READS: dict[str, list[str]] = {
    "state": ["state", "--json"],
    "state-at": ["state", "--at", "2025-12-09", "--json"],
    "diff": ["diff", "2025-12-07", "2025-12-10", "--json"],
    "replay": ["replay", "--json"],
    "history": ["history", "bytedance", "--json"],
    "search": ["search", "H200", "--json"],
    "export": ["export", "--format", "jsonl", "-o", "-"],
    "verify": ["verify", "--json"],
}


def _unprivileged(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``timeline ARGS`` in a process that file permissions bind, even when run as root."""
    command = [*DROP, sys.executable, "-m", "timeline", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each read command's output on a writable store, as loaded."""
    db = tmp_path_factory.mktemp("reference") / "h200.db"
    with freeze_time(LOADED_AT):
        assert run("load", db, H200).exit_code == 0
    return {name: run(args[0], db, *args[1:]).stdout for name, args in READS.items()}


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """The H200 store with its snapshots not built (as a writer that lost the race for
    the lock, or an older version, leaves them): a reader would have to write them."""
    db = tmp_path / "store" / "h200.db"
    db.parent.mkdir()
    with freeze_time(LOADED_AT):
        assert run("load", db, H200).exit_code == 0
    conn = sqlite3.connect(db, isolation_level=None)
    for derived in ("snapshot_checkpoint", "fact_versions", "fact_keys"):
        conn.execute(f"DELETE FROM {derived}")
    conn.close()
    return db


@pytest.mark.parametrize("name", sorted(READS))
def test_every_read_command_answers_on_a_read_only_file(
    loaded: Path, reference: dict[str, str], name: str
) -> None:
    loaded.chmod(0o444)
    before = hashlib.sha256(loaded.read_bytes()).hexdigest()
    args = READS[name]
    result = _unprivileged(args[0], loaded, *args[1:])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == reference[name]
    assert hashlib.sha256(loaded.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("name", sorted(READS))
def test_every_read_command_answers_in_a_read_only_directory(
    loaded: Path, reference: dict[str, str], name: str
) -> None:
    loaded.parent.chmod(0o555)
    args = READS[name]
    result = _unprivileged(args[0], loaded, *args[1:])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == reference[name]
    assert sorted(p.name for p in loaded.parent.iterdir()) == ["h200.db"]


def test_loading_into_a_read_only_directory_says_the_directory_is_read_only(
    loaded: Path,
) -> None:
    loaded.parent.chmod(0o555)
    result = _unprivileged("load", loaded, FIXTURES / "sample-magnet-export-ban.json")
    assert result.returncode == 1
    assert f"the directory '{loaded.parent}' is read-only" in result.stderr
    assert "not a timeline store" not in result.stderr


def test_creating_a_store_in_a_read_only_directory_says_so(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    result = _unprivileged("load", tmp_path / "new.db", H200)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"directory '{tmp_path}' is read-only")
    assert list(tmp_path.iterdir()) == []


# --- a full disk, a busy writer ------------------------------------------------------------


def _fresh_state(path: Path, **bounds: str) -> tl.State:
    with tl.Timeline.open(path, readonly=True) as ro:
        return ro.state(**bounds)  # type: ignore[arg-type]


def test_state_diff_and_lookups_answer_when_the_disk_is_full(loaded: Path) -> None:
    with tl.Timeline.open(loaded) as store:
        store.store.append(  # the log alone: the snapshots stay to be built
            [
                tl.Statement(
                    id=f"s{i}", occurred_at=DEC_1 + timedelta(hours=i), actor=f"a{i % 40}",
                    topic="h200-imports", position=["supports", "opposes"][i % 2],
                )
                for i in range(400)
            ],
            story="more",
        )  # fmt: skip
        store.store.conn.execute("VACUUM")  # no free pages left inside the file
        pages = store.store.conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite's own "database or disk is full": not one more page may be written
        store.store.conn.execute(f"PRAGMA max_page_count = {pages}")
        assert store.state(at="2025-12-10") == _fresh_state(loaded, at="2025-12-10")
        assert store.state() == _fresh_state(loaded)
        assert [c.key for c in store.diff("2025-12-07", "2025-12-10")] == [
            c.key for c in diff_states(_fresh_state(loaded, at="2025-12-07"),
                                       _fresh_state(loaded, at="2025-12-10"))
        ]  # fmt: skip
        # the snapshots could not be written: the answers came from folding in memory
        assert store.store.conn.execute("SELECT COUNT(*) FROM fact_versions").fetchone() == (0,)
        intent = store.order_intent("bytedance", "nvidia", "H200", at="2025-12-10")
        assert intent is not None
        assert intent.status == tl.IntentStatus.EXPLORING
        with pytest.raises(tl.StoreError, match="full"):
            store.append(
                [tl.Report(id="no-room", occurred_at=DEC_1, summary="x" * 200_000)], story="s"
            )


def test_state_answers_at_once_while_another_writer_holds_the_lock(loaded: Path) -> None:
    holder = sqlite3.connect(loaded, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # a short busy timeout: before, each snapshot write waited 5 x it, then failed
        with tl.Timeline.open(loaded, busy_timeout=0.2) as store:
            assert store.state(at="2025-12-10") == _fresh_state(loaded, at="2025-12-10")
            assert store.state() == _fresh_state(loaded)
            stance = store.stance("us-government", "h200-exports-to-china", at="2025-12-10")
            assert stance is not None
            assert stance.position == tl.Position.SUPPORTS
            assert store.verify() == 21
            assert store.search("H200", limit=1)[0].record.event.id.startswith("h200-")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _no_full_fold(self: tl.Timeline, bounds: object) -> tl.State:
    raise AssertionError("folded the whole log instead of starting from the snapshots")


def test_a_reader_folds_appended_events_in_memory_from_the_snapshots_it_cannot_refresh(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tl.Timeline.open(loaded) as store:
        store.state()  # snapshots built and current
    with tl.Timeline.open(loaded) as writer:
        # the event log alone: as a writer whose snapshot refresh lost the race
        writer.store.append(
            [tl.Retraction(id="r", retracts="h200-0010", occurred_at=DEC_1)], story="h200-china"
        )
    before = hashlib.sha256(loaded.read_bytes()).hexdigest()
    holder = sqlite3.connect(loaded, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        days = ["2025-12-07", "2025-12-09", "2025-12-10", None]
        expected = [_fresh_state(loaded, **({"at": day} if day else {})) for day in days]
        with tl.Timeline.open(loaded, busy_timeout=0.2) as store:
            monkeypatch.setattr(tl.Timeline, "_folded_state", _no_full_fold)
            assert [store.state(at=day) for day in days] == expected
            assert store.store.conn.execute(
                "SELECT position FROM snapshot_checkpoint"
            ).fetchone() == (21,)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert hashlib.sha256(loaded.read_bytes()).hexdigest() == before


def test_the_readers_beside_writers_benchmark_runs_without_a_reader_error() -> None:
    # the short version of bench/readers_writers.py (8 writers, 4 readers, 60 s)
    script = Path(__file__).resolve().parents[2] / "bench" / "readers_writers.py"
    args = ["--duration", "4", "--writers", "2", "--readers", "2", "--no-raw"]
    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("timeline "))
    events, writer_errors, _, calls, reader_errors = map(int, row.split()[1:6])
    assert (writer_errors, reader_errors) == (0, 0)
    assert events > 0
    assert calls > 0
    assert "lost 0, duplicated 0" in result.stdout

"""Crash safety: writers killed with SIGKILL at random moments never tear a batch.

One module-scoped run does the killing (it is the expensive part); each test then
asserts one property over every kill. A warm server process forks the writers
(see ``_workers.py``), so a round costs milliseconds and the run affords many kills.
Kill moments are random but seeded: the writer is killed after a random number of
committed batches plus a random delay of up to a few milliseconds, which lands
mostly inside an ``append``.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import timeline as tl
from tests.integration._channel import Channel
from tests.integration._workers import BATCH_SIZE, STORY, event

pytestmark = pytest.mark.slow

SEED = 20251210
KILLS = 80
CREATE_KILLS = 25


@attrs.frozen(kw_only=True)
class Kill:
    """What one SIGKILL of a batch writer left behind."""

    run: int
    exit_code: int
    begun: frozenset[int]
    committed: frozenset[int]
    stored: dict[int, int]  # batch number -> events of that batch in the store
    events: int  # events in the store after the kill
    verified: int | str  # what verify() returned, or the IntegrityError message
    integrity: str  # PRAGMA integrity_check
    appended_after: int | str  # events the store accepted in a fresh batch, or the error


@attrs.frozen(kw_only=True)
class CreateKill:
    """What a SIGKILL during the creation of a new store left behind."""

    exit_code: int
    schema: list[str]
    verified: int
    appended_after: int


def _spawn(server: Channel, command: str, run: int, until: str) -> tuple[int, list[str]]:
    """Fork a child; return its pid and its lines up to ``until``."""
    server.send(f"{command} {run}")
    pid: int | None = None
    lines: list[str] = []
    while pid is None or until not in lines:
        line = server.read_line()
        assert " error " not in line, line
        if line.startswith("spawned "):
            pid = int(line.split()[1])
        else:
            lines.append(line)
    return pid, lines


def _kill(server: Channel, pid: int) -> tuple[int, list[str]]:
    """SIGKILL a child, reap it; return its exit code and its last lines."""
    os.kill(pid, signal.SIGKILL)
    server.send(f"reap {pid}")
    lines = server.read_until(lambda line: line.startswith(f"reaped {pid} "))
    return int(lines[-1].split()[2]), lines[:-1]


def _batches(lines: list[str], run: int, word: str) -> frozenset[int]:
    prefix = f"R{run} {word} "
    return frozenset(int(line[len(prefix) :]) for line in lines if line.startswith(prefix))


def _inspect(db: Path, run: int, exit_code: int, lines: list[str]) -> Kill:
    """Reopen the store as a restarted application would, and look at everything."""
    with tl.Timeline.open(db) as store:
        conn = store.store.conn
        stored = {
            int(prefix[6:]): count
            for prefix, count in conn.execute(
                "SELECT substr(id, 1, 11), COUNT(*) FROM events WHERE id LIKE ? GROUP BY 1",
                (f"r{run:04d}b%",),
            )
        }
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        verified: int | str
        try:
            verified = store.verify()
        except tl.IntegrityError as exc:
            verified = str(exc)
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        appended_after: int | str
        try:
            batch = [event(f"c{run:04d}e{i:02d}") for i in range(BATCH_SIZE)]
            appended_after = len(store.append(batch, story=STORY).appended)
        except tl.TimelineError as exc:
            appended_after = str(exc)
    return Kill(
        run=run,
        exit_code=exit_code,
        begun=_batches(lines, run, "begin"),
        committed=_batches(lines, run, "commit"),
        stored=stored,
        events=events,
        verified=verified,
        integrity=integrity,
        appended_after=appended_after,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Channel, Path]]:
    tmp = tmp_path_factory.mktemp("crash")
    db = tmp / "crash.db"
    channel = Channel("crash-server", str(db), stderr_path=tmp / "server.err")
    yield channel, db
    channel.close()


@pytest.fixture(scope="module")
def kills(server: tuple[Channel, Path]) -> list[Kill]:
    channel, db = server
    rng = random.Random(SEED)
    out = []
    for run in range(KILLS):
        pid, lines = _spawn(channel, "spawn", run, until=f"R{run} ready")
        last_commit = f"R{run} commit {rng.randrange(4)}"
        lines += channel.read_until(lambda line: line == last_commit)  # noqa: B023 - used at once
        time.sleep(rng.uniform(0, 0.003))  # the random kill moment: milliseconds
        exit_code, last = _kill(channel, pid)
        out.append(_inspect(db, run, exit_code, lines + last))
    return out


@pytest.fixture(scope="module")
def create_kills(server: tuple[Channel, Path]) -> list[CreateKill]:
    channel, db = server
    rng = random.Random(SEED + 1)
    out = []
    for run in range(CREATE_KILLS):
        pid, _ = _spawn(channel, "create", run, until=f"R{run} opening")
        time.sleep(rng.uniform(0, 0.01))  # the random kill moment: milliseconds
        exit_code, _ = _kill(channel, pid)
        with tl.Timeline.open(f"{db}.{run}") as store:
            verified = store.verify()
            appended = store.append([event("after-crash")], story=STORY).appended
            out.append(
                CreateKill(
                    exit_code=exit_code,
                    schema=store.store.schema_names(),
                    verified=verified,
                    appended_after=len(appended),
                )
            )
    return out


def test_the_writer_is_killed_with_sigkill_while_running_at_least_50_times(
    kills: list[Kill],
) -> None:
    assert len(kills) >= 50
    assert {k.exit_code for k in kills} == {-signal.SIGKILL}


def test_most_kills_interrupt_a_batch_in_flight(kills: list[Kill]) -> None:
    interrupted = [k.run for k in kills if k.begun - k.committed]
    assert len(interrupted) >= len(kills) // 2


def test_no_batch_is_torn_by_a_kill(kills: list[Kill]) -> None:
    torn = {(k.run, b): n for k in kills for b, n in k.stored.items() if n != BATCH_SIZE}
    assert torn == {}


def test_every_batch_the_writer_saw_committed_survives_the_kill(kills: list[Kill]) -> None:
    lost = [(k.run, b) for k in kills for b in sorted(k.committed) if b not in k.stored]
    assert lost == []


def test_no_batch_appears_that_the_writer_never_began(kills: list[Kill]) -> None:
    phantom = [(k.run, b) for k in kills for b in sorted(k.stored) if b not in k.begun]
    assert phantom == []


def test_verify_passes_after_every_kill(kills: list[Kill]) -> None:
    assert [k.verified for k in kills] == [k.events for k in kills]


def test_integrity_check_is_ok_after_every_kill(kills: list[Kill]) -> None:
    assert {k.integrity for k in kills} == {"ok"}


def test_the_store_accepts_a_full_batch_after_every_kill(kills: list[Kill]) -> None:
    assert [k.appended_after for k in kills] == [BATCH_SIZE] * len(kills)


def test_a_store_killed_while_being_created_opens_verifies_and_accepts_appends(
    create_kills: list[CreateKill], tmp_path: Path
) -> None:
    with tl.Timeline.open(tmp_path / "fresh.db") as fresh:
        schema = fresh.store.schema_names()
    assert [(k.schema, k.verified, k.appended_after) for k in create_kills] == [
        (schema, 0, 1)
    ] * len(create_kills)


def test_creation_kills_land_before_the_store_is_ready(create_kills: list[CreateKill]) -> None:
    assert sum(k.exit_code == -signal.SIGKILL for k in create_kills) >= len(create_kills) // 2

"""Worker processes for the reliability tests: writers to kill, race and read.

Run as ``python tests/integration/_workers.py COMMAND ...``; every command talks to
the test over its stdin and stdout, one line per message, so the test waits for a
state ("ready", "commit 3") instead of sleeping. Commands:

``crash-server DB``
    Imports ``timeline`` once, then for each ``spawn RUN`` line on stdin forks a
    writer that appends 10-event batches to DB until it is killed (ids
    ``r{RUN:04d}b{BATCH:05d}e{I:02d}``), printing ``R{RUN} ready``, ``R{RUN} begin B``
    and ``R{RUN} commit B``. ``create RUN`` forks a child that prints
    ``R{RUN} opening`` and then creates a new store at ``DB.RUN``. ``reap PID``
    waits for a child and prints ``reaped PID EXITCODE`` (``-9`` after SIGKILL).
    Forking from a warm process keeps each round at milliseconds instead of a
    fresh interpreter's import time, so a test can afford many kills.
``writer DB NAME COUNT``
    Opens DB, prints ``ready``, waits for ``go``, then appends COUNT events one at
    a time with the ``expected_version`` read just before, retrying on
    ``ConcurrencyError`` a bounded number of times. Prints one JSON line: what it
    appended, how many conflicts it met, and any other error as a failure.
``opener -``
    For each path on stdin, opens (creating) that store and prints ``opened N`` or
    ``failed ERROR``; several openers given the same new path race to create it.
``batcher DB NAME SIZE``
    Opens DB, prints ``ready``, waits for ``go``, appends one batch of SIZE
    events (ids ``NAME-IIII``) and prints the positions it got, as JSON.
``reader DB``
    Opens DB, prints ``ready``, then answers every ``count`` line with the number
    of events it reads.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import timeline as tl

STORY = "reliability"
BATCH_SIZE = 10
MAX_ATTEMPTS = 1000
OCCURRED = datetime(2025, 12, 8, tzinfo=UTC)


def event(event_id: str) -> tl.Report:
    """A small event that moves no projection."""
    return tl.Report(id=event_id, occurred_at=OCCURRED, summary=f"event {event_id}")


def batch_prefix(run: int, batch: int) -> str:
    """The id prefix shared by the events of one crash-writer batch."""
    return f"r{run:04d}b{batch:05d}"


def _say(line: str) -> None:
    # one write() per line: atomic on a pipe, and unaffected by forked stdio buffers
    os.write(1, (line + "\n").encode())


def _crash_writer(db: str, run: int) -> None:
    with tl.Timeline.open(db) as store:
        _say(f"R{run} ready")
        for batch in range(1_000_000):
            prefix = batch_prefix(run, batch)
            _say(f"R{run} begin {batch}")
            store.append(
                [event(f"{prefix}e{i:02d}") for i in range(BATCH_SIZE)],
                story=STORY,
            )
            _say(f"R{run} commit {batch}")


def _create(db: str, run: int) -> None:
    _say(f"R{run} opening")
    with tl.Timeline.open(f"{db}.{run}"):
        _say(f"R{run} ready")


def crash_server(db: str) -> None:
    """Fork writers on request; see the module docstring."""
    for line in sys.stdin:
        command, arg = line.split()
        if command == "reap":
            _, status = os.waitpid(int(arg), 0)
            _say(f"reaped {arg} {os.waitstatus_to_exitcode(status)}")
            continue
        target = {"spawn": _crash_writer, "create": _create}[command]
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                target(db, int(arg))
            except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
                _say(f"R{arg} error {type(exc).__name__}: {exc}")
                code = 1
            os._exit(code)  # never run the parent's cleanup in the child
        _say(f"spawned {pid}")


def writer(db: str, name: str, count: int) -> None:
    """Append ``count`` events under optimistic concurrency; see the module docstring."""
    appended: list[list[object]] = []
    failures: list[str] = []
    conflicts = 0
    with tl.Timeline.open(db) as store:
        _say("ready")
        sys.stdin.readline()  # "go": every writer starts at once
        for i in range(count):
            item = event(f"{name}-{i:03d}")
            for _attempt in range(MAX_ATTEMPTS):
                try:
                    version = store.store.story_version(STORY)
                    result = store.append([item], story=STORY, expected_version=version)
                except tl.ConcurrencyError:
                    conflicts += 1
                    continue
                except Exception as exc:  # noqa: BLE001 - anything else is the failure we report
                    failures.append(f"{item.id}: {type(exc).__name__}: {exc}")
                    break
                recorded = result.appended[0]
                appended.append(
                    [
                        recorded.id,
                        recorded.position,
                        recorded.version,
                        recorded.recorded_at.isoformat(),
                    ]
                )
                break
            else:
                failures.append(f"{item.id}: gave up after {MAX_ATTEMPTS} attempts")
    _say(
        json.dumps(
            {"name": name, "appended": appended, "conflicts": conflicts, "failures": failures}
        )
    )


def opener() -> None:
    """Open (creating) each store path read from stdin, at the same moment as other openers."""
    for line in sys.stdin:
        try:
            with tl.Timeline.open(line.strip()) as store:
                _say(f"opened {store.verify()}")
        except Exception as exc:  # noqa: BLE001 - reported to the test as a failure
            _say(f"failed {type(exc).__name__}: {exc}")


def batcher(db: str, name: str, size: int) -> None:
    """Append one batch when told to; see the module docstring."""
    with tl.Timeline.open(db) as store:
        _say("ready")
        sys.stdin.readline()
        batch = [event(f"{name}-{i:04d}") for i in range(size)]
        result = store.append(batch, story=f"{STORY}-{name}")
    _say(json.dumps([r.position for r in result.appended]))


def reader(db: str) -> None:
    """Answer ``count`` requests from a connection opened before the writes."""
    with tl.Timeline.open(db) as store:
        _say("ready")
        for _line in sys.stdin:
            _say(str(sum(1 for _ in store.events())))


def main(argv: list[str]) -> None:
    command, db, *rest = argv
    if command == "crash-server":
        crash_server(db)
    elif command == "writer":
        writer(db, rest[0], int(rest[1]))
    elif command == "opener":
        opener()
    elif command == "batcher":
        batcher(db, rest[0], int(rest[1]))
    elif command == "reader":
        reader(db)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

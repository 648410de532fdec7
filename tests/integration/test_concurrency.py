"""Concurrent writers: several processes append to one story with optimistic concurrency.

The race runs once per module (``race``); each test asserts one property of its
outcome. Workers live in ``_workers.py`` and start together on a "go" line.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from freezegun import freeze_time

import timeline as tl
from tests.integration._channel import Channel
from tests.integration._workers import STORY, event

pytestmark = pytest.mark.slow

WRITERS = 4
EVENTS_EACH = 25
OPENERS = 6
OPEN_ROUNDS = 10


@attrs.frozen(kw_only=True)
class Race:
    """What the writers reported and what the store holds afterwards."""

    reports: list[dict[str, object]]
    rows: list[tuple[int, str, int, str]]  # position, id, version, recorded_at
    verified: int


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    tmp = tmp_path_factory.mktemp("race")
    db = tmp / "race.db"
    tl.Timeline.open(db).close()
    writers = [
        Channel("writer", str(db), f"w{n}", str(EVENTS_EACH), stderr_path=tmp / f"w{n}.err")
        for n in range(WRITERS)
    ]
    try:
        assert [w.read_line() for w in writers] == ["ready"] * WRITERS
        for w in writers:
            w.send("go")
        reports = [json.loads(w.read_line(timeout=120)) for w in writers]
    finally:
        for w in writers:
            w.close()
    with tl.Timeline.open(db) as store:
        rows = store.store.conn.execute(
            "SELECT position, id, version, recorded_at FROM events ORDER BY position"
        ).fetchall()
        return Race(reports=reports, rows=rows, verified=store.verify())


def test_no_writer_meets_an_error_other_than_a_concurrency_conflict(race: Race) -> None:
    assert [r["failures"] for r in race.reports] == [[]] * WRITERS


def test_no_event_is_lost_or_duplicated(race: Race) -> None:
    expected = sorted(f"w{n}-{i:03d}" for n in range(WRITERS) for i in range(EVENTS_EACH))
    assert sorted(row[1] for row in race.rows) == expected


def test_story_versions_are_contiguous_from_one(race: Race) -> None:
    assert [row[2] for row in race.rows] == list(range(1, WRITERS * EVENTS_EACH + 1))


def test_positions_are_contiguous_and_strictly_increasing(race: Race) -> None:
    assert [row[0] for row in race.rows] == list(range(1, WRITERS * EVENTS_EACH + 1))


def test_recorded_at_strictly_increases_along_the_log(race: Race) -> None:
    times = [row[3] for row in race.rows]
    assert all(a < b for a, b in itertools.pairwise(times))


def test_each_writer_was_told_the_position_and_version_it_got(race: Race) -> None:
    told = {
        item[0]: (item[1], item[2])
        for r in race.reports
        for item in r["appended"]  # type: ignore[attr-defined]
    }
    assert told == {row[1]: (row[0], row[2]) for row in race.rows}


def test_the_log_verifies_after_the_race(race: Race) -> None:
    assert race.verified == WRITERS * EVENTS_EACH


def test_processes_opening_a_new_store_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    openers = [Channel("opener", "-", stderr_path=tmp_path / f"o{n}.err") for n in range(OPENERS)]
    outcomes = []
    try:
        for round_ in range(OPEN_ROUNDS):
            for o in openers:
                o.send(str(tmp_path / f"new-{round_}.db"))
            outcomes += [o.read_line(timeout=60) for o in openers]
    finally:
        for o in openers:
            o.close()
    assert outcomes == ["opened 0"] * OPENERS * OPEN_ROUNDS


def test_a_reader_in_another_process_sees_each_new_commit(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    seen = []
    with tl.Timeline.open(db) as store:
        reader = Channel("reader", str(db), stderr_path=tmp_path / "reader.err")
        try:
            assert reader.read_line() == "ready"
            for batch in range(3):
                reader.send("count")
                seen.append(int(reader.read_line()))
                store.append([event(f"b{batch}-{i}") for i in range(4)], story=STORY)
            reader.send("count")
            seen.append(int(reader.read_line()))
        finally:
            reader.close()
    assert seen == [0, 4, 8, 12]


def test_a_writer_facing_a_held_lock_gives_up_after_bounded_attempts_under_a_frozen_clock(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    real_sleep: Callable[[float], None] = time.sleep

    def counting_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        real_sleep(seconds)

    with tl.Timeline.open(db_path, busy_timeout=0.05) as store:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        monkeypatch.setattr(time, "sleep", counting_sleep)
        started = time.perf_counter()
        try:
            # freezegun freezes time.monotonic too: a deadline loop would never end
            with freeze_time("2026-01-01"), pytest.raises(tl.StoreError, match="locked"):
                store.append([event("blocked")], story=STORY)
        finally:
            blocker.close()
        elapsed = time.perf_counter() - started
    assert 0 < len(sleeps) < 10
    assert elapsed < 30  # generous: it takes a fraction of a second


def test_a_writer_that_gave_up_on_a_lock_wrote_nothing(db_path: Path) -> None:
    with tl.Timeline.open(db_path, busy_timeout=0.01) as store:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(tl.StoreError):
                store.append([event("blocked")], story=STORY)
        finally:
            blocker.close()
        assert list(store.events()) == []


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_opening_a_store_another_process_holds_exclusively_says_locked_not_foreign(
    db_path: Path, readonly: bool
) -> None:
    tl.Timeline.open(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO stories (story) VALUES ('held')")
        with pytest.raises(tl.StoreError, match="locked"):
            tl.Timeline.open(db_path, busy_timeout=0.01, readonly=readonly)
    finally:
        holder.close()

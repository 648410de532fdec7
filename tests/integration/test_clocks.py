"""Clocks: ``recorded_at`` stays strictly increasing whatever the clock does, and
reading by ``recorded_until`` (what ``recorded_by`` queries use) stays exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from freezegun import freeze_time

import timeline as tl
from tests.conftest import StepClock
from timeline.store.base import EventFilter

STORY = "clocks"
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # StepClock's default start
US = timedelta(microseconds=1)


def _events(prefix: str, count: int) -> list[tl.Event]:
    return [
        tl.Report(id=f"{prefix}-{i}", occurred_at=datetime(2025, 12, 8, tzinfo=UTC))
        for i in range(count)
    ]


def _recorded(store: tl.Timeline) -> list[datetime]:
    return [e.recorded_at for e in store.events()]


def _ids_recorded_until(store: tl.Timeline, until: datetime) -> list[str]:
    return [e.id for e in store.store.read(EventFilter(recorded_until=until))]


def test_recorded_at_strictly_increases_by_a_microsecond_under_a_frozen_clock(
    db_path: Path,
) -> None:
    with freeze_time("2026-01-01T12:00:00Z"), tl.Timeline.open(db_path) as store:
        for batch in range(3):
            store.append(_events(f"b{batch}", 4), story=STORY)
        recorded = _recorded(store)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert recorded == [start + i * US for i in range(12)]


def test_recorded_at_strictly_increases_when_the_clock_moves_backwards(db_path: Path) -> None:
    with freeze_time("2026-01-01T12:00:00Z") as frozen, tl.Timeline.open(db_path) as store:
        store.append(_events("before", 2), story=STORY)
        frozen.move_to("2025-06-01T00:00:00Z")  # seven months back
        store.append(_events("after", 2), story=STORY)
        recorded = _recorded(store)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert recorded == [start, start + US, start + 2 * US, start + 3 * US]


def test_recorded_at_follows_the_clock_again_once_it_passes_the_last_recorded_time(
    db_path: Path, clock: StepClock
) -> None:
    with tl.Timeline.open(db_path, clock=clock) as store:
        store.append(_events("a", 1), story=STORY)
        clock.advance(hours=-1)
        store.append(_events("b", 1), story=STORY)
        clock.advance(hours=2)
        store.append(_events("c", 1), story=STORY)
        recorded = _recorded(store)
    assert recorded == [T0, T0 + US, T0 + timedelta(hours=1)]


def test_reading_recorded_until_a_time_returns_exactly_the_events_recorded_by_then(
    db_path: Path, clock: StepClock
) -> None:
    with tl.Timeline.open(db_path, clock=clock) as store:
        store.append(_events("a", 3), story=STORY)  # T0, T0 + 1 µs, T0 + 2 µs
        clock.advance(hours=1)
        store.append(_events("b", 2), story=STORY)  # T0 + 1 h, T0 + 1 h + 1 µs
        seen = {
            label: _ids_recorded_until(store, until)
            for label, until in {
                "before anything": T0 - US,
                "first event": T0,
                "first batch": T0 + 2 * US,
                "between batches": T0 + timedelta(minutes=30),
                "everything": T0 + timedelta(hours=1) + US,
            }.items()
        }
    first = ["a-0", "a-1", "a-2"]
    assert seen == {
        "before anything": [],
        "first event": ["a-0"],
        "first batch": first,
        "between batches": first,
        "everything": [*first, "b-0", "b-1"],
    }


def test_answers_about_the_recorded_past_do_not_change_when_the_clock_moves_backwards(
    db_path: Path, clock: StepClock
) -> None:
    cutoffs = [T0, T0 + 2 * US, T0 + timedelta(minutes=30), T0 + timedelta(hours=1) + US]
    with tl.Timeline.open(db_path, clock=clock) as store:
        store.append(_events("a", 3), story=STORY)
        clock.advance(hours=1)
        store.append(_events("b", 2), story=STORY)
        before = [_ids_recorded_until(store, cutoff) for cutoff in cutoffs]
        clock.advance(hours=-2)  # now earlier than everything stored
        store.append(_events("late", 2), story=STORY)
        after = [_ids_recorded_until(store, cutoff) for cutoff in cutoffs]
    assert after == before

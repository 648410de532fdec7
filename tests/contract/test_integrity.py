"""Contract: the hash chain, and the three times the store sets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

import timeline as tl
from tests.contract._samples import STORY, US, _statement, _statements
from tests.contract.conftest import Backend
from timeline.testing import StepClock

# --- tamper evidence ------------------------------------------------------------------


def test_verify_counts_the_events_of_an_untouched_store(store: tl.Timeline) -> None:
    store.append(_statements("a", 3), story=STORY)
    assert store.verify() == 3


def test_verify_of_an_empty_store_counts_nothing(store: tl.Timeline) -> None:
    assert store.verify() == 0


def test_verify_names_the_row_whose_payload_was_edited(
    store: tl.Timeline, backend: Backend
) -> None:
    store.append(_statements("a", 4), story=STORY)
    backend.edit_payload(3, "h200", "h20")
    with pytest.raises(tl.IntegrityError, match="position 3") as info:
        store.verify()
    assert info.value.position == 3


def test_verify_names_the_position_of_a_deleted_middle_row(
    store: tl.Timeline, backend: Backend
) -> None:
    store.append(_statements("a", 5), story=STORY)
    backend.delete_row(3)
    with pytest.raises(tl.IntegrityError, match="row missing") as info:
        store.verify()
    assert info.value.position == 3


def test_verify_names_the_position_of_a_deleted_last_row(
    store: tl.Timeline, backend: Backend
) -> None:
    store.append(_statements("a", 5), story=STORY)
    backend.delete_row(5)
    with pytest.raises(tl.IntegrityError, match="missing at the end") as info:
        store.verify()
    assert info.value.position == 5


# --- the store clock ------------------------------------------------------------------


def test_recorded_at_strictly_increases_under_a_frozen_system_clock(backend: Backend) -> None:
    with freeze_time("2026-03-01T12:00:00Z"):
        store = backend.timeline()
        store.append(_statements("a", 2), story=STORY)
        store.append(_statements("b", 2), story=STORY)
        recorded = [e.recorded_at for e in store.events()]
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    if backend.name == "postgresql":
        # recorded_at is the server's clock there, which no client can freeze
        assert recorded[0] > start
        assert all(a < b for a, b in itertools.pairwise(recorded))
        assert len(recorded) == 4
    else:
        assert recorded == [start, start + US, start + 2 * US, start + 3 * US]


def test_recorded_at_strictly_increases_when_the_clock_goes_backwards(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append(_statements("a", 1), story=STORY)
    clock.advance(days=-30)
    store.append(_statements("b", 2), story=STORY)
    first, second, third = (e.recorded_at for e in store.events())
    assert (second - first, third - second) == (US, US)


def test_recorded_at_follows_a_clock_that_moves_forward(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append(_statements("a", 1), story=STORY)
    clock.advance(hours=1)
    store.append(_statements("b", 1), story=STORY)
    assert [e.recorded_at for e in store.events()] == [
        clock.current - timedelta(hours=1),
        clock.current,
    ]


def test_recorded_at_is_utc(store: tl.Timeline) -> None:
    store.append(_statements("a", 1), story=STORY)
    (recorded,) = store.events()
    assert recorded.recorded_at.utcoffset() == timedelta(0)


# --- reported_at ----------------------------------------------------------------------


def test_reported_at_defaults_to_the_sources_published_at(store: tl.Timeline) -> None:
    published = datetime(2025, 12, 10, tzinfo=UTC)
    source = tl.Source(publisher="Reuters", published_at=published)
    store.append([_statement("a", source=source)], story=STORY)
    assert store.events().__next__().reported_at == published


def test_reported_at_defaults_to_recorded_at_without_a_published_source(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append([_statement("a", source=tl.Source(publisher="Reuters"))], story=STORY)
    (recorded,) = store.events()
    assert recorded.reported_at == recorded.recorded_at == clock.current


def test_an_explicit_reported_at_is_kept(store: tl.Timeline) -> None:
    source = tl.Source(publisher="Reuters", published_at=datetime(2025, 12, 10, tzinfo=UTC))
    reported = datetime(2025, 12, 9, tzinfo=UTC)
    store.append([_statement("a", source=source, reported_at=reported)], story=STORY)
    (recorded,) = store.events()
    assert recorded.reported_at == reported

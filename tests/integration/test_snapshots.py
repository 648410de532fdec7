"""Snapshots (persisted fact versions): same answers as a fold, lazily kept up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

import timeline as tl
from tests.conftest import StepClock, raw_execute, raw_rows, table_counts
from timeline import snapshots as snap
from timeline.projections import stance as stance_module
from timeline.projections.stance import StanceProjection

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def announcements(n: int, start: int = 0, actor: str = "a") -> list[tl.Event]:
    return [
        tl.Announcement(
            id=f"e{i}",
            occurred_at=BASE + timedelta(days=i),
            actor=actor,
            topic="t",
            position=["supports", "opposes"][i % 2],
        )
        for i in range(start, start + n)
    ]


def folded(location: str, **bounds: object) -> tl.State:
    """The state by folding the log (a read-only store never uses snapshots)."""
    with tl.Timeline.open(location, readonly=True) as ro:
        return ro.state(**bounds)  # type: ignore[arg-type]


def test_state_at_any_time_from_snapshots_equals_the_folded_state(
    h200: tl.Timeline, store_location: str
) -> None:
    for day in ["2023-06-01", "2025-09-15", "2025-12-08", "2025-12-09", "2025-12-10", None]:
        assert h200.state(at=day) == folded(store_location, at=day), day


def test_single_fact_accessors_equal_the_state_accessors(h200: tl.Timeline) -> None:
    for day in ["2025-12-07", "2025-12-10"]:
        state = h200.state(at=day)
        assert h200.stance("us-government", "h200-exports-to-china", at=day) == state.stance(
            "us-government", "h200-exports-to-china"
        )
        assert h200.order_intent("ByteDance", "nvidia", "h200", at=day) == state.order_intent(
            "bytedance", "nvidia", "H200"
        )
    assert h200.order_intent("bytedance", "nvidia", "H200", at="2025-12-07") is None


def test_snapshots_are_persisted_with_their_checkpoint(
    h200: tl.Timeline, store_location: str
) -> None:
    h200.state(at="2025-12-10")
    [(position, complete)] = raw_rows(
        store_location, "SELECT position, complete FROM snapshot_checkpoint"
    )
    assert (position, complete) == (h200.store.head(), 1)
    assert table_counts(store_location, "fact_versions")["fact_versions"] > 10


def test_a_second_store_object_reuses_persisted_snapshots(
    h200: tl.Timeline, store_location: str
) -> None:
    h200.state(at="2025-12-10")
    with tl.Timeline.open(store_location) as again:
        again.state(at="2025-12-10")
        assert again._snapshots is not None
        assert again._snapshots.folded == 0


def test_an_append_in_order_folds_only_the_new_event(store: tl.Timeline) -> None:
    store.append(announcements(50), story="s")
    store.state(at="2025-01-10")
    store.append(announcements(1, start=50), story="s")
    store.state(at="2025-01-10")
    assert store._snapshots is not None
    assert store._snapshots.folded == 1


def test_a_backdated_append_refolds_only_what_follows_it(
    store: tl.Timeline, store_location: str
) -> None:
    store.append(announcements(200), story="s")
    store.state(at="2025-03-01")
    late = tl.Statement(
        id="late", occurred_at=BASE + timedelta(days=150, hours=1), actor="a", topic="t"
    )
    store.append([late], story="s")
    state = store.state(at=BASE + timedelta(days=150, hours=2))
    assert store._snapshots is not None
    # per fact, on both backends: the backdated event and the next one (day 151), which
    # sets another position; from there on the stored versions are the ones a full
    # fold writes (before the per-fact refold on PostgreSQL: the 49 after it too)
    assert store._snapshots.folded == 2
    assert state == folded(store_location, at=BASE + timedelta(days=150, hours=2))
    stance = state.stance("a", "t")
    assert stance is not None
    assert stance.position == tl.Position.NEUTRAL


def test_a_retraction_invalidates_from_the_retracted_events_time(
    store: tl.Timeline, store_location: str
) -> None:
    store.append(announcements(100), story="s")
    store.state()
    store.append(
        [tl.Retraction(id="r", retracts="e99", occurred_at=BASE + timedelta(days=200))], story="s"
    )
    assert store.state() == folded(store_location)
    assert store._snapshots is not None
    assert store._snapshots.folded == 0  # e99 was the last event: nothing to refold after it
    stance = store.state().stance("a", "t")
    assert stance is not None
    assert stance.evidence == ("e98",)


def test_a_correction_moving_an_event_later_invalidates_from_its_original_time(
    store: tl.Timeline, store_location: str
) -> None:
    events = announcements(60)
    store.append(events, story="s")
    store.state()
    moved = tl.Announcement(
        id="e10", occurred_at=BASE + timedelta(days=59, hours=12), actor="a", topic="t",
        position="undecided",
    )  # fmt: skip
    store.append(
        [tl.Correction(id="c", corrects="e10", replacement=moved, occurred_at=BASE)], story="s"
    )
    for day in [BASE + timedelta(days=d, hours=1) for d in (9, 10, 11, 59, 60)]:
        assert store.state(at=day) == folded(store_location, at=day), day


def test_known_at_bounds_use_snapshots_only_where_they_cover_everything(
    store: tl.Timeline, clock: StepClock, store_location: str
) -> None:
    early = tl.Announcement(
        id="x", occurred_at=BASE, reported_at=BASE, actor="a", topic="t", position="supports"
    )
    later = tl.Statement(
        id="y", occurred_at=BASE + timedelta(days=1), reported_at=BASE + timedelta(days=30),
        actor="a", topic="t", position="opposes",
    )  # fmt: skip
    store.append([early, later], story="s")
    for known in ["2025-01-15", "2025-02-15"]:
        assert store.state(known_at=known) == folded(store_location, known_at=known)
    stance = store.state(known_at="2025-01-15").stance("a", "t")
    assert stance is not None
    assert stance.position == tl.Position.SUPPORTS


def test_an_interrupted_snapshot_build_resumes_where_it_stopped(
    store: tl.Timeline, monkeypatch: pytest.MonkeyPatch, store_location: str
) -> None:
    store.append(announcements(95), story="s")  # the writer builds the snapshots
    raw_execute(store_location, "DELETE FROM snapshot_checkpoint")  # ... gone: build again
    store._snapshots = None
    monkeypatch.setattr(snap, "_CHUNK", 10)
    calls = {"n": 0}
    real_flush = snap.Snapshots._flush

    def failing_flush(self: snap.Snapshots, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_flush(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snap.Snapshots, "_flush", failing_flush)
    with pytest.raises(KeyboardInterrupt):
        store.state(at="2025-02-01")
    monkeypatch.setattr(snap.Snapshots, "_flush", real_flush)
    with tl.Timeline.open(store_location) as again:
        assert again.state(at="2025-02-01") == folded(store_location, at="2025-02-01")
        assert again._snapshots is not None
        assert again._snapshots.folded == 95 - 30


def test_a_refold_ends_its_read_of_the_log_before_each_write(
    store: tl.Timeline, monkeypatch: pytest.MonkeyPatch, store_location: str
) -> None:
    """A refold reads the log a segment at a time, each read ended before the write
    that follows it: a read held open across the writes kept SQLite from restarting
    its write-ahead log, which then grew by everything the refold wrote."""
    store.append(announcements(95), story="s")
    raw_execute(store_location, "DELETE FROM snapshot_checkpoint")  # built again below
    store._snapshots = None
    monkeypatch.setattr(snap, "_CHUNK", 10)
    seen: list[str] = []
    real_fold_events = snap.fold_events
    real_flush = snap.Snapshots._flush

    def traced(*args: Any, **kwargs: Any) -> Iterator[Any]:
        seen.append("read")
        try:
            yield from real_fold_events(*args, **kwargs)
        finally:
            seen.append("ended")

    def flush(self: snap.Snapshots, *args: Any, **kwargs: Any) -> Any:
        seen.append("write")
        return real_flush(self, *args, **kwargs)

    monkeypatch.setattr(snap, "fold_events", traced)
    monkeypatch.setattr(snap.Snapshots, "_flush", flush)
    assert store.state(at="2025-02-01") == folded(store_location, at="2025-02-01")
    assert store._snapshots is not None
    assert store._snapshots.folded == 95
    # nine writes of ten events and the last of five, each after its read ended
    assert seen == ["read", "ended", "write"] * 10


def test_snapshot_tables_are_derived_and_rebuilt_when_cleared(
    h200: tl.Timeline, store_location: str
) -> None:
    expected = h200.state(at="2025-12-10")
    raw_execute(store_location, "DELETE FROM snapshot_checkpoint")
    with tl.Timeline.open(store_location) as again:
        assert again.state(at="2025-12-10") == expected
        assert again.verify() == h200.store.head()


@attrs.frozen(kw_only=True)
class NotedStance(tl.Stance):
    """The built-in stance with one field more, as a later version might add."""

    note: str = ""


def test_a_field_added_to_a_fact_rebuilds_the_snapshots_by_itself(
    store: tl.Timeline, monkeypatch: pytest.MonkeyPatch, store_location: str
) -> None:
    store.append(announcements(30), story="s")
    store.state(at="2025-01-10")
    with tl.Timeline.open(store_location) as unchanged:
        unchanged.state(at="2025-01-10")
        assert unchanged._snapshots is not None
        assert unchanged._snapshots.folded == 0
    # no LOGIC_VERSION bump: only the shape of the fact changes
    monkeypatch.setattr(stance_module, "Stance", NotedStance)
    monkeypatch.setattr(StanceProjection, "fact_types", (NotedStance,))
    with tl.Timeline.open(store_location) as changed:
        state = changed.state(at="2025-01-10")
        assert changed._snapshots is not None
        assert changed._snapshots.folded == 30  # rebuilt from scratch
        stance = state.stance("a", "t")
        assert isinstance(stance, NotedStance)
        assert stance == folded(store_location, at="2025-01-10").stance("a", "t")
        stored = changed.stance("a", "t", at="2025-01-10")  # one fact, read from the store
        assert stored == stance

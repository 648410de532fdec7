"""Contract: the SnapshotStore protocol, and snapshots that equal a fold of the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import timeline as tl
from tests.contract.conftest import Backend
from timeline.store.base import Checkpoint, CheckpointMoved, SnapshotStore
from timeline.testing import StepClock

BASE = datetime(2025, 1, 1, tzinfo=UTC)
STARTED = Checkpoint(5, "", None, None, "sig", complete=False)


@pytest.fixture
def snapshots(backend: Backend, clock: StepClock) -> SnapshotStore:
    return backend.open(clock)[1]


def test_a_fresh_snapshot_store_has_no_checkpoint_and_no_facts(snapshots: SnapshotStore) -> None:
    assert snapshots.checkpoint() is None
    assert list(snapshots.facts_at("~", inclusive=True)) == []
    assert snapshots.fact_at('["stance",["a","t"]]', "~") is None


def test_versions_are_read_back_as_of_a_fold_key(snapshots: SnapshotStore) -> None:
    snapshots.begin(None, STARTED, delete_from="")
    rows = [("k1", "2025#1", "one"), ("k1", "2025#3", "three"), ("k2", "2025#2", None)]
    done = Checkpoint(5, "2025#3", "r", "c", "sig", complete=True)
    snapshots.write_versions(STARTED, rows, lambda fact: fact, done)
    assert snapshots.checkpoint() == done
    assert sorted(snapshots.facts_at("2025#2", inclusive=True)) == [("k1", "one")]
    assert sorted(snapshots.facts_at("2025#3", inclusive=False)) == [("k1", "one")]
    assert sorted(snapshots.facts_at("2025#3", inclusive=True)) == [("k1", "three")]
    assert (snapshots.fact_at("k1", "2025#2"), snapshots.fact_at("k1", "~")) == ("one", "three")
    assert snapshots.fact_at("k2", "~") is None  # removed


def test_begin_drops_the_versions_it_will_redo(snapshots: SnapshotStore) -> None:
    snapshots.begin(None, STARTED, delete_from="")
    done = Checkpoint(5, "2025#3", None, None, "sig", complete=True)
    rows = [("k", "2025#1", "one"), ("k", "2025#3", "three")]
    snapshots.write_versions(STARTED, rows, lambda fact: fact, done)
    again = Checkpoint(6, "2025#1", None, None, "sig", complete=False)
    snapshots.begin(done, again, delete_from="2025#2")
    assert snapshots.fact_at("k", "~") == "one"
    snapshots.begin(again, STARTED, delete_from="")
    assert list(snapshots.facts_at("~", inclusive=True)) == []


def test_a_moved_checkpoint_refuses_the_write_and_keeps_what_was_there(
    snapshots: SnapshotStore,
) -> None:
    snapshots.begin(None, STARTED, delete_from="")
    stale = Checkpoint(4, "", None, None, "sig", complete=False)
    done = Checkpoint(5, "2025#1", None, None, "sig", complete=True)
    with pytest.raises(CheckpointMoved):
        snapshots.write_versions(stale, [("k", "2025#1", "x")], lambda fact: fact, done)
    with pytest.raises(CheckpointMoved):
        snapshots.begin(None, STARTED, delete_from="")
    assert snapshots.checkpoint() == STARTED
    assert snapshots.fact_at("k", "~") is None


def test_interned_sources_keep_their_numbers(snapshots: SnapshotStore) -> None:
    first = snapshots.source_ref('{"publisher":"Reuters"}')
    second = snapshots.source_ref('{"publisher":"AP"}')
    assert snapshots.source_ref('{"publisher":"Reuters"}') == first != second
    assert snapshots.sources() == [
        (first, '{"publisher":"Reuters"}'),
        (second, '{"publisher":"AP"}'),
    ]
    assert snapshots.sources(first) == [(second, '{"publisher":"AP"}')]


# --- snapshots equal a fold --------------------------------------------------------------


def _stance(i: int, *, day: int | None = None, actor: str = "a") -> tl.Announcement:
    return tl.Announcement(
        id=f"e{i}",
        occurred_at=BASE + timedelta(days=i if day is None else day),
        actor=actor,
        topic="t",
        position=["supports", "opposes"][i % 2],
        source=tl.Source(publisher=f"P{i % 3}"),
    )


def _states(timeline: tl.Timeline, folded: tl.Timeline, days: list[int | None]) -> None:
    for day in days:
        at = None if day is None else BASE + timedelta(days=day)
        assert timeline.state(at=at) == folded.state(at=at), day
        assert timeline.stance("a", "t", at=at) == folded.state(at=at).stance("a", "t")


def test_snapshots_equal_a_fold_after_backdated_events_corrections_and_retractions(
    backend: Backend, clock: StepClock
) -> None:
    timeline = backend.timeline(clock)
    log, snapshots = backend.open(clock)
    folded = tl.Timeline(log)  # no snapshot store: every state is a fold of the log
    timeline.append([_stance(i) for i in range(20)], story="s")
    _states(timeline, folded, [0, 5, 19, None])
    timeline.append([_stance(20, day=3, actor="b"), _stance(21, day=-1)], story="s")
    _states(timeline, folded, [-1, 3, 10, None])
    timeline.append(
        [
            tl.Retraction(id="r", occurred_at=BASE, retracts="e7"),
            tl.Correction(id="c", occurred_at=BASE, corrects="e9", replacement=_stance(9, day=30)),
        ],
        story="s",
    )
    _states(timeline, folded, [6, 7, 9, 29, 30, None])
    checkpoint = snapshots.checkpoint()  # the answers above came from the snapshots
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.complete) == (log.head(), True)

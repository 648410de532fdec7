"""Where a refold from the earliest change starts, found from the columns.

A first reader after a bulk load asks the snapshots from which fold key the events
after their checkpoint change the versions: with the whole log behind, decoding
every event for that was a tenth of the first ``state()`` at 1M events. Both stores
now find the first event in fold order from their columns and decode only the
corrections and retractions. Checked here, on SQLite and PostgreSQL: the answer is the
one the decoding path gives, on random histories with backdated events, corrections,
retractions and claims, for every range; and the query reads the range of positions
by the table's key, never the occurred-time index from its start (the writer asks it
of its last few events too).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

import timeline as tl
from tests.conftest import BOTH_BACKENDS, StepClock, alternating_statements, new_store_location
from timeline.store.base import EventFilter

from .test_per_fact_invalidation import BASE, news_histories

BACKENDS = BOTH_BACKENDS


def _snapshots(live: tl.Timeline) -> object:
    live.state()
    snapshots = live._snapshots
    assert snapshots is not None
    return snapshots


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=news_histories())
def test_the_earliest_change_from_the_columns_is_the_decoded_one(
    history: tuple[list[tl.Event], list[list[tl.Event]]], store_backend: str
) -> None:
    base, later = history
    with (
        new_store_location(store_backend) as location,
        tl.Timeline.open(location, clock=StepClock()) as live,
    ):
        live.append(base, story="s")
        for batch in later:
            live.append(batch, story="s")
        snapshots = _snapshots(live)
        store = live._store
        head = store.head()
        for after in range(head + 1):
            fast = snapshots._earliest_change(after, head)  # type: ignore[attr-defined]
            with mock.patch.object(store, "first_in_fold_order", None):
                decoded = snapshots._earliest_change(after, head)  # type: ignore[attr-defined]
            assert fast == decoded, after


def test_the_first_event_in_fold_order_skips_corrections_and_reads_by_position(
    store: tl.Timeline, store_backend: str
) -> None:
    events: list[tl.Event] = [
        tl.Statement(
            id=f"s{i}",
            occurred_at=BASE + timedelta(days=10 - i),
            actor="a1",
            topic="t1",
            position="supports",
        )
        for i in range(6)
    ]
    store.append(events, story="s")
    store.append(
        [
            tl.Retraction(id="r1", occurred_at=BASE - timedelta(days=30), retracts="s1"),
            tl.Statement(
                id="late",
                occurred_at=BASE + timedelta(days=7, hours=1),
                actor="a2",
                topic="t1",
                position="opposes",
            ),
        ],
        story="s",
    )
    log: Any = store._store
    # the retraction (position 7) occurs first but is left out: the earliest plain
    # event of positions 3-8 is s5 (day 5, position 6)
    assert log.first_in_fold_order(2, 8, ["retraction", "correction"]) == (
        "2025-01-06T00:00:00.000000Z",
        6,
    )
    assert log.first_in_fold_order(6, 8, ["retraction", "correction"]) == (
        "2025-01-08T01:00:00.000000Z",
        8,
    )
    assert log.first_in_fold_order(8, 8, ["retraction"]) is None
    assert log.first_in_fold_order(6, 7, []) == ("2024-12-02T00:00:00.000000Z", 7)
    # the plan: the range of positions by the table's key, no index walked
    if store_backend == "sqlite":
        seen: list[str] = []
        log.conn.set_trace_callback(seen.append)
        try:
            log.first_in_fold_order(6, 8, ["retraction"])
        finally:
            log.conn.set_trace_callback(None)
        query = next(q for q in seen if "ORDER BY occurred_at" in q)
        plan = " ".join(row[-1] for row in log.conn.execute("EXPLAIN QUERY PLAN " + query))
        assert "INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan, plan
    else:
        with mock.patch.object(log, "_query", wraps=log._query) as query:
            log.first_in_fold_order(6, 8, ["retraction"])
        sql, params = query.call_args.args
        # with sequential scans off, the planner shows which index it would walk
        log.conn.execute("SET enable_seqscan = off")
        try:
            plan = " ".join(row[0] for row in log._query("EXPLAIN " + sql, params))
        finally:
            log.conn.execute("RESET enable_seqscan")
        assert "events_pkey" in plan, plan
    assert "events_by_occurred" not in plan, plan


def _story() -> list[tl.Event]:
    events: list[tl.Event] = alternating_statements(4, BASE)
    events.append(
        tl.Inquiry(
            id="q1",
            occurred_at=BASE + timedelta(days=5),
            inquirers=("buyer",),
            supplier="nvidia",
            product="H200",
            quantity="2 million",
        )
    )
    return events


def test_a_lean_read_decodes_only_the_fields_asked_for(store: tl.Timeline) -> None:
    """Both stores take the hint: the fields a fold reads are decoded, no other."""
    store.append(_story(), story="s")
    fields = tl.bitemporal.read_fields(store._projections)
    assert fields is not None
    assert "summary" not in fields
    assert "position" in fields
    lean = list(store._store.read_events(EventFilter(order="occurred", fields=fields)))
    assert [(event.id, event.position) for _, _, event in lean[:2]] == [
        ("s0", "opposes"),
        ("s1", "supports"),
    ]
    assert not hasattr(lean[0][2], "summary")  # never parsed
    whole = list(store._store.read_events(EventFilter(order="occurred")))
    assert whole[0][2].summary == "statement 0"


@pytest.mark.sqlite_only("the snapshots are cleared and refolded through repair()")
def test_a_refold_decodes_only_the_fields_the_projections_read(store: tl.Timeline) -> None:
    """The snapshots' refold (``_resume``) folds its records and drops them, as a
    replay does: it asks the store for the projections' fields alone, and the
    versions it writes give the state a full fold gives."""
    store.append(_story(), story="s")
    codec = store._store.codec
    with mock.patch.object(codec, "trusted_decoder", wraps=codec.trusted_decoder) as decoder:
        store.repair()  # the snapshots cleared and folded again from the log
    asked = [call.args[0] for call in decoder.call_args_list]
    assert tl.bitemporal.read_fields(store._projections) in asked
    replay = store.replay()
    list(replay)
    assert store.state() == replay.state
    stance = store.stance("a1", "t1")
    assert stance is not None
    assert stance.position == "supports"
    intent = store.order_intent("buyer", "nvidia", "H200")
    assert intent is not None
    assert (intent.status, intent.quantity) == (tl.IntentStatus.EXPLORING, "2 million")

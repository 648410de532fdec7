"""Where a refold from the earliest change starts, found from the columns.

A first reader after a bulk load asks the snapshots from which fold key the events
after their checkpoint change the versions: with the whole log behind, decoding
every event for that was a tenth of the first ``state()`` at 1M events. The SQLite
store now finds the first event in fold order from its columns and decodes only the
corrections and retractions. Checked here: the answer is the one the decoding path
gives, on random histories with backdated events, corrections, retractions and
claims, for every range; and the query reads the range of positions by the table's
key, never the occurred-time index from its start (the writer asks it of its last
few events too).
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings

import timeline as tl
from tests.conftest import StepClock

from .test_per_fact_invalidation import BASE, news_histories


def _snapshots(live: tl.Timeline) -> object:
    live.state()
    snapshots = live._snapshots
    assert snapshots is not None
    return snapshots


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=news_histories())
def test_the_earliest_change_from_the_columns_is_the_decoded_one(
    history: tuple[list[tl.Event], list[list[tl.Event]]],
) -> None:
    base, later = history
    with (
        tempfile.TemporaryDirectory() as tmp,
        tl.Timeline.open(Path(tmp) / "e.db", clock=StepClock()) as live,
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
    tmp_path: Path,
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
    with tl.Timeline.open(tmp_path / "f.db") as live:
        live.append(events, story="s")
        live.append(
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
        store = live._store
        # the retraction (position 7) occurs first but is left out: the earliest plain
        # event of positions 3-8 is s5 (day 5, position 6)
        assert store.first_in_fold_order(2, 8, ["retraction", "correction"]) == (
            "2025-01-06T00:00:00.000000Z",
            6,
        )
        assert store.first_in_fold_order(6, 8, ["retraction", "correction"]) == (
            "2025-01-08T01:00:00.000000Z",
            8,
        )
        assert store.first_in_fold_order(8, 8, ["retraction"]) is None
        assert store.first_in_fold_order(6, 7, []) == ("2024-12-02T00:00:00.000000Z", 7)
        # the plan: the range of positions by the table's key, no index walked
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        try:
            store.first_in_fold_order(6, 8, ["retraction"])
        finally:
            store.conn.set_trace_callback(None)
        query = next(q for q in seen if "ORDER BY occurred_at" in q)
        plan = " ".join(row[-1] for row in store.conn.execute("EXPLAIN QUERY PLAN " + query))
        assert "INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan, plan
        assert "events_by_occurred" not in plan, plan

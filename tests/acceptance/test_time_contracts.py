"""DESIGN.md, "Three times on every event", "Projections" and "Store guarantees", on the
Valsorin story: bounds, corrections, retractions, and one state however computed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timeline as tl
from tests.acceptance.conftest import STORY, intent, stance
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

BOUNDS = [
    {},
    {"at": "2026-02-26"},
    {"at": "2026-02-26", "known_at": "2026-03-05"},
    {"at": "2026-03-06", "known_at": "2026-03-08"},
    {"at": "2026-03-10"},
    {"known_at": "2026-03-09"},
    {"at": "2026-03-21", "known_at": "2026-03-21"},
]


def test_reported_at_defaults_to_the_source_and_then_to_recorded_at(
    recall: tl.Timeline, tmp_path: Path
) -> None:
    """'reported_at ... if absent, the source's published_at; if that is absent too,
    recorded_at'."""
    assert recall.get("val-03").event.reported_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    with tl.Timeline.open(tmp_path / "bare.db") as store:
        store.append(
            [
                tl.Statement(
                    id="bare",
                    occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
                    actor="ministry",
                    topic="valsorin-safety",
                    summary="No source at all.",
                )
            ],
            story="bare",
        )
        record = store.get("bare")
        assert record.event.reported_at == record.recorded_at


def test_partial_dates_imply_their_precision(recall: tl.Timeline) -> None:
    """'partial dates ("2025-08") mean the start of that month ... and imply month
    precision when precision is omitted'; 'occurred_at is the start of that period'."""
    cancelled = recall.get("val-13").event
    assert (cancelled.occurred_at, cancelled.precision) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        "month",
    )
    assert recall.get("val-03").event.precision == "day"
    assert recall.get("val-01").event.precision == "exact"


def test_a_date_only_bound_means_the_end_of_that_day(recall: tl.Timeline) -> None:
    """'In queries a date-only bound (at="2025-12-09") means the *end* of that UTC day'."""
    # Lumeria's statement: 10 Feb 10:00
    assert recall.state(at="2026-02-10").stance("lumeria", "valsorin-safety") is not None
    assert recall.state(at="2026-02-10T09:59:59Z").stance("lumeria", "valsorin-safety") is None
    # the retraction was reported at 12:00 on 8 March
    assert intent(recall.state(at="2026-02-26", known_at="2026-03-08"), "medichain").status == (
        "exploring"
    )


def test_at_keeps_only_what_happened_by_then(recall: tl.Timeline) -> None:
    """'at=T: only events with occurred_at <= T'."""
    state = recall.state(at="2026-02-14")
    assert state.order_intent("medichain", "lumeria", "Valsorin") is None
    assert stance(state, "lumeria", "valsorin-safety").position == "supports"


def test_known_at_keeps_only_what_was_public_by_then(recall: tl.Timeline) -> None:
    """'known_at=K: only events with reported_at <= K'. The digest that carries
    Lumeria's statement was out from 20 Feb."""
    assert recall.state(known_at="2026-02-19").stance("lumeria", "valsorin-safety") is None
    assert recall.state(known_at="2026-02-20").stance("lumeria", "valsorin-safety") is not None


def test_recorded_by_audits_what_the_store_said(tmp_path: Path) -> None:
    """'recorded_by=R: only events with recorded_at <= R'."""
    with tl.Timeline.open(tmp_path / "audit.db") as store:
        store.load(STORY)
        first = store.get("val-01").recorded_at
        state = store.state(recorded_by=first)
        assert [f.actor for f in state.stances()] == ["lumeria"]
        assert state.order_intents() == []


def test_a_retraction_is_filtered_by_knowledge_only_never_by_at(recall: tl.Timeline) -> None:
    """'Corrections and retractions ... are filtered by known_at / recorded_by only, never by
    at': the Gazette's order report (25 Feb) was retracted on 8 March."""
    assert intent(recall.state(at="2026-02-26"), "medichain").status == "exploring"
    believed = intent(recall.state(at="2026-02-26", known_at="2026-03-05"), "medichain")
    assert (believed.status, believed.quantity, believed.evidence) == (
        "ordered",
        "10,000 packs",
        ("val-03", "val-02"),
    )


def test_a_correction_replaces_the_original_with_its_own_occurred_at(
    recall: tl.Timeline,
) -> None:
    """'Correction: the replacement (with its own occurred_at) is used instead of the
    original', filtered by knowledge only."""
    now = stance(recall.state(at="2026-03-10"), "st-anne", "valsorin-safety")
    assert (now.position, now.since) == ("undecided", datetime(2026, 3, 7, tzinfo=UTC))
    # corrected: the replacement happened on 7 March, so nothing on 6 March
    assert recall.state(at="2026-03-06").stance("st-anne", "valsorin-safety") is None
    # believed on 8 March, before the correction was published on the 9th
    then = stance(
        recall.state(at="2026-03-06", known_at="2026-03-08"), "st-anne", "valsorin-safety"
    )
    assert (then.position, then.since) == ("opposes", datetime(2026, 3, 6, tzinfo=UTC))


def test_order_statuses_follow_the_fold(recall: tl.Timeline) -> None:
    """'OrderPlaced -> ordered; OrderDelivered -> delivered; OrderCancelled -> cancelled'."""
    now = recall.state()
    assert intent(now, "medichain").status == "delivered"
    assert intent(now, "medichain").quantity == "2,000 packs"
    assert intent(now, "carepoint").status == "cancelled"


def test_policy_change_sets_the_authority_stance(recall: tl.Timeline) -> None:
    """'PolicyChange: permit/lift -> authority supports; restrict/ban -> opposes'."""
    assert stance(recall.state(at="2026-03-10"), "agency", "valsorin-safety").position == "opposes"
    assert stance(recall.state(at="2026-03-21"), "MedAgency", "valsorin-safety").position == (
        "supports"
    )


def test_full_incremental_and_snapshot_states_are_equal(
    tmp_path: Path, recall: tl.Timeline
) -> None:
    """'The same state must come out whichever way it is computed: full replay,
    incremental catch-up, or from persisted snapshots, also after backdated events
    and retractions.'"""
    # the story appended one event at a time, latest first (every append backdated),
    # events naming other events after those (the store checks the ids), with a state
    # asked for after each append so that each is a catch-up
    records = sorted(recall.events(), key=lambda r: (r.event.occurred_at, r.position), reverse=True)
    naming = (tl.Correction, tl.Retraction, tl.Denial, tl.Confirmation)
    last = [r for r in records if isinstance(r.event, naming)]
    first = [r for r in records if r not in last]
    path = tmp_path / "incremental.db"
    incremental: dict[int, tl.State] = {}
    with tl.Timeline.open(path) as store:
        for actor in recall.actors():
            store.register_actor(actor.id, name=actor.name, kind=actor.kind, aliases=actor.aliases)
        for record in itertools.chain(first, last):
            store.append([record.event], story="valsorin-recall")
            store.state()
            store.state(at="2026-03-10")
        incremental = {i: store.state(**b) for i, b in enumerate(BOUNDS)}
    # the same store reopened: from its persisted snapshots; read-only: a full fold
    with tl.Timeline.open(path) as reopened, tl.Timeline.open(path, readonly=True) as folded:
        for i, bounds in enumerate(BOUNDS):
            assert reopened.state(**bounds) == incremental[i], bounds
            assert folded.state(**bounds) == incremental[i], bounds
        replay = folded.replay(order="occurred", until="2026-03-10")
        list(replay)
        assert replay.state == incremental[4]
        # the values do not depend on the order of appends (ties aside: evidence order)
        for i, bounds in enumerate(BOUNDS):
            loaded = recall.state(**bounds)
            assert [(f.actor, f.topic, f.position) for f in loaded.stances()] == [
                (f.actor, f.topic, f.position) for f in incremental[i].stances()
            ]
            assert [
                (f.buyer, f.status, f.blocked_by, f.disputed_by) for f in loaded.order_intents()
            ] == [
                (f.buyer, f.status, f.blocked_by, f.disputed_by)
                for f in incremental[i].order_intents()
            ]


def test_reloading_the_file_appends_nothing(recall: tl.Timeline) -> None:
    """'A load is all or nothing and re-loading the same file appends nothing.'"""
    report = recall.load(STORY)
    assert (report.appended, report.skipped) == (0, 15)


def test_verify_counts_every_event(recall: tl.Timeline) -> None:
    """'verify() re-walks the chain'."""
    assert recall.verify() == 15


def test_topics_list_actors_and_counts(recall: tl.Timeline) -> None:
    """DESIGN Public API: 'store.topics() # topics with their actors and counts'."""
    topics = {t.topic: t for t in recall.topics()}
    assert sorted(topics) == ["valsorin-safety", "valsorin-supply"]
    assert topics["valsorin-supply"].events == 1
    assert set(topics["valsorin-supply"].actors) == {"medichain", "carepoint", "lumeria"}
    assert {"agency", "lumeria", "ministry", "st-anne"} <= set(topics["valsorin-safety"].actors)


def test_follow_yields_events_from_a_position(recall: tl.Timeline) -> None:
    """DESIGN Public API: 'for rec in store.follow(after=0): ...'."""
    followed = [r.event.id for r in recall.follow(after=0, timeout=0)]
    assert followed == [f"val-{i:02d}" for i in range(1, 16)]
    assert [r.position for r in recall.follow(after=13, timeout=0)] == [14, 15]


def test_opening_postgresql_without_a_server_is_a_clear_timeline_error() -> None:
    """DESIGN Public API: 'tl.Timeline.open("postgresql://host/db")' on PostgreSQL; without
    a reachable server (or the extra) it is a TimelineError, not a driver error."""
    with pytest.raises(tl.TimelineError, match="postgresql"):
        tl.Timeline.open("postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2")

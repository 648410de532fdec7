"""DESIGN.md, "How news really arrives" / "Sources that count", on the Valsorin story."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.acceptance.conftest import intent, stance, story_data
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL


def test_several_sources_keep_the_first_listed_as_source(recall: tl.Timeline) -> None:
    """'Python sources=(Source, ...), and event.source stays the first one *listed*.'"""
    event = recall.get("val-02").event
    assert [s.publisher for s in event.sources] == ["The Tribune", "NewsWire"]
    assert event.source.publisher == "The Tribune"


def test_several_sources_make_the_event_public_from_the_earliest(recall: tl.Timeline) -> None:
    """'With several sources an event is public from the earliest of them: reported_at
    defaults to the earliest published_at, reported_until to the earliest published_until.'"""
    event = recall.get("val-02").event
    earliest = datetime(2026, 3, 2, 6, tzinfo=UTC)  # NewsWire, listed second
    assert event.reported_at == earliest
    assert event.effective_reported_until == earliest
    # public at 06:00 through NewsWire although The Tribune published at noon
    assert recall.state(known_at="2026-03-02T07:00:00Z").stance("carepoint", "valsorin-supply")
    assert (
        recall.state(known_at="2026-03-02T05:59:00Z").stance("carepoint", "valsorin-supply") is None
    )


def test_via_followed_to_its_end_gives_the_origin(recall: tl.Timeline) -> None:
    """'Following via to its end gives the origin' (two hops: blog -> wire -> gazette)."""
    blog = recall.get("val-08").event.source
    assert (blog.publisher, blog.via, blog.origin) == ("PharmaBlog", "wire-0302", "Daily Gazette")
    wire = recall.get("val-02").event.sources[1]
    assert (wire.via, wire.origin) == ("gazette-0301", "Daily Gazette")


@pytest.mark.parametrize(
    ("via", "message"),
    [("blog-0305", "loops"), ("no-such-source", "unknown source 'no-such-source'")],
)
def test_a_via_cycle_or_unknown_id_is_refused_at_load_naming_the_source(
    tmp_path: Path,
    write_fixture: Callable[[dict[str, Any], str], Path],
    via: str,
    message: str,
) -> None:
    """'a cycle or an unknown id is an error at load' ... naming the source; nothing written."""
    data = story_data()
    data["sources"]["gazette-0301"]["via"] = via
    path = write_fixture(data, "bad-via.json")
    with tl.Timeline.open(tmp_path / "bad.db") as store:
        with pytest.raises(tl.FixtureError, match=message) as caught:
            store.load(path)
        assert "gazette-0301" in str(caught.value)
        assert caught.value.field == "sources.gazette-0301.via"
        assert list(store.events()) == []


def test_basis_is_read_and_defaults_to_unknown(recall: tl.Timeline) -> None:
    """'Event.basis: official, named, document, anonymous, unknown (default).'"""
    bases = {i: recall.get(i).event.basis for i in ("val-01", "val-02", "val-04", "val-08")}
    assert bases == {
        "val-01": "official",
        "val-02": "anonymous",
        "val-04": "document",
        "val-08": "named",
    }
    plain = tl.Statement(
        occurred_at=datetime(2026, 3, 1, tzinfo=UTC), actor="ministry", topic="t", summary="x"
    )
    assert plain.basis == "unknown"


def test_independent_sources_count_distinct_origin_publishers(recall: tl.Timeline) -> None:
    """'independent_sources: the number of distinct origin publishers among the sources
    of its own evidence (blocking restrictions not counted).'"""
    state = recall.state(at="2026-03-10")
    buyer = intent(state, "medichain")
    # The Tribune + NewsWire (origin Daily Gazette); the agency's restriction blocks it
    assert buyer.blocked_by == ("val-04",)
    assert buyer.independent_sources == 2
    assert set(buyer.origins) == {"The Tribune", "Daily Gazette"}
    assert stance(state, "lumeria", "valsorin-safety").independent_sources == 1


def test_a_blocked_intent_lists_the_restriction_in_evidence_and_its_sources(
    recall: tl.Timeline,
) -> None:
    """'sources ... for an intent also those of the restrictions that block it' and 'A
    restriction that blocks an intent is part of that intent's evidence, as today.'"""
    buyer = intent(recall.state(at="2026-03-10"), "medichain")
    assert buyer.evidence == ("val-04", "val-02")
    assert {s.id for s in buyer.sources} == {"agency-bulletin", "tribune-0302", "wire-0302"}


def test_a_relay_of_a_source_already_cited_adds_no_independent_source(tmp_path: Path) -> None:
    """A relayed report counts for its origin, not twice."""
    gazette = tl.Source(
        id="g", publisher="Daily Gazette", published_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    wire = tl.Source(
        id="w", publisher="NewsWire", published_at=datetime(2026, 3, 2, tzinfo=UTC), via="g"
    )
    with tl.Timeline.open(tmp_path / "relay.db") as store:
        store.append(
            [
                tl.Announcement(
                    id="a1",
                    occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
                    actor="lumeria",
                    topic="valsorin-safety",
                    position="supports",
                    sources=(gazette, wire),
                    summary="Lumeria backs Valsorin.",
                )
            ],
            story="relay",
        )
        found = store.state().stance("lumeria", "valsorin-safety")
        assert found is not None
        assert (found.independent_sources, found.origins) == (1, ("Daily Gazette",))


def test_a_denial_disputes_only_the_facts_its_actor_takes_part_in(recall: tl.Timeline) -> None:
    """'It disputes the facts whose current evidence includes a denied event *and in which
    the denier takes part*' (CarePoint denies the joint inquiry)."""
    state = recall.state(at="2026-03-03")  # the union's denial (4 Mar) not yet
    assert intent(state, "carepoint").disputed_by == ("val-06",)
    assert stance(state, "carepoint", "valsorin-supply").disputed_by == ("val-06",)
    assert intent(state, "medichain").disputed_by == ()
    assert stance(state, "medichain", "valsorin-supply").disputed_by == ()


def test_a_denier_taking_part_in_none_disputes_all(recall: tl.Timeline) -> None:
    """'if the denier takes part in none of them, all of them' (the patients' union)."""
    state = recall.state(at="2026-03-04")
    assert intent(state, "medichain").disputed_by == ("val-07",)
    assert stance(state, "medichain", "valsorin-supply").disputed_by == ("val-07",)
    assert set(intent(state, "carepoint").disputed_by) == {"val-06", "val-07"}
    assert set(stance(state, "carepoint", "valsorin-supply").disputed_by) == {"val-06", "val-07"}


def test_a_confirmation_follows_the_same_rule(recall: tl.Timeline) -> None:
    """'Confirmation ... the same rule puts it in confirmed_by': Lumeria supplies both
    intents and holds neither stance."""
    state = recall.state(at="2026-03-04")
    assert intent(state, "medichain").confirmed_by == ("val-08",)
    assert intent(state, "carepoint").confirmed_by == ("val-08",)
    assert stance(state, "medichain", "valsorin-supply").confirmed_by == ()


def test_denials_never_change_a_value_nor_join_evidence_or_sources(recall: tl.Timeline) -> None:
    """'their value does not change (a denial is not a retraction)' and 'Denials and
    confirmations never join a fact's evidence or sources'."""
    before, after = recall.state(at="2026-03-02"), recall.state(at="2026-03-05")
    # MediChain's intent: disputed by the union (val-07), confirmed by Lumeria (val-08)
    assert intent(after, "medichain").disputed_by == ("val-07",)
    assert intent(after, "medichain").confirmed_by == ("val-08",)
    assert intent(after, "medichain").status == intent(before, "medichain").status == "exploring"
    assert intent(after, "medichain").evidence == intent(before, "medichain").evidence
    assert intent(after, "medichain").sources == intent(before, "medichain").sources
    ids = {s.id for s in intent(after, "medichain").sources}
    assert "tribune-0310" not in ids
    assert "blog-0305" not in ids


def test_denials_are_filtered_by_at_and_known_at(recall: tl.Timeline) -> None:
    """'a statement in the world, filtered by at and known_at like any event'."""
    # occurred 3 Mar, public 10 Mar
    assert intent(recall.state(at="2026-03-02"), "carepoint").disputed_by == ()
    assert (
        intent(recall.state(at="2026-03-03", known_at="2026-03-09"), "carepoint").disputed_by == ()
    )
    assert intent(
        recall.state(at="2026-03-03", known_at="2026-03-10"), "carepoint"
    ).disputed_by == ("val-06",)


def test_about_is_included_by_history_events_replay_and_search(recall: tl.Timeline) -> None:
    """'about ... history(actor), events(actor=), replay(actor=) and search by actor
    include events about the actor' (the agency's review of Lumeria, val-05)."""
    assert recall.get("val-05").event.about == ("lumeria",)
    assert "val-05" in [r.event.id for r in recall.events(actor="lumeria")]
    assert "val-05" in [s.event.id for s in recall.history("lumeria")]
    assert "val-05" in [s.event.id for s in recall.replay(actor="Lumeria Pharma")]
    assert [h.record.event.id for h in recall.search("review", actor="lumeria")] == ["val-05"]
    assert "val-05" not in [r.event.id for r in recall.events(actor="medichain")]


def test_statement_conditions_reach_the_stance(recall: tl.Timeline) -> None:
    """'Announcement/Statement take conditions (list of text) -> Stance.conditions.'"""
    found = stance(recall.state(), "lumeria", "valsorin-safety")
    assert found.conditions == ("batch testing complete",)
    assert stance(recall.state(), "ministry", "valsorin-safety").conditions == ()


def test_kind_targets_block_every_actor_of_that_kind_case_insensitively(
    recall: tl.Timeline,
) -> None:
    """'applies_to entries kind:<kind> block every actor declared with that kind
    (case-insensitive)': kind:PHARMACY blocks MediChain (Pharmacy) and CarePoint."""
    state = recall.state(at="2026-03-02")
    assert intent(state, "medichain").blocked_by == ("val-04",)
    assert intent(state, "carepoint").blocked_by == ("val-04",)
    # the lift by the same authority on the same product (other case) clears it
    assert intent(recall.state(at="2026-03-21"), "medichain").blocked_by == ()
    assert recall.state(at="2026-03-21").restrictions() == []


def test_kind_targets_also_block_actors_declared_later(
    recall: tl.Timeline, write_fixture: Callable[[dict[str, Any], str], Path]
) -> None:
    """'... also actors declared later': a pharmacy declared in a second file."""
    later = {
        "format": "timeline-fixture/1",
        "story": "valsorin-recall",
        "actors": {"pharmaplus": {"name": "PharmaPlus", "kind": "PHARMACY", "aliases": []}},
        "sources": {},
        "events": [
            {
                "id": "val-20",
                "type": "inquiry",
                "occurred_at": "2026-03-12",
                "reported_at": "2026-03-12T10:00:00Z",
                "inquirers": ["pharmaplus"],
                "supplier": "lumeria",
                "product": "VALSORIN",
                "summary": "PharmaPlus asks Lumeria about Valsorin.",
            }
        ],
    }
    assert recall.load(write_fixture(later, "later.json")).appended == 1
    found = recall.state(at="2026-03-12").order_intent("pharmaplus", "lumeria", "Valsorin")
    assert found is not None
    assert (found.status, found.blocked_by) == ("exploring", ("val-04",))

"""A second, fictional story in the fixture format: bans, lifts, orders, a retraction
and a correction, checked at several valid and knowledge times."""

from __future__ import annotations

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS, FIXTURES

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

STORY = FIXTURES / "sample-magnet-export-ban.json"
PRODUCT = "NdFeB magnets"


@pytest.fixture
def magnets(store: tl.Timeline) -> tl.Timeline:
    report = store.load(STORY)
    assert (report.story, report.appended) == ("magnet-export-ban", 12)
    return store


def intent(state: tl.State, buyer: str) -> tl.OrderIntent:
    found = state.order_intent(buyer, "magnetco", PRODUCT)
    assert found is not None
    return found


def test_a_restriction_naming_a_buyer_blocks_only_that_buyer(magnets: tl.Timeline) -> None:
    state = magnets.state(at="2024-04-10")
    assert intent(state, "carmaker-a").blocked_by == ("mag-01",)
    assert intent(state, "carmaker-b").blocked_by == ()
    assert [r.id for r in state.restrictions()] == ["mag-01"]


def test_a_month_precision_restriction_counts_from_the_start_of_the_month(
    magnets: tl.Timeline,
) -> None:
    stance = magnets.state(at="2024-03-01").stance("MoT", "magnet-exports")
    assert stance is not None
    assert (stance.position, stance.since_precision) == ("opposes", "month")


def test_the_lift_clears_the_block_and_turns_the_ministry_supportive(magnets: tl.Timeline) -> None:
    state = magnets.state(at="2024-07-10")
    assert intent(state, "carmaker-a").blocked_by == ()
    assert state.restrictions() == []
    stance = state.stance("trade-ministry", "magnet-exports")
    assert stance is not None
    assert stance.position == "supports"


def test_an_order_is_placed_and_a_retracted_delivery_never_happened(magnets: tl.Timeline) -> None:
    assert intent(magnets.state(at="2024-07-16"), "carmaker-a").status == "ordered"
    assert intent(magnets.state(at="2024-08-15"), "carmaker-a").status == "ordered"
    believed = magnets.state(at="2024-08-15", known_at="2024-08-15")
    assert intent(believed, "carmaker-a").status == "delivered"


def test_an_order_reported_later_is_unknown_before_its_report(magnets: tl.Timeline) -> None:
    state = magnets.state(at="2024-07-16", known_at="2024-07-18")
    assert intent(state, "carmaker-a").status == "exploring"


def test_a_corrected_cancellation_moves_to_its_corrected_date(magnets: tl.Timeline) -> None:
    assert intent(magnets.state(at="2024-09-10"), "carmaker-b").status == "ordered"
    assert intent(magnets.state(at="2024-09-30"), "carmaker-b").status == "cancelled"
    before_correction = magnets.state(at="2024-09-10", known_at="2024-09-04")
    assert intent(before_correction, "carmaker-b").status == "cancelled"


def test_the_inquiry_terms_and_sources_are_kept(magnets: tl.Timeline) -> None:
    found = intent(magnets.state(at="2024-04-30"), "carmaker-b")
    assert (found.quantity, found.conditions, found.concerns) == (
        "2,000 t",
        ("export licence",),
        ("price",),
    )
    assert [s.publisher for s in found.sources] == ["Example Wire"]


def test_aliases_in_the_fixture_resolve_to_actor_ids(magnets: tl.Timeline) -> None:
    authorities = {r.event.authority for r in magnets.events(type="policy_change")}  # type: ignore[attr-defined]
    assert authorities == {"trade-ministry"}
    assert magnets.get("mag-02").event.supplier == "magnetco"  # type: ignore[union-attr, attr-defined]


def test_single_fact_lookups_agree_with_the_state(magnets: tl.Timeline) -> None:
    for day in ["2024-04-10", "2024-08-15", "2024-09-30"]:
        assert magnets.order_intent("carmaker-b", "Magnet Co", PRODUCT, at=day) == (
            magnets.state(at=day).order_intent("carmaker-b", "magnetco", PRODUCT)
        )


def test_a_denial_by_the_supplier_disputes_the_order_from_the_day_it_was_made(
    magnets: tl.Timeline,
) -> None:
    assert intent(magnets.state(at="2024-05-12"), "carmaker-b").disputed_by == ()
    disputed = intent(magnets.state(at="2024-05-13"), "carmaker-b")
    assert (disputed.status, disputed.disputed_by) == ("ordered", ("mag-11",))
    assert "mag-11" not in disputed.evidence
    # known only once the wire published the denial
    known = intent(magnets.state(at="2024-05-13", known_at="2024-05-13T14:00:00Z"), "carmaker-b")
    assert known.disputed_by == ()
    # the cancellation rests on the same evidence: still disputed
    assert intent(magnets.state(), "carmaker-b").disputed_by == ("mag-11",)


def test_a_confirmation_by_the_buyer_confirms_its_order_and_counts_once_per_origin(
    magnets: tl.Timeline,
) -> None:
    confirmed = intent(magnets.state(at="2024-07-22"), "carmaker-a")
    assert confirmed.confirmed_by == ("mag-12",)
    assert confirmed.disputed_by == ()
    relayed = magnets.get("mag-12")
    assert relayed is not None
    assert [s.origin_publisher for s in relayed.event.sources] == ["Example Wire"] * 2
    assert relayed.event.reported_at == relayed.event.sources[0].published_at  # 08:00Z first
    assert "mag-12" in [s.event.id for s in magnets.history("magnetco")]  # about MagnetCo

"""The projection rules of DESIGN.md, as pure folds (no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import timeline as tl
from timeline.projections.orders import OrderIntentProjection
from timeline.projections.stance import StanceProjection

T0 = datetime(2025, 12, 1, tzinfo=UTC)
REUTERS = tl.Source(publisher="Reuters", id="reuters")


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def fold(*events: tl.Event, actors: frozenset[str] = frozenset()) -> tl.State:
    known = actors or frozenset({"us", "beijing", "bytedance", "alibaba", "nvidia"})
    f = tl.Fold([StanceProjection(), OrderIntentProjection()], tl.Context(known_actors=known))
    f.run(events)
    return f.state()


def inquiry(n: int = 1, **kw: Any) -> tl.Inquiry:
    fields: dict[str, Any] = {
        "id": f"inq-{n}",
        "occurred_at": day(n),
        "inquirers": ("bytedance",),
        "supplier": "nvidia",
        "product": "H200",
    }
    fields.update(kw)
    return tl.Inquiry(**fields)


def ban(n: int, measure: str = "ban", **kw: Any) -> tl.PolicyChange:
    fields: dict[str, Any] = {
        "id": f"pol-{n}",
        "occurred_at": day(n),
        "authority": "beijing",
        "topic": "h200-imports",
        "measure": measure,
        "product": "H200",
        "applies_to": ("bytedance",),
    }
    fields.update(kw)
    return tl.PolicyChange(**fields)


# --- stance -------------------------------------------------------------------


def test_announcement_sets_the_actors_stance_with_since_evidence_and_source() -> None:
    e = tl.Announcement(
        id="a1",
        occurred_at=day(1),
        actor="us",
        topic="exports",
        position="supports",
        source=REUTERS,
    )
    stance = fold(e).stance("us", "exports")
    assert stance is not None
    assert (stance.position, stance.since, stance.evidence, stance.sources) == (
        tl.Position.SUPPORTS,
        day(1),
        ("a1",),
        (REUTERS,),
    )


def test_statement_changes_the_position_and_restarts_since_and_evidence() -> None:
    a = tl.Announcement(id="a1", occurred_at=day(1), actor="us", topic="t", position="supports")
    s = tl.Statement(id="s1", occurred_at=day(2), actor="us", topic="t", position="opposes")
    stance = fold(a, s).stance("us", "t")
    assert stance is not None
    assert (stance.position, stance.since, stance.evidence) == (
        tl.Position.OPPOSES,
        day(2),
        ("s1",),
    )


def test_restating_a_position_keeps_since_and_adds_evidence_newest_first() -> None:
    a = tl.Announcement(id="a1", occurred_at=day(1), actor="us", topic="t", position="supports")
    b = tl.Statement(id="s1", occurred_at=day(3), actor="us", topic="t", position="supports")
    stance = fold(a, b).stance("us", "t")
    assert stance is not None
    assert (stance.since, stance.evidence) == (day(1), ("s1", "a1"))


def test_statement_defaults_to_neutral() -> None:
    s = tl.Statement(id="s1", occurred_at=day(1), actor="beijing", topic="t")
    stance = fold(s).stance("beijing", "t")
    assert stance is not None
    assert stance.position == tl.Position.NEUTRAL


@pytest.mark.parametrize(
    ("measure", "position"),
    [("permit", "supports"), ("lift", "supports"), ("restrict", "opposes"), ("ban", "opposes")],
)
def test_policy_change_sets_the_authoritys_stance_by_measure(measure: str, position: str) -> None:
    stance = fold(ban(1, measure)).stance("beijing", "h200-imports")
    assert stance is not None
    assert stance.position == position


def test_regulator_meeting_sets_the_regulators_stance_default_undecided() -> None:
    m = tl.RegulatorMeeting(
        id="m1", occurred_at=day(1), regulator="beijing", attendees=("bytedance",), topic="t"
    )
    state = fold(m)
    stance = state.stance("beijing", "t")
    assert stance is not None
    assert stance.position == tl.Position.UNDECIDED
    assert state.stance("bytedance", "t") is None


def test_inquiry_with_a_topic_makes_each_inquirer_support_it() -> None:
    state = fold(inquiry(inquirers=("bytedance", "alibaba"), topic="h200-imports"))
    assert [(s.actor, s.position.value) for s in state.stances()] == [
        ("alibaba", "supports"),
        ("bytedance", "supports"),
    ]


def test_inquiry_without_a_topic_sets_no_stance() -> None:
    assert fold(inquiry()).stances() == []


def test_report_moves_no_projection() -> None:
    r = tl.Report(id="r1", occurred_at=day(1), actors=("nvidia",), topic="supply")
    state = fold(r)
    assert (state.stances(), state.order_intents(), state.restrictions()) == ([], [], [])


# --- order intent ----------------------------------------------------------------


def test_inquiry_creates_an_exploring_intent_per_inquirer_with_terms() -> None:
    state = fold(
        inquiry(
            inquirers=("bytedance", "alibaba"),
            quantity="large",
            conditions=("Beijing approval",),
            concerns=("supply",),
        )
    )
    intents = state.order_intents()
    assert [(i.buyer, i.status.value) for i in intents] == [
        ("alibaba", "exploring"),
        ("bytedance", "exploring"),
    ]
    assert intents[1].quantity == "large"
    assert intents[1].conditions == ("Beijing approval",)
    assert intents[1].concerns == ("supply",)
    assert intents[1].since == day(1)
    assert intents[1].evidence == ("inq-1",)


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (tl.OrderPlaced, "ordered"),
        (tl.OrderDelivered, "delivered"),
        (tl.OrderCancelled, "cancelled"),
    ],
)
def test_order_events_set_the_intent_status(cls: type[tl.Event], status: str) -> None:
    e = cls(id="o1", occurred_at=day(2), buyer="bytedance", supplier="nvidia", product="H200")  # type: ignore[call-arg]
    intent = fold(inquiry(), e).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert (intent.status.value, intent.since, intent.evidence) == (status, day(2), ("o1", "inq-1"))


@pytest.mark.parametrize("cls", [tl.OrderPlaced, tl.OrderDelivered])
def test_inquiry_never_moves_an_intent_back_from_ordered_or_delivered(cls: type[tl.Event]) -> None:
    e = cls(id="o1", occurred_at=day(2), buyer="bytedance", supplier="nvidia", product="H200")  # type: ignore[call-arg]
    intent = fold(e, inquiry(3, concerns=("price",))).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.status != tl.IntentStatus.EXPLORING
    assert intent.since == day(2)
    assert intent.concerns == ("price",)
    assert intent.evidence == ("inq-3", "o1")


def test_inquiry_after_a_cancellation_is_exploring_again() -> None:
    c = tl.OrderCancelled(
        id="c1", occurred_at=day(2), buyer="bytedance", supplier="nvidia", product="H200"
    )
    intent = fold(c, inquiry(3)).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.status == tl.IntentStatus.EXPLORING


def test_products_match_case_insensitively() -> None:
    o = tl.OrderPlaced(
        id="o1", occurred_at=day(2), buyer="bytedance", supplier="nvidia", product="h200"
    )
    intent = fold(inquiry(), o).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.status == tl.IntentStatus.ORDERED


def test_ban_applying_to_the_buyer_blocks_an_existing_intent() -> None:
    intent = fold(inquiry(1), ban(2)).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ("pol-2",)
    assert intent.is_blocked


def test_ban_blocks_intents_that_first_appear_while_it_is_in_force() -> None:
    intent = fold(ban(1, "restrict"), inquiry(2)).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ("pol-1",)


def test_ban_naming_the_supplier_blocks_the_buyer() -> None:
    intent = fold(ban(1, product="Nvidia"), inquiry(2)).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ("pol-1",)


def test_ban_on_another_product_or_buyer_blocks_nothing() -> None:
    state = fold(ban(1, product="A100"), ban(2, applies_to=("alibaba",)), inquiry(3))
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ()


def test_a_ban_and_its_lift_reach_exactly_the_existing_intents_naming_their_product() -> None:
    # a ban reads which of a buyer's intents it names from their keys (product
    # casefolded, supplier as given): by product, or by supplier in another case
    asks = [
        inquiry(1),
        inquiry(2, product="h20"),
        inquiry(3, supplier="AMD", product="MI308"),
        inquiry(4, supplier="amd", product="H200"),
        inquiry(5, supplier="huawei", product="Ascend"),
    ]
    bans = [
        ban(6, product="NVIDIA"),
        ban(7, product="h200", authority="us"),
        ban(8, product="amd", authority="eu"),
    ]
    state = fold(*asks, *bans)
    blocked = {(i.supplier, i.product): i.blocked_by for i in state.order_intents()}
    assert blocked == {
        ("nvidia", "H200"): ("pol-6", "pol-7"),
        ("nvidia", "h20"): ("pol-6",),
        ("AMD", "MI308"): ("pol-8",),
        ("amd", "H200"): ("pol-7", "pol-8"),
        ("huawei", "Ascend"): (),
    }
    lifted = fold(*asks, *bans, ban(9, "lift", product="Nvidia", applies_to=()))
    after = {(i.supplier, i.product): i.blocked_by for i in lifted.order_intents()}
    assert after == {**blocked, ("nvidia", "H200"): ("pol-7",), ("nvidia", "h20"): ()}
    untouched = lifted.order_intent("bytedance", "huawei", "Ascend")
    assert untouched is not None
    assert untouched.evidence == ("inq-5",)


def test_applies_to_descriptions_block_no_one() -> None:
    state = fold(ban(1, applies_to=("Chinese tech companies",)), inquiry(2))
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ()


def test_lift_by_the_same_authority_on_the_same_product_clears_the_block() -> None:
    state = fold(inquiry(1), ban(2), ban(3, "lift", applies_to=()))
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ()
    assert state.restrictions() == []


def test_permit_by_another_authority_does_not_clear_the_block() -> None:
    state = fold(inquiry(1), ban(2), ban(3, "permit", authority="us"))
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ("pol-2",)
    assert [r.id for r in state.restrictions()] == ["pol-2"]


def test_unknown_event_types_are_skipped() -> None:
    class Odd(tl.Event):
        pass

    assert fold(Odd(occurred_at=day(1))).stances() == []

"""Sources that count: several sources, via, basis, denials, confirmations, conditions, kinds.

Pure folds, no store (DESIGN "How news really arrives", "Sources that count").
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import timeline as tl
from timeline.projections.base import Context
from timeline.projections.orders import OrderIntentProjection
from timeline.projections.stance import StanceProjection

T = datetime(2025, 12, 8, tzinfo=UTC)
REUTERS = tl.Source(publisher="Reuters", id="r", via="ti", origin="The Information")
INFO = tl.Source(publisher="The Information", id="ti")
BLOOMBERG = tl.Source(publisher="Bloomberg", id="b")


def _fold(events: list[tl.Event], ctx: Context | None = None) -> tl.State:
    fold = tl.Fold([StanceProjection(), OrderIntentProjection()], ctx or Context())
    return fold.run(events).state()


def _inquiry(eid: str = "q1", day: int = 8, **kw: object) -> tl.Inquiry:
    base: dict[str, object] = {
        "id": eid,
        "occurred_at": T.replace(day=day),
        "inquirers": ("bytedance",),
        "supplier": "nvidia",
        "product": "H200",
        "topic": "h200-imports",
        "sources": (REUTERS,),
    }
    return tl.Inquiry(**{**base, **kw})  # type: ignore[arg-type]


def _deny(eid: str, actor: str, *ids: str, day: int = 9) -> tl.Denial:
    return tl.Denial(id=eid, occurred_at=T.replace(day=day), actor=actor, denies=ids)


def test_source_is_the_first_of_several_sources() -> None:
    event = _inquiry(sources=(BLOOMBERG, REUTERS))
    assert event.source == BLOOMBERG


def test_source_alone_becomes_the_only_source() -> None:
    event = _inquiry(sources=(), source=INFO)
    assert event.sources == (INFO,)


def test_a_source_that_is_not_the_first_listed_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="source: must be the first of sources"):
        _inquiry(source=INFO, sources=(BLOOMBERG, INFO))


def test_reported_at_defaults_to_the_earliest_published_at() -> None:
    early = tl.Source(publisher="A", published_at=datetime(2025, 12, 9, tzinfo=UTC))
    late = tl.Source(publisher="B", published_at=datetime(2025, 12, 10, tzinfo=UTC))
    assert _inquiry(sources=(late, early)).effective_reported_at == early.published_at


def test_basis_defaults_to_unknown_and_refuses_other_words() -> None:
    assert _inquiry().basis is tl.Basis.UNKNOWN
    with pytest.raises(tl.ValidationError, match="basis"):
        _inquiry(basis="rumour")


def test_a_relayed_report_and_its_origin_count_as_one_independent_source() -> None:
    state = _fold([_inquiry(sources=(REUTERS, INFO))])
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert (intent.independent_sources, intent.origins) == (1, ("The Information",))
    assert intent.sources == (REUTERS, INFO)


def test_independent_sources_count_distinct_origin_publishers_of_the_evidence() -> None:
    state = _fold([_inquiry(), _inquiry("q2", day=9, sources=(BLOOMBERG,))])
    stance = state.stance("bytedance", "h200-imports")
    assert stance is not None
    assert (stance.independent_sources, stance.origins) == (2, ("Bloomberg", "The Information"))


def test_a_blocked_intent_lists_the_ban_and_its_source_but_does_not_count_it() -> None:
    ban = tl.PolicyChange(
        id="ban",
        occurred_at=T,
        authority="beijing",
        topic="h200-imports",
        measure="ban",
        product="H200",
        applies_to=("bytedance",),
        sources=(BLOOMBERG,),
    )
    for events in ([ban, _inquiry(day=9)], [_inquiry(day=7), ban]):
        intent = _fold(events).order_intent("bytedance", "nvidia", "H200")
        assert intent is not None
        assert intent.blocked_by == ("ban",)
        assert "ban" in intent.evidence
        assert BLOOMBERG in intent.sources
        assert intent.independent_sources == 1


def test_a_denial_disputes_the_facts_the_denier_takes_part_in() -> None:
    state = _fold([_inquiry(), _deny("d1", "nvidia", "q1")])
    intent = state.order_intent("bytedance", "nvidia", "H200")
    stance = state.stance("bytedance", "h200-imports")
    assert intent is not None
    assert stance is not None
    assert intent.disputed_by == ("d1",)
    assert stance.disputed_by == ()
    assert intent.status is tl.IntentStatus.EXPLORING  # a denial is not a retraction
    assert "d1" not in intent.evidence


def test_a_denial_by_an_outsider_disputes_every_fact_resting_on_the_event() -> None:
    state = _fold([_inquiry(), _deny("d1", "alibaba", "q1")])
    intent = state.order_intent("bytedance", "nvidia", "H200")
    stance = state.stance("bytedance", "h200-imports")
    assert intent is not None
    assert stance is not None
    assert (intent.disputed_by, stance.disputed_by) == (("d1",), ("d1",))


def test_a_confirmation_lists_itself_in_confirmed_by() -> None:
    confirm = tl.Confirmation(
        id="c1", occurred_at=T.replace(day=10), actor="bytedance", confirms=("q1",)
    )
    stance = _fold([_inquiry(), confirm]).stance("bytedance", "h200-imports")
    assert stance is not None
    assert (stance.confirmed_by, stance.disputed_by) == (("c1",), ())


def test_a_fact_restated_after_a_denial_stays_disputed_until_its_value_changes() -> None:
    restated = _inquiry("q2", day=10, sources=(BLOOMBERG,))
    moved = tl.OrderPlaced(
        id="o1", occurred_at=T.replace(day=11), buyer="bytedance", supplier="nvidia", product="H200"
    )
    state = _fold([_inquiry(), _deny("d1", "nvidia", "q1"), restated])
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.disputed_by == ("d1",)
    stance = _fold([_inquiry(), _deny("d1", "bytedance", "q1"), moved]).stance(
        "bytedance", "h200-imports"
    )
    assert stance is not None
    assert stance.disputed_by == ("d1",)


def test_a_denial_is_a_change_of_the_facts_it_disputes() -> None:
    fold = tl.Fold([StanceProjection(), OrderIntentProjection()], Context())
    fold.apply(_inquiry())
    changes = fold.apply(_deny("d1", "nvidia", "q1"))
    assert [(c.projection, c.after.disputed_by) for c in changes] == [("orders", ("d1",))]


def test_a_denial_needs_at_least_one_event_id() -> None:
    with pytest.raises(tl.ValidationError, match="denies: needs at least one entry"):
        tl.Denial(occurred_at=T, actor="nvidia", denies=())


def test_conditions_of_an_announcement_are_carried_to_the_stance() -> None:
    said = tl.Announcement(
        occurred_at=T,
        actor="us-government",
        topic="h200-exports",
        position="supports",
        conditions=("25% of sales to the US government",),
    )
    stance = _fold([said]).stance("us-government", "h200-exports")
    assert stance is not None
    assert stance.conditions == ("25% of sales to the US government",)


def _kind_ban(eid: str = "ban", entry: str = "kind:Telecom") -> tl.PolicyChange:
    return tl.PolicyChange(
        id=eid,
        occurred_at=T.replace(day=1),
        authority="regulator",
        topic="t",
        measure="ban",
        product="H200",
        applies_to=(entry,),
    )


def test_a_kind_target_blocks_every_actor_of_that_kind_case_insensitively() -> None:
    ctx = Context(actor_kinds=(("bytedance", "telecom"), ("alibaba", "retail")))
    state = _fold(
        [_kind_ban(), _inquiry(day=9), _inquiry("q2", day=9, inquirers=("alibaba",))], ctx
    )
    blocked = state.order_intent("bytedance", "nvidia", "H200")
    free = state.order_intent("alibaba", "nvidia", "H200")
    assert blocked is not None
    assert free is not None
    assert (blocked.blocked_by, free.blocked_by) == (("ban",), ())


def test_a_kind_target_blocks_intents_that_existed_before_the_ban() -> None:
    ctx = Context(actor_kinds=(("bytedance", "telecom"),))
    ban = _kind_ban("ban2")
    ban = tl.PolicyChange(**{**_asdict(ban), "occurred_at": T.replace(day=20)})
    intent = _fold([_inquiry(day=9), ban], ctx).order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ("ban2",)


def test_a_lift_clears_a_kind_target() -> None:
    ctx = Context(actor_kinds=(("bytedance", "telecom"),))
    lift = tl.PolicyChange(
        id="lift",
        occurred_at=T.replace(day=15),
        authority="regulator",
        topic="t",
        measure="lift",
        product="H200",
    )
    intent = _fold([_kind_ban(), _inquiry(day=9), lift], ctx).order_intent(
        "bytedance", "nvidia", "H200"
    )
    assert intent is not None
    assert intent.blocked_by == ()


def _asdict(event: tl.Event) -> dict[str, object]:
    import attrs

    return attrs.asdict(event, recurse=False)


def test_a_fold_without_a_store_follows_via_among_the_events_own_sources() -> None:
    relay = tl.Source(publisher="Reuters", id="r2", via="ti")
    state = _fold([_inquiry(sources=(relay, INFO))])
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.origins == ("The Information",)

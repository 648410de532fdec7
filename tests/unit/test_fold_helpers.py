"""The folds' fast helpers give what their plain definitions give.

Each helper is checked against the plain expression it replaces, on random
inputs: ``prepend`` / ``prepend_all`` against a prepend loop (``prepend_new`` too, for
an id not in the list), ``origins`` with one source against the set-and-sort, a
restriction id taken into ``blocked_by`` against ``tuple(sorted({...}))``; and a
restated stance or a re-blocked intent keeps every field ``attrs.evolve`` would keep.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from timeline import events as ev
from timeline.projections import orders
from timeline.projections.base import (
    EVIDENCE_LIMIT,
    merge_unique,
    origins,
    prepend,
    prepend_all,
    prepend_new,
)
from timeline.projections.orders import IntentStatus, OrderIntent
from timeline.projections.stance import Stance, _set


def plain_prepend(item: Any, items: tuple[Any, ...]) -> tuple[Any, ...]:
    if items and items[0] == item:
        return items
    if item in items:
        items = tuple(i for i in items if i != item)
    return (item, *items[: EVIDENCE_LIMIT - 1])


def plain_prepend_all(items: tuple[Any, ...], current: tuple[Any, ...]) -> tuple[Any, ...]:
    for item in reversed(items):
        current = plain_prepend(item, current)
    return current


def plain_origins(sources: tuple[ev.Source, ...], old: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({*old, *(s.origin_publisher for s in sources)}))


ids = st.sampled_from([f"e{i}" for i in range(30)])
PUBLISHERS = ["Reuters", "FT", "Caixin", "Bloomberg"]
publishers = st.sampled_from(PUBLISHERS)


@st.composite
def sources(draw: st.DrawFn) -> ev.Source:
    # equal sources built apart: equal, not identical, as a store without sharing gives
    return ev.Source(
        publisher=draw(publishers),
        id=draw(st.sampled_from([None, "a", "b"])),
        origin=draw(st.sampled_from([None, "AP"])),
        # same publisher and id, yet not equal: prepend must not take them for one
        url=draw(st.sampled_from([None, "https://example.org/1"])),
    )


@given(st.lists(ids, max_size=40), st.lists(ids, max_size=40))
def test_prepend_all_of_ids_is_the_loop(items: list[str], current: list[str]) -> None:
    base = plain_prepend_all(tuple(current), ())  # a fact's list: built by prepends
    assert prepend_all(tuple(items), base) == plain_prepend_all(tuple(items), base)
    # any tuple at all, repeats included
    assert prepend_all(tuple(items), tuple(current)) == plain_prepend_all(
        tuple(items), tuple(current)
    )


@given(st.lists(ids, max_size=40), st.integers(30, 40))
def test_prepend_new_of_an_id_not_there_is_the_loop(current: list[str], n: int) -> None:
    base = plain_prepend_all(tuple(current), ())  # a fact's list: built by prepends
    new = f"e{n}"  # not among ids' e0-e29
    assert prepend_new(new, base) == plain_prepend(new, base)
    assert len(prepend_new(new, base)) == min(len(base) + 1, EVIDENCE_LIMIT)


@given(st.lists(sources(), max_size=30), st.lists(sources(), max_size=30), sources())
def test_prepend_of_sources_is_the_loop(
    items: list[ev.Source], current: list[ev.Source], one: ev.Source
) -> None:
    base = tuple(current)
    assert prepend(one, base) == plain_prepend(one, base)
    assert prepend_all(tuple(items), base) == plain_prepend_all(tuple(items), base)
    shared = plain_prepend_all(base, ())
    if shared:
        # the same object again: found by identity, same answer
        assert prepend(shared[-1], shared) == plain_prepend(shared[-1], shared)


def test_prepend_all_of_many_items_onto_repeats_is_the_loop() -> None:
    # more items than EVIDENCE_LIMIT onto a tuple with repeats (not built by prepend):
    # a repeat leaves with its first copy, at a different step than one pass would say
    items = tuple("hoajhonwqwxvjyxpwqsrk")
    current = ("C", "C", "M", "M", "a", "a", "F", "B", "E")
    expected = plain_prepend_all(items, current)
    assert expected == (*"hoajnwqxvypsrk", "C", "C", "M", "M", "F")
    assert prepend_all(items, current) == expected


@given(st.lists(ids, max_size=3), st.lists(ids, max_size=3))
def test_merge_unique_is_the_dict_merge(new: list[str], old: list[str]) -> None:
    expected = tuple(dict.fromkeys([*new, *old]))
    assert merge_unique(tuple(new), tuple(old)) == expected
    assert merge_unique(tuple(new), tuple(new)) == tuple(dict.fromkeys(new))
    assert merge_unique(tuple(new), iter(old)) == expected


@given(st.lists(sources(), min_size=1, max_size=2), st.lists(publishers, max_size=4))
def test_origins_is_the_set_and_sort(found: list[ev.Source], old: list[str]) -> None:
    kept = tuple(sorted(set(old)))
    assert origins(tuple(found), kept) == plain_origins(tuple(found), kept)
    # an unsorted ``old`` (not built by origins) is sorted all the same
    assert origins(tuple(found), tuple(old)) == plain_origins(tuple(found), tuple(old))


@given(st.lists(ids, max_size=25), ids)
def test_a_restriction_joins_blocked_by_in_order(blocked: list[str], new: str) -> None:
    ordered = tuple(sorted(set(blocked)))
    assert orders._with_id(ordered, new) == tuple(sorted({*ordered, new}))
    assert orders._with_id(tuple(blocked), new) == tuple(sorted({*blocked, new}))


def _every_field(cls: type, **given_values: Any) -> dict[str, Any]:
    """A value for every field that differs from its default."""
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in given_values:
            values[field.name] = given_values[field.name]
        elif field.type in ("bool", bool):
            values[field.name] = not field.default
        elif field.name == "quantity":
            values[field.name] = "500"
        else:
            values[field.name] = (f"{field.name}-1",)
    return values


WHEN = datetime(2025, 1, 1, tzinfo=UTC)
SOURCE = ev.Source(publisher="Reuters", id="r1")


def test_a_restated_stance_keeps_every_other_field() -> None:
    current = Stance(
        **_every_field(
            Stance,
            actor="a",
            topic="t",
            position=ev.Position.SUPPORTS,
            since=WHEN,
            since_precision=ev.Precision.DAY,
            sources=(SOURCE,),
            origins=("Reuters",),
        )
    )
    event = ev.Statement(
        id="s2", actor="a", topic="t", position="supports", occurred_at=WHEN, source=SOURCE
    )
    _, restated = _set({("a", "t"): current}, "a", "t", ev.Position.SUPPORTS, event)
    expected = attrs.evolve(
        current, evidence=prepend("s2", current.evidence), sources=current.sources
    )
    assert restated == expected


def test_a_reblocked_intent_keeps_every_other_field() -> None:
    intent = OrderIntent(
        **_every_field(
            OrderIntent,
            buyer="b",
            supplier="s",
            product="H200",
            status=IntentStatus.ORDERED,
            since=WHEN,
            since_precision=ev.Precision.MONTH,
            sources=(SOURCE,),
        )
    )
    ban = ev.PolicyChange(
        id="ban-1",
        authority="gov",
        measure="ban",
        product="H200",
        applies_to=("b",),
        topic="t",
        occurred_at=WHEN,
        source=ev.Source(publisher="FT"),
    )
    expected = attrs.evolve(
        intent,
        blocked_by=("ban-1",),
        evidence=prepend("ban-1", intent.evidence),
        sources=prepend_all(ban.sources, intent.sources),
    )
    assert orders._reblocked(intent, ("ban-1",), ban) == expected

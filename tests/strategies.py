"""Hypothesis strategies: one per built-in event type, plus a user-defined type.

Every strategy yields *valid* records: aware datetimes with assorted UTC offsets,
arbitrary Unicode text (no lone surrogates: those are not valid Unicode), and
optional fields both set and unset. Actor ids are lowercase slugs so that the
store's case-insensitive actor lookup maps each one to itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
from hypothesis import strategies as st

import timeline as tl

__all__ = [
    "ALL_EVENTS",
    "REPORTS",
    "USER_REGISTRY",
    "Vote",
    "announcements",
    "aware_datetimes",
    "corrections",
    "events",
    "hostile_text",
    "inquiries",
    "order_cancellations",
    "order_deliveries",
    "orders_placed",
    "policy_changes",
    "regulator_meetings",
    "registry_with_builtins",
    "reports",
    "retractions",
    "sources",
    "statements",
    "user_events",
    "votes",
]


def registry_with_builtins() -> tl.Registry:
    """A private registry holding every built-in type (so tests never touch the global one)."""
    registry = tl.Registry()
    for entry in tl.default_registry:
        registry.register(entry.cls, entry.name, version=entry.version)
    return registry


@attrs.frozen(kw_only=True)
class Vote(tl.Event):
    """A user-defined type with the scalar kinds the built-ins lack (bool, int, float)."""

    actor_fields = ("board",)

    board: str
    unanimous: bool = False
    seats: int = 0
    share: float = 0.0
    stance: tl.Position = tl.Position.NEUTRAL
    tags: tuple[str, ...] = ()
    note: str | None = None


USER_REGISTRY = registry_with_builtins()
tl.event_type("board_vote", version=1, registry=USER_REGISTRY)(Vote)

# --- building blocks ----------------------------------------------------------

_OFFSETS = st.one_of(
    st.just(UTC),
    st.sampled_from([-12 * 60, -330, -60, 0, 60, 330, 345, 480, 14 * 60]).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)

aware_datetimes = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(2200, 12, 31), timezones=_OFFSETS
)
# no NUL: neither store accepts it (PostgreSQL text cannot hold it)
_chars = st.characters(codec="utf-8", blacklist_characters="\x00")
text = st.text(_chars, max_size=30)
non_blank = st.text(_chars, min_size=1, max_size=20).filter(lambda s: s.strip() != "")
optional_text = st.none() | text
event_ids = non_blank
slugs = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
# no 0 or 1: they look like o and l, and the store refuses an actor id that looks
# like another's (timeline.identity), which two examples in one store could draw
actor_ids = st.from_regex(r"[a-z][a-z2-9-]{0,10}", fullmatch=True)
actor_lists = st.lists(actor_ids, max_size=3).map(tuple)
# Descriptions ("government-funded data centres") hold a space, so none of them is
# an actor id the store would resolve.
descriptions = non_blank.map(lambda s: f"all {s}")
text_lists = st.lists(non_blank, max_size=3).map(tuple)
positions = st.sampled_from(tl.Position)
precisions = st.sampled_from(tl.Precision)
measures = st.sampled_from(tl.Measure)

sources = st.builds(
    tl.Source,
    publisher=non_blank,
    id=st.none() | slugs,
    url=optional_text,
    headline=optional_text,
    published_at=st.none() | aware_datetimes,
)


def _envelope() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "id": event_ids,
        "story": st.none() | slugs,
        "occurred_at": aware_datetimes,
        "precision": precisions,
        "reported_at": st.none() | aware_datetimes,
        "sources": st.lists(sources, max_size=2).map(tuple),
        "attribution": text,
        "basis": st.sampled_from(tl.Basis),
        "about": actor_lists,
        "summary": text,
        "quote": optional_text,
    }


# --- one strategy per type -------------------------------------------------------

announcements = st.builds(
    tl.Announcement, **_envelope(), actor=actor_ids, topic=non_blank, position=positions
)
statements = st.builds(
    tl.Statement, **_envelope(), actor=actor_ids, topic=non_blank, position=positions
)
regulator_meetings = st.builds(
    tl.RegulatorMeeting,
    **_envelope(),
    regulator=actor_ids,
    attendees=actor_lists,
    topic=non_blank,
    product=optional_text,
    agenda=text,
    outcome=text,
    position=positions,
)
inquiries = st.builds(
    tl.Inquiry,
    **_envelope(),
    inquirers=st.lists(actor_ids, min_size=1, max_size=3).map(tuple),
    supplier=actor_ids,
    product=non_blank,
    topic=st.none() | non_blank,
    quantity=optional_text,
    conditions=text_lists,
    concerns=text_lists,
)
policy_changes = st.builds(
    tl.PolicyChange,
    **_envelope(),
    authority=actor_ids,
    topic=non_blank,
    measure=measures,
    product=optional_text,
    applies_to=st.lists(actor_ids | descriptions, max_size=3).map(tuple),
)


def _orders(cls: type[tl.Event]) -> st.SearchStrategy[tl.Event]:
    return st.builds(
        cls,
        **_envelope(),
        buyer=actor_ids,
        supplier=actor_ids,
        product=non_blank,
        quantity=optional_text,
    )


orders_placed = _orders(tl.OrderPlaced)
order_cancellations = _orders(tl.OrderCancelled)
order_deliveries = _orders(tl.OrderDelivered)
reports = st.builds(tl.Report, **_envelope(), actors=actor_lists, topic=st.none() | non_blank)

REPORTS: st.SearchStrategy[tl.Event] = st.one_of(
    announcements,
    statements,
    regulator_meetings,
    inquiries,
    policy_changes,
    orders_placed,
    order_cancellations,
    order_deliveries,
    reports,
)
"""Every type a correction may replace (anything but corrections and retractions)."""


def _other_id(draw: st.DrawFn, own: str) -> str:
    return draw(event_ids.filter(lambda target: target != own))


@st.composite
def retractions(draw: st.DrawFn) -> tl.Retraction:
    """A retraction of some other event (never of itself)."""
    envelope = draw(st.fixed_dictionaries(_envelope()))
    return tl.Retraction(**envelope, retracts=_other_id(draw, envelope["id"]), reason=draw(text))


@st.composite
def corrections(draw: st.DrawFn) -> tl.Correction:
    """A correction of some other event, replacing it with a report of any kind."""
    envelope = draw(st.fixed_dictionaries(_envelope()))
    return tl.Correction(
        **envelope, corrects=_other_id(draw, envelope["id"]), replacement=draw(REPORTS)
    )


denials = st.builds(
    tl.Denial,
    **_envelope(),
    actor=actor_ids,
    denies=st.lists(event_ids, min_size=1, max_size=2).map(tuple),
)
confirmations = st.builds(
    tl.Confirmation,
    **_envelope(),
    actor=actor_ids,
    confirms=st.lists(event_ids, min_size=1, max_size=2).map(tuple),
)

votes = st.builds(
    Vote,
    **_envelope(),
    board=actor_ids,
    unanimous=st.booleans(),
    seats=st.integers(min_value=-(2**53), max_value=2**53),
    share=st.floats(allow_nan=False, allow_infinity=False),
    stance=positions,
    tags=text_lists,
    note=optional_text,
)
user_events = votes

ALL_EVENTS: dict[str, st.SearchStrategy[Any]] = {
    "announcement": announcements,
    "statement": statements,
    "regulator_meeting": regulator_meetings,
    "inquiry": inquiries,
    "policy_change": policy_changes,
    "order_placed": orders_placed,
    "order_cancelled": order_cancellations,
    "order_delivered": order_deliveries,
    "report": reports,
    "retraction": retractions(),
    "correction": corrections(),
    "denial": denials,
    "confirmation": confirmations,
    "board_vote": votes,
}
"""Stored type name -> strategy, for every built-in type and the user type."""

events: st.SearchStrategy[tl.Event] = st.one_of(*ALL_EVENTS.values())


# --- text an export must show as text -----------------------------------------------

# the syntax of every export format, and whole attacks, mixed into random text
_SYNTAX = list("<>&\"'`*_[]()#!|~\\:;,=+-@\t\r\n\x0b\x0c\x85\u2028\u2029")
_ATTACKS = [
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "![i](data:text/html,x)",
    "\n\n## 2030-01-01\n\n- **Retraction**: forged",
    '=HYPERLINK("http://a.example")',
    "&amp;&lt;&#60;",
    "]]></p><p>",
    "\\*",
    "``",
]


def hostile_text(max_parts: int = 5) -> st.SearchStrategy[str]:
    """Text of any code point (lone surrogates and NUL aside: the stores refuse them),
    dense with the syntax of Markdown, HTML, CSV and JSON and with whole attacks."""
    chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
    part = st.one_of(
        st.text(chars, max_size=8),
        st.text(st.sampled_from(_SYNTAX), min_size=1, max_size=4),
        st.sampled_from(_ATTACKS),
    )
    return st.lists(part, max_size=max_parts).map("".join)

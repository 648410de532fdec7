"""Tables and JSON for the command line. No I/O here: functions return text."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from tabulate import tabulate

from timeline import events as ev
from timeline.codec import Codec
from timeline.output.corrections import step_amendments
from timeline.output.labels import (
    Amendments,
    actor_ids,
    change_dict,
    change_label,
    change_text,
    claims_note,
    event_when,
    fact_label,
    iso,
    provenance,
    record_dict,
    visible,
    when,
)
from timeline.projections.base import Change, Column
from timeline.projections.orders import OrderIntent, Restriction
from timeline.projections.stance import Stance
from timeline.replay import ReplayStep
from timeline.store.recorded import Actor, SearchHit
from timeline.times import Precision

__all__ = [
    "actors_table",
    "changes_table",
    "facts_table",
    "hits_table",
    "intents_table",
    "restrictions_table",
    "stances_table",
    "step_dict",
    "step_time",
    "steps_table",
    "to_json",
]

_SUMMARY_WIDTH = 60
_CHANGES_WIDTH = 48


def to_json(data: Any) -> str:
    """Pretty, stable JSON (keys in the order the serialisers build them)."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def to_json_list(items: Iterable[Any]) -> Iterator[str]:
    """:func:`to_json` of a list, in pieces, one item at a time (a replay of a million
    steps is never held whole): the pieces joined are exactly ``to_json(list(items))``."""
    first = True
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        yield ("[\n  " if first else ",\n  ") + text
        first = False
    yield "[]" if first else "\n]"


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str], **kwargs: Any) -> str:
    if not rows:
        return "(none)"
    return str(tabulate(rows, headers=list(headers), disable_numparse=True, **kwargs))


def _sources(fact: Any) -> str:
    """``2 independent sources: Reuters, The Information`` and, when a blocking
    restriction adds others, ``(+ Bloomberg)``."""
    text = provenance(fact)
    extra = [p for p in dict.fromkeys(s.publisher for s in fact.sources) if p not in fact.origins]
    relayed = {s.publisher for s in fact.sources if s.via is not None}
    extra = [p for p in extra if p not in relayed]
    return f"{text} (+ {', '.join(extra)})" if extra else text


def _claimed(text: str, fact: object, claims: Mapping[str, str] | None) -> str:
    note = claims_note(fact, claims)
    return f"{text} — {note}" if note else text


# --- state --------------------------------------------------------------------------


def _cell(fact: Any, column: Column, claims: Mapping[str, str] | None) -> str:
    """One table cell, formatted by the value's type."""
    if column.attribute == "sources":
        return _sources(fact)
    value = getattr(fact, column.attribute)
    if isinstance(value, datetime):
        precision = getattr(fact, f"{column.attribute}_precision", Precision.EXACT)
        text = iso(value)[:10] if column.date_only else when(value, precision)
    elif isinstance(value, enum.Enum):
        text = str(value.value)
    elif isinstance(value, tuple | list):
        text = ", ".join(map(str, value))
    else:
        text = "" if value is None else str(value)
    if column.with_claims and getattr(fact, "certain", True) is False:
        text = f"possibly {text}"  # only possibly so under the query's bounds
    return _claimed(text, fact, claims) if column.with_claims else text


def facts_table(
    fact_type: type, facts: Sequence[Any], claims: Mapping[str, str] | None = None
) -> str:
    """Facts of one class as a table of the columns the class declares (``columns``)."""
    columns: Sequence[Column] = fact_type.columns  # type: ignore[attr-defined]
    rows = [[_cell(fact, c, claims) for c in columns] for fact in facts]
    return _table(rows, [c.header for c in columns], maxcolwidths=[c.width for c in columns])


def stances_table(stances: Sequence[Stance], claims: Mapping[str, str] | None = None) -> str:
    """Actor, topic, position (with disputes and confirmations), conditions, since,
    evidence, sources (independent origins)."""
    return facts_table(Stance, stances, claims)


def intents_table(intents: Sequence[OrderIntent], claims: Mapping[str, str] | None = None) -> str:
    """Buyer, supplier, product, status, quantity, conditions, concerns, blocked_by, ..."""
    return facts_table(OrderIntent, intents, claims)


def restrictions_table(
    restrictions: Sequence[Restriction], claims: Mapping[str, str] | None = None
) -> str:
    """Bans and restrictions in force, with their sources and who disputes them."""
    return facts_table(Restriction, restrictions, claims)


# --- changes and steps ------------------------------------------------------------------


def _change_lines(changes: Iterable[Change], amendments: Amendments | None = None) -> str:
    return "\n".join(change_text(c, amendments=amendments) for c in visible(changes))


def changes_table(
    changes: Sequence[Change],
    claims: Mapping[str, str] | None = None,
    amendments: Amendments | None = None,
) -> str:
    """One row per changed fact: which, before, after (with who disputes or confirms it,
    and the correction or retraction it comes of)."""
    rows = [
        [
            change_label(c),
            fact_label(c.before, claims),
            change_text(c, claims, amendments).rsplit(" -> ", 1)[1],
        ]
        for c in changes
    ]
    return _table(rows, ["fact", "before", "after"], maxcolwidths=[50, 40, 40])


def step_time(step: ReplayStep, order: str) -> Any:
    """The time a step is ordered by: occurred, reported or recorded."""
    if order == "reported":
        return step.record.reported_at
    if order == "recorded":
        return step.record.recorded_at
    return step.event.occurred_at


STEPS_PER_TABLE = 1000
"""Steps a replay's table shows at most: a longer replay prints one table per this many
steps, one after another (each as wide as its own rows need), so that its memory stays
bounded."""


def steps_tables(
    steps: Iterable[ReplayStep],
    order: str,
    type_name: Callable[[ev.Event], str],
    amendments: dict[str, tuple[str, str]] | None = None,
) -> Iterator[str]:
    """:func:`steps_table` of at most :data:`STEPS_PER_TABLE` steps at a time."""
    page: list[ReplayStep] = []
    shown = False
    for step in steps:
        page.append(step)
        if len(page) == STEPS_PER_TABLE:
            yield steps_table(page, order, type_name, amendments)
            page, shown = [], True
    if page or not shown:
        yield steps_table(page, order, type_name, amendments)


def steps_table(
    steps: Iterable[ReplayStep],
    order: str,
    type_name: Callable[[ev.Event], str],
    amendments: dict[str, tuple[str, str]] | None = None,
) -> str:
    """A readable timeline: time, type, actors, summary, facts changed (before -> after)."""
    rows = []
    for step in steps:
        event = step.event
        time = event_when(event) if order == "occurred" else when(step_time(step, order))
        actors = ", ".join(actor_ids(event))
        rows.append(
            [
                time,
                event.id,
                type_name(event),
                actors,
                event.summary,
                _change_lines(step.changes, step_amendments(event, amendments)),
            ]
        )
    return _table(
        rows,
        [order, "id", "type", "actors", "summary", "changes"],
        maxcolwidths=[None, None, None, 20, _SUMMARY_WIDTH, _CHANGES_WIDTH],
    )


def step_dict(
    step: ReplayStep,
    order: str,
    codec: Codec,
    amendments: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A replay step as plain data: index, time, the event as folded, its changes."""
    record = step.record
    return {
        "index": step.index,
        "time": iso(step_time(step, order)),
        # the event as folded (a correction's replacement) under the stored envelope
        "event": record_dict(attrs.evolve(record, event=step.event), codec),
        "changes": [
            change_dict(c, codec, step_amendments(step.event, amendments))
            for c in visible(step.changes)
        ],
    }


# --- search and listings ---------------------------------------------------------------


def hits_table(hits: Sequence[SearchHit], type_name: Callable[[ev.Event], str]) -> str:
    """Search results: id, occurred, type, story, status (retracted or corrected by what),
    snippet."""
    rows = [
        [
            h.record.id,
            event_when(h.record.event),
            type_name(h.record.event),
            h.record.story,
            "" if h.amended_by is None else f"{h.status} by {h.amended_by}",
            h.snippet,
        ]
        for h in hits
    ]
    return _table(
        rows,
        ["id", "occurred", "type", "story", "status", "snippet"],
        maxcolwidths=[None] * 5 + [70],
    )


def actors_table(actors: Sequence[Actor]) -> str:
    """Id, name, kind, aliases."""
    rows = [[a.id, a.name, a.kind, ", ".join(a.aliases)] for a in actors]
    return _table(rows, ["id", "name", "kind", "aliases"], maxcolwidths=[None, 30, 30, 40])

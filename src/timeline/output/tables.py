"""Tables and JSON for the command line. No I/O here: functions return text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from tabulate import tabulate

from timeline import events as ev
from timeline.codec import Codec
from timeline.output.labels import (
    actor_ids,
    change_dict,
    change_label,
    change_text,
    claims_note,
    fact_label,
    iso,
    provenance,
    record_dict,
    visible,
    when,
)
from timeline.projections.base import Change
from timeline.projections.orders import OrderIntent, Restriction
from timeline.projections.stance import Stance
from timeline.replay import ReplayStep
from timeline.store.recorded import Actor, SearchHit

__all__ = [
    "actors_table",
    "changes_table",
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


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str], **kwargs: Any) -> str:
    if not rows:
        return "(none)"
    return str(tabulate(rows, headers=list(headers), disable_numparse=True, **kwargs))


def _sources(fact: Stance | OrderIntent | Restriction) -> str:
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


def stances_table(stances: Sequence[Stance], claims: Mapping[str, str] | None = None) -> str:
    """Actor, topic, position (with disputes and confirmations), conditions, since,
    evidence, sources (independent origins)."""
    rows = [
        [
            s.actor,
            s.topic,
            _claimed(s.position.value, s, claims),
            ", ".join(s.conditions),
            when(s.since, s.since_precision),
            ", ".join(s.evidence),
            _sources(s),
        ]
        for s in stances
    ]
    headers = ["actor", "topic", "position", "conditions", "since", "evidence", "sources"]
    return _table(rows, headers, maxcolwidths=[None, None, 30, 20, None, 30, 30])


def intents_table(intents: Sequence[OrderIntent], claims: Mapping[str, str] | None = None) -> str:
    """Buyer, supplier, product, status, quantity, conditions, concerns, blocked_by, ..."""
    rows = [
        [
            i.buyer,
            i.supplier,
            i.product,
            _claimed(i.status.value, i, claims),
            i.quantity or "",
            ", ".join(i.conditions),
            ", ".join(i.concerns),
            ", ".join(i.blocked_by),
            when(i.since, i.since_precision),
            ", ".join(i.evidence),
            _sources(i),
        ]
        for i in intents
    ]
    headers = ["buyer", "supplier", "product", "status", "quantity", "conditions", "concerns"]
    headers += ["blocked_by", "since", "evidence", "sources"]
    return _table(rows, headers, maxcolwidths=[None] * 3 + [30, None, 20, 20, 20, None, 24, 30])


def restrictions_table(
    restrictions: Sequence[Restriction], claims: Mapping[str, str] | None = None
) -> str:
    """Bans and restrictions in force, with their sources and who disputes them."""
    rows = [
        [
            r.id,
            r.authority,
            _claimed(r.measure.value, r, claims),
            r.product,
            ", ".join(r.applies_to),
            iso(r.since)[:10],
            _sources(r),
        ]
        for r in restrictions
    ]
    return _table(
        rows,
        ["id", "authority", "measure", "product", "applies_to", "since", "sources"],
        maxcolwidths=[None, None, 30, None, 40, None, 30],
    )


# --- changes and steps ------------------------------------------------------------------


def _change_lines(changes: Iterable[Change]) -> str:
    return "\n".join(change_text(c) for c in visible(changes))


def changes_table(changes: Sequence[Change], claims: Mapping[str, str] | None = None) -> str:
    """One row per changed fact: which, before, after (with who disputes or confirms it)."""
    rows = [
        [change_label(c), fact_label(c.before, claims), change_text(c, claims).rsplit(" -> ", 1)[1]]
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


def steps_table(
    steps: Iterable[ReplayStep], order: str, type_name: Callable[[ev.Event], str]
) -> str:
    """A readable timeline: time, type, actors, summary, facts changed (before -> after)."""
    rows = []
    for step in steps:
        event = step.event
        time = (
            when(event.occurred_at, event.precision)
            if order == "occurred"
            else when(step_time(step, order))
        )
        actors = ", ".join(actor_ids(event))
        rows.append(
            [time, event.id, type_name(event), actors, event.summary, _change_lines(step.changes)]
        )
    return _table(
        rows,
        [order, "id", "type", "actors", "summary", "changes"],
        maxcolwidths=[None, None, None, 20, _SUMMARY_WIDTH, _CHANGES_WIDTH],
    )


def step_dict(step: ReplayStep, order: str, codec: Codec) -> dict[str, Any]:
    """A replay step as plain data: index, time, the event as folded, its changes."""
    record = step.record
    return {
        "index": step.index,
        "time": iso(step_time(step, order)),
        # the event as folded (a correction's replacement) under the stored envelope
        "event": record_dict(attrs.evolve(record, event=step.event), codec),
        "changes": [change_dict(c, codec) for c in visible(step.changes)],
    }


# --- search and listings ---------------------------------------------------------------


def hits_table(hits: Sequence[SearchHit], type_name: Callable[[ev.Event], str]) -> str:
    """Search results: id, occurred, type, story, snippet."""
    rows = [
        [
            h.record.id,
            when(h.record.occurred_at, h.record.event.precision),
            type_name(h.record.event),
            h.record.story,
            h.snippet,
        ]
        for h in hits
    ]
    return _table(
        rows, ["id", "occurred", "type", "story", "snippet"], maxcolwidths=[None] * 4 + [70]
    )


def actors_table(actors: Sequence[Actor]) -> str:
    """Id, name, kind, aliases."""
    rows = [[a.id, a.name, a.kind, ", ".join(a.aliases)] for a in actors]
    return _table(rows, ["id", "name", "kind", "aliases"], maxcolwidths=[None, 30, 30, 40])

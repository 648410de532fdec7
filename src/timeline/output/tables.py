"""Tables and JSON for the command line. No I/O here: functions return text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tabulate import tabulate

from timeline import events as ev
from timeline.codec import Codec
from timeline.output.labels import (
    actor_ids,
    change_dict,
    change_label,
    change_text,
    fact_label,
    iso,
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


def _sources(sources: Iterable[ev.Source]) -> str:
    return "; ".join(dict.fromkeys(s.publisher for s in sources))


# --- state --------------------------------------------------------------------------


def stances_table(stances: Sequence[Stance]) -> str:
    """Actor, topic, position, since, evidence, sources."""
    rows = [
        [
            s.actor,
            s.topic,
            s.position.value,
            when(s.since, s.since_precision),
            ", ".join(s.evidence),
            _sources(s.sources),
        ]
        for s in stances
    ]
    headers = ["actor", "topic", "position", "since", "evidence", "sources"]
    return _table(rows, headers, maxcolwidths=[None, None, None, None, 30, 24])


def intents_table(intents: Sequence[OrderIntent]) -> str:
    """Buyer, supplier, product, status, quantity, conditions, concerns, blocked_by, ..."""
    rows = [
        [
            i.buyer,
            i.supplier,
            i.product,
            i.status.value,
            i.quantity or "",
            ", ".join(i.conditions),
            ", ".join(i.concerns),
            ", ".join(i.blocked_by),
            when(i.since, i.since_precision),
            ", ".join(i.evidence),
            _sources(i.sources),
        ]
        for i in intents
    ]
    headers = ["buyer", "supplier", "product", "status", "quantity", "conditions", "concerns"]
    headers += ["blocked_by", "since", "evidence", "sources"]
    return _table(rows, headers, maxcolwidths=[None] * 5 + [20, 20, 20, None, 24, 20])


def restrictions_table(restrictions: Sequence[Restriction]) -> str:
    """Bans and restrictions in force."""
    rows = [
        [r.id, r.authority, r.measure.value, r.product, ", ".join(r.applies_to), iso(r.since)[:10]]
        for r in restrictions
    ]
    return _table(
        rows,
        ["id", "authority", "measure", "product", "applies_to", "since"],
        maxcolwidths=[None, None, None, None, 40, None],
    )


# --- changes and steps ------------------------------------------------------------------


def _change_lines(changes: Iterable[Change]) -> str:
    return "\n".join(change_text(c) for c in visible(changes))


def changes_table(changes: Sequence[Change]) -> str:
    """One row per changed fact: which, before, after."""
    rows = [
        [change_label(c), fact_label(c.before), change_text(c).rsplit(" -> ", 1)[1]]
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
        rows.append([time, type_name(event), actors, event.summary, _change_lines(step.changes)])
    return _table(
        rows,
        [order, "type", "actors", "summary", "changes"],
        maxcolwidths=[None, None, 20, _SUMMARY_WIDTH, _CHANGES_WIDTH],
    )


def step_dict(step: ReplayStep, order: str, codec: Codec) -> dict[str, Any]:
    """A replay step as plain data: index, time, the event as folded, its changes."""
    record = step.record
    return {
        "index": step.index,
        "time": iso(step_time(step, order)),
        "event": {
            "position": record.position,
            "version": record.version,
            "recorded_at": iso(record.recorded_at),
            **codec.to_dict(step.event),
        },
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

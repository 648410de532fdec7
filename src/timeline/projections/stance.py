"""Each actor's stance on each topic.

Rules (DESIGN "Projections"):

- ``Announcement`` / ``Statement``: the actor's stance becomes the event's ``position``.
- ``PolicyChange``: ``permit`` / ``lift`` -> the authority ``supports`` the topic;
  ``restrict`` / ``ban`` -> ``opposes``.
- ``RegulatorMeeting``: the regulator's stance becomes the event's ``position``.
- ``Inquiry``: each inquirer ``supports`` the topic, only if the event names one.

A restated position keeps ``since`` and adds evidence; a new position starts
over with this event as its only evidence.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from timeline import events as ev
from timeline.projections.base import (
    Column,
    Context,
    FoldProjection,
    Updates,
    origins,
    prepend_all,
    prepend_new,
)
from timeline.times import Precision

__all__ = ["Stance", "StanceProjection"]


@attrs.frozen(kw_only=True)
class Stance:
    """An actor's position on a topic, since when, and on what evidence.

    Attributes:
        evidence: ids of the events supporting this position, newest first.
        sources: their sources, newest first, without repeats.
        origins: the distinct origin publishers of those sources (``via`` followed).
        conditions: conditions the actor attached (``Announcement``/``Statement``).
        disputed_by / confirmed_by: ids of denials / confirmations of its evidence.
    """

    actor: str
    topic: str
    position: ev.Position
    since: datetime
    since_precision: Precision = Precision.EXACT
    evidence: tuple[str, ...] = ()
    sources: tuple[ev.Source, ...] = ()
    conditions: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    disputed_by: tuple[str, ...] = ()
    confirmed_by: tuple[str, ...] = ()
    certain: bool = True
    """Whether an event of its evidence certainly happened by the query's ``at`` and was
    certainly public by its ``known_at`` (otherwise this value is only *possible*)."""

    columns: ClassVar[tuple[Column, ...]] = (
        Column("actor", "actor"),
        Column("topic", "topic"),
        Column("position", "position", 30, with_claims=True),
        Column("conditions", "conditions", 20),
        Column("since", "since"),
        Column("evidence", "evidence", 30),
        Column("sources", "sources", 30),
    )

    @property
    def label(self) -> str:
        """The stance in a word: ``supports``."""
        return self.position.value

    @property
    def subject(self) -> str:
        """Which fact this is: ``stance beijing / h200-imports``."""
        return f"stance {self.actor} / {self.topic}"

    @property
    def independent_sources(self) -> int:
        """How many distinct origin publishers report the events behind this stance."""
        return len(self.origins)

    @property
    def participants(self) -> frozenset[str]:
        """The actors taking part in this fact (for the scope of denials)."""
        return frozenset((self.actor,))


_MEASURE_POSITION = {
    ev.Measure.PERMIT: ev.Position.SUPPORTS,
    ev.Measure.LIFT: ev.Position.SUPPORTS,
    ev.Measure.RESTRICT: ev.Position.OPPOSES,
    ev.Measure.BAN: ev.Position.OPPOSES,
}


def _set(
    facts: Mapping[Hashable, Any],
    actor: str,
    topic: str,
    position: ev.Position,
    event: ev.Event,
    conditions: tuple[str, ...] = (),
) -> tuple[tuple[str, str], Stance]:
    key = (actor, topic)
    current: Stance | None = facts.get(key)
    sources = event.sources
    if current is not None and current.position == position:
        # every field spelled out: attrs.evolve costs several times as much per event
        return key, Stance(
            actor=current.actor,
            topic=current.topic,
            position=current.position,
            since=current.since,
            since_precision=current.since_precision,
            evidence=prepend_new(event.id, current.evidence),  # as before the event
            sources=prepend_all(sources, current.sources) if sources else current.sources,
            conditions=conditions or current.conditions,
            origins=origins(sources, current.origins) if sources else current.origins,
            disputed_by=current.disputed_by,
            confirmed_by=current.confirmed_by,
            certain=current.certain,
        )
    return key, Stance(
        actor=actor,
        topic=topic,
        position=position,
        since=event.occurred_at,
        since_precision=event.precision,
        evidence=(event.id,),
        sources=sources,
        origins=origins(sources),
        conditions=conditions,
    )


class StanceProjection(FoldProjection):
    """Folds events into ``(actor, topic) -> Stance``."""

    name = "stance"
    fact_types = (Stance,)
    reads = frozenset(
        [
            "id",
            "occurred_at",
            "precision",
            "sources",
            "actor",
            "topic",
            "position",
            "conditions",
            "authority",
            "measure",
            "regulator",
            "inquirers",
        ]
    )
    handlers = {  # noqa: RUF012 - read-only dispatch table
        ev.Announcement: "_stated",
        ev.Statement: "_stated",
        ev.PolicyChange: "_policy",
        ev.RegulatorMeeting: "_meeting",
        ev.Inquiry: "_inquiry",
    }

    def _stated(
        self, facts: Mapping[Hashable, Any], event: ev.Announcement | ev.Statement, _ctx: Context
    ) -> Updates:
        key, stance = _set(facts, event.actor, event.topic, event.position, event, event.conditions)
        return {key: stance}

    def _policy(
        self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, _ctx: Context
    ) -> Updates:
        key, stance = _set(
            facts, event.authority, event.topic, _MEASURE_POSITION[event.measure], event
        )
        return {key: stance}

    def _meeting(
        self, facts: Mapping[Hashable, Any], event: ev.RegulatorMeeting, _ctx: Context
    ) -> Updates:
        key, stance = _set(facts, event.regulator, event.topic, event.position, event)
        return {key: stance}

    def _inquiry(self, facts: Mapping[Hashable, Any], event: ev.Inquiry, _ctx: Context) -> Updates:
        if event.topic is None:
            return {}
        topic = event.topic
        return dict(
            _set(facts, actor, topic, ev.Position.SUPPORTS, event) for actor in event.inquirers
        )

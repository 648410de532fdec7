"""Each buyer's order intent per ``(buyer, supplier, product)``, and the bans that block it.

Rules (DESIGN "Projections"):

- ``Inquiry`` -> ``exploring`` for each inquirer, never moving an intent back
  from ``ordered`` / ``delivered``; its quantity, conditions and concerns are kept.
- ``OrderPlaced`` -> ``ordered``; ``OrderDelivered`` -> ``delivered``;
  ``OrderCancelled`` -> ``cancelled``.
- ``PolicyChange`` ``ban`` / ``restrict`` that names the product (or its
  supplier) and applies to the buyer adds its id to ``blocked_by``, also for
  intents that first appear while it is in force; a later ``permit`` / ``lift``
  by the same authority on the same product clears it. ``applies_to`` entries
  that are not known actors are descriptions and block no one.

Products and suppliers are matched case-insensitively. Restrictions in force
are facts of this projection too (``Restriction``), so a state can say what
blocks whom.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any

import attrs

from timeline import events as ev
from timeline.projections.base import Context, FoldProjection, Updates, merge_unique
from timeline.times import Precision

__all__ = ["IntentStatus", "OrderIntent", "OrderIntentProjection", "Restriction"]


class IntentStatus(enum.StrEnum):
    """Where a buyer stands with a supplier's product."""

    EXPLORING = "exploring"
    ORDERED = "ordered"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class OrderIntent:
    """What a buyer intends to buy from a supplier, and what blocks it.

    Attributes:
        blocked_by: ids of bans/restrictions in force that apply to this buyer and product.
        evidence: ids of the events that shaped this intent, newest first.
    """

    buyer: str
    supplier: str
    product: str
    status: IntentStatus
    since: datetime
    since_precision: Precision = Precision.EXACT
    quantity: str | None = None
    conditions: tuple[str, ...] = ()
    concerns: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    sources: tuple[ev.Source, ...] = ()

    @property
    def is_blocked(self) -> bool:
        """Whether a ban or restriction in force applies."""
        return bool(self.blocked_by)


@attrs.frozen(kw_only=True)
class Restriction:
    """A ban or restriction in force: who imposed it, on what, for whom."""

    id: str
    authority: str
    measure: ev.Measure
    product: str
    applies_to: tuple[str, ...]
    since: datetime
    sources: tuple[ev.Source, ...] = ()

    def blocks(self, intent: OrderIntent, known_actors: frozenset[str]) -> bool:
        """Whether this restriction applies to ``intent``'s buyer and product."""
        target = self.product.casefold()
        names_it = target in (intent.product.casefold(), intent.supplier.casefold())
        return names_it and intent.buyer in self.applies_to and intent.buyer in known_actors


_STATUS = {
    ev.OrderPlaced: IntentStatus.ORDERED,
    ev.OrderDelivered: IntentStatus.DELIVERED,
    ev.OrderCancelled: IntentStatus.CANCELLED,
}
_FORWARD_ONLY = (IntentStatus.ORDERED, IntentStatus.DELIVERED)


def intent_key(buyer: str, supplier: str, product: str) -> tuple[str, str, str, str]:
    """The fact key of an order intent."""
    return ("intent", buyer, supplier, product.casefold())


def _restrictions(facts: Mapping[Hashable, Any]) -> list[Restriction]:
    return [f for f in facts.values() if isinstance(f, Restriction)]


class OrderIntentProjection(FoldProjection):
    """Folds events into order intents and the restrictions in force."""

    name = "orders"
    handlers = {  # noqa: RUF012 - read-only dispatch table
        ev.Inquiry: "_inquiry",
        ev.OrderPlaced: "_order",
        ev.OrderDelivered: "_order",
        ev.OrderCancelled: "_order",
        ev.PolicyChange: "_policy",
    }

    def _touch(
        self,
        facts: Mapping[Hashable, Any],
        buyer: str,
        supplier: str,
        product: str,
        status: IntentStatus | None,
        event: ev.Event,
        ctx: Context,
        **fields: Any,
    ) -> tuple[Hashable, OrderIntent]:
        """Create or update one intent; ``status=None`` keeps the current status."""
        key = intent_key(buyer, supplier, product)
        current: OrderIntent | None = facts.get(key)
        sources = (event.source,) if event.source is not None else ()
        if current is None:
            intent = OrderIntent(
                buyer=buyer,
                supplier=supplier,
                product=product,
                status=status or IntentStatus.EXPLORING,
                since=event.occurred_at,
                since_precision=event.precision,
                evidence=(event.id,),
                sources=sources,
                **fields,
            )
            blocked = [r.id for r in _restrictions(facts) if r.blocks(intent, ctx.known_actors)]
            return key, attrs.evolve(intent, blocked_by=tuple(blocked))
        changes: dict[str, Any] = dict(fields)
        if status is not None and status != current.status:
            changes.update(status=status, since=event.occurred_at, since_precision=event.precision)
        return key, attrs.evolve(
            current,
            evidence=merge_unique([event.id], current.evidence),
            sources=merge_unique(sources, current.sources),
            **changes,
        )

    def _inquiry(self, facts: Mapping[Hashable, Any], event: ev.Inquiry, ctx: Context) -> Updates:
        updates: dict[Hashable, Any] = {}
        for buyer in event.inquirers:
            current: OrderIntent | None = facts.get(
                intent_key(buyer, event.supplier, event.product)
            )
            keep = current is not None and current.status in _FORWARD_ONLY
            fields: dict[str, Any] = {
                "conditions": merge_unique(current.conditions if current else (), event.conditions),
                "concerns": merge_unique(current.concerns if current else (), event.concerns),
            }
            if event.quantity is not None:
                fields["quantity"] = event.quantity
            key, intent = self._touch(
                facts,
                buyer,
                event.supplier,
                event.product,
                None if keep else IntentStatus.EXPLORING,
                event,
                ctx,
                **fields,
            )
            updates[key] = intent
        return updates

    def _order(
        self,
        facts: Mapping[Hashable, Any],
        event: ev.OrderPlaced | ev.OrderDelivered | ev.OrderCancelled,
        ctx: Context,
    ) -> Updates:
        fields: dict[str, Any] = {}
        if event.quantity is not None:
            fields["quantity"] = event.quantity
        status = next(s for cls, s in _STATUS.items() if isinstance(event, cls))
        key, intent = self._touch(
            facts, event.buyer, event.supplier, event.product, status, event, ctx, **fields
        )
        return {key: intent}

    def _policy(
        self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, ctx: Context
    ) -> Updates:
        if event.product is None:
            return {}
        updates: dict[Hashable, Any] = {}
        product = event.product.casefold()
        if event.measure in (ev.Measure.BAN, ev.Measure.RESTRICT):
            restriction = Restriction(
                id=event.id,
                authority=event.authority,
                measure=event.measure,
                product=event.product,
                applies_to=event.applies_to,
                since=event.occurred_at,
                sources=(event.source,) if event.source is not None else (),
            )
            updates[("restriction", event.id)] = restriction
            for key, fact in facts.items():
                if isinstance(fact, OrderIntent) and restriction.blocks(fact, ctx.known_actors):
                    updates[key] = attrs.evolve(
                        fact,
                        blocked_by=merge_unique([event.id], fact.blocked_by),
                        evidence=merge_unique([event.id], fact.evidence),
                    )
            return updates
        lifted = {
            r.id
            for r in _restrictions(facts)
            if r.authority == event.authority and r.product.casefold() == product
        }
        if not lifted:
            return {}
        for rid in lifted:
            updates[("restriction", rid)] = None
        for key, fact in facts.items():
            if isinstance(fact, OrderIntent) and lifted.intersection(fact.blocked_by):
                updates[key] = attrs.evolve(
                    fact,
                    blocked_by=tuple(b for b in fact.blocked_by if b not in lifted),
                    evidence=merge_unique([event.id], fact.evidence),
                )
        return updates

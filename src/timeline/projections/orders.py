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
from timeline.projections.base import Context, FoldProjection, Updates, merge_unique, prepend
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

    def blocks(self, intent: OrderIntent) -> bool:
        """Whether this restriction applies to ``intent``'s buyer and product.

        ``applies_to`` holds actor ids (the store resolves aliases when it
        records the event) and free descriptions. A buyer is always a known
        actor, so only an entry naming the buyer's id blocks it; descriptions
        such as "government-funded data centres" block no one.
        """
        target = self.product.casefold()
        names_it = target in (intent.product.casefold(), intent.supplier.casefold())
        return names_it and intent.buyer in self.applies_to


_STATUS = {
    ev.OrderPlaced: IntentStatus.ORDERED,
    ev.OrderDelivered: IntentStatus.DELIVERED,
    ev.OrderCancelled: IntentStatus.CANCELLED,
}
_FORWARD_ONLY = (IntentStatus.ORDERED, IntentStatus.DELIVERED)


def intent_key(buyer: str, supplier: str, product: str) -> tuple[str, str, str, str]:
    """The fact key of an order intent."""
    return ("intent", buyer, supplier, product.casefold())


# Internal index facts (keys starting with "_"), so that no event has to scan
# every fact: intents per buyer, restrictions per product-or-supplier named,
# restrictions per (authority, product).


def _by_buyer(buyer: str) -> tuple[str, str]:
    return ("_intents_of", buyer)


def _by_target(target: str, buyer: str) -> tuple[str, str, str]:
    return ("_restrictions_on", target.casefold(), buyer)


def _by_authority(authority: str, product: str) -> tuple[str, str, str]:
    return ("_restrictions_by", authority, product.casefold())


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
        updates: dict[Hashable, Any],
        buyer: str,
        supplier: str,
        product: str,
        status: IntentStatus | None,
        event: ev.Event,
        ctx: Context,
        quantity: str | None = None,
        conditions: tuple[str, ...] = (),
        concerns: tuple[str, ...] = (),
    ) -> None:
        """Create or update one intent; ``status=None`` keeps the current status."""
        key = intent_key(buyer, supplier, product)
        current: OrderIntent | None = updates.get(key) or facts.get(key)
        source = event.source
        if current is None:
            intent = OrderIntent(
                buyer=buyer,
                supplier=supplier,
                product=product,
                status=status or IntentStatus.EXPLORING,
                since=event.occurred_at,
                since_precision=event.precision,
                quantity=quantity,
                conditions=conditions,
                concerns=concerns,
                evidence=(event.id,),
                sources=() if source is None else (source,),
            )
            blocked = []
            for target in {product.casefold(), supplier.casefold()}:
                for rid in facts.get(_by_target(target, buyer), ()):
                    restriction: Restriction = facts[("restriction", rid)]
                    if restriction.blocks(intent):
                        blocked.append(rid)
            if blocked:
                intent = attrs.evolve(intent, blocked_by=tuple(sorted(blocked)))
            index = _by_buyer(buyer)
            updates[index] = (*(updates.get(index) or facts.get(index, ())), key)
            updates[key] = intent
            return
        moved = status is not None and status != current.status
        updates[key] = OrderIntent(
            buyer=current.buyer,
            supplier=current.supplier,
            product=current.product,
            status=status if moved and status is not None else current.status,
            since=event.occurred_at if moved else current.since,
            since_precision=event.precision if moved else current.since_precision,
            quantity=quantity if quantity is not None else current.quantity,
            conditions=merge_unique(current.conditions, conditions),
            concerns=merge_unique(current.concerns, concerns),
            blocked_by=current.blocked_by,
            evidence=prepend(event.id, current.evidence),
            sources=current.sources if source is None else prepend(source, current.sources),
        )

    def _inquiry(self, facts: Mapping[Hashable, Any], event: ev.Inquiry, ctx: Context) -> Updates:
        updates: dict[Hashable, Any] = {}
        for buyer in event.inquirers:
            current: OrderIntent | None = facts.get(
                intent_key(buyer, event.supplier, event.product)
            )
            keep = current is not None and current.status in _FORWARD_ONLY
            self._touch(
                facts,
                updates,
                buyer,
                event.supplier,
                event.product,
                None if keep else IntentStatus.EXPLORING,
                event,
                ctx,
                quantity=event.quantity,
                conditions=event.conditions,
                concerns=event.concerns,
            )
        return updates

    def _order(
        self,
        facts: Mapping[Hashable, Any],
        event: ev.OrderPlaced | ev.OrderDelivered | ev.OrderCancelled,
        ctx: Context,
    ) -> Updates:
        updates: dict[Hashable, Any] = {}
        status = _STATUS[type(event)] if type(event) in _STATUS else _status_of(event)
        self._touch(
            facts,
            updates,
            event.buyer,
            event.supplier,
            event.product,
            status,
            event,
            ctx,
            quantity=event.quantity,
        )
        return updates

    def _policy(
        self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, ctx: Context
    ) -> Updates:
        if event.product is None:
            return {}
        if event.measure in (ev.Measure.BAN, ev.Measure.RESTRICT):
            return self._restrict(facts, event, event.product, ctx)
        return self._lift(facts, event, event.product)

    def _restrict(
        self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, product: str, ctx: Context
    ) -> Updates:
        restriction = Restriction(
            id=event.id,
            authority=event.authority,
            measure=event.measure,
            product=product,
            applies_to=event.applies_to,
            since=event.occurred_at,
            sources=(event.source,) if event.source is not None else (),
        )
        updates: dict[Hashable, Any] = {("restriction", event.id): restriction}
        indexes = [_by_authority(event.authority, product)]
        indexes += [_by_target(product, buyer) for buyer in set(event.applies_to)]
        for index in indexes:
            updates[index] = (*facts.get(index, ()), event.id)
        for buyer in set(event.applies_to):
            for key in facts.get(_by_buyer(buyer), ()):
                intent: OrderIntent = facts[key]
                if restriction.blocks(intent):
                    updates[key] = attrs.evolve(
                        intent,
                        blocked_by=tuple(sorted({*intent.blocked_by, event.id})),
                        evidence=prepend(event.id, intent.evidence),
                    )
        return updates

    def _lift(self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, product: str) -> Updates:
        by_authority = _by_authority(event.authority, product)
        lifted: tuple[str, ...] = facts.get(by_authority, ())
        if not lifted:
            return {}
        updates: dict[Hashable, Any] = {by_authority: None}
        buyers: set[str] = set()
        for rid in lifted:
            updates[("restriction", rid)] = None
            buyers.update(facts[("restriction", rid)].applies_to)
        for buyer in buyers:
            by_target = _by_target(product, buyer)
            remaining = tuple(r for r in facts.get(by_target, ()) if r not in lifted)
            updates[by_target] = remaining or None
        for buyer in buyers:
            for key in facts.get(_by_buyer(buyer), ()):
                intent: OrderIntent = facts[key]
                if set(lifted).intersection(intent.blocked_by):
                    updates[key] = attrs.evolve(
                        intent,
                        blocked_by=tuple(b for b in intent.blocked_by if b not in lifted),
                        evidence=prepend(event.id, intent.evidence),
                    )
        return updates


def _status_of(event: ev.Event) -> IntentStatus:
    return next(s for cls, s in _STATUS.items() if isinstance(event, cls))

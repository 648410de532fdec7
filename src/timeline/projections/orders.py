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
from bisect import bisect_left
from collections.abc import Hashable, Mapping
from datetime import datetime
from itertools import filterfalse
from operator import lt
from typing import Any, ClassVar

import attrs

from timeline import events as ev
from timeline.projections.base import (
    Column,
    Context,
    FoldProjection,
    Updates,
    merge_unique,
    origins,
    prepend,
    prepend_all,
    prepend_new,
)
from timeline.times import Precision

__all__ = [
    "IntentStatus",
    "OrderIntent",
    "OrderIntentProjection",
    "Restriction",
    "is_kind_target",
    "kind_target",
]


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
    origins: tuple[str, ...] = ()
    disputed_by: tuple[str, ...] = ()
    confirmed_by: tuple[str, ...] = ()
    certain: bool = True
    """Whether an event of its own evidence (not the restrictions blocking it) certainly
    happened by the query's ``at`` and was certainly public by its ``known_at``."""

    columns: ClassVar[tuple[Column, ...]] = (
        Column("buyer", "buyer"),
        Column("supplier", "supplier"),
        Column("product", "product"),
        Column("status", "status", 30, with_claims=True),
        Column("quantity", "quantity"),
        Column("conditions", "conditions", 20),
        Column("concerns", "concerns", 20),
        Column("blocked_by", "blocked_by", 20),
        Column("since", "since"),
        Column("evidence", "evidence", 24),
        Column("sources", "sources", 30),
    )

    @property
    def label(self) -> str:
        """The intent in a few words: ``exploring (blocked by ban-1)``."""
        status = self.status.value
        return f"{status} (blocked by {', '.join(self.blocked_by)})" if self.blocked_by else status

    @property
    def subject(self) -> str:
        """Which fact this is: ``intent bytedance / nvidia / H200``."""
        return f"intent {self.buyer} / {self.supplier} / {self.product}"

    @property
    def is_blocked(self) -> bool:
        """Whether a ban or restriction in force applies."""
        return bool(self.blocked_by)

    @property
    def independent_sources(self) -> int:
        """Distinct origin publishers of its own evidence (blocking restrictions not counted)."""
        return len(self.origins)

    @property
    def participants(self) -> frozenset[str]:
        """The actors taking part in this fact (for the scope of denials)."""
        return frozenset((self.buyer, self.supplier))


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
    evidence: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    since_precision: Precision = Precision.EXACT
    """How precisely ``since`` is known (the imposing event's ``precision``): a ban
    of "Sep 2025" is shown as that, not as a false midnight."""
    disputed_by: tuple[str, ...] = ()
    confirmed_by: tuple[str, ...] = ()
    certain: bool = True
    """Whether it certainly was in force by the query's ``at``, as certainly public by
    its ``known_at``."""

    columns: ClassVar[tuple[Column, ...]] = (
        Column("id", "id"),
        Column("authority", "authority"),
        Column("measure", "measure", 30, with_claims=True),
        Column("product", "product"),
        Column("applies_to", "applies_to", 40),
        Column("since", "since"),
        Column("sources", "sources", 30),
    )

    def __attrs_post_init__(self) -> None:
        if not self.evidence:
            object.__setattr__(self, "evidence", (self.id,))  # a restriction rests on itself

    @property
    def label(self) -> str:
        """The restriction in a few words: ``ban H200 for bytedance, alibaba``."""
        return f"{self.measure.value} {self.product} for {', '.join(self.applies_to)}"

    @property
    def subject(self) -> str:
        """Which fact this is: ``restriction cac-guidance``."""
        return f"restriction {self.id}"

    @property
    def independent_sources(self) -> int:
        """Distinct origin publishers reporting this restriction."""
        return len(self.origins)

    @property
    def participants(self) -> frozenset[str]:
        """The actors taking part in this fact (for the scope of denials)."""
        return frozenset((self.authority,))

    def blocks(self, intent: OrderIntent, ctx: Context | None = None) -> bool:
        """Whether this restriction applies to ``intent``'s buyer and product.

        ``applies_to`` holds actor ids (the store resolves aliases when it
        records the event), ``kind:<kind>`` entries (every actor declared with
        that kind, case-insensitive) and free descriptions. A buyer is always a
        known actor, so only an entry naming the buyer's id or kind blocks it;
        descriptions such as "government-funded data centres" block no one.
        """
        target = self.product.casefold()
        names_it = target in (intent.product.casefold(), intent.supplier.casefold())
        if not names_it:
            return False
        if intent.buyer in self.applies_to:
            return True
        kind = ctx.kind_of(intent.buyer) if ctx is not None else None
        return kind is not None and kind_target(kind) in self.kind_targets

    @property
    def kind_targets(self) -> frozenset[str]:
        """The ``kind:<kind>`` entries of ``applies_to``, casefolded."""
        return frozenset(kind_target(a[5:]) for a in self.applies_to if is_kind_target(a))


def is_kind_target(entry: str) -> bool:
    """Whether an ``applies_to`` entry names a kind of actor (``kind:telecom``)."""
    return entry[:5].casefold() == "kind:" and bool(entry[5:].strip())


def kind_target(kind: str) -> str:
    """The canonical ``kind:<kind>`` spelling (casefolded)."""
    return "kind:" + kind.strip().casefold()


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
    fact_types = (OrderIntent, Restriction)
    reads = frozenset(
        [
            "id",
            "occurred_at",
            "precision",
            "sources",
            "inquirers",
            "buyer",
            "supplier",
            "product",
            "quantity",
            "conditions",
            "concerns",
            "authority",
            "measure",
            "applies_to",
        ]
    )
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
        key: tuple[str, str, str, str] | None = None,
    ) -> None:
        """Create or update one intent; ``status=None`` keeps the current status.
        ``key``: the intent's key, if the caller has it already."""
        if key is None:
            key = intent_key(buyer, supplier, product)
        current: OrderIntent | None = updates.get(key)
        # as the fold had it before this event: the event's id is not in its evidence yet
        fresh = current is None
        if fresh:
            current = facts.get(key)
        sources = event.sources
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
                sources=sources,
                origins=origins(sources),
            )
            blocked: list[Restriction] = []
            kind = ctx.kind_of(buyer)
            holders = [buyer] if kind is None else [buyer, kind_target(kind)]
            for target in {product.casefold(), supplier.casefold()}:
                for holder in holders:
                    for rid in facts.get(_by_target(target, holder), ()):
                        restriction: Restriction = facts[("restriction", rid)]
                        if restriction.blocks(intent, ctx) and restriction not in blocked:
                            blocked.append(restriction)
            if blocked:
                blocked.sort(key=lambda r: r.id)
                # the restrictions are part of the intent's evidence, their sources of its sources
                intent = attrs.evolve(
                    intent,
                    blocked_by=tuple(r.id for r in blocked),
                    evidence=prepend_all(tuple(r.id for r in blocked), intent.evidence),
                    sources=prepend_all(
                        tuple(s for r in blocked for s in r.sources), intent.sources
                    ),
                )
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
            evidence=(
                prepend_new(event.id, current.evidence)
                if fresh
                else prepend(event.id, current.evidence)  # named twice by one event
            ),
            sources=prepend_all(sources, current.sources) if sources else current.sources,
            origins=origins(sources, current.origins) if sources else current.origins,
            disputed_by=current.disputed_by,
            confirmed_by=current.confirmed_by,
        )

    def _inquiry(
        self,
        facts: Mapping[Hashable, Any],
        event: ev.Inquiry,
        ctx: Context,
        inquirers: tuple[str, ...] | None = None,
    ) -> Updates:
        """``inquirers``: only these of the event's inquirers (a refold of one buyer's
        intents), as given; ``None``: all of them."""
        updates: dict[Hashable, Any] = {}
        for buyer in event.inquirers if inquirers is None else inquirers:
            key = intent_key(buyer, event.supplier, event.product)
            current: OrderIntent | None = facts.get(key)
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
                key=key,
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
        return self._lift(facts, event, event.product, ctx)

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
            since_precision=event.precision,
            sources=event.sources,
            evidence=(event.id,),
            origins=origins(event.sources),
        )
        updates: dict[Hashable, Any] = {("restriction", event.id): restriction}
        # a kind:<kind> entry is indexed under its canonical spelling, as a holder
        holders = {kind_target(a[5:]) if is_kind_target(a) else a for a in event.applies_to}
        indexes = [_by_authority(event.authority, product)]
        indexes += [_by_target(product, holder) for holder in holders]
        for index in indexes:
            updates[index] = (*facts.get(index, ()), event.id)
        buyers = set(event.applies_to)
        kinds = restriction.kind_targets
        if kinds:
            buyers.update(a for a, k in ctx.actor_kinds if kind_target(k) in kinds)
        target = product.casefold()
        for buyer in sorted(buyers):
            for key in _naming(facts.get(_by_buyer(buyer), ()), target):
                intent: OrderIntent = facts[key]
                if restriction.blocks(intent, ctx):
                    updates[key] = _reblocked(intent, _with_id(intent.blocked_by, event.id), event)
        return updates

    def _lift(
        self, facts: Mapping[Hashable, Any], event: ev.PolicyChange, product: str, ctx: Context
    ) -> Updates:
        by_authority = _by_authority(event.authority, product)
        lifted: tuple[str, ...] = facts.get(by_authority, ())
        if not lifted:
            return {}
        updates: dict[Hashable, Any] = {by_authority: None}
        lifted_set = set(lifted)
        buyers: set[str] = set()
        holders: set[str] = set()
        for rid in lifted:
            updates[("restriction", rid)] = None
            old: Restriction = facts[("restriction", rid)]
            for entry in old.applies_to:
                holders.add(kind_target(entry[5:]) if is_kind_target(entry) else entry)
            buyers.update(a for a in old.applies_to if not is_kind_target(a))
            if old.kind_targets:
                buyers.update(a for a, k in ctx.actor_kinds if kind_target(k) in old.kind_targets)
        for holder in holders:
            by_target = _by_target(product, holder)
            remaining = tuple(filterfalse(lifted_set.__contains__, facts.get(by_target, ())))
            updates[by_target] = remaining or None
        # a restriction blocks only intents naming its product (as product or supplier)
        target = product.casefold()
        for buyer in sorted(buyers):
            for key in _naming(facts.get(_by_buyer(buyer), ()), target):
                intent: OrderIntent = facts[key]
                if not lifted_set.isdisjoint(intent.blocked_by):
                    updates[key] = _reblocked(
                        intent,
                        tuple(filterfalse(lifted_set.__contains__, intent.blocked_by)),
                        event,
                    )
        return updates


def _naming(keys: tuple[Hashable, ...], target: str) -> list[Hashable]:
    """The intent keys of ``keys`` whose product or supplier is ``target`` (casefolded),
    read from the keys themselves (``intent_key``: the product casefolded, the supplier
    as given): a restriction or its lift looks at no other intent of a buyer. A key of
    another shape is kept (the caller checks the intent itself)."""
    return [
        key
        for key in keys
        if type(key) is not tuple
        or len(key) != 4
        or key[3] == target
        or key[2].casefold() == target
    ]


def _with_id(ids: tuple[str, ...], new: str) -> tuple[str, ...]:
    """``tuple(sorted({*ids, new}))``: ``ids`` sorted and without repeats, as every
    ``blocked_by`` is, takes ``new`` in its place (no sort of a list that grows
    with every restriction the buyer is under)."""
    if not all(map(lt, ids, ids[1:])):
        return tuple(sorted({*ids, new}))
    at = bisect_left(ids, new)
    if at < len(ids) and ids[at] == new:
        return ids
    return (*ids[:at], new, *ids[at:])


def _reblocked(intent: OrderIntent, blocked_by: tuple[str, ...], event: ev.Event) -> OrderIntent:
    """``intent`` (as it stood before ``event``) with ``blocked_by`` as given and
    ``event`` (a ban or its lift) first in its evidence and sources. Every field
    spelled out: ``attrs.evolve`` costs several times as much, once per intent a
    restriction reaches."""
    return OrderIntent(
        buyer=intent.buyer,
        supplier=intent.supplier,
        product=intent.product,
        status=intent.status,
        since=intent.since,
        since_precision=intent.since_precision,
        quantity=intent.quantity,
        conditions=intent.conditions,
        concerns=intent.concerns,
        blocked_by=blocked_by,
        evidence=prepend_new(event.id, intent.evidence),
        sources=prepend_all(event.sources, intent.sources),
        origins=intent.origins,
        disputed_by=intent.disputed_by,
        confirmed_by=intent.confirmed_by,
        certain=intent.certain,
    )


def _status_of(event: ev.Event) -> IntentStatus:
    return next(s for cls, s in _STATUS.items() if isinstance(event, cls))

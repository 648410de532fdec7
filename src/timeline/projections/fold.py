"""Running projections over an ordered stream of events, and the state they leave.

``Fold`` owns the fact tables of a set of projections and applies events in
the order it is given them (the caller supplies occurred order). ``State`` is
an immutable view of those facts with the accessors users call.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence, Set
from types import MappingProxyType
from typing import Any

import attrs

from timeline import events as ev
from timeline.errors import ValidationError
from timeline.projections.base import Change, Context, FoldProjection, Projection, is_internal
from timeline.projections.orders import OrderIntent, Restriction, intent_key
from timeline.projections.stance import Stance

__all__ = ["CLAIMS", "Fold", "LazyFacts", "State"]

CLAIMS = "_claims"
"""The fold's own table of denials and confirmations seen so far (index keys only):
``("_claim", id) -> (kind, actor, scope)`` and ``("_claimed", event id) -> claim ids``."""

_DENIAL, _CONFIRMATION = "denial", "confirmation"
_OWN, _ALL = "own", "all"


class Fold:
    """Facts of several projections, advanced one event at a time.

    Denials and confirmations are applied here, across projections (DESIGN "Sources
    that count"): a claim about events lists itself in ``disputed_by`` /
    ``confirmed_by`` of every fact whose current evidence includes one of them and
    in which the claimant takes part, or of all such facts if it takes part in
    none. A fact changed later is checked again against the claims seen so far.
    """

    def __init__(self, projections: Sequence[Projection], ctx: Context) -> None:
        self.projections = tuple(projections)
        self.ctx = ctx
        self.facts: dict[str, dict[Hashable, Any]] = {p.name: {} for p in self.projections}
        self.facts[CLAIMS] = {}
        self.count = 0

    def apply(self, event: ev.Event) -> list[Change]:
        """Apply one event to every projection; return the facts it changed."""
        return [
            Change(projection=name, key=_key(key), before=old, after=new)
            for name, key, old, new in self.updates(event)
            if not is_internal(key)
        ]

    def updates(self, event: ev.Event) -> list[tuple[str, Hashable, Any, Any]]:
        """Apply one event; return ``(projection, key, before, after)`` for every key it
        changed, the projections' own index keys included."""
        out: list[tuple[str, Hashable, Any, Any]] = []
        self.count += 1
        for projection in self.projections:
            table = self.facts[projection.name]
            # projections promise not to modify the table they are handed
            for key, new in projection.apply(table, event, self.ctx).items():
                old = table.get(key)
                if new is None:
                    table.pop(key, None)
                else:
                    table[key] = new
                if old != new:
                    out.append((projection.name, key, old, new))
        if self.facts[CLAIMS] or ev.claimed_ids(event):
            out = self._claims(event, out)
        return out

    def run(self, events: Iterable[ev.Event]) -> Fold:
        """Apply every event without recording changes (the fast path); return ``self``."""
        pairs = [(p, self.facts[p.name]) for p in self.projections]
        ctx = self.ctx
        claims = self.facts[CLAIMS]
        # per event class: whether it may be a claim, and the handlers that follow it
        # (projections that skip the class are not called at all)
        plans: dict[type, tuple[bool, list[tuple[Callable[..., Any], dict[Hashable, Any]]]]] = {}
        count = 0
        # A fold allocates many small objects that form no cycles (records, facts,
        # tuples) while its tables grow: the cyclic collector would walk those tables
        # again and again (about a sixth of a full replay). Paused for the loop, and
        # resumed only if it ran before (a nested or concurrent fold leaves it alone).
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            for event in events:
                cls = type(event)
                plan = plans.get(cls)
                if plan is None:
                    plan = plans[cls] = _plan_for(pairs, cls)
                claim, steps = plan
                if claims or (claim and ev.claimed_ids(event)):
                    self.count += 1
                    self._claims(event, self._apply_tracked(pairs, event))
                    continue
                count += 1
                for handler, table in steps:
                    for key, new in handler(table, event, ctx).items():
                        if new is None:
                            table.pop(key, None)
                        else:
                            table[key] = new
        finally:
            if paused:
                gc.enable()
        self.count += count
        return self

    def _apply_tracked(
        self, pairs: list[tuple[Projection, dict[Hashable, Any]]], event: ev.Event
    ) -> list[tuple[str, Hashable, Any, Any]]:
        out: list[tuple[str, Hashable, Any, Any]] = []
        for projection, table in pairs:
            for key, new in projection.apply(table, event, self.ctx).items():
                old = table.get(key)
                if new is None:
                    table.pop(key, None)
                else:
                    table[key] = new
                out.append((projection.name, key, old, new))
        return out

    # --- denials and confirmations ------------------------------------------------

    def _claims(
        self, event: ev.Event, out: list[tuple[str, Hashable, Any, Any]]
    ) -> list[tuple[str, Hashable, Any, Any]]:
        """Register a claim, or re-check the facts ``out`` changed; return all changes."""
        claims = self.facts[CLAIMS]
        targets = ev.claimed_ids(event)
        touched: dict[tuple[str, Hashable], Any] = {}  # (projection, key) -> fact before
        if targets:
            actor: str = getattr(event, "actor", "")
            wanted = set(targets)
            candidates = [
                (name, key, fact)
                for name, table in self.facts.items()
                if name != CLAIMS
                for key, fact in table.items()
                if _claimable(fact) and not wanted.isdisjoint(fact.evidence)
            ]
            own = any(actor in fact.participants for _, _, fact in candidates)
            kind = _DENIAL if isinstance(event, ev.Denial) else _CONFIRMATION
            updates: dict[Hashable, Any] = {
                ("_claim", event.id): (kind, actor, _OWN if own else _ALL)
            }
            for target in dict.fromkeys(targets):
                index = ("_claimed", target)
                updates[index] = (*claims.get(index, ()), event.id)
            for key, new in updates.items():
                out.append((CLAIMS, key, claims.get(key), new))
                claims[key] = new
            for name, key, fact in candidates:
                touched[(name, key)] = fact
        for name, key, _old, new in out:
            if name != CLAIMS and new is not None and _claimable(new):
                touched.setdefault((name, key), _old)
        if not touched:
            return out
        changed = {(name, key) for name, key, _, _ in out}
        for (name, key), before in touched.items():
            table = self.facts[name]
            fact = table[key]
            checked = self._checked(fact)
            if checked is fact:
                continue
            table[key] = checked
            if (name, key) in changed:
                out = [(n, k, o, checked if (n, k) == (name, key) else f) for n, k, o, f in out]
            else:
                out.append((name, key, before, checked))
        return [c for c in out if c[2] != c[3]]

    def _checked(self, fact: Any) -> Any:
        """``fact`` with ``disputed_by`` / ``confirmed_by`` from the claims seen so far."""
        claims = self.facts[CLAIMS]
        disputed: list[str] = []
        confirmed: list[str] = []
        for event_id in fact.evidence:
            for claim_id in claims.get(("_claimed", event_id), ()):
                kind, actor, scope = claims[("_claim", claim_id)]
                if scope == _ALL or actor in fact.participants:
                    (disputed if kind == _DENIAL else confirmed).append(claim_id)
        d, c = tuple(dict.fromkeys(disputed)), tuple(dict.fromkeys(confirmed))
        if d == fact.disputed_by and c == fact.confirmed_by:
            return fact
        return attrs.evolve(fact, disputed_by=d, confirmed_by=c)

    def state(
        self,
        resolve: Callable[[str], str] | None = None,
        check_topic: Callable[[str], None] | None = None,
        uncertain: Set[str] = frozenset(),
    ) -> State:
        """An immutable copy of the facts as they stand (see :class:`State` for ``uncertain``)."""
        # State copies what it keeps
        return State(self.facts, resolve=resolve, check_topic=check_topic, uncertain=uncertain)


def _plan_for(
    pairs: list[tuple[Projection, dict[Hashable, Any]]], cls: type
) -> tuple[bool, list[tuple[Callable[..., Any], dict[Hashable, Any]]]]:
    """How :meth:`Fold.run` applies events of class ``cls``: whether one may be a claim
    (a denial or confirmation), and ``(handler, table)`` for each projection that
    follows the class. A :class:`FoldProjection` that keeps the base ``apply`` is
    called through its handler directly (the same one ``apply`` picks); any other
    projection through its ``apply``."""
    steps: list[tuple[Callable[..., Any], dict[Hashable, Any]]] = []
    for projection, table in pairs:
        direct = type(projection).apply is FoldProjection.apply
        if isinstance(projection, FoldProjection) and direct:
            handler = projection._handler_for(cls)
            if handler is not None:
                steps.append((handler, table))
        else:
            steps.append((projection.apply, table))
    return issubclass(cls, (ev.Denial, ev.Confirmation)), steps


def _claimable(fact: object) -> bool:
    return (
        hasattr(fact, "disputed_by") and hasattr(fact, "evidence") and hasattr(fact, "participants")
    )


def _key(key: Hashable) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


class LazyFacts(Mapping[Hashable, Any]):
    """A read-only fact table whose facts are decoded when first read: a state read
    from stored text decodes only the facts asked for. Holds facts only (no index
    keys); ``decode`` turns one stored text into its fact."""

    __slots__ = ("_decode", "_done", "_raw")

    def __init__(self, raw: dict[Hashable, Any], decode: Callable[[Any], Any]) -> None:
        self._raw = raw
        self._done: dict[Hashable, Any] = {}
        self._decode = decode

    def __getitem__(self, key: Hashable) -> Any:
        try:
            return self._done[key]
        except KeyError:
            pass
        fact = self._done[key] = self._decode(self._raw[key])
        return fact

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return len(self) == len(other) and all(
            key in other and self[key] == other[key] for key in self._raw
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<LazyFacts {len(self._raw)} facts, {len(self._done)} decoded>"


def mark_certainty(fact: Any, uncertain: Set[str]) -> Any:
    """``fact`` with ``certain=False`` when every event of its own evidence is in
    ``uncertain`` (only possibly by the query's bounds); restrictions blocking an
    intent do not count."""
    evidence = getattr(fact, "evidence", None)
    if not evidence or not getattr(fact, "certain", False):
        return fact
    blocking = getattr(fact, "blocked_by", ())
    if all(e in uncertain or e in blocking for e in evidence):
        return attrs.evolve(fact, certain=False)
    return fact


class State:
    """The facts at one point in time, as known at one point in time.

    Accessors take actor ids, aliases or display names. A state from
    :class:`timeline.Timeline` raises ``UnknownActorError`` for an actor the store
    does not know and ``UnknownTopicError`` for a topic no event names, each with
    suggestions; ``None`` means a known actor has no such fact (yet).
    """

    def __init__(
        self,
        facts: Mapping[str, Mapping[Hashable, Any]],
        *,
        resolve: Callable[[str], str] | None = None,
        check_topic: Callable[[str], None] | None = None,
        uncertain: Set[str] = frozenset(),
    ) -> None:
        # a state holds facts only, never a projection's own index entries; a table
        # decoded on access (LazyFacts) holds none and is the state's own
        self._facts: dict[str, Mapping[Hashable, Any]] = {
            name: (
                table
                if isinstance(table, LazyFacts) and not uncertain
                else {k: v for k, v in table.items() if not is_internal(k)}
            )
            for name, table in facts.items()
            if not name.startswith("_")  # the fold's own tables (claims)
        }
        if uncertain:
            for name, table in self._facts.items():
                self._facts[name] = {k: mark_certainty(f, uncertain) for k, f in table.items()}
        self._resolve = resolve or (lambda name: name)
        self._check_topic = check_topic or (lambda topic: None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._facts == other._facts

    def __hash__(self) -> int:  # mutable-looking container; equality only
        raise TypeError("State is not hashable")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(t)}" for name, t in self._facts.items())
        return f"<State {sizes}>"

    def facts(self, projection: str) -> Mapping[Hashable, Any]:
        """The raw fact table of one projection (read-only view).

        Raises:
            ValidationError: no projection of that name ran.
        """
        try:
            return MappingProxyType(self._facts[projection])
        except KeyError:
            known = ", ".join(sorted(self._facts))
            raise ValidationError(
                f"no projection named {projection!r} (known: {known})", field="projection"
            ) from None

    @property
    def projections(self) -> list[str]:
        """Names of the projections in this state."""
        return sorted(self._facts)

    # --- stance -----------------------------------------------------------------

    def stance(self, actor: str, topic: str) -> Stance | None:
        """The actor's stance on the topic, or ``None`` if no stance is known."""
        found: Stance | None = self._facts.get("stance", {}).get((self._resolve(actor), topic))
        if found is None:
            self._check_topic(topic)
        return found

    def stances(self, actor: str | None = None, topic: str | None = None) -> list[Stance]:
        """Every known stance, optionally for one actor and/or topic, sorted."""
        wanted = self._resolve(actor) if actor is not None else None
        out = [
            s
            for s in self._facts.get("stance", {}).values()
            if isinstance(s, Stance)
            and (wanted is None or s.actor == wanted)
            and (topic is None or s.topic == topic)
        ]
        if topic is not None and not out:
            self._check_topic(topic)
        return sorted(out, key=lambda s: (s.actor, s.topic))

    # --- orders -----------------------------------------------------------------

    def order_intent(self, buyer: str, supplier: str, product: str) -> OrderIntent | None:
        """The buyer's intent for the supplier's product (case-insensitive), or ``None``."""
        key = intent_key(self._resolve(buyer), self._resolve(supplier), product)
        found: OrderIntent | None = self._facts.get("orders", {}).get(key)
        return found

    def order_intents(
        self,
        buyer: str | None = None,
        supplier: str | None = None,
        product: str | None = None,
    ) -> list[OrderIntent]:
        """Every order intent, optionally filtered, sorted."""
        b = self._resolve(buyer) if buyer is not None else None
        s = self._resolve(supplier) if supplier is not None else None
        out = [
            i
            for i in self._facts.get("orders", {}).values()
            if isinstance(i, OrderIntent)
            and (b is None or i.buyer == b)
            and (s is None or i.supplier == s)
            and (product is None or i.product.casefold() == product.casefold())
        ]
        return sorted(out, key=lambda i: (i.buyer, i.supplier, i.product.casefold()))

    def restrictions(self) -> list[Restriction]:
        """Bans and restrictions on products in force, sorted by id."""
        out = [r for r in self._facts.get("orders", {}).values() if isinstance(r, Restriction)]
        return sorted(out, key=lambda r: r.id)

    def __iter__(self) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
        """``(projection, key, fact)`` for every fact, in a stable order."""
        for name in sorted(self._facts):
            table = self._facts[name]
            for key in sorted(table, key=repr):
                yield name, _key(key), table[key]


def diff_states(before: State, after: State) -> list[Change]:
    """Facts that differ between two states, in a stable order."""
    changes: list[Change] = []
    names = sorted(set(before.projections) | set(after.projections))
    for name in names:
        old = before.facts(name) if name in before.projections else {}
        new = after.facts(name) if name in after.projections else {}
        for key in sorted(set(old) | set(new), key=repr):
            a, b = old.get(key), new.get(key)
            if a != b and not is_internal(key):
                changes.append(Change(projection=name, key=_key(key), before=a, after=b))
    return changes


__all__ += ["diff_states"]

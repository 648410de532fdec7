"""What a projection is: a pure fold from events to facts.

A projection never sees the store. It is handed the facts it has built so far
(read-only) and one event, and returns the facts that event changes: a mapping
of key -> new fact, or ``None`` to remove a key. The machinery applies those
updates, which makes every step's changes (before/after) explicit and keeps a
fold cheap on long logs. Handlers are keyed by event class (the most specific
class in the MRO wins); event types a projection does not handle are skipped
explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from operator import attrgetter, lt
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

import attrs

from timeline import events as ev

__all__ = [
    "EVIDENCE_LIMIT",
    "Change",
    "Column",
    "Context",
    "FoldProjection",
    "Projection",
    "Updates",
    "is_internal",
    "merge_unique",
    "origins",
    "prepend",
    "prepend_all",
]

Updates = Mapping[Hashable, Any]


@attrs.frozen
class Column:
    """One column of a fact's table (the CLI's ``state``): a header and what it shows.

    A fact class lists its columns in ``columns``; the tables format each value
    by its type (a tuple joined, an enum's value, a time with the fact's
    ``<field>_precision``), and ``sources`` as its independent origins.

    Attributes:
        header: the column's title.
        attribute: the fact attribute shown.
        width: wrap the column at this many characters (``None``: never).
        with_claims: the denials and confirmations of the fact follow this value.
        date_only: a time shown as its date.
    """

    header: str
    attribute: str
    width: int | None = None
    with_claims: bool = False
    date_only: bool = False


@attrs.frozen(kw_only=True)
class Context:
    """What a fold may know besides the events: the store's actor ids and their kinds.

    ``actor_kinds`` holds ``(actor id, casefolded kind)`` for actors declared with a kind.
    """

    known_actors: frozenset[str] = frozenset()
    actor_kinds: tuple[tuple[str, str], ...] = ()

    def kind_of(self, actor: str) -> str | None:
        """The casefolded kind the actor was declared with, if any."""
        for actor_id, kind in self.actor_kinds:
            if actor_id == actor:
                return kind
        return None


class Projection(Protocol):
    """A named, pure fold."""

    name: str

    def apply(self, facts: Mapping[Hashable, Any], event: ev.Event, ctx: Context) -> Updates:
        """Return the facts ``event`` changes (key -> new fact, ``None`` removes).

        ``facts`` must not be modified. Keys that are tuples whose first item
        starts with ``_`` are the projection's own indexes: kept in the state,
        left out of changes, diffs and listings.
        """
        ...


@attrs.frozen(kw_only=True)
class Change:
    """One fact changed by one event: ``before`` and ``after`` (``None`` = absent)."""

    projection: str
    key: tuple[Any, ...]
    before: Any
    after: Any

    @property
    def fact(self) -> Any:
        """The fact after the change, or before it if it was removed."""
        return self.after if self.after is not None else self.before


_NOTHING: Updates = MappingProxyType({})


class FoldProjection:
    """Base class: dispatch on event class to ``handlers``; unknown types change nothing.

    Subclasses fill ``handlers`` with ``{EventClass: method}`` (see ``handles``),
    and name in ``fact_types`` the attrs classes their facts are made of: their
    stored layout, labels and table columns are derived from those classes.
    """

    name: str = ""
    handlers: ClassVar[dict[type[ev.Event], str]] = {}
    fact_types: ClassVar[tuple[type, ...]] = ()

    def apply(self, facts: Mapping[Hashable, Any], event: ev.Event, ctx: Context) -> Updates:
        """Dispatch ``event`` to its handler; return its updates."""
        try:
            handler = self._dispatch[type(event)]
        except AttributeError:
            self._dispatch: dict[type, Callable[..., Updates] | None] = {}
            return self.apply(facts, event, ctx)
        except KeyError:
            handler = self._dispatch[type(event)] = self._handler_for(type(event))
        if handler is None:
            return _NOTHING  # an event type this projection does not follow
        return handler(facts, event, ctx)

    def _handler_for(self, cls: type) -> Callable[..., Updates] | None:
        """The handler of the most specific class in ``cls``'s MRO, bound to ``self``."""
        for base in cls.__mro__:
            method = self.handlers.get(base)
            if method is not None:
                handler: Callable[..., Updates] = getattr(self, method)
                return handler
        return None


EVIDENCE_LIMIT = 20
"""How many evidence ids (and sources) a fact keeps, newest first.

A fact restated thousands of times would otherwise copy an ever longer tuple
on every event; ``history()`` lists every event behind a fact without limit.
"""


def merge_unique(new: Iterable[Any], old: Iterable[Any]) -> tuple[Any, ...]:
    """``new`` then ``old``, without repeats, order kept (newest first)."""
    if type(new) is tuple and len(new) < 2 and (not old or old == new):
        return new  # the same list again (or nothing more): nothing to merge
    return tuple(dict.fromkeys([*new, *old]))


def prepend(item: Any, items: tuple[Any, ...]) -> tuple[Any, ...]:
    """``item`` first, then ``items`` (without ``item``), at most ``EVIDENCE_LIMIT`` long."""
    if not items:
        return (item,)
    first = items[0]
    # identity first: the store decodes equal sources to one shared object
    if first is item:
        return items
    if type(item) is _Source and item.id is not None:
        # most sources have an id: a new one (the common case) is told in C (as in
        # _may_hold, without the call)
        try:
            if item.id not in map(_SOURCE_ID, items):
                return (item, *items[: EVIDENCE_LIMIT - 1])
        except AttributeError:
            pass  # not all sources: let equality decide
    elif type(item) is not str and not _may_hold(items, item):
        return (item, *items[: EVIDENCE_LIMIT - 1])
    if first == item:
        return items
    if item in items:  # compares by identity, then by equality
        at = items.index(item)
        rest = items[at + 1 :]
        if item in rest:  # not built by prepend: drop every repeat
            rest = tuple(i for i in rest if i != item)
        items = (*items[:at], *rest)
    return (item, *items[: EVIDENCE_LIMIT - 1])


def prepend_new(item: Any, items: tuple[Any, ...]) -> tuple[Any, ...]:
    """:func:`prepend` of an ``item`` known not to be in ``items``: the id of the event
    being folded, on a fact as it stood before that event (no fact names an event
    before it is folded). No scan for a repeat: at a million events the ids of a
    fact's evidence lie all over memory, and comparing the new id with each of
    them cost four times as much as building the new tuple."""
    if len(items) < EVIDENCE_LIMIT:
        return (item, *items)
    return (item, *items[: EVIDENCE_LIMIT - 1])


def _may_hold(items: tuple[Any, ...], item: Any) -> bool:
    """Whether ``item`` may equal one of ``items``: ``False`` only when none can.

    A :class:`~timeline.events.Source` equals another only with the same id and
    publisher: comparing those first (in C) skips most of attrs' ``__eq__`` calls (a
    fact's sources are compared on every event that adds one)."""
    if type(item) is not ev.Source:
        return True
    try:
        if item.id is not None:  # most sources have one: a plain string compare
            return item.id in map(_SOURCE_ID, items)
        return (item.publisher, None) in map(_SOURCE_KEY, items)
    except AttributeError:  # not all sources: let equality decide
        return True


_SOURCE_ID = attrgetter("id")
_Source = ev.Source
_SOURCE_KEY = attrgetter("publisher", "id")


def origins(sources: tuple[ev.Source, ...], old: Iterable[str] = ()) -> tuple[str, ...]:
    """Distinct origin publishers (``via`` followed to its end), sorted.

    The store records each relaying source's ``origin``; for records folded without
    a store, a ``via`` naming another source of the same event is followed too.
    """
    if len(sources) == 1 and type(old) is tuple and old:
        # the common case: one source whose publisher the fact already counts
        only = sources[0]
        plain = only.via is None or only.origin is not None
        if plain and (only.origin or only.publisher) in old and all(map(lt, old, old[1:])):
            return old  # already sorted and without repeats, as origins() leaves it
    found = {*old}
    local: dict[str, ev.Source] | None = None
    for source in sources:
        if source.via is None or source.origin is not None:
            found.add(source.origin_publisher)
            continue
        if local is None:
            local = {s.id: s for s in sources if s.id is not None}
        current, seen = source, {source.id}
        while current.origin is None and current.via in local and current.via not in seen:
            seen.add(current.via)
            current = local[current.via]
        found.add(current.origin_publisher)
    return tuple(sorted(found))


def prepend_all(items: tuple[Any, ...], current: tuple[Any, ...]) -> tuple[Any, ...]:
    """``items`` (in order) before ``current``, without repeats, at most ``EVIDENCE_LIMIT``."""
    if len(items) == 1:
        return prepend(items[0], current)
    if len(items) > EVIDENCE_LIMIT and len(set(current)) == len(current):
        # only the first EVIDENCE_LIMIT distinct items can stay (an intent blocked by
        # many restrictions at once): one pass instead of a prepend per item. Exact
        # only when ``current`` holds no repeats (as prepend leaves it): a repeat is
        # dropped with its first copy, which makes room at a different step.
        items = tuple(dict.fromkeys(items))[:EVIDENCE_LIMIT]
    for item in reversed(items):
        current = prepend(item, current)
    return current


def is_internal(key: object) -> bool:
    """Whether a fact key is a projection's own bookkeeping (an index), not a fact."""
    return isinstance(key, tuple) and bool(key) and isinstance(key[0], str) and key[0][:1] == "_"

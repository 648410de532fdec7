"""Snapshots: the built-in projections persisted as fact versions.

Every fact a fold changes is written with the point in fold order it holds
from (``okey`` = ``occurred_at`` + log position). The state at valid time ``T``
is then the latest version of each fact at or before ``T``: one index seek per
fact, whatever the length of the log, and a single fact is one seek.

The versions describe what the store knows now (no ``known_at`` /
``recorded_by`` bound). ``snapshot_checkpoint`` records the log position and
the fold position they cover, and the latest ``reported_at`` / ``recorded_at``
among the events they cover: a query whose knowledge bounds lie beyond those
sees exactly the same events and may use the versions; others fold the log.

Snapshots are derived data, kept current by the writer: a new event that sorts
after everything folded is applied on top; a backdated event, a correction or a
retraction refolds only the facts it touches, from its (earliest) occurred time
on (``Snapshots._refold_facts``), and what that cannot take invalidates the
versions from that time, where the fold resumes: never a full rebuild.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import json
import weakref
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import attrs

from timeline import events as ev
from timeline._gc import collector_paused
from timeline.bitemporal import (
    Bounds,
    Placed,
    corrections_for,
    fates_of,
    fold_events,
    ignored_type_names,
    meta_names,
    meta_type_names,
    read_fields,
    replacement_of,
    resolve_meta,
)
from timeline.codec import Codec, canonical_json, canonical_json_plain, loads_trusted
from timeline.errors import StoreError
from timeline.projections.base import Context, Projection, is_internal
from timeline.projections.fold import CLAIMS, Fold, LazyFacts
from timeline.projections.layout import FactLayout, signature
from timeline.projections.orders import (
    OrderIntentProjection,
    Restriction,
    _reblocked,
    _with_id,
    intent_key,
    is_kind_target,
    kind_target,
)
from timeline.projections.stance import StanceProjection
from timeline.store.base import Checkpoint, CheckpointMoved, EventFilter, EventLog, SnapshotStore
from timeline.store.recorded import RecordedEvent
from timeline.times import from_text, to_text

__all__ = ["LOGIC_VERSION", "Snapshots", "okey", "okey_time"]

LOGIC_VERSION = "3"
"""Bump when a built-in projection's rules change: stored versions are rebuilt. (A new
spelling of the fold keys is a migration that converts them: ``0017_compact_fold_keys``.)"""

_CHUNK = 20_000  # events folded per write transaction while building
_MAX = "~"  # sorts after every okey suffix
_TARGETED_MAX = 5_000  # new events a per-fact refold takes on; more: refold from the earliest
_SAME_BATCH_TARGETS = False
"""Whether a batch that corrects or retracts one of its own events is refolded per fact
(exact, tested) rather than from its earliest change. Off. Turned on, on the bench
story (a correction of a random earlier event in most batches of 1,000, 3% of events
backdated by up to a year of a one-year story), it keeps the bounded upkeep from ever
falling behind, so the first ``state()`` after a 100k load takes 0.12 s instead of 12-14 s,
but every batch then pays per-fact refolds reaching back to near the start of the log:
the build through ``append`` at 100k takes 59-68 s against 15-18 s with it off, even
though refolds stop where they meet the stored history. What is left is what really
changes: a year-old inquiry changes the evidence of the next 20 versions of its intent,
and a ban whose authority never lifts it the restriction indexes and ``blocked_by`` of
every later version of the intents it reaches. With no blocking at all the build still
took 50-65 s (docs/performance.md, round thirteen)."""


def _stance_keys(event: ev.Event) -> tuple[tuple[str, str], ...] | None:
    """The stances an announcement, statement, regulator meeting or inquiry sets (each
    depends on nothing but the events that set it); ``None``: any other type."""
    kind = type(event)
    if kind is ev.Announcement or kind is ev.Statement:
        return ((event.actor, event.topic),)  # type: ignore[attr-defined]
    if kind is ev.RegulatorMeeting:
        return ((event.regulator, event.topic),)  # type: ignore[attr-defined]
    if kind is ev.Inquiry:
        topic = event.topic  # type: ignore[attr-defined]
        return () if topic is None else tuple((b, topic) for b in event.inquirers)  # type: ignore[attr-defined]
    if kind is ev.PolicyChange:
        return ((event.authority, event.topic),)  # type: ignore[attr-defined]
    if kind in (ev.OrderPlaced, ev.OrderCancelled, ev.OrderDelivered):
        return ()
    return None


_MOVED: Any = object()  # a stored place a correction or retraction took the event from
_STORED: Any = object()  # a refold's step at a stored version: its event read when reached
_NOTHING_NEW: Any = None  # a refold start with no event of its own (see _refold_stances)

_ORDER_TYPES = (ev.Inquiry, ev.OrderPlaced, ev.OrderCancelled, ev.OrderDelivered)


def _buyers_of(event: ev.Event) -> tuple[str, ...]:
    """The buyers whose intents an inquiry or order event shapes."""
    if isinstance(event, ev.Inquiry):
        return tuple(event.inquirers)
    return (event.buyer,)  # type: ignore[attr-defined]


def _product_of(event: ev.Event) -> str | None:
    """A policy change's product, casefolded (``None``: it names none)."""
    product: str | None = getattr(event, "product", None)
    return None if product is None else product.casefold()


class _PolicyRow:
    """A stored policy change as a restriction refold first reads it: its id, product
    and log position from SQL, the event itself decoded only if the refold replays it
    (its product is one the batch changes). Never equal to another step but itself."""

    __slots__ = ("event", "id", "position", "product")

    def __init__(self, id_: str, product: str | None, position: int) -> None:
        self.id = id_
        self.product = product
        self.position = position
        self.event: ev.Event | None = None


def _intent_of(event: ev.Event, buyer: str) -> Hashable:
    """The key of ``buyer``'s intent an inquiry or order event shapes."""
    return intent_key(buyer, event.supplier, event.product)  # type: ignore[attr-defined]


def _belongs_to(key: Hashable, buyer: str) -> bool:
    """Whether an orders fact key is one of ``buyer``'s intents or its index of them."""
    return (
        isinstance(key, tuple)
        and len(key) >= 2
        and key[0] in ("intent", "_intents_of")
        and key[1] == buyer
    )


_CLAIM_STEP: Any = object()  # a refold step at a claim's place: the claims are checked again
_DENIAL, _CONFIRMATION = "denial", "confirmation"  # as the fold registers claims
_OWN, _ALL = "own", "all"


def _names_any(fact: Any, named: Iterable[str]) -> bool:
    """Whether ``fact`` is there and its evidence holds one of the ``named`` events."""
    evidence: tuple[str, ...] = getattr(fact, "evidence", None) or ()
    return not set(named).isdisjoint(evidence)


def _restriction_key(key: Hashable) -> bool:
    """Whether an orders fact key is a restriction or one of the restriction indexes."""
    return (
        isinstance(key, tuple)
        and bool(key)
        and key[0] in ("restriction", "_restrictions_on", "_restrictions_by")
    )


class _ClaimBook:
    """The denials and confirmations in fold order, for the per-fact refolds: a fact's
    ``disputed_by`` / ``confirmed_by`` at a fold key are those the fold's own check
    (:meth:`Fold._checked`) gives it from the claims registered up to that key."""

    def __init__(self) -> None:
        # claim id -> (fold key, kind, actor, scope, the events it names)
        self.claims: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {}
        self.at: dict[str, str] = {}  # fold key -> claim id
        self.claimed: dict[str, list[tuple[str, str]]] = {}  # event id -> (fold key, claim)
        self._keys: list[str] = []

    def add(
        self, key: str, claim_id: str, kind: str, actor: str, scope: str, named: Sequence[str]
    ) -> None:
        self.claims[claim_id] = (key, kind, actor, scope, tuple(named))
        self.at[key] = claim_id
        bisect.insort(self._keys, key)
        for event_id in dict.fromkeys(named):
            bisect.insort(self.claimed.setdefault(event_id, []), (key, claim_id))

    def keys_between(self, after: str, upto: str) -> list[str]:
        """The claims' fold keys in ``(after, upto]``."""
        lo = bisect.bisect_right(self._keys, after)
        hi = bisect.bisect_right(self._keys, upto)
        return self._keys[lo:hi]

    def check(self, fact: Any, at: str) -> Any:
        """``fact`` with the claims registered up to fold key ``at``."""
        evidence = getattr(fact, "evidence", None)
        if not self.claims or evidence is None or not hasattr(fact, "disputed_by"):
            return fact
        participants = fact.participants
        disputed: list[str] = []
        confirmed: list[str] = []
        for event_id in evidence:
            for key, claim_id in self.claimed.get(event_id, ()):
                if key > at:
                    break
                _, kind, actor, scope, _ = self.claims[claim_id]
                if scope == _ALL or actor in participants:
                    (disputed if kind == _DENIAL else confirmed).append(claim_id)
        d, c = tuple(dict.fromkeys(disputed)), tuple(dict.fromkeys(confirmed))
        if d == fact.disputed_by and c == fact.confirmed_by:
            return fact
        return attrs.evolve(fact, disputed_by=d, confirmed_by=c)


class _KeyedView(Mapping[Hashable, Any]):
    """A fact table a refold reads by key only (never iterated or counted)."""

    def __iter__(self) -> Iterator[Hashable]:
        raise TypeError("a refold view is read by key only")

    def __len__(self) -> int:
        raise TypeError("a refold view is read by key only")


# restriction keys a refold rebuilt: key -> (the fold key the rebuild starts after, the
# value there, the rebuilt versions, the last fold key rebuilt: the stored versions
# after it stand, the rebuild having met them)
_Overlay = dict[Hashable, tuple[str, Any, list[tuple[str, Any]], str]]


class _RestrictionView(_KeyedView):
    """The restriction facts as a replay of policy changes sees them: its own updates
    over those stored at ``before``; intents absent (the replay leaves them out)."""

    def __init__(
        self,
        snapshots: Snapshots,
        state: dict[Hashable, Any],
        starts: dict[Hashable, Any],
        before: str,
    ):
        self._snapshots = snapshots
        self._state = state
        self._starts = starts  # stored values at ``before``, shared by both replays
        self._before = before

    def __getitem__(self, key: Hashable) -> Any:
        if not _restriction_key(key):
            raise KeyError(key)
        if key in self._state:
            found = self._state[key]
        else:
            if key not in self._starts:
                self._starts[key] = self._snapshots._stored("orders", key, self._before)
            found = self._starts[key]
        if found is None:
            raise KeyError(key)
        return found


class _BuyerView(_KeyedView):
    """The orders facts as one buyer's refold sees them just before a fold key: the
    buyer's own intents from the refold, restrictions from their stored versions,
    other buyers' intents absent (their updates are not kept)."""

    def __init__(
        self,
        snapshots: Snapshots,
        buyer: str,
        own: dict[Hashable, Any],
        at: str,
        overlay: _Overlay | None = None,
    ):
        self._snapshots = snapshots
        self._buyer = buyer
        self._own = own
        self._at = at
        # restriction keys rebuilt after a fold key: (that key, the value there, versions)
        self._overlay = overlay or {}

    def __getitem__(self, key: Hashable) -> Any:
        if isinstance(key, tuple) and key and key[0] in ("intent", "_intents_of"):
            if len(key) >= 2 and key[1] == self._buyer:
                return self._own[key]
            raise KeyError(key)
        rebuilt = self._overlay.get(key)
        if rebuilt is not None and rebuilt[0] <= self._at <= rebuilt[3]:
            _, found, versions, _ = rebuilt
            for at, fact in versions:
                if at > self._at:
                    break
                found = fact
        else:
            found = self._snapshots._stored("orders", key, self._at)
        if found is None:
            raise KeyError(key)
        return found


class _Replay:
    """One replay of policy changes on the restrictions stored at a fold key."""

    __slots__ = ("ctx", "orders", "reach", "seqs", "state", "view")

    def __init__(
        self, snapshots: Snapshots, orders: Projection, starts: dict[Hashable, Any], before: str
    ) -> None:
        self.orders = orders
        self.ctx = snapshots.ctx
        self.state: dict[Hashable, Any] = {}
        self.view = _RestrictionView(snapshots, self.state, starts, before)
        self.seqs: dict[Hashable, list[tuple[str, Any]]] = {}
        self.reach: dict[tuple[str, str], set[str]] = {}

    def step(self, stamp: str, event: ev.Event) -> list[Hashable]:
        """Apply one policy change; returns the restriction keys it wrote."""
        assert isinstance(event, ev.PolicyChange)
        holders = self.reach.setdefault((stamp, event.id), set(event.applies_to))
        view, state = self.view, self.state
        touched: list[Hashable] = []
        for fkey, fact in self.orders.apply(view, event, self.ctx).items():
            if not _restriction_key(fkey):
                continue
            if fkey[0] == "_restrictions_on":  # type: ignore[index]
                holders.add(fkey[2])  # type: ignore[index]
            if view.get(fkey) != fact:
                self.seqs.setdefault(fkey, []).append((stamp, fact))
            state[fkey] = fact
            touched.append(fkey)
        return touched


def _holders(applies_to: Iterable[str]) -> set[str]:
    """The holders a restriction is indexed under (``kind:`` entries canonical)."""
    return {kind_target(a[5:]) if is_kind_target(a) else a for a in applies_to}


def _settled_after(first: Any, old: list[tuple[str, Any]], new: list[tuple[str, Any]]) -> str:
    """The fold key from which two histories of one fact, each starting at ``first``,
    hold the same value for good (``_MAX``: they still differ at their end; ``""``:
    they never differ)."""
    olds, news = dict(old), dict(new)
    old_value = new_value = first
    settled = ""
    for at in sorted(olds.keys() | news.keys()):
        old_value = olds.get(at, old_value)
        new_value = news.get(at, new_value)
        if old_value != new_value:
            settled = _MAX
        elif settled == _MAX:
            settled = at
    return settled


class _History:
    """One fact's stored versions after a refold's start, read a window at a time as
    the refold asks and decoded as they are asked for: what the stored history held at
    each fold key, to see where a refold meets it (and, for :meth:`Snapshots.
    _only_changes`, the versions up to there)."""

    __slots__ = (
        "_after",
        "_complete",
        "_decoded",
        "_first",
        "_key",
        "_keys",
        "_snapshots",
        "_texts",
        "_window",
    )

    def __init__(self, snapshots: Snapshots, key_text: str, after: str, first: Any) -> None:
        self._snapshots = snapshots
        self._key = key_text
        self._after = after
        self._keys: list[str] = []
        self._texts: list[str | None] = []
        self._complete = False
        self._window = 32  # versions read at first; doubled with each further read
        self._first = first
        self._decoded: dict[int, Any] = {}

    def _read_through(self, key: str) -> None:
        """Read on until the versions up to fold key ``key`` (``_MAX``: all) are in."""
        versions_from = getattr(self._snapshots.store, "versions_from")  # noqa: B009
        while not self._complete and (not self._keys or self._keys[-1] <= key):
            since = self._keys[-1] if self._keys else self._after
            limit = None if key == _MAX else self._window
            more = versions_from(self._key, since, None, limit)
            self._window = min(self._window * 2, 4096)
            self._keys.extend(k for k, _ in more)
            self._texts.extend(t for _, t in more)
            if limit is None or len(more) < limit:
                self._complete = True

    def _fact(self, index: int) -> Any:
        if index < 0:
            return self._first
        if index not in self._decoded:
            text = self._texts[index]
            self._decoded[index] = None if text is None else self._snapshots._loads(text)
        return self._decoded[index]

    def holds(self, stamp: str, fact: Any) -> bool:
        """Whether the stored history held ``fact`` just before fold key ``stamp``."""
        self._read_through(stamp)
        return bool(self._fact(bisect.bisect_left(self._keys, stamp) - 1) == fact)

    def last(self) -> Any:
        """The stored fact after its last version."""
        if not self._complete:
            text = self._snapshots.store.fact_at(self._key, _MAX)
            return None if text is None else self._snapshots._loads(text)
        return self._fact(len(self._keys) - 1)

    def upto(self, until: str) -> list[tuple[str, Any]]:
        """The stored versions up to fold key ``until``: ``(fold key, fact)``, each
        decoded (once) here."""
        self._read_through(until)
        stop = bisect.bisect_right(self._keys, until)
        return [(self._keys[i], self._fact(i)) for i in range(stop)]


class _StoredSteps:
    """The events stored versions name, for one refold's steps: read (with the
    corrections and retractions deciding their fates) a window at a time as the
    refold reaches them, so that a refold that meets the stored history early reads
    little of what follows."""

    __slots__ = ("_keys", "_metas", "_next", "_records", "_snapshots", "_targets", "_window")

    def __init__(self, snapshots: Snapshots, keys: list[str], targets: set[str]) -> None:
        self._snapshots = snapshots
        self._keys = keys  # sorted
        self._targets = targets
        self._next = 0
        self._window = 64
        self._records: dict[int, RecordedEvent] = {}
        self._metas: tuple[set[str], dict[str, RecordedEvent]] = (set(), {})

    def event_at(self, key: str) -> Any:
        """:meth:`Snapshots._effective_at` for stored fold key ``key`` (one of the keys)."""
        if _position_of(key) not in self._records:
            at = bisect.bisect_left(self._keys, key)
            end = max(at + 1, self._next + self._window)
            self._window = min(self._window * 2, 8192)
            chunk, self._next = self._keys[self._next : end], end
            snapshots = self._snapshots
            records = snapshots._records_at(chunk)
            self._records.update(records)
            retracted, replaced = snapshots._metas_for(r.id for r in records.values())
            self._metas[0].update(retracted)
            self._metas[1].update(replaced)
        return self._snapshots._effective_at(key, self._metas, self._targets, self._records)


def _reach(
    event: ev.Event,
    key: str,
    buyers: dict[str, str],
    scope: dict[str, set[Hashable]],
    arrivals: dict[str, list[tuple[str, ev.Event]]] | None = None,
) -> str:
    """Mark what a policy change or an order event placed at fold key ``key`` refolds:
    each buyer it names from ``key`` on (``buyers``), with the intent it touches
    (``scope``), and the event itself as one to replay there (``arrivals``, if given).
    Returns ``key`` for a policy change (restrictions replay from there), else ``_MAX``."""
    if type(event) is ev.PolicyChange:
        return key
    if type(event) in _ORDER_TYPES:
        for buyer in _buyers_of(event):
            buyers[buyer] = min(buyers.get(buyer, _MAX), key)
            scope.setdefault(buyer, set()).add(_intent_of(event, buyer))
            if arrivals is not None:
                arrivals.setdefault(buyer, []).append((key, event))
    return _MAX


def _policy_on_intents(
    event: ev.PolicyChange,
    restricts: bool,
    wanted: Sequence[Hashable],
    own: Mapping[Hashable, Any],
    view: Mapping[Hashable, Any],
) -> dict[Hashable, Any]:
    """What a policy change that reaches a buyer does to the buyer's refolded intents
    (``own``), as the orders projection's ``_restrict`` / ``_lift`` do to each of them,
    without building the restriction facts a buyer's refold does not keep: a ban or
    restriction blocks each intent on its product (or supplier); a permit or lift
    clears the restrictions of its authority on its product (``view``: as they stand
    just before it) from each intent they block."""
    out: dict[Hashable, Any] = {}
    product = _product_of(event)
    if product is None:
        return out
    if restricts:
        for fkey in wanted:
            intent = own.get(fkey)
            if intent is not None and product in (
                intent.product.casefold(),
                intent.supplier.casefold(),
            ):
                out[fkey] = _reblocked(intent, _with_id(intent.blocked_by, event.id), event)
        return out
    lifted = view.get(("_restrictions_by", event.authority, product))
    if not lifted:
        return out
    gone = set(lifted)
    for fkey in wanted:
        intent = own.get(fkey)
        if intent is not None and not gone.isdisjoint(intent.blocked_by):
            kept = tuple(rid for rid in intent.blocked_by if rid not in gone)
            out[fkey] = _reblocked(intent, kept, event)
    return out


_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STAMP = 15  # hex digits of microseconds since 0001-01-01 UTC: any year up to 9999


def okey(occurred_at: datetime, position: int) -> str:
    """The fold-order key as sortable text: the occurred time (UTC microseconds since
    0001-01-01, 15 hex digits) then the log position (10 hex digits). 25 characters
    where the readable spelling took 40: each fact version stores its key twice (the
    versions' key and the index in fold order)."""
    return f"{(occurred_at - _YEAR_ONE) // _MICROSECOND:015x}{position:010x}"


def okey_time(key: str) -> datetime:
    """The occurred time a fold key (or a :func:`_bound`) names."""
    return _YEAR_ONE + timedelta(microseconds=int(key[:_STAMP], 16))


def _position_of(key: str) -> int:
    """The log position a fold key names."""
    return int(key[_STAMP:], 16)


def _bound(at: datetime | None) -> str:
    """A key after every fold key up to ``at`` and before any later one."""
    return _MAX if at is None else f"{(at - _YEAR_ONE) // _MICROSECOND:015x}{_MAX}"


def _readable(key: str) -> str:
    """A fold key as people read it: ``2025-12-09T03:04:05.000000Z (log position 12)``."""
    return f"{to_text(okey_time(key))} (log position {_position_of(key)})"


def materializable(projections: Sequence[Projection]) -> bool:
    """Whether these projections are the built-ins this module knows how to persist."""
    kinds = sorted(type(p).__name__ for p in projections)
    return kinds == ["OrderIntentProjection", "StanceProjection"] and all(
        type(p) in (StanceProjection, OrderIntentProjection) for p in projections
    )


# --- fact codec ------------------------------------------------------------------


_LAYOUTS: weakref.WeakKeyDictionary[Codec, dict[type, FactLayout]] = weakref.WeakKeyDictionary()


def fact_layouts(projections: Sequence[Projection], codec: Codec) -> list[FactLayout]:
    """The layouts of the facts these projections keep (``fact_types`` of each),
    generated once per codec and fact class (a newly opened store reuses them)."""
    types = dict.fromkeys(t for p in projections for t in getattr(p, "fact_types", ()))
    known = _LAYOUTS.setdefault(codec, {})
    for t in types:
        if t not in known:
            known[t] = FactLayout(t, codec)
    return [known[t] for t in types]


_SIGNATURES: dict[tuple[tuple[str, ...], tuple[FactLayout, ...]], str] = {}


def _signature(names: tuple[str, ...], layouts: tuple[FactLayout, ...]) -> str:
    """:func:`signature` of these projections and layouts, worked out once per process
    (a newly opened store would otherwise describe and hash every layout again)."""
    found = _SIGNATURES.get((names, layouts))
    if found is None:
        found = _SIGNATURES[(names, layouts)] = signature(LOGIC_VERSION, names, layouts)
    return found


_IDENTITY_LIMIT = 100_000  # sources remembered by identity (see _FactCodec._source_ref)
_MISSES_BEFORE_PRELOAD = 64
"""Single facts whose sources are read one query each before all are read in one (a
state at T reads them all anyway; a long run of lookups then costs one query each)."""


class _FactCodec:
    """Compact JSON for facts; sources are interned in ``fact_sources``."""

    def __init__(self, store: SnapshotStore, codec: Codec, layouts: Sequence[FactLayout]) -> None:
        self.store = store
        self.codec = codec
        self.layouts = {layout.cls: layout for layout in layouts}
        self.by_tag = {layout.tag: layout for layout in layouts}
        self._source_ids: dict[ev.Source, int] = {}
        self._sources = _Sources(self._decode_source)
        # the same, by object identity: folds share one Source object per source, and
        # hashing a Source (every field) costs more than the rest of interning it
        self._by_identity: dict[int, tuple[ev.Source, int]] = {}
        self._loaded = 0  # sources with ids up to this one are in the caches
        self._misses = 0  # single facts whose sources were read one by one
        # single facts looked up, by their stored text (facts are immutable; the same
        # text names the same interned sources until a rolled-back write: forget)
        self._decoded: dict[str, Any] = {}

    def preload(self) -> None:
        """Read the interned sources not read yet, in one query (before decoding facts).
        Each is decoded when a fact first cites it (:class:`_Sources`): a reader doing a
        few hundred lookups decodes the few sources they cite, not all of them."""
        pending = self._sources.pending
        for ref, text in self.store.sources(self._loaded):
            if ref not in self._sources:
                pending[ref] = text
            self._loaded = ref

    def _add(self, ref: int, text: str) -> None:
        self._sources[ref] = self._decode_source(ref, text)

    def _decode_source(self, ref: int, text: str) -> ev.Source:
        # the store wrote it: the trusted plan, not strict structuring (a cold lookup
        # reads a few sources, a state at T thousands)
        source: ev.Source = self.codec.decode_record_trusted(loads_trusted(text), ev.Source)
        self._source_ids[source] = ref
        return source

    def forget(self) -> None:
        """Drop the interning caches (after a rolled-back write)."""
        self._source_ids.clear()
        self._sources.clear()
        self._by_identity.clear()
        self._decoded.clear()
        self._loaded = 0

    def _source_ref(self, source: ev.Source) -> int:
        seen = self._by_identity.get(id(source))
        if seen is not None and seen[0] is source:
            return seen[1]
        ref = self._source_ids.get(source)
        if ref is not None:
            self._remember(source, ref)
            return ref
        # called inside the snapshot write transaction
        ref = self.store.source_ref(canonical_json(self.codec.unstructure(source)))
        self._source_ids[source] = ref
        self._sources[ref] = source
        self._remember(source, ref)
        return ref

    def _remember(self, source: ev.Source, ref: int) -> None:
        if len(self._by_identity) >= _IDENTITY_LIMIT:
            self._by_identity.clear()  # bounded: the objects it keeps alive
        self._by_identity[id(source)] = (source, ref)

    def _sources_of(self, refs: list[int]) -> tuple[ev.Source, ...]:
        try:
            return tuple(map(self._sources.__getitem__, refs))
        except KeyError:
            fetch: Callable[[list[int]], list[tuple[int, str]]] | None = getattr(
                self.store, "sources_with_ids", None
            )
            self._misses += 1
            if fetch is not None and self._misses <= _MISSES_BEFORE_PRELOAD:
                # only the ones this fact cites (a cold single lookup)
                for ref, text in fetch([r for r in refs if not self._sources.holds(r)]):
                    self._add(ref, text)
            elif fetch is not None:
                self.preload()  # a reader doing many lookups: all of them, once
            elif self._loaded == 0:
                raise  # nothing preloaded yet: the caller preloads and retries
            else:
                self.preload()  # interned since the last preload (another writer)
            return tuple(map(self._sources.__getitem__, refs))

    def dumps(self, fact: Any) -> str | None:
        """A fact as compact JSON (``None`` stays ``None``: the fact was removed)."""
        if fact is None:
            return None
        layout = self.layouts.get(type(fact))
        data = ["T", fact] if layout is None else layout.dump(fact, self._source_ref)
        return canonical_json_plain(data)  # compact; fact data holds no floats

    def loads(self, text: str) -> Any:
        """A fact from its JSON (an index, tagged ``"T"``, as nested tuples)."""
        data = loads_trusted(text)
        layout = self.by_tag.get(data[0])
        if layout is None:
            return _tuples(data[1])
        return layout.load(data, self._sources_of)

    def loads_one(self, text: str) -> Any:
        """:meth:`loads` for single-fact lookups: each text decoded once (bounded)."""
        found = self._decoded.get(text)
        if found is None:
            found = self.loads(text)
            if len(self._decoded) >= _DECODED_LIMIT:
                self._decoded.clear()
            self._decoded[text] = found
        return found


class _Sources(dict[int, ev.Source]):
    """Interned sources by number; those read but not decoded yet (``pending``: their
    stored text) are decoded when first asked for."""

    __slots__ = ("decode", "pending")

    def __init__(self, decode: Callable[[int, str], ev.Source]) -> None:
        super().__init__()
        self.decode = decode
        self.pending: dict[int, str] = {}

    def __missing__(self, ref: int) -> ev.Source:
        text = self.pending.pop(ref)  # KeyError: not read at all (the caller reads it)
        source = self[ref] = self.decode(ref, text)
        return source

    def holds(self, ref: int) -> bool:
        """Whether ``ref`` is here, decoded or not."""
        return ref in self.pending or dict.__contains__(self, ref)

    def clear(self) -> None:
        super().clear()
        self.pending.clear()


_DECODED_LIMIT = 4_096  # decoded facts a reader keeps for repeated lookups
_INDEX_TAG = '["T"'  # how an index fact's JSON starts (see _FactCodec.dumps)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


_QUOTE = json.encoder.encode_basestring  # what _ENCODE does to each string


def _key_text(projection: str, key: Hashable) -> str:
    """``[projection, key]`` as compact JSON: the fact's key in the tables."""
    if type(key) is tuple and all(type(k) is str for k in key):
        # the common case, spelled out: the same text as _ENCODE, at a fraction of the cost
        return f"[{_QUOTE(projection)},[{','.join(map(_QUOTE, key))}]]"
    return _ENCODE([projection, key])


def _key_of(text: str) -> tuple[str, Hashable]:
    projection, key = loads_trusted(text)
    return projection, _tuples(key)


# --- the snapshots ------------------------------------------------------------------


class Snapshots:
    """Fact versions of the built-in projections, kept in step with the log lazily."""

    def __init__(
        self,
        log: EventLog,
        store: SnapshotStore,
        projections: Sequence[Projection],
        ctx: Context,
    ) -> None:
        self.log = log
        self.store = store
        self.projections = tuple(projections)
        self.ctx = ctx
        layouts = fact_layouts(self.projections, log.codec)
        self.signature = _signature(tuple(p.name for p in self.projections), tuple(layouts))
        if ctx.actor_kinds:
            # kind:<kind> targets depend on the actors' kinds: a change refolds
            kinds = canonical_json(sorted(ctx.actor_kinds))
            self.signature += ":" + hashlib.sha256(kinds.encode("utf-8")).hexdigest()[:16]
        self.codec = _FactCodec(store, log.codec, layouts)
        self._parsed_keys: dict[str, tuple[str, Hashable]] = {}  # key text -> (projection, key)
        # single-fact lookups: (projection, key) -> key text, valid time -> fold key bound
        self._lookup_texts: dict[Any, str] = {}
        self._state_keys: dict[str, tuple[str, Hashable] | None] = {}  # the same, facts only
        # the in-memory fold at the checkpoint's fold key and log position, reused while
        # the stored checkpoint is still there: another writer's backdated event moves
        # the position alone (the fold key stays), and its refold the stored facts
        self._fold: Fold | None = None
        self._fold_key = ""
        self._fold_position = 0
        self.folded = 0  # events folded by the last catch-up (how much work it did)
        self._progress: Callable[[int], None] | None = None  # see catch_up
        # (checkpoint, head, start) when a bounded upkeep found too much to refold
        self._behind: tuple[Checkpoint, int, str] | None = None
        # (change marker, checkpoint, head) when last known to be up to date
        self._fresh: tuple[tuple[int, int], Checkpoint | None, int] | None = None
        # what _fresh becomes once the append that carried fold_appended commits
        self._committing: tuple[tuple[int, int], Checkpoint | None, int] | None = None
        # while a per-fact refold runs: key text -> (fold keys, texts, facts decoded),
        # read from _cache_from on (the earliest fold key the refold reads them at)
        self._cached: dict[str, tuple[list[str], list[str | None], dict[int, Any]]] | None = None
        self._cache_from = ""
        # the log head, and what each correction or retraction names, by the id named
        self._naming: tuple[int, dict[str, list[str]]] | None = None
        # the fates of the policy changes a restriction refold asked about (per log
        # head, position and ids: see _policy_fates), and the log head with the ids of
        # the corrections whose replacement is a policy change
        self._fates_read: (
            tuple[tuple[int, int], set[str], tuple[set[str], dict[str, RecordedEvent]]] | None
        ) = None
        self._into_policy: tuple[int, set[str]] | None = None
        # while a per-fact refold runs: (key text, fold key) -> its versions after it
        self._histories: dict[tuple[str, str], _History] = {}
        # while a per-fact refold runs: the log positions of the events its corrections
        # and retractions target
        self._target_positions: set[int] = set()
        # while a per-fact refold runs: restriction keys whose rebuilt history differs
        # from the stored one -> the fold key from which they agree again
        # (_settled_after), and the (product, holder) pairs a restriction's versions reach
        self._unsettled: dict[Hashable, tuple[str, set[tuple[str, str]]]] = {}
        # the log's corrections and retractions up to a position, and the events they
        # target, read once and extended as the log grows (cleared after a rollback)
        self._metas_read: tuple[int, list[RecordedEvent]] = (0, [])
        self._targets_read: dict[str, RecordedEvent] = {}
        # the log's policy changes as stored, up to a position and occurring from a
        # time on, read once and extended as the log grows, each a _PolicyRow until a
        # refold needs it decoded (cleared after a rollback)
        self._policies_read: tuple[int, datetime | None, list[tuple[str, datetime, int, Any]]] = (
            0,
            None,
            [],
        )

    # --- reading ---------------------------------------------------------------------

    def covers(self, bounds: Bounds, marker: tuple[int, int] | None = None) -> bool:
        """Whether the versions answer a query with these knowledge bounds exactly."""
        if self._fresh is not None and self._fresh[0] == (marker or self.log.change_marker()):
            _, cp, head = self._fresh
        else:
            cp, head = self.store.checkpoint(), self.log.head()
        if cp is None or not cp.complete or cp.signature != self.signature:
            return False
        if cp.position != head:
            return False
        return _knows_everything(bounds, cp.max_reported, cp.max_recorded)

    def tables_for(self, bounds: Bounds) -> Mapping[str, Mapping[Hashable, Any]] | None:
        """The facts for ``bounds``, without writing anything; ``None`` if the
        versions cannot answer (the caller then folds the log).

        From the versions alone when they cover the log; otherwise from the
        nearest versions still valid, with the events after them folded in
        memory (events appended since the checkpoint, a backdated event, a
        correction or a retraction: the versions before its earliest occurred
        time still hold). Call it inside one read transaction (``log.reading()``).
        """
        cp, head = self.store.checkpoint(), self.log.head()
        if cp is None or not cp.complete or cp.signature != self.signature or cp.position > head:
            return None
        if cp.position == head:
            if not _knows_everything(bounds, cp.max_reported, cp.max_recorded):
                return None
            return self.tables_at(bounds.at)
        reported, recorded = self.log.time_extent(cp.position, head)
        max_reported = max(filter(None, [reported, cp.max_reported]), default=None)
        max_recorded = max(filter(None, [recorded, cp.max_recorded]), default=None)
        if not _knows_everything(bounds, max_reported, max_recorded):
            return None
        start = self._earliest_change(cp.position, head)
        resume = cp.okey if start > cp.okey else min(cp.okey, _predecessor(start))
        limit = _bound(bounds.at)
        if limit <= resume:
            return self.facts_at(bounds.at)  # nothing new matters before ``at``
        fold = Fold(self.projections, self.ctx)
        if resume:
            for name, table in self._facts(resume, inclusive=True).items():
                fold.facts[name].update(table)
        stream = fold_events(
            self.log,
            Bounds(),
            upto=head,
            occurred_from=okey_time(resume) if resume else None,
            ignore=ignored_type_names(self.log, self.projections),
        )
        try:
            for occurred_at, position, event in stream:
                key = okey(occurred_at, position)
                if key <= resume:
                    continue
                if key > limit:
                    break
                fold.run((event,))
        finally:
            cast(Generator[Any, None, None], stream).close()  # its cursor, before the commit
        return fold.facts

    def tables_at(self, at: datetime | None) -> Mapping[str, Mapping[Hashable, Any]]:
        """The facts as of ``at``: from the in-memory fold when it is at the head."""
        if at is None and self._fold is not None:
            cp = self.store.checkpoint()
            if cp is not None and cp.complete and self._fold_matches(cp):
                return {name: dict(table) for name, table in self._fold.facts.items()}
        return self.facts_at(at)

    def facts_at(self, at: datetime | None) -> Mapping[str, Mapping[Hashable, Any]]:
        """Every fact as of valid time ``at``, without the projections' own indexes
        (a state to read, not to fold on), each decoded when first read.

        With the cyclic collector paused: reading a checkpoint makes tens of thousands of
        small acyclic objects (key texts, parsed keys), and a full collection started by
        them walks the caller's whole heap (a writer's fold: measured at 1M events, a
        state at T after a backdated append took 200-240 ms with one, 105 ms without)."""
        with collector_paused():
            return self._facts_at(at)

    def _facts_at(self, at: datetime | None) -> Mapping[str, Mapping[Hashable, Any]]:
        tables: dict[str, dict[Hashable, Any]] = {p.name: {} for p in self.projections}
        rows = [
            row
            for row in self.store.facts_at(_bound(at), inclusive=True)
            if not row[1].startswith(_INDEX_TAG)
        ]
        self.codec.preload()
        keys = self._state_keys
        self._parse_keys([k for k, _ in rows])
        for key_text, fact in rows:
            parsed = keys[key_text]
            if parsed is not None:  # (None: a projection's own index key, left out)
                tables.setdefault(parsed[0], {})[parsed[1]] = fact
        return {name: LazyFacts(raw, self._loads) for name, raw in tables.items()}

    def _parse_keys(self, texts: list[str]) -> None:
        """Parse the key texts not parsed yet into ``_state_keys`` (one JSON decode for
        all); a projection's own index key maps to ``None``."""
        keys = self._state_keys
        missing = [t for t in texts if t not in keys]
        if not missing:
            return
        for text, (projection, key) in zip(
            missing, loads_trusted("[" + ",".join(missing) + "]"), strict=True
        ):
            if type(key) is list and key and list not in map(type, key):
                # the common case, a flat key of strings: no recursive walk; internal
                # (an index) when its first item starts with "_" (is_internal, inlined)
                first = key[0]
                internal = type(first) is str and first[:1] == "_"
                keys[text] = None if internal else (projection, tuple(key))
            else:
                key = _tuples(key)
                keys[text] = None if is_internal(key) else (projection, key)

    def _facts(self, key: str, *, inclusive: bool) -> dict[str, dict[Hashable, Any]]:
        """Every fact at fold key ``key`` (indexes included), decoded: to fold on."""
        tables: dict[str, dict[Hashable, Any]] = {p.name: {} for p in self.projections}
        rows = self.store.facts_at(key, inclusive=inclusive)
        self.codec.preload()
        keys = self._parsed_keys
        loads = self.codec.loads
        for key_text, fact in rows:
            parsed = keys.get(key_text)
            if parsed is None:
                parsed = keys[key_text] = _key_of(key_text)
            tables.setdefault(parsed[0], {})[parsed[1]] = loads(fact)
        return tables

    def fact_at(self, projection: str, key: Hashable, at: datetime | None) -> Any:
        """One fact as of valid time ``at`` (``None`` if absent)."""
        return self._decoded(self.store.fact_at(_key_text(projection, key), _bound(at)))

    def fact_if_unchanged(
        self, projection: str, key: Hashable, at: datetime | None, count: tuple[int, int]
    ) -> tuple[bool, Any]:
        """:meth:`fact_at` in one statement that also reads the store's change count:
        ``(True, fact)`` if the count is still ``count`` (nothing was committed since the
        caller read it, so the fact belongs to the state it checked then), else
        ``(False, None)``, as when the store cannot count its changes."""
        read: Callable[[str, str], tuple[tuple[int, int], str | None]] | None = getattr(
            self.store, "fact_counted", None
        )
        if read is None:
            return False, None
        texts = self._lookup_texts
        key_text = texts.get((projection, key))
        if key_text is None:
            if len(texts) >= _DECODED_LIMIT:
                texts.clear()
            key_text = texts[(projection, key)] = _key_text(projection, key)
        bound = texts.get(at)
        if bound is None:
            bound = texts[at] = _bound(at)
        found, text = read(key_text, bound)
        if found != count:
            return False, None
        return True, self._decoded(text)

    def _decoded(self, text: str | None) -> Any:
        if text is None:
            return None
        try:
            return self.codec.loads_one(text)
        except KeyError:
            # a source interned since the last preload (another writer): read them all
            self.codec.preload()
            return self.codec.loads_one(text)

    # --- keeping up with the log --------------------------------------------------------

    def ready(self, bounds: Bounds, marker: tuple[int, int] | None = None) -> bool:
        """Caught up, and able to answer ``bounds`` exactly.

        ``marker`` is ``log.change_marker()`` if the caller has just asked it.
        """
        marker = marker or self.log.change_marker()
        if self._fresh is None or self._fresh[0] != marker:
            if not self.catch_up():
                return False
            marker = None
        return self.covers(bounds, marker)

    def differences(self, limit: int = 10) -> list[str]:
        """How the stored versions differ from a fresh fold of the log (at most
        ``limit`` differences, the first of each fact, each naming the fact and the fold
        key); empty when they agree or are not built. Compares what each fact is at
        every fold key, so versions that restate a value are no difference.

        The fold and the stored versions are walked side by side in fold order, each
        fact's current value kept on both sides: memory follows the state, not its
        history (at a million events the histories held whole took 7.9 GB)."""
        stored_versions: Callable[[], Iterator[tuple[str, str, str | None]]] | None = getattr(
            self.store, "versions_in_fold_order", None
        )
        cp = self.store.checkpoint()
        if (
            stored_versions is None
            or cp is None
            or not cp.complete
            or cp.signature != self.signature
        ):
            return []
        fold = Fold(self.projections, self.ctx)
        stream = fold_events(
            self.log, Bounds(), upto=cp.position,
            ignore=ignored_type_names(self.log, self.projections),
        )  # fmt: skip

        def expected() -> Iterator[tuple[str, str, Any]]:
            for occurred_at, position, event in stream:
                key = okey(occurred_at, position)
                for projection, fkey, _, fact in fold.updates(event):
                    yield key, _key_text(projection, fkey), fact

        self.codec.preload()
        folded: dict[str, Any] = {}  # each fact's value as the log gives it, so far
        kept: dict[str, Any] = {}  # and as stored
        told: set[str] = set()  # facts already reported (their first difference only)
        problems: list[str] = []
        log_side = expected()
        store_side = stored_versions()
        try:
            a = next(log_side, None)
            b = next(store_side, None)
            while (a is not None or b is not None) and len(problems) < limit:
                at = min(x for x in (a and a[0], b and b[1]) if x is not None)
                touched: set[str] = set()
                while a is not None and a[0] == at:
                    folded[a[1]] = a[2]
                    touched.add(a[1])
                    a = next(log_side, None)
                while b is not None and b[1] == at:
                    kept[b[0]] = None if b[2] is None else self.codec.loads(b[2])
                    touched.add(b[0])
                    b = next(store_side, None)
                for key_text in sorted(touched - told):
                    va, vb = folded.get(key_text), kept.get(key_text)
                    if va != vb:
                        told.add(key_text)
                        problems.append(
                            f"snapshot fact {key_text} at {_readable(at)}: "
                            f"stored {_short(vb)}, the log gives {_short(va)}"
                        )
        finally:
            close = getattr(store_side, "close", None)
            if close is not None:
                close()
        return problems[:limit]

    def refresh(self) -> bool:
        """Best effort: bring the versions up to the head if that can be done now.

        Never waits for another writer's lock and never raises a store error: a
        read-only file or directory, a full disk or a busy writer leave the
        versions as they are, and readers fold the rest in memory
        (:meth:`tables_for`). Returns whether the versions are at the head.
        """
        if self.log.readonly:
            return False
        self.store.wait = False
        try:
            return self.catch_up()
        except StoreError:
            self._fold = None
            self._fresh = None
            self._forget()
            return False
        finally:
            self.store.wait = True

    def catch_up(
        self,
        limit: int | None = None,
        appended: Sequence[RecordedEvent] = (),
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """Bring the versions up to the head of the log; ``False`` if another writer
        kept moving them (the caller then folds the log itself), or if it would refold
        more than ``limit`` events (a writer's bounded upkeep: left for later).
        ``appended``: the records the writer's append just wrote, in hand (not read
        back when they are exactly the events after the checkpoint). ``progress``:
        called with the events folded since its last call, as each chunk of a long
        fold is written."""
        if self._fresh is not None and self._fresh[0] == self.log.change_marker():
            return True  # nothing was written anywhere since we were last up to date
        self._progress = progress
        try:
            return self._catch_up_tries(limit, appended)
        finally:
            self._progress = None

    def _catch_up_tries(self, limit: int | None, appended: Sequence[RecordedEvent]) -> bool:
        for _ in range(3):
            try:
                self._catch_up_once(limit, appended)
            except _TooMuch:
                return False
            except CheckpointMoved:
                self._fold = None
                continue
            marker = self._marker_after_commit()
            if marker is None:
                self._fresh = (self.log.change_marker(), self.store.checkpoint(), self.log.head())
            else:  # inside the writer's append: current once it commits (committed())
                self._committing = (marker, self.store.checkpoint(), self.log.head())
            return True
        return False

    def _marker_after_commit(self) -> tuple[int, int] | None:
        after_commit: Callable[[], tuple[int, int] | None] | None = getattr(
            self.log, "marker_after_commit", None
        )
        return after_commit() if after_commit is not None else None

    def fold_appended(self, records: Sequence[RecordedEvent]) -> bool:
        """The writer's common case, inside its append's own transaction: fold the
        events just appended on top of the in-memory fold, from the records in hand
        (nothing is read back or decoded again), and write their versions and the
        checkpoint. Only when the versions were at the log's head before this batch and
        every event of it sorts after everything folded, none a correction or a
        retraction; otherwise ``False`` and nothing is written (the caller catches up).
        """
        fold = self._fold
        if not records or fold is None:
            return False
        cp = self.store.checkpoint()
        if (
            cp is None
            or not cp.complete
            or cp.signature != self.signature
            or not self._fold_matches(cp)
            or cp.position != records[0].position - 1
        ):
            return False
        ignored = self._ignored()
        registry = self.log.codec.registry
        placed: list[tuple[str, ev.Event]] = []
        max_reported, max_recorded = cp.max_reported, cp.max_recorded
        for record in records:
            event = record.event
            if ev.target_of(event) is not None:
                return False
            reported, recorded = to_text(record.reported_at), to_text(record.recorded_at)
            if max_reported is None or reported > max_reported:
                max_reported = reported
            if max_recorded is None or recorded > max_recorded:
                max_recorded = recorded
            if registry.of(event).name in ignored:
                continue  # no projection follows it, wherever it sorts
            key = okey(event.occurred_at, record.position)
            if key <= cp.okey:
                return False  # backdated: the versions after it change
            placed.append((key, event))
        placed.sort(key=lambda pair: pair[0])
        self._fold = None  # until the versions are written
        self._fresh = self._committing = None
        rows: list[tuple[str, str, Any]] = []
        last = cp.okey
        for key, event in placed:
            for projection, fkey, _, fact in fold.updates(event):
                rows.append((_key_text(projection, fkey), key, fact))
            last = key
        self.folded = len(placed)
        done = attrs.evolve(
            cp,
            position=records[-1].position,
            okey=last,
            max_reported=max_reported,
            max_recorded=max_recorded,
        )
        try:
            self.store.write_versions(cp, rows, self.codec.dumps, done)
        except BaseException:
            self._forget()
            raise
        self._fold, self._fold_key, self._fold_position = fold, last, done.position
        marker = self._marker_after_commit()
        self._committing = None if marker is None else (marker, done, done.position)
        return True

    def committed(self) -> None:
        """The write transaction that carried :meth:`fold_appended` committed: the
        versions are current, and the next query need not look again."""
        if self._committing is not None:
            self._fresh, self._committing = self._committing, None

    def _ignored(self) -> frozenset[str]:
        """Stored type names no projection follows (worked out again when the registry
        grows: a name, once registered, keeps its class)."""
        size = self.log.codec.registry.size()
        cached: tuple[int, frozenset[str]] | None = getattr(self, "_ignored_cache", None)
        if cached is None or cached[0] != size:
            cached = self._ignored_cache = (
                size,
                frozenset(ignored_type_names(self.log, self.projections)),
            )
        return cached[1]

    def _catch_up_once(
        self, limit: int | None = None, appended: Sequence[RecordedEvent] = ()
    ) -> None:
        self.folded = 0
        self._fresh = self._committing = None
        head = self.log.head()
        cp = self.store.checkpoint()
        if cp is None or not self._fold_matches(cp):
            self._fold = None  # another writer moved the versions on: read from them
        meta_after = 0
        if cp is not None and cp.signature == self.signature and cp.complete:
            if cp.position == head:
                return
            if limit is not None and self._behind is not None and self._behind[0] == cp:
                raise _TooMuch  # already too far behind for this checkpoint: only more now
            self._cached = {}  # restriction versions, read once per refold (_stored)
            self._cache_from = _MAX
            # the refold builds many small acyclic objects while the writer holds its
            # whole fold: the cyclic collector would walk that fold again and again
            # (measured: a third of a backdated ban at 1M events). Paused, as Fold.run
            # does, and run as it was afterwards.
            paused = gc.isenabled()
            if paused:
                gc.disable()
            try:
                refolded = self._refold_facts(cp, head, appended)
            finally:
                if paused:
                    gc.enable()
                self._cached = None
                self._histories = {}
                self._target_positions = set()
                self._unsettled = {}
            if refolded:
                return
            start = self._start(cp, head)
            if start > cp.okey:
                self._begin(cp, head, delete_from=None, resume_after=cp.okey)
                new_meta = EventFilter(
                    types=meta_type_names(self.log), after_position=cp.position, upto_position=head
                )
                if next(iter(self.log.read(new_meta)), None) is None:
                    # only new plain events: the log up to cp.position is folded (or
                    # skipped as retracted); fold the new events alone
                    meta_after = cp.position
            else:
                try:
                    self._within(limit, start)
                except _TooMuch:
                    self._behind = (cp, head, start)
                    raise
                self._begin(cp, head, delete_from=start, resume_after=_predecessor(start))
        elif cp is None or cp.signature != self.signature:
            self._within(limit, "")
            self._begin(cp, head, delete_from="", resume_after="")
        else:
            self._within(limit, cp.okey)
        self._resume(meta_after)

    def _start(self, cp: Checkpoint, head: int) -> str:
        """The fold key from which the events after ``cp`` change the versions; what an
        upkeep that stopped short already worked out is not read again."""
        if self._behind is not None and self._behind[0] == cp and self._behind[1] <= head:
            _, seen, start = self._behind
            if seen < head:
                start = min(start, self._earliest_change(seen, head))
            self._behind = (cp, head, start)
            return start
        return self._earliest_change(cp.position, head)

    def _within(self, limit: int | None, start: str) -> None:
        """Raise ``_TooMuch`` if refolding from fold key ``start`` exceeds ``limit`` events."""
        if limit is None:
            return
        count: Callable[[datetime | None], int] | None = getattr(
            self.log, "count_occurred_from", None
        )
        since = okey_time(start) if start else None
        if count is None or count(since) > limit:
            raise _TooMuch

    def _begin(
        self, expected: Checkpoint | None, head: int, *, delete_from: str | None, resume_after: str
    ) -> None:
        """Mark a fold towards ``head`` as under way, dropping versions it will redo."""
        scratch = expected is None or expected.signature != self.signature
        after = 0 if scratch or expected is None else expected.position
        reported, recorded = self.log.time_extent(after, head)
        previous = (
            (None, None)
            if scratch or expected is None
            else (expected.max_reported, expected.max_recorded)
        )
        max_reported = max(filter(None, [reported, previous[0]]), default=None)
        max_recorded = max(filter(None, [recorded, previous[1]]), default=None)
        checkpoint = Checkpoint(
            head, resume_after, max_reported, max_recorded, self.signature, complete=False
        )
        self.store.begin(expected, checkpoint, delete_from=delete_from)
        if delete_from is not None:
            self._fold = None

    def _resume(self, meta_after: int = 0) -> None:
        """Fold from the checkpoint's fold key up to its log position, in chunks."""
        cp = self.store.checkpoint()
        assert cp is not None
        if self._fold is not None and self._fold_key == cp.okey:
            fold = self._fold
        else:
            fold = Fold(self.projections, self.ctx)
            if cp.okey:
                for name, table in self._facts(cp.okey, inclusive=True).items():
                    fold.facts[name].update(table)
        self._fold = None
        upto = cp.position
        ignore = ignored_type_names(self.log, self.projections)
        fields = read_fields(self.projections)  # folded and dropped: the fold keeps facts
        corrections = corrections_for(
            self.log, Bounds(), upto, okey_time(cp.okey) if cp.okey else None, meta_after
        )

        def segment(after: str) -> Iterator[tuple[datetime, int, ev.Event]]:
            """The log in fold order from fold key ``after`` on (the events at its time
            sort from there again, and are skipped), with the corrections read once."""
            return fold_events(
                self.log,
                Bounds(),
                upto=upto,
                occurred_from=okey_time(after) if after else None,
                ignore=ignore,
                meta_after=meta_after,
                corrections=corrections,
                fields=fields,
            )

        last = cp.okey
        batch: list[tuple[str, str, Any]] = []
        pending = 0
        stream = segment(last)
        # a first reader after a bulk load folds the whole log here: the fold and the
        # versions in hand grow all the while, and the cyclic collector would walk them
        # again and again (as in Fold.run). Nothing here makes a cycle.
        with collector_paused():
            while True:
                for occurred_at, position, event in stream:
                    key = okey(occurred_at, position)
                    if key <= cp.okey:
                        continue
                    for projection, fkey, _, fact in fold.updates(event):
                        batch.append((_key_text(projection, fkey), key, fact))
                    last = key
                    pending += 1
                    self.folded += 1
                    if pending >= _CHUNK:
                        break
                else:
                    break
                # the read ends before each write and starts again after it: a read
                # held open across the writes kept SQLite from ever restarting its
                # write-ahead log, which grew by all the refold wrote (2.6 GB at 1M)
                stream.close()  # type: ignore[attr-defined]
                cp = self._flush(cp, batch, last, complete=False)
                if self._progress is not None:
                    self._progress(pending)
                batch, pending = [], 0
                stream = segment(last)
            self._flush(cp, batch, last, complete=True)
            if self._progress is not None and pending:
                self._progress(pending)
        self._fold, self._fold_key, self._fold_position = fold, last, upto

    def _flush(
        self, cp: Checkpoint, batch: list[tuple[str, str, Any]], last: str, *, complete: bool
    ) -> Checkpoint:
        done = attrs.evolve(cp, okey=last, complete=complete)
        try:
            self.store.write_versions(cp, batch, self.codec.dumps, done)
        except BaseException:
            self._forget()  # interned source ids may have been rolled back
            raise
        return done

    # --- per-fact invalidation ---------------------------------------------------------

    def _refold_facts(
        self, cp: Checkpoint, head: int, appended: Sequence[RecordedEvent] = ()
    ) -> bool:
        """Apply backdated events by refolding only the facts they touch, and fold the
        batch's other (new, later) events on top: one transaction with the checkpoint.

        A stance depends on nothing but the events that set it: a backdated
        announcement, statement, regulator meeting, policy change or inquiry (with a
        topic) changes the ``(actor, topic)`` stances it sets from its time on. Their
        later versions name the events that shaped them (``versions_after``: the index
        from a fact to its events); those are replayed on top of the version just
        before it.

        A buyer's order intents depend on the buyer's own inquiries and orders, and on
        the restrictions in force: a backdated inquiry or order refolds the intents of
        each buyer it names from its time on, replaying that buyer's events and the
        policy changes since, reading the restrictions from their stored versions.

        Restrictions (and their indexes) depend on policy changes alone: a backdated
        policy change, or a correction or retraction of one, replays the policy
        changes from its time on twice, as the log stood before the batch and as it
        stands now, rewrites the restriction facts either replay touches, and refolds
        the intents of the buyers (by id, or by kind for ``kind:<kind>`` entries) whose
        blocking restrictions differ between the two.

        Denials and confirmations only add to ``disputed_by`` / ``confirmed_by`` of the
        facts whose evidence holds an event they name: every refolded fact is checked
        against the claims at each point (:class:`_ClaimBook`), and a backdated claim
        rewrites the versions of the facts its events shape from its time on. A claim's
        scope (whether its actor takes part in a fact it names) is kept as stored; a
        refold that would change it returns ``False``.

        Actors' kinds are read from the fold's context, so ``kind:<kind>`` entries need
        no bail-out here; declaring an actor with a kind (or changing one) changes the
        snapshots' signature and rebuilds them, because a ``kind:`` restriction reaches
        that actor from the restriction's own time, before anything recorded it.

        ``False`` (the caller refolds everything from the earliest change): a type of
        one's own, chains of corrections (a correction or retraction of one stored
        before), corrections or retractions of claims, a backdated claim together with
        other backdated events, a claim naming an event of the same batch, a claim's
        scope that changes, or more than ``_TARGETED_MAX`` new events.
        """
        store = self.store
        replace = getattr(store, "replace_versions", None)
        versions_after = getattr(store, "versions_after", None)
        if replace is None or versions_after is None or not hasattr(store, "versions_from"):
            return False  # a snapshot store without per-fact versions
        if head - cp.position > _TARGETED_MAX:
            return False
        stance = next((p for p in self.projections if type(p) is StanceProjection), None)
        orders = next((p for p in self.projections if type(p) is OrderIntentProjection), None)
        if stance is None or orders is None:
            return False
        if appended and appended[0].position == cp.position + 1 and appended[-1].position == head:
            new = list(appended)  # the writer's records in hand: nothing read back
        else:
            new = list(self.log.read(EventFilter(after_position=cp.position, upto_position=head)))
        if not new:
            return False
        ignored = set(ignored_type_names(self.log, self.projections))
        registry = self.log.codec.registry
        placed: dict[str, list[tuple[str, ev.Event]]] = {}
        buyers: dict[str, str] = {}  # buyer -> the earliest fold key its intents change at
        # buyer -> the intents that change (keys), or the products / suppliers whose do
        scope: dict[str, set[Hashable]] = {}
        # buyer -> the batch's inquiries and orders that now shape its intents, placed
        arrivals: dict[str, list[tuple[str, ev.Event]]] = {}
        forward: list[tuple[str, ev.Event]] = []
        targets: set[str] = set()
        claims: list[tuple[str, ev.Event]] = []  # backdated denials and confirmations
        policy_from = _MAX  # the earliest backdated policy change (or a version of one)
        ids = {r.id for r in new}
        fates: tuple[set[str], dict[str, RecordedEvent]] = (set(), {})
        if any(ev.target_of(r.event) in ids for r in new) and not _SAME_BATCH_TARGETS:
            return False  # see _SAME_BATCH_TARGETS
        if any(ev.target_of(r.event) in ids for r in new):
            # corrects or retracts an event of this very batch: that event stands as
            # its correction has it (or not at all), like any new event
            # (only an event of this batch can correct or retract one of its events)
            fates = resolve_meta(r for r in new if ev.target_of(r.event) is not None)
        for record in new:
            event = record.event
            if record.id in fates[0]:
                continue  # retracted in the same batch
            if record.id in fates[1]:
                if ev.target_of(event) is not None:
                    return False  # a correction corrected in its own batch
                event = replacement_of(record, fates[1][record.id])
            key = okey(event.occurred_at, record.position)
            if registry.of(event).name in ignored:
                continue  # no projection follows it: nothing changes
            target = ev.target_of(event)
            if target is not None:
                if target not in ids:
                    targets.add(target)  # its target's facts refold, below
                continue
            if key > cp.okey:
                forward.append((key, event))  # folded on top, as any new event
                continue
            if isinstance(event, ev.Denial | ev.Confirmation):
                claims.append((key, event))
                continue
            stance_keys = _stance_keys(event)
            if stance_keys is None:
                return False  # a type of one's own: refold from it
            for stance_key in dict.fromkeys(stance_keys):
                placed.setdefault(_key_text("stance", stance_key), []).append((key, event))
            policy_from = min(policy_from, _reach(event, key, buyers, scope, arrivals))
        if targets:
            found = self._place_targets(cp, new, targets, placed, buyers, scope, arrivals, forward)
            if found is None:
                return False
            policy_from = min(policy_from, found)
        policies = policy_from != _MAX
        if claims and (placed or buyers or targets or policies):
            return False  # claims and other backdated events together: refold from the earliest
        if not placed and not buyers and not targets and not claims and not policies:
            return False  # nothing backdated: the forward fold takes it
        if (buyers or policies) and not self._orders_types_plain():
            return False
        book: _ClaimBook | None = None
        if claims or self._has_claims():
            book = self._claim_book(cp)
            if book is None:
                return False
        rows: list[tuple[str, str, Any]] = []
        dropped: list[tuple[str, str, str]] = []
        finals: dict[tuple[str, Hashable], Any] = {}
        if claims:
            assert book is not None
            if not self._refold_claims(cp, claims, book, rows, finals):
                return False
        overlay: _Overlay = {}
        earliest = min([policy_from, *buyers.values()])
        if earliest != _MAX:
            self._cache_from = _predecessor(earliest)  # restrictions read from there (_stored)
        if policies and not self._refold_restrictions(
            cp, head, orders, policy_from, book, buyers, scope, overlay, rows, dropped, finals
        ):
            return False
        if placed and not self._refold_stances(
            cp, stance, placed, versions_after, rows, dropped, finals, targets, book
        ):
            return False
        if buyers and not self._refold_buyers(
            cp, orders, buyers, scope, arrivals, rows, dropped, finals, targets, book, overlay
        ):
            return False
        last = cp.okey
        fold: Fold | None = None
        if forward:
            fold = self._fold_at(cp)
            for (name, fkey), fact in finals.items():
                table = fold.facts[name]
                if fact is None:
                    table.pop(fkey, None)
                else:
                    table[fkey] = fact
            forward.sort(key=lambda pair: pair[0])
            for key, event in forward:
                for projection, fkey, _, fact in fold.updates(event):
                    rows.append((_key_text(projection, fkey), key, fact))
                self.folded += 1
                last = key
        reported, recorded = self.log.time_extent(cp.position, head)
        done = attrs.evolve(
            cp,
            position=head,
            okey=last,
            max_reported=max(filter(None, [reported, cp.max_reported]), default=None),
            max_recorded=max(filter(None, [recorded, cp.max_recorded]), default=None),
        )
        removed, rows = self._only_changes(dropped, rows)
        try:
            replace(cp, removed, rows, self.codec.dumps, done)
        except BaseException:
            self._forget()
            self._fold = None
            raise
        if fold is not None:
            self._fold, self._fold_key, self._fold_position = fold, last, head
        elif self._fold is not None and self._fold_matches(cp):
            for (name, fkey), fact in finals.items():
                table = self._fold.facts[name]
                if fact is None:
                    table.pop(fkey, None)
                else:
                    table[fkey] = fact
            self._fold_position = head
        else:
            self._fold = None
        return True

    def _place_targets(
        self,
        cp: Checkpoint,
        new: list[RecordedEvent],
        targets: set[str],
        placed: dict[str, list[tuple[str, ev.Event]]],
        buyers: dict[str, str],
        scope: dict[str, set[Hashable]],
        arrivals: dict[str, list[tuple[str, ev.Event]]],
        forward: list[tuple[str, ev.Event]],
    ) -> str | None:
        """The facts that new corrections and retractions change: for each target, the
        stances and buyers every version of it (the original and each replacement)
        touches, from the earliest of their places on; where a target stands now joins
        ``placed`` (or ``forward``, folded on top, if it now sorts after everything
        folded); where an inquiry or order stands now joins ``arrivals``. Returns the
        earliest place of a policy change among them (``_MAX``:
        none), whose restrictions refold from there. ``None``: refold from the earliest
        change instead (a correction of a correction or retraction, a target in this
        batch, a claim or a type of one's own)."""
        if any(r.id in targets for r in new):
            return None  # corrects or retracts an event of this very batch
        registry = self.log.codec.registry
        ignored = set(ignored_type_names(self.log, self.projections))
        metas = self._metas(self.log.head())
        retracted, replaced = resolve_meta(metas)
        versions: dict[str, list[ev.Event]] = {}
        policy_from = _MAX
        for meta in metas:
            if isinstance(meta.event, ev.Correction) and meta.event.corrects in targets:
                versions.setdefault(meta.event.corrects, []).append(meta.event.replacement)
        for original in self.log.read_ids(sorted(targets)):
            if ev.target_of(original.event) is not None:
                return None  # a correction or retraction of one: chains refold from it
            position = original.position
            self._target_positions.add(position)  # its stored places: see _refold_stances
            shapes = [original.event, *versions.get(original.id, [])]
            if all(registry.of(x).name in ignored for x in shapes):
                continue  # no projection follows any version of it
            earliest = min(okey(x.occurred_at, position) for x in shapes)
            for shape in shapes:
                if registry.of(shape).name in ignored:
                    continue  # a version no projection follows (a report)
                keys = _stance_keys(shape)
                if keys is None:
                    return None  # a claim (or a type of one's own)
                for stance_key in keys:
                    text = _key_text("stance", stance_key)
                    placed.setdefault(text, []).append((earliest, _NOTHING_NEW))
                policy_from = min(policy_from, _reach(shape, earliest, buyers, scope))
            if original.id in retracted:
                continue
            correction = replaced.get(original.id)
            now = original.event if correction is None else replacement_of(original, correction)
            stamp = okey(now.occurred_at, position)
            if stamp > cp.okey:
                forward.append((stamp, now))  # it now stands after everything folded
                continue
            for stance_key in _stance_keys(now) or ():
                placed.setdefault(_key_text("stance", stance_key), []).append((stamp, now))
            if type(now) in _ORDER_TYPES:
                for buyer in _buyers_of(now):
                    arrivals.setdefault(buyer, []).append((stamp, now))
        return policy_from

    def _fold_matches(self, cp: Checkpoint) -> bool:
        """Whether the in-memory fold holds the facts of checkpoint ``cp`` (complete):
        its fold key and its log position both (a backdated event another writer
        refolded per fact moves the position alone)."""
        return (
            self._fold is not None
            and cp.okey == self._fold_key
            and cp.position == self._fold_position
        )

    def _fold_at(self, cp: Checkpoint) -> Fold:
        """A fold holding the facts at the checkpoint's fold key (indexes included)."""
        if self._fold_matches(cp):
            assert self._fold is not None
            fold = self._fold
            self._fold = None  # it moves on: rebuilt from the versions if the write fails
            return fold
        fold = Fold(self.projections, self.ctx)
        if cp.okey:
            for name, table in self._facts(cp.okey, inclusive=True).items():
                fold.facts[name].update(table)
        return fold

    def _orders_types_plain(self) -> bool:
        """Whether the orders projection's event types are the built-in ones only (a
        registered subclass would not be read by the per-buyer refold's type filter)."""
        registry = self.log.codec.registry
        for name in registry.names():
            cls = registry.get(name).cls
            if issubclass(cls, (*_ORDER_TYPES, ev.PolicyChange)) and cls not in (
                *_ORDER_TYPES,
                ev.PolicyChange,
            ):
                return False
        return True

    # --- denials and confirmations in a refold ------------------------------------------

    def _claim_book(self, cp: Checkpoint) -> _ClaimBook | None:
        """The claims the versions hold (the log up to the checkpoint), each with the
        scope its stored registration says; ``None`` if one is not stored."""
        registry = self.log.codec.registry
        kept = {
            n
            for n in registry.names()
            if issubclass(registry.get(n).cls, ev.Denial | ev.Confirmation)
        }
        book = _ClaimBook()
        stream = fold_events(
            self.log,
            Bounds(),
            upto=cp.position,
            ignore=[n for n in registry.names() if n not in kept],
        )
        for at, position, event in stream:
            named = ev.claimed_ids(event)
            if not named:
                continue  # names nothing: the fold registers nothing
            found = self._stored(CLAIMS, ("_claim", event.id), cp.okey)
            if not isinstance(found, tuple) or len(found) != 3:
                return None
            kind, actor, scope = found
            book.add(okey(at, position), event.id, kind, actor, scope, named)
        return book

    def _candidacy_kept(
        self, book: _ClaimBook, claim_key: str, key_text: str, participants: Any, now: Any
    ) -> bool:
        """Whether a refolded fact is a candidate of the claim at ``claim_key`` (its
        evidence holds an event the claim names) as it was before, where that can decide
        the claim's scope (the claimant takes part in the fact)."""
        _, _, actor, _, named = book.claims[book.at[claim_key]]
        if actor not in participants:
            return True
        text = self.store.fact_at(key_text, claim_key)
        before = None if text is None else self._loads(text)
        return _names_any(before, named) == _names_any(now, named)

    def _refold_claims(
        self,
        cp: Checkpoint,
        claims: list[tuple[str, ev.Event]],
        book: _ClaimBook,
        rows: list[tuple[str, str, Any]],
        finals: dict[tuple[str, Hashable], Any],
    ) -> bool:
        """Backdated denials and confirmations: register each at its place with the scope
        the stored facts give it there, and re-check the versions of the facts shaped by
        the events it names from there on (nothing else about them changes)."""
        versions_from: Callable[[str, str], list[tuple[str, str | None]]] | None = getattr(
            self.store, "versions_from", None
        )
        if versions_from is None:
            return False
        affected: dict[str, tuple[str, Hashable, list[str]]] = {}
        starts: dict[str, str] = {}  # claimed event id -> the earliest new claim naming it
        for key, event in sorted(claims, key=lambda pair: pair[0]):
            named = ev.claimed_ids(event)
            if not named:
                continue
            shaped = self._shaped_by_ids(cp, named)
            if shaped is None:
                return False
            actor: str = getattr(event, "actor", "")
            wanted = set(named)
            own = False
            for projection, fkey in shaped.values():
                fact = self._stored(projection, fkey, key)
                if _names_any(fact, wanted) and actor in fact.participants:
                    own = True
                    break
            kind = _DENIAL if isinstance(event, ev.Denial) else _CONFIRMATION
            scope = _OWN if own else _ALL
            book.add(key, event.id, kind, actor, scope, named)
            registration: Hashable = ("_claim", event.id)
            rows.append((_key_text(CLAIMS, registration), key, (kind, actor, scope)))
            finals[(CLAIMS, registration)] = (kind, actor, scope)
            for event_id in named:
                starts[event_id] = min(starts.get(event_id, _MAX), key)
            for key_text, (projection, fkey) in shaped.items():
                affected.setdefault(key_text, (projection, fkey, []))[2].append(key)
            self.folded += 1
        for event_id, start in starts.items():
            index: Hashable = ("_claimed", event_id)
            ids: tuple[str, ...] = ()
            for at, claim_id in book.claimed[event_id]:
                ids = (*ids, claim_id)
                if at >= start:
                    rows.append((_key_text(CLAIMS, index), at, ids))
            finals[(CLAIMS, index)] = ids
        for key_text, (projection, fkey, points) in affected.items():
            first = min(points)
            before = _predecessor(first)
            stored = {
                at: (None if text is None else self._loads(text))
                for at, text in versions_from(key_text, before)
            }
            text = self.store.fact_at(key_text, before)
            current = None if text is None else self._loads(text)
            for at in sorted({*points, *stored}):
                if at in stored:
                    current = stored[at]
                if current is None:
                    continue
                checked = book.check(current, at)
                if checked != current:
                    rows.append((key_text, at, checked))
                self.folded += 1
            finals[(projection, fkey)] = None if current is None else book.check(current, _MAX)
        return True

    def _shaped_by_ids(
        self, cp: Checkpoint, ids: Sequence[str]
    ) -> dict[str, tuple[str, Hashable]] | None:
        """The facts whose evidence may hold one of these events (as they stand now):
        the facts each one shapes, found from the event itself; ``None`` if one is of
        this batch, a claim, or of a type of one's own."""
        metas = EventFilter(types=meta_type_names(self.log), upto_position=cp.position)
        retracted, replaced = resolve_meta(self.log.read(metas))
        registry = self.log.codec.registry
        ignored = set(ignored_type_names(self.log, self.projections))
        out: dict[str, tuple[str, Hashable]] = {}
        for record in self.log.read_ids(sorted(set(ids))):
            if record.position > cp.position:
                return None  # names an event of this very batch
            if record.id in retracted or ev.target_of(record.event) is not None:
                continue  # a retracted event shapes nothing; nor does a correction
            correction = replaced.get(record.id)
            event = record.event if correction is None else replacement_of(record, correction)
            if registry.of(event).name in ignored:
                continue
            shaped = self._shaped_by(cp, event, okey(event.occurred_at, record.position))
            if shaped is None:
                return None
            out.update(shaped)
        return out

    def _shaped_by(
        self, cp: Checkpoint, event: ev.Event, stamp: str
    ) -> dict[str, tuple[str, Hashable]] | None:
        """The facts ``event`` (folded at ``stamp``) puts itself into the evidence of."""
        keys = _stance_keys(event)
        if keys is None:
            return None
        out: dict[str, tuple[str, Hashable]] = {_key_text("stance", k): ("stance", k) for k in keys}
        kind = type(event)
        reached: set[str] = set()
        if kind is ev.Inquiry or kind in _ORDER_TYPES:
            for buyer in _buyers_of(event):
                fkey = intent_key(buyer, event.supplier, event.product)  # type: ignore[attr-defined]
                out[_key_text("orders", fkey)] = ("orders", fkey)
        elif isinstance(event, ev.PolicyChange) and event.product is not None:
            if event.measure in (ev.Measure.BAN, ev.Measure.RESTRICT):
                rkey: Hashable = ("restriction", event.id)
                out[_key_text("orders", rkey)] = ("orders", rkey)
                reached = self._reached(event.applies_to)
            else:  # it unblocks the buyers of the restrictions it lifts
                before = _predecessor(stamp)
                entries: list[str] = []
                by = ("_restrictions_by", event.authority, event.product.casefold())
                for rid in self._stored("orders", by, before) or ():
                    lifted = self._stored("orders", ("restriction", rid), before)
                    if lifted is not None:
                        entries.extend(lifted.applies_to)
                reached = self._reached(entries)
        for buyer in sorted(reached):
            for fkey in self._stored("orders", ("_intents_of", buyer), cp.okey) or ():
                out[_key_text("orders", fkey)] = ("orders", fkey)
        return out

    def _reached(self, entries: Sequence[str] | set[str]) -> set[str]:
        """The actors ``applies_to`` entries name: ids, and the actors of each kind."""
        kinds = {kind_target(e[5:]) for e in entries if is_kind_target(e)}
        out = {e for e in entries if not is_kind_target(e)}
        if kinds:
            out.update(a for a, k in self.ctx.actor_kinds if kind_target(k) in kinds)
        return out

    def _reaches(self, event: ev.PolicyChange, buyer: str) -> bool:
        """Whether a ban or restriction applies to ``buyer`` (by id or by kind)."""
        if buyer in event.applies_to:
            return True
        kind = self.ctx.kind_of(buyer)
        return kind is not None and any(
            is_kind_target(a) and kind_target(a[5:]) == kind_target(kind) for a in event.applies_to
        )

    # --- restrictions ---------------------------------------------------------------------

    def _refold_restrictions(
        self,
        cp: Checkpoint,
        head: int,
        orders: Projection,
        start: str,
        book: _ClaimBook | None,
        buyers: dict[str, str],
        scope: dict[str, set[Hashable]],
        overlay: _Overlay,
        rows: list[tuple[str, str, Any]],
        dropped: list[tuple[str, str, str]],
        finals: dict[tuple[str, Hashable], Any],
    ) -> bool:
        """Rebuild the restriction facts (and their indexes) from fold key ``start`` on:
        the policy changes since, replayed as the log stood before this batch and as it
        stands now, each on the restrictions stored just before ``start``. Every key
        either replay touches is rewritten from the new one (``overlay`` holds it for
        the buyers' refold); the buyers a differing restriction or policy change reaches
        join ``buyers`` from ``start``, and the products it names their ``scope``."""
        since = okey_time(start)

        def policies(upto: int) -> list[tuple[str, ev.Event]]:
            steps = self._policy_steps(upto, since)
            return [(key, event) for key, event in steps if start <= key <= cp.okey]

        before = _predecessor(start)
        old_steps, new_steps = policies(cp.position), policies(head)
        # restrictions on different products share no key: replay the changed ones'
        old_map = {(k, e.id): e for k, e in old_steps}
        new_map = {(k, e.id): e for k, e in new_steps}
        # the steps the batch changes (most are the very same objects: compared by
        # identity first, not field by field)
        changed = [
            step
            for step in old_map.keys() | new_map.keys()
            if old_map.get(step) is not new_map.get(step) and old_map.get(step) != new_map.get(step)
        ]
        products = {
            e.product.casefold()  # type: ignore[attr-defined]
            for step in changed
            for e in (old_map.get(step), new_map.get(step))
            if e is not None and e.product is not None  # type: ignore[attr-defined]
        }
        old_steps = self._decoded_steps(
            [(k, e) for k, e in old_steps if _product_of(e) in products]
        )
        new_steps = self._decoded_steps(
            [(k, e) for k, e in new_steps if _product_of(e) in products]
        )
        starts: dict[Hashable, Any] = {}
        # the last fold key at which the two replays' steps differ; with claims, the
        # replays run to the end (their checks are compared over whole sequences)
        differ = _MAX
        if book is None:
            differ = max((k for k, _ in changed), default="")
        old_seqs, old_holders, new_seqs, new_holders, until = self._replay_restrictions(
            orders, old_steps, new_steps, before, starts, differ
        )
        holders: dict[str, set[str]] = {}  # applies_to entry -> the products it changed on

        def reaches(entries: Iterable[str], product: str | None) -> None:
            for entry in entries:
                if product is not None:
                    holders.setdefault(entry, set()).add(product.casefold())

        for step in changed:
            for version, reach in (
                (old_map.get(step), old_holders),
                (new_map.get(step), new_holders),
            ):
                if version is not None:
                    reaches(reach.get(step, ()), getattr(version, "product", None))
        claim_keys = [] if book is None else book.keys_between(before, cp.okey)
        for fkey in old_seqs.keys() | new_seqs.keys():
            old_seq, new_seq = old_seqs.get(fkey, []), new_seqs.get(fkey, [])
            first = starts.get(fkey)
            if old_seq != new_seq:
                if fkey[0] == "_restrictions_on":  # type: ignore[index]
                    reaches([fkey[2]], fkey[1])  # type: ignore[index]
                for _, fact in [*old_seq, *new_seq, (None, first)]:
                    if isinstance(fact, Restriction):
                        reaches(fact.applies_to, fact.product)
            key_text = _key_text("orders", fkey)
            if book is not None and fkey[0] == "restriction":  # type: ignore[index]
                checked = self._checked_sequence(
                    book, key_text, fkey, first, old_seq, new_seq, claim_keys
                )
                if checked is None:
                    return False
                new_seq = checked
            dropped.append((key_text, before, until))
            rows.extend((key_text, at, fact) for at, fact in new_seq)
            overlay[fkey] = (before, first, new_seq, until)
            if old_seq != new_seq:
                # claims checked into the new versions alone: no like-for-like comparison
                self._unsettled[fkey] = (
                    _MAX if book is not None else _settled_after(first, old_seq, new_seq),
                    {
                        (fact.product.casefold(), holder)
                        for _, fact in [*old_seq, *new_seq, (None, first)]
                        if isinstance(fact, Restriction)
                        for holder in _holders(fact.applies_to)
                    },
                )
            if until == _MAX:
                finals[("orders", fkey)] = new_seq[-1][1] if new_seq else first
            else:  # the replays met the stored history: its last version stands
                finals[("orders", fkey)] = self._stored("orders", fkey, cp.okey)
            self.folded += len(new_seq)
        self.folded += sum(1 for k, _ in new_steps if k <= until)
        for entry, products in holders.items():
            for buyer in sorted(self._reached([entry])):
                # a description, or an actor with no intents, has nothing a restriction blocks
                if buyer in buyers or self._stored("orders", ("_intents_of", buyer), cp.okey):
                    buyers[buyer] = min(buyers.get(buyer, _MAX), start)
                    scope.setdefault(buyer, set()).update(products)
        return True

    def _replay_restrictions(
        self,
        orders: Projection,
        old_steps: list[tuple[str, ev.Event]],
        new_steps: list[tuple[str, ev.Event]],
        before: str,
        starts: dict[Hashable, Any],
        differ: str,
    ) -> tuple[
        dict[Hashable, list[tuple[str, Any]]],
        dict[tuple[str, str], set[str]],
        dict[Hashable, list[tuple[str, Any]]],
        dict[tuple[str, str], set[str]],
        str,
    ]:
        """The policy changes as the log stood before the batch (``old_steps``) and as
        it stands now (``new_steps``), replayed side by side on the restrictions stored
        at ``before`` (intents left out): each replay's new versions of each
        restriction key, and the holders each of its steps reaches. Past ``differ``
        (the last fold key at which their steps differ) the replays stop as soon as
        they hold the same restrictions: from there on they run alike, as the stored
        versions did. The last element: the last fold key replayed (``_MAX``: all)."""
        old = _Replay(self, orders, starts, before)
        new = _Replay(self, orders, starts, before)
        at_old: dict[str, list[ev.Event]] = {}
        at_new: dict[str, list[ev.Event]] = {}
        for stamp, event in old_steps:
            at_old.setdefault(stamp, []).append(event)
        for stamp, event in new_steps:
            at_new.setdefault(stamp, []).append(event)
        differing: set[Hashable] = set()
        for stamp in sorted(at_old.keys() | at_new.keys()):
            if stamp > differ and not differing:
                return old.seqs, old.reach, new.seqs, new.reach, _predecessor(stamp)
            touched: set[Hashable] = set()
            for event in at_old.get(stamp, ()):
                touched.update(old.step(stamp, event))
            for event in at_new.get(stamp, ()):
                touched.update(new.step(stamp, event))
            for fkey in touched:
                if old.view.get(fkey) != new.view.get(fkey):
                    differing.add(fkey)
                else:
                    differing.discard(fkey)
        return old.seqs, old.reach, new.seqs, new.reach, _MAX

    def _checked_sequence(
        self,
        book: _ClaimBook,
        key_text: str,
        fkey: Hashable,
        first: Any,
        old_seq: list[tuple[str, Any]],
        new_seq: list[tuple[str, Any]],
        claim_keys: list[str],
    ) -> list[tuple[str, Any]] | None:
        """A restriction's new versions with the claims at each point (versions where a
        claim changes it added); ``None`` where it changes a claim's scope."""
        out: list[tuple[str, Any]] = []
        points = sorted({*(at for at, _ in new_seq), *claim_keys})
        raw = dict(new_seq)
        current, written = first, first
        old_current, old_raw = first, dict(old_seq)
        for at in points:
            if at in raw:
                current = raw[at]
            if at in old_raw:
                old_current = old_raw[at]
            if at in book.at:
                _, _, actor, _, named = book.claims[book.at[at]]
                participants = {f.authority for f in (current, old_current) if f is not None}
                if actor in participants and _names_any(current, named) != _names_any(
                    old_current, named
                ):
                    return None
            checked = None if current is None else book.check(current, at)
            if checked != written:
                out.append((at, checked))
                written = checked
        return out

    # --- stances and intents ------------------------------------------------------------

    def _refold_stances(
        self,
        cp: Checkpoint,
        stance: Projection,
        placed: dict[str, list[tuple[str, ev.Event]]],
        versions_after: Callable[[str, str], list[str]],
        rows: list[tuple[str, str, Any]],
        dropped: list[tuple[str, str, str]],
        finals: dict[tuple[str, Hashable], Any],
        targets: set[str] = frozenset(),  # type: ignore[assignment]
        book: _ClaimBook | None = None,
    ) -> bool:
        """The stances ``placed`` names, refolded from their new events on (``False``:
        the stored history does not match the log, or a claim's scope would change).
        ``targets``: events a new correction or retraction moves or removes (their
        stored places are skipped; ``placed`` holds where they stand now). ``book``:
        the claims, checked at each step and at each claim's place."""
        fact_key: Hashable
        for key_text, arrivals in placed.items():
            first = min(k for k, _ in arrivals)
            before = _predecessor(first)
            # a new placement wins over a stored one at its key; _NOTHING_NEW only starts
            steps: dict[str, Any] = {k: e for k, e in arrivals if e is not _NOTHING_NEW}
            # the stored versions' events, read (with their fates) as the refold
            # reaches them
            later = [k for k in versions_after(key_text, before) if k not in steps]
            stored = _StoredSteps(self, later, targets)
            steps.update((k, _STORED) for k in later)
            # the last fold key at which this refold's steps differ from the stored
            # history's: the new placements, and the places a target leaves or changes
            fresh = max(k for k, _ in arrivals)
            if self._target_positions:
                moved = [k for k in later if _position_of(k) in self._target_positions]
                fresh = max([fresh, *moved])
            if book is not None:
                for claim_key in book.keys_between(before, cp.okey):
                    steps.setdefault(claim_key, _CLAIM_STEP)
            replay = sorted(steps.items(), key=lambda pair: pair[0])
            _, fact_key = _key_of(key_text)
            text = self.store.fact_at(key_text, before)
            current = None if text is None else self._loads(text)
            participants = {fact_key[0]}  # type: ignore[index]
            facts: dict[Hashable, Any] = {} if current is None else {fact_key: current}
            history = self._history(key_text, before, current)
            until = _MAX
            for stamp, step in replay:
                if stamp > fresh and history.holds(stamp, current):
                    # the stored history from here on was folded from this very fact
                    # and the same events: it stays as stored
                    until, current = _predecessor(stamp), history.last()
                    break
                if step is _STORED:
                    step = stored.event_at(stamp)
                    if step is None:
                        return False  # the stored history does not match the log
                    if step is _MOVED:
                        continue
                if book is not None and (step is _CLAIM_STEP or ev.claimed_ids(step)):
                    if stamp in book.at and not self._candidacy_kept(
                        book, stamp, key_text, participants, current
                    ):
                        return False
                    new_fact = None if current is None else book.check(current, stamp)
                else:
                    new_fact = stance.apply(facts, step, self.ctx).get(fact_key, current)
                    if book is not None and new_fact is not None:
                        new_fact = book.check(new_fact, stamp)
                if new_fact != current:
                    rows.append((key_text, stamp, new_fact))
                    current = new_fact
                    facts = {} if current is None else {fact_key: current}
                self.folded += 1
            dropped.append((key_text, before, until))
            finals[("stance", fact_key)] = current
        return True

    def _refold_buyers(
        self,
        cp: Checkpoint,
        orders: Projection,
        buyers: dict[str, str],
        scope: dict[str, set[Hashable]],
        arrivals: dict[str, list[tuple[str, ev.Event]]],
        rows: list[tuple[str, str, Any]],
        dropped: list[tuple[str, str, str]],
        finals: dict[tuple[str, Hashable], Any],
        targets: set[str],
        book: _ClaimBook | None = None,
        overlay: _Overlay | None = None,
    ) -> bool:
        """The order intents ``scope`` names, refolded from ``buyers[b]`` on: each one
        depends on nothing but its buyer's inquiries and orders of its supplier and
        product and the restrictions in force (no other intent). Replayed on it: the
        events its own stored versions name (the index from a fact to its events), the
        batch's events that now shape it (``arrivals``), and the policy changes the
        versions of its restriction indexes name (``_restrictions_on`` its product or
        supplier, for the buyer and the buyer's kind; as stored, or as ``overlay``
        rebuilt them): every event that can change it, and no other. All of them are
        read in one query, and only the corrections and retractions deciding their
        fates are decoded. ``False``: a stored version names an event that no longer
        stands there and is not one of ``targets`` (the stored history does not match
        the log). The buyer's index of its intents changes only where one of them is
        now created at another place."""
        versions_after = getattr(self.store, "versions_after")  # noqa: B009 - checked by caller
        overlay = overlay or {}
        plans: list[tuple[str, str, set[Hashable], dict[str, Any]]] = []
        for buyer, start in sorted(buyers.items()):
            wanted = self._wanted_intents(cp, buyer, scope.get(buyer, set()))
            if not wanted:
                continue
            before = _predecessor(start)
            kind = self.ctx.kind_of(buyer)
            holders = [buyer] if kind is None else [buyer, kind_target(kind)]
            indexes = {
                ("_restrictions_on", target, holder)
                for fkey in wanted
                for target in (fkey[3], fkey[2].casefold())  # type: ignore[index]
                for holder in holders
            }
            named: set[str] = set()
            for fkey in wanted:
                named.update(versions_after(_key_text("orders", fkey), before))
            steps: dict[str, Any] = {}
            for index in sorted(indexes):
                later = versions_after(_key_text("orders", index), before)
                rebuilt = overlay.get(index)
                if rebuilt is not None:  # stored up to the rebuild's start, rebuilt after
                    later = [k for k in later if k <= rebuilt[0] or k > rebuilt[3]]
                    steps.update((k, None) for k, _ in rebuilt[2] if start <= k <= cp.okey)
                named.update(later)
            steps.update((k, None) for k in named)
            for key, arrival in arrivals.get(buyer, ()):
                if start <= key <= cp.okey:
                    steps[key] = arrival  # a new placement wins over a stored one at its key
            plans.append((buyer, start, wanted, steps))
        for buyer, start, wanted, steps in plans:
            # the events the stored versions name (and the rebuilt policy changes), read
            # with the fates deciding them as the refold reaches them
            later = sorted(k for k, e in steps.items() if e is None)
            stored = _StoredSteps(self, later, targets)
            # the last fold key at which this refold's steps or the restrictions it reads
            # differ from the stored history's
            fresh = max(
                [
                    *(k for k, _ in arrivals.get(buyer, ())),
                    *self._unsettled_for(buyer, wanted),
                    *(k for k in later if _position_of(k) in self._target_positions),
                ],
                default="",
            )
            replay = [(k, _STORED if e is None else e) for k, e in steps.items()]
            if book is not None:
                replay.extend((k, _CLAIM_STEP) for k in book.keys_between(start, cp.okey))
            replay.sort(key=lambda pair: pair[0])
            if not self._refold_buyer(
                cp, orders, buyer, start, wanted, replay, rows, dropped, finals, book, overlay,
                fresh, stored,
            ):  # fmt: skip
                return False
        return True

    def _wanted_intents(self, cp: Checkpoint, buyer: str, scope: set[Hashable]) -> set[Hashable]:
        """The intent keys ``scope`` names: its keys, and the buyer's stored intents
        whose product or supplier is one of its (casefolded) names."""
        wanted: set[Hashable] = {k for k in scope if isinstance(k, tuple)}
        names = {k for k in scope if isinstance(k, str)}
        if names:
            for fkey in self._stored("orders", ("_intents_of", buyer), cp.okey) or ():
                if fkey[3] in names or fkey[2].casefold() in names:
                    wanted.add(fkey)
        return wanted

    def _refold_buyer(
        self,
        cp: Checkpoint,
        orders: Projection,
        buyer: str,
        start: str,
        wanted: set[Hashable],
        steps: list[tuple[str, Any]],
        rows: list[tuple[str, str, Any]],
        dropped: list[tuple[str, str, str]],
        finals: dict[tuple[str, Hashable], Any],
        book: _ClaimBook | None,
        overlay: _Overlay,
        fresh: str = _MAX,
        stored: _StoredSteps | None = None,
    ) -> bool:
        """``steps``: the refold's steps in order; ``_STORED`` ones are read from
        ``stored`` as they are reached (another buyer's or intent's event, and a claim's
        place, are passed over there)."""
        before = _predecessor(start)
        index_key: Hashable = ("_intents_of", buyer)
        own: dict[Hashable, Any] = {}
        histories: dict[Hashable, _History] = {}
        for fkey in sorted(wanted, key=repr):
            found = self._stored("orders", fkey, before)
            if found is not None:
                own[fkey] = found
            histories[fkey] = self._history(_key_text("orders", fkey), before, found)
        # the index the projection sees: the wanted intents there are (their order
        # does not matter to it); the stored index is rebuilt below if need be
        own[index_key] = tuple(k for k in sorted(wanted, key=repr) if k in own)
        created: dict[Hashable, str] = {}  # intent -> where the refold creates it
        names = {n for k in wanted for n in (k[3], k[2].casefold())}  # type: ignore[index]
        ordered = sorted(wanted, key=repr)
        until = _MAX
        for stamp, event in steps:
            if stamp > fresh and all(histories[k].holds(stamp, own.get(k)) for k in ordered):
                # the stored history from here on was folded from these very intents, the
                # same events and the same restrictions: it stays as stored
                until = _predecessor(stamp)
                break
            if event is _STORED:
                assert stored is not None
                event = stored.event_at(stamp)
                if event is None:
                    return False  # the stored history does not match the log
                if event is _MOVED:
                    continue
                kind_of = type(event)
                if kind_of in _ORDER_TYPES:
                    if buyer not in _buyers_of(event) or _intent_of(event, buyer) not in wanted:
                        continue  # another buyer's or another intent's (a moved event)
                elif kind_of is not ev.PolicyChange:
                    continue  # a claim's place: the claim steps check them
            restricts = False
            if event is _CLAIM_STEP:
                assert book is not None
                for fkey in sorted(wanted, key=repr):
                    fact = own.get(fkey)
                    key_text = _key_text("orders", fkey)
                    participants = {fkey[1], fkey[2]}  # type: ignore[index]
                    if not self._candidacy_kept(book, stamp, key_text, participants, fact):
                        return False
                    if fact is None:
                        continue
                    checked = book.check(fact, stamp)
                    if checked != fact:
                        rows.append((key_text, stamp, checked))
                        own[fkey] = checked
                self.folded += 1
                continue
            if type(event) is ev.PolicyChange:
                if _product_of(event) not in names:
                    continue  # names none of the refolded intents' products or suppliers
                restricts = event.measure in (ev.Measure.BAN, ev.Measure.RESTRICT)
                if restricts and not self._reaches(event, buyer):
                    continue  # blocks none of this buyer's intents
            view = _BuyerView(self, buyer, own, _predecessor(stamp), overlay)
            updates: Mapping[Hashable, Any]
            if type(event) is ev.PolicyChange:
                updates = _policy_on_intents(event, restricts, ordered, own, view)
            elif type(event) is ev.Inquiry and len(set(event.inquirers)) > 1:
                # the others' intents are not kept (a buyer named twice stays twice)
                mine = tuple(b for b in event.inquirers if b == buyer)
                updates = cast(OrderIntentProjection, orders)._inquiry(view, event, self.ctx, mine)
            else:
                updates = orders.apply(view, event, self.ctx)
            for fkey, fact in updates.items():
                if fkey not in wanted:
                    continue  # the index (rebuilt below), another intent, a restriction
                if book is not None and fact is not None:
                    fact = book.check(fact, stamp)
                if fact != own.get(fkey):
                    if fkey not in own:
                        created[fkey] = stamp
                        own[index_key] = (*own[index_key], fkey)
                    rows.append((_key_text("orders", fkey), stamp, fact))
                    own[fkey] = fact
            self.folded += 1
        for fkey in wanted:
            dropped.append((_key_text("orders", fkey), before, until))
            finals[("orders", fkey)] = histories[fkey].last() if until != _MAX else own.get(fkey)
        self._reindex(cp, buyer, before, wanted, own, created, rows, dropped, finals, until != _MAX)
        return True

    def _unsettled_for(self, buyer: str, wanted: set[Hashable]) -> list[str]:
        """The fold keys from which the rebuilt restriction keys this buyer's intents
        can read (:meth:`_refold_restrictions`) agree with the stored ones again: its
        indexes on their products and suppliers, the indexes by authority of those
        products (a lift reads them), and the restrictions any version of which
        reaches the buyer (or its kind) on one of them."""
        if not self._unsettled:
            return []
        kind = self.ctx.kind_of(buyer)
        holders = {buyer} if kind is None else {buyer, kind_target(kind)}
        names = {n for k in wanted for n in (k[3], k[2].casefold())}  # type: ignore[index]
        out: list[str] = []
        for fkey, (settled, reach) in self._unsettled.items():
            kind_of_key = fkey[0]  # type: ignore[index]
            if kind_of_key == "_restrictions_on":
                if fkey[1] in names and fkey[2] in holders:  # type: ignore[index]
                    out.append(settled)
            elif kind_of_key == "_restrictions_by":
                if fkey[2] in names:  # type: ignore[index]
                    out.append(settled)
            elif any(t in names and h in holders for t, h in reach):
                out.append(settled)  # a restriction that reaches it on one of them
        return out

    def _reindex(
        self,
        cp: Checkpoint,
        buyer: str,
        before: str,
        wanted: set[Hashable],
        own: dict[Hashable, Any],
        created: dict[Hashable, str],
        rows: list[tuple[str, str, Any]],
        dropped: list[tuple[str, str, str]],
        finals: dict[tuple[str, Hashable], Any],
        met: bool = False,
    ) -> None:
        """The buyer's index of its intents (in the order they were created), rewritten
        from the first place where a refolded intent is now created elsewhere (or not
        at all); untouched where none is. ``met``: the refold stopped where it met the
        stored history, so an intent it had not created by then is created where the
        stored history has it."""
        versions_after = getattr(self.store, "versions_after")  # noqa: B009 - checked by caller
        moved: list[str] = []
        for fkey in wanted:
            if fkey in own and fkey not in created:
                continue  # there before the refold's start: created where it was
            if met and fkey not in created:
                continue  # created after the refold stopped, as stored
            stored = versions_after(_key_text("orders", fkey), before)
            was = stored[0] if stored else None
            now = created.get(fkey)
            if was != now:
                moved.extend(k for k in (was, now) if k is not None)
        if not moved:
            return
        first = min(moved)
        index_key: Hashable = ("_intents_of", buyer)
        births: list[tuple[str, Hashable]] = []
        for fkey in self._stored("orders", index_key, cp.okey) or ():
            if fkey not in wanted:
                stored = versions_after(_key_text("orders", fkey), "")
                if stored:
                    births.append((stored[0], fkey))
        for fkey in wanted:
            if fkey in created:
                births.append((created[fkey], fkey))
            elif fkey in own or met:
                stored = versions_after(_key_text("orders", fkey), "")
                if stored:
                    births.append((stored[0], fkey))
        births.sort(key=lambda pair: pair[0])
        index: tuple[Hashable, ...] = ()
        for at, fkey in births:
            index = (*index, fkey)
            if at >= first:
                rows.append((_key_text("orders", index_key), at, index))
        dropped.append((_key_text("orders", index_key), _predecessor(first), _MAX))
        finals[("orders", index_key)] = index or None

    def _stored(self, projection: str, key: Hashable, at: str) -> Any:
        """One fact's stored version at fold key ``at`` (``None``: absent). During a
        refold a restriction's versions are read once (every buyer's refold asks for
        them at each of its steps), from the earliest fold key asked for on."""
        if self._cached is not None and _restriction_key(key):
            return self._stored_cached(self._cached, _key_text(projection, key), at)
        text = self.store.fact_at(_key_text(projection, key), at)
        return None if text is None else self._loads(text)

    def _metas(self, upto: int) -> list[RecordedEvent]:
        """The corrections and retractions up to log position ``upto``: read once, then
        only those appended since (every refold needs them; the log only grows)."""
        seen, metas = self._metas_read
        if upto > seen:
            names = meta_type_names(self.log)
            more = self.log.read(EventFilter(types=names, after_position=seen, upto_position=upto))
            metas = [*metas, *more]
            self._metas_read = (upto, metas)
        return metas if upto >= seen else [m for m in metas if m.position <= upto]

    def _policy_steps(self, upto: int, since: datetime) -> list[tuple[str, Any]]:
        """The policy changes of the log up to position ``upto`` occurring from ``since``
        on, as corrected and retracted up to there, in fold order (what a fold of the
        policy changes alone replays): from the stored ones read once, then only those
        appended since. Only those stored as occurring from the earliest ``since``
        asked for are read (a refold of an earlier time reads them again from there): a
        corrected one that the correction moves to ``since`` or later is among the
        replacements. With a store that reads their fields in SQL
        (``policy_change_rows``) a stored one is a ``_PolicyRow`` (id and product)
        until :meth:`_decoded_steps`; else it is decoded as read."""
        seen, floor, stored = self._policies_read
        if floor is None or since < floor:
            seen, floor, stored = 0, since, []
        if upto > seen:
            entry = self.log.codec.registry.of(ev.PolicyChange)
            where = EventFilter(
                types=[entry.name], after_position=seen, upto_position=upto, occurred_from=floor
            )
            rows: Callable[[EventFilter], list[tuple[Any, ...]]] | None = getattr(
                self.log, "policy_change_rows", None
            )
            more: list[tuple[str, datetime, int, Any]] = []
            if rows is None:
                read = self.log.read_events(where)
                # each fold key worked out once (every refold asks for the steps twice)
                more = [(okey(at, position), at, position, e) for at, position, e in read]
            else:
                # decoded later, and only those on the products the batch changes
                # (_decoded_steps); one of an older schema version at once
                older: list[_PolicyRow] = []
                for position, at_text, id_, product, version in rows(where):
                    at = from_text(at_text)
                    row = _PolicyRow(id_, product, position)
                    if version != entry.version or not isinstance(product, str | None):
                        older.append(row)
                    more.append((okey(at, position), at, position, row))
                self._decode_rows(older)
            stored = [*stored, *more]
            self._policies_read = (upto, floor, stored)
        ids = {event.id for _, _, position, event in stored if position <= upto}
        skip, replacements = self._corrections(upto, since, ids)
        out: list[tuple[str, Any]] = [
            (key, event)
            for key, at, position, event in stored
            if position <= upto
            and at >= since
            and (type(event) is ev.PolicyChange or type(event) is _PolicyRow)
            and event.id not in skip
        ]
        out.extend(
            (okey(p.occurred_at, p.position), p.event)
            for p in replacements
            if type(p.event) is ev.PolicyChange
        )
        out.sort(key=lambda pair: pair[0])
        return out

    def _decode_rows(self, rows: Sequence[_PolicyRow]) -> None:
        """Decode the stored policy changes of these rows not decoded yet (each kept in
        its row: the writer's list of policy changes holds them)."""
        pending = {row.position: row for row in rows if row.event is None}
        if pending:
            # a store that reads rows by field (policy_change_rows) reads them by position too
            by_position = getattr(self.log, "read_positions")  # noqa: B009
            for record in by_position(pending):
                pending[record.position].event = record.event

    def _decoded_steps(self, steps: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """``steps`` with each stored policy change not decoded yet (a ``_PolicyRow``)
        decoded."""
        self._decode_rows([event for _, event in steps if type(event) is _PolicyRow])
        return [(key, event.event if type(event) is _PolicyRow else event) for key, event in steps]

    def _corrections(
        self, upto: int, since: datetime, ids: set[str]
    ) -> tuple[set[str], list[Placed]]:
        """:func:`~timeline.bitemporal.corrections_for` of the log up to ``upto`` from
        ``since`` for the policy changes: ids to skip (exact for ``ids``, the stored
        policy changes asked about) and the replacements that are policy changes. Only
        the corrections and retractions deciding those fates are read when the store
        can say what each names (:meth:`_policy_fates`); else all of them, once
        (:meth:`_metas`)."""
        fates = self._policy_fates(upto, ids)
        retracted, replaced = fates if fates is not None else resolve_meta(self._metas(upto))
        # only corrections to a policy change place one (a policy change corrected into
        # another type is skipped below all the same, being corrected)
        policies = {
            target: correction
            for target, correction in replaced.items()
            if type(correction.event.replacement) is ev.PolicyChange  # type: ignore[attr-defined]
        }
        known = self._targets_read
        missing = sorted(i for i in policies if i not in known)
        if missing:
            known.update((r.id, r) for r in self.log.read_ids(missing))
        replacements: list[Placed] = []
        for target, correction in policies.items():
            original = known.get(target)
            if original is None or original.id in retracted or original.position > upto:
                continue
            event = replacement_of(original, correction)
            if event.occurred_at >= since:
                replacements.append(
                    Placed(
                        occurred_at=event.occurred_at,
                        position=original.position,
                        record=original,
                        event=event,
                    )
                )
        replacements.sort()
        return retracted | set(replaced), replacements

    def _policy_fates(
        self, upto: int, ids: set[str]
    ) -> tuple[set[str], dict[str, RecordedEvent]] | None:
        """:func:`resolve_meta` over the corrections and retractions up to ``upto`` that
        decide the fates of ``ids`` and of every event a correction turns into a policy
        change (what each correction's replacement is, read from the payloads in SQL);
        ``None`` when the store cannot say what each names. Kept per log head, ``upto``
        and ``ids``: a refold asks for the log before its batch and now."""
        links: Callable[[Sequence[tuple[str, str]]], list[tuple[str, str]]] | None = getattr(
            self.log, "target_links", None
        )
        if links is None:
            return None
        head = self.log.head()
        kept = self._fates_read
        if kept is not None and kept[0] == (head, upto) and kept[1] == ids:
            return kept[2]
        if self._into_policy is None or self._into_policy[0] != head:
            registry = self.log.codec.registry
            policy = registry.of(ev.PolicyChange).name
            typed = links([(registry.of(ev.Correction).name, "replacement.type")])
            self._into_policy = (head, {meta_id for meta_id, name in typed if name == policy})
        into_policy = self._into_policy[1]
        wanted = set(ids)
        if into_policy:
            wanted.update(
                target
                for target, metas in (self._names() or {}).items()
                if not into_policy.isdisjoint(metas)
            )
        fates = self._metas_for(wanted, upto)
        self._fates_read = ((head, upto), set(ids), fates)
        return fates

    def _forget(self) -> None:
        """After a rolled-back write: drop what was read or interned inside it."""
        self.codec.forget()
        self._metas_read = (0, [])
        self._naming = None
        self._targets_read = {}
        self._policies_read = (0, None, [])
        self._fates_read = None
        self._into_policy = None

    def _stored_cached(
        self,
        cache: dict[str, tuple[list[str], list[str | None], dict[int, Any]]],
        key_text: str,
        at: str,
    ) -> Any:
        """:meth:`_stored` from the versions read once: the one in force at
        ``_cache_from`` (or at ``at`` if earlier), and every one after it."""
        found = cache.get(key_text)
        if found is None or at < found[0][0]:
            versions_from = getattr(self.store, "versions_from")  # noqa: B009 - checked by caller
            start = min(at, self._cache_from)
            later = versions_from(key_text, start)
            keys = [start, *(k for k, _ in later)]
            texts = [self.store.fact_at(key_text, start), *(t for _, t in later)]
            found = cache[key_text] = (keys, texts, {})
        keys, texts, decoded = found
        index = bisect.bisect_right(keys, at) - 1
        if index not in decoded:
            text = texts[index]
            decoded[index] = None if text is None else self._loads(text)
        return decoded[index]

    def _only_changes(
        self, dropped: Sequence[tuple[str, str, str]], rows: list[tuple[str, str, Any]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str, Any]]]:
        """A refold's outcome as the writes it needs. ``dropped`` names the facts whose
        versions in a range of fold keys it redid (``(key, after, until)``): their
        stored versions there are compared with the new ones in memory, an unchanged
        version is not written again and only the versions that disappear are removed
        (the versions after ``until`` stay as stored: the refold met them). Returns
        ``(removed, rows)``: the ``(key, fold key)`` versions to delete, and the rows
        to write (the other facts' rows as they are)."""
        floor: dict[str, tuple[str, str]] = {}
        for key_text, after, until in dropped:
            low, high = floor.get(key_text, (after, until))
            floor[key_text] = (min(low, after), max(high, until))
        redone: dict[str, dict[str, Any]] = {}
        out: list[tuple[str, str, Any]] = []
        for row in rows:
            key_text, at, fact = row
            bounds = floor.get(key_text)
            if bounds is not None and bounds[0] < at <= bounds[1]:
                redone.setdefault(key_text, {})[at] = fact  # the last row at a key wins
            else:
                out.append(row)
        removed: list[tuple[str, str]] = []
        for key_text, (after, until) in floor.items():
            new = redone.get(key_text, {})
            # (the versions after ``until`` stay as stored: the refold met them there)
            for at, stored in self._versions_upto(key_text, after, until):
                if at not in new:
                    removed.append((key_text, at))
                    continue
                fact = new[at]
                if (fact is None) is (stored is None) and (stored is None or stored == fact):
                    del new[at]  # stored as it is
            out.extend((key_text, at, fact) for at, fact in new.items())
        return removed, out

    def _history(self, key_text: str, after: str, first: Any) -> _History:
        """Fact ``key_text``'s stored versions after ``after`` (``first``: the fact
        there), read once per refold as they are asked for (:class:`_History`)."""
        found = self._histories.get((key_text, after))
        if found is None:
            found = self._histories[(key_text, after)] = _History(self, key_text, after, first)
        return found

    def _versions_upto(self, key_text: str, after: str, until: str) -> list[tuple[str, Any]]:
        """Fact ``key_text``'s stored versions in ``(after, until]``, decoded: ``(fold
        key, fact)`` (``None``: removed there), through the refold's :class:`_History`
        (the versions a refold compared are not read or decoded again)."""
        return self._history(key_text, after, None).upto(until)

    def _loads(self, text: str) -> Any:
        try:
            return self.codec.loads(text)
        except KeyError:
            self.codec.preload()
            return self.codec.loads(text)

    def _has_claims(self) -> bool:
        """Whether any denial or confirmation is stored (they reach across facts)."""
        names = [self.log.codec.registry.of(cls).name for cls in (ev.Denial, ev.Confirmation)]
        return next(iter(self.log.read(EventFilter(types=names))), None) is not None

    def _records_at(self, stored_keys: Iterable[str]) -> dict[int, RecordedEvent]:
        """The stored events at the log positions these fold keys name, by position."""
        positions = {_position_of(k) for k in stored_keys}
        read: Callable[[Iterable[int]], Iterator[RecordedEvent]] | None = getattr(
            self.log, "read_positions", None
        )
        if read is not None:
            return {r.position: r for r in read(positions)}
        found: dict[int, RecordedEvent] = {}
        for position in positions:
            where = EventFilter(after_position=position - 1, upto_position=position)
            for record in self.log.read(where):
                found[record.position] = record
        return found

    def _metas_for(
        self, ids: Iterable[str], upto: int | None = None
    ) -> tuple[set[str], dict[str, RecordedEvent]]:
        """:func:`resolve_meta` over the corrections and retractions that decide the fates
        of these ids (through chains of them): only those are read and decoded when the
        store can say what each names (``target_links``); else all of them. Exact for
        these ids, says nothing of others. ``upto``: the log up to this position only."""
        wanted = set(ids)
        if not wanted:
            return set(), {}
        naming = self._names()
        if naming is None:
            where = EventFilter(types=meta_type_names(self.log), upto_position=upto)
            return resolve_meta(self.log.read(where))
        return fates_of(self.log, wanted, naming, upto)

    def _names(self) -> dict[str, list[str]] | None:
        """:func:`meta_names` of the log, read once per log head (a refold asks often;
        ``None``: the store cannot say)."""
        if not hasattr(self.log, "target_links"):
            return None
        head = self.log.head()
        if self._naming is None or self._naming[0] != head:
            names = meta_names(self.log)
            if names is None:
                return None
            self._naming = (head, names)
        return self._naming[1]

    def _effective_at(
        self,
        stored_key: str,
        metas: tuple[set[str], dict[str, RecordedEvent]],
        targets: set[str] = frozenset(),  # type: ignore[assignment]
        records: Mapping[int, RecordedEvent] | None = None,
    ) -> ev.Event | None:
        """The event (or its correction's replacement) a stored version's fold key names;
        ``_MOVED`` if it is one of ``targets`` and no longer stands there (retracted, or
        corrected elsewhere); ``None`` if the stored history does not match the log.
        ``records``: the stored events by position, if read already."""
        position = _position_of(stored_key)
        if records is not None:
            record = records.get(position)
        else:
            where = EventFilter(after_position=position - 1, upto_position=position)
            record = next(iter(self.log.read(where)), None)
        if record is None:
            return None
        retracted, replaced = metas
        if record.id in retracted:
            return _MOVED if record.id in targets else None
        correction = replaced.get(record.id)
        event = record.event if correction is None else replacement_of(record, correction)
        if okey(event.occurred_at, position) != stored_key:
            return _MOVED if record.id in targets else None
        return event

    def _earliest_change(self, after: int, head: int) -> str:
        """The fold key from which events in ``(after, head]`` change the versions.

        With a store that finds the first event in fold order from its columns
        (``first_in_fold_order``) only the corrections and retractions of the range
        are decoded: a first reader after a bulk load asks this of the whole log."""
        earliest = _MAX
        targets: set[str] = set()
        where = EventFilter(after_position=after, upto_position=head)
        first: Callable[[int, int, Sequence[str]], tuple[str, int] | None] | None = getattr(
            self.log, "first_in_fold_order", None
        )
        records: Iterable[RecordedEvent]
        if first is None:
            records = self.log.read(where)
        else:
            about = [  # corrections and retractions, of one's own types too
                entry.name
                for entry in self.log.codec.registry
                if issubclass(entry.cls, ev.Correction | ev.Retraction)
            ]
            found = first(after, head, about)
            if found is not None:
                earliest = okey(from_text(found[0]), found[1])
            records = self.log.read(where.but(types=about)) if about else ()
        for record in records:
            if ev.target_of(record.event) is not None:
                targets.update(self._chain(record.event))
            else:
                earliest = min(earliest, okey(record.event.occurred_at, record.position))
        if targets:
            moved: dict[str, list[datetime]] = {}
            metas = EventFilter(types=meta_type_names(self.log), upto_position=head)
            for meta in self.log.read(metas):
                event = meta.event
                if isinstance(event, ev.Correction) and event.corrects in targets:
                    moved.setdefault(event.corrects, []).append(event.replacement.occurred_at)
            for original in self.log.read_ids(sorted(targets)):
                times = [original.event.occurred_at, *moved.get(original.id, [])]
                earliest = min(earliest, *(okey(t, original.position) for t in times))
        return earliest

    def _chain(self, event: ev.Event) -> set[str]:
        """Ids whose fate a correction or retraction decides, through chains of them."""
        ids: set[str] = set()
        pending = [event]
        while pending:
            current = pending.pop()
            target = ev.target_of(current)
            if target is None or target in ids:
                continue
            ids.add(target)
            record = self.log.get(target)
            if record is not None and ev.target_of(record.event) is not None:
                pending.append(record.event)
        return ids


def _short(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _knows_everything(bounds: Bounds, max_reported: str | None, max_recorded: str | None) -> bool:
    """Whether the knowledge bounds lie beyond every event covered: they filter nothing out."""
    if (
        bounds.known_at is not None
        and max_reported is not None
        and from_text(max_reported) > bounds.known_at
    ):
        return False
    return not (
        bounds.recorded_by is not None
        and max_recorded is not None
        and from_text(max_recorded) > bounds.recorded_by
    )


class _TooMuch(Exception):
    """A bounded catch-up would refold more than it may: left for a later one."""


def _predecessor(key: str) -> str:
    """A fold key just before ``key``: nothing sorts strictly between them."""
    return f"{key[:_STAMP]}{_position_of(key) - 1:010x}"


__all__ += ["materializable"]

"""Reading the log as it was known: time bounds, corrections and retractions.

``at`` bounds valid time (``occurred_at``); ``known_at`` bounds ``reported_at``;
``recorded_by`` bounds ``recorded_at``. Corrections and retractions change
what we *know*: they are filtered by ``known_at`` / ``recorded_by`` only,
never by ``at``. A retracted event is treated as never having happened; a
corrected one is replaced by its replacement, which takes the original's
place in the log (its position) at the replacement's own ``occurred_at``.
"""

from __future__ import annotations

import gc
import heapq
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from timeline import events as ev
from timeline.projections.base import FoldProjection
from timeline.store.base import EventFilter, EventLog
from timeline.store.recorded import RecordedEvent
from timeline.times import TimeInput, parse_bound

__all__ = [
    "Bounds",
    "Placed",
    "effective_events",
    "fold_events",
    "resolve_meta",
]


@attrs.frozen(kw_only=True)
class Bounds:
    """The three optional time bounds of a point-in-time query, and a story."""

    at: datetime | None = None
    known_at: datetime | None = None
    recorded_by: datetime | None = None
    story: str | None = None
    certain: bool = False

    @classmethod
    def parse(
        cls,
        *,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
        story: str | None = None,
        certain: bool = False,
    ) -> Bounds:
        """Bounds from what people type; a date-only bound means the end of that UTC day.

        Raises:
            ValidationError: naive datetimes or unparseable text, naming the argument.
        """
        return cls(
            at=parse_bound(at, field="at") if at is not None else None,
            known_at=parse_bound(known_at, field="known_at") if known_at is not None else None,
            recorded_by=(
                parse_bound(recorded_by, field="recorded_by") if recorded_by is not None else None
            ),
            story=story,
            certain=bool(certain),
        )

    def knowledge(self, **more: Any) -> EventFilter:
        """The read filter of the knowledge bounds and the story (never ``at``).

        Corrections and retractions, and the records they point at, are read so.
        """
        return EventFilter(
            story=self.story,
            reported_until=self.known_at,
            recorded_until=self.recorded_by,
            certain=self.certain,
            **more,
        )

    @property
    def is_unbounded(self) -> bool:
        """No time bound at all: the current state of everything we know."""
        return self.at is None and self.known_at is None and self.recorded_by is None

    def knows(self, record: RecordedEvent) -> bool:
        """Whether ``record`` is within the knowledge bounds (``known_at``, ``recorded_by``)."""
        if self.known_at is not None:
            reported = record.reported_until if self.certain else record.reported_at
            if reported > self.known_at:
                return False
        return self.recorded_by is None or record.recorded_at <= self.recorded_by

    def occurred_by(self, event: ev.Event) -> bool:
        """Whether ``event`` (possibly, or with ``certain`` certainly) happened by ``at``."""
        if self.at is None:
            return True
        return (event.occurred_until if self.certain else event.occurred_at) <= self.at

    def is_certain(self, event: ev.Event, reported_until: datetime | None = None) -> bool:
        """Whether ``event`` certainly happened by ``at`` and was certainly public by ``known_at``.

        ``reported_until``: the last instant it may have become public, if the
        record does not say (a correction's replacement: the correction's).
        """
        if self.at is not None and event.occurred_until > self.at:
            return False
        if self.known_at is None:
            return True
        reported = event.effective_reported_until or reported_until
        return reported is None or reported <= self.known_at


@attrs.frozen(kw_only=True)
class Placed:
    """An event in fold order: its ``occurred_at`` and the log position it stands at."""

    occurred_at: datetime
    position: int
    record: RecordedEvent
    event: ev.Event

    def __lt__(self, other: Placed) -> bool:
        return (self.occurred_at, self.position) < (other.occurred_at, other.position)


def resolve_meta(meta: Iterable[RecordedEvent]) -> tuple[set[str], dict[str, RecordedEvent]]:
    """Which ids are retracted, and which are replaced (by which correction).

    ``meta`` holds the known corrections and retractions. A retraction can
    itself be retracted (the original comes back) and so can a correction (the
    original stands). Of several corrections of one event the latest in the
    log wins.
    """
    records = sorted(meta, key=lambda r: r.position)
    retractors: dict[str, list[str]] = {}
    for r in records:
        if isinstance(r.event, ev.Retraction):
            retractors.setdefault(r.event.retracts, []).append(r.event.id)
    memo: dict[str, bool] = {}

    def active(event_id: str) -> bool:
        # targets always precede their retraction in the log, so this terminates;
        # walk iteratively to stay clear of the recursion limit on long chains
        stack = [event_id]
        while stack:
            current = stack[-1]
            pending = [r for r in retractors.get(current, ()) if r not in memo]
            if pending:
                stack.extend(pending)
                continue
            memo[current] = not any(memo[r] for r in retractors.get(current, ()))
            stack.pop()
        return memo[event_id]

    retracted = {target for target in retractors if not active(target)}
    replaced: dict[str, RecordedEvent] = {}
    for r in records:
        if isinstance(r.event, ev.Correction) and active(r.event.id):
            target = r.event.corrects
            if target not in retracted:
                replaced[target] = r
    return retracted, replaced


def meta_type_names(store: EventLog) -> list[str]:
    """Stored type names of corrections and retractions in this store's registry."""
    registry = store.codec.registry
    return [registry.of(ev.Correction).name, registry.of(ev.Retraction).name]


def ignored_type_names(store: EventLog, projections: Sequence[Any]) -> list[str]:
    """Stored type names that none of ``projections`` handles (nothing to fold).

    Only projections that declare their handlers (``FoldProjection``) can say so;
    with any other projection present, nothing is left out.
    """
    handled: list[type] = []
    for projection in projections:
        if not isinstance(projection, FoldProjection) or (
            type(projection).apply is not FoldProjection.apply
        ):
            return []
        handled.extend(projection.handlers)
    registry = store.codec.registry
    out = []
    for name in registry.names():
        cls = registry.get(name).cls
        if issubclass(cls, ev.Correction | ev.Retraction | ev.Denial | ev.Confirmation):
            continue  # the fold itself applies denials and confirmations
        if not any(issubclass(cls, h) for h in handled):
            out.append(name)
    return out


def read_fields(projections: Sequence[Any]) -> frozenset[str] | None:
    """The record fields a fold of ``projections`` reads, when each of them says
    (``reads``, declared on its own class: a subclass may read more); else ``None``."""
    fields: set[str] = set()
    for projection in projections:
        cls = type(projection)
        reads = vars(cls).get("reads")
        if reads is None or cls.apply is not FoldProjection.apply:
            return None
        fields.update(reads)
    return frozenset(fields)


def replacement_of(original: RecordedEvent, correction: RecordedEvent) -> ev.Event:
    """The corrected record, standing in the original's story."""
    assert isinstance(correction.event, ev.Correction)
    replacement = correction.event.replacement
    changes: dict[str, Any] = {"story": original.story}
    if replacement.effective_reported_at is None:
        changes["reported_at"] = correction.event.reported_at
        changes["reported_until"] = correction.event.reported_until
    return attrs.evolve(replacement, **changes)


def effective_events(
    store: EventLog,
    bounds: Bounds,
    *,
    upto: int | None = None,
    occurred_from: datetime | None = None,
) -> Iterator[Placed]:
    """Stream the events a fold under ``bounds`` sees, in fold order, with their records.

    Args:
        store: the event store.
        bounds: time bounds and story.
        upto: only the log up to this position (inclusive).
        occurred_from: skip events that occurred before this (the caller holds
            the state up to there).

    Memory use is proportional to the number of corrections and retractions,
    not to the log.
    """
    skip, replacements = _corrections(store, bounds, upto, occurred_from)
    main = (
        Placed(occurred_at=r.event.occurred_at, position=r.position, record=r, event=r.event)
        for r in store.read(_plain_filter(store, bounds, upto, occurred_from))
        if r.event.id not in skip
    )
    yield from heapq.merge(main, replacements)


def fold_events(
    store: EventLog,
    bounds: Bounds,
    *,
    upto: int | None = None,
    occurred_from: datetime | None = None,
    ignore: Sequence[str] = (),
    meta_after: int = 0,
    actor: str | None = None,
    corrections: tuple[set[str], list[Placed]] | None = None,
    fields: frozenset[str] | None = None,
) -> Iterator[tuple[datetime, int, ev.Event]]:
    """As :func:`effective_events`, lean: ``(occurred_at, position, event)`` only.

    The hot path of every full fold and snapshot build. ``ignore``: stored type
    names the fold does not follow, left out in SQL (never decoded). ``meta_after``:
    only events and corrections and retractions after this log position (the
    snapshots' forward fold, when the log up to there is folded already and the new
    part holds no correction or retraction). ``actor``: only the stored events that
    name this actor (the replacements of corrected events are all yielded: the caller
    picks). ``corrections``: :func:`corrections_for` of the same arguments, if the
    caller holds it (several reads over one log share it). ``fields``: the only fields
    of the stored records the caller reads (:func:`read_fields`), a hint to the store.
    """
    skip, replacements = (
        corrections
        if corrections is not None
        else _corrections(store, bounds, upto, occurred_from, meta_after)
    )
    lean = [(p.occurred_at, p.position, p.event) for p in replacements]
    where = _plain_filter(store, bounds, upto, occurred_from)
    if meta_after:
        where = where.but(after_position=meta_after)
    if ignore:
        where = where.but(exclude_types=[*(where.exclude_types or ()), *ignore])
    if actor is not None:
        where = where.but(actor=actor)  # the stored events naming it (replacements: all)
    if fields is not None:
        where = where.but(fields=fields)
    rows = store.read_events(where)
    if not skip:
        yield from rows
        return
    yield from _merged(rows, skip, lean)


def _merged(
    rows: Iterator[tuple[datetime, int, ev.Event]],
    skip: set[str],
    lean: list[tuple[datetime, int, ev.Event]],
) -> Iterator[tuple[datetime, int, ev.Event]]:
    """``heapq.merge`` of ``rows`` without the ids in ``skip`` and the few sorted
    ``lean`` replacements, by ``(occurred_at, position)``, in one loop (a merge's
    generic machinery cost more per row than the rest of the read)."""
    at = 0
    pending = lean[0] if lean else None
    for row in rows:
        if row[2].id in skip:
            continue
        # a replacement stands at its original's position: never equal to a row's key
        while pending is not None and (pending[0], pending[1]) < (row[0], row[1]):
            yield pending
            at += 1
            pending = lean[at] if at < len(lean) else None
        yield row
    yield from lean[at:]


def _plain_filter(
    store: EventLog, bounds: Bounds, upto: int | None, occurred_from: datetime | None
) -> EventFilter:
    return bounds.knowledge(
        exclude_types=meta_type_names(store),
        occurred_from=occurred_from,
        occurred_until=bounds.at,
        upto_position=upto,
        order="occurred",
    )


def corrections_for(
    store: EventLog,
    bounds: Bounds,
    upto: int | None = None,
    occurred_from: datetime | None = None,
    meta_after: int = 0,
) -> tuple[set[str], list[Placed]]:
    """The ids a fold under ``bounds`` skips (retracted or replaced) and the
    replacements merged in their place (those occurring from ``occurred_from``);
    ``meta_after`` as :func:`fold_events` takes it."""
    return _corrections(store, bounds, upto, occurred_from, meta_after)


def _corrections(
    store: EventLog,
    bounds: Bounds,
    upto: int | None,
    occurred_from: datetime | None,
    meta_after: int = 0,
) -> tuple[set[str], list[Placed]]:
    """Ids the main stream skips, and the replacements merged into it, in fold order."""
    if meta_after:
        retracted, replaced = resolve_meta(known_meta(store, bounds, upto, meta_after))
        originals: Iterable[RecordedEvent] = (
            store.read_ids(replaced, bounds.knowledge()) if replaced else ()
        )
    else:
        retracted, replaced, originals = _resolved(store, bounds, upto)
    replacements: list[Placed] = []
    if replaced:
        for original in originals:
            if original.id in retracted or (upto is not None and original.position > upto):
                continue
            placed = _placed(original, replaced[original.id], bounds)
            if placed is not None and (
                occurred_from is None or placed.occurred_at >= occurred_from
            ):
                replacements.append(placed)
        replacements.sort()
    return retracted | set(replaced), replacements


_Resolved = tuple[set[str], dict[str, RecordedEvent], list[RecordedEvent]]

_SHARED: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], _Resolved]] = (
    weakref.WeakKeyDictionary()
)
"""Per store: the last :func:`_resolved` answer and the state of the log it holds for."""


def _resolved(store: EventLog, bounds: Bounds, upto: int | None) -> _Resolved:
    """:func:`resolve_meta` of the corrections and retractions known under ``bounds``
    (up to ``upto``), and the stored records of the replaced events, read under the
    same knowledge bounds.

    A query reads these twice (the uncertain facts, then the fold): the answer is kept
    while the log is unchanged (the store's change marker and head), outside writes
    (rows written there may still roll back). Callers must not modify it.
    """
    key = _shared_key(store, bounds, upto)
    if key is not None:
        kept = _SHARED.get(store)
        if kept is not None and kept[0] == key:
            return kept[1]
    retracted, replaced = resolve_meta(known_meta(store, bounds, upto))
    originals = list(store.read_ids(replaced, bounds.knowledge())) if replaced else []
    found = (retracted, replaced, originals)
    if key is not None:
        _SHARED[store] = (key, found)
    return found


def _shared_key(store: EventLog, bounds: Bounds, upto: int | None) -> tuple[Any, ...] | None:
    """What a kept :func:`_resolved` answer must match, or ``None``: not kept (a store
    that cannot say when it changed, or one inside a write)."""
    marker = getattr(store, "change_marker", None)
    writing = getattr(store, "marker_after_commit", None)
    if marker is None or writing is None:
        return None
    try:
        weakref.ref(store)
    except TypeError:
        return None
    if writing() is not None:
        return None
    knowledge = (bounds.story, bounds.known_at, bounds.recorded_by, bounds.certain)
    return (marker(), store.head(), knowledge, upto)


def known_meta(
    store: EventLog, bounds: Bounds, upto: int | None = None, after: int = 0
) -> Iterator[RecordedEvent]:
    """The corrections and retractions known under ``bounds`` (never cut by ``at``)."""
    where = bounds.knowledge(types=meta_type_names(store), upto_position=upto)
    return store.read(where.but(after_position=after) if after else where)


def effective_in_memory(
    records: Iterable[RecordedEvent], bounds: Bounds | None = None
) -> list[Placed]:
    """Fold order over records already in memory (replays by knowledge time)."""
    plain: list[RecordedEvent] = []
    meta: list[RecordedEvent] = []
    for r in records:
        (plain if ev.target_of(r.event) is None else meta).append(r)
    retracted, replaced = resolve_meta(meta)
    out: list[Placed] = []
    for r in plain:
        if r.id not in retracted:
            placed = _placed(r, replaced.get(r.id), bounds or Bounds())
            if placed is not None:
                out.append(placed)
    out.sort()
    return out


def _placed(
    original: RecordedEvent, correction: RecordedEvent | None, bounds: Bounds
) -> Placed | None:
    """``original`` (or its correction's replacement) in fold order, if it occurred by
    ``bounds.at`` (certainly, with ``bounds.certain``)."""
    event = original.event if correction is None else replacement_of(original, correction)
    if not bounds.occurred_by(event):
        return None
    return Placed(
        occurred_at=event.occurred_at, position=original.position, record=original, event=event
    )


def corrected_originals(
    store: EventLog, bounds: Bounds
) -> list[tuple[str, ev.Event, RecordedEvent]]:
    """Every event a known correction replaces: ``(original id, replacement as it
    stands in the fold, the correction)``, under ``bounds``' knowledge bounds (``at``
    plays no part: a caller may reuse the answer for any ``at``)."""
    _, replaced, originals = _resolved(store, bounds, None)
    return [
        (original.id, replacement_of(original, replaced[original.id]), replaced[original.id])
        for original in originals
    ]


def uncertain_ids(
    store: EventLog,
    bounds: Bounds,
    corrected: Sequence[tuple[str, ev.Event, RecordedEvent]] | None = None,
) -> frozenset[str]:
    """Ids of the events a fold under ``bounds`` sees that only *possibly* happened by
    ``at`` or were only possibly public by ``known_at`` (empty with ``certain``).

    Vague events are few and indexed apart: two indexed reads, whatever the log.
    ``corrected``: :func:`corrected_originals` under the same knowledge bounds, if
    the caller holds it (it is read otherwise).
    """
    if bounds.certain or (bounds.at is None and bounds.known_at is None):
        return frozenset()
    found = _vague_ids(store, bounds)
    if corrected is None:
        corrected = corrected_originals(store, bounds)
    return _judged(bounds, found, corrected)


def uncertain_ids_at(
    store: EventLog, at: datetime, names: Callable[[], dict[str, list[str]] | None]
) -> frozenset[str] | None:
    """:func:`uncertain_ids` under ``Bounds(at=at)`` (no knowledge bound, no story),
    reading only what can make a fact uncertain: the events that happened over a
    period by ``at``, the corrections whose replacement did, and the corrections and
    retractions that decide those events' fates (through chains of them). Under no
    knowledge bound a correction whose replacement is an instant leaves its event
    certain, so the others are never read (:func:`uncertain_ids` reads every
    correction and the event it corrects). ``names``: :func:`meta_names` of the store,
    asked only if some event is vague. ``None``: the store cannot say which
    corrections carry a period, or knows correction or retraction types of its own
    (the caller reads them all).
    """
    vague_corrections = _vague_corrections(store)
    if vague_corrections is None:
        return None
    bounds = Bounds(at=at)
    found = _vague_ids(store, bounds)
    wanted = found | {target for _, target in vague_corrections}
    if not wanted:
        return frozenset()
    naming = names()
    if naming is None:
        return None
    _, replaced = fates_of(store, wanted, naming)
    originals = store.read_ids(sorted(wanted & replaced.keys()), bounds.knowledge())
    corrected = [
        (original.id, replacement_of(original, replaced[original.id]), replaced[original.id])
        for original in originals
    ]
    return _judged(bounds, found, corrected)


def _vague_ids(store: EventLog, bounds: Bounds) -> set[str]:
    """The stored events under ``bounds`` that only possibly happened by its ``at`` or
    were only possibly public by its ``known_at`` (their partial indexes)."""
    found: set[str] = set()
    if bounds.at is not None:
        # in the order of the partial index of vague periods (SQLite then seeks it)
        vague = bounds.knowledge(vague_at=bounds.at, order="occurred")
        found.update(r.id for r in store.read(vague))
    if bounds.known_at is not None:
        vague = bounds.knowledge(vague_known=bounds.known_at, order="reported")
        found.update(r.id for r in store.read(vague))
    return found


def _vague_corrections(store: EventLog) -> list[tuple[str, str]] | None:
    """``(correction id, the id it corrects)`` of each stored correction whose
    replacement happened over a period; ``None`` when the store cannot say, or when
    its registry knows correction or retraction types other than the built-in ones."""
    read: Callable[[], list[tuple[str, str]]] | None = getattr(store, "vague_replacements", None)
    if read is None or sorted(meta_type_names(store)) != ["correction", "retraction"]:
        return None
    return read()


def meta_names(store: EventLog) -> dict[str, list[str]] | None:
    """Target id -> the ids of the corrections and retractions naming it, read from the
    payloads in SQL (nothing decoded); ``None``: the store cannot say."""
    links: Callable[[Sequence[tuple[str, str]]], list[tuple[str, str]]] | None = getattr(
        store, "target_links", None
    )
    if links is None:
        return None
    registry = store.codec.registry
    fields = [(registry.of(c).name, c.target_field) for c in (ev.Correction, ev.Retraction)]
    names: dict[str, list[str]] = {}
    # many small acyclic objects (one pair per correction or retraction), maybe while a
    # writer holds its whole fold: the cyclic collector would walk that fold again
    # (measured: half of a backdated append at 1M events). Paused, as Fold.run does.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        for meta_id, target in links(fields):
            names.setdefault(target, []).append(meta_id)
    finally:
        if paused:
            gc.enable()
    return names


def fates_of(
    store: EventLog,
    ids: Iterable[str],
    naming: dict[str, list[str]],
    upto: int | None = None,
) -> tuple[set[str], dict[str, RecordedEvent]]:
    """:func:`resolve_meta` over the corrections and retractions that decide the fates
    of these ids (through chains of them: a retraction of a correction, a correction of
    a correction), read and decoded alone. Exact for these ids, says nothing of others.
    ``naming``: :func:`meta_names` of the store. ``upto``: the log up to this position."""
    found: set[str] = set()
    pending = list(ids)
    while pending:
        for meta_id in naming.get(pending.pop(), ()):
            if meta_id not in found:
                found.add(meta_id)
                pending.append(meta_id)
    if not found:
        return set(), {}
    records = store.read_ids(sorted(found))
    return resolve_meta(r for r in records if upto is None or r.position <= upto)


def _judged(
    bounds: Bounds, found: set[str], corrected: Iterable[tuple[str, ev.Event, RecordedEvent]]
) -> frozenset[str]:
    """``found`` (the vague stored events), each corrected one judged by its
    replacement's own times instead, under ``bounds``."""
    # a correction's replacement stands in for its original: judge it by its own times
    for original_id, event, correction in corrected:
        found.discard(original_id)
        if not bounds.occurred_by(event):
            continue  # the fold does not see it at all (it occurred after ``at``)
        # the correction itself must be certainly known too
        known = bounds.known_at is None or correction.reported_until <= bounds.known_at
        if not (known and bounds.is_certain(event)):
            found.add(original_id)
    return frozenset(found)


__all__ += [
    "corrected_originals",
    "fates_of",
    "meta_names",
    "uncertain_ids_at",
    "corrections_for",
    "uncertain_ids",
    "effective_in_memory",
    "ignored_type_names",
    "known_meta",
    "meta_type_names",
    "replacement_of",
]

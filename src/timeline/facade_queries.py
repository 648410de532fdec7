"""The ``Timeline`` facade's queries: states at a time, single facts, replay, diff,
history, search and following the log."""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import attrs

from timeline import events as ev
from timeline._gc import collector_paused
from timeline.bitemporal import (
    Bounds,
    corrected_originals,
    fold_events,
    ignored_type_names,
    meta_names,
    meta_type_names,
    read_fields,
    uncertain_ids,
    uncertain_ids_at,
)
from timeline.catchup import LiveFold
from timeline.facade_core import FastPath, TimelineCore
from timeline.projections.base import Change
from timeline.projections.fold import Fold, State, diff_states
from timeline.projections.orders import OrderIntent, intent_key
from timeline.projections.stance import Stance
from timeline.replay import Replay, ReplayStep
from timeline.store.base import EventFilter
from timeline.store.recorded import RecordedEvent, SearchHit
from timeline.times import TimeInput, parse_bound, parse_instant

__all__ = ["TimelineQueries"]

_CURRENT_KNOWLEDGE = Bounds()  # no knowledge bound: what the store knows now


class TimelineQueries(TimelineCore):
    """Point-in-time queries over the log and the snapshots."""

    def state(
        self,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
        story: str | None = None,
        *,
        certain: bool = False,
    ) -> State:
        """The facts at valid time ``at``, as known at ``known_at``, as recorded by ``recorded_by``.

        Every bound is optional and accepts a ``datetime`` (timezone-aware), a
        ``date`` or an ISO string; a date-only bound means the end of that UTC day.

        Args:
            at: only events that occurred by then (corrections and retractions
                are never filtered by ``at``).
            known_at: only events reported (made public) by then.
            recorded_by: only events this store had recorded by then (audit).
            story: only this story.
            certain: only events that *certainly* happened by ``at`` and were
                certainly public by ``known_at`` (their periods end by then); by
                default an event counts when it possibly did. Either way each fact
                says whether it is ``certain``.

        Raises:
            ValidationError: a bound that is naive or unparseable, naming it.
        """
        bounds = Bounds.parse(
            at=at, known_at=known_at, recorded_by=recorded_by, story=story, certain=certain
        )
        if bounds.certain and bounds.at is None and bounds.known_at is None:
            bounds = attrs.evolve(bounds, certain=False)  # nothing is cut by a period's end
        # the snapshots hold what possibly happened: a certain answer is the same
        # when no event in it only possibly happened by ``at`` (or was only possibly
        # public by ``known_at``); otherwise it folds the log
        possible = attrs.evolve(bounds, certain=False) if bounds.certain else bounds
        snapshots = self._snapshots_for(possible)
        # a reader never writes (beyond the best-effort refresh above, which never
        # raises) and reads one committed log, whatever writers do meanwhile
        with self._store.reading():
            uncertain = self._uncertain(possible)
            if bounds.certain:
                if uncertain:
                    snapshots = None
                uncertain = frozenset()
            tables = snapshots.tables_for(possible) if snapshots is not None else None
            if tables is not None:
                return State(
                    tables,
                    resolve=self._resolver(),
                    check_topic=self._topic_check(),
                    uncertain=uncertain,
                )
            return self._folded_state(bounds, uncertain)

    def _folded_state(self, bounds: Bounds, uncertain: frozenset[str] = frozenset()) -> State:
        story = bounds.story
        ctx = self._context()
        if bounds.is_unbounded:
            live = self._live.get(story)
            if live is None or live.ctx != ctx:
                live = self._live[story] = LiveFold(self._projections, ctx, story)
            live.catch_up(self._store)
            return live.fold.state(self._resolver(), self._topic_check())
        fold = Fold(self._projections, ctx)
        ignore = ignored_type_names(self._store, self._projections)
        fields = read_fields(self._projections)  # the records are folded, then dropped
        stream = fold_events(self._store, bounds, ignore=ignore, fields=fields)
        fold.run(event for _, _, event in stream)
        return fold.state(self._resolver(), self._topic_check(), uncertain)

    def stance(
        self,
        actor: str,
        topic: str,
        *,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        certain: bool = False,
    ) -> Stance | None:
        """One actor's stance on one topic at valid time ``at``, as known at ``known_at``.

        The fast path for a single fact: one indexed lookup in the snapshots,
        whatever the length of the log. Equal to ``state(at=at, known_at=known_at,
        certain=certain).stance(actor, topic)``.
        """
        when = parse_bound(at, field="at") if at is not None else None
        if known_at is None:  # certain or not: the lookup falls back on vague periods
            answered, found = self._lookup("stance", lambda resolve: (resolve(actor), topic), when)
            if answered:
                if found is None:
                    self.check_topic(topic)
                return cast(Stance | None, found)
        return self.state(at=at, known_at=known_at, certain=certain).stance(actor, topic)

    def order_intent(
        self,
        buyer: str,
        supplier: str,
        product: str,
        *,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        certain: bool = False,
    ) -> OrderIntent | None:
        """One buyer's order intent at valid time ``at``, as known at ``known_at`` (one
        indexed lookup when it can).

        Equal to ``state(at=at, known_at=known_at, certain=certain).order_intent(...)``.
        """
        when = parse_bound(at, field="at") if at is not None else None
        if known_at is None:  # certain or not: the lookup falls back on vague periods
            answered, found = self._lookup(
                "orders",
                lambda resolve: intent_key(resolve(buyer), resolve(supplier), product),
                when,
            )
            if answered:
                return cast(OrderIntent | None, found)
        state = self.state(at=at, known_at=known_at, certain=certain)
        return state.order_intent(buyer, supplier, product)

    def _lookup(
        self,
        projection: str,
        key_of: Callable[[Callable[[str], str]], Hashable],
        when: datetime | None,
    ) -> tuple[bool, Any]:
        """One fact from the snapshots: ``(True, fact)``, or ``(False, None)`` when they
        cannot answer (not current, or some event only possibly happened by ``when``).
        ``key_of`` builds the fact's key with the actor resolver it is given.

        While nothing was written anywhere since the last lookup, the checks are not
        repeated: a lookup is one statement reading the fact and the store's change
        count together (a store that keeps no count: one ``PRAGMA`` and the indexed
        read in a read transaction). Names are resolved one at a time
        (:meth:`_actor_named`), never the whole actor lookup.

        The cyclic collector is paused for the lookup (as for an append): the few
        objects it makes are acyclic, and a collection started by them would walk the
        caller's whole heap (measured at 1M events: half of a warm lookup's time).
        """
        if self._fast is not None:
            # warm: the count unchanged since the checks says the fact read with it, the
            # names resolved and the vague extent all belong to that same state
            _, snapshots, resolve, vague, count = self._fast
            if count is not None and (
                vague is None or when is None or not vague[0] <= when < vague[1]
            ):
                paused = gc.isenabled()  # collector_paused() inline: 40 ns, not 1 us
                if paused:
                    gc.disable()
                try:
                    same, found = snapshots.fact_if_unchanged(
                        projection, key_of(resolve), when, count
                    )
                finally:
                    if paused:
                        gc.enable()
                if same:
                    return True, found
        with collector_paused():
            return self._lookup_checked(projection, key_of, when)

    def _lookup_checked(
        self,
        projection: str,
        key_of: Callable[[Callable[[str], str]], Hashable],
        when: datetime | None,
    ) -> tuple[bool, Any]:
        """:meth:`_lookup` once the warm path could not answer: the checks, in one read
        transaction, then the indexed read."""
        for attempt in range(2):
            with self._store.reading():
                marker = self._store.change_marker()
                fast = self._fast
                if fast is None or fast[0] != marker:
                    # a newly opened store (or a change): when the snapshots already
                    # cover the log, everything below is read in this one transaction
                    fast = self._fast = self._fast_path(marker)
                if fast is not None:
                    _, snapshots, resolve, vague, _ = fast
                    possibly = (
                        vague is not None and when is not None and vague[0] <= when < vague[1]
                    )
                    if possibly and self._vague_at(when):
                        return False, None
                    return True, snapshots.fact_at(projection, key_of(resolve), when)
            if attempt or self._snapshots_for(_CURRENT_KNOWLEDGE) is None:
                break  # (the refresh may bring them up to date: then one more try)
        return False, None

    def _fast_path(self, marker: tuple[int, int]) -> FastPath | None:
        """Inside a read transaction: what lookups need while ``marker`` holds, if the
        stored snapshots answer them exactly as they stand (no refresh), with the
        store's change count as of the same transaction when it keeps one."""
        found = self._snapshots_as_stored(_CURRENT_KNOWLEDGE)
        if found is None or not found.covers(_CURRENT_KNOWLEDGE, marker):
            return None
        counter: Callable[[], tuple[int, int]] | None = getattr(self._store, "change_count", None)
        count = counter() if counter is not None else None
        return (marker, found, self._name_resolver(), self._vague_extent(), count)

    def _name_resolver(self) -> Callable[[str], str]:
        """Actor name -> id as :meth:`resolve_actor` says, each name resolved once (the
        resolver lives until the next change): an exact id or alias from one indexed
        read when the store offers it, else the whole lookup."""
        names: dict[str, str] = {}
        find: Callable[[str], str | None] | None = getattr(self._store, "actor_for", None)

        def resolve(name: str) -> str:
            if not isinstance(name, str):
                return self.resolve_actor(name)  # says what is wrong with it
            found = names.get(name)
            if found is None:
                found = find(name) if find is not None else None
                if found is None:
                    found = self.resolve_actor(name)  # folds case and width, or says unknown
                names[name] = found
            return found

        return resolve

    def _vague_extent(self) -> tuple[datetime, datetime] | None:
        """From the earliest to the latest instant at which some event (or some
        correction's replacement) only possibly happened; ``None``: never."""
        extent: Callable[[Sequence[str]], tuple[datetime, datetime] | None] | None = getattr(
            self._store, "vague_extent", None
        )
        if extent is None:  # a store that cannot say: every time may be vague
            return (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
        return extent([self._store.codec.registry.of(ev.Correction).name])

    def _vague_at(self, at: datetime | None) -> bool:
        """Whether some event only possibly happened by ``at`` (facts may be uncertain)."""
        return at is not None and bool(self._uncertain(Bounds(at=at)))

    def _uncertain(self, bounds: Bounds) -> frozenset[str]:
        """:func:`uncertain_ids`. With no knowledge bound or story, only what can make a
        fact uncertain is read (:func:`uncertain_ids_at`), or else the corrected events,
        once per change of the store."""
        if bounds.certain or (bounds.at is None and bounds.known_at is None):
            return frozenset()
        if bounds.known_at is not None or bounds.recorded_by is not None or bounds.story:
            return uncertain_ids(self._store, bounds)
        marker = self._store.change_marker()
        assert bounds.at is not None  # (no known_at)
        near = uncertain_ids_at(self._store, bounds.at, lambda: self._meta_names(marker))
        if near is not None:
            return near
        if self._corrected is None or self._corrected[0] != marker:
            head = self._store.head()
            if self._corrected is not None and self._same_corrections(*self._corrected[2:], head):
                self._corrected = (marker, self._corrected[1], head, self._row_at(head))
            else:
                found = corrected_originals(self._store, _CURRENT_KNOWLEDGE)
                self._corrected = (marker, found, head, self._row_at(head))
        return uncertain_ids(self._store, bounds, self._corrected[1])

    def _meta_names(self, marker: tuple[int, int]) -> dict[str, list[str]] | None:
        """:func:`meta_names` of the store, read once per change of it."""
        if self._meta_naming is None or self._meta_naming[0] != marker:
            self._meta_naming = (marker, meta_names(self._store))
        return self._meta_naming[1]

    def _row_at(self, position: int) -> tuple[Any, ...] | None:
        """The stored row at ``position`` (its hash seals the log up to it); ``None``
        also when the store cannot say (its corrected events are then read each time)."""
        raw: Callable[[int, int], list[tuple[Any, ...]]] | None = getattr(
            self._store, "raw_rows", None
        )
        rows = raw(position - 1, 1) if raw is not None and position else []
        return rows[0] if rows else None

    def _same_corrections(self, head: int, row: tuple[Any, ...] | None, now: int) -> bool:
        """Whether the log, at ``now``, still holds the same corrections and retractions
        as when it ended at ``head`` with ``row``: the same row there (the hash chain
        seals what precedes it) and none appended since. After an append of plain
        events (a backdated one, say) the corrected events are not read again."""
        if now < head or row is None or self._row_at(head) != row:
            return False
        since = EventFilter(
            types=meta_type_names(self._store), after_position=head, upto_position=now
        )
        return next(iter(self._store.read(since)), None) is None

    def replay(
        self,
        order: str = "occurred",
        *,
        start: TimeInput | None = None,
        until: TimeInput | None = None,
        story: str | None = None,
        actor: str | None = None,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
        certain: bool = False,
    ) -> Replay:
        """Step through the log; each step carries the event and the facts it changed.

        Args:
            order: ``"occurred"`` (as it happened), ``"reported"`` (as it became
                public) or ``"recorded"`` (as this store learned it).
            start: skip steps before this time (in ``order``'s time); the fold
                still starts at the beginning.
            until: stop after this time (in ``order``'s time). The last step's
                state equals ``state()`` with the matching bound (``at`` for
                occurred, ``known_at`` for reported, ``recorded_by`` for recorded).
            story: only this story.
            actor: only steps whose event names the actor or whose changes touch it.
            at / known_at / recorded_by: further bounds, as in :meth:`state`.
            certain: as in :meth:`state`; in occurred order ``until`` is the ``at``
                bound under the same rule.
        """
        bounds = Bounds.parse(
            at=at, known_at=known_at, recorded_by=recorded_by, story=story, certain=certain
        )
        return Replay(
            self._store,
            lambda: self._projections,
            self._context(),
            order=order,
            bounds=bounds,
            start=parse_instant(start, field="start")[0] if start is not None else None,
            until=parse_bound(until, field="until") if until is not None else None,
            actor=self.resolve_actor(actor) if actor is not None else None,
            resolve=self._resolver(),
        )

    def diff(
        self,
        a: TimeInput,
        b: TimeInput,
        *,
        known: bool = False,
        story: str | None = None,
        certain: bool = False,
    ) -> list[Change]:
        """Facts that changed between two valid times, or two knowledge times.

        ``diff(a, b)`` compares ``state(at=a)`` with ``state(at=b)``: what
        happened in between, as we know it now. ``diff(a, b, known=True)``
        compares ``state(known_at=a)`` with ``state(known_at=b)``: what we learned.
        ``certain``: compare certain states (see :meth:`state`).
        """
        if known:
            before = self.state(known_at=a, story=story, certain=certain)
            after = self.state(known_at=b, story=story, certain=certain)
        else:
            before = self.state(at=a, story=story, certain=certain)
            after = self.state(at=b, story=story, certain=certain)
        return diff_states(before, after)

    def history(
        self,
        actor: str,
        *,
        story: str | None = None,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        certain: bool = False,
    ) -> list[ReplayStep]:
        """Every step, in occurred order, that names ``actor`` or changes one of its facts.

        ``at`` / ``known_at`` / ``certain``: bounds as in :meth:`state`.

        Raises:
            UnknownActorError: no such actor.
        """
        return list(
            self.replay(
                "occurred", actor=actor, story=story, at=at, known_at=known_at, certain=certain
            )
        )

    def amended_evidence(
        self, fact: object, *, known_at: TimeInput | None = None, story: str | None = None
    ) -> tuple[str, ...]:
        """A fact's ``evidence`` with the id of each correction or retraction of one of
        its events just before that event's id, as the command line shows it:
        ``("mag-10", "mag-09", ...)`` when mag-10 corrected mag-09.

        A fact folded from a corrected event keeps the event's own id in ``evidence``;
        this says which correction made it so. ``known_at``: only the corrections and
        retractions reported by then (as for the state the fact comes from).
        """
        from timeline.output.corrections import amendments
        from timeline.output.labels import with_amending_ids

        until = None if known_at is None else parse_bound(known_at, field="known_at")
        amended = amendments(self, known_until=until, story=story)
        return tuple(getattr(with_amending_ids(fact, amended), "evidence", ()))

    def search(
        self,
        query: str,
        *,
        story: str | None = None,
        actor: str | None = None,
        type: str | Sequence[str] | None = None,
        since: TimeInput | None = None,
        until: TimeInput | None = None,
        limit: int | None = 50,
        raw: bool | None = None,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        current: bool = False,
    ) -> list[SearchHit]:
        """Full-text search over summaries, quotes, attributions, sources and actor names.

        Every hit says whether it was retracted or corrected (``status``,
        ``amended_by``) by what was reported by ``known_at`` (default: now).

        Args:
            query: words (each must appear; ``grey-market`` is a phrase), or
                FTS5 syntax: ``"grey market"``, ``nvidia AND (h200 OR h20)``,
                ``chip*``, ``summary: tender``.
            story / actor / type / since / until: filters as in :meth:`events`.
            limit: at most this many results (``None``: all).
            raw: ``True`` to read ``query`` as FTS5 syntax, ``False`` as plain
                words; by default FTS5 syntax when the query visibly uses it.
            at: only events that occurred by then (as ``until``).
            known_at: only events reported by then; retractions and corrections
                reported later do not count.
            current: leave out retracted and corrected (superseded) events.

        Returns:
            Hits, best match first, each with the event, a snippet with the
            matches in ``[`` ``]``, and FTS5's rank (lower is better).

        Raises:
            ValidationError: an empty or malformed query, a bad bound or limit.
            UnknownActorError: no such actor.
            UnknownEventTypeError: no such type.
        """
        types = [type] if isinstance(type, str) else list(type) if type else None
        for name in types or ():
            self._store.codec.registry.get(name)
        where = self._filter(story=story, actor=actor, types=types, since=since, until=until)
        known = parse_bound(known_at, field="known_at") if known_at is not None else None
        if at is not None:
            bound = parse_bound(at, field="at")
            if where.occurred_until is None or bound < where.occurred_until:
                where = where.but(occurred_until=bound)
        if known is not None:
            where = where.but(reported_until=known)
        hits = self._store.search(query, raw=raw, where=where, limit=None if current else limit)
        amended: dict[str, tuple[str, str]] = {}
        metas = self.events(type=["correction", "retraction"], reported_until=known, story=story)
        for record in metas:
            target = ev.target_of(record.event)
            if target is not None:
                kind = "retracted" if isinstance(record.event, ev.Retraction) else "corrected"
                amended[target] = (kind, record.event.id)
        marked = [
            attrs.evolve(h, status=amended[h.record.id][0], amended_by=amended[h.record.id][1])
            if h.record.id in amended
            else h
            for h in hits
        ]
        if current:
            marked = [h for h in marked if h.amended_by is None][:limit]
        return marked

    def follow(
        self,
        after: int = 0,
        *,
        story: str | None = None,
        timeout: float | None = None,
        poll: float = 1.0,
    ) -> Iterator[RecordedEvent]:
        """Events as they are appended, from position ``after`` on, in log order.

        Catches up first, then waits: on PostgreSQL for a notification (one per
        append, a wake-up only), on SQLite by looking at the log. It reads by
        position, so it misses nothing, also across a reconnect.

        Args:
            after: the last position already seen (0: from the start).
            story: only this story's events.
            timeout: stop after this many seconds without a new event (``None``:
                follow until the caller stops iterating).
            poll: the longest single wait, in seconds.
        """
        last = after
        idle = 0.0
        while True:
            head = last
            for record in self._store.read(EventFilter(after_position=last)):
                head = record.position
                if story is None or record.story == story:
                    yield record
            if head > last:
                last, idle = head, 0.0
                continue
            step = poll if timeout is None else min(poll, timeout - idle)
            if step <= 0:
                return
            if not self._store.wait(last, step):
                idle += step

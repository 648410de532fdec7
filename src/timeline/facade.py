"""The ``Timeline`` facade: where the store, fixtures and projections meet."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import attrs

from timeline import events as ev
from timeline.bitemporal import Bounds, fold_events, ignored_type_names, uncertain_ids
from timeline.catchup import LiveFold
from timeline.clock import Clock
from timeline.codec import Codec
from timeline.copying import CopyReport, copy_store
from timeline.errors import (
    DuplicateEventError,
    FixtureError,
    IntegrityError,
    StoreError,
    UnknownActorError,
    UnknownTopicError,
    ValidationError,
)
from timeline.fixtures import (
    Fixture,
    FixtureStream,
    WholeFileNeeded,
    fixture_error,
    fixture_error_at,
    read_fixture,
)
from timeline.identity import fold
from timeline.output.export import FORMATS, read_jsonl
from timeline.output.export import export as export_to
from timeline.output_files import atomic_text
from timeline.projections.base import Change, Context, Projection
from timeline.projections.fold import Fold, State, diff_states
from timeline.projections.orders import OrderIntent, OrderIntentProjection, intent_key
from timeline.projections.stance import Stance, StanceProjection
from timeline.registry import Registry
from timeline.replay import Replay, ReplayStep
from timeline.snapshots import Snapshots, materializable
from timeline.store.base import EventFilter, EventLog, SnapshotStore
from timeline.store.datasette import metadata as datasette_metadata
from timeline.store.facts import SQLiteSnapshotStore
from timeline.store.postgres import is_postgres_url
from timeline.store.recorded import Actor, AppendResult, RecordedEvent, SearchHit
from timeline.store.sqlite import EventStore
from timeline.suggest import suggest
from timeline.times import TimeInput, parse_bound, parse_instant

__all__ = ["LoadReport", "Timeline", "TopicSummary"]

UPKEEP_LIMIT = 20_000
_CURRENT_KNOWLEDGE = Bounds()  # no knowledge bound: what the store knows now


@attrs.frozen(kw_only=True)
class LoadReport:
    """What loading one fixture file did."""

    path: str
    story: str
    appended: int
    skipped: int
    # restrictions that, as loaded, can block no one (a product or an applies_to
    # entry that matches nothing known): almost always a misspelling
    warnings: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class TopicSummary:
    """A topic the stored events name: how many events, and which actors take part."""

    topic: str
    events: int
    actors: tuple[str, ...]


class Timeline:
    """An event-sourced news timeline stored in one SQLite file.

    Open with :meth:`open`; use as a context manager to close it.
    """

    def __init__(
        self,
        store: EventLog,
        projections: Sequence[Projection] | None = None,
        *,
        snapshot_store: SnapshotStore | None = None,
    ) -> None:
        """A timeline over an event log (most users want :meth:`open`).

        Args:
            store: the event log.
            projections: as in :meth:`open`.
            snapshot_store: where the built-in facts are persisted (``None``: every
                state is folded from the log).
        """
        self._store = store
        self._snapshot_store = snapshot_store
        self._projections: list[Projection] = list(
            projections
            if projections is not None
            else (StanceProjection(), OrderIntentProjection())
        )
        self._live: dict[str | None, LiveFold] = {}
        self._snapshots: Snapshots | None = None
        self._materializable = materializable(self._projections)
        self._topics: tuple[tuple[int, int], frozenset[str]] | None = None
        self._named_topics: set[str] = set()
        # events a writer refolds after its append at most (more is left to the next
        # query): new events, a per-fact refold and short backdatings stay current
        self._upkeep_limit = UPKEEP_LIMIT  # topics known to be named by some event

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        readonly: bool = False,
        clock: Clock | None = None,
        registry: Registry | None = None,
        projections: Sequence[Projection] | None = None,
        busy_timeout: float = 10.0,
    ) -> Timeline:
        """Open (and by default create) a store file.

        Args:
            path: the SQLite file, ``":memory:"``, or a PostgreSQL URL
                (``postgresql://user@host/db``; needs the extra ``timeline[postgres]``).
            create: create the file when missing; with ``False`` a missing file
                raises ``StoreFormatError`` and nothing is created.
            readonly: open read-only; every write raises.
            clock: the store clock for ``recorded_at`` (default: the system UTC
                clock; on PostgreSQL the server's clock).
            registry: event types to read and write (default: the global registry).
            projections: the projections states are built from (default: stance
                and order intent; see :meth:`add_projection`).
            busy_timeout: seconds to wait for another writer's lock.

        Raises:
            StoreFormatError: not a timeline store, a newer schema, or missing
                with ``create=False``.
        """
        codec = Codec(registry) if registry is not None else None
        if is_postgres_url(path):
            from timeline.store.postgres import PostgresEventStore, PostgresSnapshotStore

            pg = PostgresEventStore(
                str(path),
                clock=clock,
                codec=codec,
                create=create,
                readonly=readonly,
                busy_timeout=busy_timeout,
            )
            return cls(pg, projections, snapshot_store=PostgresSnapshotStore(pg))
        store = EventStore(
            path,
            clock=clock,
            codec=codec,
            create=create,
            readonly=readonly,
            busy_timeout=busy_timeout,
        )
        return cls(store, projections, snapshot_store=SQLiteSnapshotStore(store))

    @property
    def path(self) -> Path:
        """The store file (on PostgreSQL: the database name)."""
        return self._store.path

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(getattr(self._store, "backend", "sqlite"))

    @property
    def location(self) -> str:
        """The file, or the PostgreSQL URL without its password, as messages name it."""
        return str(getattr(self._store, "label", self._store.path))

    @property
    def store(self) -> EventLog:
        """The low-level event log."""
        return self._store

    def close(self) -> None:
        """Close the store."""
        self._store.close()

    def __enter__(self) -> Timeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing ------------------------------------------------------------

    def append(
        self,
        events: Iterable[ev.Event],
        *,
        story: str | None = None,
        expected_version: int | None = None,
    ) -> AppendResult:
        """Append a batch of events to one story, atomically.

        Unknown actor ids are registered as they are met (use fixtures to
        declare names and aliases); known aliases resolve to actor ids.

        Args:
            events: records; their ``story`` may be unset (``story`` is used).
            story: the story slug, if the records don't carry it.
            expected_version: the story version the caller last saw; a mismatch
                raises ``ConcurrencyError`` and writes nothing.

        Returns:
            The recorded events and the ids skipped as already stored.

        Raises:
            ConcurrencyError: ``expected_version`` is stale.
            DuplicateEventError: an id is stored with different content.
            ValidationError: a correction or retraction points nowhere, etc.
        """
        result = self._store.append(events, story=story, expected_version=expected_version)
        if result.appended:
            self._keep_snapshots()
        return result

    def _keep_snapshots(self) -> None:
        """After a write: bring the persisted snapshots up to the log, so that readers
        find them current. New events are folded on top; a backdated announcement,
        statement or meeting refolds the one stance it sets; any other change refolds
        from its time if that is at most ``UPKEEP_LIMIT`` events, and is otherwise left
        to the next query (bounded work per append). Derived data: the events are
        already committed, so a failure here (another writer holding the lock) is
        also left for the next writer or reader."""
        if self._store.readonly or not self._materializable or self._snapshot_store is None:
            return
        ctx = self._context()
        if self._snapshots is None or self._snapshots.ctx.actor_kinds != ctx.actor_kinds:
            self._snapshots = Snapshots(self._store, self._snapshot_store, self._projections, ctx)
        try:
            self._snapshots.catch_up(limit=self._upkeep_limit)
        except StoreError:
            self._snapshots = None

    def register_actor(
        self, actor_id: str, *, name: str | None = None, kind: str = "", aliases: Sequence[str] = ()
    ) -> Actor:
        """Declare (or update) an actor with a display name, kind and aliases."""
        actor = Actor(id=actor_id, name=name or actor_id, kind=kind, aliases=tuple(aliases))
        self._store.register_actors([actor])
        return actor

    def load(
        self,
        path: str | os.PathLike[str],
        *,
        expected_version: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Load one fixture file: all of it, or nothing; reloading appends nothing.

        Raises:
            FixtureError: any problem, naming the file, the event and the field.
        """
        try:
            return self._load_streaming(path, expected_version, progress)
        except WholeFileNeeded:
            pass  # nothing was written; the whole-file reader handles (or words) it
        fixture = self.read_fixture(path)
        return self.load_fixture(fixture, expected_version=expected_version, progress=progress)

    def _load_streaming(
        self,
        path: str | os.PathLike[str],
        expected_version: int | None,
        progress: Callable[[int], None] | None,
    ) -> LoadReport:
        """Read and append a fixture chunk by chunk in one transaction (bounded memory)."""
        store = self._store
        # an optional capability of a backend (SQLite has it): without it, read whole
        append_chunks: Callable[..., tuple[int, int]] | None = getattr(store, "append_chunks", None)
        if append_chunks is None:
            raise WholeFileNeeded

        def stored_type(event_id: str) -> str | None:
            found = store.get(event_id)
            return None if found is None else store.codec.registry.of(found.event).name

        with FixtureStream(
            path,
            codec=store.codec,
            known_actors=store.actor_lookup(),
            stored_type=stored_type,
            known_source=getattr(store, "stored_source", None),
        ) as stream:
            where: dict[int, str] = {}  # index -> id, for the chunk being appended
            restrictions: list[ev.PolicyChange] = []

            def chunks() -> Iterator[list[ev.Event]]:
                offset = 0
                for chunk in stream.chunks():
                    restrictions.extend(_restrictions_in(chunk))
                    where.clear()
                    where.update((offset + i, e.id) for i, e in enumerate(chunk))
                    yield chunk
                    offset += len(chunk)
                    if progress is not None:
                        progress(len(chunk))

            try:
                appended, skipped = append_chunks(
                    chunks(),
                    story=stream.story,
                    expected_version=expected_version,
                    actors=stream.actors,
                    register_actors=False,
                    title=stream.title,
                )
            except FixtureError:
                raise  # the reader's own, already naming file, event and field
            except (DuplicateEventError, UnknownActorError, ValidationError) as exc:
                index = getattr(exc, "batch_index", None)
                event_id = where.get(index) if index is not None else None
                raise fixture_error_at(stream.path, index, event_id, exc) from exc
        if appended:
            self._keep_snapshots()
        return LoadReport(
            path=stream.path,
            story=stream.story,
            appended=appended,
            skipped=skipped,
            warnings=self._restriction_warnings(restrictions),
        )

    def read_fixture(self, path: str | os.PathLike[str]) -> Fixture:
        """Parse and validate a fixture file against this store, without writing."""
        return read_fixture(
            path,
            codec=self._store.codec,
            known_actors=self._store.actor_lookup(),
            known_ids=self._store.known_ids(),
            known_source=getattr(self._store, "stored_source", None),
        )

    def load_fixture(
        self,
        fixture: Fixture,
        *,
        expected_version: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Append a parsed fixture in one transaction."""
        try:
            result = self._store.append(
                fixture.events,
                story=fixture.story,
                expected_version=expected_version,
                actors=fixture.actors,
                register_actors=False,
                title=fixture.title,
            )
        except (DuplicateEventError, UnknownActorError, ValidationError) as exc:
            raise fixture_error(fixture, exc) from exc
        if progress is not None:
            progress(len(fixture.events))
        if result.appended:
            self._keep_snapshots()
        return LoadReport(
            path=fixture.path,
            story=fixture.story,
            appended=len(result.appended),
            skipped=len(result.skipped),
            warnings=self._restriction_warnings(_restrictions_in(fixture.events)),
        )

    def _restriction_warnings(self, restrictions: Sequence[ev.PolicyChange]) -> tuple[str, ...]:
        """Bans and restrictions that match nothing known, so block no one."""
        if not restrictions:
            return ()
        actors = self._store.actors()
        ids = {a.id for a in actors}
        kinds = {a.kind.strip().casefold() for a in actors if a.kind.strip()}
        traded: set[str] = set()
        trading = ["inquiry", "order_placed", "order_cancelled", "order_delivered"]
        for record in self.events(type=trading):
            for name in ("product", "supplier"):
                value = getattr(record.event, name, None)
                if isinstance(value, str):
                    traded.add(value.casefold())
        out: list[str] = []
        names = [n for a in actors for n in (a.id, a.name, *a.aliases)]
        for event in restrictions:
            reasons = []
            if event.product and event.product.casefold() not in traded:
                reasons.append(
                    f"product {event.product!r} is no product or supplier of any inquiry or order"
                )
            targets = [
                entry
                for entry in event.applies_to
                if entry in ids
                or (entry[:5].casefold() == "kind:" and entry[5:].strip().casefold() in kinds)
            ]
            if event.applies_to and not targets:
                described = []
                for entry in event.applies_to:
                    close = suggest(entry, names, limit=1, cutoff=0.85)
                    described.append(
                        f"{entry!r} (did you mean {close[0]!r}?)" if close else repr(entry)
                    )
                reasons.append(
                    f"applies_to names no known actor or kind, only descriptions: "
                    f"{', '.join(described)}"
                )
            if reasons:
                out.append(
                    f"{event.id}: the {event.measure.value} blocks no one: {'; '.join(reasons)}"
                )
        return tuple(out)

    # --- reading ------------------------------------------------------------

    def events(
        self,
        *,
        story: str | None = None,
        actor: str | None = None,
        type: str | Sequence[str] | None = None,
        since: TimeInput | None = None,
        until: TimeInput | None = None,
        reported_since: TimeInput | None = None,
        reported_until: TimeInput | None = None,
        order: str = "recorded",
    ) -> Iterator[RecordedEvent]:
        """Stream stored events, filtered; nothing is read into memory up front.

        Args:
            story: only this story.
            actor: only events naming this actor (id or alias).
            type: stored type name(s), e.g. ``"inquiry"``.
            since / until: bounds on ``occurred_at`` (a date-only ``until`` covers that day).
            reported_since / reported_until: bounds on ``reported_at``.
            order: ``"recorded"`` (log order), ``"occurred"`` or ``"reported"``.
        """
        types = [type] if isinstance(type, str) else None if type is None else list(type)
        if types is not None:
            if not types:
                raise ValidationError("type: give at least one event type", field="type")
            for name in types:
                if not isinstance(name, str):
                    raise ValidationError(f"type: expected text, got {name!r}", field="type")
                self._store.codec.registry.get(name)
        if order not in ("recorded", "occurred", "reported"):
            raise ValidationError(
                f"order: {order!r} is not one of recorded, occurred, reported", field="order"
            )
        where = self._filter(story=story, actor=actor, types=types, since=since, until=until)
        return self._store.read(
            where.but(
                reported_from=(
                    parse_instant(reported_since, field="reported_since")[0]
                    if reported_since is not None
                    else None
                ),
                reported_until=(
                    parse_bound(reported_until, field="reported_until")
                    if reported_until is not None
                    else None
                ),
                order=order,
            )
        )

    def _filter(
        self,
        *,
        story: str | None,
        actor: str | None,
        types: Sequence[str] | None,
        since: TimeInput | None,
        until: TimeInput | None,
    ) -> EventFilter:
        """The read filter for what people pass to :meth:`events` and :meth:`search`."""
        return EventFilter(
            story=story,
            actor=self.resolve_actor(actor) if actor is not None else None,
            types=types,
            occurred_from=parse_instant(since, field="since")[0] if since is not None else None,
            occurred_until=parse_bound(until, field="until") if until is not None else None,
        )

    # --- projections and point-in-time queries ---------------------------------

    @property
    def projections(self) -> list[Projection]:
        """The projections every state is built from."""
        return list(self._projections)

    def add_projection(self, projection: Projection) -> None:
        """Run ``projection`` too in every state, replay, diff and history.

        Raises:
            ValidationError: a projection of that name is already registered.
        """
        if any(p.name == projection.name for p in self._projections):
            raise ValidationError(
                f"a projection named {projection.name!r} is already registered", field="name"
            )
        self._projections.append(projection)
        self._live.clear()
        self._snapshots = None
        self._materializable = materializable(self._projections)

    def _context(self, marker: tuple[int, int] | None = None) -> Context:
        # from the cached actor lookup: no query unless the actors changed
        lookup = self._store.actor_lookup(marker)
        cached = getattr(self, "_ctx_cache", None)
        if cached is not None and cached[0] is lookup:
            ctx: Context = cached[1]
            return ctx
        kinds = tuple(sorted((a.id, a.kind.casefold()) for a in self._store.actors() if a.kind))
        ctx = Context(known_actors=frozenset(lookup.values()), actor_kinds=kinds)
        self._ctx_cache = (lookup, ctx)
        return ctx

    def _resolver(self) -> Callable[[str], str]:
        """Actor id, alias or display name -> id; unknown names raise ``UnknownActorError``."""
        lookup = self._store.actor_lookup()

        def resolve(name: str) -> str:
            found = lookup.get(fold(name)) if isinstance(name, str) else None
            return found if found is not None else self.resolve_actor(name)

        return resolve

    def _topic_check(self) -> Callable[[str], None]:
        return self.check_topic

    def check_topic(self, topic: str) -> None:
        """Raise ``UnknownTopicError`` (with suggestions) unless an event names ``topic``."""
        if topic in self._named_topics:
            return  # the log is append-only: a topic once named stays named
        has_topic: Callable[[str], bool] | None = getattr(self._store, "has_topic", None)
        if has_topic is not None and isinstance(topic, str) and has_topic(topic):
            self._named_topics.add(topic)  # one early-stopping scan, not every topic counted
            return
        marker = self._store.change_marker()
        if self._topics is None or self._topics[0] != marker:
            self._topics = (marker, frozenset(t for t, _, _ in self._store.topics()))
        known = self._topics[1]
        if topic not in known:
            raise UnknownTopicError(str(topic), suggestions=suggest(str(topic), known))
        self._named_topics.add(topic)

    def topics(self) -> list[TopicSummary]:
        """Every topic the stored events name, with the actors involved and event counts."""
        return [
            TopicSummary(topic=t, events=n, actors=actors) for t, n, actors in self._store.topics()
        ]

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
        # the snapshots hold what possibly happened; certain answers fold the log
        snapshots = None if bounds.certain else self._snapshots_for(bounds)
        # a reader never writes (beyond the best-effort refresh above, which never
        # raises) and reads one committed log, whatever writers do meanwhile
        with self._store.reading():
            uncertain = uncertain_ids(self._store, bounds)
            tables = snapshots.tables_for(bounds) if snapshots is not None else None
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
        fold.run(event for _, _, event in fold_events(self._store, bounds, ignore=ignore))
        return fold.state(self._resolver(), self._topic_check(), uncertain)

    def _snapshots_for(self, bounds: Bounds) -> Snapshots | None:
        """The persisted snapshots, refreshed if that can be done now without waiting
        (never an error), if they may answer ``bounds``; ``None`` otherwise."""
        if self._store.readonly or not self._materializable or self._snapshot_store is None:
            return None
        if bounds.story is not None:
            stories = [s[0] for s in self._store.stories()]
            if stories != [bounds.story]:
                return None
        ctx = self._context()
        if self._snapshots is None or self._snapshots.ctx.actor_kinds != ctx.actor_kinds:
            self._snapshots = Snapshots(self._store, self._snapshot_store, self._projections, ctx)
        self._snapshots.refresh()
        return self._snapshots

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
        simple = not certain and known_at is None and not self._vague_at(when)
        snapshots = self._snapshots_for(_CURRENT_KNOWLEDGE) if simple else None
        if snapshots is not None:
            with self._store.reading():
                marker = self._store.change_marker()
                if snapshots.covers(_CURRENT_KNOWLEDGE, marker):
                    lookup = self._store.actor_lookup(marker)
                    actor_id = lookup.get(fold(actor)) or self.resolve_actor(actor)
                    found: Stance | None = snapshots.fact_at("stance", (actor_id, topic), when)
                    if found is None:
                        self.check_topic(topic)
                    return found
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
        simple = not certain and known_at is None and not self._vague_at(when)
        snapshots = self._snapshots_for(_CURRENT_KNOWLEDGE) if simple else None
        if snapshots is not None:
            with self._store.reading():
                marker = self._store.change_marker()
                if snapshots.covers(_CURRENT_KNOWLEDGE, marker):
                    lookup = self._store.actor_lookup(marker)
                    key = intent_key(
                        lookup.get(fold(buyer)) or self.resolve_actor(buyer),
                        lookup.get(fold(supplier)) or self.resolve_actor(supplier),
                        product,
                    )
                    found: OrderIntent | None = snapshots.fact_at("orders", key, when)
                    return found
        state = self.state(at=at, known_at=known_at, certain=certain)
        return state.order_intent(buyer, supplier, product)

    def _vague_at(self, at: datetime | None) -> bool:
        """Whether some event only possibly happened by ``at`` (facts may be uncertain)."""
        return at is not None and bool(uncertain_ids(self._store, Bounds(at=at)))

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

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        return self._store.get(event_id)

    def resolve_actor(self, name: str) -> str:
        """An actor id for an id, alias or display name (case-insensitive).

        Raises:
            UnknownActorError: no such actor in the store.
        """
        if not isinstance(name, str):
            raise ValidationError(f"actor: expected an actor id or alias, got {name!r}")
        found = self._store.actor_lookup().get(fold(name))
        if found is None:
            known = [n for a in self._store.actors() for n in (a.id, a.name, *a.aliases)]
            raise UnknownActorError(name, suggestions=suggest(name, known))
        return found

    def actors(self) -> list[Actor]:
        """Every actor in the store."""
        return self._store.actors()

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story."""
        return self._store.stories()

    def type_name(self, event: ev.Event) -> str:
        """The stored type name of a record (``"regulator_meeting"``)."""
        return self._store.codec.registry.of(event).name

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

    def verify(self, *, deep: bool = False) -> int:
        """Check the hash chain; return how many events were verified.

        Args:
            deep: also check the data derived from the log, which answers depend
                on: the snapshots against a fresh fold, the search index (FTS5's
                own check against the logged text) and the event-actor index
                against the actors each event names (see :meth:`derived_differences`).

        Raises:
            IntegrityError: naming the first bad position, or (``deep``) every
                derived table that differs from the log and how.
        """
        count = self._store.verify()
        if deep:
            problems = self.derived_differences()
            if problems:
                raise IntegrityError(
                    0,
                    "data derived from the log differs from it: "
                    + "; ".join(problems)
                    + " (timeline repair / Timeline.repair() rebuilds it from the log)",
                )
        return count

    def derived_differences(self) -> list[str]:
        """How the derived tables differ from what the log gives (empty: they agree)."""
        store: Any = self._store
        problems: list[str] = []
        rows = getattr(store, "event_actor_rows", None)
        if rows is not None:
            with self._store.reading():
                stored = rows()
                least, most = self._expected_actor_rows()
            for position, actor, role in sorted(stored - most)[:10]:
                problems.append(
                    f"event-actor index: position {position} lists actor {actor!r} ({role}), "
                    "which that event does not name"
                )
            for position, actor, role in sorted(least - stored)[:10]:
                problems.append(
                    f"event-actor index: position {position} lacks actor {actor!r} ({role})"
                )
        check = getattr(store, "search_index_problem", None)
        if check is not None:
            problem = check()
            if problem is not None:
                problems.append(f"search index: {problem}")
        if self._materializable and self._snapshot_store is not None:
            snapshots = Snapshots(
                self._store, self._snapshot_store, self._projections, self._context()
            )
            with self._store.reading():
                problems += snapshots.differences()
        return problems

    def _expected_actor_rows(
        self,
    ) -> tuple[set[tuple[int, str, str]], set[tuple[int, str, str]]]:
        """The event-actor rows the log gives: those every event's actor fields name, and
        those plus its description entries that are actor ids (indexed when they were
        known actors at the event's append)."""
        known = set(self._store.actor_lookup().values())
        least: set[tuple[int, str, str]] = set()
        most: set[tuple[int, str, str]] = set()
        for record in self._store.read():
            event, position = record.event, record.position
            for role, actor in event.actor_refs():
                least.add((position, actor, role))
            for name in event.description_fields:
                for item in getattr(event, name):
                    if item in known:
                        most.add((position, item, name))
        return least, most | least

    def repair(self) -> list[str]:
        """Rebuild every table derived from the log: the event-actor index, the search
        index and the snapshots. Returns what differed before (see :meth:`verify`).

        Raises:
            StoreError: the store cannot be written, or its backend cannot rebuild.
        """
        before = self.derived_differences()
        store: Any = self._store
        rebuild = getattr(store, "rebuild_derived", None)
        if rebuild is None:
            raise StoreError(f"{self.path}: this store's backend cannot rebuild derived tables")
        _, rows = self._expected_actor_rows()
        rebuild(rows)
        clear = getattr(self._snapshot_store, "clear", None)
        if clear is not None and self._materializable and self._snapshot_store is not None:
            clear()
            self._snapshots = None
            self._live.clear()
            snapshots = Snapshots(
                self._store, self._snapshot_store, self._projections, self._context()
            )
            snapshots.catch_up()
        return before

    # --- search, export, import ---------------------------------------------------

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

    def export(
        self,
        format: str,
        target: str | os.PathLike[str] | TextIO,
        *,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
        story: str | None = None,
        certain: bool = False,
    ) -> int:
        """Export the events a ``state()`` with these bounds sees.

        Args:
            format: ``jsonl`` (re-importable records), ``csv``, ``markdown``,
                ``timelinejs`` (Knight Lab's JSON) or ``html`` (a self-contained page).
            target: a file path (replaced once the export is complete; never
                the store or one of its files) or an open text stream.
            at / known_at / recorded_by / story / certain: as in :meth:`state`.

        Returns:
            The number of events written.

        Raises:
            ValidationError: an unknown format or a bad bound.
            StoreError: the target is the store or one of its files, by any path.
            OSError: the target cannot be written.
        """
        bounds = Bounds.parse(
            at=at, known_at=known_at, recorded_by=recorded_by, story=story, certain=certain
        )
        if format not in FORMATS:
            raise ValidationError(
                f"format: {format!r} is not one of {', '.join(FORMATS)}", field="format"
            )
        if isinstance(target, str | os.PathLike):
            # never the store or its -wal/-shm/-journal; whole or not at all
            with atomic_text(target, self._store.path) as out:
                return export_to(self, format, out, bounds)
        return export_to(self, format, target, bounds)

    def import_jsonl(
        self, path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
    ) -> list[LoadReport]:
        """Load a JSON Lines export (see :meth:`export`); reloading appends nothing.

        The file is validated whole before anything is written; each run of
        consecutive events of one story is then appended atomically, in file
        order, so positions keep their order and ``state()`` comes out the same.

        Returns:
            One report per story, in order of first appearance.

        Raises:
            FixtureError: a bad line or event, naming the file, the event and the field.
        """
        name = str(path)
        events = read_jsonl(path, self._store.codec)
        reports: dict[str, LoadReport] = {}
        for story, run in itertools.groupby(events, key=lambda e: e.story or ""):
            batch = tuple(run)
            if not story:
                raise FixtureError("story: every line needs a story", path=name, field="story")
            actors = {a: Actor(id=a, name=a) for e in batch for _, a in e.actor_refs()}
            fixture = Fixture(
                path=name, story=story, title=None, actors=tuple(actors.values()), events=batch
            )
            report = self.load_fixture(fixture, progress=progress)
            seen = reports.get(story)
            if seen is not None:
                report = attrs.evolve(
                    seen,
                    appended=seen.appended + report.appended,
                    skipped=seen.skipped + report.skipped,
                )
            reports[story] = report
        return list(reports.values())

    def backup(self, target: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the store to ``target`` (``VACUUM INTO``)."""
        self._store.backup(target)
        return Path(target)

    def datasette_metadata(self) -> dict[str, Any]:
        """Datasette metadata for this store file (write it to ``metadata.json``).

        It points Datasette's search at the full-text index, hides the internal
        tables, describes the columns and adds canned queries: ``fact_history``,
        ``blocked_by`` and ``reported_on_day``. Run ``datasette FILE -m metadata.json``.

        Raises:
            ValidationError: the store is not an SQLite file.
        """
        if not isinstance(self._store, EventStore):
            raise ValidationError(
                "Datasette reads SQLite store files only: `timeline copy` this store into one first"
            )
        return datasette_metadata(self._store.conn, self.path.stem)

    def copy_to(
        self,
        target: Timeline,
        *,
        chunk: int = 2000,
        progress: Callable[[int, int], None] | None = None,
    ) -> CopyReport:
        """Copy this store's events into ``target`` (either backend), row for row.

        Positions, versions, recorded times and hashes stay intact; both ends are
        verified; an interrupted copy resumes where it stopped.

        Raises:
            IntegrityError: ``target`` is not a prefix of this store, or a chain is broken.
        """
        return copy_store(self._store, target._store, chunk=chunk, progress=progress)

    def info(self) -> dict[str, Any]:
        """A summary: file, schema, events, stories, actors, head position."""
        return {
            "path": self.location,
            "schema": self._store.schema_names(),
            "events": self._store.count_events(),
            "stories": len(self.stories()),
            "actors": len(self._store.actors()),
            "head": self._store.head(),
        }


def _restrictions_in(events: Iterable[ev.Event]) -> list[ev.PolicyChange]:
    return [
        e
        for e in events
        if isinstance(e, ev.PolicyChange) and e.measure.value in ("ban", "restrict")
    ]

"""The ``Timeline`` facade's core: the store it wraps, its projections, and names
resolved (actor ids, aliases and topics, with did-you-mean suggestions).

The facade is one class, :class:`timeline.Timeline`, assembled from this core and
the writing (:mod:`timeline.facade_writing`) and query
(:mod:`timeline.facade_queries`) parts; users import it from ``timeline``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import attrs

from timeline import events as ev
from timeline.bitemporal import Bounds
from timeline.catchup import LiveFold
from timeline.errors import (
    StoreError,
    TimelineError,
    UnknownActorError,
    UnknownTopicError,
    ValidationError,
)
from timeline.identity import fold
from timeline.projections.base import Context, Projection
from timeline.projections.orders import OrderIntentProjection
from timeline.projections.stance import StanceProjection
from timeline.snapshots import Snapshots, materializable
from timeline.store.base import EventFilter, EventLog, SnapshotStore
from timeline.store.recorded import Actor, AppendResult, RecordedEvent
from timeline.suggest import suggest
from timeline.times import TimeInput, parse_bound, parse_instant

__all__ = ["UPKEEP_LIMIT", "TimelineCore", "TopicSummary"]

FastPath = tuple[
    tuple[int, int],  # the change marker it was checked at
    Snapshots,
    Callable[[str], str],  # names resolved
    tuple[datetime, datetime] | None,  # the vague extent
    tuple[int, int] | None,  # the store's change count, if it keeps one
]
"""What single-fact lookups need while the snapshots answer them exactly."""

UPKEEP_LIMIT = 20_000


@attrs.frozen(kw_only=True)
class TopicSummary:
    """A topic the stored events name: how many events, and which actors take part."""

    topic: str
    events: int
    actors: tuple[str, ...]


class TimelineCore:
    """The state every part of the facade shares, name resolution and plain reads."""

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
        # (change marker, the corrected events under current knowledge, the log's head
        # and its row then): what every query bounded only by ``at`` needs to judge
        # replacements, read again only when corrections or retractions were appended
        self._corrected: tuple[tuple[int, int], list[Any], int, tuple[Any, ...] | None] | None = (
            None
        )
        # (change marker, what each correction and retraction names): read when a query
        # bounded only by ``at`` meets a vague event or a correction to a period
        self._meta_naming: tuple[tuple[int, int], dict[str, list[str]] | None] | None = None
        # while the snapshots answer single-fact lookups exactly: checked again only
        # after a change
        self._fast: FastPath | None = None
        # events a writer refolds after its append at most (more is left to the next
        # query): new events, a per-fact refold and short backdatings stay current
        self._upkeep_limit = UPKEEP_LIMIT  # topics known to be named by some event
        self._upkeep_owed = 0  # events appended since the last upkeep (see upkeep_every)

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
        """Close the store (after the snapshot upkeep its appends still owe)."""
        if self._upkeep_owed:
            with contextlib.suppress(TimelineError):
                self._keep_snapshots()
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
        # from the cached actor ids (or lookup): no query unless the actors changed
        ids_of: Callable[..., frozenset[str]] | None = getattr(self._store, "actor_ids", None)
        token: frozenset[str] | dict[str, str] = (
            ids_of(marker) if ids_of is not None else self._store.actor_lookup(marker)
        )
        cached = getattr(self, "_ctx_cache", None)
        if cached is not None and cached[0] is token:
            ctx: Context = cached[1]
            return ctx
        listed: Callable[[], list[tuple[str, str]]] | None = getattr(
            self._store, "actor_kinds", None
        )
        pairs = listed() if listed is not None else [(a.id, a.kind) for a in self._store.actors()]
        kinds = tuple(sorted((a, k.casefold()) for a, k in pairs if k))
        known = token if isinstance(token, frozenset) else frozenset(token.values())
        ctx = Context(known_actors=known, actor_kinds=kinds)
        self._ctx_cache = (token, ctx)
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

    def _current_snapshots(self) -> Snapshots:
        """The writer's and readers' :class:`Snapshots`, made again when the actors'
        kinds (which ``kind:`` restrictions read) changed since it was made. Only with a
        snapshot store."""
        assert self._snapshot_store is not None
        ctx = self._context()
        if self._snapshots is None or self._snapshots.ctx.actor_kinds != ctx.actor_kinds:
            self._snapshots = Snapshots(self._store, self._snapshot_store, self._projections, ctx)
        return self._snapshots

    def _upkeep(self, result: AppendResult) -> None:
        """The writer's snapshot upkeep inside its append's own transaction (SQLite):
        the events in hand folded on top when they all sort after the versions, else
        :meth:`_keep_snapshots`' bounded catch-up. A store error undoes the upkeep
        alone (the store's savepoint); the events still commit."""
        if self._store.readonly or not self._materializable or self._snapshot_store is None:
            return
        snapshots = self._current_snapshots()
        try:
            if not snapshots.fold_appended(result.appended):
                snapshots.catch_up(limit=self._upkeep_limit, appended=result.appended)
        except BaseException:
            self._snapshots = None
            raise

    def _keep_snapshots(self, appended: int = 0) -> None:
        """After a write: bring the persisted snapshots up to the log, so that readers
        find them current. New events are folded on top; a backdated announcement,
        statement or meeting refolds the one stance it sets; any other change refolds
        from its time if that is at most ``UPKEEP_LIMIT`` events, and is otherwise left
        to the next query (bounded work per append). Derived data: the events are
        already committed, so a failure here (another writer holding the lock) is
        also left for the next writer or reader.

        ``appended``: the events a single append added. A store whose upkeep costs
        round trips (PostgreSQL: ``upkeep_every``) is kept up once that many events
        have been appended; until then readers fold the few newest events themselves."""
        if self._store.readonly or not self._materializable or self._snapshot_store is None:
            return
        every = int(getattr(self._store, "upkeep_every", 1))
        if appended and every > 1:
            self._upkeep_owed += appended
            if self._upkeep_owed < every:
                return
        self._upkeep_owed = 0
        snapshots = self._current_snapshots()
        try:
            snapshots.catch_up(limit=self._upkeep_limit)
        except StoreError:
            self._snapshots = None

    def _snapshots_for(self, bounds: Bounds) -> Snapshots | None:
        """The persisted snapshots, refreshed if that can be done now without waiting
        (never an error), if they may answer ``bounds``; ``None`` otherwise."""
        snapshots = self._snapshots_as_stored(bounds)
        if snapshots is not None:
            snapshots.refresh()
        return snapshots

    def _snapshots_as_stored(self, bounds: Bounds) -> Snapshots | None:
        """:meth:`_snapshots_for` without the refresh: reads only (a single-fact lookup
        asks these first, inside its read transaction)."""
        if self._store.readonly or not self._materializable or self._snapshot_store is None:
            return None
        if bounds.story is not None:
            stories = [s[0] for s in self._store.stories()]
            if stories != [bounds.story]:
                return None
        return self._current_snapshots()

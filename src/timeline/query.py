"""The ``Timeline`` facade: where the store, fixtures and projections meet."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from timeline import events as ev
from timeline.clock import Clock
from timeline.codec import Codec
from timeline.errors import (
    DuplicateEventError,
    FixtureDuplicateEventError,
    FixtureError,
    FixtureUnknownActorError,
    TimelineError,
    UnknownActorError,
    ValidationError,
)
from timeline.fixtures import Fixture, read_fixture
from timeline.registry import Registry
from timeline.store.sqlite import Actor, AppendResult, EventStore, RecordedEvent
from timeline.times import TimeInput, parse_bound, parse_instant

__all__ = ["LoadReport", "Timeline"]


@attrs.frozen(kw_only=True)
class LoadReport:
    """What loading one fixture file did."""

    path: str
    story: str
    appended: int
    skipped: int


class Timeline:
    """An event-sourced news timeline stored in one SQLite file.

    Open with :meth:`open`; use as a context manager to close it.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        readonly: bool = False,
        clock: Clock | None = None,
        registry: Registry | None = None,
        busy_timeout: float = 10.0,
    ) -> Timeline:
        """Open (and by default create) a store file.

        Args:
            path: the SQLite file, or ``":memory:"``.
            create: create the file when missing; with ``False`` a missing file
                raises ``StoreFormatError`` and nothing is created.
            readonly: open read-only; every write raises.
            clock: the store clock for ``recorded_at`` (default: system UTC clock).
            registry: event types to read and write (default: the global registry).
            busy_timeout: seconds to wait for another writer's lock.

        Raises:
            StoreFormatError: not a timeline store, a newer schema, or missing
                with ``create=False``.
        """
        codec = Codec(registry) if registry is not None else None
        return cls(
            EventStore(
                path,
                clock=clock,
                codec=codec,
                create=create,
                readonly=readonly,
                busy_timeout=busy_timeout,
            )
        )

    @property
    def path(self) -> Path:
        """The store file."""
        return self._store.path

    @property
    def store(self) -> EventStore:
        """The low-level event store."""
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
        return self._store.append(events, story=story, expected_version=expected_version)

    def register_actor(
        self, actor_id: str, *, name: str | None = None, kind: str = "", aliases: Sequence[str] = ()
    ) -> Actor:
        """Declare (or update) an actor with a display name, kind and aliases."""
        actor = Actor(id=actor_id, name=name or actor_id, kind=kind, aliases=tuple(aliases))
        with self._store.write() as conn:
            self._store._upsert_actors(conn, [actor])
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
        fixture = self.read_fixture(path)
        return self.load_fixture(fixture, expected_version=expected_version, progress=progress)

    def read_fixture(self, path: str | os.PathLike[str]) -> Fixture:
        """Parse and validate a fixture file against this store, without writing."""
        known_ids = dict(self._store.conn.execute("SELECT id, type FROM events").fetchall())
        return read_fixture(
            path,
            codec=self._store.codec,
            known_actors=self._store.actor_lookup(),
            known_ids=known_ids,
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
            raise _fixture_error(fixture, exc) from exc
        if progress is not None:
            progress(len(fixture.events))
        return LoadReport(
            path=fixture.path,
            story=fixture.story,
            appended=len(result.appended),
            skipped=len(result.skipped),
        )

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
        types = [type] if isinstance(type, str) else list(type) if type else None
        if types:
            for name in types:
                self._store.codec.registry.get(name)
        return self._store.read(
            story=story,
            actor=self.resolve_actor(actor) if actor is not None else None,
            types=types,
            occurred_from=parse_instant(since, field="since")[0] if since is not None else None,
            occurred_until=parse_bound(until, field="until") if until is not None else None,
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

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        return self._store.get(event_id)

    def resolve_actor(self, name: str) -> str:
        """An actor id for an id or alias (case-insensitive).

        Raises:
            UnknownActorError: no such actor in the store.
        """
        found = self._store.actor_lookup().get(name.casefold())
        if found is None:
            raise UnknownActorError(name)
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

    def verify(self) -> int:
        """Check the hash chain; return how many events were verified.

        Raises:
            IntegrityError: naming the first bad position.
        """
        return self._store.verify()

    def backup(self, target: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the store to ``target`` (``VACUUM INTO``)."""
        self._store.backup(target)
        return Path(target)

    def info(self) -> dict[str, Any]:
        """A summary: file, schema, events, stories, actors, head position."""
        conn = self._store.conn
        return {
            "path": str(self.path),
            "schema": self._store.schema_names(),
            "events": conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
            "stories": len(self.stories()),
            "actors": conn.execute("SELECT COUNT(*) FROM actors").fetchone()[0],
            "head": self._store.head(),
        }


def _fixture_error(fixture: Fixture, exc: TimelineError) -> FixtureError:
    index = getattr(exc, "batch_index", None)
    event_id = (
        fixture.events[index].id if index is not None and 0 <= index < len(fixture.events) else None
    )
    where: dict[str, Any] = {"path": fixture.path, "index": index, "event_id": event_id}
    if isinstance(exc, DuplicateEventError):
        return FixtureDuplicateEventError(
            f"id {exc.event_id!r} is already stored with different content", field="id", **where
        )
    if isinstance(exc, UnknownActorError):
        return FixtureUnknownActorError(str(exc), actor=exc.actor, field=None, **where)
    field = getattr(exc, "field", None)
    return FixtureError(str(exc), field=field, **where)

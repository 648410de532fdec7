"""The ``Timeline`` facade: where the store, fixtures and projections meet.

:class:`Timeline` is assembled from :mod:`timeline.facade_core` (the store, the
projections, names), :mod:`timeline.facade_writing` (append, load, import) and
:mod:`timeline.facade_queries` (state, replay, diff, history, search, follow);
this module adds opening a store, checking and repairing it, and the outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from timeline.bitemporal import Bounds
from timeline.clock import Clock
from timeline.codec import Codec
from timeline.copying import CopyReport, copy_store
from timeline.errors import (
    IntegrityError,
    StoreError,
    ValidationError,
)
from timeline.facade_core import TopicSummary
from timeline.facade_queries import TimelineQueries
from timeline.facade_writing import LoadReport, TimelineWriting
from timeline.identity import existing_problems
from timeline.output.export import FORMATS
from timeline.output.export import export as export_to
from timeline.output_files import atomic_text
from timeline.projections.base import Projection
from timeline.registry import Registry
from timeline.snapshots import Snapshots
from timeline.store.datasette import metadata as datasette_metadata
from timeline.store.facts import SQLiteSnapshotStore
from timeline.store.postgres import is_postgres_url
from timeline.store.sqlite import EventStore
from timeline.times import TimeInput

__all__ = ["LoadReport", "Timeline", "TopicSummary"]


class Timeline(TimelineWriting, TimelineQueries):
    """An event-sourced news timeline stored in one SQLite file.

    Open with :meth:`open`; use as a context manager to close it.
    """

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

    def verify(self, *, deep: bool = False, progress: Callable[[int], None] | None = None) -> int:
        """Check the hash chain; return how many events were verified.

        Args:
            deep: also check the data derived from the log, which answers depend
                on: the snapshots against a fresh fold, the search index (FTS5's
                own check against the logged text) and the event-actor index
                against the actors each event names (see :meth:`derived_differences`).
            progress: called with the number of events checked since its last
                call, as the chain is walked (they add up to the count returned).

        Raises:
            IntegrityError: naming the first bad position, or (``deep``) every
                derived table that differs from the log and how.
        """
        count = self._store.verify(progress=progress)
        if deep:
            clashes = existing_problems(self._store.actors())
            if clashes:
                raise IntegrityError(
                    0,
                    "actor ids and aliases that the identity rules refuse (stored before "
                    "them): " + "; ".join(clashes[:10]) + " (lookups resolve such a key to "
                    "one of them; a new store refuses them at load, naming each)",
                )
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

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Bring the persisted snapshots up to the log now, however far behind they are.

        An append keeps them current within bounded work: what would refold more than
        20,000 events (a bulk load's own late news, a large import) is left to the next
        query, which then waits for it. Call this after a bulk load so that the next
        query, in this process or another, answers at once (``timeline load`` does).

        Args:
            progress: called with the number of events folded since its last call,
                as each chunk of a long fold is written.

        Returns:
            How many events were folded (0: the snapshots were current, or the
            store's projections keep none).

        Raises:
            StoreError: the store is read-only, cannot be written, or other writers
                kept moving the snapshots on while this one worked.
        """
        if not self._materializable or self._snapshot_store is None:
            return 0
        if self._store.readonly:
            raise StoreError(f"{self.location}: opened read-only: the snapshots cannot be kept")
        self._upkeep_owed = 0
        snapshots = self._current_snapshots()
        snapshots.folded = 0  # (left so when they are current already)
        try:
            current = snapshots.catch_up(progress=progress)
        except StoreError:
            self._snapshots = None
            raise
        if not current:
            raise StoreError(
                f"{self.location}: other writers kept moving the snapshots on; "
                "the next query brings them up"
            )
        return snapshots.folded

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
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Export the events a ``state()`` with these bounds sees.

        Args:
            format: ``jsonl`` (re-importable records), ``csv``, ``markdown``,
                ``timelinejs`` (Knight Lab's JSON) or ``html`` (a self-contained page).
            target: a file path (replaced once the export is complete; never
                the store or one of its files) or an open text stream.
            at / known_at / recorded_by / story / certain: as in :meth:`state`.
            progress: called with the number of events written since its last
                call (they add up to the number returned).

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
                return export_to(self, format, out, bounds, progress)
        return export_to(self, format, target, bounds, progress)

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
        verified; an interrupted copy resumes where it stopped. The rows are copied,
        not ``target``'s snapshots: call ``target.catch_up()`` after a large copy (as
        ``timeline copy`` does), or its first query folds the whole log.

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

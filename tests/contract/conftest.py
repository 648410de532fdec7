"""The backend fixture: every contract test runs once per storage backend.

A backend is a factory for a fresh store (an event log and its snapshot store)
plus the two ways a test goes behind a store's back (to prove tamper evidence).
To run the whole suite against another backend, add one entry to ``BACKENDS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

import timeline as tl
from tests.conftest import drop_postgres_schema, postgres_schema
from timeline.clock import Clock
from timeline.registry import Registry
from timeline.store.base import EventLog, SnapshotStore
from timeline.store.facts import SQLiteSnapshotStore
from timeline.store.sqlite import EventStore
from timeline.testing import StepClock

Opened = tuple[EventLog, SnapshotStore]


@attrs.define
class Backend:
    """One storage backend, for one test.

    Attributes:
        name: shown in test ids.
        open: opens the test's store (a fresh one, the same one on every call).
        edit_payload: replaces text in the stored record at a position, behind the
            store's back.
        delete_row: deletes the stored record at a position, behind the store's back.
        raw: runs one SQL statement on a connection of its own, the store's
            triggers in force; the driver's error propagates.
    """

    name: str
    open_store: Callable[[Clock | None, Registry | None], Opened]
    edit_payload: Callable[[int, str, str], None]
    delete_row: Callable[[int], None]
    raw: Callable[[str], None]
    opened: list[EventLog] = attrs.field(factory=list)
    cleanup: Callable[[], None] | None = None

    def open(self, clock: Clock | None = None, registry: Registry | None = None) -> Opened:
        log, snapshots = self.open_store(clock, registry)
        self.opened.append(log)
        return log, snapshots

    def timeline(self, clock: Clock | None = None, registry: Registry | None = None) -> tl.Timeline:
        """The facade over this backend's store."""
        log, snapshots = self.open(clock, registry)
        return tl.Timeline(log, snapshot_store=snapshots)


def _sqlite(tmp_path: Path) -> Backend:
    path = tmp_path / "contract.db"

    def open_store(clock: Clock | None, registry: Registry | None) -> Opened:
        codec = tl.Codec(registry) if registry is not None else None
        store = EventStore(path, clock=clock, codec=codec)
        return store, SQLiteSnapshotStore(store)

    def behind_the_back(statement: str, params: tuple[object, ...]) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("DROP TRIGGER IF EXISTS events_refuse_update")
            conn.execute("DROP TRIGGER IF EXISTS events_refuse_delete")
            conn.execute(statement, params)
        finally:
            conn.close()

    def raw(statement: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(statement)
        finally:
            conn.close()

    return Backend(
        name="sqlite",
        open_store=open_store,
        edit_payload=lambda position, old, new: behind_the_back(
            "UPDATE events SET payload = replace(payload, ?, ?) WHERE position = ?",
            (old, new, position),
        ),
        delete_row=lambda position: behind_the_back(
            "DELETE FROM events WHERE position = ?", (position,)
        ),
        raw=raw,
    )


def _postgres(tmp_path: Path) -> Backend:
    import psycopg

    from timeline.store.postgres import PostgresEventStore, PostgresSnapshotStore

    schema, url = postgres_schema()

    def open_store(clock: Clock | None, registry: Registry | None) -> Opened:
        codec = tl.Codec(registry) if registry is not None else None
        store = PostgresEventStore(url, clock=clock, codec=codec)
        return store, PostgresSnapshotStore(store)

    def behind_the_back(statement: str, params: tuple[object, ...]) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # no triggers, no FKs
            conn.execute(statement, params)  # type: ignore[arg-type]

    def raw(statement: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    return Backend(
        name="postgresql",
        open_store=open_store,
        edit_payload=lambda position, old, new: behind_the_back(
            "UPDATE events SET payload = replace(payload, %s, %s) WHERE position = %s",
            (old, new, position),
        ),
        delete_row=lambda position: behind_the_back(
            "DELETE FROM events WHERE position = %s", (position,)
        ),
        raw=raw,
        cleanup=lambda: drop_postgres_schema(schema),
    )


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite": _sqlite, "postgresql": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn, with a fresh store."""
    found = BACKENDS[request.param](tmp_path)
    yield found
    for log in found.opened:
        log.close()
    if found.cleanup is not None:
        found.cleanup()


@pytest.fixture
def store(backend: Backend, clock: StepClock) -> tl.Timeline:
    """A timeline over the backend's fresh store, with a hand-driven clock."""
    return backend.timeline(clock)


@pytest.fixture
def log(store: tl.Timeline) -> EventLog:
    """The event log under ``store``."""
    return store.store

"""The PostgreSQL store's error paths on a real server: every driver error leaves it as
a ``TimelineError`` naming the store, and nothing of a failed call is written.

A killed connection, another transaction holding the append lock, a read-only
session, a table dropped behind the store's back, a closed store, and schemas a
store cannot be opened on. Needs the server (``TIMELINE_TEST_POSTGRES``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

import timeline as tl
from timeline.store.postgres import PostgresEventStore, ReadOnlyReplicaError

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def _event(event_id: str) -> tl.Statement:
    return tl.Statement(id=event_id, occurred_at=DAY, actor="nvidia", topic="h200", summary="s")


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def _schema(url: str) -> str:
    with _admin(url) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tl.Timeline]:
    """A PostgreSQL store holding one event."""
    with tl.Timeline.open(postgres_url) as store:
        store.append([_event("first")], story="s")
        yield store


def test_a_connection_the_server_ends_is_a_store_error_and_the_next_call_reconnects(
    pg: tl.Timeline, postgres_url: str
) -> None:
    log: Any = pg.store
    with _admin(postgres_url) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (log.conn.info.backend_pid,))
    with pytest.raises(tl.StoreError, match="the connection to the server was lost") as caught:
        pg.store.head()
    assert str(caught.value).startswith(pg.location)
    assert pg.store.head() == 1  # a new connection
    pg.append([_event("second")], story="s")
    assert [r.event.id for r in pg.events()] == ["first", "second"]


def test_another_transaction_holding_the_lock_past_the_busy_timeout_is_a_store_error(
    postgres_url: str,
) -> None:
    with tl.Timeline.open(postgres_url, busy_timeout=0.2) as store:
        store.append([_event("first")], story="s")
        key = f"timeline:{_schema(postgres_url)}"
        with _admin(postgres_url) as holder, holder.transaction():
            holder.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            with pytest.raises(tl.StoreError) as caught:
                store.append([_event("second")], story="s")
            assert "another writer held the store's lock for more than 0.2 s; retry" in str(
                caught.value
            )
        assert [r.event.id for r in store.events()] == ["first"]
        store.append([_event("second")], story="s")  # the lock is free again
        assert store.store.head() == 2


def test_a_write_in_a_read_only_session_is_refused_as_a_replica_write(
    pg: tl.Timeline, postgres_url: str
) -> None:
    # the URL's options already set the search_path: keep it in the same options
    base, _, query = postgres_url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    params["options"] += quote(" -c default_transaction_read_only=on", safe="")
    url = base + "?" + "&".join(f"{k}={v}" for k, v in params.items())
    with tl.Timeline.open(url) as readonly:
        assert readonly.store.head() == 1
        with pytest.raises(ReadOnlyReplicaError, match="the server is a read-only replica"):
            readonly.append([_event("second")], story="s")
        assert readonly.store.head() == 1
    assert [r.event.id for r in pg.events()] == ["first"]


def test_a_table_dropped_behind_the_stores_back_is_a_store_error_naming_it(
    pg: tl.Timeline, postgres_url: str
) -> None:
    with _admin(postgres_url) as admin:
        admin.execute("DROP TABLE stories CASCADE")
    with pytest.raises(tl.StoreError) as caught:
        pg.stories()
    assert str(caught.value) == f'{pg.location}: relation "stories" does not exist'
    assert pg.store.head() == 1  # the connection is still usable


def test_a_closed_store_refuses_every_use_and_closes_twice_quietly(postgres_url: str) -> None:
    store = PostgresEventStore(postgres_url)
    store.close()
    store.close()
    for use in (store.head, store.stories, store.change_marker):
        with pytest.raises(tl.StoreError, match="the store is closed"):
            use()
    with pytest.raises(tl.StoreError, match="the store is closed"):
        store.append([_event("late")], story="s")


def test_a_store_missing_a_migration_is_refused_read_only_naming_the_upgrade(
    pg: tl.Timeline, postgres_url: str
) -> None:
    last = pg.store.schema_names()[-1]
    with _admin(postgres_url) as admin:
        admin.execute("DELETE FROM timeline_migrations WHERE name = %s", (last,))
    with pytest.raises(
        tl.StoreFormatError, match="needs a schema upgrade but was opened read-only"
    ):
        tl.Timeline.open(postgres_url, readonly=True)
    with _admin(postgres_url) as admin:
        admin.execute("INSERT INTO timeline_migrations (name) VALUES (%s)", (last,))
    with tl.Timeline.open(postgres_url, readonly=True) as again:
        assert again.store.head() == 1


def test_a_schema_with_the_tables_but_no_applied_migration_is_no_timeline_store(
    pg: tl.Timeline, postgres_url: str
) -> None:
    with _admin(postgres_url) as admin:
        admin.execute("DELETE FROM timeline_migrations")
    with pytest.raises(tl.StoreFormatError, match=r"not a timeline store \(no timeline schema\)"):
        tl.Timeline.open(postgres_url)

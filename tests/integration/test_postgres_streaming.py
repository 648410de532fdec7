"""Reads on PostgreSQL stream through a server-side cursor and clean up after themselves.

``read()`` (and so ``events()``, ``replay()``, ``follow()`` and the exports) fetch
a few hundred rows at a time inside a read-only transaction on a connection of
their own. A caller that stops early (breaks out, or drops the iterator) leaves
no cursor and no transaction open on the server, and the store's connection
stays free for writes while a read is under way.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

import timeline as tl
from tests.conftest import drop_postgres_schema, postgres_schema

N = 10_000
T0 = datetime(2025, 12, 1, tzinfo=UTC)
WORDS = ["export", "licence", "regulator", "ministry", "officials", "demand", "supply", "order"]


def _event(n: int) -> tl.Statement:
    return tl.Statement(
        id=f"e{n:05d}",
        occurred_at=T0 + timedelta(minutes=n),
        actor=f"actor-{n % 20}",
        topic="exports",
        position="supports",
        # about 1 kB each: the whole log is about 10 MB of payload text
        summary=" ".join(WORDS[(n + k) % len(WORDS)] for k in range(120)),
    )


@pytest.fixture(scope="module")
def long_log() -> Iterator[str]:
    """A store holding N events (one schema for the module: they take a while to write)."""
    schema, url = postgres_schema()
    with tl.Timeline.open(url) as store:
        store.append([_event(n) for n in range(N)], story="s")
    yield url
    drop_postgres_schema(schema)


def _sessions(url: str, pids: list[int]) -> list[tuple[Any, ...]]:
    """``(pid, state)`` of these server sessions, seen from another connection."""
    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY(%s) ORDER BY pid", (pids,)
        ).fetchall()


def _pids(store: tl.Timeline) -> list[int]:
    pg = store.store
    conns = [pg.conn, pg._reading_conn]  # type: ignore[attr-defined]
    return [c.info.backend_pid for c in conns if c is not None and not c.closed]


def _left_open(store: tl.Timeline, url: str) -> tuple[list[str], list[Any]]:
    """Cursors still open on the reading connection, and sessions still in a transaction."""
    reader = store.store._reading_conn  # type: ignore[attr-defined]
    cursors = (
        [] if reader is None else [r[0] for r in reader.execute("SELECT name FROM pg_cursors")]
    )
    busy = [s for s in _sessions(url, _pids(store)) if s[1] != "idle"]
    return cursors, busy


def test_breaking_out_of_a_long_read_leaves_no_cursor_and_no_transaction(long_log: str) -> None:
    with tl.Timeline.open(long_log) as store:
        seen = []
        for record in store.events():
            seen.append(record.event.id)
            if len(seen) == 5:
                # while it is under way: one cursor, in a transaction
                cursors, busy = _left_open(store, long_log)
                assert len(cursors) == 1
                assert [s[1] for s in busy] == ["idle in transaction"]
                break
        assert seen == [f"e{n:05d}" for n in range(5)]
        assert _left_open(store, long_log) == ([], [])
        assert len(_pids(store)) == 2  # the reading connection stays for the next read


def test_a_read_dropped_half_way_is_cleaned_up_when_collected(long_log: str) -> None:
    with tl.Timeline.open(long_log) as store:
        rows = store.events(order="occurred")
        assert [next(rows).event.id for _ in range(5)] == [f"e{n:05d}" for n in range(5)]
        assert _left_open(store, long_log)[0] != []
        del rows
        gc.collect()
        assert _left_open(store, long_log) == ([], [])


def test_a_write_while_a_read_is_under_way_commits(long_log: str) -> None:
    with tl.Timeline.open(long_log) as store:
        rows = store.events()
        first = [next(rows).event.id for _ in range(3)]
        (appended,) = store.append([_event(N)], story="t").appended
        assert appended.position == N + 1
        rest = [r.event.id for r in rows]
        # the read sees the log as it was when it started
        assert len(first) + len(rest) == N
        assert rest[-1] == f"e{N - 1:05d}"
        assert _left_open(store, long_log) == ([], [])
        assert store.verify() == N + 1


def test_reads_nest_and_each_ends_its_own_cursor(long_log: str) -> None:
    with tl.Timeline.open(long_log) as store:
        outer = store.events(story="s")
        next(outer)
        inner = store.events(story="s", order="occurred")
        assert [next(inner).event.id for _ in range(2)] == ["e00000", "e00001"]
        cursors, _ = _left_open(store, long_log)
        assert len(cursors) == 2
        inner.close()  # type: ignore[attr-defined]
        cursors, busy = _left_open(store, long_log)
        assert len(cursors) == 1
        assert [s[1] for s in busy] == ["idle in transaction"]
        assert sum(1 for _ in outer) == N - 1
        assert _left_open(store, long_log) == ([], [])


def test_a_whole_read_holds_a_few_hundred_rows_at_a_time_not_the_log(long_log: str) -> None:
    with tl.Timeline.open(long_log) as store, psycopg.connect(long_log) as conn:
        row = conn.execute("SELECT SUM(length(payload)) FROM events").fetchone()
        assert row is not None
        payload_bytes = int(row[0])
        assert payload_bytes > 10_000_000
        store.store.head()  # connect and warm up outside the measurement
        tracemalloc.start()
        try:
            count = 0
            for _ in store.store.read():
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count >= N
        # the rows' text alone would be payload_bytes if the result were fetched whole
        assert peak < payload_bytes / 5, (peak, payload_bytes)

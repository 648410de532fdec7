"""The PostgreSQL store's append in one round trip, checked by the server.

A single append builds its rows on what the writer's previous append saw (the
head, the story's version, the actors' counter, the server's clock) and sends
them in one statement; the server checks all of it under the append lock and
writes nothing when anything moved. These tests make things move between a
writer's appends (another writer, a stored id, a stale version) and check that
the log stays what the locked path would have made of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

import timeline as tl
from timeline.times import to_text

T0 = datetime(2025, 12, 1, tzinfo=UTC)


def _event(n: int, *, actor: str = "gov", prefix: str = "e") -> tl.Statement:
    return tl.Statement(
        id=f"{prefix}{n:04d}",
        occurred_at=T0 + timedelta(minutes=n),
        actor=actor,
        topic="exports",
        position="supports",
        summary=f"statement number {n}",
    )


class _Counting:
    """The store's connection, counting the statements and pipelines sent through it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.statements: list[str] = []
        self.pipelines = 0

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(str(sql))
        return self._conn.execute(sql, *args, **kwargs)

    def pipeline(self) -> Any:
        self.pipelines += 1
        return self._conn.pipeline()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[tl.Timeline, tl.Timeline]]:
    """Two writers on one store (each its own connection)."""
    with tl.Timeline.open(postgres_url) as a, tl.Timeline.open(postgres_url) as b:
        yield a, b


def _rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT position, id, story, version, recorded_at FROM events ORDER BY position"
        ).fetchall()


def test_a_warm_single_append_is_one_statement(postgres_url: str) -> None:
    with tl.Timeline.open(postgres_url) as store:
        store.append([_event(1)], story="s")  # registers the actor: the locked path
        store.append([_event(2)], story="s")
        counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
        store.store.conn = counting  # type: ignore[attr-defined]
        result = store.append([_event(3)], story="s")
        store.store.conn = counting._conn  # type: ignore[attr-defined]
        assert [(r.position, r.version) for r in result.appended] == [(3, 3)]
        assert len(counting.statements) == 1
        assert "timeline_append(" in counting.statements[0]
        assert counting.pipelines == 0
        assert store.verify() == 3


def test_two_writers_taking_turns_keep_positions_versions_and_the_chain(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    for n in range(1, 41):
        writer = a if n % 3 else b  # runs of two, so each writer's head is sometimes current
        story = "s" if n % 2 else "t"
        writer.append([_event(n, actor="gov" if n < 20 else "nvidia")], story=story)
    rows = _rows(postgres_url)
    assert [r[0] for r in rows] == list(range(1, 41))
    for story in ("s", "t"):
        assert [r[3] for r in rows if r[2] == story] == list(range(1, 21))
    recorded = [r[4] for r in rows]
    assert recorded == sorted(recorded)
    assert len(set(recorded)) == len(recorded)
    assert a.verify() == 40
    assert b.verify() == 40


def test_a_version_another_writer_moved_still_raises_a_concurrency_error(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s", expected_version=1)  # a knows version 2 now
    b.append([_event(3)], story="s", expected_version=2)
    with pytest.raises(tl.ConcurrencyError) as caught:
        a.append([_event(4)], story="s", expected_version=2)
    assert caught.value.actual == 3
    assert [r[1] for r in _rows(postgres_url)] == ["e0001", "e0002", "e0003"]
    result = a.append([_event(4)], story="s", expected_version=3)
    assert [r.version for r in result.appended] == [4]
    assert a.verify() == 4


def test_an_id_another_writer_stored_is_skipped_not_written_twice(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s")
    b.append([_event(3)], story="s")
    result = a.append([_event(3), _event(4)], story="s")
    assert result.skipped == ("e0003",)
    assert [(r.event.id, r.position) for r in result.appended] == [("e0004", 4)]
    with pytest.raises(tl.DuplicateEventError):
        a.append([_event(3, actor="nvidia")], story="s")
    assert [r[1] for r in _rows(postgres_url)] == ["e0001", "e0002", "e0003", "e0004"]


def test_recorded_at_stays_within_the_server_clock_and_increases(
    postgres_url: str,
) -> None:
    with tl.Timeline.open(postgres_url) as store, psycopg.connect(postgres_url) as clock:

        def server_now() -> datetime:
            row = clock.execute("SELECT clock_timestamp()").fetchone()
            clock.rollback()
            assert row is not None
            value: datetime = row[0]
            return value

        store.append([_event(1)], story="s")
        last = None
        for n in range(2, 12):
            before = server_now()
            (recorded,) = store.append([_event(n)], story="s").appended
            after = server_now()
            slack = store.store.clock_slack  # type: ignore[attr-defined]
            assert before - slack <= recorded.recorded_at <= after
            assert last is None or recorded.recorded_at > last
            last = recorded.recorded_at
        assert last is not None
        assert _rows(postgres_url)[-1][4] == to_text(last)


def test_an_actor_registered_by_another_writer_is_resolved(
    pair: tuple[tl.Timeline, tl.Timeline],
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s")
    b.register_actor("nvidia", name="Nvidia", aliases=["NVDA"])
    (recorded,) = a.append([_event(3, actor="NVDA")], story="s").appended
    assert recorded.event.actor == "nvidia"  # type: ignore[attr-defined]
    assert [e.id for e in a.events(actor="nvidia")] == ["e0003"]

"""Every write path turns a failing SQLite statement into a TimelineError, never sqlite3's.

A trigger that aborts the statement stands in for disk-full or I/O errors: each
test forces one path to fail and checks the error's type, its cause, and that
nothing was written.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import H200

BACKENDS = ("sqlite",)  # SQLite triggers force the failures (PostgreSQL: test_postgres_errors)

PLAIN = tl.Announcement(
    id="a1",
    occurred_at=datetime(2025, 12, 1, tzinfo=UTC),
    actor="beijing",
    topic="h200-imports",
    position="opposes",
)


def fail_inserts_into(timeline: tl.Timeline, table: str) -> None:
    """Make every INSERT into ``table`` fail, as a full disk would."""
    conn: sqlite3.Connection = timeline.store.conn  # type: ignore[attr-defined]
    conn.execute(
        f"CREATE TRIGGER forced_failure BEFORE INSERT ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
    )


def stop_failing(timeline: tl.Timeline) -> None:
    conn: sqlite3.Connection = timeline.store.conn  # type: ignore[attr-defined]
    conn.execute("DROP TRIGGER forced_failure")


def assert_translated(caught: pytest.ExceptionInfo[tl.TimelineError]) -> None:
    assert isinstance(caught.value, tl.StoreError)
    assert not isinstance(caught.value, sqlite3.Error)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert str(caught.value.__cause__) in str(caught.value)


@pytest.mark.parametrize("table", ["events", "event_actors", "stories"])
def test_a_failing_append_is_a_store_error_and_writes_nothing(
    store: tl.Timeline, table: str
) -> None:
    fail_inserts_into(store, table)
    with pytest.raises(tl.TimelineError) as caught:
        store.append([PLAIN], story="s")
    assert_translated(caught)
    stop_failing(store)
    assert store.store.head() == 0
    assert store.actors() == []
    assert store.append([PLAIN], story="s").version == 1


@pytest.mark.sqlite_only("an SQLite trigger forces the failure; the failed load removes the file")
@pytest.mark.parametrize("table", ["actors", "actor_aliases"])
def test_a_failing_actor_upsert_is_a_store_error(store: tl.Timeline, table: str) -> None:
    fail_inserts_into(store, table)
    with pytest.raises(tl.TimelineError) as caught:
        store.register_actor("beijing", name="Beijing", aliases=["China"])
    assert_translated(caught)
    with pytest.raises(tl.TimelineError) as caught:
        store.load(H200)
    assert_translated(caught)
    # the store was new and still holds nothing: the failed load removed its file
    assert not store.path.exists()
    assert store.actors() == []  # created again, empty, without the failing trigger
    assert store.store.head() == 0
    assert store.load(H200).appended == 21


@pytest.mark.parametrize(
    "table", ["fact_versions", "fact_keys", "fact_sources", "snapshot_checkpoint"]
)
def test_a_failing_snapshot_write_leaves_readers_answering_from_the_log(
    h200: tl.Timeline, table: str
) -> None:
    # the writer built the snapshots while loading: drop them so that a reader's
    # refresh writes; snapshots are a reader's best effort, a failed write no error
    # (interned sources too: a source already interned is found, not inserted again)
    conn: sqlite3.Connection = h200.store.conn  # type: ignore[attr-defined]
    for derived in ("snapshot_checkpoint", "fact_versions", "fact_keys", "fact_sources"):
        conn.execute(f"DELETE FROM {derived}")
    h200._snapshots = None
    fail_inserts_into(h200, table)
    with tl.Timeline.open(h200.path, readonly=True) as folded:
        expected = folded.state(at="2025-12-10")
        stance = folded.state().stance("beijing", "h200-imports")
    assert h200.state(at="2025-12-10") == expected
    assert h200.stance("beijing", "h200-imports") == stance
    assert conn.execute("SELECT COUNT(*) FROM fact_versions").fetchone() == (0,)
    stop_failing(h200)
    assert h200.state(at="2025-12-10") == expected
    assert conn.execute("SELECT COUNT(*) FROM fact_versions").fetchone()[0] > 0


def test_a_failing_backup_is_a_store_error(h200: tl.Timeline, tmp_path: Path) -> None:
    conn: sqlite3.Connection = h200.store.conn  # type: ignore[attr-defined]
    conn.execute("BEGIN")  # VACUUM INTO refuses to run inside a transaction
    with pytest.raises(tl.TimelineError) as caught:
        h200.backup(tmp_path / "copy.db")
    assert_translated(caught)
    conn.execute("ROLLBACK")
    assert not (tmp_path / "copy.db").exists()


def test_a_failing_read_is_a_store_error(h200: tl.Timeline) -> None:
    conn: sqlite3.Connection = h200.store.conn  # type: ignore[attr-defined]
    conn.execute("ALTER TABLE events RENAME TO moved_events")
    for call in (h200.store.head, lambda: list(h200.events()), lambda: h200.search("grey")):
        with pytest.raises(tl.StoreError) as caught:
            call()
        assert isinstance(caught.value.__cause__, sqlite3.Error)

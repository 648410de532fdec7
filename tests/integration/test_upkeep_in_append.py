"""The writer's snapshot upkeep runs inside its append's own write transaction (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import timeline as tl
from timeline.errors import StoreError
from timeline.store.facts import SQLiteSnapshotStore

from ..conftest import traced

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def statement(i: int, day: int | None = None, actor: str = "a") -> tl.Event:
    return tl.Statement(
        id=f"e{i}",
        occurred_at=BASE + timedelta(days=i if day is None else day),
        actor=actor,
        topic="t",
        position=["supports", "opposes"][i % 2],
        source=tl.Source(publisher="Reuters", id=f"r{i % 3}"),
    )


def folded(path: Path, **bounds: object) -> tl.State:
    with tl.Timeline.open(path, readonly=True) as ro:
        return ro.state(**bounds)  # type: ignore[arg-type]


def checkpoint(store: tl.Timeline) -> tuple[int, int]:
    row = store.store.conn.execute(  # type: ignore[attr-defined]
        "SELECT position, complete FROM snapshot_checkpoint"
    ).fetchone()
    return int(row[0]), int(row[1])


def test_an_in_order_append_keeps_the_snapshots_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(i) for i in range(5)], story="s")
        assert checkpoint(store) == (5, 1)
        statements = traced(store, [statement(5), statement(6, actor="b")])
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
        ]
        # folded from the records in hand: no event is read back for the upkeep
        assert not [s for s in statements if "FROM events WHERE position >" in s]
        assert checkpoint(store) == (7, 1)
        assert store._snapshots is not None
        assert store._snapshots.folded == 2
        # the next query finds them current and folds nothing
        assert store.state() == folded(path)
        assert store._snapshots.folded == 2
    with tl.Timeline.open(path) as again:
        assert again.state(at=BASE + timedelta(days=3)) == folded(path, at=BASE + timedelta(days=3))
        assert again._snapshots is not None
        assert again._snapshots.folded == 0


def test_a_backdated_append_is_caught_up_in_the_same_transaction(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(i) for i in range(20)], story="s")
        late = tl.Inquiry(
            id="late",
            occurred_at=BASE + timedelta(days=3, hours=1),
            inquirers=("a",),
            supplier="nvidia",
            product="h200",
        )
        statements = traced(store, [late])
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
        ]
        assert checkpoint(store) == (21, 1)
        for day in (2, 4, 30):
            at = BASE + timedelta(days=day)
            assert store.state(at=at) == folded(path, at=at)


def test_a_failed_upkeep_leaves_the_append_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(i) for i in range(5)], story="s")

        def full_disk(*args: object, **kwargs: object) -> None:
            raise StoreError("disk full")

        with monkeypatch.context() as patch:
            patch.setattr(SQLiteSnapshotStore, "write_versions", full_disk)
            result = store.append([statement(5), statement(6)], story="s")
        assert [r.position for r in result.appended] == [6, 7]
        assert store.store.head() == 7
        assert checkpoint(store) == (5, 1)  # the upkeep's writes were undone alone
        assert store.verify() == 7
        assert store.state() == folded(path)
        assert checkpoint(store) == (7, 1)
    with tl.Timeline.open(path) as again:
        assert again.state() == folded(path)


def test_a_refused_append_leaves_the_snapshots_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(i) for i in range(5)], story="s")
        with pytest.raises(tl.ConcurrencyError):
            store.append([statement(5)], story="s", expected_version=2)
        assert checkpoint(store) == (5, 1)
        store.append([statement(5)], story="s", expected_version=5)
        assert checkpoint(store) == (6, 1)
        assert store.state() == folded(path)

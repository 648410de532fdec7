"""Warm single-fact lookups read the fact and the store's change count in one statement.

Every write transaction bumps the count (``store_changes``) before it commits; a
lookup answers from its one statement only while the count is the one it read when it
last checked that the snapshots cover the log. These tests write from another process
(a real second connection, a real commit) and check that the reader never answers from
a state it has not checked, and never mixes two states inside one read.
"""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import timeline as tl

from ..conftest import watch_collector

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SCHEMA_0003_STORE = Path(__file__).parent.parent / "data" / "store-schema-0003.db"

# appends one statement from another process; "behind" leaves the snapshots as they
# were (a writer whose bounded upkeep did not reach them): only a check sees it
WRITER = """
import sys
from datetime import UTC, datetime, timedelta
import timeline as tl
path, day, position, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with tl.Timeline.open(path) as store:
    if mode == "behind":
        store._snapshot_store = None
    event = tl.Statement(
        id=f"p{day}", occurred_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day),
        actor="a1", topic="t1", position=position,
    )
    store.append([event], story="s")
"""


def _statement(i: int, position: str = "supports") -> tl.Statement:
    return tl.Statement(
        id=f"s{i}", occurred_at=BASE + timedelta(days=i), actor="a1", topic="t1", position=position
    )


def _append_elsewhere(path: Path, day: int, position: str, mode: str = "current") -> None:
    subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(day), position, mode],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _position(store: tl.Timeline, at: datetime | None = None) -> str:
    found = store.stance("a1", "t1", at=at)
    assert found is not None
    return str(found.position)


def test_each_write_transaction_bumps_the_count_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([_statement(0)], story="s")
        before, _ = store.store.change_count()
        store.append([_statement(1)], story="s")  # the events and their upkeep: one commit
        after, _ = store.store.change_count()
        assert after == before + 1
        _append_elsewhere(path, 2, "opposes")
        assert store.store.change_count()[0] == after + 1


def test_a_warm_lookup_sees_another_process_append(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as reader:
        reader.append([_statement(0)], story="s")
        assert _position(reader) == "supports"
        assert _position(reader) == "supports"  # warm
        _append_elsewhere(path, 1, "opposes")
        assert _position(reader) == "opposes"
        assert _position(reader, BASE) == "supports"


def test_a_warm_lookup_does_not_answer_from_snapshots_another_writer_left_behind(
    tmp_path: Path,
) -> None:
    # the other process appends without bringing the versions up to date: the stored
    # version of the fact is still the old one, and only the count says so
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as reader:
        reader.append([_statement(0)], story="s")
        assert _position(reader) == "supports"
        assert _position(reader) == "supports"
        _append_elsewhere(path, 1, "opposes", mode="behind")
        assert _position(reader) == "opposes"
        assert _position(reader) == "opposes"
        assert reader.stance("a1", "t1") == reader.state().stance("a1", "t1")


def test_lookups_inside_one_read_see_one_state(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as reader:
        reader.append([_statement(0)], story="s")
        assert _position(reader) == "supports"
        with reader.store.reading():
            assert _position(reader) == "supports"
            _append_elsewhere(path, 1, "opposes")
            assert _position(reader) == "supports"  # the read began before that commit
            _append_elsewhere(path, 2, "neutral", mode="behind")
            assert _position(reader) == "supports"
        assert _position(reader) == "neutral"


def test_an_old_store_migrates_to_the_change_count(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    with tl.Timeline.open(copy) as store:
        assert "0015_change_counter" in store.store.schema_names()
        count, _ = store.store.change_count()
        store.verify()
        store.append([_statement(400)], story="s")
        assert store.store.change_count()[0] == count + 1
        assert store.stance("a1", "t1") == store.state().stance("a1", "t1")


def test_the_cyclic_collector_is_paused_for_a_lookup_and_restored_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    path = tmp_path / "s.db"
    seen: list[tuple[str, bool]] = []
    with tl.Timeline.open(path) as store:
        store.append([_statement(0)], story="s")
        assert _position(store) == "supports"  # the checks done: the next ones are warm
        for name in ("fact_if_unchanged", "fact_at"):
            watch_collector(monkeypatch, store._snapshots, name, seen)
        assert _position(store) == "supports"  # warm: one statement
        assert gc.isenabled()
        _append_elsewhere(path, 1, "opposes")
        assert _position(store) == "opposes"  # the count moved: checked again
        assert gc.isenabled()
        with pytest.raises(tl.UnknownActorError):
            store.stance("nobody", "t1")
        assert gc.isenabled()
        gc.disable()  # the caller's choice is kept
        assert _position(store) == "opposes"
        assert not gc.isenabled()
    assert seen == [
        ("fact_if_unchanged", False), ("fact_if_unchanged", False),
        ("fact_at", False), ("fact_if_unchanged", False),
    ]  # fmt: skip

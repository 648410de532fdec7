"""A copy refuses a source whose rows do not form one hash chain, and a target that
is ahead of its source; either way the target is left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import timeline as tl
from tests.integration._workers import event


def _source(path: Path, count: int) -> None:
    with tl.Timeline.open(path) as store:
        store.append([event(f"e{i}") for i in range(count)], story="s")


def _behind_the_back(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS events_refuse_update")
        conn.execute("DROP TRIGGER IF EXISTS events_refuse_delete")
        conn.execute(statement)
    finally:
        conn.close()


def test_a_target_ahead_of_its_source_is_refused_and_left_alone(tmp_path: Path) -> None:
    _source(tmp_path / "small.db", 1)
    _source(tmp_path / "big.db", 3)
    with (
        tl.Timeline.open(tmp_path / "small.db") as small,
        tl.Timeline.open(tmp_path / "big.db") as big,
    ):
        with pytest.raises(tl.StoreError) as caught:
            small.copy_to(big)
        assert str(caught.value) == (
            "the target holds 3 events, more than the source's 1: not a copy of it"
        )
        assert big.verify() == 3


def test_a_source_row_edited_behind_its_back_is_refused_naming_its_position(
    tmp_path: Path,
) -> None:
    _source(tmp_path / "source.db", 3)
    _behind_the_back(
        tmp_path / "source.db",
        "UPDATE events SET payload = replace(payload, 'e1', 'x1') WHERE position = 2",
    )
    with (
        tl.Timeline.open(tmp_path / "source.db") as source,
        tl.Timeline.open(tmp_path / "copy.db") as copy,
    ):
        with pytest.raises(tl.IntegrityError) as caught:
            source.copy_to(copy)
        assert caught.value.position == 2
        assert "copied row does not continue the hash chain" in str(caught.value)
        assert copy.store.head() == 0


def test_a_source_missing_a_row_is_refused_naming_the_row_after_the_gap(
    tmp_path: Path,
) -> None:
    _source(tmp_path / "source.db", 3)
    _behind_the_back(tmp_path / "source.db", "DELETE FROM events WHERE position = 2")
    with (
        tl.Timeline.open(tmp_path / "source.db") as source,
        tl.Timeline.open(tmp_path / "copy.db") as copy,
    ):
        with pytest.raises(tl.IntegrityError) as caught:
            source.copy_to(copy)
        assert caught.value.position == 3
        assert "copied row does not follow position 1" in str(caught.value)
        assert copy.store.head() == 0

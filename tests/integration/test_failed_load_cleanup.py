"""A failed load from Python leaves no empty store behind, and never removes one
that existed before: real files, checked on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import H200, INVALID

BAD = INVALID / "bad-position.json"


def _store_files(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_a_failed_load_removes_the_store_file_it_created(db_path: Path) -> None:
    store = tl.Timeline.open(db_path)
    assert db_path.exists()
    with pytest.raises(tl.FixtureError, match="position"):
        store.load(BAD)
    assert _store_files(db_path) == []  # no file, no -wal, no -shm
    store.close()  # closing creates nothing
    assert _store_files(db_path) == []


def test_the_timeline_stays_usable_after_its_new_file_was_removed(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        with pytest.raises(tl.FixtureError):
            store.load(BAD)
        assert not db_path.exists()
        assert list(store.events()) == []  # an empty store again, on a new file
        assert db_path.exists()
        with pytest.raises(tl.FixtureError):
            store.load(BAD)  # created by this object again, still empty: removed again
        assert not db_path.exists()
        assert store.load(H200).appended == 21
    with tl.Timeline.open(db_path, create=False) as store:
        assert store.verify() == 21


def test_a_failed_load_inside_a_with_block_leaves_nothing(db_path: Path) -> None:
    with pytest.raises(tl.FixtureError), tl.Timeline.open(db_path) as store:
        store.load(BAD)
    assert _store_files(db_path) == []


def test_a_load_refused_by_the_store_removes_the_file_it_created(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store, pytest.raises(tl.ConcurrencyError):
        store.load(H200, expected_version=3)  # the new story is at version 0
    assert _store_files(db_path) == []


def test_a_failed_jsonl_import_removes_the_store_file_it_created(
    db_path: Path, tmp_path: Path
) -> None:
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"type": "statement", "id": "x"}\n', encoding="utf-8")
    with tl.Timeline.open(db_path) as store, pytest.raises(tl.FixtureError, match=r"bad\.jsonl"):
        store.import_jsonl(lines)
    assert _store_files(db_path) == []


def test_a_failed_load_never_removes_a_store_that_existed(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        store.load(H200)
    with tl.Timeline.open(db_path) as store:
        with pytest.raises(tl.FixtureError):
            store.load(BAD)
        assert store.store.count_events() == 21  # still open, still whole
    assert db_path.exists()
    with tl.Timeline.open(db_path, create=False) as store:
        assert store.verify() == 21


def test_a_failed_load_never_removes_an_empty_store_that_existed(db_path: Path) -> None:
    tl.Timeline.open(db_path).close()  # an empty store, made by someone else earlier
    with tl.Timeline.open(db_path) as store, pytest.raises(tl.FixtureError):
        store.load(BAD)
    assert db_path.exists()
    with tl.Timeline.open(db_path, create=False) as store:
        assert store.store.count_events() == 0


def test_a_failed_load_never_removes_an_empty_file_that_existed(db_path: Path) -> None:
    db_path.write_bytes(b"")  # touched by the user before opening it
    with tl.Timeline.open(db_path) as store, pytest.raises(tl.FixtureError):
        store.load(BAD)
    assert db_path.exists()


def test_a_failed_load_keeps_a_new_store_that_already_holds_something(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        store.register_actor("beijing", name="Beijing")
        with pytest.raises(tl.FixtureError):
            store.load(BAD)
        assert [a.id for a in store.actors()] == ["beijing"]
    assert db_path.exists()


def test_a_failed_second_load_keeps_what_the_first_one_loaded(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        store.load(H200)
        with pytest.raises(tl.FixtureError):
            store.load(BAD)
        assert store.store.count_events() == 21
    assert db_path.exists()


def test_a_failed_load_into_memory_just_fails() -> None:
    with tl.Timeline.open(":memory:") as store:
        with pytest.raises(tl.FixtureError):
            store.load(BAD)
        assert store.load(H200).appended == 21

"""Backup: ``Timeline.backup`` (``VACUUM INTO``) writes a consistent, verifiable copy."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import H200

BACKENDS = ("sqlite",)  # backup() writes SQLite files (VACUUM INTO); PostgreSQL refuses it


def _log(store: tl.Timeline) -> list[tuple[Any, ...]]:
    return [(e.position, e.story, e.version, e.recorded_at, e.event) for e in store.events()]


@pytest.fixture
def copy_path(tmp_path: Path) -> Path:
    return tmp_path / "backup" / "copy.db"


@pytest.fixture
def backup(h200: tl.Timeline, copy_path: Path) -> Path:
    copy_path.parent.mkdir()
    return h200.backup(copy_path)


def test_backup_returns_the_path_it_wrote(backup: Path, copy_path: Path) -> None:
    assert (backup, backup.is_file()) == (copy_path, True)


def test_a_backup_verifies(backup: Path) -> None:
    with tl.Timeline.open(backup) as copy:
        assert copy.verify() == 21


def test_a_backup_holds_the_same_events(h200: tl.Timeline, backup: Path) -> None:
    with tl.Timeline.open(backup) as copy:
        assert _log(copy) == _log(h200)


@pytest.mark.parametrize(
    "bounds",
    [{}, {"at": "2025-12-09"}, {"known_at": "2025-12-09"}],
    ids=["now", "at", "known_at"],
)
def test_a_backup_gives_the_same_state(
    h200: tl.Timeline, backup: Path, bounds: dict[str, str]
) -> None:
    original = h200.state(**bounds)
    assert original.stances()  # a state worth comparing
    with tl.Timeline.open(backup) as copy:
        assert copy.state(**bounds) == original


def test_a_backup_can_be_opened_read_only_on_its_own(backup: Path) -> None:
    # VACUUM INTO writes one complete file: no -wal from the source is needed
    with tl.Timeline.open(backup, readonly=True) as copy:
        assert copy.verify() == 21


def test_backup_refuses_to_overwrite_an_existing_file(h200: tl.Timeline, tmp_path: Path) -> None:
    target = tmp_path / "precious.db"
    target.write_bytes(b"precious")
    with pytest.raises(tl.StoreError, match="already exists"):
        h200.backup(target)
    assert target.read_bytes() == b"precious"


def test_backup_into_a_missing_directory_raises_store_error(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    with pytest.raises(tl.StoreError, match="unable to open"):
        h200.backup(tmp_path / "missing" / "copy.db")


def test_a_backup_of_a_read_only_store_verifies(h200: tl.Timeline, tmp_path: Path) -> None:
    with tl.Timeline.open(h200.path, readonly=True) as source:
        source.backup(tmp_path / "copy.db")
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        assert copy.verify() == 21


def test_a_backup_taken_while_another_writer_holds_a_transaction_has_only_committed_events(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    writer = sqlite3.connect(h200.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO events (id, story, version, type, schema_version, occurred_at, "
            "precision, reported_at, recorded_at, payload, prev_hash, hash) "
            "VALUES ('uncommitted', 'h200-china', 22, 'report', 1, '', 'exact', '', '', '{}', "
            "'', '')"
        )
        h200.backup(tmp_path / "copy.db")
        writer.execute("COMMIT")
    finally:
        writer.close()
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        assert [e.id for e in copy.events()] == [f"h200-{n:04d}" for n in range(1, 22)]


def test_backup_of_a_postgresql_store_is_refused_naming_copy_and_writes_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    with tl.Timeline.open(postgres_url) as pg:
        pg.load(H200)
        with pytest.raises(tl.StoreError, match=r"backup writes SQLite files; use `timeline copy"):
            pg.backup(tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()

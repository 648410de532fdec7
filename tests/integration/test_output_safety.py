"""Outputs never touch inputs: no command writes the store or its files, or half a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pytest

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import H200
from timeline.bitemporal import Bounds
from timeline.output import export as export_module

DEC_1 = datetime(2025, 12, 1, tzinfo=UTC)
FORMATS = ("jsonl", "csv", "markdown", "timelinejs", "html")

# how a user could name the store or one of its files
PATHS: dict[str, Callable[[Path], Path]] = {
    "the store": lambda db: db,
    "a relative path": lambda db: Path(os.path.relpath(db)),
    "a dotted path": lambda db: db.parent / "." / ".." / db.parent.name / db.name,
    "its -wal": lambda db: Path(f"{db}-wal"),
    "its -shm": lambda db: Path(f"{db}-shm"),
    "its -journal": lambda db: Path(f"{db}-journal"),
}


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    with tl.Timeline.open(db) as store:
        store.load(H200)
    return db


def _events(db: Path) -> int:
    with tl.Timeline.open(db, readonly=True) as store:
        return store.verify()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("how", sorted(PATHS))
def test_export_refuses_the_store_and_its_files_and_keeps_every_event(
    loaded: Path, fmt: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(loaded.parent)
    target = PATHS[how](loaded)
    # a second connection keeps the -wal and -shm files alive, as another process would
    with tl.Timeline.open(loaded) as holder, tl.Timeline.open(loaded) as store:
        holder.append([tl.Report(id="held", occurred_at=DEC_1)], story="other")
        before = Path(f"{loaded}-wal").read_bytes() if Path(f"{loaded}-wal").exists() else None
        with pytest.raises(tl.StoreError, match="refusing to write there: it is the store"):
            store.export(fmt, target)
        if before is not None:
            assert Path(f"{loaded}-wal").read_bytes() == before
        assert store.verify() == 22
    assert _events(loaded) == 22


def test_export_refuses_a_symlink_to_the_store(loaded: Path) -> None:
    link = loaded.parent / "innocent.jsonl"
    link.symlink_to(loaded)
    with (
        tl.Timeline.open(loaded) as store,
        pytest.raises(tl.StoreError, match="it is the store itself"),
    ):
        store.export("jsonl", link)
    assert _events(loaded) == 21


def test_export_refuses_a_symlink_to_the_write_ahead_log_not_yet_created(loaded: Path) -> None:
    link = loaded.parent / "later.jsonl"
    link.symlink_to(f"{loaded}-wal")  # dangling now: SQLite would create it
    with (
        tl.Timeline.open(loaded) as store,
        pytest.raises(tl.StoreError, match="the store's -wal file"),
    ):
        store.export("jsonl", link)
    assert _events(loaded) == 21


def test_export_refuses_a_hard_link_to_the_store(loaded: Path) -> None:
    link = loaded.parent / "elsewhere" / "copy.db"
    link.parent.mkdir()
    os.link(loaded, link)
    with (
        tl.Timeline.open(loaded) as store,
        pytest.raises(tl.StoreError, match="it is the store itself"),
    ):
        store.export("csv", link)
    assert _events(loaded) == 21


def test_export_refuses_a_store_reached_through_a_symlinked_store_path(loaded: Path) -> None:
    alias = loaded.parent / "alias.db"
    alias.symlink_to(loaded)
    with (
        tl.Timeline.open(alias) as store,
        pytest.raises(tl.StoreError, match="the store's -wal file"),
    ):
        store.export("jsonl", f"{loaded}-wal")
    assert _events(loaded) == 21


def test_cli_export_onto_the_store_fails_in_one_line_and_verify_still_counts_every_event(
    loaded: Path,
) -> None:
    for fmt in FORMATS:
        result = run("export", loaded, "--format", fmt, "-o", loaded)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1
        assert "refusing to write there" in result.stderr
    verified = run("verify", loaded)
    assert verified.stdout.strip() == f"{loaded}: ok, 21 events, hash chain intact"


def _failing_writer(timeline: tl.Timeline, out: TextIO, bounds: Bounds, *_tick: object) -> int:
    out.write("half an export\n")
    raise tl.ValidationError("the exporter broke half way")


def test_a_failing_export_leaves_the_old_file_and_no_partial_output(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = loaded.parent / "out.jsonl"
    target.write_text("the previous export\n")
    monkeypatch.setitem(export_module._WRITERS, "jsonl", _failing_writer)
    with tl.Timeline.open(loaded) as store, pytest.raises(tl.ValidationError, match="half way"):
        store.export("jsonl", target)
    assert target.read_text() == "the previous export\n"
    assert sorted(p.name for p in loaded.parent.iterdir() if "out" in p.name) == ["out.jsonl"]


def test_a_failing_export_to_a_new_file_leaves_no_file(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = loaded.parent / "new.csv"
    monkeypatch.setitem(export_module._WRITERS, "csv", _failing_writer)
    with tl.Timeline.open(loaded) as store, pytest.raises(tl.ValidationError, match="half way"):
        store.export("csv", target)
    assert [p.name for p in loaded.parent.iterdir() if "new" in p.name] == []


def test_an_export_replaces_an_existing_file_whole(loaded: Path) -> None:
    target = loaded.parent / "out.jsonl"
    target.write_text("x" * 1_000_000)
    with tl.Timeline.open(loaded) as store:
        assert store.export("jsonl", target) == 21
    lines = target.read_text(encoding="utf-8").splitlines()
    assert (len(lines), lines[0].startswith('{"'), "x" in lines[-1][-2:]) == (21, True, False)


def test_an_export_through_a_symlink_writes_the_file_it_points_at(loaded: Path) -> None:
    real = loaded.parent / "real.csv"
    real.write_text("old")
    link = loaded.parent / "link.csv"
    link.symlink_to(real)
    with tl.Timeline.open(loaded) as store:
        store.export("csv", link)
    assert (link.is_symlink(), real.read_text().startswith("position,story,id")) == (True, True)


def test_an_export_to_dev_null_writes_through_the_device(loaded: Path) -> None:
    with tl.Timeline.open(loaded) as store:
        assert store.export("jsonl", "/dev/null") == 21
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("how", ["the store", "its -wal", "its -shm", "its -journal"])
def test_backup_refuses_the_store_and_its_files(loaded: Path, how: str) -> None:
    target = PATHS[how](loaded)
    with (
        tl.Timeline.open(loaded) as store,
        pytest.raises(tl.StoreError, match="refusing to write there"),
    ):
        store.backup(target)
    assert not Path(f"{loaded}-journal").exists()
    assert _events(loaded) == 21


def test_a_failed_backup_leaves_no_file(loaded: Path) -> None:
    target = loaded.parent / "copy.db"
    with tl.Timeline.open(loaded) as store:
        store.store.conn.execute("PRAGMA max_page_count = 1")  # nothing more may be written
        store.backup(target)  # VACUUM INTO ignores the source's page limit
    assert target.is_file()
    names = sorted(p.name for p in loaded.parent.iterdir() if p.name.startswith((".copy", "copy")))
    assert names == ["copy.db"]


READ_COMMANDS: list[list[str]] = [
    ["state"],
    ["diff", "2025-12-01", "2025-12-10"],
    ["replay"],
    ["history", "beijing"],
    ["search", "chips"],
    ["verify"],
    ["info"],
    ["actors"],
    ["stories"],
    ["export", "--format", "jsonl", "-o", "-"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_read_command_on_an_empty_file_creates_nothing_and_says_so(
    tmp_path: Path, command: list[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run(command[0], empty, *command[1:])
    assert result.exit_code == 1
    assert "empty file, not a timeline store" in result.stderr
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_read_command_on_a_missing_file_creates_nothing_and_says_so(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(command[0], tmp_path / "missing.db", *command[1:])
    assert result.exit_code == 1
    assert "no such timeline store" in result.stderr
    assert list(tmp_path.iterdir()) == []

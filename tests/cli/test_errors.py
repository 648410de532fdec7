"""Errors: one clear line on stderr, a non-zero exit, no traceback, nothing created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import H200

# every command that reads a store, with the arguments it needs after DB
READ_COMMANDS: dict[str, list[str]] = {
    "replay": [],
    "state": [],
    "diff": ["2025-12-07", "2025-12-10"],
    "history": ["bytedance"],
    "verify": [],
    "search": ["grey market"],
    "export": ["--format", "csv", "-o", "out.csv"],
    "actors": [],
    "stories": [],
    "info": [],
    "backup": ["copy.db"],
}


def _assert_one_line_error(stderr: str, *parts: str) -> None:
    assert stderr.startswith("Error: ")
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for part in parts:
        assert part in stderr


@pytest.mark.parametrize("command", sorted(READ_COMMANDS))
def test_a_read_command_on_a_missing_store_fails_and_creates_nothing(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "missing.db"
    result = run(command, db, *READ_COMMANDS[command])
    assert result.exit_code == 1
    _assert_one_line_error(result.stderr, f"{db}: no such timeline store")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_loading_a_bad_fixture_names_file_event_and_field_and_writes_nothing(
    tmp_path: Path,
) -> None:
    data = json.loads(H200.read_text(encoding="utf-8"))
    data["events"][9]["inquirers"] = ["bytedance", "nobody-we-know"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    db = tmp_path / "news.db"
    result = run("load", db, bad)
    assert result.exit_code == 1
    _assert_one_line_error(
        result.stderr, str(bad), "event #9", "h200-0010", "field inquirers[1]", "nobody-we-know"
    )
    assert not db.exists()  # the refused load created it, and removed it


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("just text\n" * 200, encoding="utf-8")
    result = run("state", notes)
    assert result.exit_code == 1
    _assert_one_line_error(result.stderr, "not a timeline store")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["state", "--at", "yesterday"], "at: invalid date or time 'yesterday'"),
        (["state", "--at", "2025-12-10T10:00"], "naive datetime"),
        (["history", "nobody"], "unknown actor 'nobody'"),
        (["search", "H200", "--type", "no_such_type"], "unknown event type 'no_such_type'"),
        (["search", "   "], "the search query is empty"),
        (["export", "--format", "html", "-o", "no/such/dir/x.html"], "No such file or directory"),
    ],
)
def test_bad_arguments_are_one_line_errors(h200_db: str, args: list[str], message: str) -> None:
    result = run(args[0], h200_db, *args[1:])
    assert result.exit_code == 1
    _assert_one_line_error(result.stderr, message)


def test_an_unknown_export_format_is_a_usage_error(h200_db: str, tmp_path: Path) -> None:
    result = run("export", h200_db, "--format", "pdf", "-o", tmp_path / "x.pdf")
    assert result.exit_code == 2
    assert "'pdf' is not one of" in result.stderr
    assert not (tmp_path / "x.pdf").exists()

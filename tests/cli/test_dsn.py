"""The commands that take a store take a PostgreSQL URL too, and answer as on a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.conftest import H200

# each command's arguments after DB; the outputs hold no recorded time, which on
# PostgreSQL comes from the server's clock, and no search snippet, which each engine
# cuts its own way
COMMANDS = [
    ("state", "--at", "2025-12-09"),
    ("state", "--at", "2025-12-10", "--json"),
    ("diff", "2025-12-07", "2025-12-10"),
    ("history", "beijing"),
    ("actors",),
    ("topics",),
    ("stories",),
]


def test_every_reading_command_answers_alike_on_a_file_and_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    db = str(tmp_path / "h200.db")
    for location in (db, postgres_url):
        loaded = run("load", location, H200)
        assert loaded.exit_code == 0, loaded.output
        assert "21" in loaded.output
    for args in COMMANDS:
        on_file = run(args[0], db, *args[1:])
        on_server = run(args[0], postgres_url, *args[1:])
        assert on_file.exit_code == 0, (args, on_file.output)
        assert on_server.exit_code == 0, (args, on_server.output)
        assert on_server.stdout == on_file.stdout, args
        assert on_server.stdout.strip(), args
    for query in ("grey market", "procur*", "Tencent"):  # fewer hits than a page
        hits = [
            json.loads(run("search", where, query, "--json").stdout) for where in (db, postgres_url)
        ]
        assert [_ids(h) for h in hits] == [_ids(hits[0])] * 2, query
        assert _ids(hits[0]), query


def _ids(hits: list[dict[str, Any]]) -> list[str]:
    return sorted(h["event"]["id"] for h in hits)


@pytest.mark.parametrize("command", ["verify", "info", "replay"])
def test_integrity_and_summary_commands_work_on_postgresql(postgres_url: str, command: str) -> None:
    assert run("load", postgres_url, H200).exit_code == 0
    result = run(command, postgres_url)
    assert result.exit_code == 0, result.output
    assert "21" in result.stdout or "h200-0021" in result.stdout

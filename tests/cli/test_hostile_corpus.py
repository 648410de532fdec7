"""Every case of the hostile-input corpus through the command line: one line on
stderr naming the file, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import INVALID

CASES = sorted(p for p in INVALID.iterdir() if p.suffix in (".json", ".jsonl"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 32


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_loading_a_hostile_file_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, case: Path
) -> None:
    db = tmp_path / "news.db"
    result = run("load", db, case)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert case.name in lines[0]
    assert "Traceback" not in result.stderr
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)

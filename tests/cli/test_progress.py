"""Progress bars of export and verify: on stderr, never in stdout or JSON.

A bar is drawn only on a terminal: the terminal tests run ``timeline`` as a
real process whose stderr is a pseudo-terminal and whose stdout is a pipe.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import timeline as tl
from tests.cli.conftest import run


def _on_a_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run ``timeline ARGS`` with stderr on a pseudo-terminal; (status, stdout, stderr)."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100"}
    with subprocess.Popen(
        [sys.executable, "-m", "timeline", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    ) as proc:
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        status = proc.wait()
    os.close(master)
    return status, out, b"".join(chunks).decode()


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 1,001 events: over the size at which a terminal gets a bar unasked."""
    db = tmp_path_factory.mktemp("progress") / "big.db"
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = [
        tl.Statement(
            id=f"s-{i:04d}",
            occurred_at=start + timedelta(hours=i),
            actor="beijing",
            topic="h200-imports",
            position=tl.Position.NEUTRAL,
            summary=f"statement {i}",
        )
        for i in range(1001)
    ]
    with tl.Timeline.open(db) as store:
        store.append(events, story="big")
    return db


# --- the library: increments that add up ---------------------------------------------


def test_verify_reports_progress_that_adds_up_to_the_events_checked(big_db: Path) -> None:
    ticks: list[int] = []
    with tl.Timeline.open(big_db, create=False) as store:
        count = store.verify(progress=ticks.append)
    assert count == 1001
    assert sum(ticks) == 1001
    assert len(ticks) == 3  # every 500 events, then the rest


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "markdown", "timelinejs", "html"])
def test_export_reports_one_tick_per_event_written(h200_db: str, fmt: str) -> None:
    ticks: list[int] = []
    with tl.Timeline.open(h200_db, create=False) as store:
        written = store.export(fmt, io.StringIO(), progress=ticks.append)
    assert written == sum(ticks)
    assert written >= 21


# --- the CLI, asked for a bar: it goes to stderr only ----------------------------------


def test_verify_json_with_progress_keeps_stdout_pure_json(h200_db: str) -> None:
    result = run("verify", h200_db, "--json", "--progress")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "events": 21}
    assert "Verifying" in result.stderr  # not a terminal: the label only, once
    assert result.stderr.count("Verifying") == 1


def test_export_to_stdout_with_progress_writes_only_the_export_there(h200_db: str) -> None:
    result = run("export", h200_db, "--format", "csv", "-o", "-", "--progress")
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["position", "story", "id"]
    assert len(rows) == 22  # the header and 21 events
    assert "Exporting csv" in result.stderr


def test_verify_and_export_print_no_bar_when_stderr_is_not_a_terminal(
    h200_db: str, tmp_path: Path
) -> None:
    verified = run("verify", h200_db)
    exported = run("export", h200_db, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    assert verified.stderr == exported.stderr == ""
    assert exported.stdout == f"{tmp_path / 'out.jsonl'}: 21 events (jsonl)\n"


# --- on a terminal ----------------------------------------------------------------------


def test_verify_draws_a_bar_on_a_terminal_for_a_large_store(big_db: Path) -> None:
    status, out, err = _on_a_terminal("verify", big_db)
    assert status == 0
    assert out == f"{big_db}: ok, 1001 events, hash chain intact\n"
    assert "Verifying" in err
    assert "100%" in err
    assert "#" in err


def test_export_draws_a_bar_on_a_terminal_and_fills_it(big_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "big.csv"
    status, out, err = _on_a_terminal("export", big_db, "--format", "csv", "-o", target)
    assert status == 0
    assert out == f"{target}: 1001 events (csv)\n"
    assert "Exporting csv" in err
    assert "100%" in err
    assert len(target.read_text().splitlines()) == 1002


def test_a_small_store_gets_no_bar_on_a_terminal_unless_asked(h200_db: str) -> None:
    status, out, err = _on_a_terminal("verify", h200_db)
    assert status == 0
    assert out == f"{h200_db}: ok, 21 events, hash chain intact\n"
    assert err == ""
    status, out, err = _on_a_terminal("verify", h200_db, "--progress")
    assert status == 0
    assert "Verifying" in err
    assert "100%" in err
    assert out == f"{h200_db}: ok, 21 events, hash chain intact\n"


def test_no_progress_hides_the_bar_on_a_terminal(big_db: Path, tmp_path: Path) -> None:
    status, out, err = _on_a_terminal("verify", big_db, "--no-progress")
    assert (status, err) == (0, "")
    status, out, err = _on_a_terminal(
        "export", big_db, "--format", "jsonl", "-o", tmp_path / "x.jsonl", "--no-progress"
    )
    assert (status, err) == (0, "")
    assert out == f"{tmp_path / 'x.jsonl'}: 1001 events (jsonl)\n"

"""The CLI for a newcomer: suggestions, topics, ids, human dates, quiet pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import timeline as tl
from tests.cli.conftest import run


def test_cli_topics_and_a_misspelt_actor(h200_db: str) -> None:
    listed = run("topics", h200_db)
    assert listed.exit_code == 0
    assert "h200-exports-to-china            5  nvidia, us-government" in listed.stdout
    wrong = run("history", h200_db, "alibab")
    assert wrong.exit_code == 1
    assert wrong.stderr == "Error: unknown actor 'alibab'; did you mean 'alibaba'?\n"
    named = run("state", h200_db, "--actor", "Chinese government", "--topic", "h200-imports")
    assert named.exit_code == 0
    assert "beijing" in named.stdout


@pytest.mark.sqlite_only("Datasette serves SQLite files")
def test_the_cli_prints_the_metadata(h200_db: str) -> None:
    result = run("datasette-metadata", h200_db)
    assert result.exit_code == 0
    metadata = json.loads(result.stdout)
    tables = metadata["databases"][Path(h200_db).stem]["tables"]
    assert tables["events"]["fts_table"] == "events_fts"
    assert set(metadata["databases"][Path(h200_db).stem]["queries"]) == {
        "blocked_by",
        "fact_history",
        "reported_on_day",
    }


def test_replay_and_history_tables_have_an_id_column(h200_db: str) -> None:
    replay = run("replay", h200_db, "--until", "2025-12-08")
    assert replay.exit_code == 0
    header = replay.stdout.splitlines()[0].split()
    assert header[:3] == ["occurred", "id", "type"]
    assert "h200-0007" in replay.stdout
    history = run("history", h200_db, "bytedance")
    assert history.stdout.splitlines()[0].split()[:2] == ["occurred", "id"]
    assert "h200-0010" in history.stdout


def test_json_keeps_the_record_apart_from_the_envelope(h200_db: str) -> None:
    hits = json.loads(run("search", h200_db, "declined comment", "--json").stdout)
    statement = next(h for h in hits if h["event"]["type"] == "statement")
    assert isinstance(statement["event"]["position"], int)  # the log position ...
    assert statement["event"]["record"]["position"] == "neutral"  # ... and the stance
    steps = json.loads(run("replay", h200_db, "--json").stdout)
    assert [s["event"]["position"] for s in steps] != []
    assert all(isinstance(s["event"]["position"], int) for s in steps)
    assert {s["event"]["record"]["id"] for s in steps} == {s["event"]["id"] for s in steps}


def test_human_dates_are_accepted_and_ambiguous_ones_refused(h200_db: str) -> None:
    human = run("state", h200_db, "--at", "9 Dec 2025", "--json")
    iso = run("state", h200_db, "--at", "2025-12-09", "--json")
    assert human.exit_code == iso.exit_code == 0
    assert json.loads(human.stdout) == json.loads(iso.stdout)
    ambiguous = run("state", h200_db, "--at", "05/06/2023")
    assert ambiguous.exit_code == 1
    assert "ambiguous: day 5 of month 6, or day 6 of month 5?" in ambiguous.stderr


def test_a_closed_pipe_ends_quietly_with_status_0(h200_db: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeline", "replay", str(h200_db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    # the reader goes before anything is written (as `| head -1` does once it has
    # its line): every write of the command meets a closed pipe
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert err == b""


def test_version(h200_db: str) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"timeline, version {tl.__version__}\n"


def _five_mistakes(path: Path) -> Path:
    events = [
        {"id": "e1", "type": "statement", "occurred_at": "2025-12-08", "source": "wire",
         "actor": "gov", "topic": "chips", "position": "support", "summary": "One."},
        {"id": "e2", "type": "statement", "occurred_at": "2025-12-09", "source": "wire",
         "actor": "gov", "topic": "chips", "position": "opposes", "summary": "Fine."},
        {"id": "e3", "type": "policy_change", "occurred_at": "2025-12-09", "source": "wire",
         "authority": "gov", "topic": "chips", "measure": "forbid", "product": "X",
         "summary": "Two."},
        {"id": "e4", "type": "statement", "occurred_at": "2025-13-01", "source": "wire",
         "actor": "gov", "topic": "chips", "position": "neutral", "summary": "Three."},
        {"id": "e5", "type": "statement", "occurred_at": "2025-12-10", "source": "wire",
         "actor": "govt", "topic": "chips", "position": "neutral", "summary": "Four."},
        {"id": "e6", "type": "inquiry", "occurred_at": "2025-12-10", "source": "wire",
         "inquirers": ["gov"], "supplier": "gov", "product": "X", "precision": "week",
         "summary": "Five."},
    ]  # fmt: skip
    path.write_text(
        json.dumps(
            {
                "format": "timeline-fixture/1",
                "story": "five",
                "actors": {"gov": {"name": "Government"}},
                "sources": {"wire": {"publisher": "Wire", "published_at": "2025-12-10"}},
                "events": events,
            }
        ),
        encoding="utf-8",
    )
    return path


def test_a_load_reports_every_problem_at_once_and_leaves_no_store(tmp_path: Path) -> None:
    fixture = _five_mistakes(tmp_path / "five.json")
    db = tmp_path / "new.db"
    result = run("load", db, fixture)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {fixture}: 5 problems:"
    assert [line.split(":")[0].removeprefix("- ") for line in lines[1:]] == [
        "event #0 ('e1')",
        "event #2 ('e3')",
        "event #3 ('e4')",
        "event #4 ('e5')",
        "event #5 ('e6')",
    ]
    assert "field position" in lines[1]
    assert "field measure" in lines[2]
    assert "unknown actor 'govt'" in lines[4]
    assert not db.exists()  # the refused load created it: it is gone
    assert list(tmp_path.iterdir()) == [fixture]


def test_a_refused_load_into_an_existing_store_keeps_it(
    h200_db: str, tmp_path: Path, store_backend: str
) -> None:
    result = run("load", h200_db, _five_mistakes(tmp_path / "five.json"))
    assert result.exit_code == 1
    if store_backend == "sqlite":
        assert Path(h200_db).exists()
    assert "21 events" in run("verify", h200_db).stdout

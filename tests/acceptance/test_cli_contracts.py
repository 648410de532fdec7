"""DESIGN.md, "CLI shape" and "What users get around it", on the Valsorin story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.acceptance.conftest import STORY
from timeline.cli import cli


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def db(store_location: str) -> str:
    """The Valsorin story loaded into a new store (a file, or a PostgreSQL schema)."""
    result = run("load", store_location, STORY)
    assert result.exit_code == 0, result.output
    assert "15 appended" in result.output
    return store_location


def test_state_json_bounds_are_end_of_day_and_facts_carry_provenance(db: str) -> None:
    """'timeline state DB [--at T] ... [--json]'; a date-only bound is the end of the day;
    facts expose sources, independent_sources, disputed_by, confirmed_by."""
    result = run("state", db, "--at", "2026-03-04", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["bounds"]["at"] == "2026-03-04T23:59:59.999999+00:00"
    intents = {i["buyer"]: i for i in data["order_intents"]}
    medichain = intents["medichain"]
    assert (medichain["status"], medichain["blocked_by"]) == ("exploring", ["val-04"])
    assert medichain["independent_sources"] == 2
    assert (medichain["disputed_by"], medichain["confirmed_by"]) == (["val-07"], ["val-08"])
    assert {s["id"] for s in medichain["sources"]} == {
        "agency-bulletin",
        "tribune-0302",
        "wire-0302",
    }
    stances = {(s["actor"], s["topic"]): s for s in data["stances"]}
    assert stances[("lumeria", "valsorin-safety")]["conditions"] == ["batch testing complete"]


def test_state_table_shows_disputes_and_independent_sources(db: str) -> None:
    """Issue: 'shown everywhere a fact is shown' ("disputed by ..."; "N independent sources")."""
    result = run("state", db, "--at", "2026-03-04", "--actor", "medichain")
    assert result.exit_code == 0, result.output
    # cells wrap: check the words of each cell, in order, across lines
    words = result.output.split()
    assert "disputed" in words
    assert "Patients'" in words
    assert "Union," in words
    assert "2 independent sources:" in result.output
    assert words.index("disputed") < words.index("Patients'") < words.index("Union,")
    assert "carepoint" not in result.output


def test_known_at_and_recorded_by_options(db: str) -> None:
    """'--known-at K --recorded-by R' as in state()."""
    early = json.loads(run("state", db, "--known-at", "2026-02-19", "--json").output)
    assert early["stances"] == []
    assert early["order_intents"] == []
    later = json.loads(run("state", db, "--known-at", "2026-02-20", "--json").output)
    assert [s["actor"] for s in later["stances"]] == ["lumeria"]
    audit = json.loads(run("state", db, "--recorded-by", "2000-01-01", "--json").output)
    assert audit["stances"] == []


def test_diff_reports_a_fact_becoming_disputed(db: str) -> None:
    """'timeline diff DB A B [--known]'; a fact becoming disputed is a change."""
    result = run("diff", db, "2026-03-02", "2026-03-03", "--json")
    assert result.exit_code == 0, result.output
    changed = json.dumps(json.loads(result.output))
    assert "carepoint" in changed
    assert "val-06" in changed
    assert "medichain" not in changed
    known = run("diff", db, "2026-03-01", "2026-03-09", "--known")
    assert known.exit_code == 0
    assert "st-anne" in known.output


def test_history_includes_events_about_the_actor(db: str) -> None:
    """'history(actor) ... include events about the actor'; aliases accepted."""
    result = run("history", db, "Lumeria", "--json")
    assert result.exit_code == 0, result.output
    assert "val-05" in result.output


def test_replay_orders(db: str) -> None:
    """'timeline replay DB [--order occurred|reported|recorded]'."""
    for order in ("occurred", "reported", "recorded"):
        result = run("replay", db, "--order", order)
        assert result.exit_code == 0, (order, result.output)
        assert "val-15" in result.output
    assert "val-03" not in run("replay", db).output  # retracted: never happened


def test_topics_command(db: str) -> None:
    """'store.topics()' on the command line: topics, counts and actors."""
    result = run("topics", db)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("valsorin-supply"))
    assert line.split()[1] == "1"
    assert "carepoint, lumeria, medichain" in line


def test_verify_and_search(db: str) -> None:
    assert run("verify", db).exit_code == 0
    found = run("search", db, "review", "--actor", "lumeria")
    assert found.exit_code == 0
    assert "val-05" in found.output


@pytest.mark.parametrize(
    "args",
    [
        ("state",),
        ("replay",),
        ("diff", "2026-03-01", "2026-03-02"),
        ("history", "lumeria"),
        ("verify",),
        ("search", "valsorin"),
        ("topics",),
        ("export", "--format", "jsonl", "-o", "-"),
    ],
)
def test_a_read_command_on_a_missing_store_fails_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """'A read command on a missing store fails with a clear error and creates nothing.'"""
    missing = tmp_path / "missing.db"
    result = run(args[0], missing, *args[1:])
    assert result.exit_code == 1
    assert "no such timeline store" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bad_fixture_is_one_line_naming_file_event_and_field(tmp_path: Path) -> None:
    """'an unknown actor, source, type, field or a bad value is an error naming the file,
    the event (index and id) and the field'; no traceback; nothing left behind."""
    data = json.loads(STORY.read_text(encoding="utf-8"))
    data["events"][4]["about"] = ["nobody-at-all"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    result = run("load", tmp_path / "new.db", bad)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "bad.json" in result.output
    assert "val-05" in result.output
    assert "about" in result.output
    assert not (tmp_path / "new.db").exists()

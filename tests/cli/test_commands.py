"""Every command on a real store file, in tables and in JSON."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from tests.cli.conftest import LOADED_AT, run
from tests.conftest import H200


def _json(*args: str | Path) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- load -----------------------------------------------------------------------------


def test_load_reports_what_it_appended_and_reloading_appends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    first = run("load", db, H200)
    again = run("load", db, H200)
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == f"{H200}: story 'h200-china': 21 appended, 0 already stored\n"
    assert again.stdout == f"{H200}: story 'h200-china': 0 appended, 21 already stored\n"


def test_load_shows_a_progress_bar_on_stderr_when_asked(tmp_path: Path) -> None:
    result = run("load", tmp_path / "news.db", H200, "--progress")
    assert result.exit_code == 0
    assert str(H200) in result.stderr
    assert "21 appended" in result.stdout
    quiet = run("load", tmp_path / "other.db", H200)
    # not a terminal and a small file: no bar; only the warnings about bans that block
    # no one (see test_fixture_problems)
    assert [line.split(": ")[2] for line in quiet.stderr.splitlines()] == [
        "h200-0001",
        "h200-0003",
    ]
    assert "%" not in quiet.stderr


# --- replay, history ------------------------------------------------------------------


def test_replay_prints_a_readable_timeline_with_changes(h200_db: str) -> None:
    result = run("replay", h200_db)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["occurred", "id", "type", "actors", "summary", "changes"]
    # the restriction's period as written: imposed at some time before Dec 8
    assert lines[2].split()[:5] == ["2022\u20137", "Dec", "2025", "h200-0001", "policy_change"]
    assert "stance us-government / h200-exports-to-china:" in result.stdout
    assert "opposes -> supports" in result.stdout
    assert "intent bytedance / nvidia / H200: — -> exploring" in result.stdout


def test_replay_json_has_each_step_with_its_event_and_changes(h200_db: str) -> None:
    steps = _json("replay", h200_db, "--until", "2025-12-08")
    assert [s["event"]["id"] for s in steps][:3] == ["h200-0001", "h200-0002", "h200-0003"]
    # the inquiry of 8-10 Dec possibly happened by the end of Dec 8; certainly only by Dec 10
    assert steps[-1]["event"]["id"] == "h200-0012"
    certain = _json("replay", h200_db, "--until", "2025-12-08", "--certain")
    assert certain[-1]["event"]["id"] == "h200-0009"
    assert "h200-0005" not in {s["event"]["id"] for s in certain}
    announcement = next(s for s in steps if s["event"]["id"] == "h200-0007")
    assert announcement["time"] == "2025-12-08T00:00:00+00:00"
    assert announcement["event"]["type"] == "announcement"
    [change] = announcement["changes"]
    assert change["key"] == ["us-government", "h200-exports-to-china"]
    assert (change["before"]["position"], change["after"]["position"]) == ("opposes", "supports")


def test_replay_by_reported_order_with_start_story_and_actor(h200_db: str) -> None:
    steps = _json(
        "replay", h200_db, "--order", "reported", "--start", "2025-12-10",
        "--story", "h200-china", "--actor", "beijing",
    )  # fmt: skip
    assert steps
    assert all(s["time"] >= "2025-12-10" for s in steps)
    assert "h200-0013" in {s["event"]["id"] for s in steps}


def test_history_lists_the_steps_touching_an_actor(h200_db: str) -> None:
    steps = _json("history", h200_db, "ByteDance")
    ids = [s["event"]["id"] for s in steps]
    assert ids[:2] == ["h200-0005", "h200-0010"]
    table = run("history", h200_db, "bytedance")
    assert "regulator_meeting" in table.stdout
    assert "inquiry" in table.stdout


# --- state, diff ---------------------------------------------------------------------------


def test_state_json_at_december_10(h200_db: str) -> None:
    data = _json("state", h200_db, "--at", "2025-12-10")
    assert data["bounds"]["at"] == "2025-12-10T23:59:59.999999+00:00"
    intents = {(i["buyer"], i["supplier"], i["product"]): i for i in data["order_intents"]}
    bytedance = intents["bytedance", "nvidia", "H200"]
    assert bytedance["status"] == "exploring"
    assert (bytedance["conditions"], bytedance["concerns"]) == (["Beijing approval"], ["supply"])
    assert bytedance["blocked_by"] == []
    assert bytedance["evidence"] == ["h200-0010"]
    assert bytedance["sources"][0]["publisher"] == "Reuters"
    stances = {(s["actor"], s["topic"]): s for s in data["stances"]}
    assert stances["beijing", "h200-imports"]["position"] == "undecided"
    assert stances["us-government", "h200-exports-to-china"]["since"].startswith("2025-12-08")
    assert [r["id"] for r in data["restrictions"]] == ["h200-0003"]


def test_state_filters_by_actor_alias_and_topic(h200_db: str) -> None:
    data = _json("state", h200_db, "--actor", "Chinese regulators", "--topic", "h200-imports")
    assert [(s["actor"], s["position"]) for s in data["stances"]] == [("beijing", "undecided")]
    assert data["order_intents"] == []


def test_state_known_at_and_recorded_by_bounds(h200_db: str, store_backend: str) -> None:
    known = _json("state", h200_db, "--known-at", "2025-12-09")
    assert known["order_intents"] == []
    # recorded times come from the frozen clock on a file, from the server's on PostgreSQL
    steps = _json("replay", h200_db, "--order", "recorded")
    recorded = [datetime.fromisoformat(s["event"]["recorded_at"]) for s in steps]
    assert recorded == sorted(set(recorded))  # strictly increasing
    assert len(recorded) == 21
    if store_backend == "sqlite":
        assert recorded[0] == datetime.fromisoformat(LOADED_AT)
    day_before = (recorded[0] - timedelta(days=1)).date().isoformat()
    before_load = _json("state", h200_db, "--recorded-by", day_before)
    assert (before_load["stances"], before_load["order_intents"]) == ([], [])
    first_only = _json("state", h200_db, "--recorded-by", recorded[0].isoformat())
    assert [s["evidence"] for s in first_only["stances"]] == [["h200-0001"]]
    last_day = recorded[-1].date().isoformat()  # a date: the end of that day
    after_load = _json("state", h200_db, "--recorded-by", last_day)
    assert len(after_load["stances"]) == 6


def test_state_prints_stance_intent_and_restriction_tables(h200_db: str) -> None:
    result = run("state", h200_db, "--at", "2025-12-10")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("Stances\nactor")
    assert "Order intents\nbuyer" in text
    assert "blocked_by" in text
    assert "Restrictions in force\nid" in text
    row = next(line for line in text.splitlines() if line.startswith("bytedance  nvidia"))
    assert row.split()[:5] == ["bytedance", "nvidia", "H200", "exploring", "large"]


def test_diff_by_valid_time_and_by_knowledge_time(h200_db: str) -> None:
    table = run("diff", h200_db, "2025-12-07", "2025-12-10")
    assert "stance us-government / h200-exports-to-china  opposes" in table.stdout
    learned = _json("diff", h200_db, "2025-12-09", "2025-12-10", "--known")
    assert learned["known"] is True
    keys = [c["key"] for c in learned["changes"]]
    assert ["intent", "bytedance", "nvidia", "h200"] in keys


# --- verify, search, listings, backup -------------------------------------------------------


@pytest.mark.sqlite_only("edits the SQLite file behind the store (both backends: test_integrity)")
def test_verify_says_ok_and_names_a_tampered_position(h200_db: str) -> None:
    assert run("verify", h200_db).stdout == f"{h200_db}: ok, 21 events, hash chain intact\n"
    assert _json("verify", h200_db) == {"ok": True, "events": 21}
    conn = sqlite3.connect(h200_db)
    conn.execute("DROP TRIGGER events_refuse_update")
    conn.execute(
        "UPDATE events SET payload = replace(payload, 'Trump', 'Biden') WHERE position = 7"
    )
    conn.commit()
    conn.close()
    result = run("verify", h200_db)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: integrity check failed at position 7: row content does not match its hash\n"
    )


@pytest.mark.sqlite_only("FTS5's snippets and rank (the same hits on both: tests/cli/test_dsn.py)")
def test_search_finds_grey_market_with_filters_and_snippets(h200_db: str) -> None:
    table = run("search", h200_db, "grey market")
    assert table.exit_code == 0
    assert "h200-0002" in table.stdout
    assert "[grey]-[market]" in table.stdout
    hits = _json("search", h200_db, "grey-market")
    assert [h["event"]["id"] for h in hits] == ["h200-0002"]
    assert hits[0]["rank"] < 0
    assert "[grey-market]" in hits[0]["snippet"]
    assert _json("search", h200_db, "grey market", "--type", "inquiry") == []
    inquiries = _json("search", h200_db, "H200", "--type", "inquiry", "--actor", "alibaba")
    assert [h["event"]["id"] for h in inquiries] == ["h200-0010"]
    dated = _json("search", h200_db, "H200", "--since", "2025-12-10", "--limit", "3")
    assert len(dated) == 3
    assert all(h["event"]["occurred_at"] >= "2025-12-10" for h in dated)
    assert run("search", h200_db, "zzzz").stdout == "(none)\n"


def test_search_with_bad_fts_syntax_is_one_line_error(h200_db: str) -> None:
    result = run("search", h200_db, '"grey market')
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: query: '\"grey market' is not valid search syntax")
    assert result.stderr.count("\n") == 1
    plain = _json("search", h200_db, '"grey market', "--plain")
    assert [h["event"]["id"] for h in plain] == ["h200-0002"]


def test_actors_stories_and_info(h200_db: str) -> None:
    actors = {a["id"]: a for a in _json("actors", h200_db)}
    assert actors["us-government"]["aliases"] == [
        "Trump administration",
        "Donald Trump",
        "Washington",
    ]
    assert "Tencent Holdings" in run("actors", h200_db).stdout
    assert _json("stories", h200_db) == [
        {
            "story": "h200-china",
            "title": "ByteDance and Alibaba ask Nvidia about H200 chips after the U.S. says it "
            "will allow exports to China",
            "events": 21,
        }
    ]
    info = _json("info", h200_db)
    assert (info["events"], info["stories"], info["actors"], info["head"]) == (21, 1, 10, 21)
    assert "0002_search" in info["schema"]
    assert "events   21" in run("info", h200_db).stdout


@pytest.mark.sqlite_only("backup writes SQLite files (VACUUM INTO)")
def test_backup_writes_a_verified_copy(h200_db: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    result = run("backup", h200_db, copy)
    assert result.exit_code == 0
    assert _json("verify", copy) == {"ok": True, "events": 21}
    again = run("backup", h200_db, copy)
    assert again.exit_code == 1
    assert again.stderr == f"Error: {copy}: already exists; refusing to overwrite\n"


# --- export ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "markdown", "timelinejs", "html"])
def test_export_writes_each_format(h200_db: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"h200.{fmt}"
    result = run("export", h200_db, "--format", fmt, "-o", out)
    assert result.exit_code == 0
    assert result.stdout == f"{out}: 21 events ({fmt})\n"
    assert out.stat().st_size > 5000


def test_export_with_bounds_and_to_stdout(h200_db: str) -> None:
    result = run("export", h200_db, "--format", "csv", "-o", "-", "--at", "2025-12-08")
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert {r["id"] for r in rows} >= {"h200-0001", "h200-0009"}
    assert max(r["occurred_at"] for r in rows) < "2025-12-09"
    known = run("export", h200_db, "--format", "timelinejs", "-o", "-", "--known-at", "2025-12-09")
    slides = json.loads(known.stdout)["events"]
    assert [s["unique_id"] for s in slides] == ["h200-0001", "h200-0003", "h200-0007", "h200-0008"]


def test_jsonl_export_loads_into_a_new_store_with_the_same_state(
    h200_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "h200.jsonl"
    assert run("export", h200_db, "--format", "jsonl", "-o", out).exit_code == 0
    copy = tmp_path / "copy.db"
    with freeze_time("2026-02-01"):
        loaded = run("load", copy, out)
    assert loaded.stdout == f"{out}: story 'h200-china': 21 appended, 0 already stored\n"
    assert _json("state", copy) == _json("state", h200_db)

    def events(db: Path) -> list[dict[str, Any]]:
        steps = _json("replay", db, "--order", "recorded")
        return [s["event"] | {"recorded_at": None} for s in steps]

    assert events(copy) == events(h200_db)

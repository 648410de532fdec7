"""Provenance and disputes wherever a fact is shown: CLI tables, --json, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import FIXTURES, H200

MAGNETS = FIXTURES / "sample-magnet-export-ban.json"


@pytest.fixture
def stories(store_location: str) -> str:
    """Two stories loaded into a new store (a file, or a PostgreSQL schema)."""
    assert run("load", store_location, H200, MAGNETS).exit_code == 0
    return store_location


def test_the_state_table_counts_independent_sources(stories: str) -> None:
    out = run("state", stories, "--at", "2025-12-10", "--story", "h200-china").stdout
    line = next(
        row for row in out.splitlines() if row.startswith("beijing   ") and "h200-imports" in row
    )
    assert "2 independent sources:" in line
    assert "1 independent source: Reuters" in out


def test_the_state_table_shows_who_disputes_and_confirms(stories: str) -> None:
    out = run("state", stories, "--story", "magnet-export-ban").stdout
    assert "disputed by" in out
    assert "MagnetCo, 13 May" in out
    assert "confirmed by" in out


def test_state_json_carries_provenance_and_claims(stories: str) -> None:
    result = run("state", stories, "--story", "magnet-export-ban", "--json")
    data = json.loads(result.stdout)
    by_buyer = {i["buyer"]: i for i in data["order_intents"]}
    assert by_buyer["carmaker-b"]["disputed_by"] == ["mag-11"]
    assert by_buyer["carmaker-a"]["confirmed_by"] == ["mag-12"]
    assert by_buyer["carmaker-b"]["independent_sources"] == 2
    assert by_buyer["carmaker-b"]["origins"] == ["Example Daily", "Example Wire"]


def test_diff_reports_a_fact_becoming_disputed(stories: str) -> None:
    out = run("diff", stories, "2024-05-12", "2024-05-13", "--story", "magnet-export-ban").stdout
    assert "intent carmaker-b / magnetco / NdFeB magnets" in out
    assert "ordered — disputed by MagnetCo, 13 May" in out


def test_markdown_and_html_exports_show_provenance_and_disputes(
    stories: str, tmp_path: Path
) -> None:
    md, page = tmp_path / "story.md", tmp_path / "story.html"
    assert run("export", stories, "--format", "markdown", "-o", md).exit_code == 0
    assert run("export", stories, "--format", "html", "-o", page).exit_code == 0
    text, html = md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")
    assert "on `h200-imports`: undecided; 2 independent sources: Reuters, The Information" in text
    assert "cancelled — disputed by MagnetCo, 13 May 2024" in text
    assert "Reuters (via The Information)" in text
    assert "basis: anonymous" in text
    assert "disputed by MagnetCo, 13 May 2024" in html
    assert "2 independent sources: Example Daily, Example Wire" in html
    assert 'data-actor="huawei"' in html  # a lane for an actor the story is about

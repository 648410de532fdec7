"""Corrections and retractions are labelled in diff, replay, history and search."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.conftest import FIXTURES

MAGNETS = FIXTURES / "sample-magnet-export-ban.json"


@pytest.fixture
def magnets(store_location: str) -> str:
    """The magnets story loaded into a new store (a file, or a PostgreSQL schema)."""
    assert run("load", store_location, MAGNETS).exit_code == 0
    return store_location


def test_diff_known_labels_the_retraction_and_the_correction(magnets: str) -> None:
    result = run("diff", magnets, "2024-08-15", "2024-09-06", "--known")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "(retracted by mag-08)" in text
    assert "(corrected by mag-10)" in text
    data = json.loads(run("diff", magnets, "2024-08-15", "2024-09-06", "--known", "--json").stdout)
    amended = {c["key"][1]: c["amended"] for c in data["changes"]}
    assert amended == {
        "carmaker-a": {"kind": "retracted", "by": "mag-08"},
        "carmaker-b": {"kind": "corrected", "by": "mag-10"},
    }


def test_diff_of_a_window_without_amendments_labels_nothing(magnets: str) -> None:
    data = json.loads(run("diff", magnets, "2024-04-01", "2024-05-11", "--known", "--json").stdout)
    assert data["changes"]
    assert all("amended" not in c for c in data["changes"])


def test_replay_in_reported_order_labels_only_the_amending_steps(magnets: str) -> None:
    steps = json.loads(run("replay", magnets, "--order", "reported", "--json").stdout)
    labels = {
        s["event"]["id"]: [c.get("amended") for c in s["changes"]] for s in steps if s["changes"]
    }
    assert labels["mag-07"] == [None]  # the delivery report, when it was news
    assert labels["mag-08"] == [{"kind": "retracted", "by": "mag-08"}]
    assert labels["mag-10"] == [{"kind": "corrected", "by": "mag-10"}]


def test_history_shows_the_corrected_event_as_corrected(magnets: str) -> None:
    result = run("history", magnets, "carmaker-b")
    assert result.exit_code == 0
    # a row starts with its date as people write it ("12 Aug 2024", "Aug 2024")
    rows = re.split(r"\n(?=(?:\d{1,2} )?[A-Z][a-z]{2} 2024)", result.stdout)
    cancelled = next(r for r in rows if "mag-09" in r)
    assert "(corrected by mag-10)" in " ".join(cancelled.split())
    assert "corrected by" not in " ".join(next(r for r in rows if "mag-03" in r).split())


def test_search_marks_retracted_and_corrected_hits(magnets: str) -> None:
    hits = json.loads(run("search", magnets, "carmaker", "--json", "--limit", "50").stdout)
    status = {h["event"]["id"]: (h["status"], h["amended_by"]) for h in hits}
    assert status["mag-07"] == ("retracted", "mag-08")
    assert status["mag-09"] == ("corrected", "mag-10")
    assert status["mag-03"] == ("current", None)
    current = json.loads(run("search", magnets, "carmaker", "--json", "--current").stdout)
    ids = {h["event"]["id"] for h in current}
    assert ids == set(status) - {"mag-07", "mag-09"}


def test_search_takes_knowledge_and_valid_time_bounds(magnets: str) -> None:
    then = json.loads(
        run("search", magnets, "delivered", "--known-at", "2024-08-15", "--json").stdout
    )
    assert [(h["event"]["id"], h["status"]) for h in then] == [("mag-07", "current")]
    early = json.loads(run("search", magnets, "carmaker", "--at", "2024-05-31", "--json").stdout)
    assert {h["event"]["id"] for h in early} == {"mag-01", "mag-02", "mag-03", "mag-11"}
    table = run("search", magnets, "delivered")
    assert "retracted by mag-08" in table.stdout


# --- the correction's id in the evidence of the facts it changed ----------------------


def _intent_evidence(data: dict[str, Any]) -> dict[str, list[str]]:
    return {i["buyer"]: i["evidence"] for i in data["order_intents"]}


def test_state_lists_the_correction_in_the_evidence_of_the_fact_it_changed(
    magnets: str,
) -> None:
    now = json.loads(run("state", magnets, "--json").stdout)
    # mag-09 (a cancellation) was corrected by mag-10: the correction comes just before it
    assert _intent_evidence(now)["carmaker-b"] == ["mag-10", "mag-09", "mag-03", "mag-02"]
    assert _intent_evidence(now)["carmaker-a"] == ["mag-06", "mag-05", "mag-01", "mag-02"]
    table = run("state", magnets).stdout
    row = next(line for line in table.splitlines() if line.startswith("carmaker-b  magnetco"))
    assert "mag-10, mag-09" in row


def test_state_known_before_the_correction_does_not_name_it(magnets: str) -> None:
    then = json.loads(run("state", magnets, "--known-at", "2024-08-20", "--json").stdout)
    assert _intent_evidence(then)["carmaker-b"] == ["mag-03", "mag-02"]
    assert "mag-10" not in json.dumps(then)


def test_diff_json_names_the_correction_and_the_retraction_in_the_evidence(
    magnets: str,
) -> None:
    data = json.loads(run("diff", magnets, "2024-08-15", "2024-09-06", "--known", "--json").stdout)
    changes = {c["key"][1]: c for c in data["changes"]}
    corrected = changes["carmaker-b"]
    assert corrected["after"]["evidence"][:2] == ["mag-10", "mag-09"]
    assert "mag-10" not in corrected["before"]["evidence"]
    retracted = changes["carmaker-a"]
    # the fact before rested on mag-07, which mag-08 retracted; the fact after does not
    assert retracted["before"]["evidence"][:2] == ["mag-08", "mag-07"]
    assert "mag-08" not in retracted["after"]["evidence"]


def test_replay_json_in_occurred_order_names_the_correction_in_the_evidence(
    magnets: str,
) -> None:
    steps = json.loads(run("replay", magnets, "--json").stdout)
    corrected = next(s for s in steps if s["event"]["id"] == "mag-09")
    (change,) = corrected["changes"]
    assert change["after"]["evidence"][:2] == ["mag-10", "mag-09"]
    untouched = next(s for s in steps if s["event"]["id"] == "mag-03")
    assert all("mag-10" not in json.dumps(c) for c in untouched["changes"])


def test_the_html_page_names_the_correction_in_the_intent_evidence(
    magnets: str, tmp_path: Path
) -> None:
    page = tmp_path / "magnets.html"
    assert run("export", magnets, "--format", "html", "-o", page).exit_code == 0
    html = page.read_text(encoding="utf-8")
    intents = html[html.index("<h2>Order intents</h2>") : html.index("<h2>Bans")]
    assert intents.index("mag-10</code>") < intents.index("mag-09</code>")


def test_python_amended_evidence_names_the_correction_as_the_cli_does(magnets: str) -> None:
    import timeline as tl

    with tl.Timeline.open(magnets, create=False) as store:
        intent = store.order_intent("carmaker-b", "magnetco", "NdFeB magnets")
        assert intent is not None
        assert intent.evidence == ("mag-09", "mag-03", "mag-02")  # the events themselves
        assert store.amended_evidence(intent) == ("mag-10", "mag-09", "mag-03", "mag-02")
        assert store.amended_evidence(intent, known_at="2024-08-20") == intent.evidence

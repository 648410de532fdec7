"""DESIGN.md, "How news really arrives" / "Uncertain time", on the Valsorin story: periods,
possible (default) and certain answers, fact.certain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import timeline as tl
from tests.acceptance.conftest import STORY, intent, stance
from tests.conftest import BOTH_BACKENDS
from timeline.cli import cli

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

END_OF_DAY = (23, 59, 59, 999999)


def test_an_edtf_interval_is_a_period_from_the_start_of_a_to_the_end_of_b(
    recall: tl.Timeline,
) -> None:
    """'an EDTF interval "A/B" ... from the start of A to the end of B'; occurred_at keeps
    meaning the earliest instant, occurred_until the last (inclusive)."""
    event = recall.get("val-02").event
    assert event.occurred_at == datetime(2026, 2, 15, tzinfo=UTC)
    assert event.occurred_until == datetime(2026, 2, 20, *END_OF_DAY, tzinfo=UTC)
    found = tl.period("2026-02-15/2026-02-20")
    assert (found.earliest, found.latest) == (event.occurred_at, event.occurred_until)


def test_occurred_until_defaults_to_the_end_of_the_precision_period(recall: tl.Timeline) -> None:
    """'In Python occurred_until defaults to the end of the precision period'."""
    assert recall.get("val-13").event.occurred_until == datetime(
        2026, 3, 31, *END_OF_DAY, tzinfo=UTC
    )
    exact = recall.get("val-01").event
    assert exact.occurred_until == exact.occurred_at
    made = tl.Statement(
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        precision="year",
        actor="ministry",
        topic="t",
        summary="x",
    )
    assert made.occurred_until == datetime(2026, 12, 31, *END_OF_DAY, tzinfo=UTC)


def test_an_explicit_occurred_until_wins_and_must_not_precede_occurred_at() -> None:
    """'given explicitly it wins (and must not be before occurred_at)'."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    made = tl.Statement(
        occurred_at=start,
        precision="month",
        occurred_until=datetime(2026, 3, 3, tzinfo=UTC),
        actor="ministry",
        topic="t",
        summary="x",
    )
    assert made.occurred_until == datetime(2026, 3, 3, tzinfo=UTC)
    with pytest.raises(tl.ValidationError, match="occurred_until"):
        tl.Statement(
            occurred_at=start,
            occurred_until=datetime(2026, 2, 28, tzinfo=UTC),
            actor="ministry",
            topic="t",
            summary="x",
        )


def test_an_interval_ending_before_it_starts_is_refused() -> None:
    """'A after B is an error'."""
    with pytest.raises(tl.TimelineError, match="2026-02-20/2026-02-15"):
        tl.period("2026-02-20/2026-02-15")


def test_a_month_dated_source_is_possibly_public_from_the_first_certainly_by_the_last(
    recall: tl.Timeline,
) -> None:
    """'A month-dated source is public from the 1st *possibly*, by the last day
    *certainly*: its precision is never lost' (the agency's March bulletin)."""
    source = recall.get("val-04").event.source
    assert source.published_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert source.published_until == datetime(2026, 3, 31, *END_OF_DAY, tzinfo=UTC)
    event = recall.get("val-04").event
    assert event.reported_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert event.effective_reported_until == datetime(2026, 3, 31, *END_OF_DAY, tzinfo=UTC)


def test_by_default_an_event_counts_when_it_possibly_happened(recall: tl.Timeline) -> None:
    """'by default an event counts when it *possibly* happened by T ... (occurred_at <= T)'."""
    assert intent(recall.state(at="2026-02-17"), "medichain").status == "exploring"
    assert recall.state(at="2026-02-14").order_intent("medichain", "lumeria", "Valsorin") is None


def test_certain_mode_counts_only_what_certainly_happened(recall: tl.Timeline) -> None:
    """'With certain=True only when certainly (occurred_until <= T ...)': the inquiry is
    dated 15-20 Feb."""
    assert (
        recall.state(at="2026-02-17", certain=True).order_intent("medichain", "lumeria", "Valsorin")
        is None
    )
    found = intent(recall.state(at="2026-02-20", certain=True), "medichain")
    assert (found.status, found.certain) == ("exploring", True)


def test_certain_mode_counts_only_what_was_certainly_public(recall: tl.Timeline) -> None:
    """'... and reported_until <= K': the March bulletin's restriction is possibly public
    on 15 March, certainly only from 31 March."""
    possible = intent(recall.state(at="2026-03-12", known_at="2026-03-15"), "medichain")
    assert possible.blocked_by == ("val-04",)
    certain = intent(
        recall.state(at="2026-03-12", known_at="2026-03-15", certain=True), "medichain"
    )
    assert certain.blocked_by == ()
    assert recall.state(at="2026-03-12", known_at="2026-03-15", certain=True).restrictions() == []


def test_a_month_dated_event_only_possibly_moves_a_fact_within_its_month(
    recall: tl.Timeline,
) -> None:
    """CarePoint dropped its plans 'some time in March' (val-13)."""
    assert intent(recall.state(at="2026-03-10"), "carepoint").status == "cancelled"
    assert intent(recall.state(at="2026-03-10", certain=True), "carepoint").status == "exploring"
    assert intent(recall.state(at="2026-03-31", certain=True), "carepoint").status == "cancelled"


def test_fact_certain_is_true_for_a_certain_event_and_without_bounds(recall: tl.Timeline) -> None:
    """'Every fact carries certain: True when at least one event of its current evidence
    certainly happened by T and was certainly public by K; with no bounds every fact is
    certain.'"""
    early = recall.state(at="2026-02-17")
    assert stance(early, "lumeria", "valsorin-safety").certain is True  # 10 Feb 10:00
    assert stance(early, "medichain", "valsorin-supply").certain is False  # 15-20 Feb
    assert intent(early, "medichain").certain is False
    everything = recall.state()
    facts = [*everything.stances(), *everything.order_intents(), *everything.restrictions()]
    assert facts
    assert all(f.certain for f in facts)


def test_retractions_follow_the_certain_rule_on_their_report_times(tmp_path: Path) -> None:
    """'corrections and retractions follow the same rule on their report times'."""
    with tl.Timeline.open(tmp_path / "r.db") as store:
        store.load(STORY)
        store.append(
            [
                tl.Retraction(
                    id="val-30",
                    retracts="val-09",
                    occurred_at=datetime(2026, 3, 11, tzinfo=UTC),
                    reported_at=datetime(2026, 3, 11, tzinfo=UTC),
                    reported_until=datetime(2026, 3, 20, tzinfo=UTC),
                    reason="the spokesperson spoke for the hospital, not the ministry",
                )
            ],
            story="valsorin-recall",
        )
        assert store.state(known_at="2026-03-15").stance("ministry", "valsorin-safety") is None
        kept = store.state(known_at="2026-03-15", certain=True).stance(
            "ministry", "valsorin-safety"
        )
        assert kept is not None
        assert kept.position == "neutral"
        assert (
            store.state(known_at="2026-03-20", certain=True).stance("ministry", "valsorin-safety")
            is None
        )


def test_certain_is_taken_by_stance_order_intent_diff_replay_and_history(
    recall: tl.Timeline,
) -> None:
    """'stance, order_intent, diff, replay and history ... take it too; in a replay in
    occurred order, until is the at bound under the same rule'."""
    assert (
        recall.order_intent("medichain", "lumeria", "Valsorin", at="2026-02-17", certain=True)
        is None
    )
    assert recall.stance("medichain", "valsorin-supply", at="2026-02-17", certain=True) is None
    assert recall.stance("medichain", "valsorin-supply", at="2026-02-17") is not None
    keys = {c.key for c in recall.diff("2026-02-14", "2026-02-17")}
    assert keys
    assert {c.key for c in recall.diff("2026-02-14", "2026-02-17", certain=True)} == set()
    replay = recall.replay(order="occurred", until="2026-03-10", certain=True)
    list(replay)
    assert replay.state == recall.state(at="2026-03-10", certain=True)
    steps = [s.event.id for s in recall.history("carepoint", certain=True)]
    assert "val-02" in steps


def test_the_cli_takes_certain(tmp_path: Path) -> None:
    """'the CLI (--certain)'."""
    db = tmp_path / "r.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["load", str(db), str(STORY)]).exit_code == 0
    possible = runner.invoke(cli, ["state", str(db), "--at", "2026-02-17", "--json"])
    certain = runner.invoke(cli, ["state", str(db), "--at", "2026-02-17", "--certain", "--json"])
    assert certain.exit_code == 0, certain.output
    assert "medichain" in possible.output
    assert "medichain" not in certain.output


def test_outputs_show_periods_as_people_write_them(tmp_path: Path) -> None:
    """'Outputs show periods as people write them ("8-10 Dec 2025", "Dec 2025"), never a
    false midnight.'"""
    db = tmp_path / "r.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["load", str(db), str(STORY)]).exit_code == 0
    result = runner.invoke(cli, ["history", str(db), "carepoint"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "val-02" in line)
    assert "15" in row
    assert "20 Feb 2026" in row
    month = next(line for line in result.output.splitlines() if "val-13" in line)
    assert "Mar 2026" in month
    assert "00:00" not in result.output


def test_fact_certain_ignores_blocking_restrictions_and_a_restriction_has_its_own(
    recall: tl.Timeline,
) -> None:
    """'fact.certain ... (not counting the restrictions that block an intent)': on 15 March
    the March bulletin's restriction is only possibly public, MediChain's inquiry certainly."""
    state = recall.state(at="2026-03-12", known_at="2026-03-15")
    blocked = intent(state, "medichain")
    assert blocked.blocked_by == ("val-04",)
    assert blocked.certain is True
    (restriction,) = state.restrictions()
    assert (restriction.id, restriction.certain) == ("val-04", False)
    # one certain event of the current evidence is enough (val-02 beside March's val-13)
    cancelled = intent(recall.state(at="2026-03-10"), "carepoint")
    assert (cancelled.status, cancelled.certain) == ("cancelled", True)

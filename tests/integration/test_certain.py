"""Certain and possible answers on the H200 story, whose vague dates are periods."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

import timeline as tl
from tests.conftest import BOTH_BACKENDS
from timeline.cli import cli

from ..conftest import H200

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL


def _stances(state: tl.State) -> dict[tuple[str, str], tuple[str, bool]]:
    return {(s.actor, s.topic): (s.position.value, s.certain) for s in state.stances()}


def test_on_dec_9_the_inquiry_is_only_possible(h200: tl.Timeline) -> None:
    possible = _stances(h200.state(at="2025-12-09"))
    assert possible[("bytedance", "h200-imports")] == ("supports", False)
    assert possible[("us-government", "h200-exports-to-china")] == ("supports", True)
    intent = h200.state(at="2025-12-09").order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert (intent.status.value, intent.certain) == ("exploring", False)


def test_certain_mode_leaves_out_what_only_possibly_happened(h200: tl.Timeline) -> None:
    certain = h200.state(at="2025-12-09", certain=True)
    assert _stances(certain) == {
        ("beijing", "nvidia-ai-chip-purchases"): ("opposes", True),
        ("us-government", "h200-exports-to-china"): ("supports", True),
    }
    assert certain.order_intent("bytedance", "nvidia", "H200") is None


def test_by_dec_10_both_modes_agree_and_every_fact_is_certain(h200: tl.Timeline) -> None:
    possible = h200.state(at="2025-12-10")
    # the same values (the month-dated remark of the ministry is evidence only possibly)
    assert _stances(possible) == _stances(h200.state(at="2025-12-10", certain=True))
    assert all(fact.certain for _, _, fact in possible)


def test_without_bounds_every_fact_is_certain(h200: tl.Timeline) -> None:
    assert all(fact.certain for _, _, fact in h200.state())
    assert h200.state(certain=True) == h200.state()


def test_single_fact_lookups_take_the_same_modes(h200: tl.Timeline) -> None:
    stance = h200.stance("bytedance", "h200-imports", at="2025-12-09")
    assert stance is not None
    assert stance.certain is False
    assert h200.stance("bytedance", "h200-imports", at="2025-12-09", certain=True) is None
    intent = h200.order_intent("alibaba", "nvidia", "H200", at="2025-12-10", certain=True)
    assert intent is not None
    assert intent.certain


def test_a_month_dated_report_is_certainly_public_only_at_the_months_end(
    store: tl.Timeline,
) -> None:
    monthly = tl.Source(
        publisher="Monthly",
        published_at=datetime(2023, 6, 1, tzinfo=UTC),
        published_until=datetime(2023, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
    )
    store.append(
        [
            tl.Announcement(
                id="pledge",
                occurred_at=datetime(2023, 5, 20, tzinfo=UTC),
                precision="day",
                source=monthly,
                actor="maker",
                topic="recycling",
                position="supports",
            )
        ],
        story="pledges",
    )
    possible = store.state(known_at="2023-06-10").stance("maker", "recycling")
    assert possible is not None
    assert possible.certain is False
    assert store.state(known_at="2023-06-10", certain=True).stance("maker", "recycling") is None
    late = store.state(known_at="2023-06-30", certain=True).stance("maker", "recycling")
    assert late is not None
    assert late.certain


def test_a_correction_counts_only_once_certainly_known(store: tl.Timeline) -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    original = tl.Announcement(
        id="a", occurred_at=day, reported_at=day, actor="x", topic="t", position="supports"
    )
    store.append([original], story="s")
    store.append(
        [
            tl.Correction(
                id="fix",
                occurred_at=datetime(2025, 3, 5, tzinfo=UTC),
                reported_at=datetime(2025, 3, 5, tzinfo=UTC),
                reported_until=datetime(2025, 3, 7, tzinfo=UTC),
                corrects="a",
                replacement=tl.Announcement(
                    id="a", occurred_at=day, actor="x", topic="t", position="opposes"
                ),
            )
        ],
        story="s",
    )
    possibly = store.state(known_at="2025-03-06").stance("x", "t")
    assert possibly is not None
    assert (possibly.position.value, possibly.certain) == ("opposes", False)
    certainly = store.state(known_at="2025-03-06", certain=True).stance("x", "t")
    assert certainly is not None
    assert (certainly.position.value, certainly.certain) == ("supports", True)


def test_diff_replay_and_history_take_certain(h200: tl.Timeline) -> None:
    certain_ids = [s.event.id for s in h200.replay(until="2025-12-09", certain=True)]
    possible_ids = [s.event.id for s in h200.replay(until="2025-12-09")]
    assert "h200-0010" in possible_ids
    assert "h200-0010" not in certain_ids
    replay = h200.replay(until="2025-12-09", certain=True)
    list(replay)
    assert replay.state == h200.state(at="2025-12-09", certain=True)
    possible_replay = h200.replay(until="2025-12-09")
    list(possible_replay)
    assert possible_replay.state == h200.state(at="2025-12-09")
    changed = {c.key for c in h200.diff("2025-12-09", "2025-12-10", certain=True)}
    assert ("bytedance", "h200-imports") in changed
    assert [s.event.id for s in h200.history("bytedance", at="2025-12-09", certain=True)] == []


def test_the_cli_marks_possible_facts_and_takes_certain(tmp_path: object) -> None:
    runner = CliRunner()
    db = f"{tmp_path}/h200.db"
    assert runner.invoke(cli, ["load", db, str(H200)]).exit_code == 0
    possible = runner.invoke(cli, ["state", db, "--at", "2025-12-09"])
    assert possible.exit_code == 0
    assert "possibly supports" in possible.output
    certain = runner.invoke(cli, ["state", db, "--at", "2025-12-09", "--certain", "--json"])
    assert certain.exit_code == 0
    data = json.loads(certain.output)
    assert {s["actor"] for s in data["stances"]} == {"beijing", "us-government"}
    assert all(s["certain"] for s in data["stances"])


@pytest.mark.parametrize("fmt", ["csv", "markdown", "timelinejs"])
def test_exports_show_the_inquiry_as_people_write_it(h200: tl.Timeline, fmt: str) -> None:
    import io

    out = io.StringIO()
    h200.export(fmt, out)
    assert "8\u201310 Dec 2025" in out.getvalue()
    assert "2025-12-09" not in out.getvalue()


def test_a_correction_to_a_period_after_a_plain_append_makes_the_fact_possible(
    store: tl.Timeline,
) -> None:
    # the corrected events are kept across appends of plain events and read again
    # once a correction is appended
    day = datetime(2025, 3, 1, tzinfo=UTC)

    def said(n: int, position: str) -> tl.Event:
        return tl.Announcement(
            id=f"a{n}", occurred_at=day.replace(day=n), actor="x", topic="t", position=position
        )

    store.append([said(2, "supports")], story="s")
    first = store.state(at="2025-03-10").stance("x", "t")
    assert first is not None
    assert (first.position.value, first.certain) == ("supports", True)
    store.append([said(1, "opposes")], story="s")  # backdated, plain
    assert store.state(at="2025-03-10").stance("x", "t") == first
    store.append(
        [
            tl.Correction(
                id="fix",
                occurred_at=datetime(2025, 3, 12, tzinfo=UTC),
                corrects="a2",
                replacement=tl.Announcement(
                    id="a2",
                    occurred_at=datetime(2025, 3, 5, tzinfo=UTC),
                    occurred_until=datetime(2025, 3, 20, tzinfo=UTC),
                    actor="x",
                    topic="t",
                    position="supports",
                ),
            )
        ],
        story="s",
    )
    now = store.state(at="2025-03-10").stance("x", "t")
    assert now is not None
    assert (now.position.value, now.certain) == ("supports", False)
    sure = store.state(at="2025-03-10", certain=True).stance("x", "t")
    assert sure is not None
    assert sure.position.value == "opposes"  # without the replacement, only possible then
    for at, expected in (("2025-03-02", ("opposes", True)), ("2025-03-25", ("supports", True))):
        fact = store.state(at=at).stance("x", "t")
        assert fact is not None
        assert (fact.position.value, fact.certain) == expected, at

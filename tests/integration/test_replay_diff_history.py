"""Replay in three orders, diff in two kinds of time, and per-actor history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL


def test_occurred_replay_yields_every_event_in_occurred_order(h200: tl.Timeline) -> None:
    steps = list(h200.replay(order="occurred"))
    keys = [(s.event.occurred_at, s.position) for s in steps]
    assert len(steps) == sum(1 for _ in h200.events())
    assert keys == sorted(keys)


def test_reported_replay_yields_events_in_reported_order(h200: tl.Timeline) -> None:
    times = [s.record.reported_at for s in h200.replay(order="reported")]
    assert times == sorted(times)


def test_recorded_replay_yields_events_in_log_order(h200: tl.Timeline) -> None:
    positions = [s.position for s in h200.replay(order="recorded")]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("order", "bound"), [("occurred", "at"), ("reported", "known_at"), ("recorded", "recorded_by")]
)
@pytest.mark.parametrize("until", ["2025-12-08", "2025-12-09", "2025-12-10", "2030-01-01"])
def test_last_replay_step_state_equals_state_with_the_same_bound(
    h200: tl.Timeline, order: str, bound: str, until: str
) -> None:
    replay = h200.replay(order=order, until=until)
    steps = list(replay)
    expected = h200.state(**{bound: until})
    assert replay.state == expected
    if steps:
        assert steps[-1].state == expected


def test_a_step_lists_the_facts_it_changed_before_and_after(h200: tl.Timeline) -> None:
    step = next(s for s in h200.replay() if s.event.id == "h200-0007")
    change = next(c for c in step.changes if c.projection == "stance")
    assert change.key == ("us-government", "h200-exports-to-china")
    assert (change.before.position, change.after.position) == ("opposes", "supports")


def test_a_past_steps_state_is_refused_rather_than_wrong(h200: tl.Timeline) -> None:
    replay = h200.replay()
    first = next(replay)
    next(replay)
    with pytest.raises(tl.TimelineError, match="past"):
        _ = first.state


def test_replay_start_skips_earlier_steps_but_folds_them(h200: tl.Timeline) -> None:
    steps = list(h200.replay(start="2025-12-09"))
    assert min(s.event.occurred_at for s in steps) >= datetime(2025, 12, 9, tzinfo=UTC)
    assert h200.replay(start="2025-12-09")  # iterable again
    replay = h200.replay(start="2025-12-09")
    list(replay)
    assert replay.state == h200.state()


def test_replay_with_an_unknown_order_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="order"):
        h200.replay(order="alphabetical")


def test_diff_between_valid_times_lists_what_happened_in_between(h200: tl.Timeline) -> None:
    changes = h200.diff("2025-12-07", "2025-12-10")
    by_key = {c.key: c for c in changes}
    us = by_key[("us-government", "h200-exports-to-china")]
    assert (us.before.position, us.after.position) == ("opposes", "supports")
    intent = by_key[("intent", "bytedance", "nvidia", "h200")]
    assert intent.before is None
    assert intent.after.status == "exploring"


def test_diff_between_knowledge_times_lists_what_we_learned(h200: tl.Timeline) -> None:
    learned = {c.key for c in h200.diff("2025-12-09", "2025-12-10", known=True)}
    assert ("intent", "bytedance", "nvidia", "h200") in learned
    assert ("beijing", "h200-imports") in learned
    assert ("us-government", "h200-exports-to-china") not in learned


def test_diff_of_a_time_with_itself_is_empty(h200: tl.Timeline) -> None:
    assert h200.diff("2025-12-09", "2025-12-09") == []


def test_history_lists_every_step_touching_an_actor_in_occurred_order(h200: tl.Timeline) -> None:
    steps = h200.history("bytedance")
    ids = [s.event.id for s in steps]
    assert "h200-0010" in ids  # the inquiry
    assert all(
        any(a == "bytedance" for _, a in s.event.actor_refs())
        or any(
            getattr(c.fact, "buyer", None) == "bytedance"
            or getattr(c.fact, "actor", None) == "bytedance"
            for c in s.changes
        )
        for s in steps
    )
    keys = [(s.event.occurred_at, s.position) for s in steps]
    assert keys == sorted(keys)


def test_history_of_an_unknown_actor_raises(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError, match="nobody"):
        h200.history("nobody")


def test_history_accepts_an_alias(h200: tl.Timeline) -> None:
    assert [s.event.id for s in h200.history("Trump administration")] == [
        s.event.id for s in h200.history("us-government")
    ]

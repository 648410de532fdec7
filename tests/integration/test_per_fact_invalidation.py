"""Backdated events refold only the facts they touch, and the result is exact.

Property: after any backdated append, the persisted snapshot state equals a full
fold of the log, at every valid time, for random histories.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import StepClock

from .test_state_properties import plain_event

BASE = datetime(2025, 1, 1, tzinfo=UTC)
ACTORS = ["a1", "a2", "a3"]
TOPICS = ["t1", "t2"]
POSITIONS = ["supports", "opposes", "undecided", "neutral"]
TIMES = [BASE + timedelta(days=d, hours=12) for d in (-1, 2, 5, 9, 14, 19, 30)]


@st.composite
def stance_event(draw: st.DrawFn, n: int) -> tl.Event:
    """An announcement, statement or regulator meeting (each sets one stance)."""
    occurred = BASE + timedelta(days=draw(st.integers(0, 20)), hours=draw(st.integers(0, 3)))
    env: dict[str, Any] = {"id": f"b{n}", "occurred_at": occurred}
    actor, topic = draw(st.sampled_from(ACTORS)), draw(st.sampled_from(TOPICS))
    position = draw(st.sampled_from(POSITIONS))
    kind = draw(st.sampled_from(["ann", "stmt", "meet", "report"]))
    if kind == "ann":
        return tl.Announcement(**env, actor=actor, topic=topic, position=position)
    if kind == "stmt":
        return tl.Statement(**env, actor=actor, topic=topic, position=position)
    if kind == "report":
        return tl.Report(**env, summary="A report no projection follows.")
    return tl.RegulatorMeeting(
        **env, regulator=actor, attendees=(ACTORS[0],), topic=topic, position=position
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tl.Event], list[list[tl.Event]]]:
    base = [draw(plain_event(n)) for n in range(draw(st.integers(1, 12)))]
    later: list[list[tl.Event]] = []
    n = 0
    for _ in range(draw(st.integers(1, 6))):
        batch = []
        for _ in range(draw(st.integers(1, 3))):
            batch.append(draw(stance_event(n)))
            n += 1
        later.append(batch)
    return base, later


def assert_snapshots_equal_a_full_fold(path: Path, live: tl.Timeline) -> None:
    # a read-only store folds the log itself; a fresh writer reads the persisted versions
    with tl.Timeline.open(path, readonly=True) as reader, tl.Timeline.open(path) as fresh:
        for at in [*TIMES, None]:
            full = reader.state(at=at)
            assert fresh.state(at=at) == full, at
            assert live.state(at=at) == full, at


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_after_any_backdated_append_the_snapshots_equal_a_full_fold(
    history: tuple[list[tl.Event], list[list[tl.Event]]],
) -> None:
    base, later = history
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            live.append(base, story="s")
            for batch in later:
                clock.advance(hours=1)
                live.append(batch, story="s")
                assert_snapshots_equal_a_full_fold(path, live)


def _statements(count: int) -> list[tl.Event]:
    return [
        tl.Statement(
            id=f"s{i}",
            occurred_at=BASE + timedelta(hours=i),
            actor=ACTORS[i % 3],
            topic=TOPICS[i % 2],
            position=POSITIONS[i % 4],
        )
        for i in range(count)
    ]


def test_a_backdated_statement_refolds_only_its_own_stance(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as live:
        live.append(_statements(120), story="s")
        late = tl.Statement(
            id="late",
            occurred_at=BASE + timedelta(hours=60, minutes=30),
            actor="a1",
            topic="t1",
            position="opposes",
        )
        live.append([late], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        # the new event and the 9 later events of (a1, t1) (hours 66, 72 ... 114), not 60
        assert snapshots.folded == 1 + 9
        stance = live.state(at=BASE + timedelta(hours=61)).stance("a1", "t1")
        assert stance is not None
        assert (stance.position, stance.evidence) == (tl.Position.OPPOSES, ("late",))
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_a_backdated_policy_change_still_refolds_from_its_time(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as live:
        live.append(_statements(60), story="s")
        ban = tl.PolicyChange(
            id="ban",
            occurred_at=BASE + timedelta(hours=30, minutes=30),
            authority="a2",
            topic="t1",
            measure="ban",
            product="P1",
            applies_to=("a1",),
        )
        live.append([ban], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        assert snapshots.folded == 30  # the ban and the 29 events after it
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)

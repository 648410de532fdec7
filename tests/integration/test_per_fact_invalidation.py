"""Backdated events refold only the facts they touch, and the result is exact.

Property: after any backdated append, the persisted snapshot state equals a full
fold of the log, at every valid time, for random histories.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
import timeline.projections.base as projection_base
import timeline.projections.orders as orders_module
import timeline.projections.stance as stance_module
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


# a refold stops where it meets the stored history; with short evidence lists it meets
# it within a few steps, so the random histories below reach that stop often
LIMITS = st.sampled_from([projection_base.EVIDENCE_LIMIT, 2])


@contextmanager
def evidence_limit(limit: int) -> Iterator[None]:
    """Facts keep at most ``limit`` evidence ids and sources (the fold and the full
    fold it is compared with alike)."""
    kept = projection_base.EVIDENCE_LIMIT
    projection_base.EVIDENCE_LIMIT = limit
    try:
        yield
    finally:
        projection_base.EVIDENCE_LIMIT = kept


def assert_snapshots_equal_a_full_fold(path: Path, live: tl.Timeline) -> None:
    # a read-only store folds the log itself; a fresh writer reads the persisted versions
    with tl.Timeline.open(path, readonly=True) as reader, tl.Timeline.open(path) as fresh:
        for at in [*TIMES, None]:
            full = reader.state(at=at)
            assert fresh.state(at=at) == full, at
            assert live.state(at=at) == full, at
            assert fresh.state(at=at, certain=True) == reader.state(at=at, certain=True), at


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), limit=LIMITS)
def test_after_any_backdated_append_the_snapshots_equal_a_full_fold(
    history: tuple[list[tl.Event], list[list[tl.Event]]], limit: int
) -> None:
    base, later = history
    with tempfile.TemporaryDirectory() as tmp, evidence_limit(limit):
        path = Path(tmp) / "p.db"
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            live.append(base, story="s")
            for batch in later:
                clock.advance(hours=1)
                live.append(batch, story="s")
                assert_snapshots_equal_a_full_fold(path, live)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), writers=st.lists(st.booleans(), min_size=1, max_size=12))
def test_two_writers_appending_in_turn_keep_the_snapshots_a_full_fold(
    history: tuple[list[tl.Event], list[list[tl.Event]]], writers: list[bool]
) -> None:
    """Each batch through one of two writers of one store (the other's in-memory fold
    falls behind what was stored): both answer, and store, what a fold of the log gives."""
    base, later = history
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as one, tl.Timeline.open(path, clock=clock) as two:
            one.append(base, story="s")
            one.state()  # an in-memory fold at the head
            for n, batch in enumerate(later):
                clock.advance(hours=1)
                writer = two if writers[n % len(writers)] else one
                writer.append(batch, story="s")
                other = one if writer is two else two
                assert other.derived_differences() == []
                assert_snapshots_equal_a_full_fold(path, other)
            assert_snapshots_equal_a_full_fold(path, one)
            assert_snapshots_equal_a_full_fold(path, two)


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
        # the new event and the next event of (a1, t1) (hour 66), not 60: that one sets
        # another position, so from there on the stored history holds as it is
        assert snapshots.folded == 1 + 1
        stance = live.state(at=BASE + timedelta(hours=61)).stance("a1", "t1")
        assert stance is not None
        assert (stance.position, stance.evidence) == (tl.Position.OPPOSES, ("late",))
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_a_backdated_statement_stops_where_it_meets_the_stored_history(tmp_path: Path) -> None:
    # 60 statements of one stance, one position: a backdated one just after the first
    # stays in the evidence of the next 19 versions, then drops out of it (the limit
    # is 20); from there the stored versions are the ones a full fold writes
    path = tmp_path / "s.db"
    same = [
        tl.Statement(
            id=f"s{i:02d}",
            occurred_at=BASE + timedelta(hours=i),
            actor="a1",
            topic="t1",
            position="supports",
        )
        for i in range(60)
    ]
    with tl.Timeline.open(path) as live:
        live.append(same, story="s")
        late = attrs.evolve(same[0], id="late", occurred_at=BASE + timedelta(minutes=30))
        live.append([late], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        # the new event, then s01 ... s20: after s20 the refolded stance is the stored
        # one (s20 ... s01), so s21 ... s59 are neither replayed nor written again
        assert projection_base.EVIDENCE_LIMIT == 20
        assert snapshots.folded == 1 + 20
        early = live.state(at=BASE + timedelta(hours=5, minutes=1)).stance("a1", "t1")
        assert early is not None
        assert early.evidence == ("s05", "s04", "s03", "s02", "s01", "late", "s00")
        last = live.state().stance("a1", "t1")
        assert last is not None
        assert last.evidence == tuple(f"s{i:02d}" for i in range(59, 39, -1))
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_a_backdated_inquiry_stops_where_it_meets_the_stored_intent(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    asks = [
        tl.Inquiry(
            id=f"q{i:02d}",
            occurred_at=BASE + timedelta(hours=i),
            inquirers=("b1",),
            supplier="nvidia",
            product="H200",
        )
        for i in range(40)
    ]
    with tl.Timeline.open(path) as live:
        live.append(asks, story="s")
        late = attrs.evolve(asks[0], id="late", occurred_at=BASE + timedelta(minutes=30))
        live.append([late], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        assert snapshots.folded == 1 + 20  # as for the stance above: q21 ... q39 kept
        intent = live.state(at=BASE + timedelta(hours=2, minutes=1)).order_intent(
            "b1", "nvidia", "H200"
        )
        assert intent is not None
        assert intent.evidence == ("q02", "q01", "late", "q00")
        assert live.derived_differences() == []
        # a backdated ban reaches every later version (its id stays in blocked_by):
        # nothing there is the stored history, so the refold runs to the end
        ban = tl.PolicyChange(
            id="ban",
            occurred_at=BASE + timedelta(hours=1, minutes=30),
            authority="us",
            topic="exports",
            measure="ban",
            product="H200",
            applies_to=("b1",),
        )
        live.append([ban], story="s")
        assert snapshots.folded >= 1 + 38  # the ban, then every one of q02 ... q39
        final = live.state().order_intent("b1", "nvidia", "H200")
        assert final is not None
        assert final.blocked_by == ("ban",)
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def hour(h: float) -> datetime:
    """``h`` hours after ``BASE``."""
    return BASE + timedelta(hours=h)


def ban(id_: str, at: float, authority: str) -> tl.PolicyChange:
    """A ban on H200 for b1 by ``authority``, ``at`` hours after ``BASE``."""
    return tl.PolicyChange(
        id=id_,
        occurred_at=hour(at),
        authority=authority,
        topic="exports",
        measure="ban",
        product="H200",
        applies_to=("b1",),
    )


def hourly_asks(count: int) -> list[tl.Event]:
    """b1 asks nvidia about H200 every hour, from hour 0 (``q00``, ``q01``, ...)."""
    return [
        tl.Inquiry(
            id=f"q{i:02d}",
            occurred_at=hour(i),
            inquirers=("b1",),
            supplier="nvidia",
            product="H200",
        )
        for i in range(count)
    ]


def test_a_backdated_ban_lifted_later_refolds_only_until_the_lift(tmp_path: Path) -> None:
    # b1 asks every hour; "us" lifts its restrictions on H200 at hour 10 (none then);
    # "eu" bans and lifts for b2 all along. A ban by "us" for b1 learnt late, dated
    # hour 5: it blocks b1's intent from hour 5 to the lift at hour 10, and after that
    # the restrictions are as stored, and b1's intent once the ban and the lift drop
    # out of its evidence
    path = tmp_path / "lift.db"

    asks = hourly_asks(60)
    policy = {"topic": "exports", "product": "H200"}
    lift = tl.PolicyChange(
        id="us-lift", occurred_at=hour(10.5), authority="us", measure="lift", **policy
    )
    others = [
        tl.PolicyChange(
            id=f"eu{i:02d}",
            occurred_at=hour(i + 0.5),
            authority="eu",
            measure="ban" if i % 2 else "lift",
            applies_to=("b2",),
            **policy,
        )
        for i in range(20, 60)
    ]
    with tl.Timeline.open(path) as live:
        live.append([*asks, lift, *others], story="s")
        ban = tl.PolicyChange(
            id="us-ban",
            occurred_at=hour(5.5),
            authority="us",
            measure="ban",
            applies_to=("b1",),
            **policy,
        )
        live.append([ban], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        # the ban and the lift (and the 6 restriction versions they write), then b1's
        # intent from hour 6 until the ban and the lift leave its evidence (about 27
        # steps): not the 40 later policy changes (twice), nor the rest of b1's asks
        assert snapshots.folded <= 40
        blocked = live.state(at=hour(7)).order_intent("b1", "nvidia", "H200")
        assert blocked is not None
        assert blocked.blocked_by == ("us-ban",)
        after = live.state(at=hour(10.75)).order_intent("b1", "nvidia", "H200")
        assert after is not None
        assert after.blocked_by == ()
        assert after.evidence[:3] == ("us-lift", "q10", "q09")
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_late_bans_replay_the_corrected_and_retracted_policy_changes_as_they_stand(
    tmp_path: Path,
) -> None:
    # a restriction refold reads the policy changes stored from its start on, and the
    # fates of those and of every policy change a correction moves there: a ban on b2
    # corrected into one on b1, a ban moved from before the refold's start to after it,
    # a retracted ban; then a second late ban, earlier than the first, in the same writer
    path = tmp_path / "fates.db"

    asks = hourly_asks(30)
    said = attrs.evolve(ban("s1", 12.5, "eu"), applies_to=("b2",))
    moved, dropped = ban("p1", 3.5, "cn"), ban("p2", 15.5, "jp")
    with tl.Timeline.open(path) as live:
        live.append([*asks, said, moved, dropped], story="s")
        live.append(
            [
                tl.Correction(
                    id="c1", occurred_at=hour(40), corrects="s1", replacement=ban("s1", 12.5, "eu")
                ),
                tl.Correction(
                    id="c2",
                    occurred_at=hour(40),
                    corrects="p1",
                    replacement=attrs.evolve(moved, occurred_at=hour(20.5)),
                ),
                tl.Retraction(id="r1", occurred_at=hour(40), retracts="p2"),
            ],
            story="s",
        )
    # a new writer: nothing read before the late ban's refold
    with tl.Timeline.open(path) as live:
        live.append([ban("late", 8.5, "us")], story="s")

        def blocked(at: float) -> tuple[str, ...]:
            intent = live.state(at=hour(at)).order_intent("b1", "nvidia", "H200")
            assert intent is not None
            return intent.blocked_by

        assert [blocked(h) for h in (5, 10, 16, 25)] == [
            (),
            ("late",),
            ("late", "s1"),
            ("late", "p1", "s1"),
        ]
        assert live.derived_differences() == []
        # a new intent reads the restrictions in force on its product from their index
        live.append(
            [
                tl.Inquiry(
                    id="q-amd",
                    occurred_at=hour(26),
                    inquirers=("b1",),
                    supplier="amd",
                    product="H200",
                )
            ],
            story="s",
        )
        amd = live.state(at=hour(27)).order_intent("b1", "amd", "H200")
        assert amd is not None
        assert amd.blocked_by == ("late", "p1", "s1")
        live.append([ban("earlier", 1.5, "uk")], story="s")
        assert [blocked(h) for h in (2, 10, 25)] == [
            ("earlier",),
            ("earlier", "late"),
            ("earlier", "late", "p1", "s1"),
        ]
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_a_late_ban_in_a_store_of_an_older_schema_refolds_its_policy_changes_exactly(
    tmp_path: Path,
) -> None:
    # the stored policy changes of the H200 story are of an older schema version: a
    # restriction refold decodes them at once (their fields may be named otherwise)
    path = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent.parent / "data" / "store-schema-0003.db", path)
    late = tl.PolicyChange(
        id="late-ban",
        occurred_at=datetime(2025, 6, 1, tzinfo=UTC),
        authority="beijing",
        topic="h200-imports",
        measure="ban",
        product="h200",
        applies_to=("bytedance",),
    )
    with tl.Timeline.open(path) as live:
        live.state()  # the snapshots built as the old store stood
        live.append([late], story="h200")
        intent = live.state().order_intent("bytedance", "nvidia", "H200")
        assert intent is not None
        assert intent.blocked_by == ("late-ban",)
        assert live.derived_differences() == []
        with tl.Timeline.open(path, readonly=True) as reader:
            for at in ("2025-08-31", "2025-09-30", "2025-12-08", None):
                assert live.state(at=at) == reader.state(at=at), at


@st.composite
def order_event(draw: st.DrawFn, n: int) -> tl.Event:
    """A backdated inquiry or order (refolds its buyers' intents), or a later event of
    any kind (folded on top in the same batch)."""
    later = draw(st.booleans())
    day = draw(st.integers(21, 30)) if later else draw(st.integers(0, 20))
    env: dict[str, Any] = {
        "id": f"o{n}",
        "occurred_at": BASE + timedelta(days=day, hours=draw(st.integers(0, 3))),
    }
    if later and draw(st.booleans()):
        if draw(st.booleans()):
            return tl.Statement(
                **env,
                actor=draw(st.sampled_from(ACTORS)),
                topic=draw(st.sampled_from(TOPICS)),
                position=draw(st.sampled_from(POSITIONS)),
            )
        return tl.PolicyChange(
            **env,
            authority=draw(st.sampled_from(ACTORS)),
            topic="t1",
            measure=draw(st.sampled_from(["restrict", "ban", "lift", "permit"])),
            product=draw(st.sampled_from(["P1", "p1", "P2", "s1"])),
            applies_to=tuple(draw(st.lists(st.sampled_from([*ACTORS, "everyone"]), max_size=2))),
        )
    buyer = draw(st.sampled_from(ACTORS))
    product = draw(st.sampled_from(["P1", "p1", "P2"]))
    kind = draw(st.sampled_from(["inq", "place", "cancel", "deliver"]))
    if kind == "inq":
        inquirers = tuple(draw(st.lists(st.sampled_from(ACTORS), min_size=1, max_size=2)))
        return tl.Inquiry(
            **env,
            inquirers=inquirers,
            supplier="s1",
            product=product,
            topic=draw(st.none() | st.sampled_from(TOPICS)),  # a topic: stances too
            conditions=tuple(draw(st.lists(st.sampled_from(["c1", "c2"]), max_size=2))),
        )
    cls = {"place": tl.OrderPlaced, "cancel": tl.OrderCancelled, "deliver": tl.OrderDelivered}[kind]
    return cls(**env, buyer=buyer, supplier="s1", product=product)  # type: ignore[no-any-return]


@st.composite
def order_histories(draw: st.DrawFn) -> tuple[list[tl.Event], list[list[tl.Event]]]:
    base = [draw(plain_event(n)) for n in range(draw(st.integers(1, 14)))]
    later: list[list[tl.Event]] = []
    n = 0
    for _ in range(draw(st.integers(1, 5))):
        batch = []
        for _ in range(draw(st.integers(1, 4))):
            batch.append(draw(order_event(n) | stance_event(1000 + n)))
            n += 1
        later.append(batch)
    return base, later


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=order_histories(), limit=LIMITS)
def test_backdated_orders_and_inquiries_mixed_with_later_events_equal_a_full_fold(
    history: tuple[list[tl.Event], list[list[tl.Event]]], limit: int
) -> None:
    _append_each_batch_and_compare(history, limit=limit)


def test_a_backdated_order_refolds_only_its_buyers_intents(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    ban = tl.PolicyChange(
        id="ban",
        occurred_at=BASE + timedelta(hours=10),
        authority="a3",
        topic="t1",
        measure="ban",
        product="P1",
        applies_to=("a1",),
    )
    lift = tl.PolicyChange(
        id="lift",
        occurred_at=BASE + timedelta(hours=70),
        authority="a3",
        topic="t1",
        measure="lift",
        product="P1",
    )
    orders = [
        tl.OrderPlaced(
            id=f"p{i}",
            occurred_at=BASE + timedelta(hours=20 + i),
            buyer=ACTORS[i % 2],
            supplier="s1",
            product="P1",
        )
        for i in range(80)
    ]
    with tl.Timeline.open(path) as live:
        live.append([ban, *_statements(40), *orders, lift], story="s")
        # a1 inquires before any of its orders: its intent now starts earlier, blocked
        early = tl.Inquiry(
            id="early",
            occurred_at=BASE + timedelta(hours=15),
            inquirers=("a1",),
            supplier="s1",
            product="p1",
        )
        later = tl.Statement(
            id="later",
            occurred_at=BASE + timedelta(days=30),
            actor="a2",
            topic="t2",
            position="supports",
        )
        live.append([early, later], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        # a1's 40 orders, the inquiry, the ban's lift (the ban precedes it), and the
        # later statement folded on top: not the 120 events after the inquiry
        assert snapshots.folded == 40 + 1 + 1 + 1
        intent = live.state(at=BASE + timedelta(hours=16)).order_intent("a1", "s1", "P1")
        assert intent is not None
        assert (intent.status, intent.blocked_by) == (tl.IntentStatus.EXPLORING, ("ban",))
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


@st.composite
def corrected_histories(draw: st.DrawFn) -> tuple[list[tl.Event], list[list[tl.Event]]]:
    """Histories whose later batches also correct (moving the event, or changing its
    actor or position) and retract earlier stance, inquiry, order and policy events."""
    base, later = draw(order_histories())
    earlier: list[tl.Event] = list(base)
    n = 0
    for batch in later:
        for _ in range(draw(st.integers(0, 2))):
            candidates = [e for e in earlier if not isinstance(e, tl.Denial | tl.Confirmation)]
            if not candidates:
                break
            target = draw(st.sampled_from(candidates))
            moved = target.occurred_at + timedelta(hours=draw(st.integers(-60, 60)))
            env = {"id": f"m{n}", "occurred_at": BASE + timedelta(days=40)}
            n += 1
            if draw(st.booleans()):
                batch.append(tl.Retraction(**env, retracts=target.id))
                continue
            fields = {
                f.name: getattr(target, f.name)
                for f in attrs.fields(type(target))
                if f.init and f.name not in ("occurred_until", "reported_until")
            }
            fields["occurred_at"] = moved
            if "actor" in fields:
                fields["actor"] = draw(st.sampled_from(ACTORS))
            if "buyer" in fields:
                fields["buyer"] = draw(st.sampled_from(ACTORS))
            replacement = type(target)(**fields)
            batch.append(tl.Correction(**env, corrects=target.id, replacement=replacement))
        earlier.extend(e for e in batch if not isinstance(e, tl.Correction | tl.Retraction))
    return base, later


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=corrected_histories(), limit=LIMITS)
def test_corrections_and_retractions_refold_their_targets_facts_exactly(
    history: tuple[list[tl.Event], list[list[tl.Event]]], limit: int
) -> None:
    _append_each_batch_and_compare(history, limit=limit)


def test_a_correction_of_a_statement_refolds_only_the_stances_it_moves(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with tl.Timeline.open(path) as live:
        live.append(_statements(120), story="s")
        moved = tl.Statement(
            id="s60",
            occurred_at=BASE + timedelta(hours=60, minutes=30),
            actor="a2",
            topic="t1",
            position="opposes",
        )
        fix = tl.Correction(
            id="fix", occurred_at=BASE + timedelta(days=30), corrects="s60", replacement=moved
        )
        gone = tl.Retraction(id="gone", occurred_at=BASE + timedelta(days=30), retracts="s61")
        live.append([fix, gone], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        # s60 (a1, t1) leaves its stance and joins (a2, t1); s61 (a2, t2) is gone: the
        # three stances' events from hour 60 on, not the 60 events after it
        print("FOLDED", snapshots.folded)
        assert snapshots.folded < 40
        stance = live.state(at=BASE + timedelta(hours=61)).stance("a2", "t1")
        assert stance is not None
        assert (stance.position, stance.evidence[0]) == (tl.Position.OPPOSES, "s60")
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def _append_each_batch_and_compare(
    history: tuple[list[tl.Event], list[list[tl.Event]]],
    kinds: bool = False,
    limit: int = projection_base.EVIDENCE_LIMIT,
) -> None:
    """Append the base, then each later batch an hour apart; after each, the snapshots
    answer as a full fold does and every stored version (index facts included) is the
    one a fresh fold writes. ``kinds``: a1 and a3 are declared as telecoms first.
    ``limit``: the facts' evidence limit."""
    base, later = history
    with tempfile.TemporaryDirectory() as tmp, evidence_limit(limit):
        path = Path(tmp) / "p.db"
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            if kinds:
                for actor in ACTORS:
                    live.register_actor(actor, kind="telecom" if actor != "a2" else "bank")
            live.append(base, story="s")
            for batch in later:
                clock.advance(hours=1)
                live.append(batch, story="s")
                assert_snapshots_equal_a_full_fold(path, live)
                assert live.derived_differences() == []


POLICY_TARGETS = [*ACTORS, "everyone", "kind:telecom", "KIND:Bank"]


@st.composite
def policy_event(draw: st.DrawFn, n: int) -> tl.Event:
    """A policy change, backdated or later (its restrictions and the intents they block)."""
    day = draw(st.integers(0, 30))
    return tl.PolicyChange(
        id=f"p{n}",
        occurred_at=BASE + timedelta(days=day, hours=draw(st.integers(0, 3))),
        authority=draw(st.sampled_from(ACTORS[:2])),
        topic=draw(st.sampled_from(TOPICS)),
        measure=draw(st.sampled_from(["restrict", "ban", "lift", "permit"])),
        product=draw(st.sampled_from(["P1", "p1", "P2", "s1"])),
        applies_to=tuple(draw(st.lists(st.sampled_from(POLICY_TARGETS), max_size=2))),
    )


@st.composite
def news_histories(draw: st.DrawFn) -> tuple[list[tl.Event], list[list[tl.Event]]]:
    """Histories whose later batches hold backdated and later policy changes, stance,
    inquiry and order events, denials and confirmations (backdated or not, of events of
    earlier batches) and corrections and retractions of any of those (also of events,
    corrections and retractions of the same batch)."""
    base = [draw(plain_event(n)) for n in range(draw(st.integers(1, 12)))]
    earlier: list[tl.Event] = list(base)
    later: list[list[tl.Event]] = []
    n = 0
    for _ in range(draw(st.integers(1, 4))):
        batch: list[tl.Event] = []
        for _ in range(draw(st.integers(1, 3))):
            n += 1
            choice = draw(st.integers(0, 9))
            if choice < 3:
                batch.append(draw(policy_event(n)))
            elif choice < 5:
                batch.append(draw(order_event(n) | stance_event(1000 + n)))
            elif choice < 7:
                named = draw(
                    st.lists(st.sampled_from([e.id for e in earlier]), min_size=1, max_size=2)
                )
                occurred = BASE + timedelta(days=draw(st.integers(0, 30)), hours=5)
                actor = draw(st.sampled_from([*ACTORS, "s1", "outsider"]))
                if draw(st.booleans()):
                    batch.append(
                        tl.Denial(
                            id=f"d{n}", occurred_at=occurred, actor=actor, denies=tuple(named)
                        )
                    )
                else:
                    batch.append(
                        tl.Confirmation(
                            id=f"k{n}", occurred_at=occurred, actor=actor, confirms=tuple(named)
                        )
                    )
            else:
                # of an earlier batch's event, or of one of this batch
                target = draw(st.sampled_from([*earlier, *batch]))
                env = {"id": f"m{n}", "occurred_at": BASE + timedelta(days=40)}
                if draw(st.booleans()) or isinstance(
                    target, tl.Denial | tl.Confirmation | tl.Correction | tl.Retraction
                ):
                    batch.append(tl.Retraction(**env, retracts=target.id))
                    continue
                moved = target.occurred_at + timedelta(hours=draw(st.integers(-60, 60)))
                replacement = attrs.evolve(target, occurred_at=moved)
                if isinstance(target, tl.PolicyChange) and draw(st.booleans()):
                    replacement = attrs.evolve(
                        replacement,
                        measure=draw(st.sampled_from(["restrict", "ban", "lift", "permit"])),
                        applies_to=tuple(
                            draw(st.lists(st.sampled_from(POLICY_TARGETS), max_size=2))
                        ),
                    )
                batch.append(tl.Correction(**env, corrects=target.id, replacement=replacement))
        earlier.extend(e for e in batch if not isinstance(e, tl.Correction | tl.Retraction))
        later.append(batch)
    return base, later


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=news_histories(), kinds=st.booleans(), limit=LIMITS)
def test_policy_changes_claims_and_kinds_refold_exactly(
    history: tuple[list[tl.Event], list[list[tl.Event]]], kinds: bool, limit: int
) -> None:
    _append_each_batch_and_compare(history, kinds=kinds, limit=limit)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=news_histories(), kinds=st.booleans(), limit=LIMITS)
def test_folds_take_each_event_id_as_new_and_agree_with_a_scanning_prepend(
    history: tuple[list[tl.Event], list[list[tl.Event]]], kinds: bool, limit: int
) -> None:
    """The folds put the id of the event being folded first in a fact's evidence
    without looking for it there (``prepend_new``): no fact names an event before it
    is folded. On random histories (an inquirer named twice, bans blocking intents that
    appear later, lifts, claims, corrections, retractions), every fact of the full fold
    and of the snapshots holds each evidence id once, and the fold equals the one whose
    folds look for a repeat (``prepend``) at every valid time."""
    base, later = history
    with tempfile.TemporaryDirectory() as tmp, evidence_limit(limit):
        path = Path(tmp) / "p.db"
        with tl.Timeline.open(path, clock=StepClock()) as live:
            if kinds:
                for actor in ACTORS:
                    live.register_actor(actor, kind="telecom" if actor != "a2" else "bank")
            live.append(base, story="s")
            for batch in later:
                live.append(batch, story="s")
            for at in [*TIMES, None]:
                state = live.state(at=at)
                for fact in [*state.stances(), *state.order_intents()]:
                    assert len(set(fact.evidence)) == len(fact.evidence), (at, fact)
        with tl.Timeline.open(path, readonly=True) as reader:
            taken = {at: reader.state(at=at) for at in [*TIMES, None]}
        with (
            mock.patch.object(orders_module, "prepend_new", projection_base.prepend),
            mock.patch.object(stance_module, "prepend_new", projection_base.prepend),
            tl.Timeline.open(path, readonly=True) as scanning,
        ):
            for at, state in taken.items():
                assert scanning.state(at=at) == state, at


def _busy_story(count: int) -> list[tl.Event]:
    """``count`` events ten minutes apart: every tenth an order by one of 20 buyers,
    the rest statements by 50 actors on 7 topics."""
    out: list[tl.Event] = []
    for i in range(count):
        at = BASE + timedelta(minutes=10 * i)
        if i % 10 == 0:
            out.append(
                tl.OrderPlaced(
                    id=f"o{i}",
                    occurred_at=at,
                    buyer=f"b{i // 10 % 20}",
                    supplier="s1",
                    product="P1",
                )
            )
        else:
            out.append(
                tl.Statement(
                    id=f"s{i}",
                    occurred_at=at,
                    actor=f"x{i % 50}",
                    topic=f"t{i % 7}",
                    position=POSITIONS[i % 4],
                )
            )
    return out


def test_a_backdated_ban_refolds_only_the_restrictions_and_the_buyers_it_reaches(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ban.db"
    story = _busy_story(5000)
    middle = BASE + timedelta(minutes=10 * 2500 + 5)
    ban = tl.PolicyChange(
        id="ban",
        occurred_at=middle,
        authority="gov",
        topic="chips",
        measure="ban",
        product="P1",
        applies_to=("b3", "state-funded data centres"),
    )
    with tl.Timeline.open(path) as live:
        live.append(story, story="s")
        live.append([ban], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        after = [e for e in story if e.occurred_at > middle]
        reached = [e for e in after if isinstance(e, tl.OrderPlaced) and e.buyer == "b3"]
        assert len(after) == 2499
        assert len(reached) == 12
        # b3's 12 later orders and the ban on its intent, the ban's stance, the ban
        # replayed on the restrictions and its four restriction facts (the ban, by its
        # authority, on P1 for b3 and for the description); not the 2,499 events after
        # it, nor the other 19 buyers' 238 later orders
        assert snapshots.folded == len(reached) + 1 + 1 + 1 + 4
        state = live.state()
        intent = state.order_intent("b3", "s1", "P1")
        assert intent is not None
        assert intent.blocked_by == ("ban",)
        other = state.order_intent("b4", "s1", "P1")
        assert other is not None
        assert other.blocked_by == ()
        assert live.derived_differences() == []
        # its retraction undoes it the same way
        live.append([tl.Retraction(id="gone", occurred_at=middle, retracts="ban")], story="s")
        assert snapshots.folded <= len(reached) + 1 + 1 + 1 + 4
        intent = live.state().order_intent("b3", "s1", "P1")
        assert intent is not None
        assert intent.blocked_by == ()
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_a_backdated_denial_rechecks_only_the_facts_its_events_shape(tmp_path: Path) -> None:
    path = tmp_path / "denial.db"
    story = _busy_story(5000)
    with tl.Timeline.open(path) as live:
        live.append(story, story="s")
        # s2501 is x1's statement on t2; x1 denies it (it takes part in that stance)
        denial = tl.Denial(
            id="no", occurred_at=BASE + timedelta(minutes=10 * 2600), actor="x1", denies=("s2501",)
        )
        live.append([denial], story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        same = [
            e
            for e in story
            if isinstance(e, tl.Statement)
            and (e.actor, e.topic) == ("x1", "t2")
            and e.occurred_at > denial.occurred_at
        ]
        # the denial, and each later version of (x1, t2): not the 2,400 events after it
        assert snapshots.folded == 1 + 1 + len(same)
        stance = live.state(at=BASE + timedelta(minutes=10 * 2601)).stance("x1", "t2")
        assert stance is not None
        assert stance.evidence[0] == "s2501"
        assert stance.disputed_by == ("no",)
        assert live.derived_differences() == []
        # a backdated statement in a store that holds claims stays per fact
        late = tl.Statement(
            id="late",
            occurred_at=BASE + timedelta(minutes=10 * 1000 + 5),
            actor="x9",
            topic="t0",
            position="opposes",
        )
        live.append([late], story="s")
        assert snapshots.folded < 100
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_corrections_of_events_of_the_same_batch_refold_per_fact_when_switched_on(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import timeline.snapshots as snapshots_module

    monkeypatch.setattr(snapshots_module, "_SAME_BATCH_TARGETS", True)
    path = tmp_path / "same.db"
    with tl.Timeline.open(path) as live:
        live.append(_statements(60), story="s")
        early = tl.Statement(
            id="early",
            occurred_at=BASE + timedelta(hours=20, minutes=30),
            actor="a1",
            topic="t1",
            position="opposes",
        )
        moved = attrs.evolve(early, occurred_at=BASE + timedelta(hours=25, minutes=30))
        gone = tl.Statement(
            id="gone-soon",
            occurred_at=BASE + timedelta(hours=22, minutes=30),
            actor="a2",
            topic="t2",
            position="supports",
        )
        live.append(
            [
                early,
                gone,
                tl.Correction(id="fix", occurred_at=BASE, corrects="early", replacement=moved),
                tl.Retraction(id="drop", occurred_at=BASE, retracts="gone-soon"),
            ],
            story="s",
        )
        snapshots = live._snapshots
        assert snapshots is not None
        assert snapshots.folded < 30  # the two stances from hour 20 on, not all 40 events
        stance = live.state(at=BASE + timedelta(hours=26)).stance("a1", "t1")
        assert stance is not None
        assert stance.evidence[0] == "early"
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


def test_backdated_claims_on_a_ban_and_its_lift_recheck_the_intents_they_block(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lift.db"
    ban = tl.PolicyChange(
        id="ban",
        occurred_at=BASE + timedelta(hours=5),
        authority="a3",
        topic="t1",
        measure="ban",
        product="P1",
        applies_to=("a1", "kind:telecom"),
    )
    lift = attrs.evolve(ban, id="lift", occurred_at=BASE + timedelta(hours=50), measure="lift")
    orders = [
        tl.OrderPlaced(
            id=f"p{i}",
            occurred_at=BASE + timedelta(hours=10 + i),
            buyer=ACTORS[i % 2],
            supplier="s1",
            product="P1",
        )
        for i in range(60)
    ]
    with tl.Timeline.open(path) as live:
        live.register_actor("a2", kind="Telecom")
        live.append([ban, *_statements(30), *orders, lift], story="s")
        live.append(
            [
                tl.Denial(
                    id="no", occurred_at=BASE + timedelta(hours=20), actor="a3", denies=("lift",)
                ),
                tl.Confirmation(
                    id="yes", occurred_at=BASE + timedelta(hours=30), actor="a1", confirms=("ban",)
                ),
            ],
            story="s",
        )
        intent = live.state(at=BASE + timedelta(hours=40)).order_intent("a1", "s1", "P1")
        assert intent is not None
        assert intent.blocked_by == ("ban",)
        assert intent.confirmed_by == ("yes",)
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)


class _CountingLog:
    """The store as a refold sees it, counting every event record it reads."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self.records = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def _counted(self, found: Any) -> Any:
        for item in found:
            self.records += 1
            yield item

    def read(self, *args: Any, **kwargs: Any) -> Any:
        return self._counted(self._log.read(*args, **kwargs))

    def read_events(self, *args: Any, **kwargs: Any) -> Any:
        return self._counted(self._log.read_events(*args, **kwargs))

    def read_ids(self, *args: Any, **kwargs: Any) -> Any:
        return self._counted(self._log.read_ids(*args, **kwargs))

    def read_positions(self, *args: Any, **kwargs: Any) -> Any:
        return self._counted(self._log.read_positions(*args, **kwargs))


def test_an_intent_refold_reads_only_the_events_that_shape_the_intents_it_touches(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reads.db"
    at = [BASE + timedelta(hours=h) for h in range(200)]
    ban = tl.PolicyChange(
        id="ban", occurred_at=at[5], authority="a3", topic="t1", measure="ban",
        product="P1", applies_to=("a1",),
    )  # fmt: skip
    lift = attrs.evolve(ban, id="lift", occurred_at=at[50], measure="lift")
    history: list[tl.Event] = [ban, lift, *_statements(30)]
    for i in range(10):  # the intent refolded: a1 orders P1 from s1
        history.append(
            tl.OrderPlaced(id=f"mine{i}", occurred_at=at[10 + 9 * i], buyer="a1",
                           supplier="s1", product="P1")
        )  # fmt: skip
    for i in range(20):  # a1's other intent, another buyer's, bans on another product
        history.append(
            tl.OrderPlaced(id=f"other{i}", occurred_at=at[11 + 9 * (i % 10)], buyer="a1",
                           supplier="s1", product="P2")
        )  # fmt: skip
        history.append(
            tl.OrderPlaced(id=f"theirs{i}", occurred_at=at[12 + 9 * (i % 10)], buyer="a2",
                           supplier="s1", product="P1")
        )  # fmt: skip
        history.append(
            tl.PolicyChange(id=f"p3-{i}", occurred_at=at[13 + 9 * (i % 10)], authority="a3",
                            topic="t1", measure="ban" if i % 2 else "lift", product="P3",
                            applies_to=("a1",))
        )  # fmt: skip
    early = tl.Inquiry(
        id="early", occurred_at=at[8], inquirers=("a1",), supplier="s1", product="p1"
    )
    with tl.Timeline.open(path) as live:
        live.append(history, story="s")
        snapshots = live._snapshots
        assert snapshots is not None
        counting = _CountingLog(snapshots.log)
        snapshots.log = counting
        live.append([early], story="s")
        assert snapshots.log is counting
        # the events a1's P1 intent has versions at from hour 8 on: its 10 orders and the
        # lift (the ban is before the inquiry); none of a1's 20 other orders, a2's 20,
        # the 20 policy changes on P3 or the 30 statements (the inquiry is in hand)
        assert counting.records == 10 + 1
        assert snapshots.folded == 10 + 1 + 1
        intent = live.state(at=at[9]).order_intent("a1", "s1", "P1")
        assert intent is not None
        assert (intent.status, intent.blocked_by) == (tl.IntentStatus.EXPLORING, ("ban",))
        assert live.derived_differences() == []
    with tl.Timeline.open(path) as again:
        assert_snapshots_equal_a_full_fold(path, again)

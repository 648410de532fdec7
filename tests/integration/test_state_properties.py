"""Property: the same state whichever way it is computed.

Random histories with backdated events, corrections and retractions, appended
in random batches to a real store (a file; a PostgreSQL schema too when a server
is given). After every append the state caught up incrementally (the writer's
snapshots, and a read-only reader's in-memory fold) must equal a fresh
``Timeline``'s state from the persisted snapshots, a state at a far bound, and
the last step of every replay (full folds of the log). With periods (days,
months, years, ``A/B``) the same holds in both modes, ``certain`` or not, at
random ``at`` / ``known_at`` bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import BOTH_BACKENDS, StepClock, new_store_location

# on PostgreSQL with a quarter of the examples (see conftest)
BACKENDS = BOTH_BACKENDS
BASE = datetime(2025, 1, 1, tzinfo=UTC)
ACTORS = ["a1", "a2", "a3"]
TOPICS = ["t1", "t2"]
PRODUCTS = ["P1", "p1", "P2"]
POSITIONS = ["supports", "opposes", "undecided", "neutral"]
MEASURES = ["permit", "restrict", "ban", "lift"]

days = st.integers(min_value=0, max_value=20)


@st.composite
def when(draw: st.DrawFn, vague: bool = False) -> dict[str, Any]:
    """``occurred_at`` (and with ``vague`` a period: a day, a month, a year or ``A/B``)."""
    start = BASE + timedelta(days=draw(days))
    size = draw(st.sampled_from(["instant", "day", "month", "year", "interval"])) if vague else ""
    if size == "day":
        return {"occurred_at": start, "precision": "day"}
    if size == "month":
        month = draw(st.sampled_from([BASE, BASE.replace(month=2)]))
        return {"occurred_at": month, "precision": "month"}
    if size == "year":
        return {"occurred_at": BASE, "precision": "year"}
    if size == "interval":
        end = start + timedelta(days=draw(st.integers(0, 6)), hours=draw(st.integers(0, 23)))
        return {"occurred_at": start, "precision": "day", "occurred_until": end}
    return {"occurred_at": start + timedelta(hours=draw(st.integers(0, 23)) if vague else 0)}


@st.composite
def reported(draw: st.DrawFn, occurred: datetime, vague: bool = False) -> dict[str, Any]:
    """``reported_at`` on or after ``occurred`` (with ``vague`` sometimes a period)."""
    start = occurred + timedelta(days=draw(st.integers(0, 5)))
    if vague and draw(st.booleans()):
        return {"reported_at": start, "reported_until": start + timedelta(days=draw(days))}
    return {"reported_at": start}


# Sources relaying one another: W relies on T, which relies on O; X stands alone.
ORIGIN = tl.Source(publisher="Origin", id="o")
RELAYS = (
    ORIGIN,
    tl.Source(publisher="Trade Daily", id="t", via="o"),
    tl.Source(publisher="Wire", id="w", via="t"),
    tl.Source(publisher="Other", id="x"),
)
SEED = tl.Report(
    id="seed", occurred_at=BASE, reported_at=BASE, sources=RELAYS, summary="cites them all"
)


@st.composite
def plain_event(draw: st.DrawFn, n: int, cite: bool = False, vague: bool = False) -> tl.Event:
    env: dict[str, Any] = {"id": f"e{n}", **draw(when(vague))}
    env.update(draw(reported(env["occurred_at"], vague)))
    if cite:
        picked = draw(st.lists(st.sampled_from(RELAYS), max_size=3, unique=True))
        env["sources"] = tuple(picked)
    kind = draw(
        st.sampled_from(["ann", "stmt", "meet", "inq", "pol", "place", "cancel", "deliver"])
    )
    actor = draw(st.sampled_from(ACTORS))
    topic = draw(st.sampled_from(TOPICS))
    product = draw(st.sampled_from(PRODUCTS))
    if kind == "ann":
        return tl.Announcement(
            **env, actor=actor, topic=topic, position=draw(st.sampled_from(POSITIONS))
        )
    if kind == "stmt":
        return tl.Statement(
            **env, actor=actor, topic=topic, position=draw(st.sampled_from(POSITIONS))
        )
    if kind == "meet":
        return tl.RegulatorMeeting(
            **env,
            regulator=actor,
            attendees=(draw(st.sampled_from(ACTORS)),),
            topic=topic,
            position=draw(st.sampled_from(POSITIONS)),
        )
    if kind == "inq":
        return tl.Inquiry(
            **env,
            inquirers=tuple(draw(st.lists(st.sampled_from(ACTORS), min_size=1, max_size=2))),
            supplier="s1",
            product=product,
            topic=draw(st.none() | st.just(topic)),
            conditions=tuple(draw(st.lists(st.sampled_from(["c1", "c2"]), max_size=2))),
            concerns=tuple(draw(st.lists(st.sampled_from(["x1", "x2"]), max_size=2))),
        )
    if kind == "pol":
        return tl.PolicyChange(
            **env,
            authority=actor,
            topic=topic,
            measure=draw(st.sampled_from(MEASURES)),
            product=draw(st.sampled_from([*PRODUCTS, "s1"])),
            applies_to=tuple(draw(st.lists(st.sampled_from([*ACTORS, "everyone"]), max_size=2))),
        )
    cls = {"place": tl.OrderPlaced, "cancel": tl.OrderCancelled, "deliver": tl.OrderDelivered}[kind]
    return cls(**env, buyer=actor, supplier="s1", product=product)  # type: ignore[no-any-return]


@st.composite
def history(draw: st.DrawFn, claims: bool = False, vague: bool = False) -> list[list[tl.Event]]:
    events: list[tl.Event] = [SEED] if claims else []
    plain: list[tl.Event] = []
    size = draw(st.integers(min_value=1, max_value=14))
    for n in range(size):
        if claims and plain and draw(st.integers(0, 3)) == 0:
            # a denial or confirmation of earlier events, by a party or an outsider
            occurred = BASE + timedelta(days=draw(days))
            env = {
                "id": f"c{n}",
                "occurred_at": occurred,
                "reported_at": occurred + timedelta(days=draw(st.integers(0, 3))),
                "actor": draw(st.sampled_from([*ACTORS, "s1", "outsider"])),
            }
            targets = tuple(
                e.id for e in draw(st.lists(st.sampled_from(plain), min_size=1, max_size=2))
            )
            if draw(st.booleans()):
                events.append(tl.Denial(**env, denies=targets))
            else:
                events.append(tl.Confirmation(**env, confirms=targets))
        elif plain and draw(st.integers(0, 5)) == 0:
            target = draw(st.sampled_from(events))
            env: dict[str, Any] = {"id": f"m{n}", **draw(when(vague))}
            env.update(draw(reported(env["occurred_at"], vague)))
            if isinstance(target, tl.Correction | tl.Retraction) or draw(st.booleans()):
                events.append(tl.Retraction(**env, retracts=target.id))
            elif vague:
                moved = draw(when(vague))
                moved.setdefault("precision", "exact")
                moved.setdefault("occurred_until", None)
                replacement = attrs.evolve(target, **moved)
                events.append(tl.Correction(**env, corrects=target.id, replacement=replacement))
            else:
                moved = BASE + timedelta(days=draw(days))
                events.append(
                    tl.Correction(
                        **env,
                        corrects=target.id,
                        replacement=attrs.evolve(target, occurred_at=moved),
                    )
                )
        else:
            event = draw(plain_event(n, cite=claims, vague=vague))
            plain.append(event)
            events.append(event)
    # cut into batches
    batches: list[list[tl.Event]] = []
    i = 0
    while i < len(events):
        k = draw(st.integers(min_value=1, max_value=3))
        batches.append(events[i : i + k])
        i += k
    return batches


def states_agree(path: str, live: tl.Timeline, reader: tl.Timeline) -> tl.State:
    current = live.state()
    # a read-only store keeps no snapshots: it catches up its in-memory fold
    assert reader.state() == current
    with tl.Timeline.open(path) as fresh:
        assert fresh.state() == current
        assert fresh.state(at="2100-01-01") == current
        for order in ("occurred", "reported", "recorded"):
            replay = fresh.replay(order=order)
            steps = list(replay)
            assert replay.state == current, order
            if steps:
                assert steps[-1].state == current
    return current


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches=history())
def test_incremental_full_and_replayed_states_agree(
    batches: list[list[tl.Event]], store_backend: str
) -> None:
    with new_store_location(store_backend) as path:
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            live.state()  # the schema exists before the reader opens the file
            with tl.Timeline.open(path, readonly=True) as reader:
                for batch in batches:
                    live.append(batch, story="s")
                    clock.advance(hours=1)
                    states_agree(path, live, reader)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches=history(), turns=st.lists(st.booleans(), min_size=1, max_size=8))
def test_two_writers_appending_in_turn_agree_with_a_full_fold(
    batches: list[list[tl.Event]], turns: list[bool], store_backend: str
) -> None:
    """Each batch through one of two writers of one store, the snapshots kept up after
    every append on both backends: each writer's state equals a read-only fold and a
    fresh store's, whichever of them wrote last."""
    with new_store_location(store_backend) as path:
        clock = StepClock()
        with (
            tl.Timeline.open(path, clock=clock) as one,
            tl.Timeline.open(path, clock=clock) as two,
        ):
            for writer in (one, two):
                log: Any = writer.store
                if hasattr(log, "upkeep_every"):
                    log.upkeep_every = 1  # PostgreSQL: upkeep after every append
            one.state()  # the schema exists before the reader opens the file
            with tl.Timeline.open(path, readonly=True) as reader:
                for n, batch in enumerate(batches):
                    writer = two if turns[n % len(turns)] else one
                    writer.append(batch, story="s")
                    clock.advance(hours=1)
                    states_agree(path, one if writer is two else two, reader)
                    assert writer.state() == reader.state()
            assert one.derived_differences() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=history(), k=st.integers(0, 28), t=st.integers(0, 28))
def test_point_in_time_state_equals_the_reported_replay_cut_at_the_same_time(
    batches: list[list[tl.Event]], k: int, t: int, store_backend: str
) -> None:
    known_at = BASE + timedelta(days=k, hours=12)
    at = BASE + timedelta(days=t, hours=12)
    with (
        new_store_location(store_backend) as path,
        tl.Timeline.open(path, clock=StepClock()) as store,
    ):
        for batch in batches:
            store.append(batch, story="s")
        replay = store.replay(order="reported", until=known_at, at=at)
        list(replay)
        assert replay.state == store.state(known_at=known_at, at=at)
        occurred = store.replay(order="occurred", until=at, known_at=known_at)
        list(occurred)
        assert occurred.state == store.state(known_at=known_at, at=at)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches=history(claims=True))
def test_states_agree_with_denials_confirmations_and_via_chains(
    batches: list[list[tl.Event]], store_backend: str
) -> None:
    with new_store_location(store_backend) as path:
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            live.state()
            with tl.Timeline.open(path, readonly=True) as reader:
                for batch in batches:
                    live.append(batch, story="s")
                    clock.advance(hours=1)
                    current = states_agree(path, live, reader)
                    for fact in [*current.stances(), *current.order_intents()]:
                        # every origin is counted once, whatever relays it
                        assert set(fact.origins) <= {"Origin", "Other"}
                        assert fact.independent_sources == len(set(fact.origins))
                        claimed = {*fact.disputed_by, *fact.confirmed_by}
                        assert not claimed & set(fact.evidence)


bounds = st.none() | st.integers(0, 60).map(lambda h: BASE + timedelta(days=h / 2))


def _all_certain(state: tl.State) -> bool:
    return all(fact.certain for _, _, fact in state)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    batches=history(vague=True), cuts=st.lists(st.tuples(bounds, bounds), min_size=1, max_size=3)
)
def test_both_modes_agree_on_periods_whichever_way_the_state_is_computed(
    batches: list[list[tl.Event]],
    cuts: list[tuple[datetime | None, datetime | None]],
    store_backend: str,
) -> None:
    with new_store_location(store_backend) as path:
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as live:
            live.state()
            with tl.Timeline.open(path, readonly=True) as reader:
                for batch in batches:
                    live.append(batch, story="s")
                    clock.advance(hours=1)
                    states_agree(path, live, reader)
                    with tl.Timeline.open(path) as fresh:
                        for at, known_at in cuts:
                            for certain in (False, True):
                                # the writer's snapshots, the reader's in-memory fold and
                                # a fresh store's persisted snapshots (or full fold)
                                current = live.state(at=at, known_at=known_at, certain=certain)
                                assert reader.state(at=at, known_at=known_at, certain=certain) == (
                                    current
                                )
                                assert fresh.state(at=at, known_at=known_at, certain=certain) == (
                                    current
                                )
                                # full folds of the log, cut at the same times
                                if known_at is not None:
                                    by_report = fresh.replay(
                                        order="reported", until=known_at, at=at, certain=certain
                                    )
                                    list(by_report)
                                    assert by_report.state == current
                                if at is not None:
                                    by_occurrence = fresh.replay(
                                        order="occurred",
                                        until=at,
                                        known_at=known_at,
                                        certain=certain,
                                    )
                                    list(by_occurrence)
                                    assert by_occurrence.state == current
                                if certain:
                                    assert _all_certain(current)

"""What a per-fact refold reads and writes through the stores, on both backends: the
events at given log positions, what corrections and retractions name, the policy
changes' products, and one fact's versions after a fold key (read, and replaced in one
transaction that moves the checkpoint)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

import timeline as tl
from timeline import events as ev
from timeline.snapshots import okey
from timeline.store.base import CheckpointMoved, EventFilter
from timeline.times import from_text

from ..conftest import BOTH_BACKENDS
from .test_per_fact_invalidation import ban, hour, hourly_asks

BACKENDS = BOTH_BACKENDS

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def _story(n: int = 1_100) -> list[tl.Event]:
    """``n`` statements, every tenth a policy change (every thirtieth on no product),
    then a correction and two retractions."""
    out: list[tl.Event] = []
    for i in range(n):
        at = BASE + timedelta(hours=i)
        if i % 10 == 0:
            out.append(
                tl.PolicyChange(
                    id=f"p{i}",
                    occurred_at=at,
                    authority="us",
                    topic="exports",
                    measure="ban",
                    product=None if i % 30 == 0 else ("H200", "H20")[i % 20 // 10],
                    applies_to=("bytedance",),
                )
            )
        else:
            out.append(tl.Statement(id=f"s{i}", occurred_at=at, actor="beijing", topic="h200"))
    assert isinstance(out[10], tl.PolicyChange)
    out.append(
        tl.Correction(
            id="c1",
            occurred_at=BASE + timedelta(hours=n),
            corrects="p10",
            replacement=attrs.evolve(out[10], occurred_at=BASE + timedelta(minutes=30)),
        )
    )
    out.append(tl.Retraction(id="r1", occurred_at=BASE + timedelta(hours=n), retracts="s1"))
    out.append(tl.Retraction(id="r2", occurred_at=BASE + timedelta(hours=n), retracts="s2"))
    return out


def test_events_are_read_by_position_in_chunks(store: tl.Timeline) -> None:
    store.append(_story(), story="s")
    log: Any = store.store
    wanted = [1_050, 3, 3, 999, 1_000, 1_001, 1, *range(100, 1_100, 2)]
    got = list(log.read_positions(wanted))
    assert [r.position for r in got] == sorted(set(wanted))  # over 1,000: two chunks
    by_position = {r.position: r for r in log.read(EventFilter())}
    assert got == [by_position[p] for p in sorted(set(wanted))]
    assert list(log.read_positions([])) == []


def test_what_corrections_and_retractions_name(store: tl.Timeline) -> None:
    store.append(_story(40), story="s")
    log: Any = store.store
    got = log.target_links([("correction", "corrects"), ("retraction", "retracts")])
    assert sorted(got) == [("c1", "p10"), ("r1", "s1"), ("r2", "s2")]
    assert log.target_links([("correction", "no_such_field")]) == []
    # a dotted path reads a nested field (what a correction's replacement is)
    assert log.target_links([("correction", "replacement.type")]) == [("c1", "policy_change")]
    assert log.target_links([("correction", "replacement.no_such_field")]) == []


@pytest.mark.parametrize(
    "where",
    [
        EventFilter(types=["policy_change"]),
        EventFilter(types=["policy_change"], after_position=200, upto_position=700),
        EventFilter(types=["policy_change"], occurred_from=BASE + timedelta(hours=500)),
    ],
)
def test_the_policy_changes_products_as_their_events_have_them(
    store: tl.Timeline, where: EventFilter
) -> None:
    store.append(_story(), story="s")
    log: Any = store.store
    rows = log.policy_change_rows(where)
    records = list(log.read(where))
    assert len(rows) == len(records) > 10
    version = log.codec.registry.of(ev.PolicyChange).version
    for (position, at, id_, product, schema_version), record in zip(rows, records, strict=True):
        event = record.event
        assert isinstance(event, tl.PolicyChange)
        assert (position, from_text(at), id_) == (record.position, event.occurred_at, event.id)
        assert (product, schema_version) == (event.product, version)
    assert {r[3] for r in rows} == {None, "H200", "H20"}


def test_one_facts_versions_are_read_and_replaced(store: tl.Timeline) -> None:
    store.append(_story(60), story="s")
    assert store.state().stance("beijing", "h200") is not None  # the versions written
    snapshots: Any = store._snapshot_store  # type: ignore[attr-defined]
    key = '["stance",["beijing","h200"]]'
    keys = snapshots.versions_after(key, "")
    assert len(keys) > 3
    assert keys == sorted(keys)
    texts = snapshots.versions_from(key, "")
    assert [k for k, _ in texts] == keys
    assert all(isinstance(t, str) and t for _, t in texts)
    assert snapshots.versions_from(key, keys[0], keys[2]) == texts[1:3]
    assert snapshots.versions_from(key, keys[0], None, 2) == texts[1:3]
    assert snapshots.versions_after(key, keys[-1]) == []

    cp = snapshots.checkpoint()
    moved = attrs.evolve(cp, position=cp.position + 1)
    new_key = okey(BASE + timedelta(days=400), 10_000)
    snapshots.replace_versions(
        cp,
        [(key, keys[1]), (key, keys[2])],
        [(key, keys[3], "three again"), (key, new_key, "later")],
        str,
        moved,
    )
    assert snapshots.checkpoint() == moved
    after = snapshots.versions_from(key, "")
    assert [k for k, _ in after] == [keys[0], *keys[3:], new_key]
    assert dict(after)[keys[3]] == "three again"
    assert after[-1] == (new_key, "later")
    with pytest.raises(CheckpointMoved):  # the checkpoint it expects is gone: nothing written
        snapshots.replace_versions(cp, [(key, keys[0])], [], str, cp)
    assert snapshots.versions_from(key, "") == after
    assert snapshots.checkpoint() == moved


def _late_news(round_: int) -> tl.Event:
    """What the ``round_``-th append learns: a new statement, or one backdated, an
    inquiry or a ban learnt late, a lift, a correction or a retraction of earlier news."""
    at = BASE + timedelta(days=20 + round_)
    back = BASE + timedelta(days=(round_ * 7) % 19, hours=round_)
    buyer = ("bytedance", "alibaba")[round_ % 2]
    kind = round_ % 6
    if kind == 0:
        return tl.Statement(id=f"n{round_}", occurred_at=at, actor="beijing", topic="h200")
    if kind == 1:
        return tl.Statement(
            id=f"n{round_}",
            occurred_at=back,
            actor="beijing",
            topic="h200",
            position=("supports", "opposes")[round_ % 2],
        )
    if kind == 2:
        return tl.Inquiry(
            id=f"n{round_}", occurred_at=back, inquirers=(buyer,), supplier="nvidia", product="H200"
        )
    if kind == 3:
        return tl.PolicyChange(
            id=f"n{round_}",
            occurred_at=back,
            authority="cac",
            topic="exports",
            measure=("ban", "lift")[round_ % 4 == 3],
            product="H200",
            applies_to=(buyer,),
        )
    if kind == 4:
        return tl.Retraction(id=f"n{round_}", occurred_at=at, retracts=f"n{round_ - 3}")
    return tl.Correction(
        id=f"n{round_}",
        occurred_at=at,
        corrects=f"n{round_ - 3}",
        replacement=tl.Inquiry(
            id=f"n{round_ - 3}",
            occurred_at=back,
            inquirers=(buyer,),
            supplier="nvidia",
            product="H200",
        ),
    )


def test_two_writers_learning_late_news_in_turn_keep_snapshots_a_full_fold_gives(
    store_location: str,
) -> None:
    """Each writer's in-memory fold falls behind what the other one wrote: its per-fact
    refolds must start from the stored versions, never from what it folded before."""
    with tl.Timeline.open(store_location) as first, tl.Timeline.open(store_location) as second:
        for writer in (first, second):
            log: Any = writer.store
            if hasattr(log, "upkeep_every"):
                log.upkeep_every = 1  # PostgreSQL: upkeep after every append, as SQLite
        first.append(
            [
                tl.Inquiry(
                    id=f"q{i}",
                    occurred_at=BASE + timedelta(days=i),
                    inquirers=("bytedance", "alibaba"),
                    supplier="nvidia",
                    product="H200",
                )
                for i in range(0, 20, 2)
            ],
            story="s",
        )
        for round_ in range(1, 25):
            writer = (first, second)[round_ % 2]
            writer.append([_late_news(round_)], story="s")
            if round_ % 5 == 0:
                assert (second, first)[round_ % 2].state() == folded_state(store_location)
        for writer in (first, second):
            assert writer.derived_differences() == []
            for at in [BASE + timedelta(days=d) for d in (3, 11, 30)] + [None]:
                assert writer.state(at=at) == folded_state(store_location, at=at), at


def folded_state(location: str, **bounds: Any) -> tl.State:
    """The state by folding the log (a read-only store never uses snapshots)."""
    with tl.Timeline.open(location, readonly=True) as reader:
        return reader.state(**bounds)


def test_a_late_ban_refolds_with_a_ban_a_correction_moved_after_its_time(
    store: tl.Timeline, store_location: str
) -> None:
    """A restriction refold from a late ban's time, with a ban stored before that time
    that a correction moved after it: the states equal a fold of the log (both
    backends; the SQLite-only fates test of test_per_fact_invalidation.py has more)."""
    log: Any = store.store
    if hasattr(log, "upkeep_every"):
        log.upkeep_every = 1  # PostgreSQL: upkeep after every append, as SQLite

    store.append([*hourly_asks(12), ban("p1", 0.5, "cn")], story="s")
    moved = tl.Correction(
        id="c1", occurred_at=hour(20), corrects="p1", replacement=ban("p1", 6.5, "cn")
    )
    store.append([moved], story="s")
    store.append([ban("late", 1.5, "us")], story="s")  # a restriction refold from hour 1.5

    def blocked(at: float) -> tuple[str, ...]:
        intent = store.state(at=hour(at)).order_intent("b1", "nvidia", "H200")
        assert intent is not None
        return intent.blocked_by

    assert [blocked(h) for h in (1, 5, 7, 11)] == [(), ("late",), ("late", "p1"), ("late", "p1")]
    for at in (1, 5, 7, 11, None):
        when = None if at is None else hour(at)
        assert store.state(at=when) == folded_state(store_location, at=when), at
    assert store.derived_differences() == []


_LATE_FROM_ANOTHER_PROCESS = """
import sys
from datetime import datetime
import timeline as tl
with tl.Timeline.open(sys.argv[1]) as store:
    log = store.store
    if hasattr(log, "upkeep_every"):
        log.upkeep_every = 1
    store.append(
        [tl.Statement(id="late", occurred_at=datetime.fromisoformat(sys.argv[2]),
                      actor="beijing", topic="chips", position="opposes")],
        story="s",
    )
"""


def test_a_writer_sees_what_another_process_learnt_late(store_location: str) -> None:
    """A writer holding its fold in memory, and another process appending a backdated
    statement on a new topic (refolded per fact there: the snapshots' fold key stays,
    their log position moves): what the writer stores when its next event sets the
    same stance, and what it answers, are what a fold of the log gives."""
    with tl.Timeline.open(store_location) as writer:
        log: Any = writer.store
        if hasattr(log, "upkeep_every"):
            log.upkeep_every = 1
        writer.append(
            [
                tl.Statement(
                    id=f"s{i}",
                    occurred_at=BASE + timedelta(days=i),
                    actor="beijing",
                    topic="h200",
                    position="supports",
                )
                for i in range(10)
            ],
            story="s",
        )
        assert writer.state().stance("beijing", "h200").evidence[0] == "s9"  # type: ignore[union-attr]
        late_at = BASE + timedelta(days=4, hours=12)  # backdated, before s5
        subprocess.run(
            [sys.executable, "-c", _LATE_FROM_ANOTHER_PROCESS, store_location, late_at.isoformat()],
            check=True,
            timeout=120,
        )
        # the writer's next event sets the same stance: folded on top of what it holds
        writer.append(
            [
                tl.Statement(
                    id="next",
                    occurred_at=BASE + timedelta(days=11),
                    actor="beijing",
                    topic="chips",
                    position="opposes",
                )
            ],
            story="s",
        )
        with tl.Timeline.open(store_location) as fresh:  # reads the stored snapshots
            stored = fresh.state().stance("beijing", "chips")
        assert stored is not None
        assert (stored.evidence, stored.since) == (("next", "late"), late_at)
        assert writer.state() == folded_state(store_location)
        assert writer.derived_differences() == []


_LATE_NEWS_WRITER = """
import sys
from datetime import datetime, timedelta
import timeline as tl
location, name, start = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
with tl.Timeline.open(location) as store:
    log = store.store
    if hasattr(log, "upkeep_every"):
        log.upkeep_every = 1
    for i in range(12):
        back = start + timedelta(days=(i * 5) % 17, hours=i)
        if i % 3 == 0:
            event = tl.Inquiry(id=f"{name}-{i}", occurred_at=back, inquirers=(name,),
                               supplier="nvidia", product="H200")
        elif i % 3 == 1:
            event = tl.PolicyChange(id=f"{name}-{i}", occurred_at=back, authority="cac",
                                    topic="exports", measure="ban", product="H200",
                                    applies_to=(name,))
        else:
            event = tl.Statement(id=f"{name}-{i}", occurred_at=back, actor=name,
                                 topic="h200", position=("supports", "opposes")[i % 2])
        store.append([event], story="s")
"""


def test_two_processes_learning_late_news_at_once_leave_snapshots_a_fold_gives(
    store_location: str,
) -> None:
    """Two writer processes appending backdated inquiries, bans and statements at the
    same time, each refolding per fact after its appends (on PostgreSQL after the
    append's transaction, where the two upkeeps can race for the checkpoint)."""
    with tl.Timeline.open(store_location) as store:
        store.append(_story(60), story="s")
        store.state()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LATE_NEWS_WRITER,
                store_location,
                name,
                BASE.isoformat(),
            ]
        )
        for name in ("bytedance", "alibaba")
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    with tl.Timeline.open(store_location) as store:
        assert len(list(store.events())) == 63 + 24
        assert store.derived_differences() == []
        for at in [BASE + timedelta(days=d) for d in (2, 9, 16)] + [None]:
            assert store.state(at=at) == folded_state(store_location, at=at), at

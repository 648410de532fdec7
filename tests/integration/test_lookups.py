"""Single-fact lookups: answered from the snapshots, equal to the full state.

``stance()`` and ``order_intent()`` fall back to ``state()`` only when the
snapshots cannot answer exactly (an event that only possibly happened by ``at``);
these tests make that fallback fail loudly where it must not be taken.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SCHEMA_0003_STORE = Path(__file__).parent.parent / "data" / "store-schema-0003.db"


def _statement(i: int, actor: str = "a1", position: str = "supports") -> tl.Statement:
    return tl.Statement(
        id=f"s{i}", occurred_at=BASE + timedelta(days=i), actor=actor, topic="t1", position=position
    )


def _forbid_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the lookup folded a whole state")

    monkeypatch.setattr(tl.Timeline, "state", refuse)


def test_a_correction_moving_an_event_past_at_keeps_the_lookup_on_the_snapshots(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store_location
    with tl.Timeline.open(path) as store:
        store.append(
            [_statement(i, position=("supports", "opposes")[i % 2]) for i in range(6)], story="s"
        )
        moved = tl.Statement(
            id="s2",
            occurred_at=BASE + timedelta(days=30),
            actor="a1",
            topic="t1",
            position="opposes",
        )
        store.append(
            [
                tl.Correction(
                    id="c1", occurred_at=BASE + timedelta(days=50), corrects="s2", replacement=moved
                )
            ],
            story="s",
        )
        times = [BASE + timedelta(days=d, hours=1) for d in (0, 1, 2, 3, 5, 29, 30, 40)]
        expected = {at: store.state(at=at).stance("a1", "t1") for at in times}
        _forbid_state(monkeypatch)
        for at in times:
            assert store.stance("a1", "t1", at=at) == expected[at], at
        found = store.stance("a1", "t1", at=BASE + timedelta(days=2, hours=1))
        assert found is not None
        assert found.evidence[0] == "s1"  # s2 moved to day 30: day 2 still holds s1


def test_inside_a_vague_period_the_lookup_says_what_the_state_says(store_location: str) -> None:
    path = store_location
    with tl.Timeline.open(path) as store:
        store.append([_statement(i) for i in range(3)], story="s")
        vague = tl.Statement(
            id="m1",
            occurred_at=datetime(2025, 2, 1, tzinfo=UTC),
            precision="month",
            actor="a1",
            topic="t1",
            position="opposes",
        )
        store.append([vague], story="s")
        for at in ("2025-01-20", "2025-02-10", "2025-03-05"):
            lookup = store.stance("a1", "t1", at=at)
            state = store.state(at=at).stance("a1", "t1")
            assert lookup == state, at
            assert lookup is not None
        inside = store.stance("a1", "t1", at="2025-02-10")
        assert inside is not None
        assert inside.position == tl.Position.OPPOSES
        assert inside.certain is False
        after = store.stance("a1", "t1", at="2025-03-05")
        assert after is not None
        assert after.certain is True


def test_a_lookup_sees_what_another_writer_appended(store_location: str) -> None:
    path = store_location
    with tl.Timeline.open(path) as reader, tl.Timeline.open(path) as writer:
        writer.append([_statement(0)], story="s")
        first = reader.stance("a1", "t1")
        assert first is not None
        assert first.position == tl.Position.SUPPORTS
        writer.append([_statement(1, position="opposes")], story="s")
        second = reader.stance("a1", "t1")
        assert second is not None
        assert second.position == tl.Position.OPPOSES
        writer.append([_statement(2, actor="a2")], story="s")
        assert reader.stance("a2", "t1") is not None
        with pytest.raises(tl.UnknownTopicError):
            reader.stance("a1", "t9")


def test_order_intent_lookup_follows_a_new_buyer(store_location: str) -> None:
    path = store_location
    with tl.Timeline.open(path) as store:
        placed = tl.OrderPlaced(
            id="o1", occurred_at=BASE, buyer="b1", supplier="nv", product="H200", quantity="5"
        )
        store.append([placed], story="s")
        assert store.order_intent("b1", "nv", "H200") == store.state().order_intent(
            "b1", "nv", "H200"
        )
        assert store.order_intent("b1", "nv", "H200", at=BASE - timedelta(days=1)) is None
        again = tl.OrderPlaced(
            id="o2", occurred_at=BASE, buyer="b2", supplier="nv", product="H200", quantity="7"
        )
        store.append([again], story="s")
        found = store.order_intent("b2", "nv", "H200")
        assert found is not None
        assert found == store.state().order_intent("b2", "nv", "H200")


def test_a_correction_making_an_event_vague_makes_its_lookup_uncertain(store_location: str) -> None:
    path = store_location
    with tl.Timeline.open(path) as store:
        store.append([_statement(i) for i in range(3)], story="s")
        store.append([_statement(40, position="opposes")], story="s")
        assert store.stance("a1", "t1", at="2025-02-10") is not None
        vague = tl.Statement(
            id="s40",
            occurred_at=datetime(2025, 2, 1, tzinfo=UTC),
            precision="month",
            actor="a1",
            topic="t1",
            position="opposes",
        )
        fix = tl.Correction(id="c1", occurred_at=BASE, corrects="s40", replacement=vague)
        store.append([fix], story="s")
        inside = store.stance("a1", "t1", at="2025-02-10")
        assert inside == store.state(at="2025-02-10").stance("a1", "t1")
        assert inside is not None
        assert (inside.position, inside.certain) == (tl.Position.OPPOSES, False)


def test_a_newly_opened_store_resolves_every_spelling_as_the_state_does(
    store_location: str,
) -> None:
    # ids, aliases and display names in any case or width: a lookup in a newly opened
    # store (names resolved one at a time) answers as the full state (whole lookup)
    with tl.Timeline.open(store_location) as store:
        store.register_actor("cafe", name="Le Petit Café", aliases=["Café", "bistro-1"])
        store.register_actor("Gov", name="Government", aliases=["ministry"])
        store.append(
            [
                _statement(1, actor="cafe"),
                _statement(2, actor="Gov", position="opposes"),
                tl.Statement(
                    id="s3", occurred_at=BASE, actor="ministry", topic="t2", position="supports"
                ),
            ],
            story="s",
        )
        state = store.state()
        expected = {(a, t): state.stance(a, t) for a in ("cafe", "Gov") for t in ("t1", "t2")}
    assert expected[("cafe", "t1")] is not None
    assert expected[("Gov", "t2")] is not None
    cafe = ["cafe", "CAFE", "Café", "CAFÉ", "\uff43\uff41\uff46\uff45", "BISTRO-1"]
    cafe += ["le petit café", "Le Petit Café"]
    gov = ["Gov", "gov", "GOV", "ministry", "Ministry", "government", "Government"]
    for actor, names in (("cafe", cafe), ("Gov", gov)):
        for name in names:
            with tl.Timeline.open(store_location) as store:  # nothing resolved yet
                for topic in ("t1", "t2"):
                    assert store.stance(name, topic) == expected[(actor, topic)], name
                assert store.resolve_actor(name) == actor
    with tl.Timeline.open(store_location) as store:
        with pytest.raises(tl.UnknownActorError):
            store.stance("nobody", "t1")
        with pytest.raises(tl.ValidationError):
            store.stance(["cafe"], "t1")  # type: ignore[arg-type]


def _each_with_its_source(count: int) -> list[tl.Event]:
    """``count`` statements, each by an actor of its own citing a source of its own."""
    return [
        tl.Statement(
            id=f"s{i}",
            occurred_at=BASE + timedelta(hours=i),
            actor=f"a{i}",
            topic="t1",
            position="supports",
            source=tl.Source(
                publisher=f"Paper {i}", id=f"src-{i}", published_at=BASE + timedelta(hours=i)
            ),
        )
        for i in range(count)
    ]


def test_a_long_run_of_lookups_citing_new_sources_answers_as_the_state(
    store_location: str,
) -> None:
    # each fact cites a source of its own: the first lookups read theirs one by one,
    # later ones after all sources were read at once; both as the full state says
    count = 90
    with tl.Timeline.open(store_location) as store:
        store.append(_each_with_its_source(count), story="s")
        state = store.state()
        expected = [state.stance(f"a{i}", "t1") for i in range(count)]
    with tl.Timeline.open(store_location) as store:
        found = [store.stance(f"a{i}", "t1") for i in range(count)]
    assert found == expected
    assert [s.sources[0].publisher for s in found if s is not None] == [
        f"Paper {i}" for i in range(count)
    ]


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()


def test_an_old_store_migrates_to_the_index_of_vague_replacements(tmp_path: Path) -> None:
    # 0014 replaces the index of every correction by one of those whose replacement
    # is a period; a lookup in the migrated store still sees such a replacement
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    with tl.Timeline.open(copy) as store:
        assert "0014_vague_replacements_index" in store.store.schema_names()
        store.append(
            [
                _statement(1, actor="beijing"),
                _statement(40, actor="beijing", position="opposes"),
                tl.Correction(
                    id="c-vague",
                    occurred_at=BASE,
                    corrects="s1",
                    replacement=tl.Statement(
                        id="s1",
                        occurred_at=datetime(2025, 1, 2, tzinfo=UTC),
                        precision="month",
                        actor="beijing",
                        topic="t1",
                        position="opposes",
                    ),
                ),
            ],
            story="s",
        )
        for at in ("2025-01-10", "2025-01-31", "2025-02-15"):
            assert store.stance("beijing", "t1", at=at) == store.state(at=at).stance(
                "beijing", "t1"
            ), at
        inside = store.stance("beijing", "t1", at="2025-01-10")
        assert inside is not None
        assert (inside.position, inside.certain) == (tl.Position.OPPOSES, False)
        assert store.verify() > 0
    names = _indexes(copy)
    assert "events_vague_replacements" in names
    assert "events_correction_periods" not in names


def test_sources_read_at_once_are_decoded_only_when_a_fact_cites_them(
    store_location: str,
) -> None:
    count = 90
    with tl.Timeline.open(store_location) as store:
        store.append(_each_with_its_source(count), story="s")
        state = store.state()
    asked = range(70)  # the first 64 read their sources one by one, then all are read
    with tl.Timeline.open(store_location) as store:
        found = [store.stance(f"a{i}", "t1") for i in asked]
        assert found == [state.stance(f"a{i}", "t1") for i in asked]
        sources: Any = store._snapshots.codec._sources  # type: ignore[union-attr]
        # read, never decoded: the sources only the facts not asked for cite
        assert sorted(json.loads(t)["id"] for t in sources.pending.values()) == sorted(
            f"src-{i}" for i in range(70, count)
        )
        assert sorted(s.id for s in dict(sources).values()) == sorted(f"src-{i}" for i in asked)
        late = store.stance("a85", "t1")
        assert late == state.stance("a85", "t1")
        assert late is not None
        assert late.sources[0].publisher == "Paper 85"
        ref = store._snapshots.codec._source_ids[late.sources[0]]  # type: ignore[union-attr]
        assert sources.holds(ref)
        assert ref not in sources.pending  # decoded now
        # a new event citing a source stored before finds it, not a new copy
        store.append(
            [
                tl.Statement(
                    id="s-again",
                    occurred_at=BASE + timedelta(hours=count + 1),
                    actor="a89",
                    topic="t1",
                    source=_each_with_its_source(count)[89].source,  # the same source
                )
            ],
            story="s",
        )
        again = store.stance("a89", "t1")
        assert again is not None
        assert [s.id for s in again.sources] == ["src-89"]
        assert store.state().stance("a89", "t1") == again

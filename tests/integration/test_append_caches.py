"""What a SQLite writer keeps between appends (the actor lookup, the actor ids, the
actors' searched texts) stays exactly what reading the store again would give, through
registrations, renames by another process and rolled-back transactions; and the
cyclic collector is paused for an append and restored after it."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import timeline as tl

from ..conftest import traced, watch_collector

BASE = datetime(2025, 3, 1, tzinfo=UTC)


def statement(i: int, actor: str, summary: str = "") -> tl.Event:
    return tl.Statement(
        id=f"e{i}",
        occurred_at=BASE + timedelta(hours=i),
        actor=actor,
        topic="exports",
        position="supports",
        summary=summary or f"statement {i}",
        source=tl.Source(publisher="Reuters"),
    )


def as_read_again(path: Path) -> tuple[dict[str, str], frozenset[str]]:
    with tl.Timeline.open(path) as fresh:
        inner: Any = fresh.store
        return inner.actor_lookup(), inner.actor_ids()


def kept(store: tl.Timeline) -> tuple[dict[str, str], frozenset[str]]:
    inner: Any = store.store
    return inner.actor_lookup(), inner.actor_ids()


def test_actors_met_on_the_way_are_added_to_the_kept_lookup_without_reading_it_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.register_actor("gov", name="Government", aliases=["The State"])
        store.append([statement(1, "gov")], story="s")
        for n in range(2, 6):
            statements = traced(store, [statement(n, f"new-{n}"), statement(n + 10, "the state")])
            # no whole-table read of the actors, aliases or names; the new actor's
            # searched text is read once, the known one's not again
            whole = [s for s in statements if "FROM actors" in s and "WHERE id" not in s]
            whole += [s for s in statements if "FROM actor_aliases" in s]
            assert whole == []
            named = [s for s in statements if s.startswith("SELECT id, name, aliases")]
            assert named == [f"SELECT id, name, aliases FROM actors WHERE id IN ('new-{n}')"]
            assert kept(store) == as_read_again(path)
        lookup, ids = kept(store)
        assert lookup["new-3"] == "new-3"
        assert lookup["the state"] == lookup["government"] == "gov"
        assert ids == {"gov", "new-2", "new-3", "new-4", "new-5"}
        # an alias of a new actor, and its id in another case, resolve to it
        store.append([statement(30, "NEW-3")], story="s")
        assert [e.id for e in store.events(actor="new-3")] == ["e3", "e30"]
        assert [h.record.event.id for h in store.search("Government")] == [
            "e1",
            *[f"e{n + 10}" for n in range(2, 6)],
        ]
        assert store.verify() == 10


def test_a_rolled_back_load_leaves_no_actor_in_the_kept_lookup(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(1, "gov")], story="s")
        inner: Any = store.store
        refused = tl.Correction(
            id="c1",
            occurred_at=BASE,
            corrects="no-such-event",
            replacement=statement(99, "gov"),
            source=tl.Source(publisher="Reuters"),
        )
        with pytest.raises(tl.ValidationError):
            # one transaction: the first chunk registers "ghost", the second is refused
            inner.append_chunks([[statement(2, "ghost")], [refused]], story="s")
        assert "ghost" not in kept(store)[0]
        assert "ghost" not in kept(store)[1]
        assert kept(store) == as_read_again(path)
        assert [a.id for a in store.actors()] == ["gov"]
        # met again, it is registered again, and searched by its id
        store.append([statement(3, "ghost")], story="s")
        assert [a.id for a in store.actors()] == ["ghost", "gov"]
        assert [h.record.event.id for h in store.search("ghost")] == ["e3"]
        assert kept(store) == as_read_again(path)


def test_a_rename_by_another_process_or_this_one_reaches_the_next_search_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as writer, tl.Timeline.open(path) as other:
        writer.append([statement(1, "acme")], story="s")  # searched as "acme acme []"
        other.register_actor("acme", name="Xavier Industries", aliases=["XI"])
        writer.append([statement(2, "acme")], story="s")
        assert [h.record.event.id for h in writer.search("Xavier")] == ["e2"]
        assert [h.record.event.id for h in writer.search("acme")] == ["e1", "e2"]
        writer.register_actor("acme", name="Yolanda Works")
        writer.append([statement(3, "xi")], story="s")
        assert [h.record.event.id for h in writer.search("Yolanda")] == ["e3"]
        assert [h.record.event.id for h in writer.search("Xavier")] == ["e2"]
        assert [h.record.event.id for h in writer.search("XI")] == ["e2", "e3"]
        assert kept(writer) == as_read_again(path)
        assert writer.verify() == 3


def test_the_cyclic_collector_is_paused_for_an_append_and_restored_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    seen: list[tuple[str, bool]] = []
    with tl.Timeline.open(tmp_path / "s.db") as store:
        watch_collector(monkeypatch, store.store, "append", seen)
        store.append([statement(1, "gov")], story="s")
        assert gc.isenabled()
        with pytest.raises(tl.DuplicateEventError):
            store.append([statement(1, "gov", summary="other words")], story="s")
        assert gc.isenabled()
        gc.disable()  # the caller's choice is kept
        store.append([statement(2, "gov")], story="s")
        assert not gc.isenabled()
    assert seen == [("append", False)] * 3

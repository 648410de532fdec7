"""A state at T read from the snapshots, and a refold of the log into them, run with
the cyclic collector paused, and the collector comes back as the caller had it, also
when the read or the write fails."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from timeline.projections.fold import Fold

from ..conftest import alternating_statements, watch_collector

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_state_at_t_from_the_snapshots_pauses_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    seen: list[tuple[str, bool]] = []
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.append(
            alternating_statements(6, BASE),
            story="s",
        )
        expected = store.state(at=BASE + timedelta(days=2))
        inner: Any = store._snapshot_store
        read = inner.facts_at
        watch_collector(monkeypatch, inner, "facts_at", seen)
        found = store.state(at=BASE + timedelta(days=2))
        assert gc.isenabled()
        assert found == expected
        stance = found.stance("a1", "t1")
        assert stance is not None
        assert stance.position == "opposes"

        def broken(*args: Any, **kwargs: Any) -> Any:
            seen.append(("broken", gc.isenabled()))
            raise RuntimeError("the read failed")

        monkeypatch.setattr(inner, "facts_at", broken)
        with pytest.raises(RuntimeError, match="the read failed"):
            store.state(at=BASE + timedelta(days=3))
        assert gc.isenabled()
        gc.disable()  # the caller's choice is kept
        monkeypatch.setattr(inner, "facts_at", read)
        watch_collector(monkeypatch, inner, "facts_at", seen)
        assert store.state(at=BASE + timedelta(days=2)) == expected
        assert not gc.isenabled()
    assert seen == [("facts_at", False), ("broken", False), ("facts_at", False)]


def test_a_refold_of_the_log_pauses_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    """The first reader after a bulk load whose upkeep fell behind folds the whole log
    and writes its versions: with the collector paused (the fold grows all the while),
    and back on afterwards, also when writing the versions fails."""
    seen: list[tuple[str, bool]] = []
    with tl.Timeline.open(tmp_path / "r.db") as store:
        store.append(
            alternating_statements(6, BASE),
            story="s",
        )
        expected = store.state()
        inner: Any = store._snapshot_store
        write = inner.write_versions
        watch_collector(monkeypatch, Fold, "updates", seen)
        watch_collector(monkeypatch, inner, "write_versions", seen)
        store.repair()  # the snapshots cleared and folded again from the log
        assert gc.isenabled()
        # (repair first compares the stored versions with a fold of its own: not a refold)
        assert seen[-7:] == [("updates", False)] * 6 + [("write_versions", False)]
        assert store.state() == expected

        def broken(*args: Any, **kwargs: Any) -> Any:
            seen.append(("broken", gc.isenabled()))
            raise tl.StoreError("the disk is full")

        seen.clear()
        monkeypatch.setattr(inner, "write_versions", broken)
        with pytest.raises(tl.StoreError, match="the disk is full"):
            store.repair()
        assert gc.isenabled()
        assert seen[-1] == ("broken", False)
        monkeypatch.setattr(inner, "write_versions", write)
    with tl.Timeline.open(tmp_path / "r.db") as reopened:
        assert reopened.state() == expected

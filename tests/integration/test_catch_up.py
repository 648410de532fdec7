"""``Timeline.catch_up()`` and the catch-up that ends ``timeline load``: snapshots that an
append's bounded upkeep left behind (a bulk load, late news too far back) are brought
up to the log at once, so that the next query, in any process, reads them. On both
backends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import BOTH_BACKENDS
from tests.integration.test_bounded_upkeep import BASE, corrected_in_its_batch, statement
from timeline.errors import StoreError

BACKENDS = BOTH_BACKENDS


def checkpoint(store: tl.Timeline) -> Any:
    return store._snapshot_store.checkpoint()  # type: ignore[attr-defined]


def left_behind(store: tl.Timeline, store_backend: str) -> None:
    """30 statements kept current, then late news the upkeep (limit 5) leaves."""
    log: Any = store._store
    if store_backend == "postgresql":
        log.upkeep_every = 1  # (500 by default: a round trip per upkeep)
    store.append([statement(i) for i in range(30)], story="s")
    store._upkeep_limit = 5  # type: ignore[attr-defined]
    store.append(corrected_in_its_batch(100, day=2), story="s")
    assert checkpoint(store).position == log.head() - 2


def test_catch_up_brings_the_snapshots_an_append_left_up_to_the_log(
    store: tl.Timeline, store_backend: str
) -> None:
    left_behind(store, store_backend)
    head = store.store.head()
    # refolded from the late statement on (day 2, after e2): it, as corrected, and
    # e3..e29; the correction is folded as its replacement, not as an event of its own
    assert store.catch_up() == 28
    cp = checkpoint(store)
    assert (cp.position, cp.complete) == (head, True)
    assert store.derived_differences() == []
    assert store.catch_up() == 0  # current: nothing to do
    replay = store.replay()
    list(replay)
    assert store.state() == replay.state
    stance = store.stance("a", "t", at=BASE + timedelta(days=2, hours=1))
    assert stance is not None
    assert (stance.position, stance.evidence) == (tl.Position.NEUTRAL, ("e100",))


def test_catch_up_reports_its_progress_chunk_by_chunk(
    store: tl.Timeline, store_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    left_behind(store, store_backend)
    monkeypatch.setattr("timeline.snapshots._CHUNK", 7)
    steps: list[int] = []
    folded = store.catch_up(progress=steps.append)
    assert folded == 28
    assert steps == [7, 7, 7, 7]  # what each written chunk folded, adding up
    assert store.catch_up(progress=steps.append) == 0
    assert steps == [7, 7, 7, 7]  # nothing folded: not called


def test_catch_up_on_a_read_only_store_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    with tl.Timeline.open(path) as store:
        store.append([statement(i) for i in range(3)], story="s")
    with (
        tl.Timeline.open(path, readonly=True) as reader,
        pytest.raises(StoreError, match=r"news\.db: opened read-only"),
    ):
        reader.catch_up()


def test_catch_up_keeps_nothing_for_projections_without_snapshots(tmp_path: Path) -> None:
    class Count(tl.Projection):  # a projection of one's own: folded on every read
        name = "count"

        def initial(self) -> dict[str, int]:
            return {}

        def apply(self, state: Any, event: tl.Event, ctx: Any) -> Any:
            return {"n": state.get("n", 0) + 1}

    with tl.Timeline.open(tmp_path / "news.db", projections=[Count()]) as store:
        store.append([statement(i) for i in range(3)], story="s")
        assert store.catch_up() == 0


def fixture(tmp_path: Path, days: int) -> Path:
    """A fixture of ``days`` statements and, at the end, a backdated one corrected in
    the same file."""
    events: list[dict[str, Any]] = [
        {
            "id": f"e{i}",
            "type": "statement",
            "occurred_at": (BASE + timedelta(days=i)).date().isoformat(),
            "actor": "a",
            "topic": "t",
            "position": ["supports", "opposes"][i % 2],
        }
        for i in range(days)
    ]
    events.append(
        {
            "id": "late",
            "type": "statement",
            "occurred_at": "2025-01-03",
            "actor": "a",
            "topic": "t",
            "position": "supports",
        }
    )
    events.append(
        {
            "id": "fix",
            "type": "correction",
            "occurred_at": "2025-03-01",
            "corrects": "late",
            "replacement": {
                "type": "statement",
                "occurred_at": "2025-01-03",
                "actor": "a",
                "topic": "t",
                "position": "neutral",
            },
        }
    )
    data = {
        "format": "timeline-fixture/1",
        "story": "s",
        "actors": {"a": {"name": "A", "kind": "company"}},
        "events": events,
    }
    path = tmp_path / "story.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_timeline_load_leaves_the_snapshots_current(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_core.UPKEEP_LIMIT", 5)
    path = fixture(tmp_path, 30)
    result = run("load", store_location, path)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: story 's': 32 appended, 0 already stored\n"
    with tl.Timeline.open(store_location) as store:
        cp = checkpoint(store)
        assert (cp.position, cp.complete) == (store.store.head(), True) == (32, True)
        assert store.derived_differences() == []
        stance = store.stance("a", "t", at="2025-01-03")
        assert stance is not None
        assert stance.position == tl.Position.NEUTRAL


def test_a_load_from_python_leaves_them_to_the_next_query(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what the command adds: the same load from Python leaves the refold (more than
    # the limit) to the next query, or to catch_up()
    monkeypatch.setattr("timeline.facade_core.UPKEEP_LIMIT", 5)
    with tl.Timeline.open(store_location) as store:
        store.load(fixture(tmp_path, 30))
        assert checkpoint(store) is None
        assert store.catch_up() == 31  # the correction folded as its replacement
        assert checkpoint(store).position == 32


def refuse_catch_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``Timeline.catch_up`` fails as a store held by another writer does."""

    def busy(self: tl.Timeline, **_: Any) -> int:
        raise StoreError(f"{self.location}: database is locked")

    monkeypatch.setattr(tl.Timeline, "catch_up", busy)


def test_timeline_load_says_when_it_could_not_catch_up_and_still_succeeds(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_catch_up(monkeypatch)
    path = fixture(tmp_path, 3)
    result = run("load", store_location, path)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: story 's': 5 appended, 0 already stored\n"
    assert result.stderr.startswith("Warning: ")
    assert "database is locked (the next query folds what is new)" in result.stderr
    with tl.Timeline.open(store_location) as store:
        assert store.store.head() == 5


def test_timeline_load_shows_the_catch_up_on_stderr_when_asked(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_core.UPKEEP_LIMIT", 5)
    path = fixture(tmp_path, 30)
    result = run("load", store_location, path, "--progress")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: story 's': 32 appended, 0 already stored\n"
    assert result.stderr.count("snapshots") == 1  # not a terminal: the label, once
    assert result.stderr.index(str(path)) < result.stderr.index("snapshots")


def copied(tmp_path: Path, store_location: str, *args: str) -> Any:
    """``timeline copy`` of a SQLite store of :func:`fixture` (30 days) into the store
    under test (either backend); its source's state is returned with the result."""
    source = tmp_path / "source.db"
    with tl.Timeline.open(source) as src:
        src.load(fixture(tmp_path, 30))
        expected = src.state(at="2025-01-20")
    return run("copy", source, store_location, *args), expected


def test_timeline_copy_leaves_the_target_snapshots_current(
    store_location: str, tmp_path: Path
) -> None:
    result, expected = copied(tmp_path, store_location)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{store_location}: 32 events copied; both ends verified")
    assert result.stderr == ""
    with tl.Timeline.open(store_location) as store:
        # a copy writes rows only: without the catch-up there would be no checkpoint
        cp = checkpoint(store)
        assert (cp.position, cp.complete) == (store.store.head(), True) == (32, True)
        assert store.derived_differences() == []
        assert store.catch_up() == 0
        state = store.state(at="2025-01-20")
        assert state.stances() == expected.stances()
        stance = store.stance("a", "t", at="2025-01-03")
        assert stance is not None
        assert stance.position == tl.Position.NEUTRAL  # the correction, copied and folded
        # copying again copies nothing and keeps them so
        again = run("copy", tmp_path / "source.db", store_location)
        assert again.exit_code == 0, again.output
        assert "0 events copied after the 32 already there" in again.stdout
        assert checkpoint(store).position == 32


def test_timeline_copy_says_when_it_could_not_catch_up_and_still_succeeds(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_catch_up(monkeypatch)
    result, _ = copied(tmp_path, store_location)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{store_location}: 32 events copied; both ends verified")
    assert result.stderr.startswith("Warning: ")
    assert "database is locked (the next query folds what is new)" in result.stderr
    with tl.Timeline.open(store_location) as store:
        assert store.store.head() == 32
        assert checkpoint(store) is None  # left to the next query, as it says


def test_timeline_copy_shows_the_catch_up_after_the_copy_when_asked(
    store_location: str, tmp_path: Path
) -> None:
    result, _ = copied(tmp_path, store_location, "--progress")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Copying") == 1  # not a terminal: each label, once
    assert result.stderr.count("snapshots") == 1
    assert result.stderr.index("Copying") < result.stderr.index("snapshots")

"""Following a store as it grows, and copying stores between backends row for row."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import BOTH_BACKENDS, H200
from tests.integration._workers import event

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL


def _rows(store: tl.Timeline) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    while True:
        chunk = store.store.raw_rows(len(rows), 500)  # type: ignore[attr-defined]
        if not chunk:
            return rows
        rows += chunk


def test_a_follower_sees_every_event_appended_by_another_writer_in_order(
    store: tl.Timeline, store_location: str
) -> None:
    store.append([event("before")], story="s")
    seen: list[int] = []
    started = threading.Event()

    def follow() -> None:
        with tl.Timeline.open(store_location) as follower:
            started.set()
            for record in follower.follow(0, timeout=3, poll=0.2):
                seen.append(record.position)
                if record.id == "last":
                    return

    thread = threading.Thread(target=follow)
    thread.start()
    assert started.wait(30)
    with tl.Timeline.open(store_location) as writer:
        for i in range(5):
            writer.append([event(f"e{i}a"), event(f"e{i}b")], story="s")
        writer.append([event("last")], story="t")
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert seen == list(range(1, 13))


def test_follow_starts_after_the_given_position_and_filters_by_story(store: tl.Timeline) -> None:
    store.append([event("a1"), event("a2")], story="a")
    store.append([event("b1")], story="b")
    store.append([event("a3")], story="a")
    found = [r.id for r in store.follow(1, story="a", timeout=0.2, poll=0.1)]
    assert found == ["a2", "a3"]


def test_follow_with_a_timeout_stops_when_nothing_arrives(store: tl.Timeline) -> None:
    assert list(store.follow(0, timeout=0.3, poll=0.1)) == []


def test_the_follow_command_prints_one_json_line_per_event(
    store: tl.Timeline, store_location: str
) -> None:
    store.load(H200)
    result = run("follow", store_location, "--after", "19", "--timeout", "0.2", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["position"], d["id"]) for d in lines] == [(20, "h200-0020"), (21, "h200-0021")]


def test_a_copy_to_the_other_backend_and_back_keeps_every_row_and_hash(
    store: tl.Timeline, store_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store.load(H200)
    other = (
        request.getfixturevalue("postgres_url")
        if store_backend == "sqlite"
        else str(tmp_path / "copy.db")
    )
    back = tmp_path / "back.db"
    with tl.Timeline.open(other) as middle:
        report = store.copy_to(middle)
        assert (report.resumed_from, report.copied, report.verified) == (0, 21, 21)
        assert _rows(middle) == _rows(store)
        assert middle.stories() == store.stories()
        assert middle.actors() == store.actors()
        with tl.Timeline.open(back) as last:
            middle.copy_to(last)
            assert _rows(last) == _rows(store)
            assert last.state() == store.state()
            assert last.verify() == 21


def test_an_interrupted_copy_resumes_where_it_stopped(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(H200)
    target = tmp_path / "copy.db"

    def stop_after_first_chunk(copied: int, _total: int) -> None:
        if copied >= 5:
            raise KeyboardInterrupt

    with tl.Timeline.open(target) as copy:
        with pytest.raises(KeyboardInterrupt):
            store.copy_to(copy, chunk=5, progress=stop_after_first_chunk)
        assert copy.store.head() == 5
        assert copy.verify() == 5
        report = store.copy_to(copy, chunk=5)
        assert (report.resumed_from, report.copied) == (5, 16)
        assert _rows(copy) == _rows(store)
        again = store.copy_to(copy)
        assert (again.resumed_from, again.copied) == (21, 0)


def test_a_copy_into_a_store_holding_other_events_is_refused(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(H200)
    with tl.Timeline.open(tmp_path / "other.db") as other:
        other.append([event("unrelated")], story="s")
        with pytest.raises(tl.IntegrityError, match="position 1"):
            store.copy_to(other)
        assert other.store.head() == 1


def test_the_copy_command_copies_and_says_both_ends_verified(
    store: tl.Timeline, store_location: str, tmp_path: Path
) -> None:
    store.load(H200)
    target = tmp_path / "copy.db"
    result = run("copy", store_location, target)
    assert result.exit_code == 0, result.output
    assert "21 events copied" in result.stdout
    assert "both ends verified" in result.stdout
    result = run("copy", store_location, target)
    assert "0 events copied after the 21 already there" in result.stdout

"""An event log that implements only the ``EventLog`` protocol (a backend of one's own,
without the optional ``append_chunks`` / ``append_stories`` of the built-in stores)
still loads fixtures and JSON Lines files: read whole, then appended with ``append``
(each story's run of a JSON Lines file in its own transaction, as the protocol's
``append`` gives)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import H200
from timeline.store.sqlite import EventStore

_OPTIONAL = frozenset({"append_chunks", "append_stories", "discard_if_new"})


class PlainLog:
    """An SQLite event store seen through the protocol alone: the optional
    capabilities of the built-in stores are not there."""

    def __init__(self, inner: EventStore) -> None:
        self._inner = inner
        self.appends: list[int] = []  # the size of each append, as it came

    def append(self, events: Any, **kwargs: Any) -> Any:
        batch = list(events)
        self.appends.append(len(batch))
        return self._inner.append(batch, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in _OPTIONAL:
            raise AttributeError(name)
        return getattr(self._inner, name)


def plain(path: Path) -> tuple[tl.Timeline, PlainLog]:
    log = PlainLog(EventStore(path))
    return tl.Timeline(log), log  # type: ignore[arg-type]


def export_lines(tmp_path: Path) -> Path:
    with tl.Timeline.open(tmp_path / "source.db") as source:
        source.load(H200)
        path = tmp_path / "all.jsonl"
        source.export("jsonl", path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for line in lines[12:]:
        line["story"] = "other"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_fixture_is_read_whole_and_appended_in_one_batch(tmp_path: Path) -> None:
    timeline, log = plain(tmp_path / "plain.db")
    with timeline:
        report = timeline.load(H200)
        assert (report.appended, report.skipped) == (21, 0)
        assert log.appends == [21]
        with tl.Timeline.open(tmp_path / "built-in.db") as builtin:
            builtin.load(H200)
            assert timeline.state().stances() == builtin.state().stances()
            assert timeline.state().order_intents() == builtin.state().order_intents()
        assert timeline.verify() == 21


def test_a_json_lines_file_is_appended_a_story_run_at_a_time(tmp_path: Path) -> None:
    path = export_lines(tmp_path)
    timeline, log = plain(tmp_path / "plain.db")
    with timeline:
        reports = timeline.import_jsonl(path)
        assert [(r.story, r.appended, r.skipped) for r in reports] == [
            ("h200-china", 12, 0),
            ("other", 9, 0),
        ]
        assert log.appends == [12, 9]
        again = timeline.import_jsonl(path)
        assert [(r.appended, r.skipped) for r in again] == [(0, 12), (0, 9)]
        assert timeline.verify() == 21


def test_a_bad_line_writes_nothing(tmp_path: Path) -> None:
    path = export_lines(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(path.read_text(encoding="utf-8") + '{"type": "statement",\n', "utf-8")
    timeline, log = plain(tmp_path / "plain.db")
    with timeline:
        with pytest.raises(tl.FixtureError, match=r"line 22"):
            timeline.import_jsonl(bad)
        assert log.appends == []  # read whole first: nothing appended
        assert timeline.store.head() == 0


def test_a_refused_event_keeps_the_story_runs_before_it(tmp_path: Path) -> None:
    path = export_lines(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    clash = json.loads(lines[15])  # an event of the second story, told differently
    clash["summary"] = "told differently"
    other = tmp_path / "clash.jsonl"
    other.write_text(json.dumps(clash) + "\n", encoding="utf-8")
    timeline, log = plain(tmp_path / "plain.db")
    with timeline:
        timeline.import_jsonl(other)
        with pytest.raises(tl.FixtureError) as caught:
            timeline.import_jsonl(path)
        assert (caught.value.index, caught.value.event_id) == (15, clash["id"])
        assert log.appends == [1, 12, 9]
        # the protocol's append is atomic per call: the first story's run stays
        assert timeline.store.head() == 13

"""A JSON Lines import reads and appends its file a chunk at a time, in one transaction:
memory stays bounded whatever the file's size, and a bad line or a refused event
anywhere, in any story, writes nothing. On both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS, H200
from timeline.store._batch import Batch

BACKENDS = BOTH_BACKENDS


def export_lines(tmp_path: Path) -> list[dict[str, Any]]:
    """The H200 story's JSON Lines records (21 events)."""
    with tl.Timeline.open(tmp_path / "source.db") as source:
        source.load(H200)
        path = tmp_path / "all.jsonl"
        source.export("jsonl", path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write(tmp_path: Path, lines: list[dict[str, Any]], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_chunks_are_appended_as_the_file_is_read(
    tmp_path: Path, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_writing.STREAM_CHUNK", 4)
    lines = export_lines(tmp_path)
    path = write(tmp_path, lines)
    read: list[int] = []  # lines read so far, as each chunk reaches the store
    appended: list[tuple[int, int]] = []  # (lines read, chunk size) at each append
    real_iter = tl.facade_writing.iter_jsonl  # type: ignore[attr-defined]

    def counting(*args: Any) -> Any:
        for event in real_iter(*args):
            read.append(1)
            yield event

    real_add_all = Batch.add_all  # each chunk is staged once, on either backend

    def watched(self: Batch, batch: list[Any]) -> None:
        appended.append((len(read), len(batch)))
        real_add_all(self, batch)

    monkeypatch.setattr("timeline.facade_writing.iter_jsonl", counting)
    monkeypatch.setattr(Batch, "add_all", watched)
    with tl.Timeline.open(store_location) as copy:
        [report] = copy.import_jsonl(path)
        assert (report.appended, report.skipped) == (21, 0)
    # each chunk of 4 goes to the store once the line after it is read, not after all 21
    assert appended == [(5, 4), (9, 4), (13, 4), (17, 4), (21, 4), (21, 1)]


def test_a_refused_event_in_a_later_story_writes_nothing_of_the_earlier_one(
    tmp_path: Path, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_writing.STREAM_CHUNK", 3)
    lines = export_lines(tmp_path)
    for line in lines[12:]:
        line["story"] = "other"
    with tl.Timeline.open(store_location) as copy:
        # an event the store holds with other content, as line 15 of the file will
        clash = dict(lines[15], summary="told differently")
        copy.import_jsonl(write(tmp_path, [clash], "clash.jsonl"))
        assert copy.store.head() == 1
        with pytest.raises(tl.FixtureError) as caught:
            copy.import_jsonl(write(tmp_path, lines))
        error = caught.value
        # counted over the whole file, across chunks and stories
        assert (error.index, error.event_id) == (15, lines[15]["id"])
        assert copy.store.head() == 1  # the 12 events of the first story are not written
        assert [r.event.id for r in copy.events()] == [lines[15]["id"]]


def test_a_bad_last_line_writes_nothing_and_names_its_line(
    tmp_path: Path, store_location: str, store_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_writing.STREAM_CHUNK", 3)
    lines = export_lines(tmp_path)
    path = write(tmp_path, lines)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type": "statement", "id": "late",\n')
    with tl.Timeline.open(store_location) as copy:
        with pytest.raises(tl.FixtureError, match=r"invalid JSON .*\(line 22\)") as caught:
            copy.import_jsonl(path)
        assert caught.value.index == 21
        if store_backend == "sqlite":
            # a store file the import created and that holds nothing is removed
            assert not Path(store_location).exists()
        # the chunks appended before the bad line were never committed
        assert copy.store.head() == 0
        assert list(copy.events()) == []


def test_a_story_split_into_runs_gets_one_report_with_the_warnings_of_all(
    tmp_path: Path, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.facade_writing.STREAM_CHUNK", 2)
    lines = export_lines(tmp_path)
    for line in lines[5:9]:
        line["story"] = "other"
    with tl.Timeline.open(store_location) as copy:
        reports = copy.import_jsonl(write(tmp_path, lines))
        story = str(lines[0]["story"])
        assert [(r.story, r.appended, r.skipped) for r in reports] == [
            (story, 17, 0),
            ("other", 4, 0),
        ]
        # the story's two restrictions (h200-0001, h200-0003) block no declared actor
        # wherever its runs put them
        assert [w.split(":")[0] for w in reports[0].warnings] == ["h200-0001", "h200-0003"]
        assert reports[1].warnings == ()
        versions = {(r.story, r.version) for r in copy.events()}
        assert {v for s, v in versions if s == story} == set(range(1, 18))
        assert {v for s, v in versions if s == "other"} == {1, 2, 3, 4}
        assert [r.event.id for r in copy.events()] == [line["id"] for line in lines]
        again = copy.import_jsonl(write(tmp_path, lines))
        assert [(r.story, r.appended, r.skipped) for r in again] == [
            (story, 0, 17),
            ("other", 0, 4),
        ]

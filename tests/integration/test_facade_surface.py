"""Small parts of the facade's surface: what it reports about itself, refused
arguments, and JSON Lines imports that interleave stories or lack one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import timeline as tl


def test_the_facade_names_its_backend_and_hands_out_a_copy_of_its_projections(
    h200: tl.Timeline, store_backend: str
) -> None:
    assert h200.backend == store_backend
    projections = h200.projections
    assert [p.name for p in projections] == ["stance", "orders"]
    projections.clear()
    assert [p.name for p in h200.projections] == ["stance", "orders"]


def test_an_unknown_export_format_is_refused_and_writes_no_file(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    target = tmp_path / "out.pdf"
    with pytest.raises(tl.ValidationError) as caught:
        h200.export("pdf", target)
    assert str(caught.value) == "format: 'pdf' is not one of jsonl, csv, markdown, timelinejs, html"
    assert caught.value.field == "format"
    assert not target.exists()


def test_an_event_type_that_is_not_text_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="type: expected text, got 3"):
        h200.events(type=["report", 3])  # type: ignore[list-item]


def _export_lines(h200: tl.Timeline, tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "all.jsonl"
    h200.export("jsonl", path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_import_interleaving_stories_reports_each_story_once_with_its_totals(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    lines = _export_lines(h200, tmp_path)
    for line in lines[5:9]:
        line["story"] = "other"
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        reports = copy.import_jsonl(path)
        story = str(lines[0]["story"])
        assert [(r.story, r.appended, r.skipped) for r in reports] == [
            (story, len(lines) - 4, 0),
            ("other", 4, 0),
        ]
        assert [r.event.id for r in copy.events()] == [line["id"] for line in lines]
        again = copy.import_jsonl(path)
        assert [(r.story, r.appended, r.skipped) for r in again] == [
            (story, 0, len(lines) - 4),
            ("other", 0, 4),
        ]


def test_an_import_line_without_a_story_is_refused_and_nothing_is_written(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    lines = _export_lines(h200, tmp_path)
    del lines[0]["story"]
    path = tmp_path / "storyless.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        with pytest.raises(tl.FixtureError) as caught:
            copy.import_jsonl(path)
        assert caught.value.field == "story"
        assert "every line needs a story" in str(caught.value)
        assert copy.store.head() == 0

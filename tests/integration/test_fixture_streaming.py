"""Loading a fixture as a stream: chunk by chunk, one transaction, the same result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from timeline import fixtures
from timeline.store.sqlite import EventStore

from ..conftest import H200


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read 50 characters and stage 4 events at a time: every boundary is crossed."""
    monkeypatch.setattr(fixtures, "_CHUNK_CHARS", 50)
    monkeypatch.setattr(fixtures, "STREAM_CHUNK", 4)


def _log(path: Path) -> list[tuple[Any, ...]]:
    store = EventStore(path)
    try:
        rows = store.conn.execute(
            "SELECT id, story, version, type, occurred_at, reported_at, payload FROM events "
            "ORDER BY position"
        ).fetchall()
        return [tuple(r) for r in rows]
    finally:
        store.close()


@pytest.mark.usefixtures("small_chunks")
def test_a_streamed_load_stores_what_a_whole_file_load_stores(tmp_path: Path) -> None:
    with tl.Timeline.open(tmp_path / "streamed.db") as store:
        report = store.load(H200)
        assert (report.appended, report.skipped) == (21, 0)
        assert store.verify() == 21
    with tl.Timeline.open(tmp_path / "whole.db") as store:
        fixture = store.read_fixture(H200)
        store.load_fixture(fixture)
    assert _log(tmp_path / "streamed.db") == _log(tmp_path / "whole.db")


@pytest.mark.usefixtures("small_chunks")
def test_a_file_with_its_events_first_still_loads(tmp_path: Path) -> None:
    data = json.loads(H200.read_text(encoding="utf-8"))
    reordered = {"events": data.pop("events"), **data}
    path = tmp_path / "events-first.json"
    path.write_text(json.dumps(reordered, indent=1), encoding="utf-8")
    with tl.Timeline.open(tmp_path / "a.db") as store:
        assert store.load(path).appended == 21
        assert store.state().stance("beijing", "h200-imports") is not None


@pytest.mark.usefixtures("small_chunks")
def test_a_bad_event_in_a_late_chunk_leaves_the_store_untouched(tmp_path: Path) -> None:
    data = json.loads(H200.read_text(encoding="utf-8"))
    data["events"][20]["actor"] = "martians"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with tl.Timeline.open(tmp_path / "a.db") as store:
        with pytest.raises(tl.UnknownActorError, match="martians") as info:
            store.load(path)
        assert isinstance(info.value, tl.FixtureError)
        assert (info.value.index, info.value.field) == (20, "actor")
        assert list(store.events()) == []


@pytest.mark.usefixtures("small_chunks")
def test_a_store_error_in_a_late_chunk_names_the_event_and_rolls_back(tmp_path: Path) -> None:
    data = json.loads(H200.read_text(encoding="utf-8"))
    db = tmp_path / "a.db"
    with tl.Timeline.open(db) as store:
        store.load(H200)
    changed = json.loads(json.dumps(data))
    changed["events"][9]["summary"] = "Something else entirely."
    changed["events"].append({**data["events"][0], "id": "extra-1"})
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    with tl.Timeline.open(db) as store:
        with pytest.raises(tl.DuplicateEventError) as info:
            store.load(path)
        assert isinstance(info.value, tl.FixtureError)
        assert (info.value.index, info.value.event_id) == (9, data["events"][9]["id"])
        assert store.store.head() == 21


@pytest.mark.usefixtures("small_chunks")
def test_a_syntax_error_far_into_the_file_names_its_line_and_column(tmp_path: Path) -> None:
    text = json.dumps(json.loads(H200.read_text(encoding="utf-8")), indent=2)
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if '"summary"' in line and i > 200)
    lines[target] = lines[target].rstrip(",") + " oops,"
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    column = len(lines[target]) - len(" oops,") + 2
    with tl.Timeline.open(tmp_path / "a.db") as store:
        with pytest.raises(tl.FixtureError, match=f"line {target + 1} column {column}"):
            store.load(path)
        assert list(store.events()) == []


def test_reloading_a_streamed_file_appends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    shutil.copyfile(H200, tmp_path / "h200.json")
    with tl.Timeline.open(db) as store:
        store.load(tmp_path / "h200.json")
        again = store.load(tmp_path / "h200.json")
    assert (again.appended, again.skipped) == (0, 21)

"""A fixture file is read as it is appended, by ``Timeline.load`` and by ``timeline load``:
memory stays bounded, so a file too large to read whole still loads; progress can
follow the file's bytes. On both backends: PostgreSQL writes each chunk by ``COPY``
inside the load's one transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import BOTH_BACKENDS, H200, new_store_location

BACKENDS = BOTH_BACKENDS
VALSORIN = Path(__file__).parents[1] / "data" / "valsorin-recall.json"


def h200_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(H200.read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: dict[str, Any], name: str = "story.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The streaming reader reads 1 KiB at a time and appends 5 events at a time."""
    monkeypatch.setattr("timeline.fixtures._CHUNK_CHARS", 1024)
    monkeypatch.setattr("timeline.fixtures.STREAM_CHUNK", 5)


@pytest.mark.usefixtures("small_reads")
def test_progress_in_bytes_adds_up_to_the_file_as_it_is_read(store_location: str) -> None:
    steps: list[int] = []
    events: list[int] = []
    with tl.Timeline.open(store_location) as store:
        report = store.load(H200, progress=events.append, progress_bytes=steps.append)
    assert report.appended == 21
    assert events == [5, 5, 5, 5, 1]
    assert sum(steps) == H200.stat().st_size
    assert len(steps) == 5  # one per chunk appended (the file's last bytes with the last)
    assert all(step > 0 for step in steps)


def test_progress_in_bytes_adds_up_when_the_file_is_read_whole(tmp_path: Path) -> None:
    data = h200_data()
    reordered = {"events": data.pop("events"), **data}  # events first: read whole
    path = write(tmp_path, reordered)
    steps: list[int] = []
    with tl.Timeline.open(tmp_path / "news.db") as store:
        assert store.load(path, progress_bytes=steps.append).appended == 21
    assert sum(steps) == path.stat().st_size


@pytest.fixture
def whole_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of more than 4 KiB are too large to read whole (the H200 fixture: 15.8 KB)."""
    monkeypatch.setattr("timeline.fixtures._MAX_BYTES", 4096)


@pytest.mark.usefixtures("whole_limit")
def test_timeline_load_streams_a_file_too_large_to_read_whole(
    tmp_path: Path, store_location: str
) -> None:
    db = store_location
    result = run("load", db, H200)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("story 'h200-china': 21 appended, 0 already stored\n")
    with tl.Timeline.open(db) as store:
        assert store.store.head() == 21
    # the whole-file reader refuses it (what the command used before)
    with (
        tl.Timeline.open(tmp_path / "other.db") as store,
        pytest.raises(tl.FixtureError, match="over the limit of 4096 bytes"),
    ):
        store.read_fixture(H200)


@pytest.mark.usefixtures("whole_limit")
def test_a_bad_event_in_a_file_too_large_to_read_whole_is_named(
    tmp_path: Path, store_location: str, store_backend: str
) -> None:
    data = h200_data()
    data["events"][7]["position"] = "sideways"
    path = write(tmp_path, data)
    db = store_location
    result = run("load", db, path)
    assert result.exit_code == 1
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("Error: ")
    assert f"event #7 ({data['events'][7]['id']!r})" in line
    assert "position" in line
    assert "over the limit" not in line
    if store_backend == "sqlite":
        assert not Path(db).exists()  # created by the load, and nothing loaded
    else:
        with tl.Timeline.open(db) as store:
            assert store.store.head() == 0


def test_a_later_chunk_builds_on_the_rows_the_earlier_ones_wrote(
    store_location: str, store_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One event per chunk: every correction, retraction and source cited
    ``via`` refers to a row another chunk wrote in the same transaction. The store
    holds what one append of the whole file writes."""
    with new_store_location(store_backend) as whole_location:
        with tl.Timeline.open(whole_location) as whole:
            fixture = whole.read_fixture(VALSORIN)
            assert whole.load_fixture(fixture).appended == 15
            expected = [(r.event.id, r.story, r.version, r.event) for r in whole.events()]
            expected_state = whole.state()
        monkeypatch.setattr("timeline.fixtures.STREAM_CHUNK", 1)
        with tl.Timeline.open(store_location) as streamed:
            steps: list[int] = []
            report = streamed.load(VALSORIN, progress=steps.append)
            assert (report.appended, report.skipped) == (15, 0)
            assert steps == [1] * 15  # one chunk per event: the file was not read whole
            got = [(r.event.id, r.story, r.version, r.event) for r in streamed.events()]
            assert [g[:3] for g in got] == [e[:3] for e in expected]
            assert [g[3] for g in got] == [e[3] for e in expected]
            assert streamed.verify(deep=True) == 15
            state = streamed.state()
            assert state.stances() == expected_state.stances()
            assert state.order_intents() == expected_state.order_intents()
            # loading it again skips every event, chunk by chunk
            again = streamed.load(VALSORIN)
            assert (again.appended, again.skipped) == (0, 15)
            assert streamed.store.head() == 15


def test_a_refused_event_in_a_late_chunk_writes_none_of_the_earlier_chunks(
    tmp_path: Path, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.fixtures.STREAM_CHUNK", 3)
    data = h200_data()
    bad = data["events"][19]
    bad["type"] = "correction"
    bad["corrects"] = "no-such-event"
    path = write(tmp_path, data)
    with tl.Timeline.open(store_location) as store:
        store.store.register_actors([tl.Actor(id="someone", name="Someone")])
        with pytest.raises(tl.FixtureError) as caught:
            store.load(path)
        assert (caught.value.index, caught.value.event_id) == (19, bad["id"])
        assert store.store.head() == 0  # six chunks were written, then rolled back
        assert [a.id for a in store.store.actors()] == ["someone"]
        # and the store still takes appends (the one-trip append on PostgreSQL looks again)
        assert store.load(H200).appended == 21
        assert store.verify() == 21


@pytest.mark.usefixtures("whole_limit")
def test_a_file_too_large_to_read_whole_with_its_events_first_says_what_it_needs(
    tmp_path: Path,
) -> None:
    data = h200_data()
    path = write(tmp_path, {"events": data.pop("events"), **data})
    result = run("load", tmp_path / "news.db", path)
    assert result.exit_code == 1
    assert "over the limit of 4096 bytes for a fixture read whole" in result.stderr
    assert '"events" last' in result.stderr


@pytest.mark.usefixtures("small_reads")
def test_timeline_load_progress_follows_the_file(store_location: str) -> None:
    result = run("load", store_location, H200, "--progress")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("21 appended, 0 already stored\n")
    assert result.stderr.count(str(H200)) >= 1  # the bar's label (not a terminal: once)
    assert "Warning:" in result.stderr  # the fixture's two restrictions, as before

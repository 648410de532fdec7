"""The Markdown and TimelineJS exports state the number of events before the events,
yet hold none of them: they count in a first pass and write each event as a second pass
reads it, both in one read transaction. The text is the one they wrote from memory. The
HTML page holds the events for its chart but writes the page as it makes it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from timeline.bitemporal import Bounds, effective_events
from timeline.output import export as export_module
from timeline.output.escape import jsonl_line
from timeline.output.labels import actor_names, describe_bounds, story_title

VALSORIN = Path(__file__).parents[1] / "data" / "valsorin-recall.json"


def exported(store: tl.Timeline, fmt: str, **bounds: Any) -> str:
    out = io.StringIO()
    store.export(fmt, out, **bounds)
    return out.getvalue()


def timelinejs_from_memory(store: tl.Timeline, bounds: Bounds) -> str:
    """The document built whole, then dumped, as the export did before it streamed."""
    names = actor_names(store)
    slides = [
        export_module._slide(store, p.event, names) for p in effective_events(store.store, bounds)
    ]
    document = {
        "title": {
            "text": {
                "headline": export_module.escape(story_title(store, bounds.story)),
                "text": export_module.escape(f"{len(slides)} events: {describe_bounds(bounds)}."),
            }
        },
        "events": slides,
    }
    return jsonl_line(json.dumps(document, ensure_ascii=False, indent=2)) + "\n"


@pytest.mark.parametrize(
    "bounds",
    [{}, {"at": "2025-12-09"}, {"at": "1990-01-01"}, {"story": "no-such-story"}],
    ids=["all", "at-dec-9", "none-yet", "no-story"],
)
def test_timelinejs_is_the_document_dumped_whole(h200: tl.Timeline, bounds: dict[str, Any]) -> None:
    text = exported(h200, "timelinejs", **bounds)
    assert text == timelinejs_from_memory(h200, Bounds.parse(**bounds))
    document = json.loads(text)
    assert document["title"]["text"]["text"].startswith(f"{len(document['events'])} events: ")


def test_timelinejs_escapes_line_separators_inside_slides(store: tl.Timeline) -> None:
    store.load(VALSORIN)
    store.append(
        [
            tl.Statement(
                id="odd",
                occurred_at=datetime(2025, 6, 1, tzinfo=UTC),
                actor="medichain",
                topic="recall",
                position="supports",
                summary="one\u2028two\u2029three\x85four",
                source=tl.Source(publisher="Wire"),
            )
        ],
        story="valsorin-recall",
    )
    text = exported(store, "timelinejs")
    assert not {"\u2028", "\u2029", "\x85"} & set(text)
    assert text == timelinejs_from_memory(store, Bounds())
    slides = json.loads(text)["events"]
    assert len(slides) == 13  # what a state sees: no correction or retraction, and "odd"
    assert [s["unique_id"] for s in slides].count("odd") == 1


@pytest.mark.parametrize("fmt", ["markdown", "timelinejs"])
def test_markdown_and_timelinejs_write_each_event_as_it_is_read(
    h200: tl.Timeline, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    real = export_module.effective_events
    out = io.StringIO()
    sizes: list[int] = []  # the output's length as each event is read
    passes: list[int] = []

    def watched(*args: Any, **kwargs: Any) -> Iterator[Any]:
        passes.append(0)
        for placed in real(*args, **kwargs):
            sizes.append(len(out.getvalue()))
            passes[-1] += 1
            yield placed

    monkeypatch.setattr(export_module, "effective_events", watched)
    count = h200.export(fmt, out)
    assert passes == [count, count] == [21, 21]
    first, second = sizes[:count], sizes[count:]
    assert set(first) == {0}  # the counting pass writes nothing
    assert second[0] > 0  # the title and the count come first
    assert second == sorted(second)
    if fmt == "timelinejs":
        # each event is read after the one before it was written
        assert len(set(second)) == count
    else:
        # a day's events are written together, once the next day's first is read
        assert len(set(second)) == len(dates_of(h200)) == 8
    assert len(out.getvalue()) > second[-1]


def dates_of(store: tl.Timeline) -> set[str]:
    text = exported(store, "markdown")
    return {line for line in text.splitlines() if line.startswith("## ")} - {
        "## Where things stand",
        "## Corrections and retractions",
    }


class _Recording(io.StringIO):
    """A text stream that keeps each piece written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        self.pieces.append(text)
        return super().write(text)


def test_the_html_page_is_written_as_it_is_made(h200: tl.Timeline) -> None:
    # the chart and the list of events were each joined into one string before being
    # written: at 100,000 events that held the page about twice over
    out = _Recording()
    count = h200.export("html", out)
    page = out.getvalue()
    assert count == 21
    assert page == "".join(out.pieces)
    pieces = out.pieces
    chart_start = pieces.index('<div class="chart">')
    chart_end = pieces.index("</div>\n", chart_start)
    chart = pieces[chart_start + 1 : chart_end]
    lanes = "".join(chart).count('<g class="lane')
    markers = "".join(chart).count('<circle class="marker"')
    assert lanes >= 5
    assert markers >= 10
    assert chart[0].startswith("<svg ")
    assert chart[-1] == "</svg>"
    # each lane's opening, each stance marker and each group of the events row apart
    assert len(chart) > lanes + markers
    assert not any(p.count('<circle class="marker"') > 1 for p in chart)
    # each event's details are a piece of their own
    details = [p for p in pieces if '<details class="event"' in p]
    assert len(details) == count
    assert all(p.count('<details class="event"') == 1 for p in details)
    assert max(map(len, pieces)) < len(page) / 4

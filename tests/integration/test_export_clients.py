"""The CSV and Markdown exports read back by real parsers: Python's csv, CommonMark."""

from __future__ import annotations

import csv
import io

from markdown_it import MarkdownIt

import timeline as tl
from tests.integration.test_export import _add_rumour_and_retraction


def _export(store: tl.Timeline, fmt: str, **bounds: str) -> str:
    out = io.StringIO()
    store.export(fmt, out, **bounds)
    return out.getvalue()


def test_the_csv_reads_back_with_every_event_and_its_exact_text(h200: tl.Timeline) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(h200, "csv"), newline="")))
    stored = {r.event.id: r.event for r in h200.events()}
    assert [row["id"] for row in rows] == sorted(
        stored, key=lambda i: [row["id"] for row in rows].index(i)
    )
    assert len(rows) == 21
    for row in rows:
        assert row["summary"] == stored[row["id"]].summary
    quoted = next(row for row in rows if row["id"] == "h200-0020")
    assert quoted["quote"].startswith("I expect the leading Chinese tech companies")


def _inline_texts(tokens: list[object]) -> list[str]:
    return [t.content for t in tokens if getattr(t, "type", "") == "inline"]  # type: ignore[attr-defined]


def test_the_markdown_parses_as_commonmark_with_dates_events_and_corrections(
    h200: tl.Timeline,
) -> None:
    _add_rumour_and_retraction(h200)
    tokens = MarkdownIt("commonmark").parse(_export(h200, "markdown"))
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[0].startswith("ByteDance and Alibaba ask Nvidia about H200 chips")
    assert headings[1:4] == ["2022\u20137 Dec 2025", "1 Jan\u201310 Dec 2025", "Sep\u2013Nov 2025"]
    assert headings[-1] == "Corrections and retractions"
    stand = next(
        i for i, t in enumerate(tokens) if t.type == "inline" and t.content == "Where things stand"
    )
    events = [
        tokens[i + 2].content
        for i, t in enumerate(tokens[:stand])
        if t.type == "list_item_open" and t.level == 1
    ]
    assert len(events) == 21  # the retracted rumour is gone from the timeline ...
    assert all("rumour-1`" not in text for text in events)
    log = _inline_texts(tokens)[-1]  # ... and said so in the log
    assert log == (
        "12 Dec 2025: report of an order by ByteDance, Nvidia (rumour-1) retracted"
        " — the blog withdrew the report `rumour-1-retracted`"
    )

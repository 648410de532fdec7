"""Exports: JSON Lines round trip, CSV, Markdown, TimelineJS, the HTML page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import attrs
import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS
from timeline.output.export import CSV_COLUMNS

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL


def _text(store: tl.Timeline, fmt: str, **bounds: str | bool) -> str:
    out = io.StringIO()
    store.export(fmt, out, **bounds)
    return out.getvalue()


def _add_rumour_and_retraction(store: tl.Timeline) -> None:
    """The README's rumour: an order reported on Dec 11, retracted on Dec 12."""
    store.append(
        [
            tl.OrderPlaced(
                id="rumour-1",
                occurred_at=datetime(2025, 12, 11, 14, 30, tzinfo=UTC),
                reported_at=datetime(2025, 12, 11, 15, tzinfo=UTC),
                buyer="bytedance",
                supplier="nvidia",
                product="H200",
                source=tl.Source(publisher="A blog", url="https://example.com/rumour"),
                summary="A blog says ByteDance placed an order.",
            ),
            tl.Retraction(
                id="rumour-1-retracted",
                retracts="rumour-1",
                occurred_at=datetime(2025, 12, 12, tzinfo=UTC),
                reported_at=datetime(2025, 12, 12, tzinfo=UTC),
                reason="the blog withdrew the report",
            ),
        ],
        story="h200-china",
    )


# --- JSON Lines ----------------------------------------------------------------------


def test_jsonl_round_trip_gives_the_same_events_and_state(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    _add_rumour_and_retraction(h200)
    target = tmp_path / "h200.jsonl"
    assert h200.export("jsonl", target) == 23
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        [report] = copy.import_jsonl(target)
        assert (report.story, report.appended, report.skipped) == ("h200-china", 23, 0)
        codec = h200.store.codec
        assert [codec.to_dict(r.event) for r in copy.events()] == [
            codec.to_dict(r.event) for r in h200.events()
        ]
        assert copy.state() == h200.state()
        for bounds in ({"at": "2025-12-11"}, {"at": "2025-12-11", "known_at": "2025-12-11"}):
            assert copy.state(**bounds) == h200.state(**bounds)
        assert copy.import_jsonl(target)[0].appended == 0


def test_jsonl_lines_are_codec_records_with_their_story(h200: tl.Timeline) -> None:
    lines = _text(h200, "jsonl").splitlines()
    first = json.loads(lines[0])
    assert (first["id"], first["type"], first["story"]) == (
        "h200-0001",
        "policy_change",
        "h200-china",
    )
    assert first["reported_at"] == "2022-01-01T00:00:00+00:00"
    assert first["reported_until"] == "2025-12-07T23:59:59.999999+00:00"
    assert h200.store.codec.from_dict(first) == next(h200.events()).event


@pytest.mark.parametrize("bounds", [{"known_at": "2025-12-09"}, {"at": "2025-12-09"}])
def test_a_bounded_jsonl_export_loads_into_that_state(
    h200: tl.Timeline, tmp_path: Path, bounds: dict[str, str]
) -> None:
    target = tmp_path / "part.jsonl"
    count = h200.export("jsonl", target, **bounds)
    assert 0 < count < 21
    with tl.Timeline.open(tmp_path / "part.db") as part:
        part.import_jsonl(target)
        # the same facts; there, without bounds, each is certain
        expected = {
            (name, key): attrs.evolve(fact, certain=True)
            for name, key, fact in h200.state(**bounds)
        }
        assert {(name, key): fact for name, key, fact in part.state()} == expected


def test_a_bad_jsonl_line_names_the_file_event_field_and_line(
    h200: tl.Timeline, tmp_path: Path
) -> None:
    lines = _text(h200, "jsonl").splitlines()
    bad = json.loads(lines[2])
    bad["occurred_at"] = "the day after"
    target = tmp_path / "bad.jsonl"
    target.write_text("\n".join([*lines[:2], json.dumps(bad)]) + "\n", encoding="utf-8")
    with tl.Timeline.open(tmp_path / "new.db") as new:
        with pytest.raises(tl.FixtureError) as caught:
            new.import_jsonl(target)
        assert new.info()["events"] == 0
    error = caught.value
    assert (error.index, error.event_id, error.field) == (2, "h200-0003", "occurred_at")
    assert str(error).startswith(f"{target}: event #2 ('h200-0003'): field occurred_at:")
    assert "(line 3)" in str(error)


# --- CSV, Markdown, TimelineJS -----------------------------------------------------------


def test_csv_has_one_flat_row_per_event(h200: tl.Timeline) -> None:
    rows = list(csv.DictReader(io.StringIO(_text(h200, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 21
    inquiry = next(r for r in rows if r["id"] == "h200-0010")
    assert inquiry["type"] == "inquiry"
    assert inquiry["occurred_at"] == "2025-12-08T00:00:00+00:00"
    assert inquiry["occurred_until"] == "2025-12-10T23:59:59.999999+00:00"
    assert inquiry["precision"] == "day"
    assert inquiry["when"] == "8\u201310 Dec 2025"
    assert inquiry["reported_until"] == "2025-12-10T00:00:00+00:00"
    assert inquiry["actors"] == "bytedance; alibaba; nvidia"
    assert (inquiry["product"], inquiry["source_publisher"]) == ("H200", "Reuters")
    assert inquiry["attribution"] == "four people briefed on the matter"
    announcement = next(r for r in rows if r["id"] == "h200-0007")
    assert (announcement["topic"], announcement["stance"]) == ("h200-exports-to-china", "supports")


def test_exports_include_only_what_the_bounds_see(h200: tl.Timeline) -> None:
    _add_rumour_and_retraction(h200)
    ids = {r["id"] for r in csv.DictReader(io.StringIO(_text(h200, "csv", at="2025-12-07")))}
    assert "h200-0007" not in ids
    assert "h200-0010" not in ids
    dec8 = _text(h200, "csv", at="2025-12-08", certain=True)
    certain = {r["id"] for r in csv.DictReader(io.StringIO(dec8))}
    assert "h200-0007" in certain
    assert "h200-0010" not in certain  # 8-10 Dec: only possibly by the end of Dec 8
    # retracted: gone now, there when we ask what was believed on Dec 11
    now = {r["id"] for r in csv.DictReader(io.StringIO(_text(h200, "csv")))}
    then = _text(h200, "csv", known_at="2025-12-11T23:00:00+00:00")
    assert "rumour-1" not in now
    assert "rumour-1" in {r["id"] for r in csv.DictReader(io.StringIO(then))}


def test_markdown_is_a_timeline_grouped_by_date_with_sources(h200: tl.Timeline) -> None:
    text = _text(h200, "markdown")
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == [
        "2022\u20137 Dec 2025",
        "1 Jan\u201310 Dec 2025",
        "Sep\u2013Nov 2025",
        "1 Nov\u201310 Dec 2025",
        "Dec 2025",
        "8 Dec 2025",
        "8\u201310 Dec 2025",
        "10 Dec 2025",
        "Where things stand",
    ]
    assert text.startswith("# ByteDance and Alibaba ask Nvidia")
    assert "- **Inquiry** (ByteDance, Alibaba, Nvidia):" in text
    assert "  - Source: Reuters, “Exclusive: ByteDance, Alibaba ask Nvidia" in text


def test_timelinejs_dates_follow_each_events_precision(h200: tl.Timeline) -> None:
    h200.append(
        [
            tl.Statement(
                id="exact-1",
                occurred_at=datetime(2025, 12, 11, 9, 45, tzinfo=UTC),
                actor="nvidia",
                topic="h200-exports-to-china",
                source=tl.Source(publisher="Nvidia"),
                summary="Nvidia welcomes the decision.",
            )
        ],
        story="h200-china",
    )
    document = json.loads(_text(h200, "timelinejs"))
    assert document["title"]["text"]["headline"].startswith("ByteDance and Alibaba ask Nvidia")
    slides = {s["unique_id"]: s for s in document["events"]}
    assert len(slides) == 22
    assert slides["h200-0001"]["start_date"] == {"year": 2022}
    assert slides["h200-0001"]["end_date"] == {"year": 2025, "month": 12, "day": 7}
    assert slides["h200-0003"]["start_date"] == {"year": 2025, "month": 9}
    assert slides["h200-0003"]["end_date"] == {"year": 2025, "month": 11}
    assert slides["h200-0003"]["display_date"] == "Sep\u2013Nov 2025"
    assert slides["h200-0006"]["display_date"] == "Dec 2025"
    assert "end_date" not in slides["h200-0006"]
    assert slides["h200-0010"]["display_date"] == "8\u201310 Dec 2025"
    assert slides["h200-0007"]["start_date"] == {"year": 2025, "month": 12, "day": 8}
    assert slides["exact-1"]["start_date"] == {
        "year": 2025,
        "month": 12,
        "day": 11,
        "hour": 9,
        "minute": 45,
    }
    inquiry = slides["h200-0010"]
    assert inquiry["text"]["headline"].startswith("ByteDance and Alibaba have asked Nvidia")
    assert "four people briefed" in inquiry["text"]["text"]
    assert inquiry["group"] == "ByteDance"
    # its source has no URL: no media object (TimelineJS fails on one without a url),
    # the source is credited in the text
    assert "media" not in inquiry
    assert "Reuters" in inquiry["text"]["text"]


# --- HTML ------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[str] = []
        self.links: list[str] = []
        self.details: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "lane" in (found.get("class") or "").split():
            self.lanes.append(found.get("data-actor") or "")
        for name in ("src", "href"):
            if found.get(name):
                self.links.append(found[name] or "")
        if tag == "link":
            self.links.append(found.get("href") or "")
        if tag == "details":
            self.details.append(found.get("id") or "")


def test_the_html_page_has_a_lane_per_actor_the_story_names_and_no_network(
    h200: tl.Timeline,
) -> None:
    _add_rumour_and_retraction(h200)  # a source with an https URL, shown as text only
    text = _text(h200, "html", known_at="2025-12-11T23:00:00+00:00")
    page = _Page()
    page.feed(text)
    page.close()
    named = {a for r in h200.events() for _, a in r.event.actor_refs()}
    about = {a for r in h200.events() for a in r.event.about}
    assert about == {"nvidia", "bytedance", "alibaba", "huawei", "cambricon"}
    assert sorted(page.lanes) == sorted(named)
    assert len(page.lanes) == 10  # with stances, events about them, or neither
    assert not [link for link in page.links if re.match(r"(?i)\s*(https?:)?//", link)]
    assert all(link.startswith("#") for link in page.links)
    assert "ev-rumour-1" in page.details
    assert len(page.details) == 22
    assert "https://example.com/rumour" in text  # as text, in the event's details
    assert "<h2>Order intents</h2>" in text
    assert "exploring" in text

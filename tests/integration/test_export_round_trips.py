"""Random text through every export format: each reader gets back the text it was
given (CSV cells, TimelineJS fields) and no structure the text did not have
(Markdown, HTML): hostile text is shown, never run or taken for syntax."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import timeline as tl
from tests.strategies import hostile_text
from timeline.output.escape import csv_cell

DAY = datetime(2025, 12, 8, tzinfo=UTC)
SAFE_URL = "https://example.com/a?b=c&d=e"
URLS = st.sampled_from([None, SAFE_URL, "javascript:alert(1)", "data:text/html,<b>x</b>"])
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Texts:
    """The texts one example stores."""

    def __init__(self, **texts: Any) -> None:
        self.summary: str = texts["summary"]
        self.quote: str | None = texts["quote"] if texts["quote"].strip() else None
        self.attribution: str = texts["attribution"]
        self.publisher: str = texts["publisher"] if texts["publisher"].strip() else "p"
        self.headline: str | None = texts["headline"] if texts["headline"].strip() else None
        self.name: str = texts["name"] if texts["name"].strip() else "Acme"
        self.url: str | None = texts["url"]


def _export_all(directory: Path, texts: _Texts) -> dict[str, Path]:
    """A store holding one announcement with these texts, exported in every format."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "s.db"
    for leftover in directory.iterdir():
        leftover.unlink()
    out = {fmt: directory / f"out.{fmt}" for fmt in ("csv", "markdown", "timelinejs", "html")}
    with tl.Timeline.open(db) as store:
        store.register_actor("acme", name=texts.name)
        store.append(
            [
                tl.Announcement(
                    id="a-1",
                    occurred_at=DAY,
                    actor="acme",
                    topic="chips",
                    position="supports",
                    summary=texts.summary,
                    quote=texts.quote,
                    attribution=texts.attribution,
                    source=tl.Source(
                        publisher=texts.publisher, headline=texts.headline, url=texts.url
                    ),
                )
            ],
            story="s",
        )
        for fmt, path in out.items():
            store.export(fmt, path)
    return out


def _neutralised(cell: str, text: str) -> bool:
    """``cell`` is ``text``, or ``text`` behind the documented ``'`` (OWASP's rule)."""
    return cell == text or (text.startswith(FORMULA_START) and cell == "'" + text)


# --- what each reader sees --------------------------------------------------------------


def _csv_record(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 2  # the header and one event: no text breaks a row
    return dict(zip(rows[0], rows[1], strict=True))


def _markdown_shape(path: Path) -> tuple[list[str], Counter[str], list[str]]:
    """Block token types, inline token types (text aside) and link targets."""
    tokens = MarkdownIt("commonmark").parse(path.read_text("utf-8"))
    blocks = [t.type for t in tokens if t.type != "inline"]
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    kinds = Counter(c.type for c in inline if c.type not in ("text", "softbreak"))
    links = [str(c.attrs.get("href")) for c in inline if c.type == "link_open"]
    return blocks, kinds, links


class _Elements(HTMLParser):
    """Every element and attribute name of an HTML document, and its script bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: set[str] = set()
        self.paragraphs: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes.update(name for name, _ in attrs)
        self._open.append(tag)
        if tag in ("p", "blockquote", "small"):
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] in ("p", "blockquote", "small"):
            self.paragraphs[-1] += data


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


_BASELINES: dict[tuple[bool, bool, str | None], dict[str, Any]] = {}


def _baseline(tmp_path_factory: pytest.TempPathFactory, texts: _Texts) -> dict[str, Any]:
    """The shapes of the same exports with plain text in place of each text (and the
    same optional fields and URL), computed once per such shape."""
    shape = (texts.quote is None, texts.headline is None, texts.url)
    if shape not in _BASELINES:
        plain = _Texts(
            summary="Plain words.",
            quote="" if texts.quote is None else "Quoted words",
            attribution="people",
            publisher="Wire",
            headline="" if texts.headline is None else "Headline",
            name="Acme",
            url=texts.url,
        )
        out = _export_all(tmp_path_factory.mktemp("baseline"), plain)
        page = _elements(out["html"].read_text("utf-8"))
        _BASELINES[shape] = {
            "markdown": _markdown_shape(out["markdown"]),
            "html_tags": set(page.tags),
            "html_attributes": page.attributes,
            "scripts": page.tags["script"],
        }
    return _BASELINES[shape]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    summary=hostile_text(),
    quote=hostile_text(),
    attribution=hostile_text(),
    publisher=hostile_text(),
    headline=hostile_text(),
    name=hostile_text(3),
    url=URLS,
)
@example(summary="", quote="\t0", attribution="", publisher="", headline="", name="", url=None)
@example(
    summary="", quote="    indented", attribution="", publisher="", headline="", name="", url=None
)
@example(summary="", quote="- item", attribution="", publisher="", headline="", name="", url=None)
@example(summary="", quote="1. item", attribution="", publisher="", headline="", name="", url=None)
@example(summary="", quote="2) item", attribution="", publisher="", headline="", name="", url=None)
@example(summary="", quote="+ item", attribution="", publisher="", headline="", name="", url=None)
@example(summary="", quote="---", attribution="", publisher="", headline="", name="", url=None)
def test_random_text_round_trips_through_every_export_format(
    tmp_path_factory: pytest.TempPathFactory, **drawn: Any
) -> None:
    texts = _Texts(**drawn)
    baseline = _baseline(tmp_path_factory, texts)
    out = _export_all(tmp_path_factory.getbasetemp() / "example", texts)

    # CSV: `csv` reads back every cell as written, modulo the leading '
    record = _csv_record(out["csv"])
    for column, text in [
        ("summary", texts.summary),
        ("quote", texts.quote or ""),
        ("attribution", texts.attribution),
        ("source_publisher", texts.publisher),
        ("source_headline", texts.headline or ""),
        ("source_url", texts.url or ""),
    ]:
        assert _neutralised(record[column], text), column
        assert record[column] == csv_cell(text), column

    # Markdown: the same blocks and inline syntax as plain text, links only to http(s)
    blocks, kinds, links = _markdown_shape(out["markdown"])
    plain_blocks, plain_kinds, _ = baseline["markdown"]
    assert blocks == plain_blocks
    assert set(kinds) <= set(plain_kinds)
    assert "html_inline" not in kinds
    assert "html_block" not in blocks
    assert all(link == SAFE_URL for link in links)
    assert len(links) == (1 if texts.url == SAFE_URL else 0)

    # TimelineJS: valid JSON whose HTML fields give back the texts, with no other element
    slide = json.loads(out["timelinejs"].read_text("utf-8"))["events"][0]
    body = _elements(slide["text"]["text"])
    assert set(body.tags) <= {"p", "blockquote", "small"}
    assert body.paragraphs[0] == texts.summary
    if texts.quote is not None:
        assert body.paragraphs[1] == texts.quote
    assert _elements(slide["group"]).tags == Counter()
    assert _unescape(slide["group"]) == texts.name
    media = slide.get("media")
    if texts.url == SAFE_URL:
        assert media is not None
        assert _unescape(media["credit"]) == texts.publisher
        assert media["url"] == SAFE_URL
        assert _unescape(media.get("caption", "")) == (texts.headline or "")
    else:
        assert media is None

    # HTML: no element, attribute or script the plain page does not have
    page = _elements(out["html"].read_text("utf-8"))
    assert set(page.tags) <= baseline["html_tags"]
    assert page.attributes <= baseline["html_attributes"]
    assert page.tags["script"] == baseline["scripts"]


def _unescape(text: str) -> str:
    """The text an HTML reader shows for ``text`` (which must hold no element)."""
    parser = _Elements()
    parser.paragraphs.append("")
    parser._open.append("p")
    parser.feed(text)
    parser.close()
    return parser.paragraphs[0]

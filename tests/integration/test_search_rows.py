"""The append indexes the searched text from the values in hand, exactly as the
view ``events_search`` spells it from the stored payloads (snippets read the view)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timeline as tl
from timeline.store._schema import SEARCH_COLUMNS, SEARCH_TABLE, SEARCH_VIEW

ROOT = Path(__file__).resolve().parents[2]
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def instances(conn: sqlite3.Connection, schema: str, table: str) -> set[tuple[object, ...]]:
    conn.execute(
        f"CREATE VIRTUAL TABLE temp.v_{table} USING fts5vocab({schema}, {table}, instance)"
    )
    try:
        return set(conn.execute(f"SELECT term, doc, col, offset FROM temp.v_{table}"))
    finally:
        conn.execute(f"DROP TABLE temp.v_{table}")


def index_matches_the_view(path: Path) -> None:
    """Every term at every offset of every column, as an index built from the view."""
    conn = sqlite3.connect(path)
    try:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (SEARCH_TABLE,))
        tokenize = sql.fetchone()[0].split("tokenize = ")[1].rstrip(")")
        columns = ", ".join(SEARCH_COLUMNS)
        conn.execute(
            f"CREATE VIRTUAL TABLE temp.fresh USING fts5({columns}, tokenize = {tokenize})"
        )
        conn.execute(f"INSERT INTO temp.fresh (rowid, {columns}) SELECT * FROM {SEARCH_VIEW}")
        stored = instances(conn, "main", SEARCH_TABLE)
        fresh = instances(conn, "temp", "fresh")
        assert len(fresh) > 40
        assert stored == fresh
    finally:
        conn.close()


def test_fixtures_index_the_text_the_view_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.load(ROOT / "fixtures" / "h200-china.json")
        store.load(ROOT / "fixtures" / "sample-magnet-export-ban.json")
    index_matches_the_view(path)


def test_appends_index_the_text_the_view_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    relayed = (
        tl.Source(publisher="Reuters", id="r1", headline="Chips  and  bans"),
        tl.Source(publisher="Caixin", via="r1"),
        tl.Source(publisher="Nikkei", headline=" padded "),
    )
    with tl.Timeline.open(path) as store:
        store.register_actor("beijing", name="China's government", aliases=["China", "PRC"])
        store.append(
            [
                tl.Statement(
                    id="s1",
                    occurred_at=BASE,
                    actor="beijing",
                    topic="h200",
                    summary=" leading space ",
                    quote="“quoted” text",
                    attribution="a spokesperson",
                    sources=relayed,
                ),
                tl.Inquiry(
                    id="i1",
                    occurred_at=BASE + timedelta(days=1),
                    inquirers=("zeta-co", "alpha-co", "beijing"),
                    supplier="nvidia",
                    product="H200",
                    summary="",
                ),
                tl.Report(id="r0", occurred_at=BASE + timedelta(days=2), summary="no source"),
                # one source only (the append's short path): relayed, then plain
                tl.Report(
                    id="r2",
                    occurred_at=BASE + timedelta(days=2),
                    summary="relayed alone",
                    sources=(tl.Source(publisher="Yicai", via="r1"),),
                ),
                tl.Report(
                    id="r3",
                    occurred_at=BASE + timedelta(days=2),
                    summary="one headline",
                    source=tl.Source(publisher="Xinhua", headline="Alone  here"),
                ),
            ],
            story="s",
        )
        store.append(
            [
                tl.Correction(
                    id="c1",
                    occurred_at=BASE + timedelta(days=3),
                    corrects="s1",
                    summary="misquoted",
                    replacement=tl.Statement(
                        id="s1",
                        occurred_at=BASE,
                        actor="beijing",
                        topic="h200",
                        summary="replaced summary",
                        quote="the right quote",
                        source=tl.Source(publisher="AP", headline="Fixed"),
                    ),
                ),
                tl.Retraction(
                    id="x1", occurred_at=BASE + timedelta(days=4), retracts="r0", reason="wrong"
                ),
            ],
            story="s",
        )
    index_matches_the_view(path)
    with tl.Timeline.open(path) as store:
        hits = store.search("padded")
        assert [h.record.id for h in hits] == ["s1"]
        assert "padded" in hits[0].snippet.replace("[", "").replace("]", "")
        assert {h.record.id for h in store.search("PRC")} == {"s1", "i1", "c1"}

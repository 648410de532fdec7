"""Migration 0009: fact versions name their fact by number, sources are found by digest;
an existing store's snapshots are converted as they are, and the store still verifies."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import timeline as tl
from timeline.store._schema import source_digest
from timeline.store.facts import SQLiteSnapshotStore

DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMA_0003_STORE = DATA / "store-schema-0003.db"


def test_an_old_stores_snapshots_are_converted_as_they_are(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    old = sqlite3.connect(SCHEMA_0003_STORE)
    versions = old.execute("SELECT key, okey, fact FROM fact_versions ORDER BY key, okey")
    before = versions.fetchall()
    sources = old.execute("SELECT id, source FROM fact_sources ORDER BY id").fetchall()
    old.close()
    assert len(before) > 10
    with tl.Timeline.open(copy) as store:
        assert "0009_compact_snapshots" in store.store.schema_names()
        converted = SQLiteSnapshotStore(store.store)  # type: ignore[arg-type]
        assert converted.versions() == before
        assert converted.sources() == sources
        conn = store.store.conn  # type: ignore[attr-defined]
        digests = conn.execute("SELECT id, digest, source FROM fact_sources ORDER BY id")
        assert [(r, d) for r, d, _ in digests] == [(r, source_digest(t)) for r, t in sources]
        assert store.verify() == 21
        stance = store.state().stance("us-government", "h200-exports-to-china")
        assert stance is not None
        assert store.derived_differences() == []
    with tl.Timeline.open(copy) as again:
        assert again.verify(deep=True) == 21


def test_a_fact_key_is_stored_once_however_many_versions_it_has(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.load(DATA.parent.parent / "fixtures" / "h200-china.json")
        store.state()
        conn = store.store.conn  # type: ignore[attr-defined]
        versions, keys = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT key_id) FROM fact_versions"
        ).fetchone()
        assert versions > keys
        assert conn.execute("SELECT COUNT(*) FROM fact_keys").fetchone()[0] == keys
        types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(fact_versions)")}
        assert types["key_id"] == "INTEGER"
        # a source interned twice is found, not stored again
        count = conn.execute("SELECT COUNT(*) FROM fact_sources").fetchone()[0]
        text = conn.execute("SELECT source FROM fact_sources LIMIT 1").fetchone()[0]
        with store.store.write():  # type: ignore[attr-defined]
            ref = SQLiteSnapshotStore(store.store).source_ref(text)  # type: ignore[arg-type]
        assert conn.execute("SELECT COUNT(*) FROM fact_sources").fetchone()[0] == count
        assert conn.execute("SELECT source FROM fact_sources WHERE id = ?", (ref,)).fetchone() == (
            text,
        )

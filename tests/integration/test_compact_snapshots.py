"""Migration 0009: fact versions name their fact by number, sources are found by digest;
an existing store's snapshots are converted as they are, and the store still verifies."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import timeline as tl
from timeline.store._schema import compact_fold_key, pack_fact, source_digest, unpack_fact
from timeline.store.facts import SQLiteSnapshotStore

DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMA_0003_STORE = DATA / "store-schema-0003.db"
BASE = datetime(2025, 1, 1, tzinfo=UTC)


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
        # the same versions, their fold keys in the spelling of 0017_compact_fold_keys
        assert sorted(converted.versions_in_fold_order()) == sorted(
            (key, compact_fold_key(at), fact) for key, at, fact in before
        )
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


@settings(max_examples=200)
@given(st.text(max_size=2000))
def test_a_packed_fact_reads_back_as_its_text(text: str) -> None:
    packed = pack_fact(text)
    assert packed is not None
    assert unpack_fact(packed) == text
    if len(text) < 256:
        assert packed == text


def _inquiries(n: int) -> list[tl.Event]:
    return [
        tl.Inquiry(
            id=f"inquiry-{i:05d}",
            occurred_at=BASE + timedelta(days=i),
            inquirers=("bytedance",),
            supplier="nvidia",
            product="H200",
            conditions=(f"condition {i % 3}",),
            source=tl.Source(publisher="Reuters", headline=f"report {i}"),
        )
        for i in range(n)
    ]


def test_large_intent_versions_are_stored_compressed_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append(_inquiries(40), story="s")
        conn = store.store.conn  # type: ignore[attr-defined]
        kinds = dict(
            conn.execute("SELECT typeof(fact), COUNT(*) FROM fact_versions GROUP BY 1").fetchall()
        )
        assert kinds.get("blob", 0) > 20  # the intent's later versions, with long lists
        assert kinds.get("text", 0) > 0
        at = BASE + timedelta(days=30)
        with tl.Timeline.open(path, readonly=True) as folded:
            assert store.state(at=at) == folded.state(at=at)
            assert store.state() == folded.state()
            expected = folded.order_intent("bytedance", "nvidia", "H200", at=at)
        assert store.order_intent("bytedance", "nvidia", "H200", at=at) == expected
        assert expected is not None
        assert len(expected.evidence) == 20
        assert store.derived_differences() == []


def test_migration_0010_compresses_an_existing_stores_large_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.append(_inquiries(40), story="s")
        expected = store.state()
    conn = sqlite3.connect(path, isolation_level=None)
    blobs = conn.execute("SELECT key_id, okey, fact FROM fact_versions WHERE typeof(fact) = 'blob'")
    texts = [(unpack_fact(f), k, o) for k, o, f in blobs.fetchall()]
    assert texts
    conn.executemany("UPDATE fact_versions SET fact = ? WHERE key_id = ? AND okey = ?", texts)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0010_packed_facts'")
    assert (
        conn.execute("SELECT COUNT(*) FROM fact_versions WHERE typeof(fact) = 'blob'").fetchone()[0]
        == 0
    )
    conn.close()
    with tl.Timeline.open(path) as store:
        count = store.store.conn.execute(  # type: ignore[attr-defined]
            "SELECT COUNT(*) FROM fact_versions WHERE typeof(fact) = 'blob'"
        ).fetchone()[0]
        assert count == len(texts)
        assert store.state() == expected
        assert store.verify(deep=True) == 40

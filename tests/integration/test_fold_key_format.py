"""Migrations ``0017_compact_fold_keys`` (SQLite) and ``0015_compact_fold_keys``
(PostgreSQL): snapshots written with the readable fold keys of earlier versions
(``<time>Z#<position>``) are converted in place to the compact spelling, nothing is
rebuilt, and they answer as a fold of the log does."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from timeline.snapshots import _position_of, okey, okey_time
from timeline.store import facts
from timeline.store._schema import compact_fold_key
from timeline.times import to_text

from ..conftest import BOTH_BACKENDS, raw_execute, raw_rows

BACKENDS = BOTH_BACKENDS

SCHEMA_0003_STORE = Path(__file__).resolve().parent.parent / "data" / "store-schema-0003.db"
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def _old_spelling(key: str) -> str:
    """A compact fold key in the spelling stores had before migration 0017."""
    return f"{to_text(okey_time(key))}#{_position_of(key):012d}"


def test_a_readable_key_converts_to_the_compact_one() -> None:
    at = datetime(2025, 12, 9, 3, 4, 5, 123456, tzinfo=UTC)
    assert compact_fold_key("2025-12-09T03:04:05.123456Z#000000000151") == okey(at, 151)
    assert compact_fold_key(okey(at, 151)) == okey(at, 151)  # converted already
    assert compact_fold_key("") == ""
    assert compact_fold_key(None) is None


def _is_postgres(location: str) -> bool:
    return location.startswith(("postgresql:", "postgres:"))


def _snapshot_rows(location: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = {
        "versions": raw_rows(location, "SELECT * FROM fact_versions ORDER BY 1, 2"),
        "checkpoint": raw_rows(location, "SELECT * FROM snapshot_checkpoint"),
    }
    if not _is_postgres(location):
        rows["checkpoints"] = raw_rows(location, "SELECT okey, base FROM fact_checkpoints")
        rows["stale"] = raw_rows(location, "SELECT * FROM fact_checkpoint_stale ORDER BY 1, 2")
    return rows


def _spell_keys_as_before(location: str) -> None:
    """Rewrite every stored fold key in the readable spelling and forget the migration,
    as a store written before it holds them."""
    if _is_postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            for key, at in conn.execute("SELECT key, okey FROM fact_versions").fetchall():
                conn.execute(
                    "UPDATE fact_versions SET okey = %s WHERE key = %s AND okey = %s",
                    (_old_spelling(at), key, at),
                )
            (at,) = conn.execute("SELECT okey FROM snapshot_checkpoint").fetchone()  # type: ignore[misc]
            conn.execute("UPDATE snapshot_checkpoint SET okey = %s", (_old_spelling(at),))
        raw_execute(
            location, "DELETE FROM timeline_migrations WHERE name = '0015_compact_fold_keys'"
        )
        return
    conn = sqlite3.connect(location, isolation_level=None)
    try:
        conn.create_function("readable", 1, lambda k: None if k is None else _old_spelling(k))
        conn.execute("UPDATE fact_versions SET okey = readable(okey)")
        conn.execute("UPDATE fact_checkpoints SET okey = readable(okey), base = readable(base)")
        conn.execute("UPDATE fact_checkpoint_stale SET checkpoint = readable(checkpoint)")
        conn.execute("UPDATE snapshot_checkpoint SET okey = readable(okey)")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0017_compact_fold_keys'")
    finally:
        conn.close()


def _story() -> list[tl.Event]:
    day = [BASE + timedelta(days=d) for d in range(40)]
    out: list[tl.Event] = [
        tl.Statement(
            id=f"s{n}",
            occurred_at=day[10 + n],
            actor=f"a{n % 3}",
            topic="t",
            position="supports" if n % 2 else "opposes",
        )
        for n in range(18)
    ]
    out.append(
        tl.Inquiry(
            id="q1", occurred_at=day[11], inquirers=("b1", "b2"), supplier="nv", product="H200"
        )
    )
    out.append(
        tl.PolicyChange(
            id="ban",
            occurred_at=day[14],
            authority="gov",
            topic="exports",
            measure="ban",
            product="H200",
            applies_to=("b1",),
        )
    )
    out.append(
        tl.OrderPlaced(id="o1", occurred_at=day[20], buyer="b2", supplier="nv", product="H200")
    )
    return out


def test_stored_readable_keys_are_converted_in_place_and_nothing_is_rebuilt(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "CHECKPOINT_EVERY", 3)  # full-state checkpoints (SQLite)
    monkeypatch.setattr(facts, "_CHECK_AFTER", 1)
    with tl.Timeline.open(store_location) as store:
        store.append(_story(), story="s")
        # learnt late: listed stale in the checkpoints after it
        store.append(
            [tl.Statement(id="late", occurred_at=BASE + timedelta(days=12), actor="a0", topic="t")],
            story="s",
        )
        state = store.state()
        at_day_15 = store.state(at=BASE + timedelta(days=15))
    compact = _snapshot_rows(store_location)
    assert compact["versions"]
    if not _is_postgres(store_location):
        assert compact["checkpoints"]
        assert compact["stale"]
    _spell_keys_as_before(store_location)
    readable = _snapshot_rows(store_location)
    assert readable != compact
    assert all("#" in row[1] for row in readable["versions"])
    with tl.Timeline.open(store_location) as store:
        # converted exactly: the same rows as the compact writer left them, the same
        # signature (so nothing is rebuilt), and the answers of a fold of the log
        assert _snapshot_rows(store_location) == compact
        assert store.derived_differences() == []
        assert store.state() == state
        assert store.state(at=BASE + timedelta(days=15)) == at_day_15
        stance = store.stance("a0", "t", at=BASE + timedelta(days=15))
        assert stance == at_day_15.stance("a0", "t")
        assert store.verify() == len(_story()) + 1
    assert _snapshot_rows(store_location) == compact


def test_an_old_stores_keys_are_converted_and_it_still_verifies(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    old = raw_rows(str(copy), "SELECT okey FROM fact_versions")
    assert old
    assert all("#" in k and len(k) == 40 for (k,) in old)
    with tl.Timeline.open(copy) as store:
        assert "0017_compact_fold_keys" in store.store.schema_names()
        new = raw_rows(str(copy), "SELECT okey FROM fact_versions")
        assert sorted(k for (k,) in new) == sorted(compact_fold_key(k) for (k,) in old)
        assert all(len(k) == 25 for (k,) in new)
        state = store.state()
        assert store.derived_differences() == []
        assert store.verify() == 21
    with tl.Timeline.open(copy, readonly=True) as reader:  # folds the log: no snapshots
        assert reader.state() == state


TRICKY = [
    datetime(2025, 12, 9, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(2025, 12, 9, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
    datetime(1, 1, 2, 12, 0, 0, 500000, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("at", TRICKY, ids=lambda at: at.isoformat())
@pytest.mark.parametrize("position", [1, 151, 16**10 - 1])
def test_each_backend_converts_a_key_as_okey_spells_it(
    store_location: str, at: datetime, position: int
) -> None:
    old = f"{to_text(at)}#{position:012d}"
    if _is_postgres(store_location):
        from timeline.store._pg_schema import _COMPACT_FOLD_KEY

        sql = f"SELECT {_COMPACT_FOLD_KEY.format(k='k')} FROM (SELECT '{old}'::text AS k) AS t"
        assert raw_rows(store_location, sql) == [(okey(at, position),)]
    else:
        assert compact_fold_key(old) == okey(at, position)

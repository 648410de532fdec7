"""Snapshots written with the readable fold keys of earlier versions (``<time>Z#<position>``)
are rebuilt in the compact spelling by the first query that may write, and answer as before."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import timeline as tl
from timeline.snapshots import LOGIC_VERSION, _position_of, okey_time

SCHEMA_0003_STORE = Path(__file__).resolve().parent.parent / "data" / "store-schema-0003.db"


def _okeys(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT okey FROM fact_versions ORDER BY okey")]
    finally:
        conn.close()


def test_an_old_stores_versions_are_rebuilt_with_compact_fold_keys(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    with tl.Timeline.open(copy) as store:
        old = _okeys(copy)
        assert old
        assert all("#" in k and len(k) == 40 for k in old)
        state = store.state()
        new = _okeys(copy)
        assert new
        assert all(len(k) == 25 and "#" not in k for k in new)
        checkpoint = store._snapshot_store.checkpoint()  # type: ignore[union-attr]
        assert checkpoint is not None
        assert checkpoint.signature.startswith(LOGIC_VERSION + ":")
        # each version sits where the event that made it sorts
        for key in new:
            record = next(r for r in store.store.read() if r.position == _position_of(key))
            assert okey_time(key) == record.event.occurred_at
        assert store.derived_differences() == []
        assert store.verify() == 21
    with tl.Timeline.open(copy, readonly=True) as reader:  # folds the log: no snapshots
        assert reader.state() == state

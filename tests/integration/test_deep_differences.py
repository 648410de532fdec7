"""The deep check of the snapshots (``verify(deep=True)``) walks a fresh fold and the
stored versions side by side, in fold order, keeping each fact's current value: for
any damage to the stored versions it reports what comparing the two whole histories
fact by fact reports (the first difference of each fact), in bounded memory."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import H200
from timeline.bitemporal import Bounds, fold_events, ignored_type_names
from timeline.projections.fold import Fold
from timeline.snapshots import Snapshots, _key_text, _readable, _short, okey


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The H200 story with its snapshots built, and a backdated statement and a
    correction on top (versions that a refold replaced)."""
    db = tmp_path_factory.mktemp("deep") / "h200.db"
    with tl.Timeline.open(db) as store:
        store.load(H200)
        store.state()
        store.append(
            [
                tl.Statement(
                    id="late",
                    occurred_at=datetime(2025, 12, 9, 6, tzinfo=UTC),
                    actor="beijing",
                    topic="h200-imports",
                    position="opposes",
                )
            ],
            story="h200-china",
        )
        store.state()
    return db


def snapshots_of(store: tl.Timeline) -> Snapshots:
    return Snapshots(
        store.store,
        store._snapshot_store,  # type: ignore[attr-defined]
        store.projections,
        store._context(),  # type: ignore[attr-defined]
    )


def whole_histories(snapshots: Snapshots) -> list[str]:
    """The check as it was: both histories held whole, compared fact by fact."""
    cp = snapshots.store.checkpoint()
    assert cp is not None
    expected: dict[str, list[tuple[str, Any]]] = {}
    fold = Fold(snapshots.projections, snapshots.ctx)
    log = snapshots.log
    for occurred_at, position, event in fold_events(
        log, Bounds(), upto=cp.position, ignore=ignored_type_names(log, snapshots.projections)
    ):
        key = okey(occurred_at, position)
        for projection, fkey, _, fact in fold.updates(event):
            expected.setdefault(_key_text(projection, fkey), []).append((key, fact))
    stored: dict[str, list[tuple[str, Any]]] = {}
    snapshots.codec.preload()
    versions = snapshots.store.versions_in_fold_order  # type: ignore[attr-defined]
    for key_text, at, text in sorted(versions()):
        stored.setdefault(key_text, []).append(
            (at, None if text is None else snapshots.codec.loads(text))
        )
    problems = []
    for key_text in sorted(set(expected) | set(stored)):
        a, b = expected.get(key_text, []), stored.get(key_text, [])
        va: Any = None
        vb: Any = None
        for at in sorted({x for x, _ in a} | {x for x, _ in b}):
            va = next((v for x, v in reversed(a) if x <= at), None)
            vb = next((v for x, v in reversed(b) if x <= at), None)
            if va != vb:
                problems.append(
                    f"snapshot fact {key_text} at {_readable(at)}: "
                    f"stored {_short(vb)}, the log gives {_short(va)}"
                )
                break
    return problems


DAMAGE = st.lists(
    st.tuples(st.sampled_from(["delete", "move", "swap", "restate"]), st.integers(0, 10**6)),
    max_size=6,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=DAMAGE)
def test_the_walk_in_fold_order_finds_what_whole_histories_find(
    template: Path, tmp_path: Path, damage: list[tuple[str, int]]
) -> None:
    db = tmp_path / "damaged.db"
    db.unlink(missing_ok=True)
    shutil.copyfile(template, db)
    conn = sqlite3.connect(db, isolation_level=None)
    for kind, pick in damage:
        rows = conn.execute("SELECT key_id, okey, fact FROM fact_versions ORDER BY 1, 2").fetchall()
        if len(rows) < 2:
            break
        key_id, at, fact = rows[pick % len(rows)]
        other = rows[(pick // 7 + 1) % len(rows)]
        if kind == "delete":  # a version lost
            conn.execute("DELETE FROM fact_versions WHERE key_id = ? AND okey = ?", (key_id, at))
        elif kind == "move":  # a version at another fact's fold key
            conn.execute(
                "INSERT OR REPLACE INTO fact_versions VALUES (?, ?, ?)", (key_id, other[1], fact)
            )
        elif kind == "swap":  # another fact's value
            conn.execute(
                "UPDATE fact_versions SET fact = ? WHERE key_id = ? AND okey = ?",
                (other[2], key_id, at),
            )
        else:  # a version that restates the value in force: no difference by itself
            conn.execute(
                "INSERT OR IGNORE INTO fact_versions VALUES (?, ?, ?)", (key_id, other[1], fact)
            )
    conn.close()
    with tl.Timeline.open(db) as store:
        snapshots = snapshots_of(store)
        found = snapshots.differences(limit=10_000)
        assert sorted(found) == whole_histories(snapshots)
        if not damage:
            assert found == []
        # the limit keeps the first ones in fold order
        assert snapshots.differences(limit=2) == found[:2]

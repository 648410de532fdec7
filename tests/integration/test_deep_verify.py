"""verify(deep=True) checks what answers depend on besides the log; repair rebuilds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import H200

TAMPERING = {
    "snapshot": (
        "UPDATE fact_versions SET fact = replace(fact, '\"supports\"', '\"opposes\"') "
        "WHERE key_id IN (SELECT id FROM fact_keys WHERE key LIKE '%us-government%')",
        'snapshot fact ["stance",["us-government","h200-exports-to-china"]]',
    ),
    "event-actor index": (
        # the index refuses such a row (see test_registrations.py): this store's
        # guard was dropped first, as someone with the file in hand can
        "DROP TRIGGER event_actors_refuse_foreign_insert; "
        "INSERT INTO event_actors VALUES (10, 'huawei', 'actors')",
        "event-actor index: position 10 lists actor 'huawei' (actors), which that event "
        "does not name",
    ),
    "search index": (
        "INSERT INTO events_fts (rowid, summary) VALUES (3, 'invented text')",
        "search index: position 3 is indexed under 'invent' (summary), not in its text",
    ),
}


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    with tl.Timeline.open(db) as store:
        store.load(H200)
        store.state()
    return db


def _tamper(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(sql)
    conn.close()


def test_a_healthy_store_passes_the_deep_check(loaded: Path) -> None:
    with tl.Timeline.open(loaded) as store:
        assert store.derived_differences() == []
        assert store.verify(deep=True) == 21


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_deep_verify_names_an_edited_derived_table_that_plain_verify_misses(
    loaded: Path, what: str
) -> None:
    sql, named = TAMPERING[what]
    _tamper(loaded, sql)
    with tl.Timeline.open(loaded) as store:
        assert store.verify() == 21  # the chain itself is intact
        with pytest.raises(tl.IntegrityError, match="differs from it") as caught:
            store.verify(deep=True)
        assert named in str(caught.value)


def test_repair_rebuilds_every_derived_table_and_the_answers_are_the_logs_again(
    loaded: Path,
) -> None:
    with tl.Timeline.open(loaded, readonly=True) as ro:
        expected = ro.state(at="2025-12-10")
    for sql, _ in TAMPERING.values():
        _tamper(loaded, sql)
    with tl.Timeline.open(loaded) as store:
        assert len(store.repair()) >= 3
        assert store.derived_differences() == []
        assert store.state(at="2025-12-10") == expected
        hits = store.search("asked", actor="huawei", limit=None)
        assert "h200-0010" not in [h.record.event.id for h in hits]
        assert store.verify(deep=True) == 21


def test_cli_verify_deep_and_repair(loaded: Path) -> None:
    _tamper(loaded, TAMPERING["event-actor index"][0])
    failed = run("verify", loaded, "--deep")
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1
    assert "position 10 lists actor 'huawei'" in failed.stderr
    repaired = run("repair", loaded)
    assert repaired.exit_code == 0
    assert repaired.stdout.startswith(f"{loaded}: rebuilt from the log; it differed: ")
    ok = run("verify", loaded, "--deep")
    assert ok.stdout.strip() == (
        f"{loaded}: ok, 21 events, hash chain intact; snapshots, search and actor indexes "
        "match the log"
    )

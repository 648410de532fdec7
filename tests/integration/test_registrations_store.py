"""Stores written before actors, aliases and titles joined a hash chain migrate into
it as they stand, and verify then guards them; the CLI says what differs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import timeline as tl
from tests.cli.conftest import run
from tests.conftest import H200, table_counts

DATA = Path(__file__).parent.parent / "data"


def test_an_old_store_registers_its_actors_and_titles_when_it_migrates(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(DATA / "store-schema-0003.db", db)
    old = sqlite3.connect(db)
    actors = old.execute("SELECT COUNT(*) FROM actors").fetchone()[0]
    titles = old.execute("SELECT COUNT(*) FROM stories WHERE title IS NOT NULL").fetchone()[0]
    old.close()
    with tl.Timeline.open(db) as store:
        assert store.verify() == 21
        assert "0007_chained_registrations" in store.store.schema_names()
        kinds = store.store.conn.execute(
            "SELECT kind, COUNT(*) FROM registrations GROUP BY kind ORDER BY kind"
        ).fetchall()
    assert kinds == [("actor", actors), ("title", titles)]
    assert (actors, titles) == (10, 1)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE actors SET name = 'Forged' WHERE id = 'beijing'")
    conn.close()
    failed = run("verify", db)
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1
    assert "actor 'beijing': name is 'Forged' in table actors" in failed.stderr


def test_reloading_a_fixture_registers_nothing_new(store_location: str) -> None:
    with tl.Timeline.open(store_location) as store:
        store.load(H200)
        count = table_counts(store_location, "registrations")["registrations"]
        store.load(H200)
        again = table_counts(store_location, "registrations")["registrations"]
        assert store.verify() == 21
    assert count == again == 11  # ten actors and the title

"""Periods in a real store: columns, indexes, migration of older files, verify, JSON Lines."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS
from timeline.times import period_end, to_text

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

DATA = Path(__file__).resolve().parent.parent / "data"
LAST = (23, 59, 59, 999999)


def _fixture(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "format": "timeline-fixture/1",
                "story": "vague",
                "actors": {"beijing": {"name": "Beijing"}, "bytedance": {"name": "ByteDance"}},
                "sources": {
                    "monthly": {"publisher": "Monthly Review", "published_at": "2023-06"},
                    "daily": {"publisher": "Daily", "published_at": "2025-12-10T08:00:00+08:00"},
                },
                "events": events,
            }
        ),
        encoding="utf-8",
    )
    return path


VAGUE = [
    {
        "id": "inquiry",
        "type": "inquiry",
        "occurred_at": "2025-12-08/2025-12-10",
        "source": "daily",
        "inquirers": ["bytedance"],
        "supplier": "beijing",
        "product": "H200",
    },
    {
        "id": "pledge",
        "type": "announcement",
        "occurred_at": "2023-05",
        "source": "monthly",
        "actor": "beijing",
        "topic": "chips",
        "position": "supports",
    },
]


def _columns(path: Path) -> dict[str, tuple[str, str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT id, occurred_at, occurred_until, reported_at, reported_until FROM events"
        ).fetchall()
    finally:
        conn.close()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.sqlite_only("reads the SQLite file's columns")
def test_period_ends_are_stored_as_columns(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_fixture(tmp_path / "vague.json", VAGUE))
    columns = _columns(store.path)
    assert columns["inquiry"] == (
        "2025-12-08T00:00:00.000000Z",
        "2025-12-10T23:59:59.999999Z",
        "2025-12-10T00:00:00.000000Z",
        "2025-12-10T00:00:00.000000Z",
    )
    assert columns["pledge"] == (
        "2023-05-01T00:00:00.000000Z",
        "2023-05-31T23:59:59.999999Z",
        "2023-06-01T00:00:00.000000Z",
        "2023-06-30T23:59:59.999999Z",
    )


def test_a_month_dated_source_makes_its_events_public_only_possibly_before_its_end(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_fixture(tmp_path / "vague.json", VAGUE))
    (pledge,) = store.events(type="announcement")
    assert pledge.reported_at == datetime(2023, 6, 1, tzinfo=UTC)
    assert pledge.reported_until == datetime(2023, 6, 30, *LAST, tzinfo=UTC)
    assert pledge.event.source is not None
    assert pledge.event.source.published_until == datetime(2023, 6, 30, *LAST, tzinfo=UTC)


def test_reloading_a_fixture_with_periods_appends_nothing(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _fixture(tmp_path / "vague.json", VAGUE)
    store.load(path)
    report = store.load(path)
    assert (report.appended, report.skipped) == (0, 2)


def test_an_interval_ending_before_it_starts_is_a_fixture_error_naming_the_event(
    store: tl.Timeline, tmp_path: Path
) -> None:
    bad = [{**VAGUE[0], "occurred_at": "2025-12-10/2025-12-08"}]
    with pytest.raises(tl.FixtureError, match="ends before it starts") as info:
        store.load(_fixture(tmp_path / "bad.json", bad))
    assert (info.value.index, info.value.event_id, info.value.field) == (
        0,
        "inquiry",
        "occurred_at",
    )
    assert store.store.head() == 0


@pytest.mark.sqlite_only("compares the SQLite files' columns")
def test_periods_survive_a_json_lines_round_trip(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_fixture(tmp_path / "vague.json", VAGUE))
    store.export("jsonl", tmp_path / "out.jsonl")
    with tl.Timeline.open(tmp_path / "copy.db") as copy:
        copy.import_jsonl(tmp_path / "out.jsonl")
        assert _columns(copy.path) == _columns(store.path)
        for original in store.events():
            again = copy.get(original.id)
            assert again is not None
            assert again.event == original.event


def test_a_first_schema_store_gets_its_period_ends_backfilled(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copyfile(DATA / "store-schema-0001.db", copy)
    with tl.Timeline.open(copy) as store:
        assert store.verify() == 21
        records = list(store.events())
    columns = _columns(copy)
    precisions = set()
    for record in records:
        event = record.event
        precisions.add(event.precision)
        assert record.occurred_until == period_end(event.occurred_at, event.precision)
        assert record.reported_until == record.reported_at
        assert columns[event.id][1] == to_text(record.occurred_until)
        assert columns[event.id][3] == columns[event.id][2]
    assert {tl.Precision.DAY, tl.Precision.YEAR} <= precisions


@pytest.mark.sqlite_only("edits the SQLite file behind the store")
def test_verify_names_a_row_whose_period_end_column_was_changed(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_fixture(tmp_path / "vague.json", VAGUE))
    conn = sqlite3.connect(store.path)
    conn.execute("DROP TRIGGER events_refuse_update")
    conn.execute("UPDATE events SET occurred_until = occurred_at WHERE id = 'pledge'")
    conn.commit()
    conn.close()
    with pytest.raises(tl.IntegrityError, match="occurred_until") as info:
        store.verify()
    assert info.value.position == 2


@pytest.mark.sqlite_only("SQLite's query plans")
def test_certain_queries_can_use_the_period_indexes(store: tl.Timeline) -> None:
    conn = sqlite3.connect(store.path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()
    assert {
        "events_by_reported_until",
        "events_vaguely_occurred",
        "events_vaguely_reported",
    } <= names

"""Migration ``0018_refold_indexes`` (SQLite): the policy changes a restriction
refold lists, and what every correction and retraction names, are read from indexes
of them, with the same rows as read from the payloads; a store from before the
migration gets the indexes when it opens."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import attrs
import pytest

import timeline as tl
from timeline.store._schema import POLICY_CHANGE_FIELDS, POLICY_CHANGES_INDEX, TARGET_INDEXES
from timeline.store.base import EventFilter
from timeline.store.sqlite import EventStore

BASE = datetime(2025, 1, 1, tzinfo=UTC)
T = TypeVar("T")


def _story() -> list[tl.Event]:
    """Policy changes on several products (one on none), backdated ones among them,
    between statements and inquiries."""
    out: list[tl.Event] = []
    for n in range(30):
        at = BASE + timedelta(days=n if n % 7 else 40 - n)  # every seventh backdated
        if n % 3 == 0:
            out.append(
                tl.PolicyChange(
                    id=f"p{n}",
                    occurred_at=at,
                    authority="us" if n % 2 else "cn",
                    topic="exports",
                    measure="ban" if n % 4 else "lift",
                    product=None if n == 9 else ("H200", "H20", "B200")[n // 3 % 3],
                    applies_to=("bytedance",),
                )
            )
        elif n % 3 == 1:
            out.append(
                tl.Statement(
                    id=f"s{n}", occurred_at=at, actor="beijing", topic="h200", position="neutral"
                )
            )
        else:
            out.append(
                tl.Inquiry(
                    id=f"q{n}",
                    occurred_at=at,
                    inquirers=("bytedance",),
                    supplier="nvidia",
                    product="H200",
                )
            )
    out.append(
        tl.Correction(
            id="c1",
            occurred_at=BASE + timedelta(days=31),
            corrects="p3",
            replacement=attrs.evolve(out[3], occurred_at=BASE + timedelta(days=2)),
        )
    )
    out.append(tl.Retraction(id="r1", occurred_at=BASE + timedelta(days=32), retracts="s4"))
    out.append(tl.Retraction(id="r2", occurred_at=BASE + timedelta(days=33), retracts="q5"))
    return out


def _log(store: tl.Timeline) -> EventStore:
    log = store.store
    assert isinstance(log, EventStore)
    return log


def _traced(log: EventStore, call: Callable[[], T]) -> tuple[T, list[str]]:
    """What ``call`` returns, and the statements it ran on the store's connection."""
    statements: list[str] = []
    log.conn.set_trace_callback(statements.append)
    try:
        return call(), statements
    finally:
        log.conn.set_trace_callback(None)


FILTERS = [
    EventFilter(types=["policy_change"]),
    EventFilter(types=["policy_change"], after_position=4, upto_position=22),
    EventFilter(types=["policy_change"], occurred_from=BASE + timedelta(days=12)),
    EventFilter(types=["policy_change"], after_position=2, occurred_from=BASE + timedelta(days=20)),
]


@pytest.mark.parametrize("where", FILTERS)
def test_the_index_gives_the_rows_the_payloads_give(tmp_path: Path, where: EventFilter) -> None:
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.append(_story(), story="s")
        log = _log(store)
        expected = log.field_rows(where, POLICY_CHANGE_FIELDS)
        got, statements = _traced(log, lambda: log.policy_change_rows(where))
    assert got == expected
    assert expected  # the filters all hold some policy changes
    assert all(row[3] in ("H200", "H20", "B200", None) for row in got)
    # read through the index (INDEXED BY fails rather than reading the table instead)
    assert any(f"INDEXED BY {POLICY_CHANGES_INDEX}" in s for s in statements)


def test_a_filter_on_other_types_reads_the_payloads(tmp_path: Path) -> None:
    where = EventFilter(types=["policy_change", "statement"])
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.append(_story(), story="s")
        log = _log(store)
        got = log.policy_change_rows(where)
        assert got == log.field_rows(where, POLICY_CHANGE_FIELDS)
    assert {row[2][0] for row in got} == {"p", "s"}
    assert len(got) == 20  # ten policy changes, ten statements


def test_what_corrections_and_retractions_name_is_read_from_their_indexes(
    tmp_path: Path,
) -> None:
    fields = [("correction", "corrects"), ("retraction", "retracts")]
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.append(_story(), story="s")
        log = _log(store)
        got, statements = _traced(log, lambda: log.target_links(fields))
        plain = log.conn.execute(
            "SELECT id, json_extract(payload, '$.corrects') FROM events WHERE type = 'correction' "
            "UNION ALL "
            "SELECT id, json_extract(payload, '$.retracts') FROM events WHERE type = 'retraction'"
        ).fetchall()
    assert sorted(got) == sorted(plain) == [("c1", "p3"), ("r1", "s4"), ("r2", "q5")]
    for index in TARGET_INDEXES.values():
        assert any(f"INDEXED BY {index}" in s for s in statements)


def test_a_store_from_before_the_indexes_gets_them_and_refolds_alike(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    story = _story()
    with tl.Timeline.open(path) as store:
        store.append(story[:20], story="s")
        assert store.state().order_intents()  # snapshots written
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for index in (POLICY_CHANGES_INDEX, *TARGET_INDEXES.values()):
            conn.execute(f"DROP INDEX {index}")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0018_refold_indexes'")
    finally:
        conn.close()
    late_ban = tl.PolicyChange(
        id="late-ban",
        occurred_at=BASE + timedelta(days=3),
        authority="us",
        topic="exports",
        measure="ban",
        product="H200",
        applies_to=("bytedance",),
    )
    with tl.Timeline.open(path) as store:
        assert "0018_refold_indexes" in store.store.schema_names()
        store.append([*story[20:], late_ban], story="s")  # a backdated ban: refolded per fact
        intent = store.state().order_intent("bytedance", "nvidia", "H200")
        assert intent is not None
        assert "late-ban" in intent.blocked_by
        assert store.derived_differences() == []
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()
    assert {POLICY_CHANGES_INDEX, *TARGET_INDEXES.values()} <= names

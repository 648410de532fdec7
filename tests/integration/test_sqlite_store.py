"""The SQLite event store on real files: append-only triggers, stored columns under
the hash, indexes, streaming, foreign and closed files, and upcasters of stored rows.

The guarantees every backend keeps are in ``tests/contract/``."""

from __future__ import annotations

import inspect
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

import timeline as tl
from tests.conftest import H200
from tests.contract._samples import STORY, US, T, _statement, _statements, add_news, ids_of
from tests.strategies import registry_with_builtins
from tests.unit.test_registry import MERGER_VOTE_V1_PAYLOAD, MergerVoteV2, upcast_merger_vote_v1_v2

BACKENDS = ("sqlite",)  # the SQLite store's own file, triggers, indexes and upcasters


def _raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode, as another tool would open it."""
    return sqlite3.connect(path, isolation_level=None)


def _count(path: Path, table: str = "events") -> int:
    conn = _raw(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _tamper(path: Path, *statements: str) -> None:
    conn = _raw(path)
    try:
        for trigger in ("events_refuse_update", "events_refuse_delete"):
            conn.execute(f"DROP TRIGGER {trigger}")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


# --- tamper evidence of the stored columns ---------------------------------------------


def test_verify_names_the_row_whose_occurred_at_was_edited(
    store: tl.Timeline, db_path: Path
) -> None:
    store.append(_statements("a", 4), story=STORY)
    _tamper(
        db_path, "UPDATE events SET occurred_at = '2020-01-01T00:00:00.000000Z' WHERE id = 'a-1'"
    )
    with pytest.raises(tl.IntegrityError, match="does not match its hash") as info:
        store.verify()
    assert info.value.position == 2


# --- append-only triggers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET payload = '{}' WHERE position = 1",
        "UPDATE events SET occurred_at = '2000-01-01T00:00:00.000000Z'",
        "DELETE FROM events WHERE position = 1",
        "DELETE FROM events",
        "UPDATE event_actors SET actor = 'someone-else'",
        "DELETE FROM event_actors",
    ],
)
def test_a_raw_connection_cannot_update_or_delete_the_log(
    store: tl.Timeline, db_path: Path, statement: str
) -> None:
    store.append(_statements("a", 2), story=STORY)
    conn = _raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()
    assert store.verify() == 2


def _plan(store: tl.Timeline, **filters: Any) -> str:
    """The query plan SQLite chose for the SELECT that ``events(**filters)`` runs."""
    statements: list[str] = []
    conn = store.store.conn
    conn.set_trace_callback(statements.append)
    try:
        list(store.events(**filters))
    finally:
        conn.set_trace_callback(None)
    (select,) = [s for s in statements if s.lstrip().upper().startswith("SELECT E.POSITION")]
    return " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {select}"))


@pytest.fixture
def news(store: tl.Timeline) -> tl.Timeline:
    return add_news(store)


def test_reading_by_actor_searches_the_actor_index(news: tl.Timeline) -> None:
    plan = _plan(news, actor="acme")
    assert "SEARCH event_actors USING" in plan
    assert "SCAN event_actors" not in plan
    assert "SCAN e" not in plan.split(" | ")


@pytest.mark.parametrize("order", ["recorded", "occurred"])
def test_reading_by_occurred_at_searches_the_occurred_at_index(
    news: tl.Timeline, order: str
) -> None:
    plan = _plan(news, since="2025-12-01", until="2025-12-09", order=order)
    assert "INDEX events_by_occurred (occurred_at>? AND occurred_at<?)" in plan


def test_events_returns_a_lazy_generator(news: tl.Timeline) -> None:
    events = news.events()
    assert inspect.isgenerator(events)


def test_the_first_event_of_a_large_store_is_read_without_decoding_the_rest(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tl.Timeline.open(db_path, registry=registry_with_builtins()) as store:
        store.append(
            [tl.Report(id=f"r{i}", occurred_at=T + i * US) for i in range(5000)], story=STORY
        )
        decoded = itertools.count()
        decode = store.store.codec.decode_trusted

        def counting(data: dict[str, Any]) -> tl.Event:
            next(decoded)
            return decode(data)

        monkeypatch.setattr(store.store.codec, "decode_trusted", counting)
        first = next(store.events())
        assert (first.id, next(decoded)) == ("r0", 1)


# --- files that are not (current) timeline stores -------------------------------------


def _sidecars(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


@pytest.mark.parametrize(
    "content",
    [
        b"x",
        b"hello, world\n",
        bytes(range(256)) * 16,
        b"\x00" * 4096,
        b"SQLite format 3\x00" + b"\xff" * 200,
        b'{"format": "timeline-fixture/1"}',
    ],
    ids=["one-byte", "text", "binary", "zeros", "bad-header", "json"],
)
def test_opening_a_file_that_is_not_sqlite_raises_and_leaves_it_byte_identical(
    db_path: Path, content: bytes
) -> None:
    db_path.write_bytes(content)
    with pytest.raises(tl.StoreFormatError, match="not a timeline store"):
        tl.Timeline.open(db_path)
    assert db_path.read_bytes() == content
    assert _sidecars(db_path) == []


def test_opening_an_sqlite_file_with_other_tables_raises_and_leaves_it_byte_identical(
    db_path: Path,
) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(tl.StoreFormatError, match="without timeline tables"):
        tl.Timeline.open(db_path)
    assert db_path.read_bytes() == before


def test_opening_a_store_with_an_unknown_future_migration_raises_and_leaves_it_byte_identical(
    db_path: Path,
) -> None:
    with tl.Timeline.open(db_path) as store:
        store.append(_statements("a", 1), story=STORY)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('timeline', '9999_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(
        tl.StoreFormatError, match=r"newer version of timeline.*9999_from_the_future"
    ):
        tl.Timeline.open(db_path)
    assert db_path.read_bytes() == before


def test_opening_a_missing_file_without_create_raises_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(tl.StoreFormatError, match="no such timeline store"):
        tl.Timeline.open(missing, create=False)
    assert list(tmp_path.iterdir()) == []


def test_opening_a_missing_file_creates_an_empty_store(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        assert (store.verify(), list(store.events())) == (0, [])
    assert db_path.read_bytes().startswith(b"SQLite format 3\x00")


def test_opening_a_directory_raises_store_format_error(tmp_path: Path) -> None:
    with pytest.raises(tl.StoreFormatError, match="cannot open"):
        tl.Timeline.open(tmp_path)


def test_opening_a_file_in_a_missing_directory_raises_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(tl.StoreFormatError, match="cannot open"):
        tl.Timeline.open(tmp_path / "nowhere" / "news.db")
    assert list(tmp_path.iterdir()) == []


def test_an_in_memory_store_appends_and_reads_back() -> None:
    with tl.Timeline.open(":memory:") as store:
        store.append(_statements("a", 2), story=STORY)
        assert (ids_of(store.events()), store.verify()) == (["a-0", "a-1"], 2)


def test_an_empty_file_becomes_a_store(db_path: Path) -> None:
    db_path.write_bytes(b"")
    with tl.Timeline.open(db_path) as store:
        store.append(_statements("a", 1), story=STORY)
        assert store.verify() == 1


# --- no driver errors leak ------------------------------------------------------------


@pytest.mark.parametrize(
    "use",
    [
        lambda s: s.append([_statement("z")], story=STORY),
        lambda s: list(s.events()),
        lambda s: list(s.events(actor="nvidia")),
        lambda s: s.get("a-0"),
        lambda s: s.verify(),
        lambda s: s.actors(),
        lambda s: s.stories(),
        lambda s: s.load(H200),
        lambda s: s.register_actor("someone"),
    ],
    ids=[
        "append",
        "events",
        "events-by-actor",
        "get",
        "verify",
        "actors",
        "stories",
        "load",
        "register-actor",
    ],
)
def test_using_a_closed_store_raises_store_error_not_a_sqlite_error(
    db_path: Path, use: Any
) -> None:
    store = tl.Timeline.open(db_path)
    store.append(_statements("a", 1), story=STORY)
    store.close()
    with pytest.raises(tl.StoreError, match="the store is closed"):
        use(store)


def test_a_stream_opened_before_close_raises_store_error_when_read_after(db_path: Path) -> None:
    store = tl.Timeline.open(db_path)
    store.append(_statements("a", 600), story=STORY)
    events = store.events()
    next(events)
    store.close()
    with pytest.raises(tl.StoreError, match="closed"):
        list(events)


def test_closing_a_store_twice_is_harmless(db_path: Path) -> None:
    store = tl.Timeline.open(db_path)
    store.close()
    store.close()
    with pytest.raises(tl.StoreError, match="the store is closed"):
        store.verify()


def test_text_with_a_lone_surrogate_is_refused_before_anything_is_written(
    store: tl.Timeline, db_path: Path
) -> None:
    with pytest.raises(tl.ValidationError, match="lone surrogate"):
        store.append([_statement("a"), _statement("b", summary="bad \ud800")], story=STORY)
    assert _count(db_path) == 0


@attrs.frozen(kw_only=True)
class MergerVoteV1(tl.Event):
    """Version 1 of "merger_vote", as it was when the v1 sample row was written."""

    actor_fields = ("board",)

    board: str
    in_favour: bool


def _v1_registry() -> tl.Registry:
    registry = registry_with_builtins()
    tl.event_type("merger_vote", version=1, registry=registry)(MergerVoteV1)
    return registry


def _v2_registry(*, with_upcaster: bool = True) -> tl.Registry:
    registry = registry_with_builtins()
    tl.event_type("merger_vote", version=2, registry=registry)(MergerVoteV2)
    if with_upcaster:
        tl.upcaster("merger_vote", 1, registry=registry)(upcast_merger_vote_v1_v2)
    return registry


def _store_v1_vote(path: Path) -> None:
    v1 = tl.Codec(_v1_registry()).loads(MERGER_VOTE_V1_PAYLOAD)
    with tl.Timeline.open(path, registry=_v1_registry()) as store:
        store.append([v1], story=STORY)


def test_version_one_stores_the_v1_sample_payload(db_path: Path) -> None:
    _store_v1_vote(db_path)
    conn = _raw(db_path)
    payload, version = conn.execute("SELECT payload, schema_version FROM events").fetchone()
    conn.close()
    stored, sample = json.loads(payload), json.loads(MERGER_VOTE_V1_PAYLOAD)
    filled_by_the_store = ("story", "reported_at", "reported_until", "occurred_until")
    # the envelope gained these (empty by default) after the sample was written
    newer_envelope = {"sources": [], "basis": "unknown", "about": []}
    assert version == 1
    assert {k: v for k, v in stored.items() if k not in filled_by_the_store} == {
        **{k: v for k, v in sample.items() if k not in filled_by_the_store},
        **newer_envelope,
    }


def test_a_stored_v1_row_reads_back_as_the_v2_record(db_path: Path) -> None:
    _store_v1_vote(db_path)
    with tl.Timeline.open(db_path, registry=_v2_registry()) as store:
        (stored,) = store.events()
    assert isinstance(stored.event, MergerVoteV2)
    assert (stored.event.id, stored.event.board, stored.event.position) == (
        "mv-1",
        "acme-board",
        tl.Position.SUPPORTS,
    )


def test_reading_an_upcast_row_leaves_it_as_stored(db_path: Path) -> None:
    _store_v1_vote(db_path)
    with tl.Timeline.open(db_path, registry=_v2_registry()) as store:
        list(store.events())
        assert store.verify() == 1
    assert _count(db_path) == 1


def test_a_stored_v1_row_without_an_upcaster_raises_unknown_event_type_error(
    db_path: Path,
) -> None:
    _store_v1_vote(db_path)
    with (
        tl.Timeline.open(db_path, registry=_v2_registry(with_upcaster=False)) as store,
        pytest.raises(tl.UnknownEventTypeError, match="no upcaster for event type 'merger_vote'"),
    ):
        list(store.events())


def test_a_row_newer_than_the_registered_version_raises_unknown_event_type_error(
    db_path: Path,
) -> None:
    with tl.Timeline.open(db_path, registry=_v2_registry()) as store:
        store.append(
            [MergerVoteV2(occurred_at=T, board="acme-board", position=tl.Position.SUPPORTS)],
            story=STORY,
        )
    with (
        tl.Timeline.open(db_path, registry=_v1_registry()) as store,
        pytest.raises(tl.UnknownEventTypeError, match="schema version 2 is newer"),
    ):
        list(store.events())

"""The SQLite event store, on real files: ordering, concurrency, idempotency,
atomic batches, tamper evidence, the store clock, filters, indexes, streaming,
foreign files, and user types and upcasters stored and read back."""

from __future__ import annotations

import inspect
import itertools
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from freezegun import freeze_time
from hypothesis import given, settings

import timeline as tl
from tests.conftest import H200, StepClock
from tests.strategies import ALL_EVENTS, USER_REGISTRY, registry_with_builtins
from tests.unit.test_registry import MERGER_VOTE_V1_PAYLOAD, MergerVoteV2, upcast_merger_vote_v1_v2

STORY = "trade"
T = datetime(2025, 12, 8, tzinfo=UTC)
US = timedelta(microseconds=1)


def _statement(event_id: str, **overrides: Any) -> tl.Statement:
    fields: dict[str, Any] = {"id": event_id, "occurred_at": T, "actor": "nvidia", "topic": "h200"}
    return tl.Statement(**{**fields, **overrides})


def _statements(prefix: str, count: int) -> list[tl.Event]:
    return [_statement(f"{prefix}-{i}") for i in range(count)]


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


# --- positions and versions -----------------------------------------------------------


def test_positions_strictly_increase_across_batches_and_stories(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story="one")
    store.append(_statements("b", 2), story="two")
    store.append(_statements("c", 1), story="one")
    assert [e.position for e in store.events()] == [1, 2, 3, 4, 5]


def test_versions_count_from_one_within_each_story(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story="one")
    store.append(_statements("b", 2), story="two")
    store.append(_statements("c", 1), story="one")
    assert [(e.story, e.version) for e in store.events()] == [
        ("one", 1),
        ("one", 2),
        ("two", 1),
        ("two", 2),
        ("one", 3),
    ]


def test_append_reports_the_storys_new_version(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY)
    assert store.append(_statements("b", 3), story=STORY).version == 5


def test_events_carry_the_story_of_their_batch(store: tl.Timeline) -> None:
    store.append(_statements("a", 1), story=STORY)
    (recorded,) = store.events()
    assert (recorded.story, recorded.event.story) == (STORY, STORY)


def test_an_event_of_another_story_is_refused_in_a_batch(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="belongs to story 'other', not 'trade'"):
        store.append([_statement("a", story="other")], story=STORY)


@pytest.mark.parametrize("story", ["", "   ", 5])
def test_a_blank_or_non_text_story_is_refused(
    store: tl.Timeline, db_path: Path, story: Any
) -> None:
    with pytest.raises(tl.ValidationError, match="story: must be a non-empty slug"):
        store.append(_statements("a", 1), story=story)
    assert _count(db_path) == 0


def test_a_batch_without_any_story_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="no story given for the batch"):
        store.append(_statements("a", 1))


@pytest.mark.parametrize("item", ["h200-0001", None, {"type": "report"}])
def test_a_batch_item_that_is_not_a_record_is_refused(store: tl.Timeline, item: Any) -> None:
    with pytest.raises(tl.ValidationError, match="batch item #1 is not an event record"):
        store.append([_statement("a"), item], story=STORY)


def test_a_single_event_instead_of_a_list_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="pass a list of events"):
        store.append(_statement("a"), story=STORY)  # type: ignore[arg-type]


# --- optimistic concurrency -----------------------------------------------------------


def test_append_with_the_current_expected_version_succeeds(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY, expected_version=0)
    result = store.append(_statements("b", 1), story=STORY, expected_version=2)
    assert result.version == 3


def test_append_with_stale_expected_version_raises_naming_both_versions(
    store: tl.Timeline,
) -> None:
    store.append(_statements("a", 2), story=STORY)
    with pytest.raises(tl.ConcurrencyError, match="'trade' is at version 2, expected 1") as info:
        store.append(_statements("b", 1), story=STORY, expected_version=1)
    assert (info.value.story, info.value.expected, info.value.actual) == (STORY, 1, 2)


def test_append_with_stale_expected_version_writes_nothing(
    store: tl.Timeline, db_path: Path
) -> None:
    store.append(_statements("a", 2), story=STORY)
    with pytest.raises(tl.ConcurrencyError, match="expected 1"):
        store.append([_statement("new", actor="someone-new")], story=STORY, expected_version=1)
    assert (_count(db_path), store.get("new")) == (2, None)
    assert "someone-new" not in [a.id for a in store.actors()]


# --- atomic batches -------------------------------------------------------------------


def test_a_batch_whose_third_event_corrects_an_unknown_id_leaves_no_trace(
    store: tl.Timeline, db_path: Path
) -> None:
    store.append(_statements("before", 1), story=STORY)
    batch: list[tl.Event] = [
        _statement("x-1", actor="newcomer"),
        _statement("x-2"),
        tl.Correction(id="x-3", occurred_at=T, corrects="nowhere", replacement=_statement("r")),
    ]
    with pytest.raises(tl.ValidationError, match="'nowhere' is not in the store"):
        store.append(batch, story="fresh")
    assert [_count(db_path, t) for t in ("events", "event_actors", "stories")] == [1, 1, 1]
    assert [a.id for a in store.actors()] == ["nvidia"]


def test_a_batch_that_fails_on_a_duplicate_leaves_no_trace(
    store: tl.Timeline, db_path: Path
) -> None:
    store.append([_statement("taken")], story=STORY)
    batch = [_statement("y-1"), _statement("y-2"), _statement("taken", topic="changed")]
    with pytest.raises(tl.DuplicateEventError, match="'taken'"):
        store.append(batch, story=STORY)
    assert (_count(db_path), _count(db_path, "event_actors")) == (1, 1)
    assert [e.id for e in store.events()] == ["taken"]


def test_a_failed_batch_does_not_consume_positions(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    with pytest.raises(tl.ValidationError, match="'zz' is not in the store"):
        store.append([_statement("b"), tl.Retraction(occurred_at=T, retracts="zz")], story=STORY)
    result = store.append([_statement("c")], story=STORY)
    assert (result.appended[0].position, result.version) == (2, 2)


def test_a_retraction_may_target_an_event_earlier_in_the_same_batch(
    store: tl.Timeline,
) -> None:
    result = store.append(
        [_statement("a"), tl.Retraction(id="r", occurred_at=T, retracts="a")], story=STORY
    )
    assert [e.id for e in result.appended] == ["a", "r"]


def test_a_correction_whose_replacement_has_another_type_is_refused(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    replacement = tl.Announcement(occurred_at=T, actor="nvidia", topic="h200", position="supports")
    correction = tl.Correction(occurred_at=T, corrects="a", replacement=replacement)
    with pytest.raises(tl.ValidationError, match="is a announcement but 'a' is a statement"):
        store.append([correction], story=STORY)


# --- idempotency ----------------------------------------------------------------------


def test_reappending_an_identical_event_is_skipped(store: tl.Timeline, db_path: Path) -> None:
    store.append([_statement("a")], story=STORY)
    result = store.append([_statement("a")], story=STORY)
    assert (result.appended, result.skipped, _count(db_path)) == ((), ("a",), 1)


def test_reappending_an_identical_event_leaves_the_version_alone(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    store.append([_statement("a")], story=STORY, expected_version=1)
    assert store.append([_statement("b")], story=STORY, expected_version=1).version == 2


def test_reappending_a_batch_appends_only_the_new_events(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY)
    result = store.append([*_statements("a", 2), _statement("b")], story=STORY)
    assert ([e.id for e in result.appended], result.skipped) == (["b"], ("a-0", "a-1"))


def test_the_same_id_with_other_content_raises_duplicate_event_error(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    with pytest.raises(tl.DuplicateEventError, match="'a' is already stored") as info:
        store.append([_statement("a", summary="different")], story=STORY)
    assert info.value.event_id == "a"


def test_the_same_id_twice_in_one_batch_with_other_content_is_refused(
    store: tl.Timeline, db_path: Path
) -> None:
    with pytest.raises(tl.DuplicateEventError, match="'a'"):
        store.append([_statement("a"), _statement("a", topic="other")], story=STORY)
    assert _count(db_path) == 0


def test_the_same_id_twice_in_one_batch_with_the_same_content_is_stored_once(
    store: tl.Timeline,
) -> None:
    result = store.append([_statement("a"), _statement("a")], story=STORY)
    assert ([e.id for e in result.appended], result.skipped) == (["a"], ("a",))


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


# --- tamper evidence ------------------------------------------------------------------


def test_verify_counts_the_events_of_an_untouched_store(store: tl.Timeline) -> None:
    store.append(_statements("a", 3), story=STORY)
    assert store.verify() == 3


def test_verify_of_an_empty_store_counts_nothing(store: tl.Timeline) -> None:
    assert store.verify() == 0


def test_verify_names_the_row_whose_payload_was_edited(store: tl.Timeline, db_path: Path) -> None:
    store.append(_statements("a", 4), story=STORY)
    _tamper(
        db_path,
        "UPDATE events SET payload = replace(payload, 'h200', 'h20') WHERE position = 3",
    )
    with pytest.raises(tl.IntegrityError, match="position 3") as info:
        store.verify()
    assert info.value.position == 3


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


def test_verify_names_the_position_of_a_deleted_middle_row(
    store: tl.Timeline, db_path: Path
) -> None:
    store.append(_statements("a", 5), story=STORY)
    _tamper(db_path, "DELETE FROM events WHERE position = 3")
    with pytest.raises(tl.IntegrityError, match="row missing") as info:
        store.verify()
    assert info.value.position == 3


def test_verify_names_the_position_of_a_deleted_last_row(store: tl.Timeline, db_path: Path) -> None:
    store.append(_statements("a", 5), story=STORY)
    _tamper(db_path, "DELETE FROM events WHERE position = 5")
    with pytest.raises(tl.IntegrityError, match="missing at the end") as info:
        store.verify()
    assert info.value.position == 5


# --- the store clock ------------------------------------------------------------------


def test_recorded_at_strictly_increases_under_a_frozen_system_clock(db_path: Path) -> None:
    with freeze_time("2026-03-01T12:00:00Z"), tl.Timeline.open(db_path) as store:
        store.append(_statements("a", 2), story=STORY)
        store.append(_statements("b", 2), story=STORY)
        recorded = [e.recorded_at for e in store.events()]
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert recorded == [start, start + US, start + 2 * US, start + 3 * US]


def test_recorded_at_strictly_increases_when_the_clock_goes_backwards(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append(_statements("a", 1), story=STORY)
    clock.advance(days=-30)
    store.append(_statements("b", 2), story=STORY)
    first, second, third = (e.recorded_at for e in store.events())
    assert (second - first, third - second) == (US, US)


def test_recorded_at_follows_a_clock_that_moves_forward(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append(_statements("a", 1), story=STORY)
    clock.advance(hours=1)
    store.append(_statements("b", 1), story=STORY)
    assert [e.recorded_at for e in store.events()] == [
        clock.current - timedelta(hours=1),
        clock.current,
    ]


def test_recorded_at_is_utc(store: tl.Timeline) -> None:
    store.append(_statements("a", 1), story=STORY)
    (recorded,) = store.events()
    assert recorded.recorded_at.utcoffset() == timedelta(0)


# --- reported_at ----------------------------------------------------------------------


def test_reported_at_defaults_to_the_sources_published_at(store: tl.Timeline) -> None:
    published = datetime(2025, 12, 10, tzinfo=UTC)
    source = tl.Source(publisher="Reuters", published_at=published)
    store.append([_statement("a", source=source)], story=STORY)
    assert store.events().__next__().reported_at == published


def test_reported_at_defaults_to_recorded_at_without_a_published_source(
    store: tl.Timeline, clock: StepClock
) -> None:
    store.append([_statement("a", source=tl.Source(publisher="Reuters"))], story=STORY)
    (recorded,) = store.events()
    assert recorded.reported_at == recorded.recorded_at == clock.current


def test_an_explicit_reported_at_is_kept(store: tl.Timeline) -> None:
    source = tl.Source(publisher="Reuters", published_at=datetime(2025, 12, 10, tzinfo=UTC))
    reported = datetime(2025, 12, 9, tzinfo=UTC)
    store.append([_statement("a", source=source, reported_at=reported)], story=STORY)
    (recorded,) = store.events()
    assert recorded.reported_at == reported


# --- filters --------------------------------------------------------------------------


def _ids(events: Iterator[tl.RecordedEvent]) -> list[str]:
    return [e.id for e in events]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def news(store: tl.Timeline) -> tl.Timeline:
    """Five events in two stories, with known occurred and reported times."""
    store.register_actor("gov", name="Government", aliases=["The State"])
    wire = tl.Source(publisher="Wire", published_at=_at("2025-12-02T00:00:00+00:00"))
    store.append(
        [
            tl.PolicyChange(
                id="p1",
                occurred_at=_at("2025-12-01T00:00:00+00:00"),
                source=wire,
                authority="gov",
                topic="exports",
                measure="permit",
            ),
            tl.Inquiry(
                id="i1",
                occurred_at=_at("2025-12-08T23:59:59+00:00"),
                reported_at=_at("2025-12-10T00:00:00+00:00"),
                inquirers=["acme"],
                supplier="chipco",
                product="X1",
            ),
            _statement(
                "st1",
                actor="chipco",
                occurred_at=_at("2025-12-09T12:00:00+00:00"),
                reported_at=_at("2025-12-09T13:00:00+00:00"),
            ),
        ],
        story="s1",
    )
    store.append(
        [
            tl.Announcement(
                id="a1",
                occurred_at=_at("2025-12-10T00:00:00+00:00"),
                reported_at=_at("2025-12-10T00:00:00+00:00"),
                actor="The State",
                topic="exports",
                position="supports",
            ),
            _statement(
                "st2",
                actor="acme",
                occurred_at=_at("2025-12-09T00:00:00+00:00"),
                reported_at=_at("2025-12-11T00:00:00+00:00"),
            ),
        ],
        story="s2",
    )
    return store


def test_events_without_filters_yields_everything_in_log_order(news: tl.Timeline) -> None:
    assert _ids(news.events()) == ["p1", "i1", "st1", "a1", "st2"]


def test_events_filters_by_story(news: tl.Timeline) -> None:
    assert _ids(news.events(story="s2")) == ["a1", "st2"]


def test_events_filters_by_actor(news: tl.Timeline) -> None:
    assert _ids(news.events(actor="acme")) == ["i1", "st2"]


def test_events_resolves_an_actor_alias_case_insensitively(news: tl.Timeline) -> None:
    assert _ids(news.events(actor="the STATE")) == ["p1", "a1"]


def test_append_stores_an_alias_as_the_actor_id(news: tl.Timeline) -> None:
    a1 = news.get("a1")
    assert a1 is not None
    assert a1.event.actor == "gov"  # type: ignore[attr-defined]


def test_events_for_an_unknown_actor_raises_unknown_actor_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError, match="'martians'"):
        news.events(actor="martians")


def test_events_filters_by_type(news: tl.Timeline) -> None:
    assert _ids(news.events(type="statement")) == ["st1", "st2"]


def test_events_filters_by_several_types(news: tl.Timeline) -> None:
    assert _ids(news.events(type=["statement", "announcement"])) == ["st1", "a1", "st2"]


def test_events_for_an_unknown_type_raises_unknown_event_type_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="'rumour'"):
        news.events(type="rumour")


def test_events_filters_by_occurred_at_between_since_and_until(news: tl.Timeline) -> None:
    assert _ids(news.events(since="2025-12-08", until="2025-12-09")) == ["i1", "st1", "st2"]


def test_a_date_only_until_includes_the_last_moment_of_that_day(news: tl.Timeline) -> None:
    assert _ids(news.events(until="2025-12-08")) == ["p1", "i1"]


def test_a_full_timestamp_until_is_inclusive(news: tl.Timeline) -> None:
    assert _ids(news.events(since="2025-12-09T12:00:00Z", until="2025-12-10T00:00:00Z")) == [
        "st1",
        "a1",
    ]


def test_events_filters_by_reported_since(news: tl.Timeline) -> None:
    assert _ids(news.events(reported_since="2025-12-10")) == ["i1", "a1", "st2"]


def test_events_filters_by_reported_until(news: tl.Timeline) -> None:
    assert _ids(news.events(reported_until="2025-12-09")) == ["p1", "st1"]


def test_events_filters_combine(news: tl.Timeline) -> None:
    assert _ids(news.events(actor="acme", type="statement", story="s2")) == ["st2"]


def test_events_in_occurred_order_sort_by_occurred_at(news: tl.Timeline) -> None:
    assert _ids(news.events(order="occurred")) == ["p1", "i1", "st2", "st1", "a1"]


def test_events_in_reported_order_sort_by_reported_at(news: tl.Timeline) -> None:
    assert _ids(news.events(order="reported")) == ["p1", "st1", "i1", "a1", "st2"]


def test_a_malformed_bound_raises_validation_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="since: invalid date or time '2025-02-30'"):
        news.events(since="2025-02-30")


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
        assert (_ids(store.events()), store.verify()) == (["a-0", "a-1"], 2)


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


# --- every type, and user types, round-trip through a real store ----------------------------------


@pytest.mark.parametrize("type_name", sorted(ALL_EVENTS))
def test_every_type_reads_back_as_appended_apart_from_story_and_reported_at(
    tmp_path: Path, type_name: str
) -> None:
    ids = itertools.count()
    with tl.Timeline.open(tmp_path / "store.db", registry=USER_REGISTRY) as store:

        @settings(max_examples=15, deadline=None)
        @given(ALL_EVENTS[type_name])
        def check(event: tl.Event) -> None:
            n = next(ids)
            event = attrs.evolve(event, id=f"{n}:{event.id}")
            story = event.story or STORY
            if isinstance(event, tl.Correction):
                target = attrs.evolve(event.replacement, id=f"{n}:target", story=None)
                store.append([target], story=story)
                event = attrs.evolve(event, corrects=target.id)
            elif isinstance(event, tl.Retraction):
                target = tl.Report(id=f"{n}:target", occurred_at=T)
                store.append([target], story=story)
                event = attrs.evolve(event, retracts=target.id)
            (appended,) = store.append([event], story=story).appended
            stored = store.get(event.id)
            assert stored is not None
            expected = attrs.evolve(
                event,
                story=story,
                reported_at=event.effective_reported_at or appended.recorded_at,
            )
            assert stored.event == expected
            assert stored.event == appended.event
            assert store.type_name(stored.event) == type_name

        check()


def test_a_user_type_round_trips_through_a_store(db_path: Path) -> None:
    registry = registry_with_builtins()

    @tl.event_type("merger_vote", version=2, registry=registry)
    @attrs.frozen(kw_only=True)
    class MergerVote(tl.Event):
        actor_fields = ("board",)
        board: str
        position: tl.Position
        seats: int = 0

    vote = MergerVote(
        id="v", occurred_at=T, board="acme-board", position=tl.Position.OPPOSES, seats=7
    )
    with tl.Timeline.open(db_path, registry=registry) as store:
        store.append([vote], story=STORY)
    with tl.Timeline.open(db_path, registry=registry) as store:
        (stored,) = store.events(actor="acme-board")
    assert stored.event == attrs.evolve(vote, story=STORY, reported_at=stored.recorded_at)
    assert stored.event.position is tl.Position.OPPOSES  # type: ignore[attr-defined]


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
    filled_by_the_store = ("story", "reported_at")
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

"""The PostgreSQL store's append in one round trip, checked by the server.

A single append builds its rows on what the writer's previous append saw (the
head, the story's version, the actors' counter, the server's clock) and sends
them in one statement; the server checks all of it under the append lock and
writes nothing when anything moved. These tests make things move between a
writer's appends (another writer, a stored id, a stale version) and check that
the log stays what the locked path would have made of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

import timeline as tl
from tests.conftest import H200
from timeline.fixtures import Fixture, read_fixture
from timeline.store import postgres as pg_store
from timeline.store._pg_schema import SEARCH_DOCUMENT
from timeline.times import to_text

T0 = datetime(2025, 12, 1, tzinfo=UTC)


def _event(n: int, *, actor: str = "gov", prefix: str = "e") -> tl.Statement:
    return tl.Statement(
        id=f"{prefix}{n:04d}",
        occurred_at=T0 + timedelta(minutes=n),
        actor=actor,
        topic="exports",
        position="supports",
        summary=f"statement number {n}",
    )


class _Counting:
    """The store's connection, counting the statements and pipelines sent through it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.statements: list[str] = []
        self.pipelines = 0

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(str(sql))
        return self._conn.execute(sql, *args, **kwargs)

    def pipeline(self) -> Any:
        self.pipelines += 1
        return self._conn.pipeline()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[tl.Timeline, tl.Timeline]]:
    """Two writers on one store (each its own connection)."""
    with tl.Timeline.open(postgres_url) as a, tl.Timeline.open(postgres_url) as b:
        yield a, b


def _rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT position, id, story, version, recorded_at FROM events ORDER BY position"
        ).fetchall()


def test_a_warm_single_append_is_one_statement(postgres_url: str) -> None:
    with tl.Timeline.open(postgres_url) as store:
        store.append([_event(1)], story="s")  # registers the actor: the locked path
        store.append([_event(2)], story="s")
        counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
        store.store.conn = counting  # type: ignore[attr-defined]
        result = store.append([_event(3)], story="s")
        store.store.conn = counting._conn  # type: ignore[attr-defined]
        assert [(r.position, r.version) for r in result.appended] == [(3, 3)]
        assert len(counting.statements) == 1
        assert "timeline_append(" in counting.statements[0]
        assert counting.pipelines == 0
        assert store.verify() == 3


def test_two_writers_taking_turns_keep_positions_versions_and_the_chain(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    for n in range(1, 41):
        writer = a if n % 3 else b  # runs of two, so each writer's head is sometimes current
        story = "s" if n % 2 else "t"
        writer.append([_event(n, actor="gov" if n < 20 else "nvidia")], story=story)
    rows = _rows(postgres_url)
    assert [r[0] for r in rows] == list(range(1, 41))
    for story in ("s", "t"):
        assert [r[3] for r in rows if r[2] == story] == list(range(1, 21))
    recorded = [r[4] for r in rows]
    assert recorded == sorted(recorded)
    assert len(set(recorded)) == len(recorded)
    assert a.verify() == 40
    assert b.verify() == 40


def test_a_version_another_writer_moved_still_raises_a_concurrency_error(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s", expected_version=1)  # a knows version 2 now
    b.append([_event(3)], story="s", expected_version=2)
    with pytest.raises(tl.ConcurrencyError) as caught:
        a.append([_event(4)], story="s", expected_version=2)
    assert caught.value.actual == 3
    assert [r[1] for r in _rows(postgres_url)] == ["e0001", "e0002", "e0003"]
    result = a.append([_event(4)], story="s", expected_version=3)
    assert [r.version for r in result.appended] == [4]
    assert a.verify() == 4


def test_an_id_another_writer_stored_is_skipped_not_written_twice(
    pair: tuple[tl.Timeline, tl.Timeline], postgres_url: str
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s")
    b.append([_event(3)], story="s")
    result = a.append([_event(3), _event(4)], story="s")
    assert result.skipped == ("e0003",)
    assert [(r.event.id, r.position) for r in result.appended] == [("e0004", 4)]
    with pytest.raises(tl.DuplicateEventError):
        a.append([_event(3, actor="nvidia")], story="s")
    assert [r[1] for r in _rows(postgres_url)] == ["e0001", "e0002", "e0003", "e0004"]


def test_recorded_at_stays_within_the_server_clock_and_increases(
    postgres_url: str,
) -> None:
    with tl.Timeline.open(postgres_url) as store, psycopg.connect(postgres_url) as clock:

        def server_now() -> datetime:
            row = clock.execute("SELECT clock_timestamp()").fetchone()
            clock.rollback()
            assert row is not None
            value: datetime = row[0]
            return value

        store.append([_event(1)], story="s")
        last = None
        for n in range(2, 12):
            before = server_now()
            (recorded,) = store.append([_event(n)], story="s").appended
            after = server_now()
            slack = store.store.clock_slack  # type: ignore[attr-defined]
            assert before - slack <= recorded.recorded_at <= after
            assert last is None or recorded.recorded_at > last
            last = recorded.recorded_at
        assert last is not None
        assert _rows(postgres_url)[-1][4] == to_text(last)


def test_an_actor_registered_by_another_writer_is_resolved(
    pair: tuple[tl.Timeline, tl.Timeline],
) -> None:
    a, b = pair
    a.append([_event(1)], story="s")
    a.append([_event(2)], story="s")
    b.register_actor("nvidia", name="Nvidia", aliases=["NVDA"])
    (recorded,) = a.append([_event(3, actor="NVDA")], story="s").appended
    assert recorded.event.actor == "nvidia"  # type: ignore[attr-defined]
    assert [e.id for e in a.events(actor="nvidia")] == ["e0003"]


def test_an_id_the_writer_itself_stored_is_skipped_and_the_next_append_is_one_trip(
    postgres_url: str,
) -> None:
    with tl.Timeline.open(postgres_url) as store:
        store.append([_event(1)], story="s")
        store.append([_event(2)], story="s")
        # the writer's head is current: the server's unique key meets the stored id
        result = store.append([_event(2)], story="s")
        assert result.skipped == ("e0002",)
        assert result.appended == ()
        counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
        store.store.conn = counting  # type: ignore[attr-defined]
        (recorded,) = store.append([_event(3)], story="s").appended
        store.store.conn = counting._conn  # type: ignore[attr-defined]
        assert (recorded.position, recorded.version) == (3, 3)
        assert len(counting.statements) == 1
        with pytest.raises(tl.DuplicateEventError):
            store.append([_event(3, actor="nvidia")], story="s")
        assert store.verify() == 3
    assert [r[1] for r in _rows(postgres_url)] == ["e0001", "e0002", "e0003"]


def _documents(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each event's stored search document, and the one SEARCH_DOCUMENT builds from the
    stored payload and actors (as text, so that the weights and positions compare)."""
    select = SEARCH_DOCUMENT[SEARCH_DOCUMENT.index("SELECT") :]
    with psycopg.connect(url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT position, document::text FROM events_search ORDER BY position"
        ).fetchall()
        built = conn.execute(
            f"SELECT p, document::text FROM ({select}) d (p, document)", (0, 2**62)
        ).fetchall()
    return stored, built


def _one_event_at_a_time(store: tl.Timeline, fixture: Fixture) -> int:
    """Append the fixture's events one call each; how many took the one-trip path."""
    counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
    store.store.conn = counting  # type: ignore[attr-defined]
    try:
        for event in fixture.events:
            store.append([event], story=fixture.story)
    finally:
        store.store.conn = counting._conn  # type: ignore[attr-defined]
    return sum("timeline_append(" in s for s in counting.statements)


def test_one_trip_appends_index_the_searched_text_the_server_reads_from_the_payload(
    postgres_url: str,
) -> None:
    fixture = read_fixture(H200)
    said = next(e for e in fixture.events if isinstance(e, tl.Statement))
    amended = (
        tl.Correction(
            id="fix-1",
            occurred_at=said.occurred_at,
            corrects=said.id,
            replacement=attrs.evolve(said, summary="a corrected summary", quote="a new quote"),
        ),
        tl.Retraction(
            id="ret-1",
            occurred_at=said.occurred_at,
            retracts=fixture.events[0].id,
            reason="the publisher withdrew the report",
        ),
    )
    fixture = attrs.evolve(fixture, events=fixture.events + amended)
    with tl.Timeline.open(postgres_url) as store:
        for actor in fixture.actors:
            store.register_actor(actor.id, name=actor.name, kind=actor.kind, aliases=actor.aliases)
        one_trip = _one_event_at_a_time(store, fixture)
        assert one_trip >= len(fixture.events) - 2
        assert store.verify() == len(fixture.events)
        # quotes, lists of sources and actors with aliases are among them
        assert any(e.quote for e in fixture.events[:-2])
        assert any(len(e.sources) > 1 for e in fixture.events)
        assert any(a.aliases for a in fixture.actors)
        hits = [h.record.event.id for h in store.search('"export licence" OR nvidia OR quote*')]
        assert len(hits) > 3
    stored, built = _documents(postgres_url)
    assert [p for p, _ in stored] == list(range(1, len(fixture.events) + 1))
    assert stored == built
    with tl.Timeline.open(postgres_url) as again:
        assert [
            h.record.event.id for h in again.search('"export licence" OR nvidia OR quote*')
        ] == hits


def test_a_store_of_the_0013_schema_migrates_and_its_appends_index_alike(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture = read_fixture(H200)
    names = [name for name, _, _ in pg_store.MIGRATIONS]
    upto_0013 = pg_store.MIGRATIONS[: names.index("0013_one_trip_append") + 1]
    monkeypatch.setattr(pg_store, "MIGRATIONS", upto_0013)
    with tl.Timeline.open(postgres_url) as old:
        assert old.store.schema_names()[-1] == "0013_one_trip_append"  # type: ignore[attr-defined]
        old.load(H200)  # declared actors: the locked path, which 0013 has
    monkeypatch.undo()
    with tl.Timeline.open(postgres_url) as store:
        names = store.store.schema_names()  # type: ignore[attr-defined]
        assert names[-2:] == ["0014_cheaper_one_trip_append", "0015_compact_fold_keys"]
        before = [h.record.event.id for h in store.search("nvidia OR huawei")]
        later = [attrs.evolve(e, id=f"{e.id}-again", story="again") for e in fixture.events[:8]]
        store.append([later[0]], story="again")  # a new story: the locked path
        one_trip = _one_event_at_a_time(
            store, attrs.evolve(fixture, story="again", events=tuple(later[1:]))
        )
        assert one_trip == len(later) - 1
        assert store.verify() == len(fixture.events) + len(later)
        after = [h.record.event.id for h in store.search("nvidia OR huawei")]
        copied = {e.id for e in fixture.events[:8]}
        # the copies are found as their originals are, by the same index
        assert set(after) == set(before) | {f"{i}-again" for i in before if i in copied}
        assert set(before) & copied
    stored, built = _documents(postgres_url)
    assert stored == built
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = 'timeline_append' "
            "AND pronamespace = current_schema()::regnamespace"
        ).fetchone()
    assert row == (1,)


def test_text_with_quotes_backslashes_and_braces_arrives_as_written(postgres_url: str) -> None:
    hostile = 'a "quoted" word, a back\\slash \\" {braced, NULL} \'single\' \\\\ naïve\tend'
    with tl.Timeline.open(postgres_url) as store:
        store.append([_event(1)], story="s")
        store.append([_event(2)], story="s")
        counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
        store.store.conn = counting  # type: ignore[attr-defined]
        store.append([attrs.evolve(_event(3), summary=hostile, attribution='"x" \\')], story="s")
        store.store.conn = counting._conn  # type: ignore[attr-defined]
        assert len(counting.statements) == 1
        assert store.verify() == 3
        found = store.get("e0003")
        assert found is not None
        assert found.event.summary == hostile
        assert [h.record.event.id for h in store.search("braced")] == ["e0003"]
    stored, built = _documents(postgres_url)
    assert stored == built


def test_actors_registered_on_the_way_keep_the_lookup_without_reading_it_again(
    postgres_url: str,
) -> None:
    with tl.Timeline.open(postgres_url) as store:
        store.register_actor("gov", name="Government", aliases=["The State"])
        store.append([_event(1)], story="s")
        for n in range(2, 6):
            counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
            store.store.conn = counting  # type: ignore[attr-defined]
            store.append([_event(n, actor=f"new-{n}")], story="s")  # registers new-n
            store.store.conn = counting._conn  # type: ignore[attr-defined]
            # after the first, the identity index is the one the writer kept
            reads = [s for s in counting.statements if "FROM actors" in s and "WHERE" not in s]
            assert len(reads) == (1 if n == 2 else 0)
            counting = _Counting(store.store.conn)  # type: ignore[attr-defined]
            store.store.conn = counting  # type: ignore[attr-defined]
            store.append([_event(n + 10, actor="the state")], story="s")
            store.append([_event(n + 20, actor=f"NEW-{n}")], story="s")
            store.store.conn = counting._conn  # type: ignore[attr-defined]
            assert len(counting.statements) == 2  # one trip each, no look-up read
        assert [e.id for e in store.events(actor="new-3")] == ["e0003", "e0023"]
        assert [e.id for e in store.events(actor="gov")][-1] == "e0015"
        assert store.verify() == 13
        # a look-alike of an actor the kept index holds is still refused
        with pytest.raises(tl.ValidationError, match="new-3"):
            store.append([_event(40, actor="n\u0435w-3")], story="s")
        assert store.verify() == 13
    stored, built = _documents(postgres_url)
    assert stored == built
    with tl.Timeline.open(postgres_url) as again:
        assert {a.id for a in again.actors()} == {"gov", "new-2", "new-3", "new-4", "new-5"}


VALSORIN = Path(__file__).parents[1] / "data" / "valsorin-recall.json"


def _spelled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the writer spelled each staged event's searched text (``search_texts``)."""
    spelled: list[bool] = []
    real = pg_store.search_texts

    def watched(*args: Any) -> Any:
        texts = real(*args)
        spelled.append(texts is not None)
        return texts

    monkeypatch.setattr(pg_store, "search_texts", watched)
    return spelled


def test_streamed_loads_index_the_searched_text_the_server_reads_from_the_payload(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a load sends each event's searched text, spelled by the writer, and the server
    # builds only the tsvector; the documents are those the server builds from the
    # payload (quotes, several sources, actors with aliases, corrections, retractions)
    monkeypatch.setattr("timeline.fixtures.STREAM_CHUNK", 4)
    spelled = _spelled(monkeypatch)
    with tl.Timeline.open(postgres_url) as store:
        h200 = store.load(H200)
        valsorin = store.load(VALSORIN)
        loaded = h200.appended + valsorin.appended
        assert loaded > 30
        assert store.verify() == loaded
        hits = [h.record.event.id for h in store.search('"export licence" OR nvidia OR recall')]
        assert len(hits) > 3
    assert spelled == [True] * loaded
    stored, built = _documents(postgres_url)
    assert [p for p, _ in stored] == list(range(1, loaded + 1))
    assert stored == built
    fixtures = [read_fixture(H200), read_fixture(VALSORIN)]
    events = [e for f in fixtures for e in f.events]
    assert any(isinstance(e, tl.Correction) for e in events)
    assert any(isinstance(e, tl.Retraction) for e in events)
    assert any(len(e.sources) > 1 for e in events)
    assert any(a.aliases for f in fixtures for a in f.actors)


def test_an_event_naming_an_actor_new_to_its_chunk_is_indexed_by_the_server(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an actor registered by the chunk itself is not in the writer's actor texts yet:
    # the server spells that event's document; the others' the writer does
    spelled = _spelled(monkeypatch)
    with tl.Timeline.open(postgres_url) as store:
        store.register_actor("gov", name="The Government", aliases=("the state",))
        chunks = [
            [_event(0), _event(1, actor="newcomer-1"), _event(2)],
            [
                _event(3, actor="newcomer-1"),
                _event(4, actor="newcomer-2"),
                _event(5, actor="newcomer-3"),
                _event(6),
            ],
        ]
        assert store.store.append_chunks(chunks, story="s") == (7, 0)  # type: ignore[attr-defined]
        assert sorted(h.record.event.id for h in store.search("newcomer")) == [
            "e0001",
            "e0003",
            "e0004",
            "e0005",
        ]
        # the actor's alias is in its events' documents
        assert sorted(h.record.event.id for h in store.search('"the state"')) == [
            "e0000",
            "e0002",
            "e0006",
        ]
    # newcomer-1 is known to the second chunk (registered by the first); the server
    # spells e0004 and e0005 as one run
    assert spelled == [True, False, True, True, False, False, True]
    stored, built = _documents(postgres_url)
    assert [p for p, _ in stored] == [1, 2, 3, 4, 5, 6, 7]
    assert stored == built


def test_positions_fall_into_runs_of_consecutive_ones() -> None:
    assert list(pg_store._runs([])) == []
    assert list(pg_store._runs([7])) == [[7]]
    assert list(pg_store._runs([1, 2, 4, 5, 6, 9])) == [[1, 2], [4, 5, 6], [9]]


def test_a_copy_into_postgresql_indexes_the_searched_text_the_server_reads(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `timeline copy` (Timeline.copy_to) into PostgreSQL spells each copied event's
    # searched text from its stored payload and actors, as a streamed load does
    spelled = _spelled(monkeypatch)
    with tl.Timeline.open(tmp_path / "source.db") as source:
        loaded = source.load(H200).appended + source.load(VALSORIN).appended
        with tl.Timeline.open(postgres_url) as target:
            report = source.copy_to(target, chunk=7)
            assert report.copied == loaded
            assert target.verify() == loaded
            # the same events found (each backend ranks them its own way)
            hits = {h.record.event.id for h in target.search('"export licence" OR recall')}
            assert hits == {h.record.event.id for h in source.search('"export licence" OR recall')}
            assert len(hits) > 3
    assert spelled == [True] * loaded
    stored, built = _documents(postgres_url)
    assert [p for p, _ in stored] == list(range(1, loaded + 1))
    assert stored == built

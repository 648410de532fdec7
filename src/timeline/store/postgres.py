"""The append-only event store on PostgreSQL (psycopg 3, extra ``timeline[postgres]``).

The same rows as the SQLite store, with the same hash chain over the same
bytes: the payload is stored as ``text`` (``jsonb`` would reorder keys and
the chain could never be re-verified) and the times as the same sortable UTC
text. Appends are serialised by a transaction-scoped advisory lock; each takes
the head ``(position, hash, recorded_at)`` under it and writes explicit
positions, so positions are gapless and in commit order and a reader tailing
by position never misses an event. ``recorded_at`` comes from the server's
clock (``clock_timestamp()``), kept strictly increasing along the log.

``psycopg`` errors are translated here, once; none leaves this module.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from timeline import events as ev
from timeline.clock import Clock
from timeline.codec import Codec, default_codec, loads_trusted
from timeline.errors import (
    ConcurrencyError,
    StoreError,
    StoreFormatError,
    TimelineError,
    ValidationError,
)
from timeline.identity import IdentityIndex, fold
from timeline.store._batch import (
    Batch,
    check_append,
    counted_from,
    not_unicode,
    refuse_nul,
    refuse_nul_in_actors,
    stored_source,
)
from timeline.store._pg_schema import (
    MIGRATIONS,
    MIGRATIONS_TABLE,
    SEARCH_DOCUMENT,
    SEARCH_TEXTS,
)
from timeline.store._pg_search import as_tsquery, search_texts, text_array
from timeline.store._pg_snapshots import PostgresSnapshotStore
from timeline.store._where import POSTGRES, order_by
from timeline.store._where import where as where_sql
from timeline.store.base import (
    EVERYTHING,
    EventFilter,
    vague_extent_of,
)
from timeline.store.integrity import STORED, check_continues, verify_rows
from timeline.store.query_syntax import is_sqlite_only, parse, plain
from timeline.store.recorded import Actor, AppendResult, RecordedEvent, SearchHit
from timeline.store.registrations import COLUMNS as REGISTRATION_COLUMNS
from timeline.store.registrations import check as check_registrations
from timeline.store.registrations import set_titles, stored_identity, upsert_actors
from timeline.times import from_text, to_text

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CHANNEL",
    "PostgresEventStore",
    "PostgresSnapshotStore",
    "ReadOnlyReplicaError",
    "is_postgres_url",
]

# the NOTIFY channel: one notification per append, its payload the new head
CHANNEL = "timeline_events"
_SCHEMES = ("postgresql://", "postgres://")
_CHUNK = 1000
_INLINE = 100  # rows an append inserts in its pipeline; more go by COPY after it
_PIPELINED = 1000  # events an append stages in a pipeline; a larger one goes without
_PIPELINED_ID_CHARS = 64 * 1024  # ... and the characters of their ids
_STREAM_CHUNK = 500  # rows a streaming read fetches at a time
_LOCKED_TURNS = 8  # appends that take the locked path after a one-trip append lost a race
_CURSOR_NAMES = itertools.count(1)
_LOCK_KEY = "hashtext('timeline:' || current_schema())"


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a file."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class ReadOnlyReplicaError(StoreError):
    """A write was attempted on a read-only store or a standby (replica) server."""


# the actor an alias names, matched regardless of case as on SQLite
_ALIAS_OWNER = "SELECT actor FROM actor_aliases WHERE lower(alias) = lower(?)"


class _Qmark:
    """The write transaction's connection as the batch builder sees it (``?`` placeholders)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), parameters)


class _Fixed:
    """A clock read once: the server's time taken under the append lock."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


class _ServerClock:
    """``now()`` is the server's ``clock_timestamp()`` (one clock for every writer)."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store
        self.wait = True  # False: give up at once when another writer holds the lock

    def now(self) -> datetime:
        row = self._store.conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        value: datetime = row[0]
        return value


@attrs.frozen
class _Part:
    """One chunk of a streamed append: its story, its events, the actors it declares,
    the story version it expects and the story's title (``None``: unchanged)."""

    story: str
    events: list[ev.Event]
    declared: list[Actor]
    expected: int | None
    title: str | None


@attrs.define
class _Seen:
    """What an append read or wrote under the lock: the next append builds on it."""

    head: tuple[Any, ...] | None  # the last row's (position, recorded_at, hash)
    actors: int  # store_changes.actors: the cached actor lookup is good while it holds
    versions: dict[str, int]  # stories' versions at that head
    server_now: datetime  # the server's clock_timestamp() ...
    arrived: float  # ... and time.monotonic() when it arrived here
    stored: dict[str, str] = attrs.Factory(dict)  # payloads of the batch's stored ids
    wrote: bool = False


_APPEND_CALL = (
    "SELECT * FROM timeline_append("
    "%s, %s, %s::text[], %s, %s, %s, %s, %s, %s::text[], %s::text[], %s::text[])"
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise StoreError(
            "PostgreSQL stores need psycopg: pip install 'timeline[postgres]'"
        ) from exc
    return psycopg


class PostgresEventStore:
    """Low-level access to a store in one PostgreSQL schema (the connection's ``search_path``).

    Most users want :class:`timeline.Timeline`, whose ``open()`` picks this class
    for ``postgresql://`` URLs.
    """

    backend = "postgresql"
    # snapshot upkeep costs a writer a dozen round trips: done once this many events
    # have been appended one call at a time, not after each (readers fold the rest)
    upkeep_every = 500

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        codec: Codec | None = None,
        create: bool = True,
        readonly: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.label = redact(url)
        self.path = Path(urlsplit(url).path.lstrip("/") or "postgres")
        self.codec = codec or default_codec
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self.clock: Clock = clock or _ServerClock(self)
        self._writes = 0
        self._lookup: tuple[int, dict[str, str]] | None = None
        self._actor_texts: dict[str, str] = {}  # with the lookup: see search_texts()
        # the identity index as of store_changes.actors (see _stage), and the one an
        # append in progress keeps up (kept once it commits)
        self._identity: tuple[int, IdentityIndex] | None = None
        self._new_identity: IdentityIndex | None = None
        self._actors_seen = -1  # store_changes.actors when last read
        self.is_replica = False  # a standby server: read-only, learns by reading
        self._pg = _psycopg()
        self.conn: psycopg.Connection[Any] = self._connect()
        try:
            self._prepare(create)
        except BaseException:
            self.conn.close()
            raise

    # --- connecting and errors ------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        pg = self._pg
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.busy_timeout))
            )
        except pg.Error as exc:
            raise StoreError(f"{self.label}: cannot connect: {_first_line(exc)}") from exc
        return conn

    def _translate(self, exc: Exception) -> TimelineError:
        pg = self._pg
        text = _first_line(exc)
        if isinstance(exc, pg.errors.ReadOnlySqlTransaction):
            return ReadOnlyReplicaError(
                f"{self.label}: the server is a read-only replica; write to the primary ({text})"
            )
        if isinstance(exc, pg.errors.LockNotAvailable | pg.errors.QueryCanceled):
            return StoreError(
                f"{self.label}: another writer held the store's lock for more than "
                f"{self.busy_timeout:g} s; retry ({text})"
            )
        if isinstance(exc, pg.errors.UniqueViolation):
            return StoreError(f"{self.label}: a concurrent write took the same row; retry ({text})")
        if isinstance(exc, pg.OperationalError) or self.conn.closed or self.conn.broken:
            return StoreError(
                f"{self.label}: the connection to the server was lost; "
                f"nothing of this call was committed unless it returned; retry ({text})"
            )
        return StoreError(f"{self.label}: {text}")

    def _ensure_connected(self) -> None:
        """Reconnect after the server went away (a restart, a failover)."""
        if isinstance(self.conn, _Closed):
            self.conn.execute("")
        if self.conn.broken or self.conn.closed:
            self.conn = self._connect()
            self._lookup = None

    def close(self) -> None:
        """Close the connection; any later use raises ``StoreError``."""
        if isinstance(self.conn, _Closed):
            return
        if self._listen is not None:
            self._listen.close()
            self._listen = None
        if self._reading_conn is not None:
            self._reading_conn.close()
            self._reading_conn = None
        self.conn.close()
        self.conn = _Closed(self.label)  # type: ignore[assignment]

    # --- schema ---------------------------------------------------------------

    def _prepare(self, create: bool) -> None:
        pg = self._pg
        try:
            self.is_replica = bool(self._query("SELECT pg_is_in_recovery()")[0][0])
            tables = self._tables()
            self._check_format(tables)
            if not tables and (self.readonly or self.is_replica or not create):
                raise StoreFormatError(f"{self.label}: no timeline store in this database")
            pending = self._pending()
            if pending:
                if self.readonly or self.is_replica:
                    raise StoreFormatError(
                        f"{self.label}: store needs a schema upgrade but was opened read-only"
                    )
                self._migrate()
        except pg.Error as exc:
            raise self._translate(exc) from exc
        if self.is_replica:
            self.readonly = True

    def _tables(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def _applied(self) -> list[str]:
        rows = self.conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")
        return [r[0] for r in rows]

    def _pending(self) -> list[str]:
        if MIGRATIONS_TABLE not in self._tables():
            return [name for name, _, _ in MIGRATIONS]
        applied = set(self._applied())
        return [name for name, _, _ in MIGRATIONS if name not in applied]

    def _check_format(self, tables: set[str]) -> None:
        if not tables:
            return
        if MIGRATIONS_TABLE not in tables or "events" not in tables:
            raise StoreFormatError(
                f"{self.label}: not a timeline store (a database schema without timeline tables)"
            )
        applied = set(self._applied())
        if not applied:
            raise StoreFormatError(f"{self.label}: not a timeline store (no timeline schema)")
        newer = applied - {name for name, _, _ in MIGRATIONS}
        if newer:
            raise StoreFormatError(
                f"{self.label}: written by a newer version of timeline "
                f"(schema {', '.join(sorted(newer))}); upgrade timeline to open it"
            )

    def _migrate(self) -> None:
        """Create or upgrade the schema, one transaction per migration, under the lock."""
        with self.conn.transaction():
            # the migrations take the append lock alone (store_changes may not exist yet)
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('timeline:' || current_schema()))"
            )
            # another process may have created or migrated it while we waited
            self._check_format(self._tables())
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                "name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = set(self._applied())
            for name, statements, after in MIGRATIONS:
                if name in applied:
                    continue
                for statement in statements:
                    self.conn.execute(statement)
                if after is not None:
                    after(self.conn.execute)
                self.conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", (name,))

    def schema_names(self) -> list[str]:
        """Names of the applied schema migrations."""
        return self._applied()

    def _lock(self, wait: bool = True) -> None:
        """Take the store's append lock for the rest of the transaction.

        The key is derived from the schema, so stores in different schemas of
        one database do not wait for each other. With ``wait=False``: one try,
        then ``StoreError``.
        """
        # one round trip: the timeouts, the lock, and the change counter readers watch
        settings = (
            f"SET LOCAL lock_timeout = '{int(self.busy_timeout * 1000)}ms'; "
            "SET LOCAL idle_in_transaction_session_timeout = '60s'; "
        )
        key = "hashtext('timeline:' || current_schema())"
        if wait:
            self.conn.execute(
                f"{settings}SELECT pg_advisory_xact_lock({key}); "
                "UPDATE store_changes SET changes = changes + 1"
            )
            return
        cursor = self.conn.execute(f"{settings}SELECT pg_try_advisory_xact_lock({key})")
        cursor.nextset()
        cursor.nextset()
        row = cursor.fetchone()
        if row is None or not row[0]:
            raise StoreError(f"{self.label}: another writer holds the store's lock")
        self.conn.execute("UPDATE store_changes SET changes = changes + 1")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction (REPEATABLE READ, READ ONLY): every read inside sees
        the same committed log; it never takes the append lock, so writers and it
        never wait for each other. A no-op inside a transaction already open."""
        self._ensure_connected()
        if self.conn.info.transaction_status != self._pg.pq.TransactionStatus.IDLE:
            yield
            return
        try:
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield
        except self._pg.Error as exc:
            raise self._translate(exc) from exc

    # --- writing --------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.readonly:
            if self.is_replica:
                raise ReadOnlyReplicaError(
                    f"{self.label}: the server is a read-only replica (a standby); "
                    "writes go to the primary"
                )
            raise ReadOnlyReplicaError(f"{self.label}: store is open read-only; writes are refused")

    @contextlib.contextmanager
    def write(self, *, wait: bool = True) -> Iterator[_Qmark]:
        """One transaction under the append lock: all of it commits, or none of it.

        With ``wait=False`` it does not wait for another writer: ``StoreError``.
        """
        self._check_writable()
        pg = self._pg
        self._ensure_connected()
        self._writes += 1
        try:
            with self.conn.transaction():
                self._lock(wait)
                yield _Qmark(self.conn)
        except pg.Error as exc:
            self._lookup = None
            raise self._translate(exc) from exc
        except BaseException:
            self._lookup = None  # actors cached inside it may be rolled back
            raise
        finally:
            self._writes += 1

    def change_marker(self) -> tuple[int, int]:
        """Changes whenever the store may have changed (any writer's commit, or ours)."""
        try:
            self._ensure_connected()
            row = self.conn.execute("SELECT changes, actors FROM store_changes").fetchone()
        except self._pg.Error as exc:
            raise self._translate(exc) from exc
        assert row is not None
        self._actors_seen = int(row[1])
        return int(row[0]), self._writes

    def story_version(self, story: str) -> int:
        """The story's current version (0 if it has no events)."""
        row = self._query("SELECT MAX(version) FROM events WHERE story = %s", (story,))[0]
        return int(row[0] or 0)

    def append(
        self,
        events: Iterable[ev.Event],
        *,
        story: str | None = None,
        expected_version: int | None = None,
        actors: Iterable[Actor] = (),
        register_actors: bool = True,
        title: str | None = None,
    ) -> AppendResult:
        """Append a batch atomically. See :meth:`timeline.Timeline.append`."""
        batch, story, declared = check_append(events, story, title, actors)
        if story is None:
            return AppendResult()
        if len(batch) > _PIPELINED or sum(len(e.id) for e in batch) > _PIPELINED_ID_CHARS:
            # no pipeline: the ids of a large batch, sent in one message inside it, hung
            # the connection (100,000 ids of 10 characters, or 500 of 4,000); its rows
            # go by COPY in any case
            written: list[_PgBatch] = []
            self._append_parts(
                [_Part(story, batch, declared, expected_version, title)],
                register_actors,
                f"story {story!r}",
                keep=written.append,
            )
            if not written:
                return AppendResult()
            return AppendResult(
                appended=tuple(written[0].appended), skipped=tuple(written[0].skipped)
            )
        self._check_writable()
        self._ensure_connected()
        self._writes += 1
        try:
            if not declared and title is None and 0 < len(batch) <= _INLINE:
                done = self._append_one_trip(batch, story, expected_version, register_actors)
                if done is not None:
                    return done
            # two round trips: the lock and everything read under it in one, the
            # writes and the commit in another (server-side functions, pipelined)
            with self.conn.pipeline() as pipe:
                staged = self._stage(
                    pipe, batch, story, expected_version, declared, register_actors, title
                )
                inline = staged is None or len(staged.rows) <= _INLINE
                if inline:
                    self._write_staged(staged, story)
            if not inline:  # COPY cannot be pipelined
                assert staged is not None
                with self.conn.cursor() as cur, cur.copy(f"COPY events ({STORED}) FROM STDIN") as c:
                    for row in staged.rows:
                        c.write_row(row)
                with self.conn.pipeline():
                    self._write_staged(staged, story, copied=True)
        except BaseException as exc:
            self._seen = None
            self._new_identity = None
            if not isinstance(exc, ConcurrencyError):  # raised before any actor is written
                self._lookup = None  # actors cached inside it may be rolled back
            self._rollback()
            if isinstance(exc, self._pg.Error):
                raise self._translate(exc) from exc
            if isinstance(exc, UnicodeEncodeError):
                raise not_unicode(exc, f"story {story!r}") from exc
            raise
        finally:
            self._writes += 1
        self._seen = self._staged_seen
        if staged is None:
            return AppendResult()
        if staged.new_actors and not declared and self._staged_seen is not None:
            self._keep_lookup(staged, self._staged_seen.actors)
            index, self._new_identity = self._new_identity, None
            if index is not None and not index.stale:  # kept up by the upsert, committed
                self._identity = (self._staged_seen.actors, index)
        return AppendResult(appended=tuple(staged.appended), skipped=tuple(staged.skipped))

    def append_chunks(
        self,
        chunks: Iterable[Sequence[ev.Event]],
        *,
        story: str,
        expected_version: int | None = None,
        actors: Iterable[Actor] = (),
        register_actors: bool = True,
        title: str | None = None,
    ) -> tuple[int, int]:
        """Append batches that arrive one after another, all in ONE transaction (as
        :meth:`timeline.store.sqlite.EventStore.append_chunks` does on SQLite).

        For inputs too large to hold: each chunk is staged and written (``COPY``) as
        it comes, and a failure anywhere rolls back every chunk. Returns
        ``(appended, skipped)``. A refused event carries ``batch_index``: its index
        counted over all chunks.
        """
        refuse_nul(story, "story", f"story {story!r}")
        refuse_nul(title, "title", f"the title of story {story!r}")
        declared = list(actors)
        refuse_nul_in_actors(declared)

        def parts() -> Iterator[_Part]:
            first = True
            for chunk in chunks:
                if first:
                    yield _Part(story, list(chunk), declared, expected_version, title)
                else:
                    yield _Part(story, list(chunk), [], None, None)
                first = False
            if first:  # no events: the actors and the title still count
                yield _Part(story, [], declared, expected_version, title)

        counts = self._append_parts(parts(), register_actors, f"story {story!r}")
        return counts.get(story, (0, 0))

    def append_stories(
        self,
        chunks: Iterable[tuple[str, Sequence[ev.Event], Sequence[Actor]]],
    ) -> dict[str, tuple[int, int]]:
        """:meth:`append_chunks` for batches that may each belong to another story (as
        :meth:`timeline.store.sqlite.EventStore.append_stories` does on SQLite): each
        chunk is ``(story, events, actors it declares)``, written as it comes, all in
        ONE transaction. Returns ``{story: (appended, skipped)}`` in order of first
        appearance."""

        def parts() -> Iterator[_Part]:
            for story, chunk, actors in chunks:
                refuse_nul(story, "story", f"story {story!r}")
                declared = list(actors)
                refuse_nul_in_actors(declared)
                yield _Part(story, list(chunk), declared, None, None)

        return self._append_parts(parts(), False, "an imported event")

    def _append_parts(
        self,
        parts: Iterable[_Part],
        register_actors: bool,
        what: str,
        keep: Callable[[_PgBatch], None] | None = None,
    ) -> dict[str, tuple[int, int]]:
        """Stage and write each part as it comes, under the append lock, in one
        transaction: its rows by ``COPY``, then their actor and search rows. A later
        part builds on the rows the earlier ones wrote (the head, the stored ids, the
        targets of corrections, sources cited ``via``), read back inside the
        transaction; nothing of the parts is kept once written, unless ``keep`` takes
        each staged batch."""
        counts: dict[str, tuple[int, int]] = {}
        versions: dict[str, int] = {}  # the stories written so far, at their new versions
        identity: IdentityIndex | None = None  # kept up by the upserts that pass it
        offset = 0
        try:
            with self.write() as conn:
                for part in parts:
                    current = versions.get(part.story)
                    if current is None:
                        current = self.story_version(part.story)
                    if part.expected is not None and part.expected != current:
                        raise ConcurrencyError(part.story, part.expected, current)
                    if part.declared:
                        self._upsert_actors(part.declared)
                        identity = None
                    if part.title is not None:
                        self._set_titles([(part.story, part.title)])
                    appended, skipped = counts.get(part.story, (0, 0))
                    if part.events:
                        lookup = self.actor_lookup()  # (after the declared actors' upsert)
                        staged = _PgBatch(
                            conn,  # type: ignore[arg-type]
                            clock=self.clock,
                            codec=self.codec,
                            lookup=lookup,
                            story=part.story,
                            version=current,
                            register_actors=register_actors,
                            ids=[e.id for e in part.events],
                        )
                        # each event's searched text from the values in hand, as the
                        # one-trip append sends it: the server builds only the tsvector
                        staged.builds_search_rows = True
                        staged.actor_texts = self._actor_texts
                        with counted_from(offset):
                            staged.add_all(part.events)
                        if staged.new_actors:
                            if identity is None:
                                identity = stored_identity(conn)
                            self._upsert_actors(staged.new_actors.values(), index=identity)
                        if staged.rows:
                            self.insert_rows(staged.rows, staged.actor_rows, staged.search_rows)
                            self.conn.execute(
                                "INSERT INTO stories (story) VALUES (%s) ON CONFLICT DO NOTHING",
                                (part.story,),
                            )
                        versions[part.story] = staged.version
                        if keep is not None:
                            keep(staged)
                        appended += len(staged.appended)
                        skipped += len(staged.skipped)
                        offset += len(part.events)
                    counts[part.story] = (appended, skipped)
        except UnicodeEncodeError as exc:
            raise not_unicode(exc, what) from exc
        finally:
            # the one-trip append's view of the log is stale (or rolled back): the next
            # append takes a fresh look
            self._seen = None
        return counts

    def _keep_lookup(self, staged: _PgBatch, actors: int) -> None:
        """After a committed append that registered only unknown actor ids (each its
        own name, no aliases): the cached lookup with them added is the one a new read
        would give (no id, alias or name it holds folds like theirs, or they would not
        have been unknown), so the writer's next append reads none of it again."""
        lookup, texts = dict(staged.lookup), dict(self._actor_texts)
        for actor in staged.new_actors.values():
            if actor.name != actor.id or actor.aliases or actor.kind:
                return
            lookup[fold(actor.id)] = actor.id
            texts[actor.id] = f"{actor.id} {actor.id} []"
        self._lookup = (actors, lookup)
        self._actor_texts = texts

    # --- one round trip -------------------------------------------------------

    # what the last append read or wrote under the lock; the next one builds on it
    _seen: _Seen | None = None
    _staged_seen: _Seen | None = None  # the locked append's, once it commits
    _actor_bumps = 0  # actor upserts so far (each bumps store_changes.actors once)
    _locked_turns = 0  # appends left to the locked path after a lost race
    # how far before the server's clock an append's recorded_at may be: the
    # estimate is a lower bound of that clock, late by a reply's one-way latency
    clock_slack = timedelta(seconds=1)

    def _append_one_trip(
        self,
        batch: list[ev.Event],
        story: str,
        expected_version: int | None,
        register_actors: bool,
    ) -> AppendResult | None:
        """Append in one round trip, built on what the last append saw (see
        ``timeline_append``): the server checks it under the lock and writes the
        rows, or writes nothing and says what it found, and the rows are built
        again on that. ``None``: take the locked path (actors to register, every
        event already stored, a connection inside a transaction, a busy log)."""
        if self.conn.info.transaction_status != self._pg.pq.TransactionStatus.IDLE:
            return None
        if self._locked_turns:
            self._locked_turns -= 1
            return None
        seen, fresh = self._seen, False
        for _ in range(3):
            staged: _PgBatch | None = None
            current = None if seen is None else seen.versions.get(story)
            if seen is not None and current is not None:
                if expected_version is not None and expected_version != current:
                    if fresh:  # read under the lock just now
                        raise ConcurrencyError(story, expected_version, current)
                else:
                    staged = self._build(batch, story, current, seen, register_actors, fresh)
                    if (
                        staged.new_actors
                        or not staged.rows
                        or any(row[1] is None for row in staged.search_rows)
                    ):
                        return None
            try:
                seen = self._seen = self._call_append(batch, story, seen, staged)
            except self._pg.errors.UniqueViolation:
                # an id of the batch is stored (nothing was written): the locked
                # path finds it, and skips it or says how it differs
                return None
            if staged is not None:
                if seen.wrote:
                    return AppendResult(
                        appended=tuple(staged.appended), skipped=tuple(staged.skipped)
                    )
                # another writer came first (or an id was stored): with writers
                # racing, the locked path's two round trips beat building again,
                # so it takes this append and the next few
                self._locked_turns = _LOCKED_TURNS
                return None
            fresh = True  # that was a look at the log: build on what it found
        return None

    def _build(
        self,
        batch: list[ev.Event],
        story: str,
        current: int,
        seen: _Seen,
        register_actors: bool,
        fresh: bool,
    ) -> _PgBatch:
        if isinstance(self.clock, _ServerClock):
            now = seen.server_now + timedelta(seconds=time.monotonic() - seen.arrived)
        else:
            now = self.clock.now()
        self._actors_seen = seen.actors
        staged = _PgBatch(
            _Qmark(self.conn),  # type: ignore[arg-type]
            clock=_Fixed(now),
            codec=self.codec,
            lookup=self.actor_lookup(self._MARKED),
            story=story,
            version=current,
            register_actors=register_actors,
            ids=[e.id for e in batch],
            known=(seen.stored if fresh else {}, seen.head),
        )
        staged.builds_search_rows = True
        staged.actor_texts = self._actor_texts
        staged.add_all(batch)
        return staged

    def _call_append(
        self,
        batch: list[ev.Event],
        story: str,
        seen: _Seen | None,
        staged: _PgBatch | None,
    ) -> _Seen:
        """One call of ``timeline_append``: what the server saw under the lock."""
        rows = [] if staged is None else staged.rows
        # flat text arrays: a dozen arrays of one value cost more
        flat = text_array(str(v) for row in rows for i, v in enumerate(row) if i != 2)
        actor_flat = text_array(
            [] if staged is None else [str(v) for r in staged.actor_rows for v in r]
        )
        search_flat = text_array(
            [] if staged is None else [t for r in staged.search_rows for t in r[1]]
        )
        head = None if seen is None else seen.head
        server_clock = isinstance(self.clock, _ServerClock)
        now = staged.now if staged is not None else None
        row = self.conn.execute(
            _APPEND_CALL,
            (
                f"{int(self.busy_timeout * 1000)}ms",
                story,
                text_array(e.id for e in batch),
                -1 if seen is None else (head[0] if head else 0),
                "" if head is None else head[2],
                -1 if seen is None else seen.actors,
                now,
                self.clock_slack if server_clock else None,
                flat,
                actor_flat,
                search_flat,
            ),
        ).fetchone()
        arrived = time.monotonic()
        assert row is not None
        ok, actors, version, server_now, *last, stored_ids, stored_payloads = row
        if ok:
            assert staged is not None
            assert seen is not None
            last_row = rows[-1]
            return _Seen(
                head=(last_row[0], last_row[9], last_row[12]),
                actors=seen.actors,
                versions={**seen.versions, story: staged.version},
                server_now=server_now,
                arrived=arrived,
                wrote=True,
            )
        return _Seen(
            head=None if last[0] is None else tuple(last),
            actors=int(actors),
            versions={story: int(version or 0)},
            server_now=server_now,
            arrived=arrived,
            stored=dict(zip(stored_ids or (), stored_payloads or (), strict=True)),
        )

    def _rollback(self) -> None:
        """End a failed append's transaction (if the connection still stands)."""
        conn = self.conn
        if isinstance(conn, _Closed) or conn.closed or conn.broken:
            return
        if conn.info.transaction_status == self._pg.pq.TransactionStatus.IDLE:
            return
        with contextlib.suppress(self._pg.Error):
            conn.execute("ROLLBACK")

    def _stage(
        self,
        pipe: psycopg.Pipeline,
        batch: list[ev.Event],
        story: str,
        expected_version: int | None,
        declared: list[Actor],
        register_actors: bool,
        title: str | None,
    ) -> _PgBatch | None:
        """Begin, take the lock, read what the batch builds on, check and build its rows.

        ``None``: no events (actors and the title are still written)."""
        conn = self.conn
        conn.execute("BEGIN")
        cur = conn.execute(
            "SELECT * FROM timeline_append_begin(%s, %s, %s)",
            (f"{int(self.busy_timeout * 1000)}ms", story, [e.id for e in batch]),
        )
        pipe.sync()
        row = cur.fetchone()
        arrived = time.monotonic()
        assert row is not None
        actors, version, now, *last, stored_ids, stored_payloads = row
        self._actors_seen = int(actors)
        current = int(version or 0)
        if expected_version is not None and expected_version != current:
            raise ConcurrencyError(story, expected_version, current)
        bumps = self._actor_bumps
        self._staged_seen = _Seen(
            head=None if last[0] is None else tuple(last),
            actors=int(actors),
            versions={story: current},
            server_now=now,
            arrived=arrived,
        )
        if declared:
            self._upsert_actors(declared)
        if title is not None:
            self._set_titles([(story, title)])
        if not batch:
            self._staged_seen.actors += self._actor_bumps - bumps
            return None
        clock: Clock = _Fixed(now) if isinstance(self.clock, _ServerClock) else self.clock
        stored = dict(zip(stored_ids or (), stored_payloads or (), strict=True))
        staged = _PgBatch(
            _Qmark(conn),  # type: ignore[arg-type]
            clock=clock,
            codec=self.codec,
            lookup=self.actor_lookup(self._MARKED),
            story=story,
            version=current,
            register_actors=register_actors,
            ids=[e.id for e in batch],
            known=(stored, None if last[0] is None else tuple(last)),
        )
        staged.add_all(batch)
        if staged.new_actors:
            # the identity index this writer kept, if no actor changed since: a new
            # actor is checked against it instead of every stored actor read again
            kept, self._identity = self._identity, None
            if not declared and kept is not None and kept[0] == int(actors):
                self._new_identity = kept[1]
            else:
                self._new_identity = stored_identity(_Qmark(conn))
            self._upsert_actors(staged.new_actors.values(), index=self._new_identity)
        if staged.rows:
            last_row = staged.rows[-1]
            self._staged_seen.head = (last_row[0], last_row[9], last_row[12])
            self._staged_seen.versions[story] = staged.version
        # under the lock, each upsert bumped the counter by one
        self._staged_seen.actors += self._actor_bumps - bumps
        return staged

    # actor_lookup() with this marker uses the counter the append read under the lock
    _MARKED = (0, 0)

    def _write_staged(self, staged: _PgBatch | None, story: str, *, copied: bool = False) -> None:
        """Queue the batch's writes (events unless ``copied``), its index rows and the commit."""
        conn = self.conn
        rows = [] if staged is None else staged.rows
        if rows:
            assert staged is not None
            if not copied:
                with conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO events ({STORED}) VALUES ({', '.join(['%s'] * 15)})", rows
                    )
            positions, actors, roles = (
                [list(c) for c in zip(*staged.actor_rows, strict=True)]
                if staged.actor_rows
                else ([], [], [])
            )
            conn.execute(
                "SELECT timeline_append_end(%s, %s, %s, %s, %s)",
                (rows[-1][0], story, positions, actors, roles),
            )
            # after the actor rows: the search document holds the actors' names
            conn.execute(SEARCH_DOCUMENT, (rows[0][0] - 1, rows[-1][0]))
        else:
            conn.execute("INSERT INTO stories (story) VALUES (%s) ON CONFLICT DO NOTHING", (story,))
        conn.execute("COMMIT")

    def insert_rows(
        self,
        rows: Sequence[Sequence[Any]],
        actor_rows: Iterable[Sequence[Any]],
        search_rows: Sequence[tuple[int, tuple[str, str, str, str] | None]],
    ) -> None:
        """Write complete rows (inside :meth:`write`), index them, and notify followers.

        ``search_rows``: each row's ``(position, searched text)`` as :func:`search_texts`
        spells it; for a row it cannot spell (``None``) the server reads the payload and
        the actors."""
        with self.conn.cursor() as cur, cur.copy(f"COPY events ({STORED}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self._index_rows(rows, actor_rows, search_rows)

    def _index_rows(
        self,
        rows: Sequence[Sequence[Any]],
        actor_rows: Iterable[Sequence[Any]],
        search_rows: Sequence[tuple[int, tuple[str, str, str, str] | None]],
    ) -> None:
        """The actor and search rows of written events, the reached mark, the notification."""
        with self.conn.cursor() as cur:
            actor_rows = list(actor_rows)
            if actor_rows:
                cur.executemany(
                    "INSERT INTO event_actors (position, actor, role) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    actor_rows,
                )
            spelled = [(p, texts) for p, texts in search_rows if texts is not None]
            if spelled:
                columns = [[p for p, _ in spelled]] + [
                    [texts[i] for _, texts in spelled] for i in range(4)
                ]
                cur.execute(SEARCH_TEXTS, columns)
            # the others' payloads and actors the server reads, a run of them at a time
            unspelled = [p for p, texts in search_rows if texts is None]
            for run in _runs(unspelled):
                cur.execute(SEARCH_DOCUMENT, (run[0] - 1, run[-1]))
            cur.execute("UPDATE store_changes SET reached = GREATEST(reached, %s)", (rows[-1][0],))
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(rows[-1][0])))

    def copy_rows(
        self,
        rows: Sequence[Sequence[Any]],
        actor_rows: Iterable[Sequence[Any]],
        actors: Iterable[Actor],
        stories: Iterable[tuple[str, str | None]],
    ) -> None:
        """Write rows taken from another store as they are (positions, times, hashes).

        One transaction; the rows must continue this log's chain exactly.

        Raises:
            IntegrityError: the first row does not follow this store's head.
        """
        with self.write():
            last = self.conn.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            check_continues(last, rows)
            self._upsert_actors(actors)
            self._set_titles(stories)
            if rows:
                actor_rows = list(actor_rows)
                self.insert_rows(rows, actor_rows, self._search_rows_of(rows, actor_rows))

    def _search_rows_of(
        self, rows: Sequence[Sequence[Any]], actor_rows: Sequence[Sequence[Any]]
    ) -> list[tuple[int, tuple[str, str, str, str] | None]]:
        """Stored rows' searched texts, spelled from their payloads and actors as a
        streamed load spells them (:func:`search_texts`), inside the write that stores
        them (the actors' texts read after their upsert)."""
        self.actor_lookup()
        texts = self._actor_texts
        named: dict[int, set[str]] = defaultdict(set)
        for position, actor, _ in actor_rows:
            named[position].add(actor)
        return [
            (row[0], search_texts(loads_trusted(row[_PAYLOAD]), sorted(named[row[0]]), texts))
            for row in rows
        ]

    # --- actors ---------------------------------------------------------------

    def actor_lookup(self, marker: tuple[int, int] | None = None) -> dict[str, str]:
        """Map of every id and alias (casefolded) to its actor id (cached until a change)."""
        if marker is None:
            self.change_marker()
        # keyed by the actors' own counter: other writers' appends leave it valid
        key = self._actors_seen
        if self._lookup is not None and self._lookup[0] == key:
            return self._lookup[1]
        out: dict[str, str] = {}
        # display names first, so that aliases and ids win; a name two actors share
        # is no name at all (as on SQLite)
        for name, actor in self._query(
            "SELECT MIN(name), MIN(id) FROM actors GROUP BY lower(name) HAVING COUNT(*) = 1"
        ):
            out[fold(name)] = actor
        for alias, actor in self._query("SELECT alias, actor FROM actor_aliases"):
            out[fold(alias)] = actor
        texts = {}
        for actor, name, aliases in self._query("SELECT id, name, aliases FROM actors"):
            out[fold(actor)] = actor
            texts[actor] = f"{actor} {name} {aliases}"  # as SEARCH_DOCUMENT spells an actor
        self._lookup = (key, out)
        self._actor_texts = texts
        return out

    def actors(self) -> list[Actor]:
        """Every known actor, sorted by id."""
        rows = self._query('SELECT id, name, kind, aliases FROM actors ORDER BY id COLLATE "C"')
        return [Actor(id=r[0], name=r[1], kind=r[2], aliases=tuple(json.loads(r[3]))) for r in rows]

    def register_actors(self, actors: Iterable[Actor]) -> None:
        """Declare or update actors (names, kinds, aliases) in one transaction."""
        declared = list(actors)
        refuse_nul_in_actors(declared)
        with self.write():
            self._upsert_actors(declared)

    def _upsert_actors(self, actors: Iterable[Actor], index: IdentityIndex | None = None) -> None:
        actors = list(actors)
        if actors:
            self.conn.execute("UPDATE store_changes SET actors = actors + 1")
            self._actor_bumps += 1
        upsert_actors(_Qmark(self.conn), actors, alias_owner=_ALIAS_OWNER, index=index)
        self._lookup = None
        self._identity = None

    def _set_titles(self, titles: Iterable[tuple[str, str | None]]) -> None:
        """Give stories these titles (``None`` keeps a story's title), registering each
        change."""
        set_titles(_Qmark(self.conn), titles)

    # --- reading --------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            self._ensure_connected()
            rows: list[tuple[Any, ...]] = self.conn.execute(sql, params).fetchall()
        except self._pg.Error as exc:
            raise self._translate(exc) from exc
        return rows

    def _stream(self, sql: str, params: Sequence[Any]) -> Generator[tuple[Any, ...], None, None]:
        """Rows through a server-side cursor, :data:`_STREAM_CHUNK` at a time, so a
        long log is never held in memory at once.

        Inside a transaction of the caller's (:meth:`reading`, :meth:`write`) the
        cursor lives in it. Otherwise it lives in a read-only transaction on a
        connection of its own, so the store's connection stays free for writes
        while the caller iterates. The cursor, and that transaction once no other
        stream uses it, end when the rows run out or when the caller stops early
        (the generator is closed or garbage-collected).
        """
        pg = self._pg
        self._ensure_connected()
        own = self.conn.info.transaction_status == pg.pq.TransactionStatus.IDLE
        name = f"timeline_rows_{next(_CURSOR_NAMES)}"
        conn = self.conn
        declared = False
        try:
            try:
                if own:
                    conn = self._reader()
                    if self._reader_streams == 0:
                        if conn.info.transaction_status != pg.pq.TransactionStatus.IDLE:
                            conn.execute("ROLLBACK")  # what a dropped stream left
                        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY")
                    self._reader_streams += 1
                conn.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", params)
                declared = True
            except pg.Error as exc:
                raise self._translate(exc) from exc
            fetch = f"FETCH {_STREAM_CHUNK} FROM {name}"
            while True:
                try:
                    rows = conn.execute(fetch).fetchall()
                except pg.Error as exc:
                    raise self._translate(exc) from exc
                yield from rows
                if len(rows) < _STREAM_CHUNK:
                    return
        finally:
            self._end_stream(conn, name, own=own, declared=declared)

    def _reader(self) -> psycopg.Connection[Any]:
        """The connection streams read on outside the caller's transactions."""
        reader = self._reading_conn
        if reader is None or reader.closed or reader.broken:
            reader = self._reading_conn = self._connect()
            self._reader_streams = 0
        return reader

    _reading_conn: psycopg.Connection[Any] | None = None
    _reader_streams = 0  # streams open on it (they share its read transaction)

    def _end_stream(
        self, conn: psycopg.Connection[Any], name: str, *, own: bool, declared: bool
    ) -> None:
        """Close a stream's cursor, and its transaction if it was the last one open."""
        pg = self._pg
        if own:
            self._reader_streams = max(0, self._reader_streams - 1)
        if isinstance(conn, _Closed) or conn.closed or conn.broken:
            return
        status = conn.info.transaction_status
        if conn.lock.locked():
            # finalised by the garbage collector in the middle of another call on
            # this connection: it cannot take a statement now. A reader connection
            # is dropped (the server ends its cursor and transaction with the
            # session); in the caller's transaction the cursor ends with it
            if own:
                conn.close()
            return
        try:
            if own:
                if status == pg.pq.TransactionStatus.INTRANS and self._reader_streams:
                    if declared:
                        conn.execute(f"CLOSE {name}")
                elif status != pg.pq.TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")  # read-only: nothing to keep
                return
            # the caller's transaction may have ended (and another begun) since
            if declared and status == pg.pq.TransactionStatus.INTRANS:
                open_ = conn.execute("SELECT 1 FROM pg_cursors WHERE name = %s", (name,))
                if open_.fetchone() is not None:
                    conn.execute(f"CLOSE {name}")
        except pg.Error:
            if own:
                conn.close()

    def read(self, where: EventFilter = EVERYTHING) -> Iterator[RecordedEvent]:
        """Stream stored events matching ``where``, in ``where.order``."""
        sql, params = self._select(
            "e.position, e.story, e.version, e.recorded_at, e.payload", where
        )
        return self._records(sql, params)

    def _records(self, sql: str, params: Sequence[Any]) -> Iterator[RecordedEvent]:
        decode, loads = self.codec.decode_trusted, loads_trusted
        with contextlib.closing(self._stream(sql, params)) as rows:
            for position, story_, version, recorded_at, payload in rows:
                yield RecordedEvent(
                    position=position,
                    story=story_,
                    version=version,
                    recorded_at=from_text(recorded_at),
                    event=decode(loads(payload)),
                )

    def read_events(
        self, where: EventFilter = EVERYTHING
    ) -> Iterator[tuple[datetime, int, ev.Event]]:
        """Like :meth:`read` but lean: ``(occurred_at, position, event)``."""
        sql, params = self._select("e.position, e.payload", where)
        return self._lean(sql, params, where.fields)

    def _lean(
        self, sql: str, params: Sequence[Any], fields: frozenset[str] | None = None
    ) -> Iterator[tuple[datetime, int, ev.Event]]:
        decode, loads = self.codec.trusted_decoder(fields), loads_trusted
        with contextlib.closing(self._stream(sql, params)) as rows:
            for position, payload in rows:
                event = decode(loads(payload))
                yield event.occurred_at, position, event

    def read_ids(
        self, ids: Iterable[str], where: EventFilter = EVERYTHING
    ) -> Iterator[RecordedEvent]:
        """The stored events with these ids that also match ``where``."""
        return self.read(where.but(ids=list(dict.fromkeys(ids))))

    def read_positions(self, positions: Iterable[int]) -> Iterator[RecordedEvent]:
        """The stored events at these log positions, by position (one read per chunk of
        positions: a per-fact refold looks up the events its facts' versions name)."""
        ordered = sorted(set(positions))
        for start in range(0, len(ordered), 1000):
            sql = (
                "SELECT e.position, e.story, e.version, e.recorded_at, e.payload FROM events e "
                "WHERE e.position = ANY(%s) ORDER BY e.position"
            )
            yield from self._records(sql, [ordered[start : start + 1000]])

    def policy_change_rows(self, where: EventFilter) -> list[tuple[Any, ...]]:
        """``(position, occurred_at text, id, product, schema_version)`` of the stored
        events matching ``where``, the fields read from the payloads on the server
        (nothing decoded here): a restriction refold decodes only the policy changes on
        the products its batch changes."""
        sql, params = self._select(
            "e.position, e.occurred_at, e.id, e.payload::json ->> 'product', "
            "(e.payload::json ->> 'schema_version')::integer",
            where,
        )
        return self._query(sql, params)

    def target_links(self, fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """``(id, target id)`` of every stored event of each ``(type name, target
        field)``: what each correction or retraction names, read from the payloads on
        the server (nothing decoded here). A field may be a dotted path
        (``replacement.type``), as on SQLite."""
        links: list[tuple[str, str]] = []
        for type_name, field in fields:
            links.extend(
                self._query(
                    "SELECT id, payload::json #>> %s FROM events WHERE type = %s",
                    (field.split("."), type_name),
                )
            )
        return [(i, t) for i, t in links if isinstance(t, str)]

    def _where(self, f: EventFilter) -> tuple[str, str, list[Any]]:
        """``(join, condition, params)`` selecting the events ``f`` matches (alias ``e``)."""
        join, join_params, condition, params = where_sql(f, POSTGRES)
        return join, condition, [*join_params, *params]

    def _select(self, columns: str, f: EventFilter) -> tuple[str, list[Any]]:
        join, condition, params = self._where(f)
        order = order_by(f.order, POSTGRES)
        sql = f"SELECT {columns} FROM events e {join} WHERE {condition} ORDER BY {order}"
        return sql, params

    def search(
        self,
        query: str,
        *,
        raw: bool | None = None,
        where: EventFilter = EVERYTHING,
        limit: int | None = 50,
        markers: tuple[str, str] = ("[", "]"),
    ) -> list[SearchHit]:
        """Full-text search (``tsvector``, GIN), best first, in the shared syntax.

        Raises:
            ValidationError: an empty query, a ``limit`` below 1, or FTS5-only
                syntax (``NEAR()``, ``AND`` / ``NOT``, parentheses, column filters).
        """
        if limit is not None and limit < 1:
            raise ValidationError(f"limit: must be at least 1, got {limit}", field="query")
        if raw or (raw is None and is_sqlite_only(query)):
            raise ValidationError(
                f"query: {query!r} uses SQLite-only search syntax (NEAR(), AND / NOT, "
                'parentheses, column filters); on PostgreSQL use words, "phrases", OR, '
                "-word and prefix*",
                field="query",
            )
        tsquery, tsparams = as_tsquery(plain(query) if raw is False else parse(query))
        join, condition, params = self._where(where)
        start, stop = (m.replace('"', "").replace(",", "") for m in markers)
        sql = (
            f"WITH q AS (SELECT {tsquery} AS q) "
            "SELECT e.id, ts_headline('english', concat_ws(' ', "
            "e.payload::json ->> 'summary', e.payload::json -> 'replacement' ->> 'summary', "
            "e.payload::json ->> 'reason'), q.q, %s), "
            "-ts_rank_cd(s.document, q.q) AS rank "
            f"FROM q, events_search s JOIN events e ON e.position = s.position {join} "
            f"WHERE s.document @@ q.q AND {condition} ORDER BY rank, e.position"
        )
        options = f'StartSel="{start}", StopSel="{stop}", MaxWords=16, MinWords=6'
        values: list[Any] = [*tsparams, options, *params]
        if limit is not None:
            sql += " LIMIT %s"
            values.append(limit)
        rows = self._query(sql, values)
        records = {r.id: r for r in self.read_ids([row[0] for row in rows])}
        return [
            SearchHit(record=records[event_id], snippet=snippet, rank=float(rank))
            for event_id, snippet, rank in rows
        ]

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        return next(self.read_ids([event_id]), None)

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        return int(self._query("SELECT MAX(position) FROM events")[0][0] or 0)

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story, sorted."""
        rows = self._query(
            "SELECT s.story, s.title, (SELECT MAX(version) FROM events e WHERE e.story = s.story) "
            'FROM stories s ORDER BY s.story COLLATE "C"'
        )
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]

    def stored_source(self, source_id: str) -> ev.Source | None:
        """The most recently stored source with this id (for ``via``), if any."""
        self._ensure_connected()
        try:
            return _PgBatch.find_source(_Qmark(self.conn), source_id)
        except self._pg.Error as exc:
            raise self._translate(exc) from exc

    def known_ids(self) -> dict[str, str]:
        """Every stored event id with its stored type name."""
        return {r[0]: r[1] for r in self._query("SELECT id, type FROM events")}

    def count_events(self) -> int:
        """How many events the log holds."""
        return int(self._query("SELECT COUNT(*) FROM events")[0][0])

    def time_extent(self, after: int, upto: int) -> tuple[str | None, str | None]:
        """The latest ``reported_at`` and ``recorded_at`` (stored text) in ``(after, upto]``."""
        row = self._query(
            'SELECT MAX(reported_at COLLATE "C"), MAX(recorded_at COLLATE "C") FROM events '
            "WHERE position > %s AND position <= %s",
            (after, upto),
        )[0]
        return row[0], row[1]

    def first_in_fold_order(
        self, after: int, upto: int, exclude_types: Sequence[str] = ()
    ) -> tuple[str, int] | None:
        """``(occurred_at text, position)`` of the first event in fold order among those
        at positions ``(after, upto]`` whose stored type is none of ``exclude_types``,
        read from the columns (nothing decoded). The range is read by the table's key
        (``OFFSET 0`` keeps the planner from walking the occurred-time index from its
        start instead: the writer asks this of its last few events)."""
        rows = self._query(
            "SELECT occurred_at, position FROM ("
            "SELECT occurred_at, position FROM events "
            "WHERE position > %s AND position <= %s AND NOT (type = ANY(%s)) OFFSET 0"
            ') r ORDER BY occurred_at COLLATE "C", position LIMIT 1',
            (after, upto, list(exclude_types)),
        )
        return None if not rows else (str(rows[0][0]), int(rows[0][1]))

    def count_occurred_from(self, since: datetime | None) -> int:
        """How many events occurred at or after ``since`` (all of them for ``None``):
        what a bounded upkeep would refold from there."""
        if since is None:
            row = self._query("SELECT COUNT(*) FROM events")[0]
        else:
            row = self._query(
                'SELECT COUNT(*) FROM events WHERE occurred_at COLLATE "C" >= %s',
                (to_text(since),),
            )[0]
        return int(row[0])

    def vague_extent(
        self, correction_types: Sequence[str] = ()
    ) -> tuple[datetime, datetime] | None:
        """From the earliest ``occurred_at`` to the latest ``occurred_until`` of the
        events that happened over a period, and of the replacements the corrections
        of ``correction_types`` carry (``None``: every one of them is exact)."""
        row = self._query(
            'SELECT MIN(occurred_at COLLATE "C"), MAX(occurred_until COLLATE "C") FROM events '
            'WHERE occurred_until COLLATE "C" > occurred_at COLLATE "C"'
        )[0]
        replaced = (
            self._query(
                "SELECT payload::json -> 'replacement' ->> 'occurred_at', "
                "payload::json -> 'replacement' ->> 'occurred_until' "
                "FROM events WHERE type = ANY(%s)",
                (list(correction_types),),
            )
            if correction_types
            else []
        )
        return vague_extent_of(row, replaced)

    def vague_replacements(self) -> list[tuple[str, str]]:
        """``(correction id, the id it corrects)`` of each stored correction whose
        replacement's two ends are spelled differently: those that may have happened
        over a period."""
        rows = self._query(
            "SELECT id, payload::json ->> 'corrects' FROM events WHERE type = 'correction' "
            "AND payload::json -> 'replacement' ->> 'occurred_until' "
            "<> payload::json -> 'replacement' ->> 'occurred_at'"
        )
        return [(i, t) for i, t in rows if isinstance(t, str)]

    def topics(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """``(topic, events, actors)`` for every topic an event names, sorted by topic.

        A correction counts under its replacement's topic.
        """
        rows = self._query(
            """
            WITH t AS (
                SELECT position, coalesce(payload::json ->> 'topic',
                                          payload::json -> 'replacement' ->> 'topic') AS topic
                FROM events
            )
            SELECT t.topic, COUNT(DISTINCT t.position),
                   (SELECT string_agg(actor, E'\\n' ORDER BY actor COLLATE "C") FROM (
                       SELECT DISTINCT ea.actor FROM event_actors ea
                       JOIN t t2 ON t2.position = ea.position
                       WHERE t2.topic = t.topic) x)
            FROM t WHERE t.topic IS NOT NULL
            GROUP BY t.topic ORDER BY t.topic COLLATE "C"
            """
        )
        return [(r[0], int(r[1]), tuple(r[2].split("\n")) if r[2] else ()) for r in rows]

    def raw_rows(self, after_position: int = 0, limit: int = _CHUNK) -> list[tuple[Any, ...]]:
        """Stored rows (every :data:`STORED` column) after a position, for copying and verifying."""
        return self._query(
            f"SELECT {STORED} FROM events WHERE position > %s ORDER BY position LIMIT %s",
            (after_position, limit),
        )

    def actor_rows(self, after_position: int, upto_position: int) -> list[tuple[Any, ...]]:
        """``(position, actor, role)`` rows of a range of positions."""
        return self._query(
            "SELECT position, actor, role FROM event_actors "
            "WHERE position > %s AND position <= %s ORDER BY position",
            (after_position, upto_position),
        )

    # --- integrity ------------------------------------------------------------

    def verify(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Re-walk the hash chain; return the number of events checked.

        Args:
            progress: called with the number of events checked since its last call.

        Raises:
            IntegrityError: naming the first position whose row does not match.
        """

        def rows() -> Iterator[tuple[Any, ...]]:
            after = -(2**62)
            while True:
                chunk = self.raw_rows(after)
                if not chunk:
                    return
                yield from chunk
                after = chunk[-1][0]

        def reached() -> int:
            return int(self._query("SELECT reached FROM store_changes")[0][0])

        with self.reading():
            count = verify_rows(rows(), reached=reached, progress=progress)
            q = self._query
            check_registrations(
                q(f"SELECT {REGISTRATION_COLUMNS} FROM registrations ORDER BY seq"),
                actors=q("SELECT id, name, kind, aliases FROM actors"),
                aliases=q("SELECT alias, actor FROM actor_aliases"),
                stories=q("SELECT story, title FROM stories"),
                event_stories=(r[0] for r in q("SELECT DISTINCT story FROM events")),
            )
        return count

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Not for PostgreSQL: ``timeline copy`` writes a store into an SQLite file."""
        raise StoreError(
            f"{self.label}: backup writes SQLite files; use `timeline copy {self.label} FILE` "
            "(or pg_dump) for a PostgreSQL store"
        )

    # --- following ------------------------------------------------------------

    def wait(self, after_position: int, timeout: float) -> bool:
        """Block until the log passes ``after_position`` or ``timeout`` seconds pass.

        ``LISTEN`` on a connection of its own: a notification only wakes the
        caller, which then reads the head, so one lost while disconnected costs
        nothing. A replica never sees NOTIFY; it looks every second.

        Returns:
            Whether the log now holds events after ``after_position``.
        """
        deadline = time.monotonic() + timeout
        while True:
            listener: psycopg.Connection[Any] | None = None
            if not self.is_replica:  # a standby takes no LISTEN: it looks instead
                try:
                    listener = self._listener()
                    listener.execute("SELECT 1")  # takes in (and drops) notifications so far
                except (self._pg.Error, TimelineError):
                    self._listen = None  # the server went away: try again next turn
            if self.head() > after_position:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(left, 0.2 if self.is_replica else 1.0)
            if listener is None:
                time.sleep(step)
                continue
            try:
                select.select([listener.fileno()], [], [], step)
            except (self._pg.Error, OSError, ValueError):
                self._listen = None  # its socket went away while we waited: look again

    _listen: psycopg.Connection[Any] | None = None

    def _listener(self) -> psycopg.Connection[Any]:
        if self._listen is None or self._listen.closed or self._listen.broken:
            self._listen = self._connect()
            self._listen.execute(f"LISTEN {CHANNEL}")
        return self._listen


class _Closed:
    """Stands in for the connection of a closed store: every use raises ``StoreError``."""

    closed = True
    broken = False

    def __init__(self, label: str) -> None:
        self._label = label

    def close(self) -> None:
        """Already closed."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError(f"{self._label}: the store is closed")

    def __getattr__(self, name: str) -> Any:
        raise StoreError(f"{self._label}: the store is closed")


_PAYLOAD = STORED.split(", ").index("payload")  # a stored row's payload column


def _runs(positions: list[int]) -> Iterator[list[int]]:
    """Ascending ``positions`` in runs of consecutive ones."""
    run: list[int] = []
    for position in positions:
        if run and position != run[-1] + 1:
            yield run
            run = []
        run.append(position)
    if run:
        yield run


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_SOURCE_IN_WINDOW = (
    "SELECT value FROM ("
    " SELECT e.position, s.value::text AS value FROM events e,"
    "  json_array_elements(CASE WHEN json_typeof(e.payload::json -> 'sources')"
    "   = 'array' THEN e.payload::json -> 'sources' ELSE '[]'::json END) s"
    "  WHERE e.position > ? AND e.position <= ? AND s.value ->> 'id' = ?"
    " UNION ALL SELECT position, (payload::json -> 'source')::text FROM events"
    "  WHERE position > ? AND position <= ? AND payload::json -> 'source' ->> 'id' = ?"
    ") x ORDER BY position DESC LIMIT 1"
)
"""The newest source with an id among the events at positions ``(low, high]``
(PostgreSQL's JSON functions; ``?`` placeholders, as :class:`_Qmark` takes them)."""


class _PgBatch(Batch):
    """The batch builder, with PostgreSQL's JSON functions where it looks up sources."""

    # the one-trip append sends each event's searched text (the locked path lets
    # the server read it from the payload): see search_texts()
    builds_search_rows = False
    actor_texts: Mapping[str, str] = {}  # actor id -> "id name aliases", as in table actors

    def search_row(self, data: Mapping[str, Any], actors: list[str]) -> tuple[Any, ...]:
        return (self.position, search_texts(data, actors, self.actor_texts))

    def _source(self, source_id: str) -> ev.Source | None:
        found = self.sources.get(source_id)
        if found is not None:
            return found
        return self.find_source(self.conn, source_id)

    @staticmethod
    def find_source(conn: Any, source_id: str) -> ev.Source | None:
        """The most recently stored source with this id, if any event cites one (see
        :func:`stored_source`)."""
        return stored_source(conn, source_id, _SOURCE_IN_WINDOW)

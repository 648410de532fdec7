"""The append-only SQLite event store.

One row per event in ``events`` with a global ``position``, a per-story
``version``, the three times as sortable UTC text, the canonical JSON payload,
and a sha256 hash chain. ``sqlite3`` errors are translated here, once; none
leaves this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import attrs
from sqlite_utils import Database

from timeline import events as ev
from timeline.clock import Clock, SystemClock
from timeline.codec import Codec, canonical_json, default_codec
from timeline.errors import (
    ConcurrencyError,
    DuplicateEventError,
    IntegrityError,
    StoreFormatError,
    TimelineError,
    UnknownActorError,
    ValidationError,
)
from timeline.store._schema import MIGRATION_SET, index_for_search, migrations
from timeline.times import from_text, to_text

__all__ = ["Actor", "AppendResult", "EventStore", "RecordedEvent", "StoreError"]

GENESIS_HASH = "0" * 64
_ONE_MICROSECOND = timedelta(microseconds=1)
# attempts at taking the write lock; each waits up to busy_timeout inside SQLite,
# so a writer gives up after about _LOCK_RETRIES * busy_timeout (never a clock loop)
_LOCK_RETRIES = 5
_ID_CHUNK = 500


class StoreError(TimelineError):
    """The database refused an operation (locked past retries, read-only, disk full)."""


@attrs.frozen(kw_only=True)
class Actor:
    """Someone who takes positions or places orders: a government, company, person."""

    id: str
    name: str
    kind: str = ""
    aliases: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RecordedEvent:
    """An event as stored: the record plus where and when the store logged it."""

    position: int
    story: str
    version: int
    recorded_at: datetime
    event: ev.Event

    @property
    def id(self) -> str:
        """The event's id."""
        return self.event.id

    @property
    def type(self) -> str:
        """The event's class name (see ``Timeline.type_name`` for the stored name)."""
        return type(self.event).__name__

    @property
    def occurred_at(self) -> datetime:
        """When it happened."""
        return self.event.occurred_at

    @property
    def reported_at(self) -> datetime:
        """When it became public (always set once stored)."""
        assert self.event.reported_at is not None  # the store fills it
        return self.event.reported_at


@attrs.frozen(kw_only=True)
class AppendResult:
    """What an append did: events written and ids skipped as already stored."""

    appended: tuple[RecordedEvent, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def version(self) -> int | None:
        """The story's version after the append, if anything was written."""
        return self.appended[-1].version if self.appended else None


_COLUMNS = (
    "position, id, story, version, type, schema_version, occurred_at, precision, "
    "reported_at, recorded_at, payload, prev_hash, hash"
)


def row_hash(prev_hash: str, row: Sequence[Any]) -> str:
    """sha256 over the previous hash and the canonical form of a row's hashed columns.

    ``row`` is ``(position, id, story, version, type, schema_version, occurred_at,
    precision, reported_at, recorded_at, payload)``.
    """
    body = canonical_json(list(row))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _with(event: ev.Event, **changes: Any) -> ev.Event:
    """A copy of a validated record with store-assigned fields set, not re-validated.

    ``attrs.evolve`` would run every validator again; the store only sets
    ``story`` and ``reported_at`` to values it has checked itself.
    """
    if all(getattr(event, k) == v for k, v in changes.items()):
        return event
    copy: ev.Event = _copier(type(event))(event)
    for name, value in changes.items():
        object.__setattr__(copy, name, value)
    return copy


_COPIERS: dict[type, Callable[[Any], Any]] = {}


def _copier(cls: type) -> Callable[[Any], Any]:
    """A generated field-by-field copy for one record class (a loop costs twice as much)."""
    copier = _COPIERS.get(cls)
    if copier is None:
        lines = ["def copy(e):", "    o = _new(_cls)"]
        lines += [f"    _set(o, {f.name!r}, e.{f.name})" for f in attrs.fields(cls)]
        lines.append("    return o")
        env: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "_cls": cls}
        exec("\n".join(lines), env)  # code built from attrs field names only
        copier = _COPIERS[cls] = env["copy"]
    return copier


_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start as an SQLite database.

    SQLite itself takes some short files (one byte, say) for an empty database
    and would write a schema into them.
    """
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except (FileNotFoundError, IsADirectoryError):
        return  # created below, or refused by sqlite3.connect with a clear error
    except OSError as exc:
        raise StoreFormatError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    if head and head != _SQLITE_HEADER:
        raise StoreFormatError(f"{path}: not a timeline store (not an SQLite database)")


def _not_unicode(exc: UnicodeEncodeError, where: str) -> ValidationError:
    """A lone surrogate ("\\ud800") in some text: SQLite and the hash need UTF-8."""
    return ValidationError(
        f"{where}: text holds a lone surrogate ({exc.object[exc.start]!a}); it is not valid Unicode"
    )


class _ClosedConnection:
    """Stands in for the connection of a closed store: every use raises ``StoreError``."""

    in_transaction = False

    def __init__(self, path: Path) -> None:
        self._path = path

    def close(self) -> None:
        """Already closed."""

    def __getattr__(self, name: str) -> Any:
        raise StoreError(f"{self._path}: the store is closed")


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class EventStore:
    """Low-level access to one store file. Most users want :class:`timeline.Timeline`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        codec: Codec | None = None,
        create: bool = True,
        readonly: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()
        self.codec = codec or default_codec
        self.readonly = readonly
        self._writes = 0
        self._lookup: tuple[tuple[int, int], dict[str, str]] | None = None
        memory = str(path) == ":memory:"
        if not memory and not self.path.exists() and (readonly or not create):
            raise StoreFormatError(f"{self.path}: no such timeline store")
        if not memory:
            _check_header(self.path)
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                conn = sqlite3.connect(
                    str(path),
                    timeout=busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
        except sqlite3.Error as exc:
            raise StoreFormatError(f"{self.path}: cannot open: {exc}") from exc
        self.conn = conn
        self.db = Database(conn, execute_plugins=False)
        try:
            self._prepare(busy_timeout)
        except BaseException:
            conn.close()
            raise

    # --- opening ------------------------------------------------------------

    def _prepare(self, busy_timeout: float) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        tables: set[str] = self._retry(self._inspect)
        if self.readonly:
            if migrations.pending(self.db) and tables:
                raise StoreFormatError(
                    f"{self.path}: store needs a schema upgrade but was opened read-only"
                )
            if not tables:
                raise StoreFormatError(f"{self.path}: not a timeline store (empty file)")
            return
        self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
        self.conn.execute("PRAGMA synchronous = NORMAL")
        if not tables or migrations.pending(self.db):
            self._retry(self._migrate)

    def _inspect(self) -> set[str]:
        """The file's tables, once it is known to be empty or a timeline store we can read."""
        try:
            tables = self._tables()
            self._check_format(tables)
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise  # busy, not foreign: _retry tries again, then says it stayed locked
            raise StoreFormatError(f"{self.path}: not a timeline store ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreFormatError(f"{self.path}: not a timeline store ({exc})") from exc
        return tables

    def _tables(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def _migrate(self) -> None:
        """Create or upgrade the schema in one write transaction.

        Everything, the migrations table included, happens under the lock: other
        processes opening the same new file wait and then find it complete, and a
        crash leaves it either untouched or fully migrated.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            # another process may have created or migrated the file while we waited
            self._check_format(self._tables())
            migrations.ensure_migrations_table(self.db)
            for migration in migrations.pending(self.db):
                migration.fn(self.db)
                migrations._record_applied(self.db, migration.name)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _check_format(self, tables: set[str]) -> None:
        """Refuse files that are not timeline stores, or are from a newer version."""
        known = {m.name for m in migrations._migrations}
        if tables:
            if "_sqlite_migrations" not in tables or "events" not in tables:
                raise StoreFormatError(
                    f"{self.path}: not a timeline store "
                    "(an SQLite database without timeline tables)"
                )
            applied = {m.name for m in migrations.applied(self.db)}
            if not applied:
                raise StoreFormatError(f"{self.path}: not a timeline store (no timeline schema)")
            newer = applied - known
            if newer:
                raise StoreFormatError(
                    f"{self.path}: written by a newer version of timeline "
                    f"(schema {', '.join(sorted(newer))}); upgrade timeline to open it"
                )

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn``, retrying a bounded number of times while the database is locked."""
        for attempt in range(_LOCK_RETRIES):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or attempt == _LOCK_RETRIES - 1:
                    raise self._translate(exc) from exc
                # busy_timeout already waited; back off a little more, bounded by attempts
                time.sleep(min(0.001 * 2**attempt, 0.05))
        raise AssertionError("unreachable")

    def _translate(self, exc: sqlite3.Error) -> TimelineError:
        text = str(exc)
        if "readonly" in text.replace(" ", "").lower():
            return StoreError(f"{self.path}: store is read-only: {text}")
        if _is_locked(exc) if isinstance(exc, sqlite3.OperationalError) else False:
            return StoreError(f"{self.path}: database stayed locked by another writer: {text}")
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            return StoreFormatError(f"{self.path}: not a timeline store ({text})")
        return StoreError(f"{self.path}: {text}")

    def close(self) -> None:
        """Close the connection; any later use raises ``StoreError`` (closing again is a no-op)."""
        if isinstance(self.conn, _ClosedConnection):
            return
        self.conn.close()
        # sqlite3 would raise its own ProgrammingError on every later use, from
        # whichever module touches the connection; this says what happened instead
        closed = cast(sqlite3.Connection, _ClosedConnection(self.path))
        self.conn = closed
        self.db.conn = closed

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: all of it commits, or none of it."""
        if self.readonly:
            raise StoreError(f"{self.path}: store is open read-only; writes are refused")
        self._retry(lambda: self.conn.execute("BEGIN IMMEDIATE"))
        self._writes += 1
        try:
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise self._translate(exc) from exc
        finally:
            # caches filled during the transaction must not outlive it
            self._writes += 1

    def change_marker(self) -> tuple[int, int]:
        """Changes whenever the database may have changed: another connection
        committed (``PRAGMA data_version``) or this one wrote. Cheap to ask."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0]), self._writes

    # --- actors -------------------------------------------------------------

    def actor_lookup(self, marker: tuple[int, int] | None = None) -> dict[str, str]:
        """Map of every id and alias (casefolded) to its actor id (cached until a change).

        ``marker`` is :meth:`change_marker` if the caller has just asked it.
        """
        marker = marker or self.change_marker()
        if self._lookup is not None and self._lookup[0] == marker:
            return self._lookup[1]
        out: dict[str, str] = {}
        for alias, actor in self.conn.execute("SELECT alias, actor FROM actor_aliases"):
            out[alias.casefold()] = actor
        for (actor,) in self.conn.execute("SELECT id FROM actors"):
            out[actor.casefold()] = actor
        self._lookup = (marker, out)
        return out

    def actors(self) -> list[Actor]:
        """Every known actor, sorted by id."""
        rows = self.conn.execute("SELECT id, name, kind, aliases FROM actors ORDER BY id")
        return [Actor(id=r[0], name=r[1], kind=r[2], aliases=tuple(json.loads(r[3]))) for r in rows]

    def _upsert_actors(self, conn: sqlite3.Connection, actors: Iterable[Actor]) -> None:
        for actor in actors:
            row = conn.execute(
                "SELECT name, kind, aliases FROM actors WHERE id = ?", (actor.id,)
            ).fetchone()
            aliases = list(actor.aliases)
            if row is not None:
                merged = list(json.loads(row[2]))
                merged += [a for a in aliases if a not in merged]
                name = actor.name if actor.name and actor.name != actor.id else row[0]
                conn.execute(
                    "INSERT OR REPLACE INTO actors (id, name, kind, aliases) VALUES (?, ?, ?, ?)",
                    (
                        actor.id,
                        name,
                        actor.kind or row[1],
                        json.dumps(merged, ensure_ascii=False),
                    ),
                )
                aliases = merged
            else:
                conn.execute(
                    "INSERT INTO actors (id, name, kind, aliases) VALUES (?, ?, ?, ?)",
                    (
                        actor.id,
                        actor.name,
                        actor.kind,
                        json.dumps(aliases, ensure_ascii=False),
                    ),
                )
            for alias in aliases:
                owner = conn.execute(
                    "SELECT actor FROM actor_aliases WHERE alias = ?", (alias,)
                ).fetchone()
                if owner is not None and owner[0] != actor.id:
                    raise ValidationError(
                        f"alias {alias!r} of actor {actor.id!r} already names actor {owner[0]!r}",
                        field="aliases",
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO actor_aliases (alias, actor) VALUES (?, ?)",
                    (alias, actor.id),
                )

    # --- appending ----------------------------------------------------------

    def story_version(self, story: str) -> int:
        """The story's current version (0 if it has no events)."""
        row = self.conn.execute(
            "SELECT MAX(version) FROM events WHERE story = ?", (story,)
        ).fetchone()
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
        if isinstance(events, ev.Event):
            raise ValidationError("events: pass a list of events, not a single event")
        batch = list(events)
        for index, item in enumerate(batch):
            if not isinstance(item, ev.Event):
                raise ValidationError(
                    f"batch item #{index} is not an event record: {type(item).__name__}",
                    field=f"events[{index}]",
                )
        if story is not None and (not isinstance(story, str) or not story.strip()):
            raise ValidationError(f"story: must be a non-empty slug, got {story!r}", field="story")
        stories = {e.story for e in batch if e.story is not None}
        if story is None:
            if len(stories) > 1:
                raise ValidationError(
                    f"a batch belongs to one story; got {', '.join(sorted(stories))}",
                    field="story",
                )
            story = next(iter(stories), None)
        if story is None:
            if not batch:
                return AppendResult()
            raise ValidationError("story: no story given for the batch", field="story")
        for e in batch:
            if e.story is not None and e.story != story:
                raise ValidationError(
                    f"event {e.id!r} belongs to story {e.story!r}, not {story!r}",
                    field="story",
                )
        declared = list(actors)
        try:
            with self.write() as conn:
                return self._append_locked(
                    conn,
                    batch,
                    story,
                    expected_version,
                    declared,
                    register_actors,
                    title,
                )
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        except UnicodeEncodeError as exc:
            raise _not_unicode(exc, f"story {story!r}") from exc

    def _append_locked(
        self,
        conn: sqlite3.Connection,
        batch: list[ev.Event],
        story: str,
        expected_version: int | None,
        declared: list[Actor],
        register_actors: bool,
        title: str | None,
    ) -> AppendResult:
        current = self.story_version(story)
        if expected_version is not None and expected_version != current:
            raise ConcurrencyError(story, expected_version, current)
        if declared:
            self._upsert_actors(conn, declared)
        if title is not None:
            conn.execute(
                "INSERT INTO stories (story, title) VALUES (?, ?) "
                "ON CONFLICT (story) DO UPDATE SET title = excluded.title",
                (story, title),
            )
        if not batch:
            return AppendResult()
        staged = _Batch(self, conn, story, current, register_actors, [e.id for e in batch])
        index = -1
        try:
            for index, event in enumerate(batch):
                staged.add(index, event)
        except TimelineError as exc:
            # lets callers (the fixture loader) say which batch item failed
            exc.batch_index = index  # type: ignore[attr-defined]
            raise
        except UnicodeEncodeError as exc:
            error = _not_unicode(exc, f"event #{index} ({batch[index].id!r})")
            error.batch_index = index  # type: ignore[attr-defined]
            raise error from exc
        if staged.new_actors:
            self._upsert_actors(conn, staged.new_actors.values())
        conn.executemany(
            f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
            staged.rows,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO event_actors (position, actor, role) VALUES (?, ?, ?)",
            staged.actor_rows,
        )
        if staged.rows:
            # the search index is derived data, kept in step in the same transaction
            index_for_search(conn, staged.rows[0][0] - 1)
        conn.execute("INSERT OR IGNORE INTO stories (story) VALUES (?)", (story,))
        return AppendResult(appended=tuple(staged.appended), skipped=tuple(staged.skipped))

    def _stored_payloads(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _ID_CHUNK):
            chunk = unique[start : start + _ID_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in conn.execute(f"SELECT id, payload FROM events WHERE id IN ({marks})", chunk):
                out[row[0]] = row[1]
        return out

    def _check_meta(self, conn: sqlite3.Connection, event: ev.Event, types: dict[str, str]) -> None:
        """Corrections and retractions must point at an event that exists."""
        if isinstance(event, ev.Retraction):
            target, field = event.retracts, "retracts"
        elif isinstance(event, ev.Correction):
            target, field = event.corrects, "corrects"
        else:
            return
        target_type = types.get(target)
        if target_type is None:
            row = conn.execute("SELECT type FROM events WHERE id = ?", (target,)).fetchone()
            if row is None:
                raise ValidationError(
                    f"{field}: event {target!r} is not in the store or earlier in the batch",
                    field=field,
                )
            target_type = row[0]
        if isinstance(event, ev.Correction):
            if target_type in ("correction", "retraction"):
                raise ValidationError(
                    f"corrects: {target!r} is a {target_type}; correct the original report",
                    field="corrects",
                )
            replacement_type = self.codec.registry.of(event.replacement).name
            if replacement_type != target_type:
                raise ValidationError(
                    f"replacement: is a {replacement_type} but {target!r} is a {target_type}",
                    field="replacement.type",
                )

    def _resolve_actors(
        self,
        event: ev.Event,
        lookup: Mapping[str, str],
        new_actors: dict[str, Actor],
        register: bool,
        index: int,
    ) -> ev.Event:

        def resolve(value: str, field: str) -> str:
            found = lookup.get(value.casefold())
            if found is not None:
                return found
            if value in new_actors:
                return value
            if not register:
                raise UnknownActorError(
                    value,
                    f"{field}: unknown actor {value!r} in event #{index} ({event.id!r}); "
                    "declare it in the fixture's actors",
                )
            new_actors[value] = Actor(id=value, name=value)
            return value

        return ev.map_actors(event, resolve, lookup)

    # --- reading ------------------------------------------------------------

    def read(
        self,
        *,
        story: str | None = None,
        actor: str | None = None,
        types: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        occurred_from: datetime | None = None,
        occurred_until: datetime | None = None,
        reported_from: datetime | None = None,
        reported_until: datetime | None = None,
        recorded_until: datetime | None = None,
        after_position: int = 0,
        upto_position: int | None = None,
        order: str = "position",
    ) -> Iterator[RecordedEvent]:
        """Stream stored events matching every given filter, lazily, in ``order``.

        ``order`` is ``"position"``, ``"occurred"``, ``"reported"`` or ``"recorded"``.
        """
        sql, params = self._select(
            "e.position, e.story, e.version, e.recorded_at, e.payload",
            story=story, actor=actor, types=types, exclude_types=exclude_types, ids=ids,
            occurred_from=occurred_from, occurred_until=occurred_until,
            reported_from=reported_from, reported_until=reported_until,
            recorded_until=recorded_until, after_position=after_position,
            upto_position=upto_position, order=order,
        )  # fmt: skip
        decode, loads = self.codec.decode_trusted, json.loads
        for position, story_, version, recorded_at, payload in self._stream(sql, params):
            yield RecordedEvent(
                position=position,
                story=story_,
                version=version,
                recorded_at=from_text(recorded_at),
                event=decode(loads(payload)),
            )

    def read_events(self, **filters: Any) -> Iterator[tuple[datetime, int, ev.Event]]:
        """Like :meth:`read` (same filters) but lean: ``(occurred_at, position, event)``.

        The folding hot path: no :class:`RecordedEvent`, no ``recorded_at`` parsing.
        """
        sql, params = self._select("e.position, e.payload", **filters)
        decode, loads = self.codec.decode_trusted, json.loads
        for position, payload in self._stream(sql, params):
            event = decode(loads(payload))
            yield event.occurred_at, position, event

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        try:
            cursor = self.conn.execute(sql, params)
            while True:
                chunk = cursor.fetchmany(512)
                if not chunk:
                    return
                yield from chunk
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _select(
        self,
        columns: str,
        *,
        story: str | None = None,
        actor: str | None = None,
        types: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        occurred_from: datetime | None = None,
        occurred_until: datetime | None = None,
        reported_from: datetime | None = None,
        reported_until: datetime | None = None,
        recorded_until: datetime | None = None,
        after_position: int = 0,
        upto_position: int | None = None,
        order: str = "position",
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if after_position > 0:
            # only when asked: "position > 0" would steer SQLite to a rowid scan
            # instead of the occurred_at / reported_at indexes
            where.append("e.position > ?")
            params.append(after_position)
        join = ""
        if upto_position is not None:
            where.append("e.position <= ?")
            params.append(upto_position)
        if story is not None:
            where.append("e.story = ?")
            params.append(story)
        if actor is not None:
            join = (
                "JOIN (SELECT DISTINCT position FROM event_actors WHERE actor = ?) a "
                "ON a.position = e.position"
            )
            params.insert(0, actor)
        if types:
            where.append(f"e.type IN ({', '.join('?' * len(types))})")
            params.extend(types)
        if exclude_types:
            where.append(f"e.type NOT IN ({', '.join('?' * len(exclude_types))})")
            params.extend(exclude_types)
        if ids is not None:
            where.append(f"e.id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        for column, op, value in (
            ("occurred_at", ">=", occurred_from),
            ("occurred_at", "<=", occurred_until),
            ("reported_at", ">=", reported_from),
            ("reported_at", "<=", reported_until),
            ("recorded_at", "<=", recorded_until),
        ):
            if value is not None:
                where.append(f"e.{column} {op} ?")
                params.append(to_text(value))
        order_by = {
            "position": "e.position",
            "recorded": "e.position",
            "occurred": "e.occurred_at, e.position",
            "reported": "e.reported_at, e.position",
        }.get(order)
        if order_by is None:
            raise ValidationError(
                f"order: {order!r} is not one of occurred, reported, recorded",
                field="order",
            )
        sql = (
            f"SELECT {columns} FROM events e "
            f"{join} WHERE {' AND '.join(where) or '1'} ORDER BY {order_by}"
        )
        return sql, params

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        row = self.conn.execute("SELECT position FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            return None
        return next(self.read(after_position=row[0] - 1, upto_position=row[0]))

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        row = self.conn.execute("SELECT MAX(position) FROM events").fetchone()
        return int(row[0] or 0)

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story, sorted."""
        rows = self.conn.execute(
            "SELECT s.story, s.title, (SELECT MAX(version) FROM events e WHERE e.story = s.story) "
            "FROM stories s ORDER BY s.story"
        )
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]

    # --- integrity ----------------------------------------------------------

    def verify(self) -> int:
        """Re-walk the hash chain; return the number of events checked.

        Raises:
            IntegrityError: naming the first position whose row does not match.
        """
        prev_hash = GENESIS_HASH
        expected_position = 1
        count = 0
        stray: list[int] = []
        try:
            cursor = self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position")
            for row in cursor:
                position = row[0]
                if position < 1:
                    # the log starts at 1, so a row here was moved out of its place:
                    # name the gap it left rather than blaming position 1
                    stray.append(position)
                    continue
                if position != expected_position:
                    raise IntegrityError(
                        expected_position,
                        f"row missing (next stored position is {position})",
                    )
                if row[11] != prev_hash:
                    raise IntegrityError(position, "previous-hash link does not match")
                if row_hash(prev_hash, row[:11]) != row[12]:
                    raise IntegrityError(position, "row content does not match its hash")
                try:
                    json.loads(row[10])
                except ValueError as exc:
                    raise IntegrityError(position, "payload is not valid JSON") from exc
                prev_hash = row[12]
                expected_position += 1
                count += 1
            seq = self.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        if seq is not None and int(seq[0]) >= expected_position:
            raise IntegrityError(
                expected_position,
                f"rows missing at the end of the log (log reached {seq[0]})",
            )
        if stray:
            raise IntegrityError(stray[0], "row stored outside the log (positions start at 1)")
        return count

    def schema_names(self) -> list[str]:
        """Names of the applied schema migrations."""
        return [m.name for m in migrations.applied(self.db)]

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Write a consistent copy with ``VACUUM INTO`` (safe while others write)."""
        target_path = Path(target)
        if target_path.exists():
            raise StoreError(f"{target_path}: already exists; refusing to overwrite")
        try:
            self.conn.execute("VACUUM INTO ?", (str(target_path),))
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc


class _Batch:
    """Rows for one append, built under the write lock: versions, times, hash chain."""

    def __init__(
        self,
        store: EventStore,
        conn: sqlite3.Connection,
        story: str,
        version: int,
        register_actors: bool,
        ids: list[str],
    ) -> None:
        self.store = store
        self.conn = conn
        self.story = story
        self.version = version
        self.register_actors = register_actors
        self.stored = store._stored_payloads(conn, ids)
        last = conn.execute(
            "SELECT position, recorded_at, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        self.position: int = last[0] if last else 0
        self.prev_hash: str = last[2] if last else GENESIS_HASH
        self.prev_recorded: datetime | None = from_text(last[1]) if last else None
        self.now = store.clock.now()
        self.lookup = store.actor_lookup()
        self.known_ids = set(self.lookup.values())
        self.new_actors: dict[str, Actor] = {}
        self.types: dict[str, str] = {}  # id -> stored type name, for correction checks
        self.seen: dict[str, str] = {}  # id -> payload, for duplicates inside the batch
        self.rows: list[tuple[Any, ...]] = []
        self.actor_rows: list[tuple[int, str, str]] = []
        self.appended: list[RecordedEvent] = []
        self.skipped: list[str] = []

    def add(self, index: int, original: ev.Event) -> None:
        """Validate one batch item and stage its rows (or note it as already stored)."""
        store = self.store
        event = store._resolve_actors(
            original, self.lookup, self.new_actors, self.register_actors, index
        )
        prior = self.seen.get(event.id) or self.stored.get(event.id)
        if prior is not None:
            self._check_duplicate(_with(event, story=self.story), prior, index)
            self.skipped.append(event.id)
            return
        recorded_at = self.now
        if self.prev_recorded is not None and recorded_at <= self.prev_recorded:
            recorded_at = self.prev_recorded + _ONE_MICROSECOND
        self.prev_recorded = recorded_at
        reported = event.effective_reported_at or recorded_at
        # the record was validated when built; only the store's two fields change
        event = _with(event, story=self.story, reported_at=reported)
        store._check_meta(self.conn, event, self.types)
        data = store.codec.encode(event)
        payload = canonical_json(data)
        self.position += 1
        self.version += 1
        hashed = (
            self.position,
            event.id,
            self.story,
            self.version,
            data["type"],
            data["schema_version"],
            to_text(event.occurred_at),
            event.precision.value,
            to_text(reported),
            to_text(recorded_at),
            payload,
        )
        digest = row_hash(self.prev_hash, hashed)
        self.rows.append((*hashed, self.prev_hash, digest))
        self.prev_hash = digest
        self.seen[event.id] = payload
        self.types[event.id] = data["type"]
        for role, actor in event.actor_refs():
            self.actor_rows.append((self.position, actor, role))
        for name in event.description_fields:
            for item in getattr(event, name):
                if item in self.known_ids or item in self.new_actors:
                    self.actor_rows.append((self.position, item, name))
        self.appended.append(
            RecordedEvent(
                position=self.position,
                story=self.story,
                version=self.version,
                recorded_at=recorded_at,
                event=event,
            )
        )

    def _check_duplicate(self, event: ev.Event, prior_payload: str, index: int) -> None:
        codec = self.store.codec
        prior = json.loads(prior_payload)
        reported = event.effective_reported_at
        if reported is None:
            # stored with the store's recorded_at as reported_at: compare on the rest
            reported = codec.decode_trusted(prior).reported_at
        if codec.encode(_with(event, reported_at=reported)) != prior:
            raise DuplicateEventError(event.id, f"batch item #{index}")


__all__ += ["GENESIS_HASH", "MIGRATION_SET", "row_hash"]

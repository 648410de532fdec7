"""The append-only SQLite event store.

One row per event in ``events`` with a global ``position``, a per-story
``version``, the three times as sortable UTC text, the canonical JSON payload,
and a sha256 hash chain. It implements :class:`~timeline.store.base.EventLog`.

Every ``sqlite3`` error, from any statement (a transaction's body included), is
translated into a :class:`~timeline.errors.TimelineError` at one choke point,
:meth:`EventStore.guard` (which :meth:`EventStore.write` uses too); none leaves
``store/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database

from timeline import events as ev
from timeline.clock import Clock, SystemClock
from timeline.codec import Codec, default_codec, loads_trusted
from timeline.errors import (
    ConcurrencyError,
    StoreError,
    StoreFormatError,
    TimelineError,
)
from timeline.identity import IdentityIndex, fold
from timeline.output_files import atomic_path, check_target
from timeline.store._batch import (
    Batch,
    check_append,
    counted_from,
    not_unicode,
    refuse_nul,
    refuse_nul_in_actors,
    stored_source,
)
from timeline.store._schema import (
    CHANGE_COUNTER,
    MIGRATION_SET,
    POLICY_CHANGE,
    POLICY_CHANGE_FIELDS,
    POLICY_CHANGE_TYPE,
    POLICY_CHANGES_INDEX,
    SEARCH_COLUMNS,
    SEARCH_TABLE,
    SEARCH_VIEW,
    TARGET_INDEXES,
    VAGUE_REPLACEMENT,
    VAGUE_REPLACEMENTS_INDEX,
    index_for_search,
    migrations,
)
from timeline.store._where import id_chunks, order_by
from timeline.store._where import where as where_sql
from timeline.store.base import EVERYTHING, EventFilter, vague_extent_of
from timeline.store.integrity import (
    COLUMNS,
    GENESIS_HASH,
    STORED,
    check_continues,
    row_hash,
    verify,
)
from timeline.store.recorded import Actor, AppendResult, RecordedEvent, SearchHit
from timeline.store.registrations import COLUMNS as REGISTRATION_COLUMNS
from timeline.store.registrations import check as check_registrations
from timeline.store.registrations import set_titles, stored_identity, upsert_actors
from timeline.store.search import matching_rows
from timeline.times import from_text, to_text

# the actor an alias names (actor_aliases.alias is COLLATE NOCASE)
_ALIAS_OWNER = "SELECT actor FROM actor_aliases WHERE alias = ?"

__all__ = [
    "GENESIS_HASH",
    "MIGRATION_SET",
    "Actor",
    "AppendResult",
    "EventStore",
    "RecordedEvent",
    "SearchHit",
    "StoreError",
    "row_hash",
]

# attempts at taking the write lock; each waits up to busy_timeout inside SQLite,
# so a writer gives up after about _LOCK_RETRIES * busy_timeout (never a clock loop)
_LOCK_RETRIES = 5
_WAIT_STEP = 0.05  # seconds between looks at the log while a follower waits
PAGE_SIZE = 8192


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


def _is_empty_file(path: Path) -> bool:
    """A 0-byte file with no write-ahead log holding its content."""
    try:
        if path.stat().st_size != 0:
            return False
    except OSError:
        return False
    try:
        return Path(f"{path}-wal").stat().st_size == 0
    except OSError:
        return True


class _ClosedConnection:
    """Stands in for the connection of a closed store: every use raises ``StoreError``."""

    in_transaction = False

    def __init__(self, path: Path) -> None:
        self._path = path

    def close(self) -> None:
        """Already closed."""

    def __getattr__(self, name: str) -> Any:
        raise StoreError(f"{self._path}: the store is closed")


class _RemovedConnection:
    """Stands in for the connection of a store whose new file was removed after a
    failed load (see ``EventStore.discard_if_new``): the next use creates the file
    again, empty, so the object stays usable; closing it creates nothing."""

    in_transaction = False

    def __init__(self, recreate: Callable[[], sqlite3.Connection]) -> None:
        self._recreate = recreate

    def close(self) -> None:
        """Nothing is open."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recreate(), name)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


_COUNT = f"SELECT n FROM {CHANGE_COUNTER}"
_BUMP = f"UPDATE {CHANGE_COUNTER} SET n = n + 1"


class EventStore:
    """Low-level access to one store file. Most users want :class:`timeline.Timeline`."""

    backend = "sqlite"

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
        self._writing = False  # inside this store's own write transaction
        self._actor_writes = 0  # bumped by every write that may change actors
        self._lookup: tuple[tuple[int, int], dict[str, str]] | None = None
        self._ids: tuple[tuple[int, int], frozenset[str]] | None = None
        self._kinds: tuple[tuple[int, int], list[tuple[str, str]]] | None = None
        # actor id -> its searched text (``id name aliases``), under the lookup's key
        self._named: tuple[tuple[int, int], dict[str, str]] | None = None
        # the stored actors' identity index, kept across this connection's own writes
        self._identity: tuple[tuple[int, int], IdentityIndex] | None = None
        memory = str(path) == ":memory:"
        # whether this object makes the file (see discard_if_new)
        self.created = not memory and not self.path.exists() and not self.path.is_symlink()
        if not memory and not self.path.exists() and (readonly or not create):
            raise StoreFormatError(f"{self.path}: no such timeline store")
        if not memory:
            _check_header(self.path)
            if (readonly or not create) and _is_empty_file(self.path):
                raise StoreFormatError(
                    f"{self.path}: empty file, not a timeline store; left as it is "
                    "(`timeline load` creates a store)"
                )
        self.readonly_reason = "opened read-only" if readonly else ""
        immutable = False
        if not memory:
            immutable = self._read_only_directory(create)
            if immutable:
                readonly = self.readonly = True
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}",
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
            with self.guard():
                self._prepare(busy_timeout)
        except BaseException:
            conn.close()
            raise

    # --- opening ------------------------------------------------------------

    def _read_only_directory(self, create: bool) -> bool:
        """Whether the store must be read as an immutable file: it lies in a directory
        where nothing can be written, so SQLite cannot create the ``-shm`` index a
        WAL database needs, and no ``-wal`` holds changes it would miss.

        Raises:
            StoreError: the directory is read-only and a ``-wal`` with changes
                sits beside the store without its ``-shm`` (or the store is missing).
        """
        directory = self.path.parent
        if not directory.is_dir() or os.access(directory, os.W_OK):
            return False  # a missing directory is refused by sqlite3.connect
        if not self.path.exists():
            if create:
                raise StoreError(
                    f"{self.path}: cannot create the store: directory {str(directory)!r} "
                    "is read-only"
                )
            return False
        shm, wal = Path(f"{self.path}-shm"), Path(f"{self.path}-wal")
        if shm.exists():
            return False  # SQLite reads through the existing -shm (opened read-only)
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"{self.path}: cannot read: its -wal file holds changes, but the directory "
                f"{str(directory)!r} is read-only and SQLite cannot create the -shm file it "
                "needs to read them; open it once where the directory is writable"
            )
        self.readonly_reason = f"the directory {str(directory)!r} is read-only"
        return True

    def _prepare(self, busy_timeout: float) -> None:
        self._busy_ms = int(busy_timeout * 1000)
        self.conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        tables: set[str] = self._retry(self._inspect)
        if self.readonly:
            if self._pending and tables:
                raise StoreFormatError(
                    f"{self.path}: store needs a schema upgrade but was opened read-only"
                )
            if not tables:
                raise StoreFormatError(f"{self.path}: not a timeline store (empty file)")
            return
        if not tables:
            # a new file: 8 KiB pages hold the ~1 KB event rows and fact versions
            # without overflow pages (set before the first table; fixed in WAL mode)
            self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
        self.conn.execute("PRAGMA synchronous = NORMAL")
        if not tables or self._pending:
            self._retry(self._migrate)

    def _inspect(self) -> set[str]:
        """The file's tables, once it is known to be empty or a timeline store we can read."""
        try:
            tables = self._tables()
            self._check_format(tables)
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise  # busy, not foreign: _retry tries again, then says it stayed locked
            if "disk i/o error" in str(exc).lower():
                # typically a -wal file deleted while another process holds the store open:
                # the -shm index still counts frames that are no longer there
                raise StoreError(
                    f"{self.path}: cannot read the store ({exc}); its -wal file is missing "
                    "or damaged while another process may hold the store open. Do not delete "
                    "a store's -wal file: close every process using the store, then reopen it"
                ) from exc
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
        """Refuse files that are not timeline stores, or are from a newer version; note
        the migrations still to apply (``_pending``)."""
        known = {m.name for m in migrations._migrations}
        self._pending = [m.name for m in migrations._migrations]
        if tables:
            if "_sqlite_migrations" not in tables or "events" not in tables:
                raise StoreFormatError(
                    f"{self.path}: not a timeline store "
                    "(an SQLite database without timeline tables)"
                )
            # one query (the set's names), not sqlite-utils' table inspection: every
            # open of the store asks
            applied = {
                row[0]
                for row in self.conn.execute(
                    f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ?",
                    (migrations.name,),
                )
            }
            self._pending = [name for name in self._pending if name not in applied]
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

    def discard_if_new(self) -> bool:
        """Delete the store file (with its ``-wal``, ``-shm`` and ``-journal``) if
        this object created it and it still holds nothing: no event, actor or
        story. A file that existed before is never deleted. The object stays
        usable: its next use creates the file again, empty.

        Returns:
            Whether the file was deleted.
        """
        if not self.created or isinstance(self.conn, _ClosedConnection | _RemovedConnection):
            return False
        with self.guard():
            if self.conn.in_transaction:
                return False  # a caller's transaction is still open: leave it alone
            holds = self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM actors) "
                "OR EXISTS (SELECT 1 FROM stories)"
            ).fetchone()[0]
        if holds:
            return False
        with self.guard():
            self.conn.close()
        removed = cast(sqlite3.Connection, _RemovedConnection(self._recreate))
        self.conn = removed
        self.db.conn = removed
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return True

    def _recreate(self) -> sqlite3.Connection:
        """Create the removed file again (see :meth:`discard_if_new`); its connection."""
        EventStore.__init__(
            self, self.path, clock=self.clock, codec=self.codec, busy_timeout=self._busy_ms / 1000
        )
        return self.conn

    def close(self) -> None:
        """Close the connection; any later use raises ``StoreError`` (closing again is a no-op)."""
        if isinstance(self.conn, _ClosedConnection):
            return
        with self.guard():
            self.conn.close()
        # sqlite3 would raise its own ProgrammingError on every later use, from
        # whichever module touches the connection; this says what happened instead
        closed = cast(sqlite3.Connection, _ClosedConnection(self.path))
        self.conn = closed
        self.db.conn = closed

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """The choke point: any ``sqlite3`` error inside becomes a ``TimelineError``."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: everything read inside sees the same committed log.

        Never writes and never takes the write lock, so writers neither block it
        nor are blocked by it (WAL). A no-op inside a transaction already open.
        """
        if self.conn.in_transaction:
            yield
            return
        with self.guard():
            self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self, *, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: all of it commits, or none of it.

        A ``sqlite3`` error in the body or at COMMIT rolls back and is translated
        (as eventsourcing's transaction ``__exit__`` does); other errors roll back
        and propagate unchanged. With ``wait=False`` it does not wait for another
        writer's lock: one attempt, then ``StoreError`` (for best-effort work).
        """
        if self.readonly:
            raise StoreError(
                f"{self.path}: store is read-only ({self.readonly_reason}); writes are refused"
            )
        if self._writing:
            # nested in a write already under way (the writer's snapshot upkeep inside
            # its append): part of that transaction, committed or rolled back with it
            with self.guard():
                yield self.conn
            return
        if wait:
            self._retry(lambda: self.conn.execute("BEGIN IMMEDIATE"))
        else:
            with self.guard():
                self.conn.execute("PRAGMA busy_timeout = 0")
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                finally:
                    self.conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        self._writes += 1
        self._writing = True
        try:
            yield self.conn
            # in the same transaction: a reader seeing the count unchanged knows that
            # nothing was committed since (see :meth:`change_count`)
            self.conn.execute(_BUMP)
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                # a failed ROLLBACK leaves nothing to undo that the error below does not say
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            self._actor_writes += 1  # actors cached inside it may be rolled back
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc) from exc
            raise
        finally:
            # caches filled during the transaction must not outlive it
            self._writing = False
            self._writes += 1

    def change_marker(self) -> tuple[int, int]:
        """Changes whenever the database may have changed: another connection
        committed (``PRAGMA data_version``) or this one wrote. Cheap to ask."""
        with self.guard():
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return int(version), self._writes

    def change_count(self) -> tuple[int, int]:
        """The count of write transactions committed to the file, and this connection's
        own writes: unchanged, nothing was written since. Read inside a read transaction
        beside other reads, it dates them; :meth:`counted` reads it with a query."""
        with self.guard():
            return int(self.conn.execute(_COUNT).fetchone()[0]), self._writes

    def counted(self, sql: str, params: Sequence[Any]) -> tuple[tuple[int, int], Any]:
        """One statement: the first column of ``sql``'s first row (``None``: no row),
        with :meth:`change_count` as of the same snapshot of the file (one implicit
        read transaction, or the one already open)."""
        try:  # (the guard, inlined: this is a warm lookup's one statement)
            count, value = self.conn.execute(f"SELECT ({_COUNT}), ({sql})", params).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        return (count, self._writes), value

    def marker_after_commit(self) -> tuple[int, int] | None:
        """Inside this store's write transaction: what :meth:`change_marker` will say
        right after it commits (its own commit leaves ``data_version`` as it is, and
        no other writer can commit before it). ``None`` outside one."""
        if not self._writing:
            return None
        version, writes = self.change_marker()
        return version, writes + 1

    def wait(self, after_position: int, timeout: float) -> bool:
        """Block until the log passes ``after_position`` or ``timeout`` seconds pass.

        SQLite has no notifications: this looks at the head every ``_WAIT_STEP`` s.

        Returns:
            Whether the log now holds events after ``after_position``.
        """
        deadline = time.monotonic() + timeout
        while self.head() <= after_position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_WAIT_STEP, remaining))
        return True

    # --- actors -------------------------------------------------------------

    def actor_lookup(self, marker: tuple[int, int] | None = None) -> dict[str, str]:
        """Map of every id and alias (casefolded) to its actor id (cached until a change).

        ``marker`` is :meth:`change_marker` if the caller has just asked it. The
        cache outlives this connection's own writes unless they touched actors.
        """
        data_version = (marker or self.change_marker())[0]
        key = (data_version, self._actor_writes)
        if self._lookup is not None and self._lookup[0] == key:
            return self._lookup[1]
        out: dict[str, str] = {}
        with self.guard():
            # display names first, so that aliases and ids win; a name two actors share
            # is no name at all
            for name, actor in self.conn.execute(
                "SELECT name, MIN(id) FROM actors GROUP BY name COLLATE NOCASE HAVING COUNT(*) = 1"
            ):
                out[fold(name)] = actor
            for alias, actor in self.conn.execute("SELECT alias, actor FROM actor_aliases"):
                out[fold(alias)] = actor
            for (actor,) in self.conn.execute("SELECT id FROM actors"):
                out[fold(actor)] = actor
        self._lookup = (key, out)
        return out

    def actor_for(self, name: str) -> str | None:
        """The actor whose id is ``name``, or else whose alias it is (ASCII case aside),
        in one indexed read; ``None``: neither (ask :meth:`actor_lookup`, which also
        folds Unicode case and width and knows display names).

        Under the identity rules no two actors share an id or alias after folding, so
        whenever this answers, ``actor_lookup()[fold(name)]`` is the same actor. A
        single-fact lookup in a newly opened store resolves its names this way
        instead of building the whole lookup.
        """
        with self.guard():
            row = self.conn.execute(
                "SELECT id FROM actors WHERE id = ?1 "
                "UNION ALL SELECT actor FROM actor_aliases WHERE alias = ?1 LIMIT 1",
                (name,),
            ).fetchone()
        return None if row is None else str(row[0])

    def actor_ids(self, marker: tuple[int, int] | None = None) -> frozenset[str]:
        """Every actor id (the values of :meth:`actor_lookup`), from the id index alone;
        cached until a change, as that lookup is."""
        key = ((marker or self.change_marker())[0], self._actor_writes)
        if self._ids is not None and self._ids[0] == key:
            return self._ids[1]
        if self._lookup is not None and self._lookup[0] == key:
            ids = frozenset(self._lookup[1].values())
        else:
            with self.guard():
                ids = frozenset(
                    json.loads(
                        self.conn.execute("SELECT json_group_array(id) FROM actors").fetchone()[0]
                    )
                )
        self._ids = (key, ids)
        return ids

    def actors(self) -> list[Actor]:
        """Every known actor, sorted by id."""
        with self.guard():
            rows = self.conn.execute(
                "SELECT id, name, kind, aliases FROM actors ORDER BY id"
            ).fetchall()
        return [Actor(id=r[0], name=r[1], kind=r[2], aliases=tuple(json.loads(r[3]))) for r in rows]

    def actor_kinds(self) -> list[tuple[str, str]]:
        """``(id, kind)`` of every actor declared with a kind, sorted by id (cached until
        a change, as :meth:`actor_lookup` is)."""
        key = (self.change_marker()[0], self._actor_writes)
        if self._kinds is None or self._kinds[0] != key:
            with self.guard():
                rows = self.conn.execute(
                    "SELECT id, kind FROM actors WHERE kind != '' ORDER BY id"
                ).fetchall()
            self._kinds = (key, [(r[0], r[1]) for r in rows])
        return list(self._kinds[1])

    def register_actors(self, actors: Iterable[Actor]) -> None:
        """Declare or update actors (names, kinds, aliases merged), in one transaction.

        Raises:
            ValidationError: an alias already names another actor.
        """
        declared = list(actors)
        refuse_nul_in_actors(declared)
        with self.write() as conn:
            self._upsert_actors(conn, declared)

    def _upsert_actors(self, conn: sqlite3.Connection, actors: Iterable[Actor]) -> None:
        # the identity index read once and then kept up by the upserts themselves: a
        # new actor is checked against the index, not against every stored actor again
        cached, self._identity = self._identity, None
        key = (self.change_marker()[0], self._actor_writes)
        index = cached[1] if cached is not None and cached[0] == key else None
        if index is None:
            index = stored_identity(conn)
        self._actor_writes += 1
        upsert_actors(conn, actors, alias_owner=_ALIAS_OWNER, index=index)
        if not index.stale:
            self._identity = ((key[0], self._actor_writes), index)

    def _register_met(self, conn: sqlite3.Connection, actors: list[Actor]) -> None:
        """Register the unknown actor ids an append met (``Actor(id, name=id)`` each),
        and keep the cached lookup and ids current instead of reading every actor
        again: such an actor adds exactly its folded id to the lookup (ids win over
        display names, and it has no alias) and its id to the ids."""
        # the append read the lookup under its lock
        lookup, ids, kinds, named = self._lookup, self._ids, self._kinds, self._named
        self._upsert_actors(conn, actors)
        if lookup is None or lookup[0][1] != self._actor_writes - 1:
            return
        before = lookup[0]
        after = (before[0], self._actor_writes)
        if all(a.name == a.id and not a.aliases and not a.kind for a in actors):
            grown = dict(lookup[1])
            grown.update((fold(a.id), a.id) for a in actors)
            self._lookup = (after, grown)
            if kinds is not None and kinds[0] == before:
                self._kinds = (after, kinds[1])  # none of them has a kind
            if named is not None and named[0] == before:
                self._named = (after, named[1])  # the others' texts stay as they were
        if ids is not None and ids[0] == before:
            self._ids = (after, ids[1] | {a.id for a in actors})

    def _set_titles(
        self, conn: sqlite3.Connection, titles: Iterable[tuple[str, str | None]]
    ) -> None:
        """Give stories these titles (``None`` keeps a story's title), registering each
        change."""
        set_titles(conn, titles)

    # --- appending ----------------------------------------------------------

    def story_version(self, story: str) -> int:
        """The story's current version (0 if it has no events)."""
        with self.guard():
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
        then: Callable[[AppendResult], object] | None = None,
    ) -> AppendResult:
        """Append a batch atomically. See :meth:`timeline.Timeline.append`.

        ``then`` runs inside the same write transaction once the rows are in, with
        the result (the writer's snapshot upkeep): no second transaction, and the
        events it folds are in hand. Its own work is undone alone if it fails with a
        store error (see :meth:`_then`); the append still commits.
        """
        batch, story, declared = check_append(events, story, title, actors)
        if story is None:
            return AppendResult()
        try:
            with self.write() as conn:
                result = self._append_locked(
                    conn,
                    batch,
                    story,
                    expected_version,
                    declared,
                    register_actors,
                    title,
                )
                if then is not None and result.appended:
                    self._then(conn, then, result)
                return result
        except UnicodeEncodeError as exc:
            raise not_unicode(exc, f"story {story!r}") from exc

    def append_chunks(
        self,
        chunks: Iterable[Sequence[ev.Event]],
        *,
        story: str,
        expected_version: int | None = None,
        actors: Iterable[Actor] = (),
        register_actors: bool = True,
        title: str | None = None,
        then: Callable[[AppendResult], object] | None = None,
    ) -> tuple[int, int]:
        """Append batches that arrive one after another, all in ONE transaction.

        For inputs too large to hold: each chunk is staged and written as it
        comes, and a failure anywhere rolls back every chunk. Returns
        ``(appended, skipped)``. A refused event carries ``batch_index``: its
        index counted over all chunks. ``then`` (as in :meth:`append`) runs once,
        after the last chunk, with an empty result (the events are not kept).
        """
        refuse_nul(story, "story", f"story {story!r}")
        refuse_nul(title, "title", f"the title of story {story!r}")
        declared = list(actors)
        refuse_nul_in_actors(declared)
        appended = skipped = offset = 0
        try:
            with self.write() as conn:
                first = True
                for chunk in chunks:
                    batch = list(chunk)
                    with counted_from(offset):  # a refused event's index over all chunks
                        result = self._append_locked(
                            conn,
                            batch,
                            story,
                            expected_version if first else None,
                            declared if first else [],
                            register_actors,
                            title if first else None,
                        )
                    first = False
                    appended += len(result.appended)
                    skipped += len(result.skipped)
                    offset += len(batch)
                if first:  # no events: the actors and the title still count
                    self._append_locked(
                        conn, [], story, expected_version, declared, register_actors, title
                    )
                if then is not None and appended:
                    self._then(conn, then, AppendResult())
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        except UnicodeEncodeError as exc:
            raise not_unicode(exc, f"story {story!r}") from exc
        return appended, skipped

    def append_stories(
        self,
        chunks: Iterable[tuple[str, Sequence[ev.Event], Sequence[Actor]]],
    ) -> dict[str, tuple[int, int]]:
        """:meth:`append_chunks` for batches that may each belong to another story: each
        chunk is ``(story, events, actors it declares)``, staged and written as it comes,
        all in ONE transaction (a failure anywhere, the chunks' own reader's included,
        rolls back every chunk). Returns ``{story: (appended, skipped)}`` in order of
        first appearance. A refused event carries ``batch_index``: its index counted
        over all chunks."""
        counts: dict[str, tuple[int, int]] = {}
        offset = 0
        try:
            with self.write() as conn:
                for story, chunk, actors in chunks:
                    refuse_nul(story, "story", f"story {story!r}")
                    declared = list(actors)
                    refuse_nul_in_actors(declared)
                    batch = list(chunk)
                    with counted_from(offset):
                        result = self._append_locked(
                            conn, batch, story, None, declared, False, None
                        )
                    appended, skipped = counts.get(story, (0, 0))
                    counts[story] = (
                        appended + len(result.appended),
                        skipped + len(result.skipped),
                    )
                    offset += len(batch)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        except UnicodeEncodeError as exc:
            raise not_unicode(exc, "an imported event") from exc
        return counts

    def _index_for_search(
        self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], key: tuple[int, int]
    ) -> None:
        """Add one search row per staged event: its text as :func:`search_text` spelled
        it, and its actors as ``id name aliases`` each, ordered by id, as the view
        ``events_search`` joins them. Those actor texts are kept while ``key`` (the
        actor lookup's, as of this write) holds: only actors not met before are read."""
        if self._named is None or self._named[0] != key:
            self._named = (key, {})
        named = self._named[1]
        ids = sorted({actor for row in rows for actor in row[-1]} - named.keys())
        for chunk in id_chunks(ids):
            marks = ", ".join("?" * len(chunk))
            for actor, name, aliases in conn.execute(
                f"SELECT id, name, aliases FROM actors WHERE id IN ({marks})", chunk
            ):
                named[actor] = f"{actor} {name} {aliases}"
        conn.executemany(
            f"INSERT INTO {SEARCH_TABLE} (rowid, {', '.join(SEARCH_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    *row[:-1],
                    " ".join(named[a] for a in row[-1] if a in named)
                    if any(a in named for a in row[-1])
                    else None,
                )
                for row in rows
            ],
        )

    def _then(
        self,
        conn: sqlite3.Connection,
        then: Callable[[AppendResult], object],
        result: AppendResult,
    ) -> None:
        """Run ``then`` inside the append's transaction, in a savepoint: a store
        error undoes its work alone (derived data, left for the next writer or
        reader), never the events."""
        conn.execute("SAVEPOINT timeline_then")
        try:
            then(result)
        except (StoreError, sqlite3.Error):
            conn.execute("ROLLBACK TO timeline_then")
            conn.execute("RELEASE timeline_then")
        else:
            conn.execute("RELEASE timeline_then")

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
            self._set_titles(conn, [(story, title)])
        if not batch:
            return AppendResult()
        lookup = self.actor_lookup()
        assert self._lookup is not None  # the lookup just read is cached with its key
        lookup_key = self._lookup[0]
        if self._ids is None or self._ids[0] != lookup_key:
            self._ids = (lookup_key, frozenset(lookup.values()))
        staged = Batch(
            conn,
            clock=self.clock,
            codec=self.codec,
            lookup=lookup,
            actor_ids=self._ids[1],
            story=story,
            version=current,
            register_actors=register_actors,
            ids=[e.id for e in batch],
        )
        staged.add_all(batch)
        if staged.new_actors:
            self._register_met(conn, list(staged.new_actors.values()))
        conn.executemany(
            f"INSERT INTO events ({COLUMNS}, occurred_until, reported_until) "
            f"VALUES ({', '.join('?' * 15)})",
            staged.rows,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO event_actors (position, actor, role) VALUES (?, ?, ?)",
            staged.actor_rows,
        )
        if staged.rows:
            # the search index is derived data, kept in step in the same transaction,
            # from the values in hand (the same text the view reads back for snippets)
            self._index_for_search(conn, staged.search_rows, (lookup_key[0], self._actor_writes))
        conn.execute("INSERT OR IGNORE INTO stories (story) VALUES (?)", (story,))
        return AppendResult(appended=tuple(staged.appended), skipped=tuple(staged.skipped))

    # --- reading ------------------------------------------------------------

    def read(self, where: EventFilter = EVERYTHING) -> Iterator[RecordedEvent]:
        """Stream stored events matching ``where``, lazily, in ``where.order``.

        Raises:
            ValidationError: an unknown order.
        """
        sql, params = self._select(
            "e.position, e.story, e.version, e.recorded_at, e.payload", where
        )
        yield from self._records(sql, params)

    def _records(self, sql: str, params: Sequence[Any]) -> Iterator[RecordedEvent]:
        """Rows of ``position, story, version, recorded_at, payload`` as records."""
        decode, loads = self.codec.decode_trusted, loads_trusted
        for position, story_, version, recorded_at, payload in self._stream(sql, params):
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
        """Like :meth:`read` but lean: ``(occurred_at, position, event)``.

        The folding hot path: no :class:`RecordedEvent`, no ``recorded_at`` parsing.
        """
        sql, params = self._select("e.position, e.payload", where)
        decode, loads = self.codec.trusted_decoder(where.fields), loads_trusted
        for position, payload in self._stream(sql, params):
            event = decode(loads(payload))
            yield event.occurred_at, position, event

    def read_ids(
        self, ids: Iterable[str], where: EventFilter = EVERYTHING
    ) -> Iterator[RecordedEvent]:
        """The stored events with these ids that also match ``where``, in chunks of ids."""
        for chunk in id_chunks(ids):
            yield from self.read(where.but(ids=chunk))

    def read_positions(self, positions: Iterable[int]) -> Iterator[RecordedEvent]:
        """The stored events at these log positions, by position (one read per chunk of
        positions: a refold looks up the events its facts' versions name)."""
        ordered = sorted(set(positions))
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = (
                "SELECT e.position, e.story, e.version, e.recorded_at, e.payload FROM events e "
                f"WHERE e.position IN ({marks}) ORDER BY e.position"
            )
            yield from self._records(sql, chunk)

    def field_rows(self, where: EventFilter, fields: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(position, occurred_at text, id, *fields)`` of the stored events matching
        ``where``, each field read from the payload in SQL (nothing decoded): the caller
        decodes only the events it needs (a restriction refold: those on the products
        its batch changes)."""
        columns = ", ".join(
            ["e.position", "e.occurred_at", "e.id", *("json_extract(e.payload, ?)" for _ in fields)]
        )
        sql, params = self._select(columns, where)
        with self.guard():
            return self.conn.execute(sql, [*("$." + f for f in fields), *params]).fetchall()

    def policy_change_rows(self, where: EventFilter) -> list[tuple[Any, ...]]:
        """:meth:`field_rows` of ``where`` for ``product`` and ``schema_version``: read
        from the index of the policy changes (``0018_refold_indexes``) when
        ``where`` names the policy changes alone, as a restriction refold's list of
        every policy change from its time on does."""
        if where.types is None or tuple(where.types) != (POLICY_CHANGE_TYPE,):
            return self.field_rows(where, POLICY_CHANGE_FIELDS)
        fields = ", ".join(f"json_extract(e.payload, '$.{f}')" for f in POLICY_CHANGE_FIELDS)
        join, join_params, condition, params = where_sql(where)
        sql = (
            f"SELECT e.position, e.occurred_at, e.id, {fields} "
            f"FROM events e INDEXED BY {POLICY_CHANGES_INDEX} {join} "
            f"WHERE e.{POLICY_CHANGE} AND {condition} ORDER BY {order_by(where.order)}"
        )
        with self.guard():
            return self.conn.execute(sql, [*join_params, *params]).fetchall()

    def target_links(self, fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """``(id, target id)`` of every stored event of each ``(type name, target
        field)``: what each correction or retraction names, read from the payloads in
        SQL (nothing decoded); the built-in ones' from their indexes
        (``0018_refold_indexes``)."""
        links: list[tuple[str, str]] = []
        with self.guard():
            for type_name, field in fields:
                index = TARGET_INDEXES.get((type_name, field))
                if index is None:
                    sql = "SELECT id, json_extract(payload, ?) FROM events WHERE type = ?"
                    params: tuple[str, ...] = ("$." + field, type_name)
                else:  # the condition spelt as the index's, literally
                    sql = (
                        f"SELECT id, json_extract(payload, '$.{field}') "
                        f"FROM events INDEXED BY {index} WHERE type = '{type_name}'"
                    )
                    params = ()
                links.extend(self.conn.execute(sql, params).fetchall())
        return [(i, t) for i, t in links if isinstance(t, str)]

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        with self.guard():
            cursor = self.conn.execute(sql, params)
            while True:
                chunk = cursor.fetchmany(512)
                if not chunk:
                    return
                yield from chunk

    def _select(self, columns: str, where: EventFilter) -> tuple[str, list[Any]]:
        order = order_by(where.order)
        join, join_params, condition, params = where_sql(where)
        sql = f"SELECT {columns} FROM events e {join} WHERE {condition} ORDER BY {order}"
        return sql, [*join_params, *params]

    def search(
        self,
        query: str,
        *,
        raw: bool | None = None,
        where: EventFilter = EVERYTHING,
        limit: int | None = 50,
        markers: tuple[str, str] = ("[", "]"),
    ) -> list[SearchHit]:
        """Full-text search over the FTS5 index, best first (see :mod:`timeline.store.search`).

        Raises:
            ValidationError: an empty or malformed query, or a ``limit`` below 1.
        """
        with self.guard():
            rows = matching_rows(
                self.conn, query, raw=raw, where=where, limit=limit, markers=markers
            )
        records = {r.id: r for r in self.read_ids([row[0] for row in rows])}
        return [
            SearchHit(record=records[event_id], snippet=snippet, rank=rank)
            for event_id, snippet, rank in rows
        ]

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        return next(self.read_ids([event_id]), None)

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        with self.guard():
            row = self.conn.execute("SELECT MAX(position) FROM events").fetchone()
        return int(row[0] or 0)

    def raw_rows(self, after_position: int = 0, limit: int = 1000) -> list[tuple[Any, ...]]:
        """Stored rows (every column of the chain) after a position, for copying."""
        with self.guard():
            return self.conn.execute(
                f"SELECT {STORED} FROM events WHERE position > ? ORDER BY position LIMIT ?",
                (after_position, limit),
            ).fetchall()

    def actor_rows(self, after_position: int, upto_position: int) -> list[tuple[Any, ...]]:
        """``(position, actor, role)`` rows of a range of positions, for copying."""
        with self.guard():
            return self.conn.execute(
                "SELECT position, actor, role FROM event_actors "
                "WHERE position > ? AND position <= ? ORDER BY position",
                (after_position, upto_position),
            ).fetchall()

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
        with self.write() as conn:
            last = conn.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            check_continues(last, rows)
            self._upsert_actors(conn, actors)
            self._set_titles(conn, stories)
            conn.executemany(f"INSERT INTO events ({STORED}) VALUES ({', '.join('?' * 15)})", rows)
            conn.executemany(
                "INSERT OR IGNORE INTO event_actors (position, actor, role) VALUES (?, ?, ?)",
                actor_rows,
            )
            if rows:
                index_for_search(conn, rows[0][0] - 1)

    def count_events(self) -> int:
        """How many events the log holds."""
        with self.guard():
            return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def stored_source(self, source_id: str) -> ev.Source | None:
        """The most recently stored source with this id (for ``via``), if any."""
        with self.guard():
            return stored_source(self.conn, source_id)

    def known_ids(self) -> dict[str, str]:
        """Every stored event id with its stored type name."""
        with self.guard():
            return dict(self.conn.execute("SELECT id, type FROM events").fetchall())

    def time_extent(self, after: int, upto: int) -> tuple[str | None, str | None]:
        """The latest ``reported_at`` and ``recorded_at`` (stored text) in ``(after, upto]``."""
        with self.guard():
            row = self.conn.execute(
                "SELECT MAX(reported_at), MAX(recorded_at) FROM events "
                "WHERE position > ? AND position <= ?",
                (after, upto),
            ).fetchone()
        return row[0], row[1]

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story, sorted."""
        with self.guard():
            rows = self.conn.execute(
                "SELECT s.story, s.title, "
                "(SELECT MAX(version) FROM events e WHERE e.story = s.story) "
                "FROM stories s ORDER BY s.story"
            ).fetchall()
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]

    def vague_extent(
        self, correction_types: Sequence[str] = ()
    ) -> tuple[datetime, datetime] | None:
        """From the earliest ``occurred_at`` to the latest ``occurred_until`` of the
        events that happened over a period, and of the replacements the corrections
        of ``correction_types`` carry (``None``: every one of them is exact)."""
        marks = ", ".join("?" * len(correction_types))
        with self.guard():
            row = self.conn.execute(
                "SELECT MIN(occurred_at), MAX(occurred_until) FROM events "
                "WHERE occurred_until > occurred_at"
            ).fetchone()
            if list(correction_types) == ["correction"]:  # the built-in: from its index
                # only replacements whose two ends are spelled differently can be
                # periods: their partial index holds just those
                replaced = self.conn.execute(
                    "SELECT json_extract(payload, '$.replacement.occurred_at'), "
                    "json_extract(payload, '$.replacement.occurred_until') "
                    f"FROM events INDEXED BY {VAGUE_REPLACEMENTS_INDEX} WHERE {VAGUE_REPLACEMENT}"
                ).fetchall()
            elif correction_types:
                replaced = self.conn.execute(
                    "SELECT json_extract(payload, '$.replacement.occurred_at'), "
                    "json_extract(payload, '$.replacement.occurred_until') "
                    f"FROM events WHERE type IN ({marks})",
                    list(correction_types),
                ).fetchall()
            else:
                replaced = []
        return vague_extent_of(row, replaced)

    def vague_replacements(self) -> list[tuple[str, str]]:
        """``(correction id, the id it corrects)`` of each stored correction whose
        replacement's two ends are spelled differently: those that may have happened
        over a period (their partial index holds just those)."""
        with self.guard():
            rows = self.conn.execute(
                "SELECT id, json_extract(payload, '$.corrects') "
                f"FROM events INDEXED BY {VAGUE_REPLACEMENTS_INDEX} WHERE {VAGUE_REPLACEMENT}"
            ).fetchall()
        return [(i, t) for i, t in rows if isinstance(t, str)]

    def first_in_fold_order(
        self, after: int, upto: int, exclude_types: Sequence[str] = ()
    ) -> tuple[str, int] | None:
        """``(occurred_at text, position)`` of the first event in fold order among those
        at positions ``(after, upto]`` whose stored type is none of ``exclude_types``,
        read from the columns (nothing decoded). It reads that range of positions (the
        table's own key, ``NOT INDEXED``), never the occurred-time index from its
        start: the writer asks this of its last few events as often as a first reader
        asks it of the whole log."""
        excluded = list(exclude_types)
        marks = ", ".join("?" * len(excluded))
        sql = (
            "SELECT occurred_at, position FROM events NOT INDEXED "
            "WHERE position > ? AND position <= ?"
            + (f" AND type NOT IN ({marks})" if excluded else "")
            + " ORDER BY occurred_at, position LIMIT 1"
        )
        with self.guard():
            row = self.conn.execute(sql, [after, upto, *excluded]).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def count_occurred_from(self, since: datetime | None) -> int:
        """How many events occurred at or after ``since`` (all of them for ``None``)."""
        with self.guard():
            if since is None:
                row = self.conn.execute("SELECT COUNT(*) FROM events").fetchone()
            else:
                row = self.conn.execute(
                    "SELECT COUNT(*) FROM events WHERE occurred_at >= ?", (to_text(since),)
                ).fetchone()
        return int(row[0])

    def has_topic(self, topic: str) -> bool:
        """Whether any stored event (or a correction's replacement) names ``topic``.

        Stops at the first such event: cheap for a topic in use, unlike :meth:`topics`.
        """
        with self.guard():
            row = self.conn.execute(
                "SELECT 1 FROM events WHERE json_extract(payload, '$.topic') = ?1 "
                "OR json_extract(payload, '$.replacement.topic') = ?1 LIMIT 1",
                (topic,),
            ).fetchone()
        return row is not None

    def topics(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """``(topic, events, actors)`` for every topic an event names, sorted by topic.

        A correction counts under its replacement's topic.
        """
        with self.guard():
            rows = self.conn.execute(
                """
            SELECT t.topic, COUNT(DISTINCT t.position),
                   (SELECT group_concat(actor, char(10)) FROM (
                       SELECT DISTINCT ea.actor FROM event_actors ea
                       JOIN events e2 ON e2.position = ea.position
                       WHERE coalesce(json_extract(e2.payload, '$.topic'),
                                      json_extract(e2.payload, '$.replacement.topic')) = t.topic
                       ORDER BY ea.actor))
            FROM (SELECT position, coalesce(json_extract(payload, '$.topic'),
                                            json_extract(payload, '$.replacement.topic')) AS topic
                  FROM events) t
            WHERE t.topic IS NOT NULL
            GROUP BY t.topic ORDER BY t.topic
            """
            ).fetchall()
        return [(r[0], int(r[1]), tuple(r[2].split("\n")) if r[2] else ()) for r in rows]

    # --- integrity ----------------------------------------------------------

    def verify(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Re-walk the hash chain; return the number of events checked.

        Args:
            progress: called with the number of events checked since its last call.

        Raises:
            IntegrityError: naming the first position whose row does not match.
        """
        with self.reading(), self.guard():
            count = verify(self.conn, progress)
            q = self.conn.execute
            check_registrations(
                q(f"SELECT {REGISTRATION_COLUMNS} FROM registrations ORDER BY seq"),
                actors=q("SELECT id, name, kind, aliases FROM actors"),
                aliases=q("SELECT alias, actor FROM actor_aliases"),
                stories=q("SELECT story, title FROM stories"),
                event_stories=(r[0] for r in q("SELECT DISTINCT story FROM events")),
                reached=self._registrations_reached(),
            )
        return count

    def _registrations_reached(self) -> int | None:
        row = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'registrations'"
        ).fetchone()
        return None if row is None else int(row[0])

    # --- derived tables: checking and rebuilding them from the log -----------------

    def event_actor_rows(self) -> set[tuple[int, str, str]]:
        """Every ``(position, actor, role)`` row of the event-actor index."""
        with self.guard():
            rows = self.conn.execute("SELECT position, actor, role FROM event_actors")
            return {(int(p), a, r) for p, a, r in rows}

    def search_index_problem(self) -> str | None:
        """What is wrong with the search index, if anything: its terms compared with
        those of an index built afresh from the log's text (in a temporary table;
        FTS5's own 'integrity-check' cannot read the content view on SQLite 3.40)."""
        conn = self.conn
        with self.guard():
            sql = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (SEARCH_TABLE,)
            ).fetchone()[0]
            tokenize = re.search(r"tokenize\s*=\s*('[^']*')", sql)
            columns = ", ".join(SEARCH_COLUMNS)
            options = f", tokenize = {tokenize.group(1)}" if tokenize else ""
            conn.execute("DROP TABLE IF EXISTS temp.timeline_fts_check")
            conn.execute("DROP TABLE IF EXISTS temp.timeline_vocab_stored")
            conn.execute("DROP TABLE IF EXISTS temp.timeline_vocab_fresh")
            try:
                conn.execute(
                    f"CREATE VIRTUAL TABLE temp.timeline_fts_check USING fts5({columns}{options})"
                )
                conn.execute(
                    f"INSERT INTO temp.timeline_fts_check (rowid, {columns}) "
                    f"SELECT position, {columns} FROM {SEARCH_VIEW}"
                )
                conn.execute(
                    "CREATE VIRTUAL TABLE temp.timeline_vocab_stored "
                    f"USING fts5vocab(main, {SEARCH_TABLE}, instance)"
                )
                conn.execute(
                    "CREATE VIRTUAL TABLE temp.timeline_vocab_fresh "
                    "USING fts5vocab(temp, timeline_fts_check, instance)"
                )
                cols = "term, doc, col"
                extra = conn.execute(
                    f"SELECT {cols} FROM temp.timeline_vocab_stored EXCEPT "
                    f"SELECT {cols} FROM temp.timeline_vocab_fresh ORDER BY doc LIMIT 3"
                ).fetchall()
                missing = conn.execute(
                    f"SELECT {cols} FROM temp.timeline_vocab_fresh EXCEPT "
                    f"SELECT {cols} FROM temp.timeline_vocab_stored ORDER BY doc LIMIT 3"
                ).fetchall()
            finally:
                conn.execute("DROP TABLE IF EXISTS temp.timeline_vocab_stored")
                conn.execute("DROP TABLE IF EXISTS temp.timeline_vocab_fresh")
                conn.execute("DROP TABLE IF EXISTS temp.timeline_fts_check")
        found = [f"position {d} is indexed under {t!r} ({c}), not in its text" for t, d, c in extra]
        found += [f"position {d} is not indexed under {t!r} ({c})" for t, d, c in missing]
        return "; ".join(found) or None

    def rebuild_derived(self, actor_rows: Iterable[tuple[int, str, str]]) -> None:
        """Recreate the event-actor index (from ``actor_rows``) and the search index
        (from the log) in one transaction."""
        with self.write() as conn:
            # the index refuses deletes: lift that inside this one transaction only
            guards = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'event_actors'"
            ).fetchall()
            for name, _ in guards:
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute("DELETE FROM event_actors")
            for _, sql in guards:
                conn.execute(sql)
            conn.executemany(
                "INSERT OR IGNORE INTO event_actors (position, actor, role) VALUES (?, ?, ?)",
                sorted(actor_rows),
            )
            conn.execute(f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('delete-all')")
            index_for_search(conn, 0)

    def schema_names(self) -> list[str]:
        """Names of the applied schema migrations."""
        with self.guard():
            return [m.name for m in migrations.applied(self.db)]

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Write a consistent copy with ``VACUUM INTO`` (safe while others write)."""
        target_path = Path(target)
        check_target(target_path, self.path)
        if target_path.exists() or target_path.is_symlink():
            raise StoreError(f"{target_path}: already exists; refusing to overwrite")
        if not target_path.parent.is_dir():
            raise StoreError(
                f"{target_path}: unable to open: no such directory {str(target_path.parent)!r}"
            )
        try:
            with self.guard(), atomic_path(target_path, self.path) as temp:
                self.conn.execute("VACUUM INTO ?", (str(temp),))
        except OSError as exc:
            raise StoreError(f"{target_path}: cannot write: {exc.strerror or exc}") from exc

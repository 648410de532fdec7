"""The SQLite snapshot store: fact versions, interned sources and the checkpoint.

It implements :class:`~timeline.store.base.SnapshotStore` on the tables of
migration ``0003_snapshots``, sharing the event store's connection, its write
transactions and its error translation. What the versions mean, and when they
are rebuilt, is :mod:`timeline.snapshots`' business.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter
from typing import Any

import orjson

from timeline.store._schema import (
    CHECKPOINT_CHAIN,
    checkpoint_change,
    pack_fact,
    source_digest,
    unpack_fact,
)
from timeline.store._where import id_chunks
from timeline.store.base import Checkpoint, CheckpointMoved, FactRow
from timeline.store.sqlite import EventStore

__all__ = ["SQLiteSnapshotStore", "stored_state"]

_SCOPE = "all"
_BY_KEY_AND_OKEY = itemgetter(0, 1)
_MAX = "~"  # sorts after every fold key
_KEY_ID = "(SELECT id FROM fact_keys WHERE key = ?)"  # a fact's number, from its key text
_FACT_AT = (  # one fact's latest version at or before a fold key
    f"SELECT fact FROM fact_versions WHERE key_id = {_KEY_ID} AND okey <= ? "
    "ORDER BY okey DESC LIMIT 1"
)

CHECKPOINT_EVERY = 2_000
"""The fewest fact versions between two full-state checkpoints (``fact_checkpoints``)."""
CHECKPOINT_SHARE = 3
"""A checkpoint is due once the versions since the last one outnumber this share of
its facts (or ``CHECKPOINT_EVERY``). A state at T reads one checkpoint and at most
that many versions after it (each version read costs a seek, a fact in a checkpoint
a fraction of one). Measured at 100k events (11,700 facts; docs/performance.md):
50 checkpoints, 12.8 MiB; a share of 1 took 4.8 MiB but read up to 11,000 versions
after the nearest checkpoint, slower than one seek per fact."""
_CHECK_AFTER = CHECKPOINT_EVERY // 4  # versions this process writes before it looks again
STALE_SHARE = 2 * CHECKPOINT_SHARE
"""A checkpoint is rewritten once the facts listed stale in it (``fact_checkpoint_stale``)
outnumber this share of its facts (or ``_CHECK_AFTER``): a reader takes each of them
from the versions, one seek each, as it does the facts changed after the checkpoint."""
_STALE_MOST = 200_000  # more (checkpoint, fact) marks in one refold: drop the checkpoints


class SQLiteSnapshotStore:
    """Fact versions kept in the store file, beside the log they derive from."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.wait = True  # False: give up at once when another writer holds the lock
        self._unchecked = _CHECK_AFTER  # versions written since we last looked for a gap
        self._memo = StateMemo()  # the full-state checkpoint the upkeep wrote or read last

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint, or ``None`` before the first build."""
        with self._store.guard():
            row = self._store.conn.execute(
                "SELECT position, okey, max_reported_at, max_recorded_at, signature, complete "
                "FROM snapshot_checkpoint WHERE scope = ?",
                (_SCOPE,),
            ).fetchone()
        if row is None:
            return None
        return Checkpoint(int(row[0]), row[1], row[2], row[3], row[4], bool(row[5]))

    def _expect(self, expected: Checkpoint | None) -> None:
        """Inside a write transaction: the checkpoint is still the one the caller read."""
        if self.checkpoint() != expected:
            raise CheckpointMoved(f"{self._store.path}: the snapshot checkpoint moved")

    def begin(
        self, expected: Checkpoint | None, checkpoint: Checkpoint, *, delete_from: str | None
    ) -> None:
        """Check ``expected``, drop versions from ``delete_from`` on, write ``checkpoint``."""
        with self._store.write(wait=self.wait) as conn:
            self._expect(expected)
            if delete_from == "":
                conn.execute("DELETE FROM fact_versions")
                conn.execute("DELETE FROM fact_keys")
                _drop_checkpoints(conn, "")
            elif delete_from is not None:
                conn.execute("DELETE FROM fact_versions WHERE okey >= ?", (delete_from,))
                _drop_checkpoints(conn, delete_from)
            self._put(conn, checkpoint)

    def write_versions(
        self,
        expected: Checkpoint,
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Check ``expected``, store the versions, move to ``checkpoint``: one transaction."""
        with self._store.write(wait=self.wait) as conn:
            self._expect(expected)
            ids = self._key_ids(conn, {k for k, _, _ in rows})
            # the texts in hand, by (key number, fold key): a full-state checkpoint due
            # in this write takes the versions it needs from here (no seek each)
            written = {(ids[k], o): (k, dumps(f)) for k, o, f in rows}
            # in key order: a refold's versions land in each fact's pages in turn (in fold
            # order they hop from fact to fact, page to page, through a small page cache)
            values = _packed([(i, o, text) for (i, o), (_, text) in written.items()])
            values.sort(key=_BY_KEY_AND_OKEY)
            conn.executemany(
                "INSERT OR REPLACE INTO fact_versions (key_id, okey, fact) VALUES (?, ?, ?)",
                values,
            )
            if rows:  # (normally all after the last checkpoint: nothing to drop)
                _drop_checkpoints(conn, min(o for _, o, _ in rows))
            self._put(conn, checkpoint)
            self._checkpoints(conn, checkpoint.okey, len(rows), written)

    @staticmethod
    def _key_ids(conn: Any, keys: set[str]) -> dict[str, int]:
        """Inside a write transaction: the numbers of these fact keys, new ones added."""
        ordered = sorted(keys)
        conn.executemany(
            "INSERT OR IGNORE INTO fact_keys (key) VALUES (?)", [(k,) for k in ordered]
        )
        ids: dict[str, int] = {}
        for chunk in id_chunks(ordered):
            marks = ", ".join("?" * len(chunk))
            ids.update(
                (key, int(ref))
                for ref, key in conn.execute(
                    f"SELECT id, key FROM fact_keys WHERE key IN ({marks})", chunk
                )
            )
        return ids

    def versions_after(self, key: str, okey: str) -> list[str]:
        """The fold keys after ``okey`` at which fact ``key`` has a version: the
        events that shaped it since (the index from a fact to its events)."""
        with self._store.guard():
            rows = self._store.conn.execute(
                f"SELECT okey FROM fact_versions WHERE key_id = {_KEY_ID} AND okey > ? "
                "ORDER BY okey",
                (key, okey),
            ).fetchall()
        return [r[0] for r in rows]

    def versions_from(
        self, key: str, okey: str, until: str | None = None, limit: int | None = None
    ) -> list[tuple[str, str | None]]:
        """Fact ``key``'s versions after fold key ``okey`` (up to ``until``, the first
        ``limit`` of them if given): ``(fold key, fact text)``."""
        sql = f"SELECT okey, fact FROM fact_versions WHERE key_id = {_KEY_ID} AND okey > ?"
        params: list[Any] = [key, okey]
        if until is not None:
            sql += " AND okey <= ?"
            params.append(until)
        sql += " ORDER BY okey"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._store.guard():
            rows = self._store.conn.execute(sql, params).fetchall()
        return [(o, None if f is None else unpack_fact(f)) for o, f in rows]

    def replace_versions(
        self,
        expected: Checkpoint,
        removed: Sequence[tuple[str, str]],
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Check ``expected``; delete the versions ``removed`` names (``(key, fold
        key)``); store ``rows``; move to ``checkpoint``: one transaction. A refold
        passes only what differs from the stored versions (unchanged versions are
        neither deleted nor written again), so only the facts that really changed are
        listed as stale in the full-state checkpoints."""
        with self._store.write() as conn:
            self._expect(expected)
            ids = self._key_ids(conn, {k for k, _ in removed} | {k for k, _, _ in rows})
            conn.executemany(
                "DELETE FROM fact_versions WHERE key_id = ? AND okey = ?",
                [(ids[k], at) for k, at in removed],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO fact_versions (key_id, okey, fact) VALUES (?, ?, ?)",
                [(ids[k], o, pack_fact(dumps(f))) for k, o, f in rows],
            )
            self._mark_stale(conn, ids, removed, rows)
            self._put(conn, checkpoint)
            self._checkpoints(conn, checkpoint.okey, len(rows) + len(removed))

    def _mark_stale(
        self,
        conn: sqlite3.Connection,
        ids: dict[str, int],
        removed: Sequence[tuple[str, str]],
        rows: Sequence[FactRow],
    ) -> None:
        """Inside a refold's write transaction: list the rewritten facts as stale in the
        full-state checkpoints at or after each one's first rewritten fold key (those
        checkpoints hold the fact as it was); then rewrite the one checkpoint whose list
        grew longest past ``STALE_SHARE``, if any. Work in proportion to the facts
        rewritten and the checkpoints after them, never to the state's size, but for
        that one rewrite."""
        first: dict[int, str] = {}
        for key, at in removed:
            ref = ids[key]
            if first.get(ref, _MAX) > at:
                first[ref] = at
        for key, at, _ in rows:
            ref = ids[key]
            if first.get(ref, _MAX) > at:
                first[ref] = at
        if not first:
            return
        lowest = min(first.values())
        held = conn.execute(
            "SELECT okey, size FROM fact_checkpoints WHERE okey >= ? ORDER BY okey", (lowest,)
        ).fetchall()
        if not held:
            return
        marks = [(cp, ref) for cp, _ in held for ref, at in first.items() if at <= cp]
        if len(marks) > _STALE_MOST:
            _drop_checkpoints(conn, lowest)  # a refold of most facts: rebuilt as written
            return
        conn.executemany(
            "INSERT OR IGNORE INTO fact_checkpoint_stale (checkpoint, key_id) VALUES (?, ?)",
            marks,
        )
        # (a count on the table's key, not a counter in the checkpoint's row: updating
        # that row would write its whole blob again)
        listed = dict(
            conn.execute(
                "SELECT checkpoint, count(*) FROM fact_checkpoint_stale WHERE checkpoint >= ? "
                "GROUP BY checkpoint",
                (lowest,),
            ).fetchall()
        )
        excess, worst = max(
            (listed.get(cp, 0) - max(_CHECK_AFTER, size // STALE_SHARE), cp) for cp, size in held
        )
        if excess > 0:
            self._rewrite_checkpoint(conn, worst)

    def _rewrite_checkpoint(self, conn: sqlite3.Connection, at: str) -> None:
        """The checkpoint at fold key ``at`` written again with its stale facts taken from
        the versions, its list of stale facts emptied. A checkpoint stored as a change of
        this one is stored again as a change of what this one now holds (what it holds
        itself does not change)."""
        state = self._state_texts(conn, at, inclusive=True)
        assert state is not None  # (the checkpoint at ``at`` is there)
        dependents = [
            (okey, stored_state(conn, okey)[0])
            for (okey,) in conn.execute(
                "SELECT okey FROM fact_checkpoints WHERE base = ?", (at,)
            ).fetchall()
        ]
        base = conn.execute("SELECT base FROM fact_checkpoints WHERE okey = ?", (at,)).fetchone()[0]
        blob = (
            _whole(state) if base is None else checkpoint_change(stored_state(conn, base)[0], state)
        )
        conn.execute(
            "UPDATE fact_checkpoints SET size = ?, facts = ? WHERE okey = ?",
            (len(state), blob, at),
        )
        for okey, held in dependents:
            conn.execute(
                "UPDATE fact_checkpoints SET facts = ? WHERE okey = ?",
                (checkpoint_change(state, held), okey),
            )
        conn.execute("DELETE FROM fact_checkpoint_stale WHERE checkpoint = ?", (at,))

    @staticmethod
    def _put(conn: Any, cp: Checkpoint) -> None:
        # an UPDATE in place (the common case: every upkeep) writes the row's page
        # alone; INSERT OR REPLACE would delete and insert it, its key index too
        values = (
            cp.position,
            cp.okey,
            cp.max_reported,
            cp.max_recorded,
            cp.signature,
            int(cp.complete),
            _SCOPE,
        )
        updated = conn.execute(
            "UPDATE snapshot_checkpoint SET position = ?, okey = ?, max_reported_at = ?, "
            "max_recorded_at = ?, signature = ?, complete = ? WHERE scope = ?",
            values,
        )
        if updated.rowcount == 0:
            conn.execute(
                "INSERT INTO snapshot_checkpoint (position, okey, max_reported_at, "
                "max_recorded_at, signature, complete, scope) VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    # --- full-state checkpoints -------------------------------------------------------

    def _checkpoints(
        self,
        conn: sqlite3.Connection,
        upto: str,
        written: int,
        texts: Mapping[tuple[int, str], tuple[str, str | None]] | None = None,
    ) -> None:
        """Inside the upkeep's write transaction, with the versions up to fold key
        ``upto`` final: add the missing full-state checkpoints, one every
        ``CHECKPOINT_EVERY`` versions after the latest one, as many as the versions
        just written could have made due (bounded work, in proportion to the upkeep's).
        ``texts``: ``{(key number, fold key): (key text, fact text)}`` of versions in hand."""
        self._unchecked += written
        if self._unchecked < _CHECK_AFTER:
            return
        self._unchecked = 0
        for _ in range(written // CHECKPOINT_EVERY + 1):
            last = conn.execute(
                "SELECT okey, size FROM fact_checkpoints WHERE okey <= ? ORDER BY okey DESC "
                "LIMIT 1",
                (upto,),
            ).fetchone()
            after, size = ("", 0) if last is None else last
            due = conn.execute(
                "SELECT okey FROM fact_versions WHERE okey > ? AND okey <= ? "
                "ORDER BY okey LIMIT 1 OFFSET ?",
                (after, upto, max(CHECKPOINT_EVERY, size // CHECKPOINT_SHARE) - 1),
            ).fetchone()
            if due is None:
                return
            base: str | None = None
            run: list[bytes] = []
            if last is None:
                state = dict(self._scan(conn, due[0], "<="))
                blob = _whole(state)
            else:
                # the state at ``due`` from the last checkpoint (the nearest before it)
                held, chain = stored_state(conn, after, self._memo)
                found = self._state_texts(
                    conn, due[0], inclusive=True, start=(after, held), texts=texts
                )
                assert found is not None
                state = found
                if chain + 1 < CHECKPOINT_CHAIN:  # stored as a change of the last one
                    base, blob = after, checkpoint_change(held, state)
                    run = self._memo.blobs
                else:
                    blob = _whole(state)
            self._memo.keep([blob, *run], state)  # the next checkpoint starts from it
            conn.execute("DELETE FROM fact_checkpoint_stale WHERE checkpoint = ?", (due[0],))
            conn.execute(
                "INSERT OR REPLACE INTO fact_checkpoints (okey, size, base, facts) "
                "VALUES (?, ?, ?, ?)",
                (due[0], len(state), base, blob),
            )

    @staticmethod
    def _state_texts(
        conn: sqlite3.Connection,
        okey: str,
        *,
        inclusive: bool,
        start: tuple[str, dict[str, str]] | None = None,
        texts: Mapping[tuple[int, str], tuple[str, str | None]] | None = None,
    ) -> dict[str, str] | None:
        """``{key text: fact text}`` at ``okey`` from the nearest checkpoint at or before
        it and the versions after that; ``None``: no checkpoint there. ``start``: that
        checkpoint's fold key and stored state, already read (left unchanged).
        ``texts``: versions in hand, as :meth:`_checkpoints` takes them (not read again)."""
        op = "<=" if inclusive else "<"
        if start is None:
            found = conn.execute(
                f"SELECT okey FROM fact_checkpoints WHERE okey {op} ? ORDER BY okey DESC LIMIT 1",
                (okey,),
            ).fetchone()
            if found is None:
                return None
            state = stored_state(conn, found[0])[0]
        else:
            found, state = (start[0],), dict(start[1])
        # which facts changed after the checkpoint, and at which fold key last, from the
        # okey index alone; then one seek per fact changed (about half as many as the
        # versions: a fact changed twice since is read once)
        latest: dict[int, str] = {}
        for key_id, at in conn.execute(
            f"SELECT key_id, okey FROM fact_versions WHERE okey > ? AND okey {op} ? ORDER BY okey",
            (found[0], okey),
        ):
            latest[key_id] = at
        fetch = conn.execute
        # facts a backdated refold rewrote at or before the checkpoint since it was
        # written: as the versions have them at the checkpoint (one seek each), unless
        # changed after it anyway
        for (key_id,) in fetch(
            "SELECT key_id FROM fact_checkpoint_stale WHERE checkpoint = ?", (found[0],)
        ).fetchall():
            if key_id in latest:
                continue
            key, fact = fetch(
                "SELECT k.key, (SELECT v.fact FROM fact_versions v WHERE v.key_id = k.id "
                "AND v.okey <= ? ORDER BY v.okey DESC LIMIT 1) FROM fact_keys k WHERE k.id = ?",
                (found[0], key_id),
            ).fetchone()
            if fact is None:
                state.pop(key, None)
            else:
                state[key] = unpack_fact(fact)
        for key_id, at in sorted(latest.items()):
            held = texts.get((key_id, at)) if texts is not None else None
            if held is not None:
                key, text = held
                if text is None:
                    state.pop(key, None)
                else:
                    state[key] = text
                continue
            key, fact = fetch(
                "SELECT k.key, v.fact FROM fact_versions v JOIN fact_keys k ON k.id = v.key_id "
                "WHERE v.key_id = ? AND v.okey = ?",
                (key_id, at),
            ).fetchone()
            if fact is None:
                state.pop(key, None)
            else:
                state[key] = unpack_fact(fact)
        return state

    @staticmethod
    def _scan(conn: sqlite3.Connection, okey: str, op: str) -> Iterator[tuple[str, str]]:
        """Each fact's latest version by ``okey`` from the versions alone (one seek per fact)."""
        rows = conn.execute(
            "SELECT k.key, (SELECT v.fact FROM fact_versions v WHERE v.key_id = k.id "
            f"AND v.okey {op} ? ORDER BY v.okey DESC LIMIT 1) FROM fact_keys k",
            (okey,),
        ).fetchall()
        return ((key, unpack_fact(fact)) for key, fact in rows if fact is not None)

    def checkpoint_keys(self) -> list[str]:
        """The fold keys of the full-state checkpoints, in order."""
        with self._store.guard():
            rows = self._store.conn.execute(
                "SELECT okey FROM fact_checkpoints ORDER BY okey"
            ).fetchall()
        return [r[0] for r in rows]

    def facts_at(self, okey: str, *, inclusive: bool) -> Iterator[tuple[str, str]]:
        """Each fact's latest version at (or before) ``okey``; removed facts left out:
        from the nearest full-state checkpoint and the versions after it, or (before
        the first checkpoint) one seek per fact."""
        op = "<=" if inclusive else "<"
        with self._store.guard():
            state = self._state_texts(self._store.conn, okey, inclusive=inclusive)
            if state is not None:
                return iter(state.items())
            return iter(list(self._scan(self._store.conn, okey, op)))

    def fact_at(self, key: str, okey: str) -> str | None:
        """One fact's latest version at or before ``okey`` (``None``: absent or removed)."""
        with self._store.guard():
            row = self._store.conn.execute(_FACT_AT, (key, okey)).fetchone()
        return None if row is None or row[0] is None else unpack_fact(row[0])

    def fact_counted(self, key: str, okey: str) -> tuple[tuple[int, int], str | None]:
        """:meth:`fact_at` and the store's :meth:`~EventStore.change_count`, from one
        statement (one snapshot of the file): a reader that saw that count before knows
        the fact is as of the state it read then."""
        count, fact = self._store.counted(_FACT_AT, (key, okey))
        return count, None if fact is None else unpack_fact(fact)

    def versions_in_fold_order(self) -> Iterator[tuple[str, str, str | None]]:
        """Every stored fact version ``(key text, okey, fact text)``, by fold key (then
        key text), read as they are consumed: one statement, whose rows are never all
        held (a deep check at a million events)."""
        with self._store.guard():
            cursor = self._store.conn.execute(
                "SELECT k.key, v.okey, v.fact FROM fact_versions v "
                "JOIN fact_keys k ON k.id = v.key_id ORDER BY v.okey, k.key"
            )
        try:
            while True:
                with self._store.guard():
                    rows = cursor.fetchmany(1000)
                if not rows:
                    return
                for k, o, f in rows:
                    yield k, o, None if f is None else unpack_fact(f)
        finally:
            cursor.close()

    def clear(self) -> None:
        """Drop every version and the checkpoint: the next catch-up rebuilds them."""
        with self._store.write() as conn:
            conn.execute("DELETE FROM fact_versions")
            conn.execute("DELETE FROM fact_keys")
            _drop_checkpoints(conn, "")
            conn.execute("DELETE FROM snapshot_checkpoint")

    def source_ref(self, text: str) -> int:
        """The number of an interned source, interning it now if new."""
        conn = self._store.conn
        digest = source_digest(text)
        with self._store.guard():
            row = conn.execute(
                "SELECT id FROM fact_sources WHERE digest = ? AND source = ?", (digest, text)
            ).fetchone()
            if row is not None:
                return int(row[0])
            cursor = conn.execute(
                "INSERT INTO fact_sources (digest, source) VALUES (?, ?)", (digest, text)
            )
        return int(cursor.lastrowid or 0)

    def sources(self, after: int = 0) -> list[tuple[int, str]]:
        """Interned sources numbered above ``after``, in order."""
        with self._store.guard():
            rows = self._store.conn.execute(
                "SELECT id, source FROM fact_sources WHERE id > ? ORDER BY id", (after,)
            ).fetchall()
        return [(int(ref), text) for ref, text in rows]

    def sources_with_ids(self, refs: Sequence[int]) -> list[tuple[int, str]]:
        """The interned sources with these numbers (a cold lookup reads only these)."""
        found: list[tuple[int, str]] = []
        with self._store.guard():
            for start in range(0, len(refs), 500):
                chunk = list(refs[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                found.extend(
                    self._store.conn.execute(
                        f"SELECT id, source FROM fact_sources WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
        return [(int(ref), text) for ref, text in found]


class StateMemo:
    """The last full-state checkpoint a writer decoded or wrote, by the stored blobs of
    its run (the whole state first, then each change). What a checkpoint holds is a
    function of those blobs alone, so a run read again with the very same blobs is not
    decoded again, whatever happened in between (a rolled-back write, another writer):
    a writer adding checkpoints one after another in a refold decoded the one before
    each (at 1M events, about 300 of them, tens of milliseconds each)."""

    __slots__ = ("blobs", "state")

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.state: dict[str, str] = {}

    def keep(self, blobs: list[bytes], state: dict[str, str]) -> None:
        """Remember ``state`` as what the run of ``blobs`` holds (not copied: the caller
        hands it over)."""
        self.blobs, self.state = blobs, state


_PACK_IN_TWO_FROM = 4_000  # versions in one write: compressed in two threads from this many
_CORES = os.cpu_count() or 1


def _packed(
    values: list[tuple[int, str, str | None]],
) -> list[tuple[int, str, str | bytes | None]]:
    """``(key number, fold key, text)`` with each text as stored (:func:`pack_fact`).

    A large write (a refold's chunk of 20,000 events) compresses its second half in
    another thread: zlib lets go of the interpreter while it deflates, so with two
    cores or more the halves run side by side. At 1M events a refold's compression took
    about a fifth of the first ``state()`` after a bulk load. The result is the same
    either way (each text is compressed alone, as :func:`pack_fact` does)."""
    if len(values) < _PACK_IN_TWO_FROM or _CORES < 2:
        return _packed_here(values)
    half = len(values) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="timeline-pack") as pool:
        later = pool.submit(_packed_here, values[half:])
        first = _packed_here(values[:half])
        return first + later.result()


def _packed_here(
    values: list[tuple[int, str, str | None]],
) -> list[tuple[int, str, str | bytes | None]]:
    return [(i, o, pack_fact(text)) for i, o, text in values]


def stored_state(
    conn: sqlite3.Connection, okey: str, memo: StateMemo | None = None
) -> tuple[dict[str, str], int]:
    """The state the full-state checkpoint at ``okey`` holds as stored (before its stale
    facts are taken from the versions), and how many changes it is from a whole one.
    ``memo``: the run decoded last; it then holds this one (the state returned is the
    caller's own either way)."""
    blobs: list[bytes] = []
    at: str | None = okey
    while at is not None:
        at, blob = conn.execute(
            "SELECT base, facts FROM fact_checkpoints WHERE okey = ?", (at,)
        ).fetchone()
        blobs.append(blob)
    if memo is not None and memo.blobs == blobs:
        return dict(memo.state), len(blobs) - 1
    state: dict[str, str] = orjson.loads(zlib.decompress(blobs[-1]))
    for blob in reversed(blobs[:-1]):
        changed, removed = orjson.loads(zlib.decompress(blob))
        state.update(changed)
        for key in removed:
            state.pop(key, None)
    if memo is not None:
        memo.keep(blobs, dict(state))
    return state, len(blobs) - 1


def _whole(state: dict[str, str]) -> bytes:
    """A checkpoint's ``facts`` holding the whole state: ``{key text: fact text}``."""
    return zlib.compress(orjson.dumps(state), 6)


def _drop_checkpoints(conn: Any, since: str) -> None:
    """Drop the full-state checkpoints at or after fold key ``since`` ("": all), with
    their lists of stale facts."""
    conn.execute("DELETE FROM fact_checkpoints WHERE okey >= ?", (since,))
    conn.execute("DELETE FROM fact_checkpoint_stale WHERE checkpoint >= ?", (since,))

"""The SQLite snapshot store: fact versions, interned sources and the checkpoint.

It implements :class:`~timeline.store.base.SnapshotStore` on the tables of
migration ``0003_snapshots``, sharing the event store's connection, its write
transactions and its error translation. What the versions mean, and when they
are rebuilt, is :mod:`timeline.snapshots`' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from timeline.store._schema import pack_fact, source_digest, unpack_fact
from timeline.store._where import id_chunks
from timeline.store.base import Checkpoint, CheckpointMoved, FactRow
from timeline.store.sqlite import EventStore

__all__ = ["SQLiteSnapshotStore"]

_SCOPE = "all"
_KEY_ID = "(SELECT id FROM fact_keys WHERE key = ?)"  # a fact's number, from its key text


class SQLiteSnapshotStore:
    """Fact versions kept in the store file, beside the log they derive from."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.wait = True  # False: give up at once when another writer holds the lock

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
            elif delete_from is not None:
                conn.execute("DELETE FROM fact_versions WHERE okey >= ?", (delete_from,))
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
            conn.executemany(
                "INSERT OR REPLACE INTO fact_versions (key_id, okey, fact) VALUES (?, ?, ?)",
                [(ids[k], o, pack_fact(dumps(f))) for k, o, f in rows],
            )
            self._put(conn, checkpoint)

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

    def replace_versions(
        self,
        expected: Checkpoint,
        dropped: Sequence[tuple[str, str]],
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Check ``expected``; for each ``(key, after)`` in ``dropped`` delete that fact's
        versions after fold key ``after``; store ``rows``; move to ``checkpoint``: one
        transaction."""
        with self._store.write() as conn:
            self._expect(expected)
            ids = self._key_ids(conn, {k for k, _ in dropped} | {k for k, _, _ in rows})
            conn.executemany(
                "DELETE FROM fact_versions WHERE key_id = ? AND okey > ?",
                [(ids[k], after) for k, after in dropped],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO fact_versions (key_id, okey, fact) VALUES (?, ?, ?)",
                [(ids[k], o, pack_fact(dumps(f))) for k, o, f in rows],
            )
            self._put(conn, checkpoint)

    @staticmethod
    def _put(conn: Any, cp: Checkpoint) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO snapshot_checkpoint (scope, position, okey, "
            "max_reported_at, max_recorded_at, signature, complete) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _SCOPE,
                cp.position,
                cp.okey,
                cp.max_reported,
                cp.max_recorded,
                cp.signature,
                int(cp.complete),
            ),
        )

    def facts_at(self, okey: str, *, inclusive: bool) -> Iterator[tuple[str, str]]:
        """Each fact's latest version at (or before) ``okey``; removed facts left out."""
        op = "<=" if inclusive else "<"
        with self._store.guard():
            rows = self._store.conn.execute(
                "SELECT k.key, (SELECT v.fact FROM fact_versions v WHERE v.key_id = k.id "
                f"AND v.okey {op} ? ORDER BY v.okey DESC LIMIT 1) FROM fact_keys k",
                (okey,),
            ).fetchall()
        return ((key, unpack_fact(fact)) for key, fact in rows if fact is not None)

    def fact_at(self, key: str, okey: str) -> str | None:
        """One fact's latest version at or before ``okey`` (``None``: absent or removed)."""
        with self._store.guard():
            row = self._store.conn.execute(
                f"SELECT fact FROM fact_versions WHERE key_id = {_KEY_ID} AND okey <= ? "
                "ORDER BY okey DESC LIMIT 1",
                (key, okey),
            ).fetchone()
        return None if row is None or row[0] is None else unpack_fact(row[0])

    def versions(self) -> list[tuple[str, str, str | None]]:
        """Every stored fact version ``(key text, okey, fact text)``, by key then okey."""
        with self._store.guard():
            rows = self._store.conn.execute(
                "SELECT k.key, v.okey, v.fact FROM fact_versions v "
                "JOIN fact_keys k ON k.id = v.key_id ORDER BY k.key, v.okey"
            ).fetchall()
        return [(k, o, None if f is None else unpack_fact(f)) for k, o, f in rows]

    def clear(self) -> None:
        """Drop every version and the checkpoint: the next catch-up rebuilds them."""
        with self._store.write() as conn:
            conn.execute("DELETE FROM fact_versions")
            conn.execute("DELETE FROM fact_keys")
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

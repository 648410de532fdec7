"""Fact versions of a PostgreSQL store, kept beside the log in the same schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from timeline.store.base import Checkpoint, CheckpointMoved, FactRow


class _Host(Protocol):
    """What the snapshot store uses of the PostgreSQL event store it lives beside (a
    protocol, so that this module does not import that one back)."""

    label: str
    conn: Any

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def write(self, *, wait: bool = True) -> AbstractContextManager[Any]: ...


__all__ = ["PostgresSnapshotStore"]


class PostgresSnapshotStore:
    """Fact versions kept beside the log in the same schema (see ``SQLiteSnapshotStore``)."""

    def __init__(self, store: _Host) -> None:
        self._store = store
        self.wait = True  # False: give up at once when another writer holds the lock

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint, or ``None`` before the first build."""
        rows = self._store._query(
            "SELECT position, okey, max_reported_at, max_recorded_at, signature, complete "
            "FROM snapshot_checkpoint WHERE scope = 'all'"
        )
        if not rows:
            return None
        row = rows[0]
        return Checkpoint(int(row[0]), row[1], row[2], row[3], row[4], bool(row[5]))

    def _expect(self, expected: Checkpoint | None) -> None:
        if self.checkpoint() != expected:
            raise CheckpointMoved(f"{self._store.label}: the snapshot checkpoint moved")

    def begin(
        self, expected: Checkpoint | None, checkpoint: Checkpoint, *, delete_from: str | None
    ) -> None:
        """Check ``expected``, drop versions from ``delete_from`` on, write ``checkpoint``."""
        with self._store.write(wait=self.wait):
            conn = self._store.conn
            self._expect(expected)
            if delete_from == "":
                conn.execute("DELETE FROM fact_versions")
                conn.execute("DELETE FROM fact_keys")
            elif delete_from is not None:
                conn.execute(
                    'DELETE FROM fact_versions WHERE okey COLLATE "C" >= %s', (delete_from,)
                )
            self._put(checkpoint)

    def write_versions(
        self,
        expected: Checkpoint,
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Check ``expected``, store the versions, move to ``checkpoint``: one transaction."""
        with self._store.write(wait=self.wait):
            self._expect(expected)
            with self._store.conn.cursor() as cur:
                _insert(cur, rows, dumps)
            self._put(checkpoint)

    def versions_after(self, key: str, okey: str) -> list[str]:
        """The fold keys of fact ``key``'s versions after ``okey``, in order: where the
        events that shaped it are (a per-fact refold replays those)."""
        rows = self._store._query(
            "SELECT okey FROM fact_versions WHERE key = %s AND okey > %s ORDER BY okey",
            (key, okey),
        )
        return [r[0] for r in rows]

    def versions_from(
        self, key: str, okey: str, until: str | None = None, limit: int | None = None
    ) -> list[tuple[str, str | None]]:
        """Fact ``key``'s versions after fold key ``okey`` (up to ``until``, the first
        ``limit`` of them if given): ``(fold key, fact text)``."""
        sql = "SELECT okey, fact FROM fact_versions WHERE key = %s AND okey > %s"
        params: list[Any] = [key, okey]
        if until is not None:
            sql += " AND okey <= %s"
            params.append(until)
        sql += " ORDER BY okey"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return [(o, f) for o, f in self._store._query(sql, params)]

    def replace_versions(
        self,
        expected: Checkpoint,
        removed: Sequence[tuple[str, str]],
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Check ``expected``; delete the versions ``removed`` names (``(key, fold
        key)``); store ``rows``; move to ``checkpoint``: one transaction (a per-fact
        refold's write: only the versions that differ from the stored ones)."""
        with self._store.write(wait=self.wait):
            self._expect(expected)
            with self._store.conn.cursor() as cur:
                if removed:
                    cur.executemany(
                        "DELETE FROM fact_versions WHERE key = %s AND okey = %s", list(removed)
                    )
                if rows:
                    _insert(cur, rows, dumps)
            self._put(checkpoint)

    def _put(self, cp: Checkpoint) -> None:
        self._store.conn.execute(
            "INSERT INTO snapshot_checkpoint (scope, position, okey, max_reported_at, "
            "max_recorded_at, signature, complete) VALUES ('all', %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (scope) DO UPDATE SET position = excluded.position, "
            "okey = excluded.okey, max_reported_at = excluded.max_reported_at, "
            "max_recorded_at = excluded.max_recorded_at, signature = excluded.signature, "
            "complete = excluded.complete",
            (cp.position, cp.okey, cp.max_reported, cp.max_recorded, cp.signature, cp.complete),
        )

    def facts_at(self, okey: str, *, inclusive: bool) -> Iterator[tuple[str, str]]:
        """Each fact's latest version at (or before) ``okey``; removed facts left out."""
        op = "<=" if inclusive else "<"
        rows = self._store._query(
            "SELECT k.key, (SELECT v.fact FROM fact_versions v WHERE v.key = k.key "
            f'AND v.okey COLLATE "C" {op} %s ORDER BY v.okey COLLATE "C" DESC LIMIT 1) '
            "FROM fact_keys k",
            (okey,),
        )
        return ((key, fact) for key, fact in rows if fact is not None)

    def fact_at(self, key: str, okey: str) -> str | None:
        """One fact's latest version at or before ``okey`` (``None``: absent or removed)."""
        rows = self._store._query(
            'SELECT fact FROM fact_versions WHERE key = %s AND okey COLLATE "C" <= %s '
            'ORDER BY okey COLLATE "C" DESC LIMIT 1',
            (key, okey),
        )
        return None if not rows else rows[0][0]

    def source_ref(self, text: str) -> int:
        """The number of an interned source, interning it now if new."""
        rows = self._store._query(
            "WITH ins AS (INSERT INTO fact_sources (source) VALUES (%s) "
            "ON CONFLICT (digest) DO NOTHING RETURNING id) "
            "SELECT id FROM ins UNION ALL SELECT id FROM fact_sources WHERE digest = md5(%s)",
            (text, text),
        )
        return int(rows[0][0])

    def sources(self, after: int = 0) -> list[tuple[int, str]]:
        """Interned sources numbered above ``after``, in order."""
        rows = self._store._query(
            "SELECT id, source FROM fact_sources WHERE id > %s ORDER BY id", (after,)
        )
        return [(int(ref), text) for ref, text in rows]

    def sources_with_ids(self, refs: Sequence[int]) -> list[tuple[int, str]]:
        """The interned sources with these numbers (a cold lookup reads only these)."""
        rows = self._store._query(
            "SELECT id, source FROM fact_sources WHERE id = ANY(%s)", (list(refs),)
        )
        return [(int(ref), text) for ref, text in rows]


def _insert(cur: Any, rows: Sequence[FactRow], dumps: Callable[[Any], str | None]) -> None:
    """Store fact versions (a version at a stored key and fold key replaces it) and
    their keys, through the write transaction's cursor ``cur``."""
    cur.executemany(
        "INSERT INTO fact_versions (key, okey, fact) VALUES (%s, %s, %s) "
        "ON CONFLICT (key, okey) DO UPDATE SET fact = excluded.fact",
        [(k, o, dumps(f)) for k, o, f in rows],
    )
    cur.executemany(
        "INSERT INTO fact_keys (key) VALUES (%s) ON CONFLICT DO NOTHING",
        [(k,) for k in {k for k, _, _ in rows}],
    )

"""The hash chain: how each row's hash is made, and re-walking it."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from timeline.codec import canonical_bytes_plain, loads_trusted
from timeline.errors import IntegrityError
from timeline.times import Precision, from_text, period_end, to_text

__all__ = [
    "COLUMNS",
    "GENESIS_HASH",
    "STORED",
    "check_continues",
    "row_hash",
    "verify",
    "verify_rows",
]

GENESIS_HASH = "0" * 64

COLUMNS = (
    "position, id, story, version, type, schema_version, occurred_at, precision, "
    "reported_at, recorded_at, payload, prev_hash, hash"
)
STORED = f"{COLUMNS}, occurred_until, reported_until"
"""Every column a row is stored with: the chain's, then the period ends the payload implies."""


def row_hash(prev_hash: str, row: Sequence[Any]) -> str:
    """sha256 over the previous hash and the canonical form of a row's hashed columns.

    ``row`` is ``(position, id, story, version, type, schema_version, occurred_at,
    precision, reported_at, recorded_at, payload)``.
    """
    # the row holds text and integers only: orjson spells it as the standard encoder does
    body = canonical_bytes_plain(list(row))
    return hashlib.sha256(prev_hash.encode("utf-8") + body).hexdigest()


def _period_ends(
    payload: Any, occurred_at: str, precision: str, reported_at: str
) -> tuple[str, str] | None:
    """The ``occurred_until`` / ``reported_until`` columns a row's payload implies."""
    if not isinstance(payload, dict):
        return None
    try:
        until = payload.get("occurred_until")
        if isinstance(until, str):
            occurred_until = to_text(from_text(until))
        else:  # schema 1: the end of the precision period (see registry.upcast_periods)
            start = payload.get("occurred_at")
            occurred_until = to_text(period_end(from_text(str(start)), Precision(precision)))
        reported = payload.get("reported_until")
        reported_until = to_text(from_text(reported)) if isinstance(reported, str) else reported_at
    except (ValueError, TypeError, OverflowError):
        return None
    return occurred_until, reported_until


def verify(conn: sqlite3.Connection, progress: Callable[[int], None] | None = None) -> int:
    """Re-walk the hash chain; return the number of events checked.

    Args:
        conn: the store's connection.
        progress: called with the number of events checked since its last call.

    Raises:
        IntegrityError: naming the first position whose row does not match.
        sqlite3.Error: for the caller (the store) to translate.
    """
    # one read transaction: the rows and sqlite_sequence come from the same
    # snapshot, so a writer appending meanwhile is never taken for tampering
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        return _walk(conn, progress)
    finally:
        if own and conn.in_transaction:
            conn.execute("COMMIT")


def _walk(conn: sqlite3.Connection, progress: Callable[[int], None] | None) -> int:
    rows = conn.execute(f"SELECT {STORED} FROM events ORDER BY position")
    count = verify_rows(rows, reached=lambda: _sequence(conn), progress=progress)
    return count


def _sequence(conn: sqlite3.Connection) -> int | None:
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return None if seq is None else int(seq[0])


_PROGRESS_EVERY = 500  # rows checked between two progress calls


def verify_rows(
    rows: Iterable[Sequence[Any]],
    *,
    reached: Callable[[], int | None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-walk the chain over ``rows`` (every column of :data:`STORED`, by position).

    Args:
        rows: every stored row, in position order.
        reached: the highest position the log has handed out, if the backend
            remembers one (asked after the walk); rows cut off the end are then named.
        progress: called with the number of rows checked since its last call
            (every few hundred rows, and once at the end).

    Raises:
        IntegrityError: naming the first position whose row does not match.
    """
    prev_hash = GENESIS_HASH
    expected_position = 1
    count = 0
    stray: list[int] = []
    for row in rows:
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
            payload = loads_trusted(row[10])
        except ValueError as exc:
            raise IntegrityError(position, "payload is not valid JSON") from exc
        if (row[13], row[14]) != _period_ends(payload, row[6], row[7], row[8]):
            raise IntegrityError(
                position, "occurred_until / reported_until do not match the payload"
            )
        prev_hash = row[12]
        expected_position += 1
        count += 1
        if progress is not None and count % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
    if progress is not None and count % _PROGRESS_EVERY:
        progress(count % _PROGRESS_EVERY)
    seq = reached() if reached is not None else None
    if seq is not None and seq >= expected_position:
        raise IntegrityError(
            expected_position,
            f"rows missing at the end of the log (log reached {seq})",
        )
    if stray:
        raise IntegrityError(stray[0], "row stored outside the log (positions start at 1)")
    return count


def check_continues(last: Sequence[Any] | None, rows: Sequence[Sequence[Any]]) -> None:
    """Refuse copied rows that do not continue a log whose last row is ``(position, hash)``.

    Raises:
        IntegrityError: naming the first copied position that does not fit.
    """
    position, prev_hash = (last[0], last[1]) if last is not None else (0, GENESIS_HASH)
    for row in rows:
        if row[0] != position + 1:
            raise IntegrityError(row[0], f"copied row does not follow position {position}")
        if row[11] != prev_hash or row_hash(prev_hash, row[:11]) != row[12]:
            raise IntegrityError(row[0], "copied row does not continue the hash chain")
        position, prev_hash = row[0], row[12]

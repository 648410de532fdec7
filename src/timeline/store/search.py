"""Full-text search over the store's FTS5 index (``events_fts``, migration ``0002_search``).

The index holds, per event, its summary, quote, attribution, source headline and
publisher, and the names of the actors it names; the store fills it in the same
transaction as each append. Queries are plain words by default; FTS5 syntax
(phrases in double quotes, ``AND`` / ``OR`` / ``NOT``, ``NEAR()``, prefixes with
``*``, column filters such as ``summary:``) is used when asked for, or when the
query visibly uses it. A malformed query is a
:class:`~timeline.errors.ValidationError`; other ``sqlite3`` errors are the store's to translate.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from timeline.errors import ValidationError
from timeline.store._schema import SEARCH_COLUMNS, SEARCH_TABLE
from timeline.store._where import where as where_sql
from timeline.store.base import EventFilter
from timeline.store.query_syntax import is_sqlite_only, parse, to_fts5

__all__ = ["fts_query", "matching_rows"]

_SNIPPET_TOKENS = 16


def fts_query(text: str, *, raw: bool | None = None) -> str:
    """The FTS5 query for what a person typed.

    Args:
        text: the query.
        raw: ``True``: ``text`` is FTS5 syntax, used as is. ``False``: plain
            words; each is quoted, so every word must appear (``grey-market``
            is the phrase "grey market"). ``None`` (default): FTS5 syntax if
            ``text`` uses double quotes, ``*``, parentheses, ``^`` or an
            upper-case ``AND`` / ``OR`` / ``NOT`` / ``NEAR``, or filters a
            column (``summary:``); plain words otherwise.

    Raises:
        ValidationError: an empty query.
    """
    if not text.strip():
        raise ValidationError("query: the search query is empty", field="query")
    if raw is None:
        if not is_sqlite_only(text):
            # the syntax every backend shares: words, "phrases", OR, -word, prefix*
            return to_fts5(parse(text))
        raw = True
    if raw:
        return text
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def matching_rows(
    conn: sqlite3.Connection,
    query: str,
    *,
    raw: bool | None,
    where: EventFilter,
    limit: int | None,
    markers: tuple[str, str],
) -> list[tuple[str, str, float]]:
    """``(event id, snippet, rank)`` of the events matching ``query`` and ``where``, best first.

    Args:
        conn: the store's connection (other ``sqlite3`` errors propagate to the
            store, which translates them).
        query: words, or FTS5 syntax (see :func:`fts_query`).
        raw: how to read ``query`` (see :func:`fts_query`).
        where: the events to search among (its ``order`` is not used: best first).
        limit: at most this many results (``None``: all).
        markers: text put before and after each match in the snippet.

    Raises:
        ValidationError: an empty query, a query that is not valid FTS5
            syntax, or a ``limit`` below 1.
    """
    if limit is not None and limit < 1:
        raise ValidationError(f"limit: must be at least 1, got {limit}", field="limit")
    if limit is not None and limit > 2**63 - 1:
        raise ValidationError(
            f"limit: must be at most {2**63 - 1} (SQLite's largest integer), got {limit}",
            field="limit",
        )
    match = fts_query(query, raw=raw)
    join, join_params, condition, params = where_sql(where)
    sql = (
        f"SELECT e.id, snippet({SEARCH_TABLE}, -1, ?, ?, '…', {_SNIPPET_TOKENS}), "
        f"{SEARCH_TABLE}.rank FROM {SEARCH_TABLE} "
        f"JOIN events e ON e.position = {SEARCH_TABLE}.rowid {join} "
        f"WHERE {SEARCH_TABLE} MATCH ? AND {condition} ORDER BY {SEARCH_TABLE}.rank, e.position"
    )
    values: list[Any] = [markers[0], markers[1], *join_params, match, *params]
    if limit is not None:
        sql += " LIMIT ?"
        values.append(limit)
    try:
        return [(r[0], r[1], float(r[2])) for r in conn.execute(sql, values).fetchall()]
    except sqlite3.OperationalError as exc:
        if not _is_query_error(exc):
            raise
        hint = (
            f"search columns are {', '.join(SEARCH_COLUMNS)}"
            if str(exc).startswith("no such column")
            else "close every double quote and put words on both sides of AND / OR / NOT"
        )
        raise ValidationError(
            f"query: {query!r} is not valid search syntax ({exc}); {hint}, "
            "or search it as plain words (--plain, raw=False)",
            field="query",
        ) from exc


def _is_query_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return (
        text.startswith("fts5:")
        or "syntax error" in text
        or "unterminated string" in text
        or text.startswith("no such column")
        or "unknown special query" in text
    )

"""Full-text search over the store's FTS5 index (``events_fts``, migration ``0002_search``).

The index holds, per event, its summary, quote, attribution, source headline and
publisher, and the names of the actors it names; the store fills it in the same
transaction as each append. Queries are plain words by default; FTS5 syntax
(phrases in double quotes, ``AND`` / ``OR`` / ``NOT``, ``NEAR()``, prefixes with
``*``, column filters such as ``summary:``) is used when asked for, or when the
query visibly uses it. ``sqlite3`` errors are translated here into
:class:`~timeline.errors.ValidationError` (a bad query) or the store's errors.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from timeline.errors import ValidationError
from timeline.store._schema import SEARCH_COLUMNS, SEARCH_TABLE
from timeline.store.sqlite import EventStore, RecordedEvent
from timeline.times import to_text

__all__ = ["SearchHit", "fts_query", "search"]

# characters, operator words and column filters that only mean something in FTS5 syntax
_SYNTAX = re.compile(
    r'["*()^{}]|(?:^|\s)(?:AND|OR|NOT|NEAR)(?:\s|$|\()'
    rf"|(?:^|\s)-?(?:{'|'.join(SEARCH_COLUMNS)})\s*:"
)
_SNIPPET_TOKENS = 16
_ID_CHUNK = 500


@attrs.frozen(kw_only=True)
class SearchHit:
    """One search result: the event, a snippet with the matches marked, and its rank.

    Attributes:
        rank: FTS5's bm25 rank; lower is a better match (results come best first).
    """

    record: RecordedEvent
    snippet: str
    rank: float


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
        raw = bool(_SYNTAX.search(text))
    if raw:
        return text
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def search(
    store: EventStore,
    query: str,
    *,
    raw: bool | None = None,
    story: str | None = None,
    actor: str | None = None,
    types: Sequence[str] | None = None,
    occurred_from: datetime | None = None,
    occurred_until: datetime | None = None,
    limit: int | None = 50,
    markers: tuple[str, str] = ("[", "]"),
) -> list[SearchHit]:
    """Events matching ``query``, best first, with snippets.

    Args:
        store: the event store.
        query: words, or FTS5 syntax (see :func:`fts_query`).
        raw: how to read ``query`` (see :func:`fts_query`).
        story / actor / types: only events of this story, naming this actor
            id, of these stored type names.
        occurred_from / occurred_until: bounds on ``occurred_at``.
        limit: at most this many results (``None``: all).
        markers: text put before and after each match in the snippet.

    Raises:
        ValidationError: an empty query, a query that is not valid FTS5
            syntax, or a ``limit`` below 1.
    """
    if limit is not None and limit < 1:
        raise ValidationError(f"limit: must be at least 1, got {limit}", field="limit")
    match = fts_query(query, raw=raw)
    where = [f"{SEARCH_TABLE} MATCH ?"]
    params: list[Any] = [markers[0], markers[1], match]
    if story is not None:
        where.append("e.story = ?")
        params.append(story)
    if actor is not None:
        where.append("e.position IN (SELECT position FROM event_actors WHERE actor = ?)")
        params.append(actor)
    if types:
        where.append(f"e.type IN ({', '.join('?' * len(types))})")
        params.extend(types)
    if occurred_from is not None:
        where.append("e.occurred_at >= ?")
        params.append(to_text(occurred_from))
    if occurred_until is not None:
        where.append("e.occurred_at <= ?")
        params.append(to_text(occurred_until))
    sql = (
        f"SELECT e.id, snippet({SEARCH_TABLE}, -1, ?, ?, '…', {_SNIPPET_TOKENS}), "
        f"{SEARCH_TABLE}.rank FROM {SEARCH_TABLE} "
        f"JOIN events e ON e.position = {SEARCH_TABLE}.rowid "
        f"WHERE {' AND '.join(where)} ORDER BY {SEARCH_TABLE}.rank, e.position"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    try:
        rows = store.conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if _is_query_error(exc):
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
        raise store._translate(exc) from exc
    except sqlite3.Error as exc:
        raise store._translate(exc) from exc
    if not rows:
        return []
    ids = [row[0] for row in rows]
    records = {
        r.id: r
        for start in range(0, len(ids), _ID_CHUNK)
        for r in store.read(ids=ids[start : start + _ID_CHUNK])
    }
    return [
        SearchHit(record=records[event_id], snippet=snippet, rank=float(rank))
        for event_id, snippet, rank in rows
    ]


def _is_query_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return (
        text.startswith("fts5:")
        or "syntax error" in text
        or "unterminated string" in text
        or text.startswith("no such column")
        or "unknown special query" in text
    )

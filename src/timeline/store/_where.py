"""One filter record as SQL: the WHERE clause every read of the ``events`` table shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from timeline.errors import ValidationError
from timeline.store.base import EventFilter
from timeline.times import to_text

__all__ = ["ID_CHUNK", "Where", "id_chunks", "order_by", "where"]

_ORDER_BY = {
    "position": "e.position",
    "recorded": "e.position",
    "occurred": "e.occurred_at, e.position",
    "reported": "e.reported_at, e.position",
}

ID_CHUNK = 500  # ids per "IN (...)": well under SQLite's limit on bound parameters

Where = tuple[str, list[Any], str, list[Any]]
"""``(join, join params, condition, condition params)`` over ``events e``."""


def id_chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    """The distinct ``ids``, in their order, in chunks one ``IN (...)`` may bind."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_CHUNK):
        yield unique[start : start + ID_CHUNK]


def where(f: EventFilter) -> Where:
    """The join and condition that select the events ``f`` matches (table alias ``e``)."""
    conditions: list[str] = []
    params: list[Any] = []
    if f.after_position > 0:
        # only when asked: "position > 0" would steer SQLite to a rowid scan
        # instead of the occurred_at / reported_at indexes
        conditions.append("e.position > ?")
        params.append(f.after_position)
    if f.upto_position is not None:
        conditions.append("e.position <= ?")
        params.append(f.upto_position)
    if f.story is not None:
        conditions.append("e.story = ?")
        params.append(f.story)
    join, join_params = "", []
    if f.actor is not None:
        join = (
            "JOIN (SELECT DISTINCT position FROM event_actors WHERE actor = ?) a "
            "ON a.position = e.position"
        )
        join_params = [f.actor]
    listed = (
        ("e.type IN", f.types or None),  # no types given: no type filter
        ("e.type NOT IN", f.exclude_types or None),
        ("e.id IN", f.ids),  # no ids given: nothing matches
    )
    for test, values in listed:
        if values is not None:
            conditions.append(f"{test} ({', '.join('?' * len(values))})")
            params.extend(values)
    for column, cmp, value in (
        ("occurred_at", ">=", f.occurred_from),
        ("occurred_at", "<=", f.occurred_until),
        ("reported_at", ">=", f.reported_from),
        ("reported_at", "<=", f.reported_until),
        ("recorded_at", "<=", f.recorded_until),
    ):
        if value is not None:
            conditions.append(f"e.{column} {cmp} ?")
            params.append(to_text(value))
    if f.certain:
        # the period must end by the bound; the *_at terms above keep the index range
        for column, value in (
            ("occurred_until", f.occurred_until),
            ("reported_until", f.reported_until),
        ):
            if value is not None:
                conditions.append(f"e.{column} <= ?")
                params.append(to_text(value))
    for start, end, value in (
        ("occurred_at", "occurred_until", f.vague_at),
        ("reported_at", "reported_until", f.vague_known),
    ):
        if value is not None:
            # "end > start" first: the partial index of vague periods answers it
            conditions.append(f"e.{end} > e.{start} AND e.{start} <= ? AND e.{end} > ?")
            params.extend([to_text(value), to_text(value)])
    return join, join_params, " AND ".join(conditions) or "1", params


def order_by(order: str) -> str:
    """The ORDER BY terms for a read order.

    Raises:
        ValidationError: not one of position, occurred, reported, recorded.
    """
    found = _ORDER_BY.get(order)
    if found is None:
        raise ValidationError(
            f"order: {order!r} is not one of occurred, reported, recorded", field="order"
        )
    return found

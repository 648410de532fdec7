"""One filter record as SQL: the WHERE clause every read of the ``events`` table shares,
on both backends (SQLite and PostgreSQL differ only in the :class:`Dialect`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from timeline.errors import ValidationError
from timeline.store.base import EventFilter
from timeline.times import to_text

__all__ = ["ID_CHUNK", "POSTGRES", "SQLITE", "Dialect", "Where", "id_chunks", "order_by", "where"]


@attrs.frozen
class Dialect:
    """How one backend spells what the filter needs."""

    mark: str  # a bound parameter
    text_order: str  # after a time column: compare the fixed-width UTC text byte by byte
    arrays: bool  # bind a list as one array (``= ANY(%s)``) rather than ``IN (?, ?, ...)``
    true: str  # the condition that holds for every row


SQLITE = Dialect(mark="?", text_order="", arrays=False, true="1")
# the times are fixed-width UTC text: in the "C" collation byte order is time order
POSTGRES = Dialect(mark="%s", text_order=' COLLATE "C"', arrays=True, true="TRUE")

ID_CHUNK = 500  # ids per "IN (...)": well under SQLite's limit on bound parameters

Where = tuple[str, list[Any], str, list[Any]]
"""``(join, join params, condition, condition params)`` over ``events e``."""


def id_chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    """The distinct ``ids``, in their order, in chunks one ``IN (...)`` may bind."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_CHUNK):
        yield unique[start : start + ID_CHUNK]


def where(f: EventFilter, dialect: Dialect = SQLITE) -> Where:
    """The join and condition that select the events ``f`` matches (table alias ``e``)."""
    mark, c = dialect.mark, dialect.text_order
    conditions: list[str] = []
    params: list[Any] = []
    if f.after_position > 0:
        # only when asked: "position > 0" would steer SQLite to a rowid scan
        # instead of the occurred_at / reported_at indexes
        conditions.append(f"e.position > {mark}")
        params.append(f.after_position)
    if f.upto_position is not None:
        conditions.append(f"e.position <= {mark}")
        params.append(f.upto_position)
    if f.story is not None:
        conditions.append(f"e.story = {mark}")
        params.append(f.story)
    join, join_params = "", []
    if f.actor is not None:
        join = (
            f"JOIN (SELECT DISTINCT position FROM event_actors WHERE actor = {mark}) a "
            "ON a.position = e.position"
        )
        join_params = [f.actor]
    listed = (
        ("e.type", "", f.types or None),  # no types given: no type filter
        ("e.type", "NOT ", f.exclude_types or None),
        ("e.id", "", f.ids),  # no ids given: nothing matches
    )
    for column, negate, values in listed:
        if values is None:
            continue
        if dialect.arrays:
            conditions.append(f"{negate}({column} = ANY({mark}))")
            params.append(list(values))
        else:
            conditions.append(f"{column} {negate}IN ({', '.join([mark] * len(values))})")
            params.extend(values)
    for column, cmp, value in (
        ("occurred_at", ">=", f.occurred_from),
        ("occurred_at", "<=", f.occurred_until),
        ("reported_at", ">=", f.reported_from),
        ("reported_at", "<=", f.reported_until),
        ("recorded_at", "<=", f.recorded_until),
    ):
        if value is not None:
            conditions.append(f"e.{column}{c} {cmp} {mark}")
            params.append(to_text(value))
    if f.certain:
        # the period must end by the bound; the *_at terms above keep the index range
        for column, value in (
            ("occurred_until", f.occurred_until),
            ("reported_until", f.reported_until),
        ):
            if value is not None:
                conditions.append(f"e.{column}{c} <= {mark}")
                params.append(to_text(value))
    for start, end, value in (
        ("occurred_at", "occurred_until", f.vague_at),
        ("reported_at", "reported_until", f.vague_known),
    ):
        if value is not None:
            # "end > start" first: the partial index of vague periods answers it
            conditions.append(
                f"e.{end}{c} > e.{start}{c} AND e.{start}{c} <= {mark} AND e.{end}{c} > {mark}"
            )
            params.extend([to_text(value), to_text(value)])
    return join, join_params, " AND ".join(conditions) or dialect.true, params


def order_by(order: str, dialect: Dialect = SQLITE) -> str:
    """The ORDER BY terms for a read order.

    Raises:
        ValidationError: not one of position, occurred, reported, recorded.
    """
    if order in ("position", "recorded"):
        return "e.position"
    if order in ("occurred", "reported"):
        return f"e.{order}_at{dialect.text_order}, e.position"
    raise ValidationError(
        f"order: {order!r} is not one of occurred, reported, recorded", field="order"
    )

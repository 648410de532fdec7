"""Dates as people type them: ``21 May 2023``, ``May 21, 2023``, ``Dec 2025``.

Tried after the ISO forms fail (see :mod:`timeline.times`), with python-dateutil.
A numeric day and month that could be read either way (``05/06/2023``: 5 June
or 6 May?) is refused with the reason, as is a date without a year or a time of
day without a timezone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil import parser as date_parser

from timeline.errors import ValidationError

__all__ = ["parse_human"]

# 05/06/2023, 5.6.2023, 05-06-23: two small numbers before a year
_NUMERIC = re.compile(r"^\s*(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{2,4})\s*$")
_HAS_TIME = re.compile(r"\d:\d|\b\d{1,2}\s*[ap]\.?m\b", re.IGNORECASE)

# two defaults that differ in year, month and day: a part equal in both parses was typed
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def parse_human(text: str, field: str | None = None) -> tuple[datetime, str]:
    """Parse a human date; return the instant (UTC) and its precision name.

    Returns:
        ``(instant, precision)`` with precision ``"day"``, ``"month"`` or ``"exact"``.

    Raises:
        ValidationError: unparseable, ambiguous, without a year, or a naive time.
    """
    note = f"{field}: " if field else ""
    shown = text if len(text) <= 60 else text[:57] + "..."
    numeric = _NUMERIC.match(text)
    if numeric is not None:
        a, b = int(numeric[1]), int(numeric[3])
        if a <= 12 and b <= 12 and a != b:
            raise ValidationError(
                f"{note}{shown!r} is ambiguous: day {a} of month {b}, or day {b} of month "
                f"{a}? Write it as YYYY-MM-DD or with the month's name (21 May 2023)",
                field=field,
            )
    try:
        first, second = (date_parser.parse(text, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{note}invalid date or time {shown!r}: not an ISO date or a date such as "
            "'21 May 2023'",
            field=field,
        ) from exc
    if first.year != second.year:
        raise ValidationError(f"{note}{shown!r} has no year; add one", field=field)
    has_time = _HAS_TIME.search(text) is not None
    if has_time:
        if first.tzinfo is None or first.utcoffset() is None:
            raise ValidationError(
                f"{note}{shown!r} has a time of day but no timezone; add UTC or an offset",
                field=field,
            )
        return first.astimezone(UTC), "exact"
    if first.tzinfo is not None:
        raise ValidationError(f"{note}{shown!r}: a timezone needs a time of day", field=field)
    day_given = first.day == second.day
    month_given = first.month == second.month
    if not month_given:
        raise ValidationError(f"{note}{shown!r}: give at least a month and a year", field=field)
    if day_given:
        return datetime(first.year, first.month, first.day, tzinfo=UTC), "day"
    return datetime(first.year, first.month, 1, tzinfo=UTC), "month"

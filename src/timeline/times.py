"""Parsing of the times people type, and the one text form the store keeps.

Record times must be timezone-aware. Date-only and partial dates are accepted
where a person writes them (fixtures, query bounds): as an *instant* they mean
the start of the period; as a query *bound* they mean its end, so that
``at="2025-12-09"`` includes everything that happened on that UTC day.
"""

from __future__ import annotations

import calendar
import enum
import re
from datetime import UTC, date, datetime, time, timedelta

from timeline.errors import ValidationError

__all__ = [
    "Precision",
    "TimeInput",
    "parse_bound",
    "parse_instant",
    "to_text",
]

TimeInput = datetime | date | str


class Precision(enum.StrEnum):
    """How precisely ``occurred_at`` is known; it holds the start of the period."""

    EXACT = "exact"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _field_note(field: str | None) -> str:
    return f"{field}: " if field else ""


def is_utc_representable(value: datetime) -> bool:
    """Whether an aware datetime still fits in ``datetime`` once converted to UTC.

    ``0001-01-01T00:00+05:00`` does not: the store keeps UTC text, and the
    conversion would raise ``OverflowError``.
    """
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _representable(value: datetime, shown: object, field: str | None) -> datetime:
    if not is_utc_representable(value):
        raise ValidationError(
            f"{_field_note(field)}{_clip(shown)!r} is out of range once converted to UTC",
            field=field,
        )
    return value


def _clip(value: object, limit: int = 60) -> object:
    """Long hostile values stay out of error messages."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 3] + "..."
    return value


def parse_instant(value: object, *, field: str | None = None) -> tuple[datetime, Precision | None]:
    """Parse a point in time and the precision its spelling implies.

    Args:
        value: an aware ``datetime``, a ``date`` (midnight UTC), or an ISO string:
            ``"2025"``, ``"2025-08"``, ``"2025-12-08"`` or a full timestamp with offset.
        field: name used in error messages.

    Returns:
        The UTC-comparable aware datetime and the implied precision (``None`` for a
        full timestamp, whose precision is whatever the record says).

    Raises:
        ValidationError: naive datetimes, impossible dates, unparseable text.
    """
    note = _field_note(field)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(
                f"{note}naive datetime {value.isoformat()!r} refused; give a timezone",
                field=field,
            )
        return _representable(value, value.isoformat(), field), None
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC), Precision.DAY
    if not isinstance(value, str):
        raise ValidationError(
            f"{note}expected an ISO date or datetime string, got {type(value).__name__}",
            field=field,
        )
    text = value.strip()
    try:
        if m := _YEAR.match(text):
            return datetime(int(m[1]), 1, 1, tzinfo=UTC), Precision.YEAR
        if m := _MONTH.match(text):
            return datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC), Precision.MONTH
        if m := _DAY.match(text):
            return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC), Precision.DAY
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        reason = str(exc) if len(text) <= 60 else "not an ISO date or datetime"
        raise ValidationError(
            f"{note}invalid date or time {_clip(value)!r}: {reason}", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise ValidationError(
            f"{note}naive datetime {_clip(value)!r} refused; add an offset such as +00:00 or Z",
            field=field,
        )
    return _representable(parsed, value, field), None


def parse_bound(value: TimeInput, *, field: str | None = None) -> datetime:
    """Parse a query bound; a date-only (or partial) bound means the end of that period.

    Raises:
        ValidationError: as :func:`parse_instant`.
    """
    if isinstance(value, str) and len(value) > 10:
        # a full timestamp, the common case for programs: skip the partial-date forms
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None and is_utc_representable(parsed):
                return parsed
    start, implied = parse_instant(value, field=field)
    if implied is None:
        return start
    return period_end(start, implied)


def period_end(start: datetime, precision: Precision) -> datetime:
    """Last microsecond of the period of ``precision`` that begins at ``start``.

    The period that ends the calendar (``9999-12-31``) ends at ``datetime.max``.
    """
    one = timedelta(microseconds=1)
    try:
        if precision is Precision.DAY:
            return start + timedelta(days=1) - one
        if precision is Precision.MONTH:
            days = calendar.monthrange(start.year, start.month)[1]
            return start + timedelta(days=days) - one
        if precision is Precision.YEAR:
            return start.replace(year=start.year, month=12, day=31) + timedelta(days=1) - one
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
    return start


def to_text(value: datetime) -> str:
    """The store's one text form: UTC, microseconds, ``Z``; sorts as it compares."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(value: str) -> datetime:
    """Inverse of :func:`to_text`."""
    return datetime.fromisoformat(value)

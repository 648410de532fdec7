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

import attrs

from timeline.errors import ValidationError
from timeline.human_dates import parse_human

__all__ = [
    "Period",
    "Precision",
    "TimeInput",
    "parse_bound",
    "parse_instant",
    "parse_period",
    "period",
    "period_end",
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
_ISO_START = re.compile(r"^[+-]?\d{4}(-|$)")  # ISO-looking text keeps ISO's error messages


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


def full_timestamp(value: object) -> datetime | None:
    """``value`` when it is the common case, a full aware ISO timestamp that fits in
    UTC (what :func:`parse_instant` returns for it, without trying the partial forms);
    else ``None``."""
    if type(value) is str and len(value) > 10:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is not None and is_utc_representable(parsed):
            return parsed
    return None


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
        if len(text) <= 10:  # a full timestamp is longer than any partial form
            if m := _YEAR.match(text):
                return datetime(int(m[1]), 1, 1, tzinfo=UTC), Precision.YEAR
            if m := _MONTH.match(text):
                return datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC), Precision.MONTH
            if m := _DAY.match(text):
                return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC), Precision.DAY
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        if not _ISO_START.match(text) and len(text) <= 100:
            # "21 May 2023", "Dec 2025", "May 21, 2023 14:00 UTC"
            instant, precision = parse_human(text, field)
            return instant, None if precision == "exact" else Precision(precision)
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
    parsed = full_timestamp(value)
    if parsed is not None:
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


def to_text_spelled(value: datetime, spelled: object) -> str:
    """:func:`to_text` of ``value``, taken from ``spelled`` (its ``isoformat()``, as a
    payload holds it) when that is already UTC: each time is formatted once."""
    if value.tzinfo is UTC and type(spelled) is str and spelled.endswith("+00:00"):
        size = len(spelled)
        if size == 25:  # no microseconds: isoformat leaves them out
            return spelled[:19] + ".000000Z"
        if size == 32:
            return spelled[:26] + "Z"
    return to_text(value)


def from_text(value: str) -> datetime:
    """Inverse of :func:`to_text`."""
    return datetime.fromisoformat(value)


# --- periods: times as people write them ---------------------------------------------


@attrs.frozen
class Period:
    """A time known only to lie somewhere in ``[earliest, latest]`` (both inclusive).

    ``precision`` is what the spelling of its start implies (``None`` for a full
    timestamp). An instant is a period whose ``earliest`` equals its ``latest``.
    """

    earliest: datetime
    latest: datetime
    precision: Precision | None = None

    @property
    def is_instant(self) -> bool:
        """Whether the period is a single instant."""
        return self.earliest == self.latest

    def __str__(self) -> str:
        return human_period(self.earliest, self.latest)


def _one_end(value: object, field: str | None) -> tuple[datetime, datetime, Precision | None]:
    start, implied = parse_instant(value, field=field)
    return start, (start if implied is None else period_end(start, implied)), implied


def parse_period(value: object, *, field: str | None = None) -> Period:
    """Parse an instant, a day, month or year, or an EDTF interval ``"A/B"``.

    ``"A/B"`` runs from the start of ``A`` to the end of ``B`` (each end any of
    the other forms): ``"2025-12-08/2025-12-10"`` is 8 December 00:00 UTC to 10
    December 23:59:59.999999 UTC.

    Raises:
        ValidationError: an end that does not parse, or ``A`` after ``B``.
    """
    if isinstance(value, str) and "/" in value:
        first, _, second = value.partition("/")
        if not first.strip() or not second.strip() or "/" in second:
            raise ValidationError(
                f"{_field_note(field)}invalid interval {_clip(value)!r}: write it as A/B",
                field=field,
            )
        start, _, implied = _one_end(first, field)
        _, end, _ = _one_end(second, field)
        if start > end:
            raise ValidationError(
                f"{_field_note(field)}interval {_clip(value)!r} ends before it starts",
                field=field,
            )
        return Period(start, end, implied)
    start, end, implied = _one_end(value, field)
    return Period(start, end, implied)


def period(value: TimeInput) -> Period:
    """A :class:`Period` from what people type (public parser).

    ``tl.period("2025-12-08/2025-12-10")``, ``tl.period("2025-12")``,
    ``tl.period("2025")``, ``tl.period("2025-12-08T10:00:00Z")``.

    Raises:
        ValidationError: unparseable text, a naive datetime, or ``A`` after ``B``.
    """
    return parse_period(value)


# --- periods as people write them ----------------------------------------------------

_LAST = time(23, 59, 59, 999999)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DASH = "\u2013"  # en dash, as in "8\u201310 Dec 2025"


def _clock(value: datetime) -> str:
    zone = "Z" if value.utcoffset() == timedelta(0) else value.strftime("%z")
    spec = "%H:%M:%S" if value.second or value.microsecond else "%H:%M"
    return value.strftime(spec) + zone


def _start_grain(value: datetime) -> str:
    if value.time() != time():
        return "instant"
    if value.day != 1:
        return "day"
    return "year" if value.month == 1 else "month"


def end_grain(value: datetime) -> str:
    """The coarsest calendar unit ``value`` ends: year, month, day, or instant."""
    if value.time() != _LAST:
        return "instant"
    if value.day != calendar.monthrange(value.year, value.month)[1]:
        return "day"
    return "year" if value.month == 12 else "month"


_ORDER = ("instant", "day", "month", "year")


def _grain(start: datetime, end: datetime) -> str:
    """The coarsest calendar unit both ends fall on: year, month, day or instant."""
    return min(_start_grain(start), end_grain(end), key=_ORDER.index)


def _alone(value: datetime, grain: str) -> str:
    if grain == "year":
        return f"{value.year:04d}"
    if grain == "month":
        return f"{_MONTHS[value.month - 1]} {value.year:04d}"
    if grain == "day":
        return _day(value)
    return f"{_day(value)} {_clock(value)}"


def _day(value: datetime, *, year: bool = True, month: bool = True) -> str:
    text = str(value.day)
    if month:
        text += f" {_MONTHS[value.month - 1]}"
    if year:
        text += f" {value.year:04d}"
    return text


def human_period(start: datetime, end: datetime | None = None) -> str:
    """A period as people write it: ``2025``, ``Dec 2025``, ``8\u201310 Dec 2025``,
    ``8 Dec 2025``, ``10 Dec 2025 08:00Z``; never a false midnight.

    Both ends are shown in the offset ``start`` was written in.
    """
    if end is None or end <= start:
        return f"{_day(start)} {_clock(start)}"
    if start.tzinfo is not None and end.tzinfo is not None:
        end = end.astimezone(start.tzinfo)
    grain = _grain(start, end)
    if grain == "year":
        return (
            f"{start.year:04d}"
            if start.year == end.year
            else f"{start.year:04d}{DASH}{end.year:04d}"
        )
    if grain == "month":
        first, last = _MONTHS[start.month - 1], _MONTHS[end.month - 1]
        if (start.year, start.month) == (end.year, end.month):
            return f"{first} {start.year:04d}"
        if start.year == end.year:
            return f"{first}{DASH}{last} {end.year:04d}"
        return f"{first} {start.year:04d}{DASH}{last} {end.year:04d}"
    if grain != "instant" and start.year != end.year and _start_grain(start) != end_grain(end):
        # ends of different grains across years ("2022/2025-12-07"): each as known
        return f"{_alone(start, _start_grain(start))}{DASH}{_alone(end, end_grain(end))}"
    if grain == "day":
        if start.date() == end.date():
            return _day(start)
        if (start.year, start.month) == (end.year, end.month):
            return f"{start.day}{DASH}{_day(end)}"
        if start.year == end.year:
            return f"{_day(start, year=False)}{DASH}{_day(end)}"
        return f"{_day(start)}{DASH}{_day(end)}"
    left = _day(start) if start.time() == time() else f"{_day(start)} {_clock(start)}"
    right = _day(end) if end.time() == _LAST else f"{_day(end)} {_clock(end)}"
    return f"{left}{DASH}{right}"

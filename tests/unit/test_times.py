"""Parsing the times people type, and the store's one sortable text form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings

import timeline as tl
from tests.strategies import aware_datetimes
from timeline.times import (
    Precision,
    from_text,
    parse_bound,
    parse_instant,
    period_end,
    to_text,
    to_text_spelled,
)

US = timedelta(microseconds=1)


def test_a_date_only_string_is_midnight_utc_with_day_precision() -> None:
    assert parse_instant("2025-12-08") == (datetime(2025, 12, 8, tzinfo=UTC), tl.Precision.DAY)


def test_a_year_and_month_string_is_the_first_of_the_month_with_month_precision() -> None:
    assert parse_instant("2025-08") == (datetime(2025, 8, 1, tzinfo=UTC), tl.Precision.MONTH)


def test_a_year_string_is_new_year_with_year_precision() -> None:
    assert parse_instant("2023") == (datetime(2023, 1, 1, tzinfo=UTC), tl.Precision.YEAR)


def test_a_full_timestamp_keeps_its_offset_and_implies_no_precision() -> None:
    parsed, implied = parse_instant("2025-12-10T08:00:00+08:00")
    assert (parsed, implied) == (datetime(2025, 12, 10, tzinfo=UTC), None)
    assert parsed.utcoffset() == timedelta(hours=8)


def test_a_z_suffix_means_utc() -> None:
    assert parse_instant("2025-12-10T08:00:00Z")[0] == datetime(2025, 12, 10, 8, tzinfo=UTC)


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_instant(" 2025-12-08\n")[0] == datetime(2025, 12, 8, tzinfo=UTC)


def test_a_date_object_is_midnight_utc_with_day_precision() -> None:
    assert parse_instant(date(2025, 12, 8)) == (
        datetime(2025, 12, 8, tzinfo=UTC),
        tl.Precision.DAY,
    )


def test_an_aware_datetime_is_taken_as_it_is() -> None:
    moment = datetime(2025, 12, 8, 9, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_instant(moment) == (moment, None)


def test_a_naive_datetime_object_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="at: naive datetime") as info:
        parse_instant(datetime(2025, 12, 8), field="at")
    assert info.value.field == "at"


def test_a_naive_timestamp_string_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="naive datetime '2025-12-08T10:00' refused"):
        parse_instant("2025-12-08T10:00")


@pytest.mark.parametrize("text", ["2025-02-30", "2025-13", "2025-00-10", "2024-02-30"])
def test_an_impossible_date_is_refused(text: str) -> None:
    with pytest.raises(tl.ValidationError, match="invalid date or time"):
        parse_instant(text)


@pytest.mark.parametrize("text", ["", "yesterday", "2025-12-08 at noon"])
def test_unparseable_text_is_refused(text: str) -> None:
    with pytest.raises(tl.ValidationError, match="invalid date or time"):
        parse_instant(text)


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("21 May 2023", datetime(2023, 5, 21, tzinfo=UTC), Precision.DAY),
        ("May 21, 2023", datetime(2023, 5, 21, tzinfo=UTC), Precision.DAY),
        ("Dec 2025", datetime(2025, 12, 1, tzinfo=UTC), Precision.MONTH),
        ("25/12/2025", datetime(2025, 12, 25, tzinfo=UTC), Precision.DAY),
        ("8 Dec 2025 14:30 UTC", datetime(2025, 12, 8, 14, 30, tzinfo=UTC), None),
        ("8 Dec 2025 14:30 +08:00", datetime(2025, 12, 8, 6, 30, tzinfo=UTC), None),
    ],
)
def test_dates_as_people_write_them_are_accepted(
    text: str, expected: datetime, precision: Precision | None
) -> None:
    assert parse_instant(text) == (expected, precision)


def test_a_human_date_as_a_bound_means_the_end_of_that_day() -> None:
    assert parse_bound("21 May 2023") == datetime(2023, 5, 21, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("05/06/2023", r"ambiguous: day 5 of month 6, or day 6 of month 5\?"),
        ("12.08.2025", "ambiguous"),
        ("21 May", "has no year"),
        ("21 May 2023 14:00", "has a time of day but no timezone"),
    ],
)
def test_human_dates_that_could_mislead_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(tl.ValidationError, match=reason):
        parse_instant(text, field="at")


def test_a_value_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(
        tl.ValidationError, match="expected an ISO date or datetime string, got int"
    ):
        parse_instant(20251208)


def test_a_huge_unparseable_string_is_shortened_in_the_message() -> None:
    with pytest.raises(tl.ValidationError) as info:
        parse_instant("9" * 1_000_000)
    assert len(str(info.value)) < 200


def test_a_date_only_bound_means_the_end_of_that_day() -> None:
    assert parse_bound("2025-12-09") == datetime(2025, 12, 9, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_month_bound_means_the_end_of_that_month_in_a_leap_year() -> None:
    assert parse_bound("2024-02") == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_year_bound_means_the_end_of_that_year() -> None:
    assert parse_bound("2025") == datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_full_timestamp_bound_is_that_instant() -> None:
    assert parse_bound("2025-12-09T12:00:00Z") == datetime(2025, 12, 9, 12, tzinfo=UTC)


def test_the_last_day_of_the_calendar_as_a_bound_ends_at_the_largest_datetime() -> None:
    assert parse_bound("9999-12-31") == datetime.max.replace(tzinfo=UTC)


def test_the_last_year_of_the_calendar_as_a_bound_ends_at_the_largest_datetime() -> None:
    assert period_end(datetime(9999, 1, 1, tzinfo=UTC), tl.Precision.YEAR) == datetime.max.replace(
        tzinfo=UTC
    )


def test_an_exact_period_ends_where_it_starts() -> None:
    assert period_end(datetime(2025, 1, 1, tzinfo=UTC), tl.Precision.EXACT) == datetime(
        2025, 1, 1, tzinfo=UTC
    )


def test_a_timestamp_that_overflows_in_utc_is_refused_as_a_bound() -> None:
    with pytest.raises(tl.ValidationError, match="out of range once converted to UTC"):
        parse_bound("0001-01-01T00:00:00+05:00")


def test_to_text_is_utc_with_microseconds_and_a_z() -> None:
    moment = datetime(2025, 12, 10, 8, tzinfo=timezone(timedelta(hours=8)))
    assert to_text(moment) == "2025-12-10T00:00:00.000000Z"


def test_from_text_inverts_to_text() -> None:
    moment = datetime(2025, 12, 10, 0, 0, 0, 1, tzinfo=UTC)
    assert from_text(to_text(moment)) == moment


@settings(max_examples=100, deadline=None)
@given(aware_datetimes, aware_datetimes)
def test_to_text_sorts_as_the_instants_compare(a: datetime, b: datetime) -> None:
    assert (to_text(a) < to_text(b)) == (a < b)
    assert (to_text(a) == to_text(b)) == (a == b)


@settings(max_examples=100, deadline=None)
@given(aware_datetimes)
def test_from_text_of_to_text_is_the_same_instant_in_utc(moment: datetime) -> None:
    again = from_text(to_text(moment))
    assert again == moment
    assert again.utcoffset() == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(aware_datetimes)
def test_a_bound_on_the_day_of_an_instant_includes_it(moment: datetime) -> None:
    day = moment.astimezone(UTC).date().isoformat()
    assert parse_instant(day)[0] <= moment <= parse_bound(day)
    assert parse_bound(day) - parse_instant(day)[0] == timedelta(days=1) - US


@settings(max_examples=300)
@given(aware_datetimes)
def test_the_column_text_from_a_payload_spelling_is_to_text(value: datetime) -> None:
    for moment in (value, value.astimezone(UTC)):
        assert to_text_spelled(moment, moment.isoformat()) == to_text(moment)
    assert to_text_spelled(value, None) == to_text(value)

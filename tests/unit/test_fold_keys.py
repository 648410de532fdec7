"""Fold keys: 25 characters that sort as (occurred time, log position) compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from timeline.snapshots import (
    _MAX,
    _bound,
    _position_of,
    _predecessor,
    _readable,
    okey,
    okey_time,
)

zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
positions = st.integers(min_value=1, max_value=16**10 - 1)


def test_a_key_spells_microseconds_since_year_one_then_the_position_in_hex() -> None:
    at = datetime(2025, 12, 9, 3, 4, 5, 123456, tzinfo=UTC)
    key = okey(at, 151)
    assert key == "0e3057b29499580" + "0000000097"
    assert len(key) == 25
    assert okey_time(key) == at
    assert _position_of(key) == 151
    assert _readable(key) == "2025-12-09T03:04:05.123456Z (log position 151)"
    # the same instant in another zone is the same key
    assert okey(at.astimezone(timezone(timedelta(hours=8))), 151) == key


@given(a=times, pa=positions, b=times, pb=positions)
def test_keys_sort_as_time_then_position(a: datetime, pa: int, b: datetime, pb: int) -> None:
    ka, kb = okey(a, pa), okey(b, pb)
    assert (ka < kb) == ((a, pa) < (b, pb))
    assert (ka == kb) == ((a, pa) == (b, pb))
    assert okey_time(ka) == a
    assert _position_of(ka) == pa
    assert ka < _MAX


@given(at=times, position=positions, bound=times)
def test_a_bound_lies_after_every_key_up_to_its_time_and_before_any_later(
    at: datetime, position: int, bound: datetime
) -> None:
    assert (okey(at, position) <= _bound(bound)) == (at <= bound)
    assert okey_time(_bound(bound)) == bound
    assert _bound(None) == _MAX


@given(at=times, position=positions.filter(lambda p: p > 1))
def test_the_predecessor_is_the_key_just_before(at: datetime, position: int) -> None:
    key = okey(at, position)
    assert _predecessor(key) == okey(at, position - 1)
    assert _predecessor(key) < key

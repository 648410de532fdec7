"""Periods: the times people write (days, months, years, EDTF ``A/B``) and their ends."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

import timeline as tl
from timeline.codec import Codec

CODEC = Codec()
LAST = (23, 59, 59, 999999)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "earliest", "latest"),
    [
        ("2025", _utc(2025, 1, 1), _utc(2025, 12, 31, *LAST)),
        ("2025-02", _utc(2025, 2, 1), _utc(2025, 2, 28, *LAST)),
        ("2025-12-08", _utc(2025, 12, 8), _utc(2025, 12, 8, *LAST)),
        ("2025-12-08/2025-12-10", _utc(2025, 12, 8), _utc(2025, 12, 10, *LAST)),
        ("2025-09/2025-12-10", _utc(2025, 9, 1), _utc(2025, 12, 10, *LAST)),
        ("2025-12-10T08:00:00+00:00", _utc(2025, 12, 10, 8), _utc(2025, 12, 10, 8)),
        ("2025-12-08T10:00:00Z/2025-12-08T12:00:00Z", _utc(2025, 12, 8, 10), _utc(2025, 12, 8, 12)),
    ],
)
def test_period_runs_from_the_start_of_a_to_the_end_of_b(
    text: str, earliest: datetime, latest: datetime
) -> None:
    found = tl.period(text)
    assert (found.earliest, found.latest) == (earliest, latest)


def test_an_interval_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="ends before it starts"):
        tl.period("2025-12-10/2025-12-08")


@pytest.mark.parametrize("text", ["2025-12-08/", "/2025-12-08", "2025/2026/2027", "soon/2025"])
def test_a_malformed_interval_is_refused(text: str) -> None:
    with pytest.raises(tl.ValidationError):
        tl.period(text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2025", "2025"),
        ("2025-12", "Dec 2025"),
        ("2025-12-08", "8 Dec 2025"),
        ("2025-12-08/2025-12-10", "8\u201310 Dec 2025"),
        ("2025-11-28/2025-12-02", "28 Nov\u20132 Dec 2025"),
        ("2025-09/2025-12", "Sep\u2013Dec 2025"),
        ("2024-11/2025-02", "Nov 2024\u2013Feb 2025"),
        ("2024/2025", "2024\u20132025"),
        ("2025-12-10T08:00:00Z", "10 Dec 2025 08:00Z"),
    ],
)
def test_a_period_is_shown_as_people_write_it(text: str, shown: str) -> None:
    assert str(tl.period(text)) == shown


def test_occurred_until_defaults_to_the_end_of_the_precision_period() -> None:
    event = tl.Report(occurred_at=_utc(2025, 9, 1), precision="month")
    assert event.occurred_until == _utc(2025, 9, 30, *LAST)
    assert tl.Report(occurred_at=_utc(2025, 9, 1, 8)).occurred_until == _utc(2025, 9, 1, 8)


def test_an_explicit_occurred_until_wins_over_the_precision() -> None:
    event = tl.Report(
        occurred_at=_utc(2025, 12, 8), precision="day", occurred_until=_utc(2025, 12, 10, *LAST)
    )
    assert event.occurred_until == _utc(2025, 12, 10, *LAST)


def test_occurred_until_before_occurred_at_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="occurred_until") as info:
        tl.Report(occurred_at=_utc(2025, 12, 8), occurred_until=_utc(2025, 12, 7))
    assert info.value.field == "occurred_until"


def test_reported_until_before_reported_at_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="reported_until"):
        tl.Report(
            occurred_at=_utc(2025, 12, 8),
            reported_at=_utc(2025, 12, 9),
            reported_until=_utc(2025, 12, 8),
        )


def test_moving_occurred_at_moves_the_default_end_along() -> None:
    event = tl.Report(occurred_at=_utc(2025, 12, 8), precision="day")
    moved = attrs.evolve(event, occurred_at=_utc(2025, 12, 12))
    assert moved.occurred_until == _utc(2025, 12, 12, *LAST)
    rebuilt = tl.Report(**{**attrs.asdict(event, recurse=False), "occurred_at": _utc(2025, 12, 1)})
    assert rebuilt.occurred_until == _utc(2025, 12, 1, *LAST)


def test_moving_the_start_keeps_an_explicit_end() -> None:
    event = tl.Report(occurred_at=_utc(2025, 12, 8), occurred_until=_utc(2025, 12, 10))
    assert attrs.evolve(event, occurred_at=_utc(2025, 12, 9)).occurred_until == _utc(2025, 12, 10)


def test_a_decoded_record_moves_its_derived_end_along() -> None:
    event = CODEC.loads(CODEC.dumps(tl.Report(occurred_at=_utc(2025, 12, 8), precision="day")))
    moved = attrs.evolve(event, occurred_at=_utc(2025, 12, 12))
    assert moved.occurred_until == _utc(2025, 12, 12, *LAST)


def test_reported_until_defaults_to_reported_at_then_to_the_source() -> None:
    source = tl.Source(
        publisher="Monthly", published_at=_utc(2023, 6, 1), published_until=_utc(2023, 6, 30)
    )
    sourced = tl.Report(occurred_at=_utc(2023, 5, 1), source=source)
    assert (sourced.effective_reported_at, sourced.effective_reported_until) == (
        _utc(2023, 6, 1),
        _utc(2023, 6, 30),
    )
    pinned = tl.Report(occurred_at=_utc(2023, 5, 1), source=source, reported_at=_utc(2023, 6, 2))
    assert pinned.reported_until == _utc(2023, 6, 2)


def test_an_interval_in_occurred_at_sets_both_ends_and_the_precision_of_its_start() -> None:
    event = CODEC.from_dict(
        {"type": "report", "occurred_at": "2025-12-08/2025-12-10", "summary": "inquiry"}
    )
    assert (event.occurred_at, event.occurred_until) == (
        _utc(2025, 12, 8),
        _utc(2025, 12, 10, *LAST),
    )
    assert event.precision is tl.Precision.DAY


def test_a_month_in_reported_at_is_public_from_the_first_until_the_last_day() -> None:
    event = CODEC.from_dict({"type": "report", "occurred_at": "2023-05", "reported_at": "2023-06"})
    assert (event.reported_at, event.reported_until) == (
        _utc(2023, 6, 1),
        _utc(2023, 6, 30, *LAST),
    )


def test_a_source_published_in_a_month_keeps_its_period() -> None:
    source = CODEC.structure({"publisher": "Monthly", "published_at": "2023-06"}, tl.Source)
    assert (source.published_at, source.published_until) == (
        _utc(2023, 6, 1),
        _utc(2023, 6, 30, *LAST),
    )


def test_an_interval_ending_before_it_starts_names_the_field() -> None:
    with pytest.raises(tl.ValidationError, match="ends before it starts") as info:
        CODEC.from_dict({"type": "report", "occurred_at": "2025-12-10/2025-12-08"})
    assert info.value.field == "occurred_at"


def test_periods_survive_the_codec_round_trip() -> None:
    event = CODEC.from_dict(
        {
            "type": "report",
            "occurred_at": "2025-12-08/2025-12-10",
            "reported_at": "2025-12",
            "source": {"publisher": "Monthly", "published_at": "2025-12"},
        }
    )
    again = CODEC.loads(CODEC.dumps(event))
    assert again == event
    assert (again.occurred_until, again.reported_until, again.source.published_until) == (
        event.occurred_until,
        event.reported_until,
        event.source.published_until,
    )


# a stored announcement of schema 1, before times became periods
V1_ANNOUNCEMENT = {
    "type": "announcement",
    "schema_version": 1,
    "id": "a1",
    "story": "s",
    "occurred_at": "2025-09-01T00:00:00+00:00",
    "precision": "month",
    "reported_at": "2025-12-10T00:00:00+00:00",
    "source": {
        "publisher": "Reuters",
        "id": None,
        "url": None,
        "headline": None,
        "published_at": "2025-12-10T00:00:00+00:00",
    },
    "attribution": "",
    "summary": "",
    "quote": None,
    "actor": "beijing",
    "topic": "t",
    "position": "opposes",
}


@pytest.mark.parametrize("decode", [CODEC.from_dict, CODEC.decode_trusted])
def test_a_schema_one_record_is_upcast_to_periods(decode: object) -> None:
    event = decode(dict(V1_ANNOUNCEMENT))  # type: ignore[operator]
    assert event.occurred_until == _utc(2025, 9, 30, *LAST)
    assert event.reported_until == _utc(2025, 12, 10)
    assert event.source.published_until is None
    assert CODEC.to_dict(event)["schema_version"] == 3


def test_the_upcaster_adds_the_ends_and_nothing_else() -> None:
    from timeline.registry import upcast_periods

    out = upcast_periods(dict(V1_ANNOUNCEMENT))
    added = {k: v for k, v in out.items() if V1_ANNOUNCEMENT.get(k) != v}
    assert added == {
        "occurred_until": "2025-09-30T23:59:59.999999+00:00",
        "reported_until": "2025-12-10T00:00:00+00:00",
        "source": {**V1_ANNOUNCEMENT["source"], "published_until": None},  # type: ignore[dict-item]
    }

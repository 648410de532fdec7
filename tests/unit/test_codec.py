"""The codec: strict decoding with field paths, and lossless round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.strategies import ALL_EVENTS, USER_REGISTRY, registry_with_builtins

CODEC = tl.Codec(USER_REGISTRY)

ANNOUNCEMENT: dict[str, Any] = {
    "type": "announcement",
    "id": "a-1",
    "occurred_at": "2025-12-08T09:30:00+08:00",
    "actor": "us-government",
    "topic": "h200-exports-to-china",
    "position": "supports",
}
INQUIRY: dict[str, Any] = {
    "type": "inquiry",
    "id": "i-1",
    "occurred_at": "2025-12-09T00:00:00Z",
    "inquirers": ["bytedance", "alibaba"],
    "supplier": "nvidia",
    "product": "H200",
    "conditions": ["Beijing approval", "volume"],
}
VOTE: dict[str, Any] = {
    "type": "board_vote",
    "id": "v-1",
    "occurred_at": "2025-12-09T00:00:00Z",
    "board": "acme-board",
}


def _decode_error(data: dict[str, Any]) -> tl.ValidationError:
    with pytest.raises(tl.ValidationError) as info:
        CODEC.from_dict(data)
    return info.value


# --- strictness --------------------------------------------------------------


def test_the_string_false_is_not_accepted_as_a_boolean() -> None:
    error = _decode_error({**VOTE, "unanimous": "false"})
    assert error.field == "unanimous"
    assert "expected true or false" in str(error)


def test_the_number_one_is_not_accepted_as_a_boolean() -> None:
    assert _decode_error({**VOTE, "unanimous": 1}).field == "unanimous"


def test_a_fractional_number_is_not_accepted_as_an_integer() -> None:
    error = _decode_error({**VOTE, "seats": 1.9})
    assert (error.field, str(error)) == ("seats", "seats: expected an integer, got float 1.9")


def test_a_boolean_is_not_accepted_as_an_integer() -> None:
    assert _decode_error({**VOTE, "seats": True}).field == "seats"


def test_a_numeric_string_is_not_accepted_as_an_integer() -> None:
    assert _decode_error({**VOTE, "seats": "1"}).field == "seats"


def test_an_integer_is_accepted_as_a_float() -> None:
    vote = CODEC.from_dict({**VOTE, "share": 1})
    assert isinstance(vote, tl.Event)
    assert vote.share == 1.0  # type: ignore[attr-defined]


def test_a_number_is_not_accepted_as_text() -> None:
    error = _decode_error({**ANNOUNCEMENT, "actor": 1})
    assert (error.field, str(error)) == ("actor", "actor: expected text, got int 1")


def test_a_string_is_not_accepted_as_a_list() -> None:
    error = _decode_error({**INQUIRY, "conditions": "Beijing approval"})
    assert error.field == "conditions"
    assert "expected a list" in str(error)


def test_a_string_is_not_accepted_as_a_list_of_actors() -> None:
    assert _decode_error({**INQUIRY, "inquirers": "bytedance"}).field == "inquirers"


def test_null_is_not_accepted_for_required_text() -> None:
    error = _decode_error({**ANNOUNCEMENT, "topic": None})
    assert (error.field, str(error)) == ("topic", "topic: expected text, got null")


def test_an_extra_key_is_refused_naming_it() -> None:
    error = _decode_error({**ANNOUNCEMENT, "sentiment": "bullish"})
    assert error.field == "sentiment"
    assert "unknown field" in str(error)


def test_an_extra_key_in_the_source_is_refused_with_its_path() -> None:
    error = _decode_error({**ANNOUNCEMENT, "source": {"publisher": "Reuters", "paywall": True}})
    assert error.field == "source.paywall"


def test_a_missing_required_field_is_named() -> None:
    data = {k: v for k, v in ANNOUNCEMENT.items() if k != "topic"}
    error = _decode_error(data)
    assert (error.field, str(error)) == ("topic", "topic: required field missing")


def test_a_missing_type_is_refused() -> None:
    data = {k: v for k, v in ANNOUNCEMENT.items() if k != "type"}
    assert _decode_error(data).field == "type"


def test_an_unknown_type_raises_unknown_event_type_error() -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="unknown event type 'rumour'") as info:
        CODEC.from_dict({**ANNOUNCEMENT, "type": "rumour"})
    assert info.value.type_name == "rumour"


def test_an_unknown_type_is_also_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="rumour"):
        CODEC.from_dict({**ANNOUNCEMENT, "type": "rumour"})


def test_a_schema_version_newer_than_the_code_raises_unknown_event_type_error() -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="schema version 4 is newer"):
        CODEC.from_dict({**ANNOUNCEMENT, "schema_version": 4})


@pytest.mark.parametrize("version", ["1", 1.0, True, 0])
def test_a_schema_version_that_is_not_a_positive_integer_is_refused(version: object) -> None:
    assert _decode_error({**ANNOUNCEMENT, "schema_version": version}).field == "schema_version"


def test_a_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="expected an event object, got a list"):
        CODEC.from_dict([ANNOUNCEMENT])  # type: ignore[arg-type]


def test_an_unknown_position_is_refused_listing_the_allowed_ones() -> None:
    error = _decode_error({**ANNOUNCEMENT, "position": "ambivalent"})
    assert error.field == "position"
    assert "supports, opposes, undecided, neutral" in str(error)


def test_an_unknown_precision_is_refused() -> None:
    assert _decode_error({**ANNOUNCEMENT, "precision": "week"}).field == "precision"


def test_an_unknown_measure_is_refused() -> None:
    data = {
        "type": "policy_change",
        "occurred_at": "2025-12-08",
        "authority": "beijing",
        "topic": "h200-imports",
        "measure": "encourage",
    }
    assert _decode_error(data).field == "measure"


def test_an_enum_field_of_a_user_type_decodes_to_the_enum() -> None:
    vote = CODEC.from_dict({**VOTE, "stance": "opposes"})
    assert vote.stance is tl.Position.OPPOSES  # type: ignore[attr-defined]


def test_an_unknown_value_for_an_enum_field_of_a_user_type_is_refused() -> None:
    error = _decode_error({**VOTE, "stance": "ambivalent"})
    assert error.field == "stance"
    assert "is not one of: supports, opposes" in str(error)


def test_a_lone_surrogate_in_text_is_refused() -> None:
    error = _decode_error({**ANNOUNCEMENT, "summary": "broken \ud800 text"})
    assert error.field == "summary"
    assert "lone surrogate" in str(error)


# --- field paths ------------------------------------------------------------------


def test_a_naive_source_published_at_is_named_by_its_path() -> None:
    data = {**ANNOUNCEMENT, "source": {"publisher": "Reuters", "published_at": "2025-12-10T08:00"}}
    error = _decode_error(data)
    assert error.field == "source.published_at"
    assert "naive datetime" in str(error)


def test_a_bad_list_item_is_named_by_its_index() -> None:
    error = _decode_error({**INQUIRY, "conditions": ["Beijing approval", 7]})
    assert (error.field, str(error)) == ("conditions[1]", "conditions[1]: expected text, got int 7")


def test_an_empty_list_item_is_named_by_its_index() -> None:
    assert _decode_error({**INQUIRY, "inquirers": ["bytedance", " "]}).field == "inquirers[1]"


def test_a_bad_field_in_a_replacement_is_named_by_its_path() -> None:
    data = {
        "type": "correction",
        "id": "c-1",
        "occurred_at": "2025-12-10",
        "corrects": "a-1",
        "replacement": {**ANNOUNCEMENT, "actor": ""},
    }
    error = _decode_error(data)
    assert error.field == "replacement.actor"
    assert "non-empty" in str(error)


def test_an_unknown_type_in_a_replacement_is_named_by_its_path() -> None:
    data = {
        "type": "correction",
        "id": "c-1",
        "occurred_at": "2025-12-10",
        "corrects": "a-1",
        "replacement": {**ANNOUNCEMENT, "type": "rumour"},
    }
    error = _decode_error(data)
    assert error.field == "replacement.type"
    assert "unknown event type 'rumour'" in str(error)


# --- times -------------------------------------------------------------------------


def test_a_date_only_occurred_at_means_midnight_utc_with_day_precision() -> None:
    event = CODEC.from_dict({**ANNOUNCEMENT, "occurred_at": "2025-12-08"})
    assert (event.occurred_at, event.precision) == (
        datetime(2025, 12, 8, tzinfo=UTC),
        tl.Precision.DAY,
    )


def test_a_year_and_month_occurred_at_implies_month_precision() -> None:
    event = CODEC.from_dict({**ANNOUNCEMENT, "occurred_at": "2025-08"})
    assert (event.occurred_at, event.precision) == (
        datetime(2025, 8, 1, tzinfo=UTC),
        tl.Precision.MONTH,
    )


def test_a_year_only_occurred_at_implies_year_precision() -> None:
    event = CODEC.from_dict({**ANNOUNCEMENT, "occurred_at": "2023"})
    assert (event.occurred_at, event.precision) == (
        datetime(2023, 1, 1, tzinfo=UTC),
        tl.Precision.YEAR,
    )


def test_an_explicit_precision_wins_over_the_one_a_partial_date_implies() -> None:
    event = CODEC.from_dict({**ANNOUNCEMENT, "occurred_at": "2025-08", "precision": "year"})
    assert event.precision is tl.Precision.YEAR


def test_a_full_timestamp_without_precision_is_exact() -> None:
    event = CODEC.from_dict(ANNOUNCEMENT)
    assert event.precision is tl.Precision.EXACT
    assert event.occurred_at == datetime(2025, 12, 8, 1, 30, tzinfo=UTC)


def test_a_partial_date_in_a_replacement_implies_its_precision() -> None:
    data = {
        "type": "correction",
        "id": "c-1",
        "occurred_at": "2025-12-10T00:00:00Z",
        "corrects": "a-1",
        "replacement": {**ANNOUNCEMENT, "occurred_at": "2025-11"},
    }
    correction = CODEC.from_dict(data)
    assert isinstance(correction, tl.Correction)
    assert correction.replacement.precision is tl.Precision.MONTH


def test_a_naive_timestamp_string_is_refused() -> None:
    error = _decode_error({**ANNOUNCEMENT, "occurred_at": "2025-12-08T09:30:00"})
    assert error.field == "occurred_at"
    assert "add an offset" in str(error)


def test_an_impossible_date_is_refused() -> None:
    error = _decode_error({**ANNOUNCEMENT, "occurred_at": "2025-02-30"})
    assert error.field == "occurred_at"
    assert "day is out of range" in str(error)


def test_a_timestamp_that_overflows_when_converted_to_utc_is_refused() -> None:
    error = _decode_error({**ANNOUNCEMENT, "occurred_at": "0001-01-01T00:00:00+05:00"})
    assert error.field == "occurred_at"
    assert "out of range" in str(error)


def test_the_offset_of_a_timestamp_survives_a_round_trip() -> None:
    event = CODEC.from_dict(ANNOUNCEMENT)
    again = CODEC.loads(CODEC.dumps(event))
    assert again.occurred_at.utcoffset() == timedelta(hours=8)


# --- encoding -----------------------------------------------------------------------


def test_to_dict_tags_the_record_with_its_type_and_schema_version() -> None:
    data = CODEC.to_dict(CODEC.from_dict(ANNOUNCEMENT))
    assert (data["type"], data["schema_version"]) == ("announcement", 3)


def test_to_dict_writes_enums_as_their_plain_values() -> None:
    data = CODEC.to_dict(CODEC.from_dict(ANNOUNCEMENT))
    assert (data["position"], data["precision"]) == ("supports", "exact")
    assert type(data["position"]) is str


def test_dumps_is_canonical_json_with_sorted_keys_and_no_spaces() -> None:
    text = CODEC.dumps(CODEC.from_dict(INQUIRY))
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_dumps_keeps_non_ascii_text_as_it_is() -> None:
    event = CODEC.from_dict({**ANNOUNCEMENT, "summary": "北京 — «non» ✓"})
    assert "北京 — «non» ✓" in CODEC.dumps(event)


def test_encoding_an_unregistered_class_raises_unknown_event_type_error() -> None:
    event = tl.Announcement(
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC), actor="a", topic="t", position="supports"
    )
    with pytest.raises(tl.UnknownEventTypeError, match="is not registered"):
        tl.Codec(tl.Registry()).to_dict(event)


def test_loads_of_text_that_is_not_json_raises_validation_error() -> None:
    with pytest.raises(tl.ValidationError, match="not valid JSON"):
        CODEC.loads('{"type": "announcement"')


def test_loads_of_deeply_nested_json_raises_validation_error() -> None:
    with pytest.raises(tl.ValidationError, match="not valid JSON"):
        CODEC.loads("[" * 100_000 + "]" * 100_000)


def test_structure_of_a_source_names_the_bad_field() -> None:
    with pytest.raises(tl.ValidationError) as info:
        CODEC.structure({"publisher": "Reuters", "url": 5}, tl.Source)
    assert info.value.field == "url"


def test_a_decoded_record_keeps_an_aware_published_at_with_its_offset() -> None:
    source = {"publisher": "Reuters", "published_at": "2025-12-10T08:00:00+08:00"}
    event = CODEC.from_dict({**ANNOUNCEMENT, "source": source})
    assert event.source is not None
    assert event.source.published_at == datetime(
        2025, 12, 10, 8, tzinfo=timezone(timedelta(hours=8))
    )


# --- round trips (property tests) -----------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(ALL_EVENTS))
def test_from_dict_inverts_to_dict_for_every_type(type_name: str) -> None:
    @settings(max_examples=30, deadline=None)
    @given(ALL_EVENTS[type_name])
    def check(event: tl.Event) -> None:
        data = CODEC.to_dict(event)
        assert data["type"] == type_name
        assert CODEC.from_dict(data) == event

    check()


@pytest.mark.parametrize("type_name", sorted(ALL_EVENTS))
def test_loads_inverts_dumps_for_every_type(type_name: str) -> None:
    @settings(max_examples=30, deadline=None)
    @given(ALL_EVENTS[type_name])
    def check(event: tl.Event) -> None:
        assert CODEC.loads(CODEC.dumps(event)) == event

    check()


# --- nothing but timeline errors escape ----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([ANNOUNCEMENT, INQUIRY, VOTE]),
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "id",
                "occurred_at",
                "precision",
                "actor",
                "inquirers",
                "conditions",
                "source",
                "replacement",
                "seats",
                "unanimous",
                "schema_version",
                "extra",
            ]
        ),
        json_values,
        max_size=3,
    ),
)
def test_decoding_arbitrary_json_values_raises_only_timeline_errors(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    try:
        event = CODEC.from_dict({**base, **changes})
    except tl.TimelineError:
        return
    assert isinstance(event, tl.Event)


@given(event=st.one_of(*ALL_EVENTS.values()), explicit=st.booleans())
def test_trusted_decoding_marks_the_same_derived_ends(event: tl.Event, explicit: bool) -> None:
    """The decoder marks an end spelled as its start derived without working out the
    period; the record is the one the strict path and ``mark_derived_ends`` give,
    down to which ends are derived."""
    from timeline.events import mark_derived_ends

    data = CODEC.to_dict(event)
    if explicit:  # an end given as the start itself, whatever the precision
        data["occurred_until"] = data["occurred_at"]
        if data.get("reported_at") is not None:
            data["reported_until"] = data["reported_at"]
    data = json.loads(json.dumps(data))
    got = CODEC.decode_trusted(data)
    expected = mark_derived_ends(CODEC.from_dict(data))
    assert got == expected
    for end in ("occurred_until", "reported_until"):
        assert type(getattr(got, end)) is type(getattr(expected, end)), end


_STAMPS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
).map(lambda d: d.isoformat())


@given(
    value=st.one_of(
        _STAMPS,
        _STAMPS.map(lambda s: f" {s}"),
        _STAMPS.map(lambda s: s.replace("T", " ")),
        st.datetimes().map(lambda d: d.isoformat()),  # naive: refused
        st.text(max_size=40),
        st.sampled_from(
            ["2025", "2025-08", "2025-12-08", "21 May 2023", "9999-12-31T23:00:00-05:00"]
        ),
    )
)
def test_structuring_a_time_gives_what_parse_instant_gives(value: str) -> None:
    """The full-timestamp fast path of the codec's time hook changes no answer."""
    from timeline.times import parse_instant

    try:
        expected: object = parse_instant(value)[0]
    except tl.ValidationError as exc:
        expected = ("refused", str(exc))
    try:
        got: object = tl.Codec._structure_datetime(value, None)
    except tl.ValidationError as exc:
        got = ("refused", str(exc))
    assert got == expected
    if isinstance(got, datetime) and isinstance(expected, datetime):
        assert got.tzinfo == expected.tzinfo


def test_a_cited_source_is_encoded_once_yet_each_record_gets_its_own_copy() -> None:
    codec = tl.Codec()
    cited = tl.Source(
        publisher="Reuters",
        id="r1",
        headline="Chips",
        published_at=datetime(2025, 1, 2, tzinfo=UTC),
    )
    first = tl.Report(
        id="a", occurred_at=datetime(2025, 1, 2, tzinfo=UTC), summary="one", source=cited
    )
    second = tl.Report(
        id="b",
        occurred_at=datetime(2025, 1, 3, tzinfo=UTC),
        summary="two",
        sources=(cited, tl.Source(publisher="FT")),
    )
    one = codec.encode(first)
    assert one == codec.to_dict(first)
    assert one["source"] == one["sources"][0]
    assert one["source"] is not one["sources"][0]
    one["source"]["headline"] = "changed by a caller"
    two = codec.encode(second)
    assert two == codec.to_dict(second)
    assert two["source"]["headline"] == "Chips"
    assert codec.dumps(second) == json.dumps(
        codec.to_dict(second), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@attrs.frozen(kw_only=True, slots=False)
class Memo(tl.Event):
    """A user type whose own fields live in its ``__dict__`` (not slotted), beside the
    slotted fields it inherits."""

    author: str
    pages: int = 0


def test_the_trusted_and_lean_decoders_set_fields_of_a_class_with_a_dict() -> None:
    registry = registry_with_builtins()
    tl.event_type("memo", version=1, registry=registry)(Memo)
    codec = tl.Codec(registry)
    memo = Memo(id="m-1", occurred_at=datetime(2025, 12, 9, tzinfo=UTC), author="ana", pages=3)
    data = json.loads(json.dumps(codec.to_dict(memo)))
    assert codec.decode_trusted(data) == memo
    lean = codec.trusted_decoder(frozenset({"author"}))(data)
    assert (type(lean), lean.id, lean.author) == (Memo, "m-1", "ana")
    assert lean.occurred_at == memo.occurred_at
    assert "pages" not in vars(lean)  # left unset: the fold reads none of it

"""Event records: immutable, keyword-only, validated on construction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

import timeline as tl

T = datetime(2025, 12, 8, 9, 30, tzinfo=UTC)
NAIVE = datetime(2025, 12, 8, 9, 30)


def _announcement(**overrides: Any) -> tl.Announcement:
    fields: dict[str, Any] = {
        "id": "a-1",
        "occurred_at": T,
        "actor": "us-government",
        "topic": "h200-exports-to-china",
        "position": "supports",
    }
    return tl.Announcement(**{**fields, **overrides})


def _inquiry(**overrides: Any) -> tl.Inquiry:
    fields: dict[str, Any] = {
        "id": "i-1",
        "occurred_at": T,
        "inquirers": ["bytedance"],
        "supplier": "nvidia",
        "product": "H200",
    }
    return tl.Inquiry(**{**fields, **overrides})


# --- immutability and shape -----------------------------------------------------


def test_assigning_to_a_field_of_a_record_raises() -> None:
    event = _announcement()
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match=r"can.t set attribute"):
        event.topic = "other"  # type: ignore[misc]


def test_assigning_to_a_field_of_a_source_raises() -> None:
    source = tl.Source(publisher="Reuters")
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match=r"can.t set attribute"):
        source.publisher = "AP"  # type: ignore[misc]


def test_records_refuse_positional_arguments() -> None:
    with pytest.raises(TypeError, match="positional"):
        tl.Statement("s-1", None, T)  # type: ignore[misc]


def test_evolve_returns_a_changed_copy_and_leaves_the_original() -> None:
    event = _announcement()
    changed = attrs.evolve(event, position="opposes")
    assert (event.position, changed.position) == (tl.Position.SUPPORTS, tl.Position.OPPOSES)


def test_evolve_validates_the_new_values() -> None:
    with pytest.raises(tl.ValidationError, match="actor: must be a non-empty string"):
        attrs.evolve(_announcement(), actor="")


def test_records_with_equal_fields_are_equal() -> None:
    assert _announcement() == _announcement()


def test_the_default_id_is_a_fresh_uuid4_hex() -> None:
    first = tl.Statement(occurred_at=T, actor="nvidia", topic="t")
    second = tl.Statement(occurred_at=T, actor="nvidia", topic="t")
    assert len(first.id) == 32
    assert int(first.id, 16) >= 0
    assert first.id != second.id


def test_position_text_is_converted_to_the_enum() -> None:
    assert _announcement(position="opposes").position is tl.Position.OPPOSES


def test_precision_defaults_to_exact() -> None:
    assert _announcement().precision is tl.Precision.EXACT


def test_a_statement_defaults_to_a_neutral_position() -> None:
    assert tl.Statement(occurred_at=T, actor="nvidia", topic="t").position is tl.Position.NEUTRAL


def test_a_regulator_meeting_defaults_to_an_undecided_position() -> None:
    meeting = tl.RegulatorMeeting(occurred_at=T, regulator="beijing", topic="h200-imports")
    assert meeting.position is tl.Position.UNDECIDED


def test_list_fields_become_tuples() -> None:
    assert _inquiry(inquirers=["bytedance", "alibaba"]).inquirers == ("bytedance", "alibaba")


# --- datetimes ---------------------------------------------------------------------


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="occurred_at: naive datetime") as info:
        _announcement(occurred_at=NAIVE)
    assert info.value.field == "occurred_at"


def test_a_naive_reported_at_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="reported_at: naive datetime"):
        _announcement(reported_at=NAIVE)


def test_a_naive_source_published_at_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="published_at: naive datetime"):
        tl.Source(publisher="Reuters", published_at=NAIVE)


def test_an_occurred_at_given_as_text_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="occurred_at: expected a datetime, got str"):
        _announcement(occurred_at="2025-12-08")


def test_an_aware_datetime_in_any_offset_is_accepted() -> None:
    beijing = timezone(timedelta(hours=8))
    event = _announcement(occurred_at=datetime(2025, 12, 8, 17, 30, tzinfo=beijing))
    assert event.occurred_at == T


def test_a_datetime_that_overflows_when_converted_to_utc_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="out of range once converted to UTC"):
        _announcement(occurred_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


# --- enums -------------------------------------------------------------------------


def test_an_unknown_position_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="'ambivalent' is not a valid position") as info:
        _announcement(position="ambivalent")
    assert info.value.field == "position"


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="'week' is not a valid precision"):
        _announcement(precision="week")


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="'encourage' is not a valid measure"):
        tl.PolicyChange(occurred_at=T, authority="beijing", topic="t", measure="encourage")


def test_a_position_must_be_text_not_a_boolean() -> None:
    with pytest.raises(tl.ValidationError, match="True is not a valid position"):
        _announcement(position=True)


# --- ids and text ------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["", "   ", "\t\n"])
def test_an_empty_actor_id_is_refused(actor: str) -> None:
    with pytest.raises(tl.ValidationError, match="actor: must be a non-empty string") as info:
        _announcement(actor=actor)
    assert info.value.field == "actor"


def test_an_empty_actor_id_in_a_list_is_refused_with_its_index() -> None:
    with pytest.raises(tl.ValidationError, match=r"inquirers\[1\]: must be a non-empty") as info:
        _inquiry(inquirers=["bytedance", ""])
    assert info.value.field == "inquirers[1]"


def test_an_inquiry_needs_at_least_one_inquirer() -> None:
    with pytest.raises(tl.ValidationError, match="inquirers: needs at least one entry"):
        _inquiry(inquirers=[])


def test_a_string_where_a_list_belongs_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="expected a list, got a string"):
        _inquiry(conditions="Beijing approval")


def test_an_empty_event_id_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="id: must be a non-empty string"):
        _announcement(id="")


def test_a_summary_that_is_not_text_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="summary: expected text, got int"):
        _announcement(summary=5)


def test_an_empty_topic_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="topic: must be a non-empty string"):
        _announcement(topic="")


# --- sources ------------------------------------------------------------------------


def test_a_source_needs_a_publisher() -> None:
    with pytest.raises(tl.ValidationError, match="publisher: must be a non-empty string"):
        tl.Source(publisher=" ")


def test_a_source_url_must_be_text() -> None:
    with pytest.raises(tl.ValidationError, match="url: expected text, got int"):
        tl.Source(publisher="Reuters", url=5)  # type: ignore[arg-type]


def test_a_source_keeps_its_fields() -> None:
    published = datetime(2025, 12, 10, 8, tzinfo=timezone(timedelta(hours=8)))
    source = tl.Source(
        publisher="Reuters", id="r", url="https://example.com", headline="H", published_at=published
    )
    assert (source.publisher, source.id, source.url, source.headline, source.published_at) == (
        "Reuters",
        "r",
        "https://example.com",
        "H",
        published,
    )


def test_effective_reported_at_prefers_the_records_own_reported_at() -> None:
    source = tl.Source(publisher="Reuters", published_at=T + timedelta(days=2))
    event = _announcement(source=source, reported_at=T + timedelta(days=1))
    assert event.effective_reported_at == T + timedelta(days=1)


def test_effective_reported_at_falls_back_to_the_sources_published_at() -> None:
    source = tl.Source(publisher="Reuters", published_at=T + timedelta(days=2))
    assert _announcement(source=source).effective_reported_at == T + timedelta(days=2)


def test_effective_reported_at_is_unknown_without_either() -> None:
    assert _announcement(source=tl.Source(publisher="Reuters")).effective_reported_at is None


# --- corrections and retractions ---------------------------------------------------------


def test_a_retraction_cannot_retract_itself() -> None:
    with pytest.raises(tl.ValidationError, match="'r-1' cannot retract itself") as info:
        tl.Retraction(id="r-1", occurred_at=T, retracts="r-1")
    assert info.value.field == "retracts"


def test_a_correction_cannot_correct_itself() -> None:
    with pytest.raises(tl.ValidationError, match="'c-1' cannot correct itself") as info:
        tl.Correction(id="c-1", occurred_at=T, corrects="c-1", replacement=_announcement())
    assert info.value.field == "corrects"


def test_a_corrections_replacement_takes_the_corrected_id() -> None:
    correction = tl.Correction(
        id="c-1", occurred_at=T, corrects="a-1", replacement=_announcement(id="anything")
    )
    assert correction.replacement.id == "a-1"
    assert correction.replacement == _announcement(id="a-1")


def test_a_correction_cannot_replace_with_a_retraction() -> None:
    retraction = tl.Retraction(id="r-1", occurred_at=T, retracts="a-1")
    with pytest.raises(tl.ValidationError, match="replaces a report, not another correction"):
        tl.Correction(id="c-1", occurred_at=T, corrects="a-1", replacement=retraction)


def test_a_correction_cannot_replace_with_a_correction() -> None:
    inner = tl.Correction(id="c-0", occurred_at=T, corrects="a-1", replacement=_announcement())
    with pytest.raises(tl.ValidationError, match="replaces a report, not another correction"):
        tl.Correction(id="c-1", occurred_at=T, corrects="a-1", replacement=inner)


def test_a_corrections_actor_refs_are_its_replacements_prefixed() -> None:
    correction = tl.Correction(
        id="c-1", occurred_at=T, corrects="i-1", replacement=_inquiry(inquirers=["a", "b"])
    )
    assert list(correction.actor_refs()) == [
        ("replacement.inquirers", "a"),
        ("replacement.inquirers", "b"),
        ("replacement.supplier", "nvidia"),
    ]


def test_actor_refs_name_every_actor_with_its_role() -> None:
    meeting = tl.RegulatorMeeting(
        occurred_at=T, regulator="beijing", attendees=["bytedance", "alibaba"], topic="t"
    )
    assert list(meeting.actor_refs()) == [
        ("regulator", "beijing"),
        ("attendees", "bytedance"),
        ("attendees", "alibaba"),
    ]

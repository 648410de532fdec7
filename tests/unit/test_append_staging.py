"""The append's staging helpers: a record copied with the store's fields set, and each
recorded time formatted as the store spells it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import timeline as tl
from timeline.store._batch import Batch, with_fields
from timeline.times import to_text

BASE = datetime(2025, 3, 1, tzinfo=UTC)


def statement(**changes: Any) -> tl.Statement:
    event = tl.Statement(
        id="e1",
        occurred_at=BASE,
        actor="gov",
        topic="exports",
        position="supports",
        source=tl.Source(publisher="Reuters"),
    )
    return attrs.evolve(event, **changes)


def test_a_copy_has_the_new_values_and_every_other_field_as_it_was() -> None:
    event = statement(summary="words", reported_at=BASE + timedelta(days=1))
    later = BASE + timedelta(days=2)
    copy = with_fields(event, story="s", reported_at=later)
    assert copy is not event
    assert (copy.story, copy.reported_at) == ("s", later)
    assert (event.story, event.reported_at) == (None, BASE + timedelta(days=1))
    expected = {**attrs.asdict(event, recurse=False), "story": "s", "reported_at": later}
    assert attrs.asdict(copy, recurse=False) == expected


def test_a_record_that_already_holds_the_values_is_returned_itself() -> None:
    event = statement(story="s")
    assert with_fields(event, story="s") is event
    assert with_fields(event) is event
    assert with_fields(event, story="t") is not event


def test_a_field_the_record_does_not_have_is_refused() -> None:
    with pytest.raises(TypeError, match="Statement has no field 'stroy'"):
        with_fields(statement(), stroy="s")


@attrs.frozen(slots=False)
class Memo(tl.Event):
    """A user-defined record whose fields live in a ``__dict__``."""

    text: str = ""


def test_a_record_without_slots_is_copied_too() -> None:
    memo = Memo(id="m1", occurred_at=BASE, text="hello", source=tl.Source(publisher="Reuters"))
    copy = with_fields(memo, story="s")
    assert type(copy) is Memo
    assert (copy.story, copy.text, copy.id) == ("s", "hello", "m1")
    assert memo.story is None


def _batch() -> Batch:
    batch = Batch.__new__(Batch)
    batch._second = None
    return batch


@given(
    start=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    steps=st.lists(st.integers(min_value=0, max_value=2_500_000), max_size=12),
)
def test_recorded_times_are_spelled_as_the_store_spells_every_time(
    start: datetime, steps: list[int]
) -> None:
    batch = _batch()
    when = start
    for step in [0, *steps, 1, 1]:
        when = when + timedelta(microseconds=step)
        assert batch._recorded_text(when) == to_text(when)

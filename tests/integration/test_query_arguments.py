"""Bad query arguments are refused with a TimelineError naming the argument, up front."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL


def test_events_with_an_unknown_order_is_refused_when_called(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="order: 'bogus'"):
        h200.events(order="bogus")


def test_events_with_an_empty_type_list_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="at least one event type"):
        h200.events(type=[])


def test_events_with_an_unknown_type_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="'rumour'"):
        h200.events(type="rumour")


def test_an_actor_that_is_not_text_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="expected an actor id or alias, got 5"):
        h200.events(actor=5)  # type: ignore[arg-type]


class Mood(enum.Enum):
    HAPPY = "happy"


REGISTRY = tl.Registry()
for _entry in tl.default_registry:
    REGISTRY.register(_entry.cls, _entry.name, version=_entry.version)


@tl.event_type("test_mood", registry=REGISTRY)
@attrs.frozen(kw_only=True)
class MoodSwing(tl.Event):
    mood: Mood


def test_a_user_enum_field_holding_bad_text_is_refused_at_append(db_path: Path) -> None:
    with tl.Timeline.open(db_path, registry=REGISTRY) as store:
        bad = MoodSwing(occurred_at=datetime(2026, 1, 1, tzinfo=UTC), mood="sad")  # type: ignore[arg-type]
        with pytest.raises(tl.ValidationError, match="mood: 'sad' is not one of: happy"):
            store.append([bad], story="s")
        assert list(store.events()) == []


def test_a_user_enum_field_given_as_its_value_is_stored_as_the_member(db_path: Path) -> None:
    with tl.Timeline.open(db_path, registry=REGISTRY) as store:
        event = MoodSwing(occurred_at=datetime(2026, 1, 1, tzinfo=UTC), mood="happy")  # type: ignore[arg-type]
        store.append([event], story="s")
        stored = next(store.events()).event
        assert isinstance(stored, MoodSwing)
        assert stored.mood is Mood.HAPPY

"""Contract: reading the log with filters and orders."""

from __future__ import annotations

import pytest

import timeline as tl
from tests.contract._samples import add_news, ids_of

# --- filters --------------------------------------------------------------------------


@pytest.fixture
def news(store: tl.Timeline) -> tl.Timeline:
    return add_news(store)


def test_events_without_filters_yields_everything_in_log_order(news: tl.Timeline) -> None:
    assert ids_of(news.events()) == ["p1", "i1", "st1", "a1", "st2"]


def test_events_filters_by_story(news: tl.Timeline) -> None:
    assert ids_of(news.events(story="s2")) == ["a1", "st2"]


def test_events_filters_by_actor(news: tl.Timeline) -> None:
    assert ids_of(news.events(actor="acme")) == ["i1", "st2"]


def test_events_resolves_an_actor_alias_case_insensitively(news: tl.Timeline) -> None:
    assert ids_of(news.events(actor="the STATE")) == ["p1", "a1"]


def test_append_stores_an_alias_as_the_actor_id(news: tl.Timeline) -> None:
    a1 = news.get("a1")
    assert a1 is not None
    assert a1.event.actor == "gov"  # type: ignore[attr-defined]


def test_events_for_an_unknown_actor_raises_unknown_actor_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError, match="'martians'"):
        news.events(actor="martians")


def test_events_filters_by_type(news: tl.Timeline) -> None:
    assert ids_of(news.events(type="statement")) == ["st1", "st2"]


def test_events_filters_by_several_types(news: tl.Timeline) -> None:
    assert ids_of(news.events(type=["statement", "announcement"])) == ["st1", "a1", "st2"]


def test_events_for_an_unknown_type_raises_unknown_event_type_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="'rumour'"):
        news.events(type="rumour")


def test_events_filters_by_occurred_at_between_since_and_until(news: tl.Timeline) -> None:
    assert ids_of(news.events(since="2025-12-08", until="2025-12-09")) == ["i1", "st1", "st2"]


def test_a_date_only_until_includes_the_last_moment_of_that_day(news: tl.Timeline) -> None:
    assert ids_of(news.events(until="2025-12-08")) == ["p1", "i1"]


def test_a_full_timestamp_until_is_inclusive(news: tl.Timeline) -> None:
    assert ids_of(news.events(since="2025-12-09T12:00:00Z", until="2025-12-10T00:00:00Z")) == [
        "st1",
        "a1",
    ]


def test_events_filters_by_reported_since(news: tl.Timeline) -> None:
    assert ids_of(news.events(reported_since="2025-12-10")) == ["i1", "a1", "st2"]


def test_events_filters_by_reported_until(news: tl.Timeline) -> None:
    assert ids_of(news.events(reported_until="2025-12-09")) == ["p1", "st1"]


def test_events_filters_combine(news: tl.Timeline) -> None:
    assert ids_of(news.events(actor="acme", type="statement", story="s2")) == ["st2"]


def test_events_in_occurred_order_sort_by_occurred_at(news: tl.Timeline) -> None:
    assert ids_of(news.events(order="occurred")) == ["p1", "i1", "st2", "st1", "a1"]


def test_events_in_reported_order_sort_by_reported_at(news: tl.Timeline) -> None:
    assert ids_of(news.events(order="reported")) == ["p1", "st1", "i1", "a1", "st2"]


def test_a_malformed_bound_raises_validation_error(news: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="since: invalid date or time '2025-02-30'"):
        news.events(since="2025-02-30")

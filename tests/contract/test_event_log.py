"""Contract: the EventLog protocol itself, called directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import timeline as tl
from tests.contract._samples import STORY, T, _statement, _statements
from timeline.store.base import EventFilter, EventLog
from timeline.testing import StepClock
from timeline.times import to_text


def ids(records: object) -> list[str]:
    return [r.id for r in records]  # type: ignore[attr-defined]


def test_an_empty_log_has_head_zero_and_no_stories(log: EventLog) -> None:
    assert (log.head(), log.count_events(), log.stories(), log.known_ids()) == (0, 0, [], {})
    assert log.story_version(STORY) == 0
    assert list(log.read()) == []


def test_head_versions_stories_and_known_ids_follow_appends(log: EventLog) -> None:
    log.append(_statements("a", 2), story="one", title="One")
    log.append([tl.Report(id="r", occurred_at=T)], story="two")
    assert (log.head(), log.count_events()) == (3, 3)
    assert (log.story_version("one"), log.story_version("two")) == (2, 1)
    assert log.stories() == [("one", "One", 2), ("two", None, 1)]
    assert log.known_ids() == {"a-0": "statement", "a-1": "statement", "r": "report"}


def test_read_takes_one_filter_record(log: EventLog) -> None:
    log.append(_statements("a", 3), story="one")
    log.append([_statement("b", actor="amd", occurred_at=T - timedelta(days=1))], story="two")
    assert ids(log.read(EventFilter(story="two"))) == ["b"]
    assert ids(log.read(EventFilter(actor="amd"))) == ["b"]
    assert ids(log.read(EventFilter(after_position=1, upto_position=3))) == ["a-1", "a-2"]
    assert ids(log.read(EventFilter(order="occurred")))[0] == "b"
    assert ids(log.read(EventFilter(occurred_until=T - timedelta(hours=1)))) == ["b"]
    assert ids(log.read(EventFilter(types=["statement"], exclude_types=["statement"]))) == []
    assert ids(log.read(EventFilter(ids=[]))) == []


def test_read_refuses_an_unknown_order(log: EventLog) -> None:
    with pytest.raises(tl.ValidationError, match="order: 'sideways'"):
        list(log.read(EventFilter(order="sideways")))


def test_read_events_is_the_lean_form_of_read(log: EventLog) -> None:
    log.append(_statements("a", 2), story=STORY)
    lean = list(log.read_events(EventFilter(order="occurred")))
    full = list(log.read(EventFilter(order="occurred")))
    assert lean == [(r.occurred_at, r.position, r.event) for r in full]


def test_read_ids_reads_more_ids_than_one_query_may_bind(log: EventLog) -> None:
    log.append(_statements("a", 1200), story=STORY)
    wanted = [f"a-{i}" for i in range(0, 1200, 2)] + ["missing"]
    found = list(log.read_ids(wanted))
    assert sorted(r.id for r in found) == sorted(wanted[:-1])
    assert ids(log.read_ids(["a-3", "a-5"], EventFilter(upto_position=4))) == ["a-3"]


def test_get_finds_a_stored_event_by_id(log: EventLog) -> None:
    (appended,) = log.append([_statement("a")], story=STORY).appended
    assert log.get("a") == appended
    assert log.get("nothing") is None


def test_time_extent_spans_the_positions_asked_for(log: EventLog, clock: StepClock) -> None:
    log.append([_statement("a", reported_at=T)], story=STORY)
    clock.advance(hours=1)
    log.append([_statement("b", reported_at=T + timedelta(days=1))], story=STORY)
    assert log.time_extent(0, 1) == (to_text(T), to_text(datetime(2026, 1, 1, tzinfo=UTC)))
    assert log.time_extent(0, 2) == (
        to_text(T + timedelta(days=1)),
        to_text(datetime(2026, 1, 1, 1, tzinfo=UTC)),
    )
    assert log.time_extent(2, 2) == (None, None)


def test_actors_are_registered_merged_and_looked_up_by_alias(log: EventLog) -> None:
    log.register_actors([tl.Actor(id="gov", name="Government", aliases=("The State",))])
    log.register_actors([tl.Actor(id="gov", name="gov", kind="state", aliases=("Govt",))])
    (gov,) = log.actors()
    assert (gov.name, gov.kind, gov.aliases) == ("Government", "state", ("The State", "Govt"))
    lookup = log.actor_lookup()
    assert lookup["the state"] == lookup["govt"] == lookup["gov"] == "gov"


def test_an_alias_of_another_actor_is_refused_and_nothing_is_written(log: EventLog) -> None:
    log.register_actors([tl.Actor(id="gov", name="Government", aliases=("State",))])
    with pytest.raises(tl.ValidationError, match="'State' of actor 'firm' already names"):
        log.register_actors([tl.Actor(id="firm", name="Firm", aliases=("State",))])
    assert [a.id for a in log.actors()] == ["gov"]


def test_append_registers_unknown_actors_it_meets(log: EventLog) -> None:
    log.append([_statement("a", actor="newcomer")], story=STORY)
    assert [a.id for a in log.actors()] == ["newcomer"]


def test_the_change_marker_moves_with_every_append(log: EventLog) -> None:
    before = log.change_marker()
    assert log.change_marker() == before
    log.append([_statement("a")], story=STORY)
    assert log.change_marker() != before


def test_wait_returns_at_once_when_the_log_is_past_the_position(log: EventLog) -> None:
    log.append(_statements("a", 2), story=STORY)
    assert log.wait(1, timeout=0) is True
    assert log.wait(2, timeout=0) is False


def test_search_finds_words_within_a_filter(log: EventLog) -> None:
    log.append(
        [
            _statement("a", summary="Grey market chips"),
            _statement("b", summary="Grey skies", actor="amd"),
        ],
        story=STORY,
    )
    hits = log.search("grey", where=EventFilter(actor="amd"))
    assert [(h.record.id, h.snippet) for h in hits] == [("b", "[Grey] skies")]
    assert [h.record.id for h in log.search("grey market")] == ["a"]
    with pytest.raises(tl.ValidationError, match="query"):
        log.search("   ")


def test_verify_counts_what_was_appended(log: EventLog) -> None:
    log.append(_statements("a", 3), story=STORY)
    assert log.verify() == 3


def test_recorded_at_comes_from_the_stores_clock(log: EventLog, clock: StepClock) -> None:
    clock.set(datetime(2026, 5, 1, tzinfo=UTC))
    (record,) = log.append([_statement("a")], story=STORY).appended
    assert record.recorded_at == datetime(2026, 5, 1, tzinfo=UTC)

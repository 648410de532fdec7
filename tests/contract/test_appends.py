"""Contract: positions, versions, expected_version, atomic batches, idempotency."""

from __future__ import annotations

from typing import Any

import pytest

import timeline as tl
from tests.contract._samples import STORY, T, _statement, _statements

# --- positions and versions -----------------------------------------------------------


def test_positions_strictly_increase_across_batches_and_stories(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story="one")
    store.append(_statements("b", 2), story="two")
    store.append(_statements("c", 1), story="one")
    assert [e.position for e in store.events()] == [1, 2, 3, 4, 5]


def test_versions_count_from_one_within_each_story(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story="one")
    store.append(_statements("b", 2), story="two")
    store.append(_statements("c", 1), story="one")
    assert [(e.story, e.version) for e in store.events()] == [
        ("one", 1),
        ("one", 2),
        ("two", 1),
        ("two", 2),
        ("one", 3),
    ]


def test_append_reports_the_storys_new_version(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY)
    assert store.append(_statements("b", 3), story=STORY).version == 5


def test_events_carry_the_story_of_their_batch(store: tl.Timeline) -> None:
    store.append(_statements("a", 1), story=STORY)
    (recorded,) = store.events()
    assert (recorded.story, recorded.event.story) == (STORY, STORY)


def test_an_event_of_another_story_is_refused_in_a_batch(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="belongs to story 'other', not 'trade'"):
        store.append([_statement("a", story="other")], story=STORY)


@pytest.mark.parametrize("story", ["", "   ", 5])
def test_a_blank_or_non_text_story_is_refused(store: tl.Timeline, story: Any) -> None:
    with pytest.raises(tl.ValidationError, match="story: must be a non-empty slug"):
        store.append(_statements("a", 1), story=story)
    assert store.store.count_events() == 0


def test_a_batch_without_any_story_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="no story given for the batch"):
        store.append(_statements("a", 1))


@pytest.mark.parametrize("item", ["h200-0001", None, {"type": "report"}])
def test_a_batch_item_that_is_not_a_record_is_refused(store: tl.Timeline, item: Any) -> None:
    with pytest.raises(tl.ValidationError, match="batch item #1 is not an event record"):
        store.append([_statement("a"), item], story=STORY)


def test_a_single_event_instead_of_a_list_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="pass a list of events"):
        store.append(_statement("a"), story=STORY)  # type: ignore[arg-type]


# --- optimistic concurrency -----------------------------------------------------------


def test_append_with_the_current_expected_version_succeeds(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY, expected_version=0)
    result = store.append(_statements("b", 1), story=STORY, expected_version=2)
    assert result.version == 3


def test_append_with_stale_expected_version_raises_naming_both_versions(
    store: tl.Timeline,
) -> None:
    store.append(_statements("a", 2), story=STORY)
    with pytest.raises(tl.ConcurrencyError, match="'trade' is at version 2, expected 1") as info:
        store.append(_statements("b", 1), story=STORY, expected_version=1)
    assert (info.value.story, info.value.expected, info.value.actual) == (STORY, 1, 2)


def test_append_with_stale_expected_version_writes_nothing(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY)
    with pytest.raises(tl.ConcurrencyError, match="expected 1"):
        store.append([_statement("new", actor="someone-new")], story=STORY, expected_version=1)
    assert (store.store.count_events(), store.get("new")) == (2, None)
    assert "someone-new" not in [a.id for a in store.actors()]


# --- atomic batches -------------------------------------------------------------------


def test_a_batch_whose_third_event_corrects_an_unknown_id_leaves_no_trace(
    store: tl.Timeline,
) -> None:
    store.append(_statements("before", 1), story=STORY)
    batch: list[tl.Event] = [
        _statement("x-1", actor="newcomer"),
        _statement("x-2"),
        tl.Correction(id="x-3", occurred_at=T, corrects="nowhere", replacement=_statement("r")),
    ]
    with pytest.raises(tl.ValidationError, match="'nowhere' is not in the store"):
        store.append(batch, story="fresh")
    assert store.store.count_events() == 1
    assert [s[0] for s in store.stories()] == [STORY]
    assert [e.id for e in store.events(actor="nvidia")] == ["before-0"]
    assert [a.id for a in store.actors()] == ["nvidia"]


def test_a_batch_that_fails_on_a_duplicate_leaves_no_trace(store: tl.Timeline) -> None:
    store.append([_statement("taken")], story=STORY)
    batch = [_statement("y-1"), _statement("y-2"), _statement("taken", topic="changed")]
    with pytest.raises(tl.DuplicateEventError, match="'taken'"):
        store.append(batch, story=STORY)
    assert store.store.count_events() == 1
    assert [e.id for e in store.events(actor="nvidia")] == ["taken"]
    assert [e.id for e in store.events()] == ["taken"]


def test_a_failed_batch_does_not_consume_positions(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    with pytest.raises(tl.ValidationError, match="'zz' is not in the store"):
        store.append([_statement("b"), tl.Retraction(occurred_at=T, retracts="zz")], story=STORY)
    result = store.append([_statement("c")], story=STORY)
    assert (result.appended[0].position, result.version) == (2, 2)


def test_a_retraction_may_target_an_event_earlier_in_the_same_batch(
    store: tl.Timeline,
) -> None:
    result = store.append(
        [_statement("a"), tl.Retraction(id="r", occurred_at=T, retracts="a")], story=STORY
    )
    assert [e.id for e in result.appended] == ["a", "r"]


def test_a_correction_whose_replacement_has_another_type_is_refused(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    replacement = tl.Announcement(occurred_at=T, actor="nvidia", topic="h200", position="supports")
    correction = tl.Correction(occurred_at=T, corrects="a", replacement=replacement)
    with pytest.raises(tl.ValidationError, match="is a announcement but 'a' is a statement"):
        store.append([correction], story=STORY)


# --- idempotency ----------------------------------------------------------------------


def test_reappending_an_identical_event_is_skipped(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    result = store.append([_statement("a")], story=STORY)
    assert (result.appended, result.skipped, store.store.count_events()) == ((), ("a",), 1)


def test_reappending_an_identical_event_leaves_the_version_alone(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    store.append([_statement("a")], story=STORY, expected_version=1)
    assert store.append([_statement("b")], story=STORY, expected_version=1).version == 2


def test_reappending_a_batch_appends_only_the_new_events(store: tl.Timeline) -> None:
    store.append(_statements("a", 2), story=STORY)
    result = store.append([*_statements("a", 2), _statement("b")], story=STORY)
    assert ([e.id for e in result.appended], result.skipped) == (["b"], ("a-0", "a-1"))


def test_the_same_id_with_other_content_raises_duplicate_event_error(store: tl.Timeline) -> None:
    store.append([_statement("a")], story=STORY)
    with pytest.raises(tl.DuplicateEventError, match="'a' is already stored") as info:
        store.append([_statement("a", summary="different")], story=STORY)
    assert info.value.event_id == "a"


def test_the_same_id_twice_in_one_batch_with_other_content_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.DuplicateEventError, match="'a'"):
        store.append([_statement("a"), _statement("a", topic="other")], story=STORY)
    assert store.store.count_events() == 0


def test_the_same_id_twice_in_one_batch_with_the_same_content_is_stored_once(
    store: tl.Timeline,
) -> None:
    result = store.append([_statement("a"), _statement("a")], story=STORY)
    assert ([e.id for e in result.appended], result.skipped) == (["a"], ("a",))

"""What both backends must agree on: which input is valid, and what a store hands back."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS, H200

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL

T = datetime(2025, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id": "a\x00b"}, "id"),
        ({"summary": "before\x00after"}, "summary"),
        ({"actor": "nvi\x00dia"}, "actor"),
        ({"quote": "\x00"}, "quote"),
    ],
)
def test_a_nul_character_in_any_field_is_refused_and_nothing_is_written(
    store: tl.Timeline, fields: dict[str, str], field: str
) -> None:
    good = tl.Statement(id="good", occurred_at=T, actor="nvidia", topic="h200")
    values = {"id": "bad", "occurred_at": T, "actor": "nvidia", "topic": "h200", **fields}
    with pytest.raises(tl.ValidationError, match=rf"{field}: event #1 .*NUL") as info:
        store.append([good, tl.Statement(**values)], story="s")
    assert info.value.field == field
    assert list(store.events()) == []


def test_a_nul_character_in_the_story_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match=r"story: .*NUL"):
        store.append(
            [tl.Statement(id="a", occurred_at=T, actor="nvidia", topic="h200")], story="s\x00"
        )
    assert store.stories() == []


def test_a_nul_character_in_an_actor_alias_is_refused(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="NUL"):
        store.register_actor("nvidia", aliases=["Nv\x00"])
    assert store.actors() == []


def test_both_backends_answer_the_h200_questions_alike(store: tl.Timeline) -> None:
    store.load(H200)
    assert store.verify() == 21
    assert store.info()["events"] == 21
    assert [s[0] for s in store.stories()] == ["h200-china"]
    stance = store.stance("beijing", "h200-imports", at="2025-12-09")
    assert stance is not None
    assert stance.evidence == ("h200-0005",)
    assert store.get("h200-0005") is not None
    assert store.get("nope") is None
    assert [r.version for r in store.events(story="h200-china")] == list(range(1, 22))


def test_a_reload_appends_nothing_and_a_changed_event_is_refused(store: tl.Timeline) -> None:
    store.load(H200)
    assert store.load(H200).skipped == 21
    first = store.get("h200-0001")
    assert first is not None
    changed = attrs.evolve(first.event, summary="something else")
    with pytest.raises(tl.DuplicateEventError, match="h200-0001"):
        store.append([changed], story="h200-china")


def test_a_stale_expected_version_writes_nothing(store: tl.Timeline) -> None:
    store.append([tl.Statement(id="a", occurred_at=T, actor="nvidia", topic="h200")], story="s")
    with pytest.raises(tl.ConcurrencyError, match="story 's' is at version 1, expected 0"):
        store.append(
            [tl.Statement(id="b", occurred_at=T, actor="nvidia", topic="h200")],
            story="s",
            expected_version=0,
        )
    assert [r.id for r in store.events()] == ["a"]

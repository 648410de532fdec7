"""Contract: every type, and user types, read back as appended."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given, settings

import timeline as tl
from tests.contract._samples import STORY, T
from tests.contract.conftest import Backend
from tests.strategies import ALL_EVENTS, USER_REGISTRY, registry_with_builtins

# --- every type, and user types, round-trip through a real store ----------------------------------


@pytest.mark.parametrize("type_name", sorted(ALL_EVENTS))
def test_every_type_reads_back_as_appended_apart_from_story_and_reported_at(
    backend: Backend, type_name: str
) -> None:
    ids = itertools.count()
    store = backend.timeline(registry=USER_REGISTRY)

    @settings(max_examples=15, deadline=None)
    @given(ALL_EVENTS[type_name])
    def check(event: tl.Event) -> None:
        n = next(ids)
        event = attrs.evolve(event, id=f"{n}:{event.id}")
        story = event.story or STORY
        if isinstance(event, tl.Correction):
            target = attrs.evolve(event.replacement, id=f"{n}:target", story=None)
            store.append([target], story=story)
            event = attrs.evolve(event, corrects=target.id)
        elif isinstance(event, tl.Retraction):
            target = tl.Report(id=f"{n}:target", occurred_at=T)
            store.append([target], story=story)
            event = attrs.evolve(event, retracts=target.id)
        elif isinstance(event, tl.Denial | tl.Confirmation):
            target = tl.Report(id=f"{n}:target", occurred_at=T)
            store.append([target], story=story)
            field = "denies" if isinstance(event, tl.Denial) else "confirms"
            event = attrs.evolve(event, **{field: (target.id,)})
        (appended,) = store.append([event], story=story).appended
        stored = store.get(event.id)
        assert stored is not None
        expected = attrs.evolve(
            event,
            story=story,
            reported_at=event.effective_reported_at or appended.recorded_at,
        )
        assert stored.event == expected
        assert stored.event == appended.event
        assert store.type_name(stored.event) == type_name

    check()


def test_a_user_type_round_trips_through_a_store(backend: Backend) -> None:
    registry = registry_with_builtins()

    @tl.event_type("merger_vote", version=2, registry=registry)
    @attrs.frozen(kw_only=True)
    class MergerVote(tl.Event):
        actor_fields = ("board",)
        board: str
        position: tl.Position
        seats: int = 0

    vote = MergerVote(
        id="v", occurred_at=T, board="acme-board", position=tl.Position.OPPOSES, seats=7
    )
    backend.timeline(registry=registry).append([vote], story=STORY)
    (stored,) = backend.timeline(registry=registry).events(actor="acme-board")
    assert stored.event == attrs.evolve(vote, story=STORY, reported_at=stored.recorded_at)
    assert stored.event.position is tl.Position.OPPOSES  # type: ignore[attr-defined]

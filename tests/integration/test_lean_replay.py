"""A full fold decodes only the fields its projections read, and folds the same facts.

``state(at=...)`` on a read-only store folds the log; with the built-in projections
the store decodes only the fields they declare (``reads``). The state must equal
the one folded from whole records, for random histories with corrections,
retractions, denials, confirmations and vague times.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
import timeline.catchup as catchup
import timeline.facade_queries as queries
from tests.conftest import StepClock, alternating_statements, new_store_location
from tests.integration.test_state_properties import BASE, history
from timeline.bitemporal import read_fields
from timeline.projections.stance import StanceProjection
from timeline.store.base import EventFilter


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    batches=st.one_of(history(claims=True), history(vague=True)),
    days=st.lists(st.integers(0, 30), min_size=1, max_size=3),
)
def test_a_lean_fold_equals_a_fold_of_whole_records(
    batches: list[list[tl.Event]], days: list[int]
) -> None:
    with new_store_location("sqlite") as path:
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for batch in batches:
                store.append(batch, story="s")
        with tl.Timeline.open(path, readonly=True) as reader:
            lean = [reader.state(at=BASE + timedelta(days=d, hours=12)) for d in days]
            lean.append(reader.state(at="2100-01-01", certain=True))
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(queries, "read_fields", lambda projections: None)
                whole = [reader.state(at=BASE + timedelta(days=d, hours=12)) for d in days]
                whole.append(reader.state(at="2100-01-01", certain=True))
        assert lean == whole


def test_the_built_in_projections_declare_what_they_read(tmp_path: Any) -> None:
    with tl.Timeline.open(tmp_path / "s.db") as store:
        fields = read_fields(store._projections)
    assert fields is not None
    assert {"actor", "topic", "position", "buyer", "product", "applies_to"} <= fields
    assert "summary" not in fields


def test_a_projection_that_does_not_say_gets_whole_records() -> None:
    class Louder(StanceProjection):  # inherits reads, may read more: not trusted
        pass

    assert read_fields([StanceProjection()]) is not None
    assert read_fields([Louder()]) is None
    assert read_fields([StanceProjection(), Louder()]) is None


def test_lean_records_hold_the_fields_asked_for_and_the_store_may_ignore_the_hint(
    tmp_path: Any,
) -> None:
    event = tl.Statement(
        id="s1",
        actor="gov",
        topic="t",
        position="supports",
        occurred_at=BASE,
        summary="long text",
        source=tl.Source(publisher="Reuters", id="r1"),
    )
    with tl.Timeline.open(tmp_path / "s.db") as store:
        store.append([event], story="s")
        log = store._store
        [(_, _, whole)] = log.read_events(EventFilter())
        [(_, _, lean)] = log.read_events(EventFilter(fields=frozenset({"actor", "sources"})))
        stored = next(log.read()).event
    assert whole == stored
    assert (whole.id, whole.actor, whole.summary) == ("s1", "gov", "long text")
    for name in ("id", "occurred_at", "actor", "sources"):
        assert getattr(lean, name) == getattr(stored, name)
    assert not hasattr(lean, "summary")  # never decoded


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches=st.one_of(history(claims=True), history(vague=True)))
def test_a_first_unbounded_state_folds_lean_and_equals_whole_records(
    batches: list[list[tl.Event]],
) -> None:
    """``state()`` without bounds on a store whose snapshots cannot answer (read-only
    here) folds the whole log the first time: lean, streamed, the same facts."""
    with new_store_location("sqlite") as path:
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for batch in batches:
                store.append(batch, story="s")
        with tl.Timeline.open(path, readonly=True) as reader:
            lean = reader.state()
            scoped = reader.state(story="s")
        with (
            pytest.MonkeyPatch.context() as patch,
            tl.Timeline.open(path, readonly=True) as reader,
        ):
            patch.setattr(catchup, "read_fields", lambda projections: None)
            whole = reader.state()
            replay = reader.replay()
            list(replay)
    assert lean == whole
    assert scoped == whole
    assert lean == replay.state


def test_a_first_unbounded_state_streams_the_log(tmp_path: Any) -> None:
    """The first catch-up of an unbounded state holds no record of the log in memory:
    the only whole records it reads are the corrections and the events they replace.
    Later catch-ups fold the new events on top, or fold again after a backdated one."""
    path = tmp_path / "s.db"
    statements = alternating_statements(6, BASE)
    fixed = tl.Correction(
        id="c1",
        occurred_at=BASE + timedelta(days=7),
        corrects="s5",
        replacement=attrs.evolve(statements[5], position="opposes"),
    )
    with tl.Timeline.open(path, clock=StepClock()) as store:
        store.append([*statements, fixed], story="s")
        with tl.Timeline.open(path, readonly=True) as reader:
            log: Any = reader._store
            filters: list[EventFilter] = []
            read = log.read

            def watched(where: EventFilter) -> Any:
                filters.append(where)
                return read(where)

            log.read = watched
            first = reader.state()
            assert filters, "the corrections are read whole"
            # only the corrections and retractions, then the events they replace, by id
            assert [(f.types, f.ids) for f in filters] == [
                (["correction", "retraction"], None),
                (None, ["s5"]),
            ]
            stance = first.stance("a1", "t1")
            assert stance is not None
            assert (stance.position, stance.evidence[0]) == ("opposes", "s5")  # as corrected
            store.append(
                [attrs.evolve(statements[0], id="s6", occurred_at=BASE + timedelta(days=9))],
                story="s",
            )
            on_top = reader.state().stance("a1", "t1")
            assert on_top is not None
            assert on_top.evidence[0] == "s6"
            store.append(
                [attrs.evolve(statements[1], id="old", occurred_at=BASE - timedelta(days=3))],
                story="s",
            )
            again = reader.state()
            expected = store.replay()
            list(expected)
            assert again == expected.state
            # folded again, not on top: a "supports" of three days before the story
            # leaves the latest stance as it was
            backdated = again.stance("a1", "t1")
            assert backdated is not None
            assert (backdated.position, backdated.evidence) == ("opposes", on_top.evidence)
            assert on_top.evidence == ("s6", "s5", "s4")

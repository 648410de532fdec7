"""A full fold decodes only the fields its projections read, and folds the same facts.

``state(at=...)`` on a read-only store folds the log; with the built-in projections
the store decodes only the fields they declare (``reads``). The state must equal
the one folded from whole records, for random histories with corrections,
retractions, denials, confirmations and vague times.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
import timeline.facade_queries as queries
from tests.conftest import StepClock, new_store_location
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

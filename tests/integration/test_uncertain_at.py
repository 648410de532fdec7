"""Which facts are uncertain at a time, read from what can make them so.

A state bounded only by ``at`` marks a fact uncertain when an event it rests on only
possibly happened by then: a vague stored event, or an event corrected into a period.
``uncertain_ids_at`` reads just those and the corrections and retractions that decide
their fates; ``uncertain_ids`` reads every correction and the event it corrects. For
random histories with periods, corrections of corrections and retractions of both,
on both backends, the two agree at every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings

import timeline as tl
from tests.conftest import BOTH_BACKENDS, StepClock, new_store_location
from timeline.bitemporal import Bounds, meta_names, uncertain_ids, uncertain_ids_at

from .test_state_properties import BASE, history

BACKENDS = BOTH_BACKENDS

CUTS = [BASE + timedelta(days=d, hours=h) for d in range(-1, 34, 3) for h in (0, 13)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches=history(vague=True))
def test_reading_only_what_can_make_a_fact_uncertain_agrees_with_reading_everything(
    batches: list[list[tl.Event]], store_backend: str
) -> None:
    with new_store_location(store_backend) as path:
        clock = StepClock()
        with tl.Timeline.open(path, clock=clock) as store:
            for batch in batches:
                store.append(batch, story="s")
                clock.advance(hours=1)
                log = store._store
                names = meta_names(log)
                for at in CUTS:
                    near = uncertain_ids_at(log, at, lambda names=names: names)
                    assert near == uncertain_ids(log, Bounds(at=at)), at


@contextmanager
def counted_reads(log: Any) -> Iterator[list[str]]:
    """The ids each ``read_ids`` of ``log`` asks for, in order."""
    asked: list[str] = []
    read_ids = log.read_ids

    def counting(ids: Any, *args: Any) -> Any:
        ids = list(ids)
        asked.extend(ids)
        return read_ids(ids, *args)

    with mock.patch.object(log, "read_ids", counting):
        yield asked


def _statement(n: int, position: str = "supports", **times: Any) -> tl.Statement:
    return tl.Statement(
        id=f"s{n}", actor="a", topic="t", position=position, **{"occurred_at": BASE, **times}
    )


def test_corrections_to_instants_are_not_read(store: tl.Timeline) -> None:
    store.append([_statement(n, occurred_at=BASE + timedelta(days=n)) for n in range(6)], story="s")
    store.append(
        [
            tl.Correction(
                id=f"fix{n}",
                occurred_at=BASE + timedelta(days=9),
                corrects=f"s{n}",
                replacement=_statement(n, occurred_at=BASE + timedelta(days=n, hours=5)),
            )
            for n in range(3)
        ],
        story="s",
    )
    log = store._store
    names_asked: list[int] = []

    def names() -> dict[str, list[str]] | None:
        names_asked.append(1)
        return meta_names(log)

    with counted_reads(log) as asked:
        assert uncertain_ids_at(log, BASE + timedelta(days=4), names) == frozenset()
    assert asked == []  # no correction and no corrected event decoded
    assert names_asked == []  # nor what each correction names
    with counted_reads(log) as asked:
        assert uncertain_ids(log, Bounds(at=BASE + timedelta(days=4))) == frozenset()
    assert sorted(asked) == ["s0", "s1", "s2"]  # the other way reads every corrected event
    assert store.state(at=BASE + timedelta(days=4)).stance("a", "t").certain


def test_a_correction_into_a_period_and_its_retraction_are_read_alone(
    store: tl.Timeline,
) -> None:
    store.append([_statement(n, occurred_at=BASE + timedelta(days=n)) for n in range(6)], story="s")
    period = _statement(
        2, "opposes", occurred_at=BASE + timedelta(days=2), occurred_until=BASE + timedelta(days=8)
    )
    store.append(
        [
            tl.Correction(id="fix0", occurred_at=BASE + timedelta(days=9), corrects="s0",
                          replacement=_statement(0, occurred_at=BASE + timedelta(hours=5))),
            tl.Correction(id="vague", occurred_at=BASE + timedelta(days=9), corrects="s2",
                          replacement=period),
        ],
        story="s",
    )  # fmt: skip
    log = store._store
    at = BASE + timedelta(days=5)
    with counted_reads(log) as asked:
        assert uncertain_ids_at(log, at, lambda: meta_names(log)) == {"s2"}
    assert asked == ["vague", "s2"]  # the correction into a period and what it corrects
    assert store.state(at=at).stance("a", "t").certain
    assert not store.state(at=BASE + timedelta(days=2, hours=1)).stance("a", "t").certain
    # retracted, the correction no longer makes anything uncertain
    store.append(
        [tl.Retraction(id="undo", occurred_at=BASE + timedelta(days=10), retracts="vague")],
        story="s",
    )
    with counted_reads(log) as asked:
        assert uncertain_ids_at(log, at, lambda: meta_names(log)) == frozenset()
    assert sorted(asked) == ["undo", "vague"]
    assert uncertain_ids(log, Bounds(at=at)) == frozenset()


def test_a_store_with_correction_types_of_its_own_reads_them_all() -> None:
    log: Any = mock.Mock(spec=["vague_replacements", "codec"])
    with mock.patch(
        "timeline.bitemporal.meta_type_names", return_value=["correction", "retraction", "erratum"]
    ):
        assert uncertain_ids_at(log, BASE, dict) is None
    log.vague_replacements.assert_not_called()
    # a store that cannot say which corrections carry a period
    bare: Any = mock.Mock(spec=["codec", "read"])
    assert uncertain_ids_at(bare, BASE, dict) is None

"""One ``append`` of a large batch: what a small one promises holds (one transaction,
duplicates inside the batch skipped, corrections and retractions of earlier events of
the batch, a ``via`` naming a source cited later in it, a refused event naming its
index and writing nothing). On PostgreSQL such a batch is written without the
pipeline, by ``COPY``: its ids, sent in one message inside the pipeline, hung the
connection (100,000 ids of 10 characters; 500 of 4,000)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS
BASE = datetime(2025, 3, 1, tzinfo=UTC)


def statement(i: int, *, width: int = 0, source: tl.Source | None = None) -> tl.Statement:
    return tl.Statement(
        id=f"e{i:05d}" + "x" * width,
        occurred_at=BASE + timedelta(minutes=i),
        actor=f"actor-{i % 7}",
        topic="exports",
        position="supports" if i % 2 else "opposes",
        summary=f"statement {i}",
        source=source or tl.Source(publisher="Reuters"),
    )


def test_two_megabytes_of_ids_in_one_batch_are_appended(store: tl.Timeline) -> None:
    batch = [statement(i, width=4000) for i in range(500)]
    result = store.append(batch, story="s")
    assert [r.position for r in result.appended] == list(range(1, 501))
    assert [r.event.id for r in result.appended] == [e.id for e in batch]
    assert store.verify() == 500
    assert [r.event.id for r in store.events()] == [e.id for e in batch]


def test_a_large_batch_keeps_every_promise_of_a_small_one(store: tl.Timeline) -> None:
    batch: list[tl.Event] = [statement(i) for i in range(1500)]
    # relays a source the batch cites only later
    batch[1400] = statement(1400, source=tl.Source(publisher="Blog", id="blog-1", via="wire-1"))
    batch.append(statement(1501, source=tl.Source(publisher="Wire", id="wire-1")))
    batch.append(statement(7))  # the same event again, inside the batch: skipped
    batch.append(tl.Retraction(id="r1", occurred_at=BASE, retracts="e00003"))
    store.append([statement(99_999)], story="s")  # the store holds one event before
    result = store.append(batch, story="s", expected_version=1)
    assert len(result.appended) == 1502
    assert result.skipped == ("e00007",)
    assert [r.position for r in result.appended] == list(range(2, 1504))
    assert [r.version for r in result.appended] == list(range(2, 1504))
    relayed = store.get("e01400")
    assert relayed is not None
    assert relayed.event.sources[0].origin == "Wire"
    assert store.verify() == 1503
    stances = {(s.actor, s.topic): s.position for s in store.state().stances()}
    # each actor's latest statement in time: 1501 for actor-3 (1501 % 7), 99,999 for
    # actor-4, 1497 for actor-6
    assert stances[("actor-3", "exports")] == "supports"
    assert stances[("actor-4", "exports")] == "supports"
    assert stances[("actor-6", "exports")] == "supports"
    assert stances[("actor-0", "exports")] == "opposes"  # 1498


def test_a_refused_event_in_a_large_batch_writes_nothing(store: tl.Timeline) -> None:
    batch: list[tl.Event] = [statement(i) for i in range(1500)]
    batch[1200] = tl.Retraction(id="r1", occurred_at=BASE, retracts="no-such-event")
    with pytest.raises(tl.ValidationError) as caught:
        store.append(batch, story="s")
    assert caught.value.batch_index == 1200  # type: ignore[attr-defined]
    assert store.store.head() == 0
    # the store still takes appends, small and large
    assert len(store.append([statement(1)], story="s").appended) == 1
    assert len(store.append([statement(i) for i in range(2, 1500)], story="s").appended) == 1498
    assert store.verify() == 1499


def test_a_large_batch_checks_the_expected_version(store: tl.Timeline) -> None:
    store.append([statement(1)], story="s")
    with pytest.raises(tl.ConcurrencyError):
        store.append([statement(i) for i in range(2, 1500)], story="s", expected_version=0)
    assert store.store.head() == 1

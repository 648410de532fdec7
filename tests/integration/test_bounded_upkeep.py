"""The writer's bounded upkeep: a change it cannot refold fact by fact is refolded by
the writer from its earliest change when that is at most the writer's limit of events
(``count_occurred_from``), and left for the next reader otherwise. On both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def statement(i: int, day: int | None = None) -> tl.Statement:
    return tl.Statement(
        id=f"e{i}",
        occurred_at=BASE + timedelta(days=i if day is None else day),
        actor="a",
        topic="t",
        position=["supports", "opposes"][i % 2],
    )


def corrected_in_its_batch(i: int, day: int) -> list[tl.Event]:
    """A backdated statement and its correction in one batch: not refolded fact by
    fact, so the upkeep refolds from the statement's time or leaves it."""
    late = statement(i, day=day)
    return [
        late,
        tl.Correction(
            id=f"c{i}",
            occurred_at=BASE + timedelta(days=60),
            corrects=late.id,
            replacement=attrs.evolve(late, position="neutral"),
        ),
    ]


def test_the_writer_refolds_within_its_limit_and_leaves_the_rest(
    store: tl.Timeline, store_backend: str
) -> None:
    log: Any = store._store
    if store_backend == "postgresql":
        log.upkeep_every = 1  # (500 by default: a round trip per upkeep)
    store.append([statement(i) for i in range(30)], story="s")
    assert log.count_occurred_from(None) == 30
    assert log.count_occurred_from(BASE + timedelta(days=28)) == 2
    assert log.count_occurred_from(BASE + timedelta(days=28, seconds=1)) == 1
    store._upkeep_limit = 5  # type: ignore[attr-defined]
    snapshots: Any = store._snapshot_store

    # from day 28: e28, e29, the statement and its correction (day 60) are 4 events
    store.append(corrected_in_its_batch(100, day=28), story="s")
    cp = snapshots.checkpoint()
    assert (cp.position, cp.complete) == (log.head(), True)
    # from day 2: 28 stored events and 2 new ones, more than 5: left for the reader
    store.append(corrected_in_its_batch(101, day=2), story="s")
    behind = snapshots.checkpoint()
    assert behind.position == log.head() - 2
    replay = store.replay()
    list(replay)
    assert store.state() == replay.state
    caught_up = snapshots.checkpoint()
    assert (caught_up.position, caught_up.complete) == (log.head(), True)
    stance = store.stance("a", "t", at=BASE + timedelta(days=2, hours=1))
    assert stance is not None
    assert stance.position == "neutral"

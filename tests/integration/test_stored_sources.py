"""A ``via`` that names a source stored earlier finds the most recent source with that
id, searching the log backwards a window at a time: a recent one is found from the
recent log alone (at a million events a search of the whole log took 3.3-3.6 s)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import BOTH_BACKENDS
from timeline.store._batch import log_windows

BACKENDS = BOTH_BACKENDS
BASE = datetime(2025, 3, 1, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=2_000_000))
def test_the_windows_cover_the_log_once_from_the_head_back(head: int) -> None:
    windows = list(log_windows(head))
    covered = [p for low, high in windows for p in (high, low)]
    assert covered == sorted(covered, reverse=True)  # from the head back, no overlap
    assert all(low < high for low, high in windows)
    if head:
        assert windows[0][1] == head
        assert windows[-1][0] == 0
        assert all(a[0] == b[1] for a, b in itertools.pairwise(windows))
        assert windows[0][0] == max(0, head - 1024)
        assert len(windows) <= 3
    else:
        assert windows == []


def statement(i: int, source: tl.Source | None = None) -> tl.Statement:
    return tl.Statement(
        id=f"e{i}",
        occurred_at=BASE + timedelta(minutes=i),
        actor="gov",
        topic="exports",
        position="supports",
        summary=f"statement {i}",
        source=source or tl.Source(publisher="Reuters"),
    )


def test_the_most_recent_source_is_found_near_the_head_and_far_from_it(
    store: tl.Timeline,
) -> None:
    batch = [statement(i) for i in range(1, 1201)]
    batch[4] = statement(5, tl.Source(publisher="Old Wire", id="wire"))
    batch[19] = statement(20, tl.Source(publisher="Wire", id="wire"))
    batch[29] = statement(30, tl.Source(publisher="Far Desk", id="desk"))
    batch[1149] = statement(1150, tl.Source(publisher="New Wire", id="wire"))
    store.append(batch, story="s")
    log = store.store
    found = log.stored_source("wire")  # type: ignore[attr-defined]
    assert found is not None
    assert found.publisher == "New Wire"  # in the last 1,024 positions
    found = log.stored_source("desk")  # type: ignore[attr-defined]
    assert found is not None
    assert found.publisher == "Far Desk"  # only in the window before them
    assert log.stored_source("nobody") is None  # type: ignore[attr-defined]
    # a relay appended now resolves through the store: its origin is the newest "wire"
    store.append([statement(1201, tl.Source(publisher="Blog", id="blog", via="wire"))], story="s")
    relayed = store.get("e1201")
    assert relayed is not None
    assert relayed.event.source is not None
    assert relayed.event.source.origin == "New Wire"

"""Shared fixtures: real store files, a controllable clock, the H200 fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import timeline as tl
from timeline.testing import StepClock

__all__ = ["FIXTURES", "H200", "INVALID", "ROOT", "StepClock"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
H200 = FIXTURES / "h200-china.json"
INVALID = FIXTURES / "invalid"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a store file that does not exist yet."""
    return tmp_path / "news.db"


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def store(db_path: Path, clock: StepClock) -> Iterator[tl.Timeline]:
    """An empty store in a real file, with a hand-driven clock."""
    with tl.Timeline.open(db_path, clock=clock) as s:
        yield s


@pytest.fixture
def h200(store: tl.Timeline) -> tl.Timeline:
    """A store holding the H200 story."""
    store.load(H200)
    return store

"""The fictional Valsorin recall story, a store loaded with it, and fixture variants."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import ROOT

STORY = ROOT / "tests" / "data" / "valsorin-recall.json"
PRODUCT = "Valsorin"


def story_data() -> dict[str, Any]:
    """A fresh copy of the fixture's JSON, to be altered by a test."""
    data: dict[str, Any] = json.loads(STORY.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


@pytest.fixture
def write_fixture(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    def write(data: dict[str, Any], name: str = "variant.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def recall(store_location: str) -> Iterator[tl.Timeline]:
    """A store holding the whole Valsorin story (a file, or a PostgreSQL schema)."""
    store = tl.Timeline.open(store_location)
    report = store.load(STORY)
    assert (report.story, report.appended, report.skipped) == ("valsorin-recall", 15, 0)
    yield store
    store.close()


def intent(state: tl.State, buyer: str) -> tl.OrderIntent:
    found = state.order_intent(buyer, "lumeria", PRODUCT)
    assert found is not None, buyer
    return found


def stance(state: tl.State, actor: str, topic: str) -> tl.Stance:
    found = state.stance(actor, topic)
    assert found is not None, (actor, topic)
    return found

"""``timeline replay`` and ``timeline history`` write their steps as they are folded:
JSON exactly as one list would be written, tables of at most ``STEPS_PER_TABLE`` steps
each. A replay of a million steps held every step and its text at once (24 GB)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.cli.conftest import run
from timeline.output import tables as render
from timeline.output.corrections import amendments

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(JSON, max_size=5))
def test_the_pieces_of_a_json_list_are_that_list_as_one_text(items: list[Any]) -> None:
    assert "".join(render.to_json_list(iter(items))) == render.to_json(items)


def test_the_pieces_come_one_item_at_a_time() -> None:
    taken: list[int] = []

    def items() -> Any:
        for i in range(3):
            taken.append(i)
            yield {"step": i, "text": "two\nlines"}

    pieces = render.to_json_list(items())
    assert next(pieces) == '[\n  {\n    "step": 0,\n    "text": "two\\nlines"\n  }'
    assert taken == [0]  # the second item is not asked for yet
    assert list(pieces)[-1] == "\n]"


def test_replay_json_is_the_list_of_every_step(h200_db: str) -> None:
    result = run("replay", h200_db, "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert len(steps) == 21
    with tl.Timeline.open(h200_db) as store:
        replay = store.replay()
        codec = store.store.codec
        expected = [render.step_dict(s, "occurred", codec, amendments(store)) for s in replay]
    assert result.stdout == render.to_json(expected) + "\n"


def test_an_empty_replay_is_an_empty_list_and_no_table(h200_db: str) -> None:
    assert run("replay", h200_db, "--until", "1990-01-01", "--json").stdout == "[]\n"
    assert run("replay", h200_db, "--until", "1990-01-01").stdout == "(none)\n"


def test_a_long_replay_prints_a_table_per_page_of_steps(
    h200_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run("replay", h200_db).stdout
    monkeypatch.setattr(render, "STEPS_PER_TABLE", 8)
    paged = run("replay", h200_db)
    assert paged.exit_code == 0, paged.output
    headers = [line for line in paged.stdout.splitlines() if line.startswith("occurred ")]
    assert len(headers) == 3  # 8 + 8 + 5 steps, each table with its header
    assert len([line for line in whole.splitlines() if line.startswith("occurred ")]) == 1
    # the same steps in the same order
    assert _ids(paged.stdout) == _ids(whole)
    assert len(set(_ids(whole))) == 21


def _ids(text: str) -> list[str]:
    return re.findall(r"\bh200-\d{4}\b", text)


def test_history_json_and_tables_stream_alike(
    h200_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = json.loads(run("history", h200_db, "bytedance", "--json").stdout)
    assert len(steps) > 2
    monkeypatch.setattr(render, "STEPS_PER_TABLE", 2)
    out = run("history", h200_db, "bytedance").stdout
    headers = [line for line in out.splitlines() if line.startswith("occurred ")]
    assert len(headers) == (len(steps) + 1) // 2
    assert list(dict.fromkeys(_ids(out))) == [s["event"]["id"] for s in steps]

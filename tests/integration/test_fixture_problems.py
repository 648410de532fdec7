"""Fixture validation reports every problem of a file at once, bounded."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

import timeline as tl


def _fixture(path: Path, positions: list[str]) -> Path:
    events = [
        {
            "id": f"e{i}",
            "type": "statement",
            "occurred_at": "2025-12-08",
            "source": "wire",
            "actor": "gov",
            "topic": "chips",
            "position": position,
            "summary": "Said so.",
        }
        for i, position in enumerate(positions)
    ]
    data = {
        "format": "timeline-fixture/1",
        "story": "s",
        "actors": {"gov": {"name": "Government"}},
        "sources": {"wire": {"publisher": "Wire", "published_at": "2025-12-10"}},
        "events": events,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_every_bad_event_is_named_and_nothing_is_written(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _fixture(tmp_path / "f.json", ["supports", "yes", "neutral", "no"])
    with pytest.raises(tl.FixtureError) as info:
        store.load(path)
    error = info.value
    assert [(p.index, p.event_id, p.field) for p in error.problems] == [
        (1, "e1", "position"),
        (3, "e3", "position"),
    ]
    assert (error.index, error.field) == (1, "position")  # the first problem
    assert str(error).startswith(f"{path}: 2 problems:\n- event #1 ('e1'): field position:")
    assert list(store.events()) == []


def test_one_problem_reads_as_before(store: tl.Timeline, tmp_path: Path) -> None:
    path = _fixture(tmp_path / "f.json", ["supports", "yes"])
    with pytest.raises(tl.FixtureError, match=r"f.json: event #1 \('e1'\): field position"):
        store.load(path)


def test_the_report_stops_at_fifty_problems(store: tl.Timeline, tmp_path: Path) -> None:
    path = _fixture(tmp_path / "f.json", ["maybe"] * 80)
    with pytest.raises(tl.FixtureError) as info:
        store.load(path)
    assert len(info.value.problems) == 50
    assert str(info.value).startswith(f"{path}: 50 problems (stopped at the first 50):")


def _micron(path: Path, product: str, applies_to: list[str]) -> Path:
    data = {
        "format": "timeline-fixture/1",
        "story": "micron",
        "actors": {
            "micron": {"name": "Micron Technology", "kind": "company"},
            "inspur": {"name": "Inspur", "kind": "company"},
            "cac": {"name": "Cyberspace Administration of China", "kind": "regulator"},
        },
        "sources": {"wire": {"publisher": "Wire", "published_at": "2023-05-22"}},
        "events": [
            {"id": "m1", "type": "inquiry", "occurred_at": "2023-05-01", "source": "wire",
             "inquirers": ["inspur"], "supplier": "micron", "product": "memory chips",
             "summary": "Inspur asks Micron for memory chips."},
            {"id": "m2", "type": "policy_change", "occurred_at": "2023-05-21", "source": "wire",
             "authority": "cac", "topic": "micron-in-china", "measure": "ban",
             "product": product, "applies_to": applies_to,
             "summary": "Operators of critical infrastructure must stop buying Micron."},
        ],
    }  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_ban_on_an_unknown_product_loads_with_a_warning(
    store: tl.Timeline, tmp_path: Path
) -> None:
    report = store.load(_micron(tmp_path / "m.json", "Micron products", ["inspur"]))
    assert report.appended == 2
    assert report.warnings == (
        "m2: the ban blocks no one: product 'Micron products' is no product or supplier "
        "of any inquiry or order",
    )
    intent = store.state().order_intent("inspur", "micron", "memory chips")
    assert intent is not None
    assert intent.blocked_by == ()  # what the warning said


def test_a_ban_applying_only_to_descriptions_warns_with_a_suggestion(
    store: tl.Timeline, tmp_path: Path
) -> None:
    report = store.load(
        _micron(tmp_path / "m.json", "micron", ["Inspr", "critical infrastructure"])
    )
    assert report.warnings == (
        "m2: the ban blocks no one: applies_to names no known actor or kind, only "
        "descriptions: 'Inspr' (did you mean 'inspur'?), 'critical infrastructure'",
    )


def test_a_ban_that_blocks_someone_loads_without_a_warning(
    store: tl.Timeline, tmp_path: Path
) -> None:
    report = store.load(_micron(tmp_path / "m.json", "Memory chips", ["inspur", "operators"]))
    assert report.warnings == ()
    intent = store.state().order_intent("inspur", "micron", "memory chips")
    assert intent is not None
    assert intent.blocked_by == ("m2",)


def test_a_ban_on_a_product_the_file_trades_is_checked_without_reading_the_store(
    store: tl.Timeline, tmp_path: Path
) -> None:
    """The products and suppliers of the file's own inquiries and orders answer the
    check; the stored trading events are read only for a product the file does not
    trade, which an event stored before may."""
    with mock.patch.object(store, "events", wraps=store.events) as read:
        report = store.load(_micron(tmp_path / "m.json", "Memory chips", ["inspur"]))
    assert report.warnings == ()
    assert read.call_count == 0
    # traded only by an inquiry stored before this load: read from the store, no warning
    second = _micron(tmp_path / "n.json", "micron", ["inspur"])
    data = json.loads(second.read_text(encoding="utf-8"))
    data["events"] = [dict(data["events"][1], id="n2")]
    second.write_text(json.dumps(data), encoding="utf-8")
    with mock.patch.object(store, "events", wraps=store.events) as read:
        report = store.load(second)
    assert (report.appended, report.warnings) == (1, ())
    assert read.call_count == 1
    # traded nowhere: read from the store, and the warning says so
    data["events"] = [dict(data["events"][0], id="n3", product="Micron products")]
    second.write_text(json.dumps(data), encoding="utf-8")
    with mock.patch.object(store, "events", wraps=store.events) as read:
        report = store.load(second)
    assert report.warnings == (
        "n3: the ban blocks no one: product 'Micron products' is no product or supplier "
        "of any inquiry or order",
    )
    assert read.call_count == 1

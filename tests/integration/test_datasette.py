"""Datasette on a store, with the metadata `timeline datasette-metadata` writes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from datasette import app as datasette_app  # the optional extra `datasette`, part of dev

import timeline as tl

BACKENDS = ("sqlite",)  # Datasette serves SQLite files


def _get(metadata: dict[str, Any], db: Path, *paths: str) -> list[Any]:
    async def fetch() -> list[Any]:
        ds = datasette_app.Datasette([str(db)], metadata=metadata)
        await ds.invoke_startup()
        out = []
        for path in paths:
            response = await ds.client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            out.append(response.json())
        return out

    # a thread of its own: Playwright's sync API may hold this thread's event loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, fetch()).result()


@pytest.fixture
def h200_file(h200: tl.Timeline) -> Path:
    return h200.path


def test_search_finds_only_the_matching_events(h200: tl.Timeline, h200_file: Path) -> None:
    metadata = h200.datasette_metadata()
    name = h200_file.stem
    found, readable, tencent = _get(
        metadata,
        h200_file,
        f"/{name}/events.json?_search=H200&_shape=array&_size=max",
        f"/{name}/events_readable.json?_search=grey+market&_shape=array",
        f"/{name}/events.json?_search=Tencent&_shape=array",
    )
    expected = {hit.record.event.id for hit in h200.search("H200", limit=None)}
    assert {row["id"] for row in found} == expected
    assert expected  # every event cites a headline about H200: "Tencent" below is narrower
    grey = [h.record.event.id for h in h200.search("grey market")]
    assert [row["id"] for row in readable] == grey
    assert [row["id"] for row in tencent] == ["h200-0005"]  # not every row, as without it


def test_internal_tables_are_hidden(h200: tl.Timeline, h200_file: Path) -> None:
    (database,) = _get(h200.datasette_metadata(), h200_file, f"/{h200_file.stem}.json")
    shown = {t["name"] for t in database["tables"] if not t["hidden"]}
    assert shown == {"actors", "event_actors", "events", "stories"}


def test_canned_queries_answer(h200: tl.Timeline, h200_file: Path) -> None:
    name = h200_file.stem
    history, day, blocked = _get(
        h200.datasette_metadata(),
        h200_file,
        f"/{name}/fact_history.json?actor=Trump+administration&topic=&_shape=array",
        f"/{name}/reported_on_day.json?day=2025-12-09&_shape=array",
        f"/{name}/blocked_by.json?_shape=array",
    )
    assert [r["id"] for r in history] == [s.event.id for s in h200.history("us-government")]
    assert [r["id"] for r in day] == [
        r.event.id for r in h200.events(reported_since="2025-12-09", reported_until="2025-12-09")
    ]
    # h200-0001 (a U.S. restriction) was lifted by the U.S. permit of 8 Dec: not listed
    assert {(r["restriction"], r["applies_to"]) for r in blocked} == {
        ("h200-0003", "government-funded data centres"),
        ("h200-0003", "Chinese tech companies"),
    }

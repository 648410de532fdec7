"""Records the contract tests append."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import timeline as tl

STORY = "trade"
T = datetime(2025, 12, 8, tzinfo=UTC)
US = timedelta(microseconds=1)


def _statement(event_id: str, **overrides: Any) -> tl.Statement:
    fields: dict[str, Any] = {"id": event_id, "occurred_at": T, "actor": "nvidia", "topic": "h200"}
    return tl.Statement(**{**fields, **overrides})


def _statements(prefix: str, count: int) -> list[tl.Event]:
    return [_statement(f"{prefix}-{i}") for i in range(count)]


def ids_of(events: Iterator[tl.RecordedEvent]) -> list[str]:
    return [e.id for e in events]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_news(store: tl.Timeline) -> tl.Timeline:
    """Five events in two stories, with known occurred and reported times."""
    store.register_actor("gov", name="Government", aliases=["The State"])
    wire = tl.Source(publisher="Wire", published_at=_at("2025-12-02T00:00:00+00:00"))
    store.append(
        [
            tl.PolicyChange(
                id="p1",
                occurred_at=_at("2025-12-01T00:00:00+00:00"),
                source=wire,
                authority="gov",
                topic="exports",
                measure="permit",
            ),
            tl.Inquiry(
                id="i1",
                occurred_at=_at("2025-12-08T23:59:59+00:00"),
                reported_at=_at("2025-12-10T00:00:00+00:00"),
                inquirers=["acme"],
                supplier="chipco",
                product="X1",
            ),
            _statement(
                "st1",
                actor="chipco",
                occurred_at=_at("2025-12-09T12:00:00+00:00"),
                reported_at=_at("2025-12-09T13:00:00+00:00"),
            ),
        ],
        story="s1",
    )
    store.append(
        [
            tl.Announcement(
                id="a1",
                occurred_at=_at("2025-12-10T00:00:00+00:00"),
                reported_at=_at("2025-12-10T00:00:00+00:00"),
                actor="The State",
                topic="exports",
                position="supports",
            ),
            _statement(
                "st2",
                actor="acme",
                occurred_at=_at("2025-12-09T00:00:00+00:00"),
                reported_at=_at("2025-12-11T00:00:00+00:00"),
            ),
        ],
        story="s2",
    )
    return store

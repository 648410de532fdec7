"""Snapshots store each fact's sources as references to interned source rows; a
reader whose cache predates another writer's new sources reads them on demand."""

from __future__ import annotations

from datetime import UTC, datetime

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL
DAY = datetime(2025, 3, 1, tzinfo=UTC)


def _announcement(event_id: str, topic: str, publisher: str) -> tl.Announcement:
    return tl.Announcement(
        id=event_id,
        occurred_at=DAY,
        actor="nvidia",
        topic=topic,
        position="supports",
        source=tl.Source(publisher=publisher, id=publisher.casefold()),
    )


def test_a_reader_finds_sources_another_writer_interned_after_its_last_read(
    store_location: str,
) -> None:
    with tl.Timeline.open(store_location) as writer, tl.Timeline.open(store_location) as reader:
        writer.append([_announcement("a", "exports", "Reuters")], story="s")
        before = reader.stance("nvidia", "exports")  # the reader's source cache: Reuters
        assert before is not None
        assert [s.publisher for s in before.sources] == ["Reuters"]
        writer.append([_announcement("b", "imports", "Caixin")], story="s")
        # the writer kept the snapshots current; the reader's cache lacks Caixin
        found = reader.stance("nvidia", "imports")
        assert found is not None
        assert [s.publisher for s in found.sources] == ["Caixin"]
        assert found == writer.stance("nvidia", "imports")


def test_a_reader_state_from_snapshots_includes_sources_interned_since(
    store_location: str,
) -> None:
    with tl.Timeline.open(store_location) as writer, tl.Timeline.open(store_location) as reader:
        writer.append([_announcement("a", "exports", "Reuters")], story="s")
        assert reader.state(at=DAY).stance("nvidia", "exports") is not None
        writer.append([_announcement("b", "imports", "Caixin")], story="s")
        state = reader.state(at=DAY)
        imports = state.stance("nvidia", "imports")
        assert imports is not None
        assert [s.publisher for s in imports.sources] == ["Caixin"]
        assert state == writer.state(at=DAY)

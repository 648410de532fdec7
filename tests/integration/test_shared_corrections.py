"""A query reads the log's corrections and retractions once (the uncertain facts and
the fold share them) and keeps them only while the log is unchanged: a correction
appended since, by this store or another connection, is always seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import timeline as tl
from timeline import bitemporal
from timeline.bitemporal import Bounds, corrected_originals

BASE = datetime(2025, 3, 1, tzinfo=UTC)
AT = "2025-06-01"


def statement(event_id: str, position: tl.Position, day: int) -> tl.Statement:
    return tl.Statement(
        id=event_id,
        occurred_at=BASE + timedelta(days=day),
        actor="beijing",
        topic="h200",
        position=position,
        summary=f"statement {event_id}",
    )


def correction(event_id: str, target: str, position: tl.Position, day: int) -> tl.Correction:
    return tl.Correction(
        id=event_id,
        occurred_at=BASE + timedelta(days=day),
        corrects=target,
        summary="misreported",
        replacement=statement(target, position, 1),
    )


def stance_at(path: Path) -> tl.Position:
    # read-only: no snapshots, the state is a fold of the log
    with tl.Timeline.open(path, readonly=True) as store:
        found = store.state(at=AT).stance("beijing", "h200")
        assert found is not None
        return found.position


def test_a_correction_appended_since_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as writer:
        writer.register_actor("beijing", name="China's government")
        writer.append([statement("s1", tl.Position.SUPPORTS, 1)], story="h200")
        writer.append(
            [correction("c1", "s1", tl.Position.OPPOSES, 2)],
            story="h200",
        )
    with tl.Timeline.open(path, readonly=True) as reader:
        assert reader.state(at=AT).stance("beijing", "h200").position is tl.Position.OPPOSES
        # another connection corrects it again: the same reader sees it next time
        with tl.Timeline.open(path) as writer:
            writer.append([correction("c2", "s1", tl.Position.NEUTRAL, 3)], story="h200")
        assert reader.state(at=AT).stance("beijing", "h200").position is tl.Position.NEUTRAL
        # and a retraction of that correction
        with tl.Timeline.open(path) as writer:
            writer.append(
                [
                    tl.Retraction(
                        id="x1", occurred_at=BASE + timedelta(days=4), retracts="c2", reason="no"
                    )
                ],
                story="h200",
            )
        assert reader.state(at=AT).stance("beijing", "h200").position is tl.Position.OPPOSES
    assert stance_at(path) is tl.Position.OPPOSES


def test_the_kept_answer_is_read_once_and_dropped_after_a_write(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with tl.Timeline.open(path) as store:
        store.register_actor("beijing", name="China's government")
        store.append([statement("s1", tl.Position.SUPPORTS, 1)], story="h200")
        store.append([correction("c1", "s1", tl.Position.OPPOSES, 2)], story="h200")
        log = store._store
        first = corrected_originals(log, Bounds())
        second = corrected_originals(log, Bounds())
        assert [c[0] for c in first] == ["s1"]
        assert bitemporal._SHARED[log][1][2][0].id == "s1"
        kept = bitemporal._SHARED[log]
        assert second == first
        assert bitemporal._SHARED[log] is kept  # not read again
        store.append([statement("s2", tl.Position.NEUTRAL, 5)], story="h200")
        corrected_originals(log, Bounds())
        assert bitemporal._SHARED[log] is not kept  # the log changed: read again
        # other knowledge bounds are another answer
        early = corrected_originals(log, Bounds(recorded_by=BASE))
        assert early == []

"""Readers never write and never fail because of writers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from timeline.store import integrity

DEC_1 = datetime(2025, 12, 1, tzinfo=UTC)


def test_verify_during_a_concurrent_append_reads_one_snapshot_and_passes(
    h200: tl.Timeline, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = tl.Timeline.open(db_path)
    hashed = integrity.row_hash
    appended: list[int] = []

    def hash_then_let_a_writer_commit(prev_hash: str, row: Sequence[Any]) -> str:
        # while verify walks the rows, another connection appends and commits
        if not appended:
            appended.append(1)
            for i in range(3):
                writer.append([tl.Report(id=f"w{i}", occurred_at=DEC_1)], story="w")
        return hashed(prev_hash, row)

    monkeypatch.setattr(integrity, "row_hash", hash_then_let_a_writer_commit)
    try:
        assert h200.verify() == 21  # the log as it was when verify began
    finally:
        writer.close()
    monkeypatch.undo()
    assert h200.verify() == 24

"""Each fact class says how it reads: its label, its subject and its table columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import attrs

import timeline as tl
from timeline.output.labels import change_label, fact_label, plain
from timeline.output.tables import facts_table, stances_table
from timeline.projections.base import Column

WHEN = datetime(2025, 12, 8, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class Vote:
    """A projection's own fact, declaring its presentation as the built-ins do."""

    board: str
    approve: bool
    disputed_by: tuple[str, ...] = ()
    confirmed_by: tuple[str, ...] = ()

    columns: ClassVar[tuple[Column, ...]] = (
        Column("board", "board"),
        Column("outcome", "label", with_claims=True),
    )

    @property
    def label(self) -> str:
        return "approved" if self.approve else "rejected"

    @property
    def subject(self) -> str:
        return f"vote {self.board}"


def test_a_facts_own_label_and_subject_are_used() -> None:
    vote = Vote(board="acme", approve=True, disputed_by=("d1",))
    assert fact_label(vote, {"d1": "Lumen, 4 Mar 2026"}) == (
        "approved — disputed by Lumen, 4 Mar 2026"
    )
    change = tl.Change(projection="votes", key="acme", before=None, after=vote)
    assert change_label(change) == "vote acme"


def test_a_facts_own_columns_make_its_table() -> None:
    table = facts_table(Vote, [Vote(board="acme", approve=False, confirmed_by=("c1",))])
    header, _, row = table.splitlines()
    assert header.split() == ["board", "outcome"]
    assert row.split() == ["acme", "rejected", "—", "confirmed", "by", "c1"]


def test_the_built_in_stance_table_comes_from_its_columns() -> None:
    stance = tl.Stance(
        actor="beijing",
        topic="h200-imports",
        position=tl.Position.OPPOSES,
        since=WHEN,
        since_precision=tl.Precision.DAY,
        evidence=("e1", "e2"),
        conditions=("quota",),
    )
    header, _, row = stances_table([stance]).splitlines()
    assert header.split() == [c.header for c in tl.Stance.columns]
    assert row.split()[:4] == ["beijing", "h200-imports", "opposes", "quota"]
    assert "e1, e2" in row
    assert fact_label(stance) == "opposes"


def test_plain_turns_values_into_json_ready_data() -> None:
    report = tl.Report(id="r", occurred_at=WHEN, summary="s")
    recorded = tl.RecordedEvent(position=1, story="s", version=1, recorded_at=WHEN, event=report)
    assert plain(WHEN.date()) == "2025-12-08"
    assert plain(Path("a") / "b") == "a/b"
    assert plain(report)["id"] == "r"
    assert plain(recorded)["position"] == 1
    assert plain(Vote(board="acme", approve=True)) == {
        "board": "acme",
        "approve": True,
        "disputed_by": [],
        "confirmed_by": [],
    }

"""Write ``tests/data/store-schema-0003.db``: the H200 story as the 0003 schema stored it.

A checked-in sample of what ``timeline`` wrote before events gained several
sources, ``basis`` and ``about`` (event schema version 1, store schema ending at
``0003_snapshots``, snapshots built by one ``state()``). Tests open a copy to prove
that such stores keep opening, are migrated, upcast their events and still verify.
The clock is fixed (2026-01-01T00:00:00Z plus 1 µs per event).

Regenerate it only with a ``timeline`` whose schema ends at 0003 and whose event
types are at schema version 1 (the commit before "several sources per event")::

    git worktree add /tmp/timeline-0003 <that commit>
    PYTHONPATH=/tmp/timeline-0003/src python tests/data/make_store_0003.py
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import timeline as tl

HERE = Path(__file__).resolve().parent
TARGET = HERE / "store-schema-0003.db"
FIXTURE = HERE.parent.parent / "fixtures" / "h200-china.json"
SCHEMA = ["0001_event_log", "0002_search", "0003_snapshots"]
RECORDED = datetime(2026, 1, 1, tzinfo=UTC)


class FixedClock:
    """Always the same instant; the store spaces ``recorded_at`` by 1 µs."""

    def now(self) -> datetime:
        return RECORDED


def main() -> None:
    draft = TARGET.with_name(f"{TARGET.stem}.draft.db")
    for path in (draft, Path(f"{draft}-wal"), Path(f"{draft}-shm")):
        path.unlink(missing_ok=True)
    with tl.Timeline.open(draft, clock=FixedClock()) as store:
        schema = store.store.schema_names()
        if schema != SCHEMA:
            store.close()
            draft.unlink()
            raise SystemExit(f"needs a timeline whose schema is {SCHEMA}; this one has {schema}")
        report = store.load(FIXTURE)
        store.state()  # builds the snapshots too
        store.verify()
    # one self-contained, compact file: no -wal beside it
    conn = sqlite3.connect(draft, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()
    draft.replace(TARGET)
    print(f"{TARGET.name}: {report.appended} events, schema {', '.join(SCHEMA)}")


if __name__ == "__main__":
    main()

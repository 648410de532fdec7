"""Write ``tests/data/store-schema-0001.db``: the H200 story in a first-schema store.

The file is a checked-in sample of what ``timeline`` wrote while its schema ended at
``0001_event_log``. Tests open a copy of it to prove that older stores keep opening,
are migrated to the current schema and still verify. The clock is fixed, so the
events carry known ``recorded_at`` values (2026-01-01T00:00:00Z plus 1 µs each).

Regenerate it only with a ``timeline`` whose schema ends at 0001, such as commit
0064a74, which wrote the checked-in file::

    git worktree add /tmp/timeline-v1 0064a74
    PYTHONPATH=/tmp/timeline-v1/src python tests/data/make_store_v1.py

The script refuses to run against a newer schema, which would write a different file.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import timeline as tl

HERE = Path(__file__).resolve().parent
TARGET = HERE / "store-schema-0001.db"
FIXTURE = HERE.parent.parent / "fixtures" / "h200-china.json"
SCHEMA = ["0001_event_log"]
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

"""Could an order intent's ``blocked_by`` be left out of its stored versions?

The snapshots store every version of every intent with its whole ``blocked_by`` list, so
a ban learnt late changes every later version of every intent it reaches (the reason the
writer's upkeep falls behind on the bench story: docs/performance.md, round twelve).
This checks, on a store you already have, that the list is a function of what a state
holds anyway: for every intent of full states at several times, ``blocked_by`` equals
the sorted ids of the restrictions in force in that state whose product is the intent's
product or supplier and whose ``applies_to`` names its buyer or the buyer's kind; and it
times that derivation (an index of the restrictions in force, built once per state)
beside the state read itself.

    python bench/derived_blocking.py STORE.db [--at 2018-01-01 ...]

Without ``--at``: four times spread over the story (its 20th, 45th, 70th and 99th
percentiles of ``occurred_at``). ``STORE.db`` is never written: it is copied next to
itself (with its ``-wal``), the copy's snapshots are brought up to date (not timed), so
each state is read from them, and the copy is removed at the end. Exits 1 if any
intent's list differs from the derived one.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path

import timeline as tl
from timeline.projections.orders import is_kind_target, kind_target


def _times(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        found = []
        for share in (0.20, 0.45, 0.70, 0.99):
            row = conn.execute(
                "SELECT occurred_at FROM events ORDER BY occurred_at LIMIT 1 OFFSET ?",
                (int(count * share),),
            ).fetchone()
            found.append(row[0])
        return found
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a store with snapshots (any story)")
    parser.add_argument("--at", action="append", help="a valid time (repeatable)")
    args = parser.parse_args()
    times = args.at or _times(args.store)
    work = args.store.with_name(args.store.stem + "-blocking.db")
    for suffix in ("", "-wal"):
        source = Path(str(args.store) + suffix)
        if source.exists():
            shutil.copyfile(source, str(work) + suffix)
    differ = 0
    try:
        with tl.Timeline.open(work) as store:
            store.state()  # the snapshots brought up to date (not timed)
            kinds = {a.id: kind_target(a.kind) for a in store.actors() if a.kind.strip()}
            for at in times:
                started = time.perf_counter()
                state = store.state(at=at)
                intents = state.order_intents()
                restrictions = state.restrictions()
                read = time.perf_counter() - started
                started = time.perf_counter()
                index: dict[tuple[str, str], list[str]] = defaultdict(list)
                for restriction in restrictions:
                    product = restriction.product.casefold()
                    for entry in restriction.applies_to:
                        holder = kind_target(entry[5:]) if is_kind_target(entry) else entry
                        index[(product, holder)].append(restriction.id)
                derived = []
                for intent in intents:
                    holders = [intent.buyer]
                    if intent.buyer in kinds:
                        holders.append(kinds[intent.buyer])
                    ids: set[str] = set()
                    for target in {intent.product.casefold(), intent.supplier.casefold()}:
                        for holder in holders:
                            ids.update(index.get((target, holder), ()))
                    derived.append(tuple(sorted(ids)))
                took = time.perf_counter() - started
                wrong = [
                    (i.subject, i.blocked_by, d)
                    for i, d in zip(intents, derived, strict=True)
                    if tuple(i.blocked_by) != d
                ]
                differ += len(wrong)
                blocked = sum(1 for i in intents if i.blocked_by)
                print(
                    f"at {at}: {len(intents):,} intents ({blocked:,} blocked), "
                    f"{len(restrictions):,} restrictions in force; state read in "
                    f"{read * 1000:.0f} ms, every blocked_by derived in {took * 1000:.1f} ms; "
                    f"differ: {len(wrong)}"
                )
                for subject, stored, found in wrong[:3]:
                    print(f"  {subject}: stored {stored}, derived {found}")
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

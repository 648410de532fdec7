"""The write side at any size in one pass: import through ``append``, the first query
after it, and the store's size, each beside its raw sqlite3 baseline.

`bench/run.py --n 1000000` also rebuilds the snapshots from scratch and builds the
smaller lookup stores, which takes most of an hour; this runs only what the write
side's targets need, once each (one round):

- bulk import: the story through ``append`` in batches of 1,000 (what
  ``bench/run.py``'s ``build_store`` does, snapshot upkeep included) against the same
  rows inserted with plain ``sqlite3``, batched alike (``raw_insert``);
- first ``state()`` in a new process on a copy of the store as the writer left it;
- store size against a plain table of the same JSON payloads, as the writer left it
  and after that first query (which writes the snapshots the writer's bounded upkeep
  left behind: the size a store in use has).

    python bench/write_side.py --n 1000000 --workdir DIR [--keep] [--import-only]

``--import-only`` stops after the bulk import and its raw baseline (a few minutes at
1M, where the first query after the load adds about three more).

``--keep`` leaves ``DIR/main.db`` (the store as built) and ``DIR/queried.db`` (after
the first query) for ``bench/lookup_store.py`` and ``bench/backdated.py``, which run
on copies of them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file

import timeline as tl


def _first_state(path: Path) -> None:
    """Runs in its own process: the first ``state()`` of a newly opened store."""
    with tl.Timeline.open(path) as store:
        started = time.perf_counter()
        state = store.state()
        seconds = time.perf_counter() - started
    facts = len(state.stances()) + len(state.order_intents())
    print(json.dumps({"seconds": seconds, "facts": facts}))


def _print_import(n: int, lib_s: float, lib_cpu: float, raw_s: float, raw_cpu: float) -> None:
    print(
        f"bulk import through append: timeline {n / lib_s:,.0f} events/s ({lib_s:.1f} s), raw "
        f"{n / raw_s:,.0f} events/s ({raw_s:.1f} s): {raw_s / lib_s:.2f} of raw "
        f"(CPU {raw_cpu / lib_cpu:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="events in the story")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, required=True, help="an empty directory")
    parser.add_argument("--keep", action="store_true", help="keep DIR/main.db")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="the bulk import and its raw baseline only (no first state(), no sizes)",
    )
    parser.add_argument("--first-state", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_state is not None:
        _first_state(args.first_state)
        return
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    main_db = work / "main.db"
    run._remove(main_db)
    story = run.generate(args.n, args.seed)

    started, cpu = time.perf_counter(), time.process_time()
    run.build_store(story, main_db, warm=False)
    lib_s, lib_cpu = time.perf_counter() - started, time.process_time() - cpu
    run._say(f"timeline: {args.n:,} events through append in {lib_s:.1f} s")

    events, actors, people = run.rows_of(main_db)
    raw_db = work / "raw.db"
    run._remove(raw_db)
    run.empty_store(raw_db)
    conn = run.raw_connect(raw_db)
    started, cpu = time.perf_counter(), time.process_time()
    run.raw_insert(conn, events, actors, people, batch=run.BATCH)
    raw_s, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    run._remove(raw_db)
    del events, actors, people
    run._say(f"raw sqlite3: the same rows in {raw_s:.1f} s")
    n = args.n
    if args.import_only:
        print(f"{n:,} events, seed {args.seed}")
        _print_import(n, lib_s, lib_cpu, raw_s, raw_cpu)
        if not args.keep:
            run._remove(main_db)
        return

    copy = work / "queried.db"
    run._remove(copy)
    for suffix in ("", "-wal"):
        if Path(str(main_db) + suffix).exists():
            shutil.copyfile(str(main_db) + suffix, str(copy) + suffix)
    out = subprocess.run(
        [sys.executable, __file__, "--workdir", str(work), "--first-state", str(copy)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    first = json.loads(out.stdout.strip().splitlines()[-1])

    plain_mib = run.plain_table_mib(main_db, work)
    sizes = []
    for db in (main_db, copy):
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        sizes.append(db.stat().st_size / 2**20)
        if not args.keep:
            run._remove(db)

    print(f"{n:,} events, seed {args.seed}")
    _print_import(n, lib_s, lib_cpu, raw_s, raw_cpu)
    print(f"first state() after the load: {first['seconds']:.2f} s ({first['facts']:,} facts)")
    for label, mib in zip(("as the writer left it", "after the first query"), sizes, strict=True):
        print(
            f"store {label}: {mib:,.1f} MiB = {mib / plain_mib:.2f}x a plain JSON table "
            f"({plain_mib:,.1f} MiB)"
        )


if __name__ == "__main__":
    main()

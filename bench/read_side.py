"""Replay and a full-size fixture load on a store that already exists, beside raw sqlite3.

`bench/run.py` measures the replay on the store it builds (most of an hour at
1,000,000 events) and loads a fixture of at most 100,000 events whatever ``--n`` is.
This runs both at the size of a store built before with ``bench/run.py``'s story
(for instance ``DIR/main.db`` from ``bench/write_side.py --keep``):

- replay: a full fold of both projections on the store opened read-only (no
  snapshots) against raw's read, ``json.loads`` and dict fold (``run.py: m_replay``);
- fixture load (with ``--fixture``): the whole story written as a
  ``timeline-fixture/1`` file, loaded by ``Timeline.load`` into a new store against
  raw's ``json.loads`` of the same file plus the insert of the same rows
  (``run.py: m_import_fixture``), parse included on both sides.

Each measure runs in its own process, library and raw alternating, ``--rounds``
times; the ratio of medians is printed.

    python bench/read_side.py DIR/main.db --n 1000000 [--fixture] [--rounds 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a store built with bench/run.py's story")
    parser.add_argument("--n", type=int, required=True, help="events in the store")
    parser.add_argument("--seed", type=int, default=7, help="the story's seed (as built)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--fixture", action="store_true", help="also a full-size fixture load")
    parser.add_argument("--workdir", type=Path, help="for the fixture (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        ctx: dict[str, Any] = {"n": args.n, "seed": args.seed, "work": str(work)}
        ctx["main"] = str(args.store.resolve())
        names = ["replay"]
        if args.fixture:
            started = time.perf_counter()
            fixture = work / "fixture.json"
            run.fixture_of(run.generate(args.n, args.seed), fixture)
            took = time.perf_counter() - started
            run._say(f"fixture of {args.n:,} events written in {took:.0f} s")
            # the raw side inserts rows of the same story, as the store holds them
            ctx.update(fixture=str(fixture), fixture_store=ctx["main"], fixture_n=args.n)
            names.append("import_fixture")
        for name in names:
            runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            for _ in range(args.rounds):
                for lib in (True, False):
                    result = run.run_one(name, ctx, lib, isolate=True)
                    runs[lib].append(result)
                    side = "timeline" if lib else "raw"
                    run._say(f"{name} {side}: {result['seconds']:.1f} s")
            lib_s = statistics.median(r["seconds"] for r in runs[True])
            raw_s = statistics.median(r["seconds"] for r in runs[False])
            lib_cpu = statistics.median(r["cpu_seconds"] for r in runs[True])
            raw_cpu = statistics.median(r["cpu_seconds"] for r in runs[False])
            growth = statistics.median(r["rss_growth_mib"] or 0 for r in runs[True])
            print(
                f"{name}: timeline {lib_s:.1f} s, raw {raw_s:.1f} s: {raw_s / lib_s:.2f} of raw "
                f"(CPU {raw_cpu / lib_cpu:.2f}); timeline RSS growth {growth:.1f} MiB"
            )


if __name__ == "__main__":
    main()

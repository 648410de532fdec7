"""Where the time goes: cProfile of each benchmarked path on a synthetic story.

Usage (from the project root, in the project's virtualenv)::

    python bench/hotspots.py --n 20000          # every path
    python bench/hotspots.py --n 20000 --only replay --top 25

Prints, for each path, the functions with the most time of their own
(``tottime``) and their share of the path's total.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # the benchmark's story generator, next to this file

import timeline as tl


def profile(label: str, fn: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n== {label}: {total:.2f} s under the profiler")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, tottime, _cum, _callers) in rows[:top]:
        where = f"{Path(file).name}:{line}({name})" if line else name
        print(f"  {tottime / total:6.1%}  {tottime:7.3f} s  {calls:>9}  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--only", nargs="*", choices=["import", "replay", "lookup", "state_at"])
    args = parser.parse_args()
    only = set(args.only or ["import", "replay", "lookup", "state_at"])
    story = bench.generate(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.db"
        if "import" in only:
            profile(
                "import (append in batches of 1000)",
                lambda: bench.build_store(story, path, warm=False),
                args.top,
            )
        else:
            bench.build_store(story, path, warm=False)
        with tl.Timeline.open(path) as store:
            store.state(at="2000-01-01")  # snapshots built, outside the profiles
        if "replay" in only:
            with tl.Timeline.open(path, readonly=True) as ro:
                profile(
                    "replay (full fold, read-only store)",
                    lambda: ro.state(at="2100-01-01"),
                    args.top,
                )
        times = sorted(f[1]["occurred_at"] for f in story.fields)
        if "state_at" in only:
            with tl.Timeline.open(path) as store:
                at = times[len(times) * 9 // 10]
                store.state(at=at)
                profile("state at T from snapshots", lambda: store.state(at=at), args.top)
        if "lookup" in only:
            conn = sqlite3.connect(path)
            keys = conn.execute(
                "SELECT json_extract(payload, '$.actor'), json_extract(payload, '$.topic'), "
                "occurred_at FROM events WHERE type IN ('announcement', 'statement')"
            ).fetchall()
            conn.close()
            rng = random.Random(3)
            asks: list[tuple[str, str, str]] = [rng.choice(keys) for _ in range(3000)]
            with tl.Timeline.open(path) as store:
                store.stance(asks[0][0], asks[0][1], at=datetime.fromisoformat(asks[0][2]))

                def lookups() -> None:
                    for actor, topic, when in asks:
                        store.stance(actor, topic, at=when)

                profile("3000 single-fact lookups", lookups, args.top)


if __name__ == "__main__":
    main()

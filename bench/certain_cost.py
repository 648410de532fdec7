"""What ``certain=True`` costs against the default, on the benchmark's synthetic story.

    python bench/certain_cost.py --n 100000 --rounds 5

Builds the story with ``bench/run.py``'s generator (through the public API, snapshots
kept by the writer), then times ``state(at=T)`` at the story's median in both modes,
beside a raw sqlite3 scan of the same ``events`` rows (read + JSON decode) in the same
run. Reports medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import build_store, generate, records

import timeline as tl


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="events in the story")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per measure")
    args = parser.parse_args()

    story = generate(args.n)
    occurred = sorted(event.occurred_at for event in records(story))
    at = occurred[len(occurred) // 2]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        start = time.perf_counter()
        build_store(story, path)
        built = time.perf_counter() - start
        with tl.Timeline.open(path) as store:
            store.state(at=at)  # caught up, not timed
            possible = median_seconds(lambda: store.state(at=at), args.rounds)
            certain = median_seconds(lambda: store.state(at=at, certain=True), args.rounds)
            facts = (
                len(store.state(at=at).stances()),
                len(store.state(at=at, certain=True).stances()),
            )
        conn = sqlite3.connect(path)

        def raw_scan() -> None:
            for (payload,) in conn.execute("SELECT payload FROM events ORDER BY position"):
                json.loads(payload)

        raw = median_seconds(raw_scan, args.rounds)
        conn.close()
    print(f"events: {args.n}   built in {built:.1f} s   at: {at.isoformat()}")
    print(f"state(at=T), default (possible): {possible * 1000:9.1f} ms   {facts[0]} stances")
    print(f"state(at=T), certain=True:       {certain * 1000:9.1f} ms   {facts[1]} stances")
    print(f"raw sqlite3 scan + decode:       {raw * 1000:9.1f} ms")
    print(f"certain / default: {certain / possible:.2f}x")
    print(f"default / raw scan: {possible / raw:.2f}   certain / raw scan: {certain / raw:.2f}")


if __name__ == "__main__":
    main()

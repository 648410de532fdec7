"""Single-fact lookups, warm and cold, on a store that already exists, beside raw sqlite3.

`bench/run.py` builds its stores first, which takes most of an hour at 1,000,000
events; this runs its `lookup` and `lookup_cold` measures on a store built before
(for instance a copy of the one `bench/run.py --workdir` left). The raw side adds its
table (`raw_stance`, with its index) to the store: use a copy.

    python bench/lookup_store.py COPY.db --n 1000000 --probes 2000 [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a copy of a timeline store")
    parser.add_argument("--n", type=int, required=True, help="events in the store (reported)")
    parser.add_argument("--probes", type=int, default=2000, help="warm lookups (cold: 1 in 100)")
    parser.add_argument("--profile", action="store_true", help="profile the library's side")
    args = parser.parse_args()
    ctx = {"lookup_db": str(args.store), "lookup_n": args.n, "probes": args.probes}
    for name, measure in (("warm", run.m_lookup), ("cold", run.m_lookup_cold)):
        raw = measure(ctx, False)
        lib = measure(ctx, True)
        ratio = lib["per_call_us"] / raw["per_call_us"]
        print(
            f"{name}: timeline {lib['per_call_us']:.1f} us, raw {raw['per_call_us']:.1f} us, "
            f"{ratio:.2f}x raw ({lib['found']} / {raw['found']} found)"
        )
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(measure, ctx, True)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()

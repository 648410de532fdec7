"""Fixture load memory at any size: peak RSS growth of ``Timeline.load``.

Usage (from the project root, in the project's virtualenv)::

    python bench/fixture_memory.py --n 1000000 --workdir /var/tmp

Writes the synthetic story of ``bench/run.py`` as a ``timeline-fixture/1`` file,
streamed to disk (the story itself is held, the file is not), then loads it into a
new store in a fresh process and prints the load's time and its peak RSS growth
(``VmHWM`` after the load minus ``VmRSS`` before it, the high-water mark reset just
before the load; ``getrusage`` would not do: its high-water mark is kept across the
``exec`` of the fresh process, which starts at its parent's size, and the parent
holds the whole story, so a load that stays under that would show no growth). The
target is a growth of at most 256 MiB at any size. Needs disk for the fixture (740
MiB at 1M events) and the store (about 4 GiB at 1M, all in one transaction's WAL
until it commits).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # the benchmark's story generator, next to this file

import timeline as tl


def write_fixture(n: int, path: Path) -> None:
    """The story of ``bench.generate(n)``, one source declared per id, events last."""
    story = bench.generate(n)
    codec = tl.Codec()
    sources: dict[str, Any] = {}
    for event in bench.records(story):
        for item in (event, getattr(event, "replacement", None)):
            if item is not None and item.source is not None and item.source.id:
                data = codec.unstructure(item.source)
                sources[data["id"]] = {k: v for k, v in data.items() if k not in ("id", "origin")}
    actors = {a: {"name": a} for a in story.actors}
    with path.open("w", encoding="utf-8") as out:
        out.write(f'{{"format": "{tl.FIXTURE_FORMAT}", "story": "bench", ')
        out.write(f'"actors": {json.dumps(actors)}, "sources": {json.dumps(sources)}, ')
        out.write('"events": [')
        for i, event in enumerate(bench.records(story)):
            data = codec.to_dict(event)
            for item in (data, data.get("replacement") or {}):
                source = item.get("source")
                item.pop("sources", None)  # one source per bench event: "source" says it
                if source:
                    item["source"] = source["id"]
                item.pop("schema_version", None)
                item.pop("story", None)
            out.write(("," if i else "") + json.dumps(data))
        out.write("]}")


def load(fixture: Path, store: Path) -> dict[str, Any]:
    """Load ``fixture`` into a new store; time and peak RSS growth (this process)."""
    with tl.Timeline.open(store) as timeline:
        bench._reset_peak()  # the high-water mark back to the current size
        before = bench._status("VmRSS")
        started = time.perf_counter()
        report = timeline.load(fixture)
        seconds = time.perf_counter() - started
        after = bench._status("VmHWM")
    if before is None or after is None:
        raise SystemExit("fixture_memory.py needs /proc/self/status (Linux)")
    return {
        "events": report.appended,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(after / 1024, 1),
        "rss_growth_mib": round((after - before) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="where to write (default: temp)")
    parser.add_argument("--load", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(*args.load)))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        fixture, store = Path(tmp) / "fixture.json", Path(tmp) / "load.db"
        write_fixture(args.n, fixture)
        size = fixture.stat().st_size / 2**20
        print(f"fixture: {args.n:,} events, {size:,.0f} MiB", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, __file__, "--load", str(fixture), str(store)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"n": args.n, "fixture_mib": round(size), **result}))


if __name__ == "__main__":
    main()

"""A backdated append on a PostgreSQL store: what ``bench/backdated.py`` measures on a
SQLite file, here on a schema of a server.

Usage (from the project root, in the project's virtualenv, with a server)::

    eval "$(bash .ci/postgres start)"
    python bench/backdated_postgres.py --n 100000 --kind ban
    bash .ci/postgres stop "$TIMELINE_PG_DIR"

The bench story of ``--n`` events (``bench/run.py``'s generator) is appended in batches
of 1,000 to a fresh schema of the server in ``--url`` (default: ``TIMELINE_TEST_POSTGRES``)
and its snapshots are brought up to date; then, in a new process's store (a new
writer, as after a restart), one event (a statement, or what ``--kind`` says) dated at
the story's median time is appended and ``state(at=T)`` is read for ``T`` 90% through
the story, each timed. Beside it, the same store's snapshots built again from nothing
(what a backdated event cost before per-fact refolds, at most), and the ratio. The
schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import run  # bench/run.py, beside this file
from backdated import backdated  # the late event of bench/backdated.py, beside this file
from postgres import drop, fresh  # a schema of its own on the server

import timeline as tl


def load(url: str, n: int, seed: int) -> None:
    """The bench story through ``append``, 1,000 events a batch; snapshots current."""
    story = run.generate(n, seed)
    fields = list(story.fields)
    with tl.Timeline.open(url) as store:
        for start in range(0, len(fields), 1_000):
            store.append([cls(**f) for cls, f in fields[start : start + 1_000]], story="bench")
    with tl.Timeline.open(url) as store:
        store.state()


def percentiles(url: str) -> tuple[int, str, str]:
    """How many events the store holds, and its 50th and 90th percentiles of
    ``occurred_at`` (as ``bench/backdated.py`` picks them)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        n = int(row[0])
        pick = "SELECT occurred_at FROM events ORDER BY occurred_at OFFSET %s LIMIT 1"
        t50 = conn.execute(pick, (n // 2,)).fetchone()
        t90 = conn.execute(pick, (n * 9 // 10,)).fetchone()
    assert t50 is not None
    assert t90 is not None
    return n, str(t50[0]), str(t90[0])


def late_append(url: str, kind: str, t50: str, t90: str, out: Any) -> None:
    """In a process of its own: the backdated append and the next state, timed."""
    with tl.Timeline.open(url) as store:
        store.state(at="2000-01-01")  # opened and current, not timed
        late = backdated(kind, datetime.fromisoformat(t50))
        started = time.perf_counter()
        store.append([late], story="bench")
        appended = time.perf_counter() - started
        started = time.perf_counter()
        store.state(at=t90)
        read = time.perf_counter() - started
        snapshots = store._snapshots  # type: ignore[attr-defined]
        folded = snapshots.folded if snapshots is not None else -1
    out.put({"append_ms": appended * 1000, "state_ms": read * 1000, "refolded": folded})


def rebuild(url: str, out: Any) -> None:
    """In a process of its own: the snapshots built again from nothing, timed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM snapshot_checkpoint")
    with tl.Timeline.open(url) as store:
        started = time.perf_counter()
        store.state()
        out.put({"rebuild_ms": (time.perf_counter() - started) * 1000})


def in_process(target: Any, *args: Any) -> dict[str, Any]:
    queue: Any = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TIMELINE_TEST_POSTGRES"))
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kind", choices=["statement", "inquiry", "ban"], default="statement")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url or set TIMELINE_TEST_POSTGRES (see .ci/postgres)")
    url = fresh(args.url)
    try:
        started = time.perf_counter()
        load(url, args.n, args.seed)
        n, t50, t90 = percentiles(url)
        print(f"{n:,} events loaded in {time.perf_counter() - started:.1f} s; t50 {t50}, t90 {t90}")
        late = in_process(late_append, url, args.kind, t50, t90)
        built = in_process(rebuild, url)
    finally:
        drop(url)
    total = late["append_ms"] + late["state_ms"]
    figures = {
        "events": n,
        "kind": args.kind,
        **late,
        **built,
        "late_over_rebuild": total / built["rebuild_ms"],
    }
    print(
        f"a backdated {args.kind}: append {late['append_ms']:,.1f} ms, "
        f"state(at=t90) {late['state_ms']:,.1f} ms, refolded {late['refolded']:,} events; "
        f"snapshots built from nothing: {built['rebuild_ms']:,.1f} ms "
        f"(the late event costs {figures['late_over_rebuild']:.1%} of that)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

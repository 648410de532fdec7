"""A backdated append on a large store, timed and profiled: what ``bench/run.py``'s
``backdated`` measure does, on a copy of a store you already have.

Usage (from the project root, in the project's virtualenv)::

    python bench/backdated.py STORE.db               # times, events refolded
    python bench/backdated.py STORE.db --profile --explain
    python bench/backdated.py STORE.db --kind ban  # a ban on a product, learnt late

``STORE.db`` is never written: it is copied (with its ``-wal``) next to itself,
the copy's snapshots are rebuilt from scratch as ``bench/run.py`` does before its
measures (not timed), then one event (a statement, or what ``--kind`` says) dated
at the story's median time (the 50th percentile of ``occurred_at``) is appended
and ``state(at=T)`` is read for ``T`` 90% through the story, each timed on its
own. ``--keep-warm DIR`` keeps the rebuilt copy there for the next run (rebuilding
a 1M-event store's snapshots takes minutes). ``--profile`` prints the
functions with the most time of their own (cProfile) for the append and the read;
``--explain`` prints ``EXPLAIN QUERY PLAN`` for every distinct statement the two ran,
with how often each ran.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import timeline as tl


def copy_store(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    for suffix in ("", "-wal"):
        if Path(str(source) + suffix).exists():
            shutil.copyfile(str(source) + suffix, str(target) + suffix)


def percentiles(path: Path) -> tuple[int, str, str]:
    """How many events the store holds, and its 50th and 90th percentiles of
    ``occurred_at`` (as ``bench/run.py`` picks them from the story)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (n,) = conn.execute("SELECT count(*) FROM events").fetchone()
        pick = "SELECT occurred_at FROM events ORDER BY occurred_at LIMIT 1 OFFSET ?"
        t50 = conn.execute(pick, (n // 2,)).fetchone()[0]
        t90 = conn.execute(pick, (n * 9 // 10,)).fetchone()[0]
    finally:
        conn.close()
    return int(n), t50, t90


def profiled(label: str, fn: Callable[[], object], top: int, on: bool) -> float:
    profiler = cProfile.Profile() if on else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    fn()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds * 1000:,.1f} ms", flush=True)
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        total = stats.total_tt  # type: ignore[attr-defined]
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
        print(f"  under the profiler: {total:.2f} s; own time, calls, function")
        for (file, line, name), (_cc, calls, tottime, _cum, _callers) in rows[:top]:
            where = f"{Path(file).name}:{line}({name})" if line else name
            print(f"  {tottime / total:6.1%}  {tottime:7.3f} s  {calls:>9}  {where}")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
        print("  cumulative:")
        for (file, line, name), (_cc, calls, _tottime, cum, _callers) in rows[:top]:
            where = f"{Path(file).name}:{line}({name})" if line else name
            print(f"  {cum / total:6.1%}  {cum:7.3f} s  {calls:>9}  {where}")
    return seconds


_LITERAL = re.compile(r"'(?:[^']|'')*'|X'[0-9A-Fa-f]*'|\b\d+\b")


def explain(conn: sqlite3.Connection, statements: list[str]) -> None:
    """``EXPLAIN QUERY PLAN`` of each distinct statement shape (literals left out)."""
    shapes: Counter[str] = Counter()
    example: dict[str, str] = {}
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head not in ("SELECT", "INSERT", "DELETE", "UPDATE", "WITH", "REPLACE"):
            continue
        shape = _LITERAL.sub("?", " ".join(sql.split()))
        shapes[shape] += 1
        example.setdefault(shape, sql)
    for shape, count in shapes.most_common():
        print(f"\n  x{count}: {shape[:300]}")
        try:
            plan = conn.execute("EXPLAIN QUERY PLAN " + example[shape]).fetchall()
        except sqlite3.Error as exc:
            print(f"    (no plan: {exc})")
            continue
        for row in plan:
            print(f"    {row[-1]}")


def backdated(kind: str, at: datetime) -> tl.Event:
    """The event learnt late, dated ``at`` (actors and products of bench/run.py's story)."""
    if kind == "inquiry":
        return tl.Inquiry(
            occurred_at=at,
            inquirers=("actor-000", "actor-001"),
            supplier="nvidia",
            product="H200",
            summary="A backdated inquiry.",
        )
    if kind == "ban":
        return tl.PolicyChange(
            occurred_at=at,
            authority="actor-001",
            topic="topic-01",
            measure="ban",
            product="H200",
            applies_to=("actor-000", "actor-002", "actor-003"),
            summary="A backdated ban.",
        )
    return tl.Statement(
        occurred_at=at, actor="actor-001", topic="topic-01", summary="A backdated report."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a store built by bench/run.py (never written)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep-warm", type=Path, help="keep the rebuilt copy in this directory")
    parser.add_argument(
        "--kind",
        choices=["statement", "inquiry", "ban"],
        default="statement",
        help="what is learnt late: a statement (one stance), an inquiry by the two "
        "busiest buyers (their intents on a product), or a ban on a product for the "
        "three busiest actors by the second busiest (restrictions, and the intents of "
        "those it reaches)",
    )
    args = parser.parse_args()
    source: Path = args.store
    warm = args.keep_warm / "warm.db" if args.keep_warm else None
    work = source.with_name(source.stem + "-backdated.db")
    n, t50, t90 = percentiles(source)
    print(f"{n:,} events; t50 {t50}, t90 {t90}", flush=True)
    if warm is not None and warm.exists():
        copy_store(warm, work)
    else:
        copy_store(source, work)
        started = time.perf_counter()
        # as bench/run.py's prepare: the snapshots rebuilt from scratch (not timed)
        conn = sqlite3.connect(work)
        conn.execute("DELETE FROM snapshot_checkpoint")
        conn.commit()
        conn.close()
        with tl.Timeline.open(work) as store:
            store.state(at="2000-01-01")
        print(f"snapshots rebuilt (not timed): {time.perf_counter() - started:.1f} s", flush=True)
        if warm is not None:
            warm.parent.mkdir(parents=True, exist_ok=True)
            copy_store(work, warm)
    statements: list[str] = []
    try:
        with tl.Timeline.open(work) as store:
            store.state(at="2000-01-01")  # as bench/run.py: opened and current, not timed
            conn: Any = store._store.conn  # type: ignore[attr-defined]
            if args.explain:
                conn.set_trace_callback(statements.append)
            late = backdated(args.kind, datetime.fromisoformat(t50))
            append = profiled(
                "append", lambda: store.append([late], story="bench"), args.top, args.profile
            )
            snapshots = store._snapshots  # type: ignore[attr-defined]
            folded = snapshots.folded if snapshots is not None else -1
            appended = len(statements)
            read = profiled("state(at=t90)", lambda: store.state(at=t90), args.top, args.profile)
            conn.set_trace_callback(None)
            print(f"total {1000 * (append + read):,.1f} ms; refolded {folded} of {n:,} events")
            if args.explain:
                print(f"\nstatements of the append ({appended}):")
                explain(conn, statements[:appended])
                print(f"\nstatements of state(at=t90) ({len(statements) - appended}):")
                explain(conn, statements[appended:])
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())

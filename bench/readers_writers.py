"""Readers beside busy writers: do readers fail or stall because of writers?

Usage (from the project root, in the project's virtualenv)::

    python bench/readers_writers.py                      # 8 writers, 4 readers, 60 s
    python bench/readers_writers.py --duration 5 --writers 2 --readers 2

Each writer is its own process appending one event at a time: half of them to one
shared story with ``expected_version`` (retrying on ``ConcurrencyError``), the
others to a story of their own. Each reader is its own process asking, in turn,
``state()``, ``state(at=...)``, a single-fact ``stance()``, ``search()`` and
``verify()``. Every call is timed; any exception other than a writer's
``ConcurrencyError`` counts as an error. After the run the log must hold exactly
the events the writers were told they appended, and verify.

The same run is then repeated with raw ``sqlite3``: writers insert rows into a
plain table, readers ``SELECT`` the latest row per key, so the figures have a
baseline on the same machine, side by side (``--no-raw`` to skip it).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tabulate import tabulate

import timeline as tl

BASE = datetime(2025, 1, 1, tzinfo=UTC)
ACTORS = [f"actor-{i}" for i in range(12)]


def _event(writer: int, n: int) -> tl.Announcement:
    return tl.Announcement(
        id=f"w{writer}-{n}",
        # a few backdated events, as news arrives
        occurred_at=BASE + timedelta(hours=n if n % 17 else max(n - 100, 0)),
        actor=ACTORS[(writer * 7 + n) % len(ACTORS)],
        topic=f"topic-{n % 3}",
        position=("supports", "opposes", "undecided")[n % 3],
        summary=f"Writer {writer} announcement {n} about chips and export rules.",
    )


def _ready(go: Any, duration: float, out: Any) -> float:
    """Say this process is ready, wait until every process is, and return when to stop."""
    out.put(("ready",))
    go.wait()
    return time.time() + duration


def _writer(db: str, index: int, shared: bool, go: Any, duration: float, out: Any) -> None:
    latencies: list[float] = []
    appended: list[str] = []
    conflicts = errors = 0
    story = "shared" if shared else f"own-{index}"
    first_error = ""
    with tl.Timeline.open(db) as store:
        stop = _ready(go, duration, out)
        n = 0
        while time.time() < stop:
            event = _event(index, n)
            started = time.perf_counter()
            try:
                if shared:
                    version = store.store.story_version(story)
                    store.append([event], story=story, expected_version=version)
                else:
                    store.append([event], story=story)
            except tl.ConcurrencyError:
                conflicts += 1
                continue
            except Exception:  # noqa: BLE001 - everything else is what we count
                errors += 1
                first_error = first_error or traceback.format_exc(limit=3)
                continue
            latencies.append(time.perf_counter() - started)
            appended.append(event.id)
            n += 1
    out.put(("writer", latencies, errors, conflicts, appended, first_error))


def _reader(db: str, index: int, go: Any, duration: float, out: Any) -> None:
    latencies: list[float] = []
    errors = 0
    first_error = ""
    calls = [
        lambda s: s.state(),
        lambda s: s.state(at=BASE + timedelta(hours=200)),
        lambda s: s.stance(ACTORS[index], "topic-1"),
        lambda s: s.search("chips", limit=5),
        lambda s: s.verify(),
    ]
    with tl.Timeline.open(db) as store:
        stop = _ready(go, duration, out)
        n = 0
        while time.time() < stop:
            started = time.perf_counter()
            try:
                calls[n % len(calls)](store)
            except Exception:  # noqa: BLE001 - a reader must never fail
                errors += 1
                first_error = first_error or traceback.format_exc(limit=3)
            latencies.append(time.perf_counter() - started)
            n += 1
    out.put(("reader", latencies, errors, 0, [], first_error))


def _raw_writer(db: str, index: int, shared: bool, go: Any, duration: float, out: Any) -> None:
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    stop = _ready(go, duration, out)
    latencies: list[float] = []
    errors = n = 0
    while time.time() < stop:
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO events (story, actor, body) VALUES (?, ?, ?)",
                ("shared" if shared else f"own-{index}", ACTORS[n % len(ACTORS)], f"e{n}"),
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            errors += 1
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            continue
        latencies.append(time.perf_counter() - started)
        n += 1
    out.put(("writer", latencies, errors, 0, [f"{index}-{i}" for i in range(n)], ""))


def _raw_reader(db: str, index: int, go: Any, duration: float, out: Any) -> None:
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    stop = _ready(go, duration, out)
    latencies: list[float] = []
    errors = 0
    while time.time() < stop:
        started = time.perf_counter()
        try:
            conn.execute("SELECT actor, MAX(position), body FROM events GROUP BY actor").fetchall()
        except sqlite3.Error:
            errors += 1
        latencies.append(time.perf_counter() - started)
    out.put(("reader", latencies, errors, 0, [], ""))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run(kind: str, db: Path, writers: int, readers: int, duration: float) -> dict[str, Any]:
    """One run; returns the figures."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    go = ctx.Event()  # the clock starts once every process has started and opened the store
    write_fn, read_fn = (_writer, _reader) if kind == "timeline" else (_raw_writer, _raw_reader)
    procs = [
        ctx.Process(target=write_fn, args=(str(db), i, i < writers // 2, go, duration, out))
        for i in range(writers)
    ] + [ctx.Process(target=read_fn, args=(str(db), i, go, duration, out)) for i in range(readers)]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get(timeout=600) == ("ready",)
    go.set()
    results = [out.get(timeout=duration + 600) for _ in procs]
    for p in procs:
        p.join()
    w = [r for r in results if r[0] == "writer"]
    r = [r for r in results if r[0] == "reader"]
    wl = [x for res in w for x in res[1]]
    rl = [x for res in r for x in res[1]]
    appended = [i for res in w for i in res[4]]
    figures: dict[str, Any] = {
        "kind": kind,
        "events": len(appended),
        "writer_errors": sum(res[2] for res in w),
        "conflicts": sum(res[3] for res in w),
        "reader_calls": len(rl),
        "reader_errors": sum(res[2] for res in r),
        "writer_p50_ms": _pct(wl, 0.5),
        "writer_p99_ms": _pct(wl, 0.99),
        "reader_p50_ms": _pct(rl, 0.5),
        "reader_p99_ms": _pct(rl, 0.99),
        "reader_max_ms": max(rl, default=0.0) * 1000,
        "first_error": next((res[5] for res in results if res[5]), ""),
    }
    if kind == "timeline":
        with tl.Timeline.open(db, readonly=True) as store:
            stored = [e.event.id for e in store.events()]
            figures["verified"] = store.verify()
        figures["lost"] = len(set(appended) - set(stored))
        figures["duplicated"] = len(stored) - len(set(stored))
    return figures


def _raw_schema(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, story TEXT, "
        "actor TEXT, body TEXT)"
    )
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw sqlite3 run")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "busy.db"
        with tl.Timeline.open(db) as store:
            # every actor and topic the readers ask about exists from the start
            store.append([_event(99, n) for n in range(len(ACTORS) * 3)], story="seed")
        found = [run("timeline", db, args.writers, args.readers, args.duration)]
        if not args.no_raw:
            raw = Path(work) / "raw.db"
            _raw_schema(raw)
            found.append(run("raw sqlite3", raw, args.writers, args.readers, args.duration))
    for f in found:
        rows.append(
            [
                f["kind"], f["events"], f["writer_errors"], f["conflicts"], f["reader_calls"],
                f["reader_errors"], f"{f['writer_p50_ms']:.1f}", f"{f['writer_p99_ms']:.1f}",
                f"{f['reader_p50_ms']:.1f}", f"{f['reader_p99_ms']:.1f}",
                f"{f['reader_max_ms']:.0f}",
            ]
        )  # fmt: skip
    print(
        f"{args.writers} writers, {args.readers} readers, {args.duration:.0f} s (latencies in ms)"
    )
    print(
        tabulate(
            rows,
            headers=[
                "", "events", "w.errors", "conflicts", "r.calls", "r.errors", "w.p50",
                "w.p99", "r.p50", "r.p99", "r.max",
            ],
        )
    )  # fmt: skip
    lib = found[0]
    print(
        f"timeline: lost {lib['lost']}, duplicated {lib['duplicated']}, "
        f"verified {lib['verified']} events"
    )
    if len(found) > 1 and found[1]["reader_p99_ms"]:
        print(
            f"reader p99 {lib['reader_p99_ms'] / found[1]['reader_p99_ms']:.1f}x raw, "
            f"writer p99 {lib['writer_p99_ms'] / found[1]['writer_p99_ms']:.1f}x raw"
        )
    if lib["first_error"]:
        print("first error:\n" + lib["first_error"], file=sys.stderr)
    bad = lib["reader_errors"] or lib["writer_errors"] or lib["lost"] or lib["duplicated"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

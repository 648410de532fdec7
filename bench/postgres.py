"""Benchmark the PostgreSQL store against raw psycopg doing the same work, in the same run.

Usage (from the project root, with a server; ``bench/run.py --backend postgres`` runs this)::

    eval "$(bash .ci/postgres start)"
    python bench/postgres.py --n 20000
    python bench/run.py --backend postgres --n 2000 --rounds 3 --only single_append
    bash .ci/postgres stop "$TIMELINE_PG_DIR"

Measurements, each against its raw baseline, interleaved round by round (medians):

- batched append: ``Timeline.append`` of batches of 1,000 events, against raw
  psycopg taking the same lock and COPYing the same rows, pre-serialised
  (payloads, hashes and search documents built before the clock starts);
- single append: one event per ``append()`` against raw psycopg doing one
  transaction per row (lock, read the head, insert, commit) of rows built before
  the clock starts;
- 4 concurrent writers: four processes each appending events one at a time,
  total events per second (library only).

Every round runs in a fresh schema. Ratios are library throughput / raw throughput.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from tabulate import tabulate

import timeline as tl
from timeline.store._pg_schema import SEARCH_DOCUMENT
from timeline.store.integrity import STORED

BATCH = 1000
# --only's names (those of bench/run.py where they match)
MEASURES = {
    "batched append": "batched_append",
    "single append": "single_append",
    "concurrent": "concurrent",
}
LOCK = "SELECT pg_advisory_xact_lock(hashtext('timeline:' || current_schema()))"
T0 = datetime(2025, 12, 1, tzinfo=UTC)
_schemas = iter(range(10**6))


def events(n: int, prefix: str) -> list[tl.Event]:
    """``n`` statements of a realistic size (summaries of about 200 characters)."""
    words = [
        "export",
        "licence",
        "regulator",
        "ministry",
        "officials",
        "demand",
        "supply",
        "order",
        "shipment",
    ]
    return [
        tl.Statement(
            id=f"{prefix}-{i:07d}",
            occurred_at=T0 + timedelta(minutes=i),
            actor=f"actor-{i % 50:02d}",
            topic=f"topic-{i % 7}",
            position=("supports", "opposes", "neutral")[i % 3],
            attribution="two people familiar with the matter",
            summary=" ".join(words[(i + k) % len(words)] for k in range(25)),
        )
        for i in range(n)
    ]


def fresh(url: str) -> str:
    """A URL of a new empty schema on the server."""
    schema = f"bench_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    params = conninfo_to_dict(url)
    params["options"] = f"{params.get('options') or ''} -c search_path={schema}".strip()
    return "postgresql:///?" + "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in params.items())


def drop(url: str) -> None:
    schema = conninfo_to_dict(url)["options"].rsplit("=", 1)[1]  # type: ignore[union-attr]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def rows_for(store_url: str, batch: list[tl.Event]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The rows the library would write for ``batch``, built once in a scratch schema."""
    with tl.Timeline.open(store_url) as store:
        store.append(batch, story="bench")
        rows = store.store.raw_rows(0, len(batch) + 1)  # type: ignore[attr-defined]
        actors = store.store.actor_rows(0, len(batch))  # type: ignore[attr-defined]
    drop(store_url)
    return rows, actors


# --- the measurements -------------------------------------------------------------------


def lib_batched(url: str, batches: list[list[tl.Event]]) -> float:
    with tl.Timeline.open(url) as store:
        start = time.perf_counter()
        for batch in batches:
            store.append(batch, story="bench")
        return time.perf_counter() - start


def raw_batched(url: str, rows: list[tuple[Any, ...]], actors: list[Any]) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        # the actors the rows name exist before the timing (the event-actor index
        # refuses a row naming an unknown actor); the library registers them in
        # its first batch, 50 rows, a negligible part of its time
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO actors (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(name, name) for name in sorted({row[1] for row in actors})],
            )
        start = time.perf_counter()
        for at in range(0, len(rows), BATCH):
            chunk = rows[at : at + BATCH]
            first, last = chunk[0][0], chunk[-1][0]
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('timeline:' || current_schema()))"
                )
                with cur.copy(f"COPY events ({STORED}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
                with cur.copy("COPY event_actors (position, actor, role) FROM STDIN") as copy:
                    for row in actors:
                        if first <= row[0] <= last:
                            copy.write_row(row)
                cur.execute(SEARCH_DOCUMENT, (first - 1, last))
        return time.perf_counter() - start


def lib_single(url: str, items: list[tl.Event]) -> float:
    with tl.Timeline.open(url) as store:
        start = time.perf_counter()
        for item in items:
            store.append([item], story="bench")
        return time.perf_counter() - start


def raw_single(url: str, rows: list[tuple[Any, ...]]) -> float:
    marks = ", ".join(["%s"] * len(rows[0]))
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        for row in rows:
            with conn.transaction():
                conn.execute(LOCK)
                conn.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
                conn.execute(f"INSERT INTO events ({STORED}) VALUES ({marks})", row)
        return time.perf_counter() - start


def _concurrent_writer(url: str, name: str, count: int, go: Any, out: Any) -> None:
    with tl.Timeline.open(url) as store:
        go.wait()
        for item in events(count, name):
            store.append([item], story=f"story-{name}")
    out.put(name)


def lib_concurrent(url: str, writers: int, each: int) -> float:
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    tl.Timeline.open(url).close()
    procs = [
        ctx.Process(target=_concurrent_writer, args=(url, f"w{n}", each, go, out))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    time.sleep(2)  # every writer has opened its store
    start = time.perf_counter()
    go.set()
    for _ in procs:
        out.get(timeout=600)
    seconds = time.perf_counter() - start
    for p in procs:
        p.join()
    with tl.Timeline.open(url) as store:
        assert store.verify() == writers * each
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TIMELINE_TEST_POSTGRES"))
    parser.add_argument("--n", type=int, default=20_000, help="events per batched round")
    parser.add_argument("--singles", type=int, default=1_000, help="events per single round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--only", nargs="*", choices=sorted(MEASURES.values()), help="run these only (default: all)"
    )
    args = parser.parse_args()
    only = set(args.only or MEASURES.values())
    if not args.url:
        parser.error("give --url or set TIMELINE_TEST_POSTGRES (see .ci/postgres)")
    if args.quick:
        args.n, args.singles, args.rounds = 2_000, 100, 1
    batched = events(args.n, "b")
    batches = [batched[i : i + BATCH] for i in range(0, len(batched), BATCH)]
    singles = events(args.singles, "s")
    rows, actors = rows_for(fresh(args.url), batched) if "batched_append" in only else ([], [])
    single_rows = rows_for(fresh(args.url), singles)[0] if "single_append" in only else []
    results: dict[str, dict[str, list[float]]] = {
        "batched append": {"lib": [], "raw": []},
        "single append": {"lib": [], "raw": []},
    }
    runs: list[tuple[str, str, Callable[[str], float]]] = [
        ("batched append", "lib", lambda u: lib_batched(u, batches)),
        ("batched append", "raw", lambda u: raw_batched(u, rows, actors)),
        ("single append", "lib", lambda u: lib_single(u, singles)),
        ("single append", "raw", lambda u: raw_single(u, single_rows)),
    ]
    runs = [run for run in runs if MEASURES[run[0]] in only]
    results = {name: sides for name, sides in results.items() if MEASURES[name] in only}
    for _ in range(args.rounds):
        for name, side, fn in runs:
            url = fresh(args.url)
            tl.Timeline.open(url).close()  # the schema, outside the timing
            results[name][side].append(fn(url))
            drop(url)
    each = max(args.singles // 2, 10)
    concurrent = None
    if "concurrent" in only:
        concurrent_url = fresh(args.url)
        concurrent = lib_concurrent(concurrent_url, args.writers, each)
        drop(concurrent_url)
    table = []
    out: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count()}
    for name, sides in results.items():
        count = args.n if name.startswith("batched") else args.singles
        lib = count / statistics.median(sides["lib"])
        raw = count / statistics.median(sides["raw"])
        table.append([name, f"{lib:,.0f}", f"{raw:,.0f}", f"{lib / raw:.2f}"])
        out[name] = {"lib_per_s": lib, "raw_per_s": raw, "ratio": lib / raw}
    if concurrent is not None:
        total = args.writers * each / concurrent
        table.append([f"{args.writers} concurrent writers (total)", f"{total:,.0f}", "", ""])
        out["concurrent"] = {"writers": args.writers, "events": args.writers * each, "per_s": total}
    print(
        tabulate(table, headers=["measure", "timeline events/s", "raw psycopg events/s", "ratio"])
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()

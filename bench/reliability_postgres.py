"""Reliability run on PostgreSQL: 8 writer processes and 2 readers, optionally a server restart.

Usage (from the project root, in the project's virtualenv, with a server)::

    eval "$(bash .ci/postgres start)"
    python bench/reliability_postgres.py --seconds 60 --restart
    bash .ci/postgres stop "$TIMELINE_PG_DIR"

Four writers append to one story with ``expected_version`` (re-reading the version
and retrying on ``ConcurrencyError``); four append to stories of their own. Every
writer retries a ``StoreError`` (a lost connection, a lock wait) with the same
event: ids make appends idempotent, so a commit whose answer was lost is not
written twice. Two readers tail the log by position. With ``--restart`` the
server is restarted (``pg_ctl restart -m fast``) half way through.

At the end it checks: every event a writer was told is stored is stored, once;
positions run 1..N without a gap; each story's versions run 1..n; the readers
saw every position in order; ``verify()`` passes; no writer or reader met an
error that is not a ``TimelineError``. It prints one JSON object and exits 1 if
any check failed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import timeline as tl
from timeline.store.base import EventFilter

SHARED = "shared"
OCCURRED = datetime(2025, 12, 8, tzinfo=UTC)


def _event(event_id: str) -> tl.Event:
    return tl.Report(id=event_id, occurred_at=OCCURRED, summary=f"event {event_id}")


def writer(
    url: str, name: str, shared: bool, seconds: float, ready: Any, go: Any, out: Any
) -> None:
    """Append one event at a time for ``seconds`` after ``go``; report what was acknowledged."""
    ready.put(name)
    go.wait()
    stop_at = time.monotonic() + seconds
    acked: list[str] = []
    conflicts = retries = 0
    foreign: list[str] = []
    story = SHARED if shared else f"own-{name}"
    store: tl.Timeline | None = None
    i = 0
    latencies: list[float] = []  # seconds from the first try to the acknowledgement
    while time.monotonic() < stop_at:
        item = _event(f"{name}-{i:06d}")
        began = time.perf_counter()
        while time.monotonic() < stop_at + 30:
            try:
                if store is None:
                    store = tl.Timeline.open(url, busy_timeout=5)
                if shared:
                    version = store.store.story_version(story)
                    store.append([item], story=story, expected_version=version)
                else:
                    store.append([item], story=story)
                acked.append(item.id)
                latencies.append(time.perf_counter() - began)
                break
            except tl.ConcurrencyError:
                conflicts += 1
            except tl.TimelineError:
                retries += 1  # lost connection or lock wait: the same event again
                time.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - what this run exists to catch
                foreign.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
                break
        i += 1
    if store is not None:
        store.close()
    out.put({"name": name, "acked": acked, "conflicts": conflicts, "retries": retries,
             "foreign": foreign, "latencies": latencies})  # fmt: skip


def reader(url: str, name: str, seconds: float, ready: Any, go: Any, out: Any) -> None:
    """Tail the log by position; report gaps and out-of-order positions."""
    ready.put(name)
    go.wait()
    stop_at = time.monotonic() + seconds
    last = 0
    problems: list[str] = []
    foreign: list[str] = []
    store: tl.Timeline | None = None
    latencies: list[float] = []  # seconds per read of what is new
    errors = 0
    while time.monotonic() < stop_at + 5:
        try:
            if store is None:
                store = tl.Timeline.open(url, readonly=True)
            began = time.perf_counter()
            for record in store.store.read(EventFilter(after_position=last)):
                if record.position != last + 1:
                    problems.append(f"after {last} came {record.position}")
                last = record.position
            latencies.append(time.perf_counter() - began)
            store.store.wait(last, 0.2)
        except tl.TimelineError:
            errors += 1
            store = None
            time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - what this run exists to catch
            foreign.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
            break
    out.put({"name": name, "read": last, "problems": problems, "foreign": foreign,
             "latencies": latencies, "errors": errors})  # fmt: skip


def restart_server(pg_dir: str) -> float:
    """Restart the test cluster (fast shutdown); return how long it took."""
    start = time.monotonic()
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    command = [str(binary), "-D", f"{pg_dir}/data", "-m", "fast", "-w", "restart",
               "-l", f"{pg_dir}/server.log"]  # fmt: skip
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - start


def run(url: str, seconds: float, restart: bool, pg_dir: str | None) -> dict[str, Any]:
    """The whole run; returns the report (``ok`` says whether every check passed)."""
    tl.Timeline.open(url).close()
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=writer, args=(url, f"w{n}", n < 4, seconds, ready, go, out))
        for n in range(8)
    ] + [ctx.Process(target=reader, args=(url, f"r{n}", seconds, ready, go, out)) for n in range(2)]
    for p in procs:
        p.start()
    for _ in procs:  # every process has started (imports take a while on 2 cores)
        ready.get(timeout=120)
    go.set()
    restarted = None
    if restart:
        time.sleep(seconds / 2)
        restarted = restart_server(pg_dir or os.environ["TIMELINE_PG_DIR"])
    reports = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    writers = [r for r in reports if r["name"].startswith("w")]
    readers = [r for r in reports if r["name"].startswith("r")]
    with tl.Timeline.open(url) as store:
        records = list(store.events())
        verified = store.verify()
    ids = [r.id for r in records]
    acked = [i for w in writers for i in w["acked"]]
    versions: dict[str, list[int]] = {}
    for r in records:
        versions.setdefault(r.story, []).append(r.version)
    checks = {
        "every acknowledged event stored": set(acked) <= set(ids),
        "no event stored twice": len(ids) == len(set(ids)),
        "positions gapless": [r.position for r in records] == list(range(1, len(records) + 1)),
        "versions gapless per story": all(
            v == list(range(1, len(v) + 1)) for v in versions.values()
        ),
        "readers saw every position in order": all(
            not r["problems"] and r["read"] <= len(records) for r in readers
        ),
        "chain verifies": verified == len(records),
        "no raw driver exception": not any(r["foreign"] for r in reports),
        # a restart interrupts readers, who reconnect; without one they never fail
        "no reader errors": restart or not any(r["errors"] for r in readers),
    }
    return {
        "seconds": seconds,
        "events": len(records),
        "events_per_second": round(len(records) / seconds, 1),
        "acknowledged": len(acked),
        "conflicts": sum(w["conflicts"] for w in writers),
        "retries": sum(w["retries"] for w in writers),
        "restart_seconds": None if restarted is None else round(restarted, 2),
        "readers_read": [r["read"] for r in readers],
        "reader_errors": sum(r["errors"] for r in readers),
        "append_ms_p50_p99": _percentiles([x for w in writers for x in w["latencies"]]),
        "read_ms_p50_p99": _percentiles([x for r in readers for x in r["latencies"]]),
        "foreign_errors": [e for r in reports for e in r["foreign"]][:5],
        "checks": checks,
        "ok": all(checks.values()),
    }


def _percentiles(seconds: list[float]) -> list[float] | None:
    """The median and the 99th percentile, in milliseconds."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return [round(ordered[int(q * (len(ordered) - 1))] * 1000, 1) for q in (0.5, 0.99)]


def fresh_schema(url: str, schema: str) -> str:
    """``url`` pointed at a new empty schema (an existing one of that name is dropped)."""
    from urllib.parse import quote

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    params = conninfo_to_dict(url)
    params["options"] = f"{params.get('options') or ''} -c search_path={schema}".strip()
    return "postgresql:///?" + "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in params.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TIMELINE_TEST_POSTGRES"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--restart", action="store_true", help="restart the server half way")
    parser.add_argument(
        "--fresh-schema",
        action="store_true",
        help="run in a new empty schema timeline_reliability (dropped first if there)",
    )
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url or set TIMELINE_TEST_POSTGRES (see .ci/postgres)")
    url = args.url
    if args.fresh_schema:
        url = fresh_schema(url, "timeline_reliability")
    result = run(url, args.seconds, args.restart, os.environ.get("TIMELINE_PG_DIR"))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

"""Benchmark timeline against a raw sqlite3 baseline doing the same work.

Usage (from the project root, in the project's virtualenv)::

    python bench/run.py --quick            # a few-second smoke run (CI runs this)
    python bench/run.py --n 100000         # the 100k run
    python bench/run.py --n 1000000        # the 1M run (tens of minutes on 2 cores)
    python bench/run.py --backend postgres # the PostgreSQL store against raw psycopg

Every measurement runs in the same invocation as its raw baseline, the two
interleaved round by round, and reports medians over ``--rounds`` (>= 5 by
default) and the ratio. Outside ``--quick`` each measurement runs in its own
process so that its peak RSS (``VmHWM``, reset before timing) is its own.

The synthetic story: hundreds of actors with Zipf-skewed popularity, tens of
topics, every built-in event type, summaries of 120-400 characters, a pool of
source articles, ~3% backdated events, ~0.5% corrections, ~0.5% retractions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from tabulate import tabulate

import timeline as tl
from timeline.store._schema import index_for_search

HERE = Path(__file__).resolve().parent
BATCH = 1000
WORDS = [
    "chip", "export", "licence", "regulator", "ministry", "officials", "demand", "supply",
    "order", "shipment", "quota", "review", "approval", "inference", "training", "cluster",
    "datacentre", "procurement", "tender", "vendor", "sanction", "policy", "statement",
    "briefing", "sources", "familiar", "matter", "plans", "talks", "deal", "volume",
    "capacity", "foundry", "wafer", "memory", "bandwidth", "performance", "threshold",
    "control", "market", "share",
]  # fmt: skip
ATTRIBUTIONS = [
    "four people briefed on the matter",
    "two people familiar with the supply chain",
    "official statement",
    "a company spokesperson",
    "a regulatory filing",
    "people with knowledge of the talks",
]


# --- the synthetic story -----------------------------------------------------------


@attrs.frozen
class Story:
    actors: list[str]
    fields: list[tuple[type[tl.Event], dict[str, Any]]]  # record class and its fields


def generate(n: int, seed: int = 7) -> Story:
    """A reproducible synthetic story of ``n`` events (fields, not yet records)."""
    rng = random.Random(seed)
    actors = [f"actor-{i:03d}" for i in range(300)]
    weights = [1 / (i + 1) ** 1.1 for i in range(len(actors))]
    topics = [f"topic-{i:02d}" for i in range(30)]
    products = ["H200", "H20", "A100", "B200", "MI300"]
    suppliers = ["nvidia", "amd"]
    base = datetime(2015, 1, 1, tzinfo=UTC)
    sources = [
        tl.Source(
            publisher=rng.choice(["Reuters", "Bloomberg", "The Information", "Caixin", "FT"]),
            id=f"src-{i}",
            url=f"https://news.example/{i}",
            headline=" ".join(rng.choices(WORDS, k=8)).capitalize(),
            published_at=base + timedelta(minutes=5 * i * max(1, n // 5000)),
        )
        for i in range(5000)
    ]

    def text(lo: int, hi: int) -> str:
        out = []
        size = rng.randint(lo, hi)
        while sum(len(w) + 1 for w in out) < size:
            out.append(rng.choice(WORDS))
        return " ".join(out).capitalize() + "."

    kinds = [
        ("announcement", 15), ("statement", 20), ("meeting", 5), ("inquiry", 15),
        ("policy", 4), ("placed", 5), ("cancelled", 1.5), ("delivered", 2), ("report", 31.5),
        ("correction", 0.5), ("retraction", 0.5),
    ]  # fmt: skip
    names = [k for k, _ in kinds]
    kind_weights = [w for _, w in kinds]
    fields: list[tuple[type[tl.Event], dict[str, Any]]] = []
    plain: list[int] = []
    for i in range(n):
        t = base + timedelta(minutes=5 * i)
        occurred = t - timedelta(days=rng.randint(1, 365)) if rng.random() < 0.03 else t
        source = sources[min(len(sources) - 1, i * len(sources) // max(n, 1))]
        env: dict[str, Any] = {
            "id": f"ev-{i:07d}",
            "occurred_at": occurred,
            "reported_at": t + timedelta(minutes=rng.randint(0, 600)),
            "source": source,
            "attribution": rng.choice(ATTRIBUTIONS),
            "summary": text(120, 400),
        }
        if rng.random() < 0.2:
            env["quote"] = text(80, 200)
        kind = rng.choices(names, kind_weights)[0] if plain else "announcement"
        actor = rng.choices(actors, weights)[0]
        topic = rng.choice(topics)
        product = rng.choice(products)
        supplier = rng.choice(suppliers)
        position = rng.choice(["supports", "opposes", "undecided", "neutral"])
        cls: type[tl.Event]
        if kind == "announcement":
            cls, own = tl.Announcement, {"actor": actor, "topic": topic, "position": position}
        elif kind == "statement":
            cls, own = tl.Statement, {"actor": actor, "topic": topic, "position": position}
        elif kind == "meeting":
            attendees = tuple({rng.choices(actors, weights)[0] for _ in range(3)})
            cls, own = tl.RegulatorMeeting, {
                "regulator": actor, "attendees": attendees, "topic": topic, "product": product,
                "agenda": text(40, 80), "outcome": text(40, 80), "position": position,
            }  # fmt: skip
        elif kind == "inquiry":
            inquirers = tuple({rng.choices(actors, weights)[0] for _ in range(2)})
            cls, own = tl.Inquiry, {
                "inquirers": inquirers, "supplier": supplier, "product": product,
                "topic": topic if rng.random() < 0.5 else None, "quantity": "large",
                "conditions": ("regulator approval",), "concerns": ("supply",),
            }  # fmt: skip
        elif kind == "policy":
            applies = tuple({rng.choices(actors, weights)[0] for _ in range(4)})
            cls, own = tl.PolicyChange, {
                "authority": actor, "topic": topic,
                "measure": rng.choice(["permit", "restrict", "ban", "lift"]),
                "product": product, "applies_to": (*applies, "state-funded data centres"),
            }  # fmt: skip
        elif kind in ("placed", "cancelled", "delivered"):
            cls = {
                "placed": tl.OrderPlaced,
                "cancelled": tl.OrderCancelled,
                "delivered": tl.OrderDelivered,
            }[kind]
            own = {"buyer": actor, "supplier": supplier, "product": product, "quantity": "500"}
        elif kind == "report":
            cls, own = tl.Report, {"actors": (actor,), "topic": topic}
        elif kind == "retraction":
            target = fields[rng.choice(plain)][1]["id"]
            cls, own = tl.Retraction, {"retracts": target, "reason": text(30, 80)}
        else:  # correction
            target_cls, target = fields[rng.choice(plain)]
            moved = target["occurred_at"] + timedelta(hours=rng.randint(-48, 48))
            replacement = target_cls(**{**target, "occurred_at": moved})
            cls, own = tl.Correction, {"corrects": target["id"], "replacement": replacement}
        if cls not in (tl.Correction, tl.Retraction):
            plain.append(i)
        fields.append((cls, {**env, **own}))
    return Story(actors=[*actors, *suppliers], fields=fields)


def records(story: Story) -> Iterator[tl.Event]:
    """Build (and so validate) the typed records."""
    for cls, fields in story.fields:
        yield cls(**fields)


def fixture_of(story: Story, path: Path) -> None:
    """Write the story as a ``timeline-fixture/1`` file."""
    codec = tl.Codec()
    sources: dict[str, Any] = {}
    events = []
    for event in records(story):
        data = codec.to_dict(event)
        data.pop("schema_version")
        data.pop("story")
        for item in (data, data.get("replacement") or {}):
            source = item.get("source")
            item.pop("sources", None)  # one source per bench event: "source" says it
            if source:
                sources[source["id"]] = {
                    k: v for k, v in source.items() if k not in ("id", "origin")
                }
                item["source"] = source["id"]
            item.pop("schema_version", None)
            item.pop("story", None)
        events.append(data)
    path.write_text(
        json.dumps(
            {
                "format": tl.FIXTURE_FORMAT,
                "story": "bench",
                "actors": {a: {"name": a} for a in story.actors},
                "sources": sources,
                "events": events,
            }
        ),
        encoding="utf-8",
    )


# --- building stores -----------------------------------------------------------------


def build_store(story: Story, path: Path, *, warm: bool = True) -> None:
    """A timeline store holding ``story`` (through the public API), snapshots built."""
    with tl.Timeline.open(path) as store:
        batch: list[tl.Event] = []  # unknown actors are registered as append meets them
        for event in records(story):
            batch.append(event)
            if len(batch) == BATCH:
                store.append(batch, story="bench")
                batch = []
        if batch:
            store.append(batch, story="bench")
        if warm:
            store.state(at="2000-01-01")


def rows_of(
    path: Path,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The exact rows a store holds (events, event_actors, actors): pre-serialised input."""
    conn = sqlite3.connect(path)
    events = conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    actors = conn.execute("SELECT position, actor, role FROM event_actors").fetchall()
    people = conn.execute("SELECT id, name, kind, aliases FROM actors").fetchall()
    conn.close()
    return events, actors, people


def empty_store(path: Path) -> None:
    """A store file with the timeline schema and nothing in it (the raw baseline's table)."""
    tl.Timeline.open(path).close()


def raw_insert(
    conn: sqlite3.Connection,
    events: list[tuple[Any, ...]],
    actors: list[tuple[Any, ...]],
    people: list[tuple[Any, ...]],
    batch: int = 0,
) -> None:
    """The raw baseline's bulk insert: the same rows and indexes, one transaction per
    ``batch`` events (the whole input in one when ``batch`` is 0)."""
    batch = batch or len(events) or 1
    by_position: dict[int, list[tuple[Any, ...]]] = {}
    for row in actors:
        by_position.setdefault(row[0], []).append(row)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO actors VALUES (?, ?, ?, ?)", people)
    width = len(events[0]) if events else 0  # as many columns as the schema has
    for start in range(0, len(events), batch):
        if start:
            conn.execute("BEGIN IMMEDIATE")
        rows = events[start : start + batch]
        conn.executemany(f"INSERT INTO events VALUES ({', '.join('?' * width)})", rows)
        conn.executemany(
            "INSERT INTO event_actors VALUES (?, ?, ?)",
            [a for row in rows for a in by_position.get(row[0], ())],
        )
        index_for_search(conn, rows[0][0] - 1)
        conn.execute("COMMIT")
    if not events:
        conn.execute("COMMIT")


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


# --- measurements: each returns seconds (and extra figures) ------------------------------


def m_import_append(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    work = Path(ctx["work"])
    story = generate(ctx["n"], ctx["seed"])
    target = work / f"import-{'lib' if lib else 'raw'}.db"
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    if lib:
        with _measured() as m:
            build_store(story, target, warm=False)
    else:
        events, actors, people = rows_of(Path(ctx["main"]))
        empty_store(target)
        conn = raw_connect(target)
        with _measured() as m:
            raw_insert(conn, events, actors, people, batch=BATCH)
        conn.close()
    _remove(target)
    return m.result(events=ctx["n"])


def m_import_fixture(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    work = Path(ctx["work"])
    fixture = Path(ctx["fixture"])
    target = work / f"fixture-{'lib' if lib else 'raw'}.db"
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    if lib:
        with tl.Timeline.open(target) as store, _measured() as m:
            report = store.load(fixture)
        count = report.appended
    else:
        events, actors, people = rows_of(Path(ctx["fixture_store"]))
        empty_store(target)
        conn = raw_connect(target)
        with _measured() as m:
            json.loads(fixture.read_text(encoding="utf-8"))
            raw_insert(conn, events, actors, people)
        conn.close()
        count = len(events)
    _remove(target)
    return m.result(events=count)


def m_single_append(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    work = Path(ctx["work"])
    count = ctx["single"]
    story = generate(count, ctx["seed"] + 1)
    target = work / f"single-{'lib' if lib else 'raw'}.db"
    _remove(target)
    if lib:
        with tl.Timeline.open(target) as store, _measured() as m:
            for cls, fields in story.fields:
                store.append([cls(**fields)], story="bench")
    else:
        build_store(story, work / "single-src.db", warm=False)
        events, actors, people = rows_of(work / "single-src.db")
        _remove(work / "single-src.db")
        empty_store(target)
        conn = raw_connect(target)
        conn.executemany("INSERT INTO actors VALUES (?, ?, ?, ?)", people)
        by_position: dict[int, list[tuple[Any, ...]]] = {}
        for row in actors:
            by_position.setdefault(row[0], []).append(row)
        with _measured() as m:
            for row in events:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"INSERT INTO events VALUES ({', '.join('?' * len(row))})", row)
                conn.executemany(
                    "INSERT INTO event_actors VALUES (?, ?, ?)", by_position.get(row[0], [])
                )
                index_for_search(conn, row[0] - 1)
                conn.execute("COMMIT")
        conn.close()
    _remove(target)
    return m.result(events=count)


def m_replay(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    path = Path(ctx["main"])
    if lib:
        # read-only: no snapshots, a full streaming fold of both projections
        with tl.Timeline.open(path, readonly=True) as store, _measured() as m:
            state = store.state(at="2100-01-01")
        facts = len(state.stances()) + len(state.order_intents())
    else:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        with _measured() as m:
            stances: dict[tuple[str, str], str] = {}
            intents: dict[tuple[str, str, str], str] = {}
            cursor = conn.execute("SELECT type, payload FROM events ORDER BY occurred_at, position")
            for kind, payload in cursor:
                data = json.loads(payload)
                if kind in ("announcement", "statement"):
                    stances[(data["actor"], data["topic"])] = data["position"]
                elif kind == "inquiry":
                    for buyer in data["inquirers"]:
                        intents.setdefault((buyer, data["supplier"], data["product"]), "exploring")
                elif kind in ("order_placed", "order_cancelled", "order_delivered"):
                    intents[(data["buyer"], data["supplier"], data["product"])] = kind
        conn.close()
        facts = len(stances) + len(intents)
    return m.result(events=ctx["n"], facts=facts)


def m_lookup(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    path = Path(ctx["lookup_db"])
    rng = random.Random(3)
    probes = ctx["probes"]
    conn = sqlite3.connect(path)
    keys = conn.execute(
        "SELECT json_extract(payload, '$.actor'), json_extract(payload, '$.topic'), occurred_at "
        "FROM events WHERE type IN ('announcement', 'statement') ORDER BY position"
    ).fetchall()
    conn.close()
    asks = [rng.choice(keys) for _ in range(probes)]
    if lib:
        with tl.Timeline.open(path) as store:
            store.stance(*asks[0][:2], at=asks[0][2])  # snapshots warm, caches filled
            with _measured() as m:
                found = sum(store.stance(a, t, at=when) is not None for a, t, when in asks)
    else:
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_stance AS SELECT json_extract(payload, '$.actor') "
            "AS actor, json_extract(payload, '$.topic') AS topic, occurred_at, position, payload "
            "FROM events WHERE type IN ('announcement', 'statement')"
        )
        conn.execute(
            "CREATE INDEX IF NOT EXISTS raw_stance_key ON raw_stance (actor, topic, occurred_at)"
        )
        conn.commit()
        query = (
            "SELECT payload FROM raw_stance WHERE actor = ? AND topic = ? AND occurred_at <= ? "
            "ORDER BY occurred_at DESC LIMIT 1"
        )
        with _measured() as m:
            found = 0
            for a, t, when in asks:
                row = conn.execute(query, (a, t, when)).fetchone()
                found += row is not None and json.loads(row[0]) is not None
        conn.close()
    result = m.result(events=ctx["lookup_n"], found=found)
    result["per_call_us"] = result["seconds"] / probes * 1e6
    return result


def m_first_state(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    """The first ``state()`` in a fresh process on the store as ``append`` left it
    (``lib`` only): what the writer's bounded upkeep did not refold, this query does."""
    work = Path(ctx["work"])
    copy = work / "first.db"
    _remove(copy)
    for suffix in ("", "-wal"):
        if Path(ctx["as_built"] + suffix).exists():
            shutil.copyfile(ctx["as_built"] + suffix, str(copy) + suffix)
    with tl.Timeline.open(copy) as store, _measured() as m:
        state = store.state()
    _remove(copy)
    return m.result(events=ctx["n"], facts=len(state.stances()) + len(state.order_intents()))


def m_lookup_cold(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    """As ``lookup``, but each probe in a newly opened store (empty SQLite page cache)."""
    path = Path(ctx["lookup_db"])
    rng = random.Random(5)
    conn = sqlite3.connect(path)
    keys = conn.execute(
        "SELECT json_extract(payload, '$.actor'), json_extract(payload, '$.topic'), occurred_at "
        "FROM events WHERE type IN ('announcement', 'statement') ORDER BY position"
    ).fetchall()
    if not lib:
        _raw_stance_table(conn)
    conn.close()
    asks = [rng.choice(keys) for _ in range(max(20, ctx["probes"] // 100))]
    query = (
        "SELECT payload FROM raw_stance WHERE actor = ? AND topic = ? AND occurred_at <= ? "
        "ORDER BY occurred_at DESC LIMIT 1"
    )
    seconds = 0.0
    found = 0
    for a, t, when in asks:
        if lib:
            with tl.Timeline.open(path) as store:
                started = time.perf_counter()
                found += store.stance(a, t, at=when) is not None
                seconds += time.perf_counter() - started
        else:
            conn = sqlite3.connect(path)
            started = time.perf_counter()
            row = conn.execute(query, (a, t, when)).fetchone()
            found += row is not None and json.loads(row[0]) is not None
            seconds += time.perf_counter() - started
            conn.close()
    return {"seconds": seconds, "per_call_us": seconds / len(asks) * 1e6, "found": found,
            "events": ctx["lookup_n"], "peak_rss_mib": None, "rss_growth_mib": None}  # fmt: skip


def _raw_stance_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw_stance AS SELECT json_extract(payload, '$.actor') "
        "AS actor, json_extract(payload, '$.topic') AS topic, occurred_at, position, payload "
        "FROM events WHERE type IN ('announcement', 'statement')"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS raw_stance_key ON raw_stance (actor, topic, occurred_at)"
    )
    conn.commit()


def m_state_at(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    """Full state at T (90% through the story): ``lib`` = with snapshots, raw = without."""
    path = Path(ctx["main"])
    at = ctx["t90"]
    with tl.Timeline.open(path, readonly=not lib) as store:
        if lib:
            store.state(at="2000-01-01")  # caught up, not timed
        with _measured() as m:
            state = store.state(at=at)
    return m.result(events=ctx["n"], facts=len(state.stances()) + len(state.order_intents()))


def m_backdated(ctx: dict[str, Any], lib: bool) -> dict[str, Any]:
    """A backdated append at the middle of the story, then a query (``lib`` only)."""
    work = Path(ctx["work"])
    copy = work / "backdated.db"
    _remove(copy)
    shutil.copyfile(ctx["main"], copy)
    with tl.Timeline.open(copy) as store:
        store.state(at="2000-01-01")
        late = tl.Statement(
            occurred_at=datetime.fromisoformat(ctx["t50"]),
            actor="actor-001",
            topic="topic-01",
            summary="A backdated report.",
        )
        with _measured() as m:
            store.append([late], story="bench")
            store.state(at=ctx["t90"])
        snapshots = store._snapshots
        folded = snapshots.folded if snapshots is not None else -1
    _remove(copy)
    return m.result(events=ctx["n"], refolded=folded)


MEASURES: dict[str, Callable[[dict[str, Any], bool], dict[str, Any]]] = {
    "import_append": m_import_append,
    "import_fixture": m_import_fixture,
    "single_append": m_single_append,
    "replay": m_replay,
    "lookup": m_lookup,
    "lookup_cold": m_lookup_cold,
    "first_state": m_first_state,
    "state_at": m_state_at,
    "backdated": m_backdated,
}


# --- timing and memory ------------------------------------------------------------------


class _measured:
    def __enter__(self) -> _measured:
        _reset_peak()
        self.rss0 = _rss_kib()
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.cpu0
        self.peak = _peak_kib()

    def result(self, **extra: Any) -> dict[str, Any]:
        grow = max(0, self.peak - self.rss0) if self.peak and self.rss0 else None
        # cpu_seconds: this process's CPU time (SQLite runs in it), which other work
        # on a shared machine moves much less than the wall clock
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "peak_rss_mib": _mib(self.peak), "rss_growth_mib": _mib(grow),
                **extra}  # fmt: skip


def _status(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_kib() -> int | None:
    return _status("VmRSS")


def _peak_kib() -> int | None:
    return _status("VmHWM")


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


# --- orchestration -------------------------------------------------------------------------


def run_one(name: str, ctx: dict[str, Any], lib: bool, isolate: bool) -> dict[str, Any]:
    if not isolate:
        return MEASURES[name](ctx, lib)
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--worker", name, "--lib" if lib else "--raw",
         "--ctx", json.dumps(ctx)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def plain_table_mib(store: Path, work: Path) -> float:
    """The size of a plain table holding ``store``'s payloads (the store size's yardstick)."""
    plain = work / "plain.db"
    _remove(plain)
    conn = sqlite3.connect(plain)
    conn.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, payload TEXT)")
    conn.execute("ATTACH DATABASE ? AS main_store", (str(store),))
    conn.execute("INSERT INTO events SELECT position, payload FROM main_store.events")
    conn.commit()
    conn.close()
    mib = plain.stat().st_size / 2**20
    _remove(plain)
    return mib


def prepare(
    n: int, seed: int, work: Path, quick: bool, only: list[str] | None = None
) -> dict[str, Any]:
    print(f"preparing a {n}-event story in {work} ...", file=sys.stderr, flush=True)
    story = generate(n, seed)
    main = work / "main.db"
    started = time.perf_counter()
    build_store(story, main, warm=False)  # the writer keeps the snapshots current
    build_seconds = time.perf_counter() - started
    _say(f"built through append in {build_seconds:.1f} s ({n / build_seconds:,.0f} events/s)")
    # as the writer left it, for the first query after the load (first_state)
    as_built = work / "as-built.db"
    if not only or "first_state" in only:
        for suffix in ("", "-wal"):
            if Path(str(main) + suffix).exists():
                shutil.copyfile(str(main) + suffix, str(as_built) + suffix)
    # what a full snapshot build costs (the backdated append's yardstick): from scratch
    conn = sqlite3.connect(main)
    conn.execute("DELETE FROM snapshot_checkpoint")
    conn.commit()
    conn.close()
    with tl.Timeline.open(main) as store:
        started = time.perf_counter()
        store.state(at="2000-01-01")
        snapshot_seconds = time.perf_counter() - started
    _say(f"snapshots rebuilt from scratch in {snapshot_seconds:.1f} s")
    plain_mib = round(plain_table_mib(main, work), 1)
    db_mib = main.stat().st_size / 2**20
    _say(f"store {db_mib:.1f} MiB = {db_mib / plain_mib:.2f}x a plain JSON table ({plain_mib} MiB)")
    times = sorted(f[1]["occurred_at"] for f in story.fields)
    fixture_n = min(n, 100_000)
    fixture = work / "fixture.json"
    fixture_store = work / "fixture-src.db"
    if not only or "import_fixture" in only:
        small = generate(fixture_n, seed) if fixture_n != n else story
        fixture_of(small, fixture)
        with tl.Timeline.open(fixture_store) as store:
            store.load(fixture)
    lookup_sizes = [s for s in ((500, 2000) if quick else (10_000, 100_000, 1_000_000)) if s <= n]
    lookup_dbs = {}
    for size in lookup_sizes:
        if size == n:
            lookup_dbs[size] = str(main)
        else:
            path = work / f"lookup-{size}.db"
            build_store(generate(size, seed), path)
            lookup_dbs[size] = str(path)
    return {
        "n": n,
        "seed": seed,
        "work": str(work),
        "main": str(main),
        "as_built": str(as_built),
        "fixture": str(fixture),
        "fixture_store": str(fixture_store),
        "fixture_n": fixture_n,
        "single": 200 if quick else 1000,
        "probes": 300 if quick else 3000,
        "t50": times[len(times) // 2].isoformat(),
        "t90": times[len(times) * 9 // 10].isoformat(),
        "lookup_dbs": lookup_dbs,
        "build_seconds": build_seconds,
        "snapshot_seconds": snapshot_seconds,
        "db_mib": round(main.stat().st_size / 2**20, 1),
        "plain_mib": plain_mib,
    }


def main() -> None:
    backend = _backend_argument()
    if backend == "postgres":
        # the PostgreSQL store against raw psycopg: its own script, same conventions
        import runpy

        runpy.run_path(str(HERE / "postgres.py"), run_name="__main__")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="events in the story")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per measurement (1 for very long runs)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--only", nargs="*", choices=sorted(MEASURES), help="run these only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="where to build stores (default: temp)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres"], default="sqlite", help="see bench/postgres.py"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--lib", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ctx", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(MEASURES[args.worker](json.loads(args.ctx), args.lib)))
        return
    n = 2000 if args.quick else args.n
    rounds = 3 if args.quick else max(1, args.rounds)
    isolate = not args.quick
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        ctx = prepare(n, args.seed, Path(tmp), args.quick, args.only)
        partial = args.json.with_suffix(".partial.json") if args.json else None
        results = measure(ctx, rounds, isolate, args.only, partial)
    report(ctx, results, rounds, args)


def _backend_argument() -> str:
    """``--backend NAME`` (or ``--backend=NAME``), removed from ``sys.argv`` if postgres."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            name, drop = argv[i + 1], 2
        elif arg.startswith("--backend="):
            name, drop = arg.split("=", 1)[1], 1
        else:
            continue
        if name == "postgres":
            sys.argv = [sys.argv[0], *argv[:i], *argv[i + drop :]]
        return name
    return "sqlite"


def measure(
    ctx: dict[str, Any],
    rounds: int,
    isolate: bool,
    only: list[str] | None,
    partial: Path | None = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Run every measurement ``rounds`` times; after each round the runs so far go to
    ``partial`` (long runs leave figures even if stopped)."""
    plan: list[tuple[str, dict[str, Any], bool]] = []
    for name in only or list(MEASURES):
        if name in ("lookup", "lookup_cold"):
            for size, path in ctx["lookup_dbs"].items():
                sub = {**ctx, "lookup_db": path, "lookup_n": int(size)}
                plan.append((f"{name}@{size}", sub, True))
        elif name in ("backdated", "first_state"):
            plan.append((name, ctx, False))  # no raw counterpart: compared with the build
        else:
            plan.append((name, ctx, True))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in range(rounds):
        for label, sub, has_raw in plan:
            name = label.split("@")[0]
            slot = results.setdefault(label, {"lib": [], "raw": []})
            slot["lib"].append(run_one(name, sub, True, isolate))
            if has_raw:
                slot["raw"].append(run_one(name, sub, False, isolate))
            lib, raw = slot["lib"][-1].get("seconds"), (slot["raw"] or [{}])[-1].get("seconds")
            print(f"  {label}: timeline {lib} s, raw {raw} s", file=sys.stderr, flush=True)
            if partial is not None:  # after each measure: long runs leave what they reached
                partial.write_text(json.dumps({"ctx": ctx, "runs": results}, indent=1, default=str))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def _median(runs: list[dict[str, Any]], key: str = "seconds") -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def report(
    ctx: dict[str, Any], results: dict[str, dict[str, list[dict[str, Any]]]], rounds: int,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    rows = []
    summary: dict[str, Any] = {}
    for label, runs in results.items():
        lib, raw = _median(runs["lib"]), _median(runs["raw"])
        events = runs["lib"][0].get("events") or ctx["n"]
        name = label.split("@")[0]
        if name == "first_state":
            assert lib is not None
            rows.append([label, f"{lib * 1000:.1f}", "", "ms (fresh process)", "",
                         _median(runs["lib"], "peak_rss_mib")])  # fmt: skip
            summary[label] = {"ms": lib * 1000}
        elif name in ("lookup", "lookup_cold"):
            lib_v, raw_v = _median(runs["lib"], "per_call_us"), _median(runs["raw"], "per_call_us")
            unit = "us/lookup"
            ratio = lib_v / raw_v if lib_v and raw_v else None
            rows.append([label, f"{lib_v:.1f}", f"{raw_v:.1f}", unit, f"{ratio:.2f}x raw",
                         _median(runs["lib"], "peak_rss_mib")])  # fmt: skip
            summary[label] = {"lib_us": lib_v, "raw_us": raw_v, "lib_over_raw": ratio}
        elif name in ("import_append", "import_fixture", "single_append", "replay"):
            assert lib is not None
            assert raw is not None
            lib_rate, raw_rate = events / lib, events / raw
            ratio = lib_rate / raw_rate
            lib_cpu = _median(runs["lib"], "cpu_seconds")
            raw_cpu = _median(runs["raw"], "cpu_seconds")
            cpu_ratio = raw_cpu / lib_cpu if lib_cpu and raw_cpu else None
            shown = f"{ratio:.2f} of raw" + (f" (CPU {cpu_ratio:.2f})" if cpu_ratio else "")
            rows.append([label, f"{lib_rate:,.0f}", f"{raw_rate:,.0f}", "events/s",
                         shown, _median(runs["lib"], "peak_rss_mib")])  # fmt: skip
            growth = _median(runs["lib"], "rss_growth_mib")
            summary[label] = {"lib_per_s": lib_rate, "raw_per_s": raw_rate, "ratio": ratio,
                              "cpu_ratio": cpu_ratio, "lib_rss_growth_mib": growth}  # fmt: skip
        elif name == "state_at":
            assert lib is not None
            assert raw is not None
            replay = _median(results["replay"]["lib"]) if "replay" in results else None
            share = f"{lib / replay:.2%} of full replay" if replay else ""
            rows.append([label, f"{lib * 1000:.1f}", f"{raw * 1000:.1f}", "ms (snapshots / fold)",
                         share, _median(runs["lib"], "peak_rss_mib")])  # fmt: skip
            summary[label] = {"with_snapshots_ms": lib * 1000, "without_ms": raw * 1000,
                              "of_full_replay": lib / replay if replay else None}  # fmt: skip
        elif name == "backdated":
            assert lib is not None
            refolded = runs["lib"][0].get("refolded")
            rows.append([label, f"{lib * 1000:.1f}", f"{ctx['snapshot_seconds'] * 1000:.1f}",
                         "ms (append+query / full build)", f"refolded {refolded} of {ctx['n']}",
                         _median(runs["lib"], "peak_rss_mib")])  # fmt: skip
            summary[label] = {"ms": lib * 1000, "full_build_ms": ctx["snapshot_seconds"] * 1000,
                              "refolded": refolded, "events": ctx["n"]}  # fmt: skip
    print()
    print(f"timeline bench: n={ctx['n']} rounds={rounds} (medians) "
          f"python {platform.python_version()} sqlite {sqlite3.sqlite_version} "
          f"cpus {os.cpu_count()} {datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
    print(f"store: {ctx['db_mib']} MiB = {ctx['db_mib'] / ctx['plain_mib']:.2f}x a plain JSON "
          f"table ({ctx['plain_mib']} MiB); built through append (snapshots kept current) in "
          f"{ctx['build_seconds']:.1f} s; snapshots rebuilt from scratch in "
          f"{ctx['snapshot_seconds']:.1f} s")  # fmt: skip
    print(tabulate(rows, headers=["measure", "timeline", "raw sqlite3", "unit", "ratio",
                                  "peak RSS MiB"]))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"ctx": ctx, "summary": summary, "runs": results},
                                        indent=1, default=str))  # fmt: skip


if __name__ == "__main__":
    main()

"""What a single append writes to the write-ahead log, beside raw ``sqlite3``.

Usage (from the project root, in the project's virtualenv)::

    python bench/wal_pages.py --appends 100 --warm 1000

The bench story (``bench/run.py``'s generator) is appended one event per transaction,
through ``Timeline.append`` (with the writer's snapshot upkeep) and, on a store file
with the same schema, as the raw baseline of ``bench/run.py``'s single appends does
(the same rows, ``event_actors`` and the search index, plain ``sqlite3``). After
``--warm`` appends, automatic checkpoints are switched off and ``--appends`` more are
made; the log's frames are then read back and each page is named by the table or index
that owns it (SQLite's ``dbstat``). Printed: pages per commit, for each side and each
B-tree, and the time a commit takes per page it writes, measured on a plain table in
the same run (one row into each of N tables per transaction, N = 1 to 32).

A commit in WAL mode writes every page the transaction changed as one frame of the
log: the commit's cost follows the number of pages, whatever their rows.
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file

import timeline as tl
from timeline.store._schema import index_for_search


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _frames(path: Path) -> tuple[list[int], int]:
    """The page number of every frame in ``path``'s log, and how many commits it holds."""
    pages: list[int] = []
    commits = 0
    with open(f"{path}-wal", "rb") as log:
        header = log.read(32)
        page_size = struct.unpack(">I", header[8:12])[0]
        while True:
            frame = log.read(24)
            if len(frame) < 24:
                break
            page, commit = struct.unpack(">II", frame[:8])
            log.seek(page_size, os.SEEK_CUR)
            pages.append(page)
            commits += bool(commit)
    return pages, commits


def _owners(path: Path, pages: list[int], commits: int) -> dict[str, float]:
    conn = sqlite3.connect(path)
    owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    conn.close()
    counts = collections.Counter(owner.get(p, "(free)") for p in pages)
    return {name: count / commits for name, count in counts.most_common()}


def library(path: Path, story: Any, warm: int, appends: int) -> dict[str, float]:
    _remove(path)
    items = list(story.fields)
    with tl.Timeline.open(path) as store:
        conn = store.store.conn  # type: ignore[attr-defined]
        for cls, fields in items[:warm]:
            store.append([cls(**fields)], story="bench")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        for cls, fields in items[warm : warm + appends]:
            store.append([cls(**fields)], story="bench")
        pages, commits = _frames(path)
        found = _owners(path, pages, commits)
    _remove(path)
    return found


def raw(path: Path, work: Path, story: Any, warm: int, appends: int) -> dict[str, float]:
    source = work / "raw-source.db"
    run.build_store(story, source, warm=False)
    events, actors, people = run.rows_of(source)
    _remove(source)
    _remove(path)
    run.empty_store(path)
    conn = run.raw_connect(path)
    conn.executemany("INSERT INTO actors VALUES (?, ?, ?, ?)", people)
    by_position: dict[int, list[tuple[Any, ...]]] = {}
    for row in actors:
        by_position.setdefault(row[0], []).append(row)

    def one(row: tuple[Any, ...]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO events VALUES ({', '.join('?' * len(row))})", row)
        conn.executemany("INSERT INTO event_actors VALUES (?, ?, ?)", by_position.get(row[0], []))
        index_for_search(conn, row[0] - 1)
        conn.execute("COMMIT")

    for row in events[:warm]:
        one(row)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    for row in events[warm : warm + appends]:
        one(row)
    pages, commits = _frames(path)
    conn.close()
    found = _owners(path, pages, commits)
    _remove(path)
    return found


def commit_cost(path: Path, page_size: int, tables: int, commits: int) -> float:
    """Microseconds a commit takes that writes one new row into each of ``tables``
    tables (so about one page each), WAL and ``synchronous = NORMAL`` as the store."""
    _remove(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {page_size}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for i in range(tables):
        conn.execute(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT)")
    spent = 0.0
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        for i in range(tables):
            conn.execute(f"INSERT INTO t{i} (v) VALUES (?)", ("x" * 100,))
        started = time.perf_counter()
        conn.execute("COMMIT")
        spent += time.perf_counter() - started
    conn.close()
    _remove(path)
    return spent / commits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=1000, help="appends before the count")
    parser.add_argument("--appends", type=int, default=100, help="appends counted")
    parser.add_argument("--commits", type=int, default=1000, help="commits per cost point")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    story = run.generate(args.warm + args.appends, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lib = library(work / "lib.db", story, args.warm, args.appends)
        base = raw(work / "raw.db", work, story, args.warm, args.appends)
        print(f"pages per commit: timeline {sum(lib.values()):.1f}, raw {sum(base.values()):.1f}")
        rows = sorted(set(lib) | set(base), key=lambda n: -(lib.get(n, 0) + base.get(n, 0)))
        print(f"  {'B-tree':34s} {'timeline':>9s} {'raw':>6s}")
        for name in rows:
            print(f"  {name:34s} {lib.get(name, 0):9.2f} {base.get(name, 0):6.2f}")
        print("commit cost (us) by pages written, WAL, synchronous = NORMAL:")
        for size in (4096, 8192):
            costs = [
                (n, commit_cost(work / "cost.db", size, n, args.commits)) for n in (1, 8, 16, 32)
            ]
            line = ", ".join(f"{n} pages {us:.0f}" for n, us in costs)
            slope = (costs[-1][1] - costs[0][1]) / (costs[-1][0] - costs[0][0])
            print(f"  {size // 1024} KiB pages: {line}; {slope:.1f} us a page")


if __name__ == "__main__":
    main()

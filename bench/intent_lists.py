"""What the lists that order intent versions repeat cost a store, in four shapes.

Every stored version of an order intent holds its whole ``blocked_by`` list (the ids of
the restrictions in force that apply to it). The compact-store work left two ways open
to stop repeating it; this measures them, and a third, on a store you already have,
from its stored versions as they are (nothing is folded or timed):

- **now**: the versions as stored (compressed where that pays, as the store does);
- **derived**: the versions without the list, filled in at read time from the
  restrictions in force in the same state (``bench/derived_blocking.py`` checks that
  this gives the same lists);
- **interned**: the list stored once in a table of lists, each version citing its
  number (as the versions cite sources);
- **split**: the list as a fact of its own, with a version only where it changes.

It also counts which fields change from one version of an intent to the next: a shape
that writes the list apart saves rows only where the list changes alone.

    python bench/intent_lists.py STORE.db

``STORE.db`` is opened read-only. Bring its snapshots up to date first (any query
does, e.g. ``timeline state STORE.db``): the versions measured are those stored.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from timeline.codec import Codec
from timeline.projections.layout import FactLayout
from timeline.projections.orders import OrderIntent
from timeline.store._schema import pack_fact, unpack_fact

MIB = 1024 * 1024
_ROW = 2 * 32  # bytes a version row adds beyond its fact: its key, okey and index entry


def _stored(value: str | bytes | None) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, bytes) else len(value.encode("utf-8"))


def _encoded(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a store with snapshots (any story)")
    args = parser.parse_args()
    layout = FactLayout(OrderIntent, Codec())
    names = ["(tag)", *(name for name, _ in layout.fields)]
    at = names.index("blocked_by")
    conn = sqlite3.connect(f"{args.store.resolve().as_uri()}?mode=ro", uri=True)
    try:
        file_bytes = conn.execute(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"
        ).fetchone()[0]
        covered = conn.execute("SELECT max(position) FROM snapshot_checkpoint").fetchone()[0]
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0]
        versions = now = derived = numbered = once = split = split_rows = 0
        interned: dict[tuple[str, ...], int] = {}
        changes: Counter[tuple[str, ...]] = Counter()
        previous: dict[int, list[Any]] = {}
        rows = conn.execute("SELECT key_id, okey, fact FROM fact_versions ORDER BY key_id, okey")
        for key_id, _, fact in rows:
            if fact is None:
                previous.pop(key_id, None)
                continue
            text = unpack_fact(fact)
            if not text.startswith(f'["{layout.tag}"'):
                continue
            data = json.loads(text)
            versions += 1
            now += _stored(fact)
            blocked = tuple(data[at])
            rest = _encoded(data[:at] + data[at + 1 :])
            derived += _stored(pack_fact(rest))
            number = interned.get(blocked)
            if number is None:
                number = interned[blocked] = len(interned) + 1
                once += _stored(pack_fact(_encoded(list(blocked)))) + _ROW // 2
            numbered += _stored(pack_fact(_encoded([*data[:at], number, *data[at + 1 :]])))
            before = previous.get(key_id)
            changed = (
                tuple(n for n, a, b in zip(names, data, before, strict=True) if a != b)
                if before is not None
                else ("(new)",)
            )
            changes[changed] += 1
            if before is None or changed != ("blocked_by",):
                split += _stored(pack_fact(rest))  # the intent's own version
            else:
                split_rows -= 1  # the list changed alone: no version of the intent
            if before is None or "blocked_by" in changed:
                split += _stored(pack_fact(_encoded(list(blocked))))
                split_rows += 1
            previous[key_id] = data
    finally:
        conn.close()
    if not versions:
        print(f"{args.store}: no order intent versions stored (no snapshots, or no intents)")
        return 1

    def line(name: str, stored: int, note: str = "") -> None:
        saved = now - stored
        print(
            f"  {name:<9} {stored / MIB:9.1f} MiB  saves {saved / MIB:7.1f} MiB "
            f"({saved / file_bytes:6.1%} of the file){note}"
        )

    print(
        f"{args.store}: {file_bytes / MIB:,.1f} MiB, snapshots at position {covered} of "
        f"{head}; {versions:,} order intent versions"
    )
    line("now", now)
    line("derived", derived, ", no table")
    line("interned", numbered + once, f", {len(interned):,} distinct lists in a table")
    line("split", split + split_rows * _ROW, f", {split_rows:+,} version rows")
    print("fields changed from an intent's version before (most common):")
    for fields, count in changes.most_common(8):
        print(f"  {count:9,}  {', '.join(fields)}")
    alone = changes.get(("blocked_by",), 0)
    same = sum(n for f, n in changes.items() if f != ("(new)",) and "blocked_by" not in f)
    print(f"the list changed alone in {alone:,} of {versions:,} versions")
    print(f"the list is the version before's in {same:,} of {versions:,} versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())

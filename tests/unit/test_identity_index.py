"""The identity index gives the answers of the whole-table identity check.

``identity_problem`` used to fold and skeletonise every stored id, alias and name on
each check; a store now keeps an :class:`IdentityIndex` and adds the actors it
inserts. The reference below is the whole-table check as it was; random actors over
a small alphabet of look-alike, case and width variants must get the same answer
from it, from an index built at once, and from one kept up append by append.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

import timeline as tl
from timeline.identity import (
    IdentityIndex,
    _describe,
    fold,
    identity_problem,
    invisible_character,
    look_alike,
    skeleton,
)
from timeline.store._batch import identity_index
from timeline.store.registrations import stored_identity


def reference(
    actors: list[tl.Actor], existing: dict[str, str], names: dict[str, str]
) -> tuple[str, str, str] | None:
    """The check as it was before the index (whole tables, every time)."""
    owners: dict[str, str] = {}
    shapes: dict[str, tuple[str, str]] = {}
    for key, owner in existing.items():
        owners.setdefault(fold(key), owner)
        shapes.setdefault(skeleton(key), (owner, key))
    for key, owner in names.items():
        shapes.setdefault(skeleton(key), (owner, key))
    for actor in actors:
        shapes.setdefault(skeleton(actor.name), (actor.id, actor.name))
    for actor in actors:
        keys = [("id", actor.id)] + [(f"aliases[{i}]", a) for i, a in enumerate(actor.aliases)]
        for field, key in keys:
            what = f"{'id' if field == 'id' else 'alias'} {key!r} of actor {actor.id!r}"
            char = invisible_character(key)
            if char is not None:
                return (
                    actor.id,
                    field,
                    f"{what} contains the invisible or bidirectional control character "
                    f"{_describe(char)} ({field})",
                )
            taken = owners.get(fold(key))
            if taken is not None and taken != actor.id:
                return (actor.id, field, f"{what} already names actor {taken!r}")
            other = shapes.get(skeleton(key))
            if other is not None and other[0] != actor.id and look_alike(other[1], key):
                return (
                    actor.id,
                    field,
                    f"{what} looks like {other[1]!r} of actor {other[0]!r} "
                    f"(confusable characters, {field})",
                )
            owners[fold(key)] = actor.id
            shapes.setdefault(skeleton(key), (actor.id, key))
    return None


# letters with Cyrillic/Greek look-alikes, case and full-width variants, digits, an
# invisible character: small, so that collisions of every kind are common
letters = st.sampled_from([*"aoOl1iI0", "\u0430", "\u043e", "\u03bf", "\u0456", "\uff41", "\u200b"])
keys = st.text(letters, min_size=1, max_size=3)
actors = st.builds(
    lambda i, name, aliases: tl.Actor(id=i, name=name, aliases=tuple(aliases)),
    keys,
    keys,
    st.lists(keys, max_size=2),
)


def tables(stored: list[tl.Actor]) -> tuple[dict[str, str], dict[str, str]]:
    existing: dict[str, str] = {}
    names: dict[str, str] = {}
    for a in stored:
        existing[a.id] = a.id
        names[a.name] = a.id
        for alias in a.aliases:
            existing[alias] = a.id
    return existing, names


@settings(max_examples=300, deadline=None)
@given(stored=st.lists(actors, max_size=6), declared=st.lists(actors, min_size=1, max_size=3))
def test_the_index_answers_as_the_whole_table_check(
    stored: list[tl.Actor], declared: list[tl.Actor]
) -> None:
    existing, names = tables(stored)
    want = reference(declared, existing, names)
    assert (identity_problem(declared, existing, names)) == want
    index = identity_index((a.id, a.name, a.aliases) for a in stored)
    assert (identity_problem(declared, index=index)) == want
    assert (identity_problem(declared, index=IdentityIndex.of(existing, names))) == want


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.lists(actors, min_size=1, max_size=3), min_size=1, max_size=4),
       probe=st.lists(actors, min_size=1, max_size=2))  # fmt: skip
@example(  # look-alikes where the row order, not the id order, decides the answer
    batches=[[tl.Actor(id="\u03bf", name="0"), tl.Actor(id="0", name="0")]],
    probe=[tl.Actor(id="0", name="0")],
)
def test_an_index_kept_across_appends_equals_one_read_afresh(
    batches: list[list[tl.Actor]], probe: list[tl.Actor]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, tl.Timeline.open(Path(tmp) / "t.db") as t:
        store = t.store
        for batch in batches:
            # a refused batch stores nothing, and the kept index is dropped
            with contextlib.suppress(tl.TimelineError):
                store.register_actors(batch)  # type: ignore[attr-defined]
        kept = store._identity  # type: ignore[attr-defined]
        fresh = stored_identity(store.conn)  # type: ignore[attr-defined]
        if kept is not None:
            assert identity_problem(probe, index=kept[1]) == identity_problem(probe, index=fresh)
        # what the table holds now, in its row order (the order the store reads it
        # in, which decides which of two look-alike spellings is compared first)
        rows = store.conn.execute("SELECT id, name, aliases FROM actors").fetchall()  # type: ignore[attr-defined]
        stored = [tl.Actor(id=r[0], name=r[1], aliases=tuple(json.loads(r[2]))) for r in rows]
        existing, names = tables(stored)
        assert identity_problem(probe, index=fresh) == reference(probe, existing, names)

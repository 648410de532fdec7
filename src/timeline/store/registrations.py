"""Actors, aliases and story titles in a hash chain of their own: the registrations.

Every write that changes an actor (its name, kind or aliases) or a story's title
appends one record to the ``registrations`` table, ``(seq, kind, key, value,
prev_hash, hash)`` with ``hash = sha256(prev_hash + canonical([seq, kind, key,
value]))`` and ``seq`` 1, 2, 3 ... (the first ``prev_hash`` is 64 zeros, as in the
event log). ``value`` is canonical JSON: for an actor the whole row after the write,
``{"aliases": [...], "kind": ..., "name": ...}``; for a title the title as a JSON
string. UPDATE and DELETE on the table are refused by triggers, as on ``events``.

The ``actors``, ``actor_aliases`` and ``stories`` tables stay the store's working
copies (lookups read them); :func:`check` re-walks the chain and names every row of
those tables that differs from the chain's last word. Both backends hash the same
bytes: the canonical JSON of text and integers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from timeline.codec import canonical_bytes_plain, canonical_json_plain
from timeline.errors import IntegrityError, ValidationError
from timeline.identity import IdentityIndex
from timeline.store._batch import identity_index, refuse_actor_identity
from timeline.store.recorded import Actor

__all__ = [
    "ACTOR",
    "COLUMNS",
    "TITLE",
    "actor_value",
    "append_records",
    "backfill",
    "check",
    "record_hash",
    "title_value",
]

GENESIS_HASH = "0" * 64
ACTOR = "actor"
TITLE = "title"
COLUMNS = "seq, kind, key, value, prev_hash, hash"


class _Execute(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any: ...


def record_hash(prev_hash: str, seq: int, kind: str, key: str, value: str) -> str:
    """sha256 over the previous hash and the canonical form of ``[seq, kind, key, value]``."""
    body = canonical_bytes_plain([seq, kind, key, value])
    return hashlib.sha256(prev_hash.encode("utf-8") + body).hexdigest()


def actor_value(name: str, kind: str, aliases: Iterable[str]) -> str:
    """The registered form of an actor's row."""
    return canonical_json_plain({"name": name, "kind": kind, "aliases": list(aliases)})


def title_value(title: str) -> str:
    """The registered form of a story's title."""
    return canonical_json_plain(title)


def chain(
    last: Sequence[Any] | None, items: Iterable[tuple[str, str, str]]
) -> list[tuple[int, str, str, str, str, str]]:
    """Records for ``(kind, key, value)`` items continuing a chain whose last record
    is ``(seq, hash)`` (``None``: an empty chain)."""
    seq, prev = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS_HASH)
    out: list[tuple[int, str, str, str, str, str]] = []
    for kind, key, value in items:
        seq += 1
        digest = record_hash(prev, seq, kind, key, value)
        out.append((seq, kind, key, value, prev, digest))
        prev = digest
    return out


def append_records(conn: _Execute, items: Iterable[tuple[str, str, str]]) -> None:
    """Append ``(kind, key, value)`` records inside the caller's write transaction
    (``?`` placeholders)."""
    items = list(items)
    if not items:
        return
    last = conn.execute("SELECT seq, hash FROM registrations ORDER BY seq DESC LIMIT 1").fetchone()
    for row in chain(last, items):
        conn.execute(f"INSERT INTO registrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row)


def backfill(
    actors: Iterable[Sequence[Any]], titles: Iterable[Sequence[Any]]
) -> list[tuple[int, str, str, str, str, str]]:
    """The records that register a store's actors ``(id, name, kind, aliases JSON)``
    and titles ``(story, title)`` as they stand (the migration that adds the chain):
    actors by id, then titles by story."""
    items = [
        (ACTOR, str(r[0]), actor_value(r[1], r[2], json.loads(r[3])))
        for r in sorted(actors, key=lambda r: str(r[0]))
    ]
    items += [
        (TITLE, str(r[0]), title_value(r[1]))
        for r in sorted(titles, key=lambda r: str(r[0]))
        if r[1] is not None
    ]
    return chain(None, items)


def _walk(
    rows: Iterable[Sequence[Any]], reached: int | None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Re-walk the chain; return the registered actors and titles."""
    prev, expected = GENESIS_HASH, 1
    actors: dict[str, dict[str, Any]] = {}
    titles: dict[str, str] = {}
    for seq, kind, key, value, prev_hash, digest in rows:
        where = f"registration {seq} ({kind} {key!r})"
        if seq != expected:
            raise IntegrityError(0, f"registration {expected} is missing (next stored is {seq})")
        if prev_hash != prev:
            raise IntegrityError(0, f"{where}: previous-hash link does not match")
        if record_hash(prev, seq, kind, key, value) != digest:
            raise IntegrityError(0, f"{where}: content does not match its hash")
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise IntegrityError(0, f"{where}: value is not valid JSON") from exc
        if kind == ACTOR and isinstance(data, dict):
            actors[key] = data
        elif kind == TITLE and isinstance(data, str):
            titles[key] = data
        else:
            raise IntegrityError(0, f"{where}: not a registration this store writes")
        prev, expected = digest, expected + 1
    if reached is not None and reached >= expected:
        raise IntegrityError(
            0, f"registrations missing at the end of the chain (it reached {reached})"
        )
    return actors, titles


def check(
    rows: Iterable[Sequence[Any]],
    *,
    actors: Iterable[Sequence[Any]],
    aliases: Iterable[Sequence[Any]],
    stories: Iterable[Sequence[Any]],
    event_stories: Iterable[str],
    reached: int | None = None,
) -> None:
    """Re-walk the registrations and compare the working tables with them.

    Args:
        rows: every registration, by ``seq`` (every column of :data:`COLUMNS`).
        actors: rows ``(id, name, kind, aliases JSON)`` of ``actors``.
        aliases: rows ``(alias, actor)`` of ``actor_aliases``.
        stories: rows ``(story, title)`` of ``stories``.
        event_stories: every story the event log holds.
        reached: the highest ``seq`` ever handed out, if the backend remembers it.

    Raises:
        IntegrityError: the chain is broken, or naming (up to ten) rows that differ.
    """
    registered, titles = _walk(rows, reached)
    problems: list[str] = []
    seen: set[str] = set()
    for actor_id, name, kind, aliases_json in actors:
        seen.add(actor_id)
        want = registered.get(actor_id)
        if want is None:
            problems.append(f"actor {actor_id!r} is in table actors but was never registered")
            continue
        try:
            have_aliases = json.loads(aliases_json)
        except ValueError:
            have_aliases = aliases_json
        have = {"name": name, "kind": kind, "aliases": have_aliases}
        for field in ("name", "kind", "aliases"):
            if have[field] != want.get(field):
                problems.append(
                    f"actor {actor_id!r}: {field} is {have[field]!r} in table actors, "
                    f"{want.get(field)!r} as registered"
                )
    problems += [
        f"registered actor {a!r} is missing from table actors" for a in registered if a not in seen
    ]
    wanted = {
        (str(alias).casefold(), actor_id)
        for actor_id, data in registered.items()
        for alias in data.get("aliases", ())
    }
    owners = dict(wanted)
    present: set[tuple[str, str]] = set()
    for alias, actor_id in aliases:
        key = (str(alias).casefold(), actor_id)
        present.add(key)
        if key not in wanted:
            owner = owners.get(key[0])
            problems.append(
                f"alias {alias!r} names actor {actor_id!r} in table actor_aliases, but "
                + (f"it is registered for {owner!r}" if owner else "was never registered")
            )
    problems += [
        f"registered alias {alias!r} of actor {actor_id!r} is missing from table actor_aliases"
        for alias, actor_id in sorted(wanted - present)
    ]
    with_events = set(event_stories)
    listed: set[str] = set()
    for story, title in stories:
        listed.add(story)
        want_title = titles.get(story)
        if title != want_title:
            problems.append(
                f"story {story!r}: title is {title!r} in table stories, "
                + (repr(want_title) + " as registered" if want_title else "never registered")
            )
        elif story not in with_events and want_title is None:
            problems.append(f"story {story!r} is in table stories with no events and no title")
    problems += [
        f"story {s!r} has a registered title but no row in table stories"
        for s in sorted(set(titles) - listed)
    ]
    problems += [
        f"story {s!r} has events but no row in table stories" for s in sorted(with_events - listed)
    ]
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise IntegrityError(
            0,
            "actors, aliases and titles differ from their registrations: "
            + "; ".join(problems[:10])
            + more,
        )


def stored_identity(conn: _Execute) -> IdentityIndex:
    """The identity index of every stored actor (row order)."""
    rows = conn.execute("SELECT id, name, aliases FROM actors").fetchall()
    return identity_index((r[0], r[1], json.loads(r[2])) for r in rows)


def upsert_actors(
    conn: _Execute,
    actors: Iterable[Actor],
    *,
    alias_owner: str,
    index: IdentityIndex | None = None,
) -> None:
    """Declare or update ``actors`` inside the caller's write transaction, registering
    each change (``?`` placeholders; both backends).

    ``alias_owner`` is the backend's query for the actor that owns an alias (its
    case-insensitive match differs: a ``NOCASE`` column on SQLite, ``lower()`` on
    PostgreSQL). ``index`` is :func:`stored_identity` as the caller kept it (read
    here when not given): actors inserted are added to it, and it is marked
    ``stale`` when a stored actor changes.
    """
    actors = list(actors)
    if actors:
        if index is None:
            index = stored_identity(conn)
        refuse_actor_identity(actors, index=index)
    records: dict[str, str] = {}  # id -> the registered value, once per actor
    for actor in actors:
        row = conn.execute(
            "SELECT name, kind, aliases FROM actors WHERE id = ?", (actor.id,)
        ).fetchone()
        aliases = list(actor.aliases)
        if row is not None:
            merged = list(json.loads(row[2]))
            merged += [a for a in aliases if a not in merged]
            name = actor.name if actor.name and actor.name != actor.id else row[0]
            kind = actor.kind or row[1]
            if (name, kind, merged) != (row[0], row[1], json.loads(row[2])):
                if index is not None:
                    index.stale = True  # a row changed in place: read it again next time
                conn.execute(
                    "UPDATE actors SET name = ?, kind = ?, aliases = ? WHERE id = ?",
                    (name, kind, json.dumps(merged, ensure_ascii=False), actor.id),
                )
                records[actor.id] = actor_value(name, kind, merged)
            aliases = merged
        else:
            conn.execute(
                "INSERT INTO actors (id, name, kind, aliases) VALUES (?, ?, ?, ?)",
                (actor.id, actor.name, actor.kind, json.dumps(aliases, ensure_ascii=False)),
            )
            records[actor.id] = actor_value(actor.name, actor.kind, aliases)
            if index is not None:
                index.add(actor.id, actor.name, aliases)
        for alias in aliases:
            owner = conn.execute(alias_owner, (alias,)).fetchone()
            if owner is not None and owner[0] != actor.id:
                raise ValidationError(
                    f"alias {alias!r} of actor {actor.id!r} already names actor {owner[0]!r}",
                    field="aliases",
                )
            if owner is None:
                conn.execute(
                    "INSERT INTO actor_aliases (alias, actor) VALUES (?, ?)", (alias, actor.id)
                )
    append_records(conn, [(ACTOR, key, value) for key, value in records.items()])


def set_titles(conn: _Execute, titles: Iterable[tuple[str, str | None]]) -> None:
    """Give stories these titles (``None`` keeps a story's title) inside the caller's
    write transaction, registering each change (``?`` placeholders; both backends)."""
    records = []
    for story, title in titles:
        row = conn.execute("SELECT title FROM stories WHERE story = ?", (story,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO stories (story, title) VALUES (?, ?)", (story, title))
        elif title is not None and row[0] != title:
            conn.execute("UPDATE stories SET title = ? WHERE story = ?", (title, story))
        else:
            continue
        if title is not None:
            records.append((TITLE, story, title_value(title)))
    append_records(conn, records)

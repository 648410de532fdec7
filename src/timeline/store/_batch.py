"""Building one append's rows under the write lock: checks, times, versions, hashes."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from timeline import events as ev
from timeline._codegen import compile_function
from timeline.clock import Clock
from timeline.codec import Codec, loads_trusted, slot_setter
from timeline.errors import (
    DuplicateEventError,
    TimelineError,
    UnknownActorError,
    ValidationError,
)
from timeline.identity import IdentityIndex, fold, identity_problem
from timeline.registry import target_of, target_problem
from timeline.store._where import id_chunks
from timeline.store.integrity import GENESIS_HASH, row_hash
from timeline.store.recorded import Actor, RecordedEvent
from timeline.times import from_text, to_text, to_text_spelled

__all__ = [
    "Batch",
    "check_append",
    "find_nul",
    "not_unicode",
    "refuse_nul",
    "refuse_nul_in_actors",
    "with_fields",
]


def find_nul(value: Any, path: str) -> str | None:
    """The dotted path of the first text holding a NUL character, or ``None``.

    PostgreSQL cannot store NUL in text, so neither backend accepts it: the
    two must agree on which events are valid.
    """
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_nul(key, path) or find_nul(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_nul(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def refuse_nul(value: Any, path: str, where: str) -> None:
    """Raise ``ValidationError`` naming the field if ``value`` holds a NUL character."""
    field = find_nul(value, path)
    if field is not None:
        raise ValidationError(
            f"{field}: {where} holds a NUL character (\\x00), which no store accepts",
            field=field,
        )


def refuse_nul_in_actors(actors: Iterable[Actor]) -> None:
    """Refuse declared actors whose id, name, kind or aliases hold a NUL character."""
    for actor in actors:
        refuse_nul(
            {"id": actor.id, "name": actor.name, "kind": actor.kind, "aliases": actor.aliases},
            "actors",
            f"actor {actor.id!r}",
        )


def not_unicode(exc: UnicodeEncodeError, where: str) -> ValidationError:
    """A lone surrogate ("\\ud800") in some text: the stores and the hash need UTF-8."""
    return ValidationError(
        f"{where}: text holds a lone surrogate ({exc.object[exc.start]!a}); it is not valid Unicode"
    )


def check_append(
    events: Iterable[ev.Event],
    story: str | None,
    title: str | None,
    actors: Iterable[Actor],
) -> tuple[list[ev.Event], str | None, list[Actor]]:
    """The checks every store makes on ``append``'s arguments before taking its lock.

    Returns:
        ``(batch, story, declared actors)``; ``story`` is ``None`` only for an
        empty batch with no story (nothing to do).

    Raises:
        ValidationError: not a list of records, no single story, NUL characters.
    """
    if isinstance(events, ev.Event):
        raise ValidationError("events: pass a list of events, not a single event")
    batch = list(events)
    for index, item in enumerate(batch):
        if not isinstance(item, ev.Event):
            raise ValidationError(
                f"batch item #{index} is not an event record: {type(item).__name__}",
                field=f"events[{index}]",
            )
        # ids are looked up before anything is encoded
        refuse_nul(item.id, "id", f"event #{index} ({item.id!r})")
    if story is not None and (not isinstance(story, str) or not story.strip()):
        raise ValidationError(f"story: must be a non-empty slug, got {story!r}", field="story")
    stories = {e.story for e in batch if e.story is not None}
    if story is None:
        if len(stories) > 1:
            raise ValidationError(
                f"a batch belongs to one story; got {', '.join(sorted(stories))}",
                field="story",
            )
        story = next(iter(stories), None)
    if story is None:
        if not batch:
            return batch, None, []
        raise ValidationError("story: no story given for the batch", field="story")
    for e in batch:
        if e.story is not None and e.story != story:
            raise ValidationError(
                f"event {e.id!r} belongs to story {e.story!r}, not {story!r}",
                field="story",
            )
    refuse_nul(story, "story", f"story {story!r}")
    refuse_nul(title, "title", f"the title of story {story!r}")
    declared = list(actors)
    refuse_nul_in_actors(declared)
    return batch, story, declared


def identity_index(stored: Iterable[tuple[str, str, Iterable[str]]]) -> IdentityIndex:
    """The identity index of stored actors ``(id, name, aliases)``, in row order."""
    index = IdentityIndex()
    for actor_id, name, aliases in stored:
        index.add(actor_id, name, aliases)
    return index


def refuse_actor_identity(
    actors: Iterable[Actor],
    stored: Iterable[tuple[str, str, Iterable[str]]] = (),
    *,
    index: IdentityIndex | None = None,
) -> None:
    """Refuse declared actors that would take over or imitate a stored one.

    ``stored`` is every stored actor as ``(id, name, aliases)``, or ``index`` their
    :func:`identity_index`. See :mod:`timeline.identity` for the rules.
    """
    problem = identity_problem(actors, index=index or identity_index(stored))
    if problem is not None:
        owner, where, message = problem
        raise ValidationError(message, field=f"actors.{owner}.{where}")


_ONE_MICROSECOND = timedelta(microseconds=1)


def with_fields(event: ev.Event, **changes: Any) -> ev.Event:
    """A copy of a validated record with store-assigned fields set, not re-validated
    (``event`` itself when every one of them already equals its new value).

    ``attrs.evolve`` would run every validator again; the store only sets
    ``story`` and ``reported_at`` to values it has checked itself.
    """
    changer: Callable[..., ev.Event] = _changer(type(event), tuple(changes))
    return changer(event, *changes.values())


_CHANGERS: dict[tuple[type, tuple[str, ...]], Callable[..., Any]] = {}


def _changer(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """A generated copy of one record class with the fields ``names`` set to the values
    given after the record (a loop with ``object.__setattr__`` costs twice as much):
    each field is set through its slot's own setter where the class has slots."""
    key = (cls, names)
    changer = _CHANGERS.get(key)
    if changer is None:
        params = [f"v{i}" for i in range(len(names))]
        given = dict(zip(names, params, strict=True))
        same = " and ".join(f"e.{name} == {v}" for name, v in given.items()) or "True"
        fields = attrs.fields(cls)
        unknown = set(names) - {f.name for f in fields}
        if unknown:
            raise TypeError(f"{cls.__qualname__} has no field {sorted(unknown)[0]!r}")
        lines = [f"def change({', '.join(['e', *params])}):"]
        lines += [f"    if {same}:", "        return e", "    o = _new(_cls)"]
        env: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "_cls": cls}
        for i, field in enumerate(fields):
            value = given.get(field.name, f"e.{field.name}")
            setter = slot_setter(cls, field.name)
            if setter is None:
                lines.append(f"    _set(o, {field.name!r}, {value})")
            else:
                env[f"_put{i}"] = setter
                lines.append(f"    _put{i}(o, {value})")
        lines.append("    return o")
        source = "\n".join(lines) + "\n"
        label = f"change {cls.__qualname__} ({', '.join(names)})"
        changer = _CHANGERS[key] = compile_function(source, "change", env, label)
    return changer


def stored_payloads(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    """Payloads of the events with these ids that are already stored."""
    out: dict[str, str] = {}
    for chunk in id_chunks(ids):
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(f"SELECT id, payload FROM events WHERE id IN ({marks})", chunk):
            out[row[0]] = row[1]
    return out


def check_target(
    conn: sqlite3.Connection, codec: Codec, event: ev.Event, types: dict[str, str]
) -> None:
    """Corrections and retractions must point at an event that exists (and fits).

    ``types`` holds the stored type names of the batch's earlier events.
    """
    target = target_of(event)
    if target is None:
        return
    target_type = types.get(target)
    if target_type is None:
        row = conn.execute("SELECT type FROM events WHERE id = ?", (target,)).fetchone()
        target_type = None if row is None else row[0]
    problem = target_problem(
        codec.registry, event, target_type, "the store or earlier in the batch"
    )
    if problem is not None:
        field, reason = problem
        raise ValidationError(f"{field}: {reason}", field=field)


def check_claimed(conn: sqlite3.Connection, event: ev.Event, types: dict[str, str]) -> None:
    """A denial or confirmation must name events that exist (stored or earlier in the batch)."""
    field = "denies" if isinstance(event, ev.Denial) else "confirms"
    for i, target in enumerate(ev.claimed_ids(event)):
        if target in types:
            continue
        if conn.execute("SELECT 1 FROM events WHERE id = ?", (target,)).fetchone() is None:
            raise ValidationError(
                f"{field}[{i}]: event {target!r} is not in the store or earlier in the batch",
                field=f"{field}[{i}]",
            )


@contextlib.contextmanager
def counted_from(offset: int) -> Iterator[None]:
    """A refused event's ``batch_index`` counted from ``offset``: the place of its chunk
    in a streamed append (see :meth:`Batch.add_all`), so it is its index over all."""
    try:
        yield
    except TimelineError as exc:
        inner = getattr(exc, "batch_index", None)
        if inner is not None:
            exc.batch_index = offset + inner  # type: ignore[attr-defined]
        raise


def log_windows(head: int) -> Iterator[tuple[int, int]]:
    """Ranges ``(low, high]`` of log positions from the head back to the start: the
    last 1,024 positions, the 15,360 before them, then the rest of the log. A search
    for the most recent match that stops at the first window holding one reads the
    recent log alone when the match is recent, and little more than the whole log
    (two more queries) when it is not."""
    high = head
    for size in (1024, 15_360):
        if high <= 0:
            return
        low = max(0, high - size)
        yield low, high
        high = low
    if high > 0:
        yield 0, high


_SOURCE_IN_WINDOW = (
    "SELECT value FROM ("
    " SELECT e.position, s.value FROM events e, json_each(e.payload, '$.sources') s"
    " WHERE e.position > ? AND e.position <= ? AND json_extract(s.value, '$.id') = ?"
    " UNION ALL SELECT position, json_extract(payload, '$.source') FROM events"
    " WHERE position > ? AND position <= ? AND json_extract(payload, '$.source.id') = ?"
    ") ORDER BY position DESC LIMIT 1"
)
"""The newest source with an id among the events at positions ``(low, high]`` (SQLite)."""


def stored_source(
    conn: sqlite3.Connection, source_id: str, in_window: str = _SOURCE_IN_WINDOW
) -> ev.Source | None:
    """The most recently stored source with this id, if any event cites one.

    The log is searched backwards a window at a time (:func:`log_windows`): a relay
    usually cites a recent source, which is then found without reading the whole log
    (at a million events, a search of the whole log took 3.3-3.6 s). ``in_window``:
    the backend's query for one window, its parameters ``low, high, id`` twice."""
    head = conn.execute("SELECT MAX(position) FROM events").fetchone()[0]
    for low, high in log_windows(int(head or 0)):
        row = conn.execute(in_window, (low, high, source_id, low, high, source_id)).fetchone()
        if row is not None:
            data = loads_trusted(row[0])
            return ev.Source(
                publisher=data["publisher"],
                id=data.get("id"),
                via=data.get("via"),
                origin=data.get("origin"),
            )
    return None


def resolve_origins(
    event: ev.Event, known: Callable[[str], ev.Source | None], prefix: str = ""
) -> ev.Event:
    """``event`` (and a correction's replacement) with each relaying source's
    ``origin`` set by following ``via``.

    Raises:
        ValidationError: a ``via`` names an unknown source, or the chain loops.
    """
    if isinstance(event, ev.Correction):
        replacement = resolve_origins(event.replacement, known, "replacement.")
        if replacement is not event.replacement:
            event = with_fields(event, replacement=replacement)
    if not any(s.via is not None and s.origin is None for s in event.sources):
        return event
    local = {s.id: s for s in event.sources if s.id is not None}
    resolved = []
    for i, source in enumerate(event.sources):
        if source.via is not None and source.origin is None:
            field = f"{prefix}sources[{i}]"
            source = attrs.evolve(source, origin=origin_of(source, local, known, field))
        resolved.append(source)
    return with_fields(event, sources=tuple(resolved), source=resolved[0])


def origin_of(
    source: ev.Source,
    local: Mapping[str, ev.Source],
    known: Callable[[str], ev.Source | None],
    field: str,
) -> str:
    """The publisher at the end of ``source``'s ``via`` chain.

    Raises:
        ValidationError: an unknown id or a cycle, naming the source.
    """
    seen = [source.id or source.publisher]
    current = source
    while current.via is not None:
        if current.origin is not None and current is not source:
            return current.origin
        target = local.get(current.via) or known(current.via)
        if target is None:
            raise ValidationError(
                f"{field}.via: source {seen[-1]!r} relies on unknown source {current.via!r}",
                field=f"{field}.via",
            )
        if current.via in seen:
            chain = " -> ".join([*seen, current.via])
            raise ValidationError(
                f"{field}.via: the via chain of source {seen[0]!r} loops ({chain})",
                field=f"{field}.via",
            )
        seen.append(current.via)
        current = target
    return current.publisher


def resolve_actors(
    event: ev.Event,
    lookup: Mapping[str, str],
    new_actors: dict[str, Actor],
    register: bool,
    index: int,
) -> ev.Event:
    """``event`` with actor ids for aliases; unknown ids are registered or refused."""

    def resolve(value: str, field: str) -> str:
        found = lookup.get(fold(value))
        if found is not None:
            return found
        if value in new_actors:
            return value
        if not register:
            raise UnknownActorError(
                value,
                f"{field}: unknown actor {value!r} in event #{index} ({event.id!r}); "
                "declare it in the fixture's actors",
            )
        new_actors[value] = Actor(id=value, name=value)
        return value

    return ev.map_actors(event, resolve, lookup)


class Batch:
    """Rows for one append, built under the write lock: versions, times, hash chain."""

    builds_search_rows = True  # the search index's rows from the values in hand (SQLite)

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: Clock,
        codec: Codec,
        lookup: Mapping[str, str],
        story: str,
        version: int,
        register_actors: bool,
        ids: list[str],
        known: tuple[dict[str, str], tuple[Any, ...] | None] | None = None,
        actor_ids: frozenset[str] | None = None,
    ) -> None:
        """Start a batch after the log's last row.

        Args:
            conn: the connection, inside the append's write transaction.
            clock: gives ``recorded_at``.
            codec: encodes the records.
            lookup: every actor id and alias (casefolded) to its actor id.
            story / version: the story and its current version.
            register_actors: register unknown actor ids (else refuse them).
            ids: the batch's event ids, to find those already stored.
            known: ``(payloads of those ids already stored, the last row's
                (position, recorded_at, hash))`` when the caller read them under
                the lock already; ``None``: read them here.
            actor_ids: the values of ``lookup``, when the caller keeps them.
        """
        self.conn = conn
        self.codec = codec
        self.story = story
        self.version = version
        self.register_actors = register_actors
        if known is None:
            self.stored = stored_payloads(conn, ids)
            last = conn.execute(
                "SELECT position, recorded_at, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
        else:
            self.stored, last = known
        self.position: int = last[0] if last else 0
        self.prev_hash: str = last[2] if last else GENESIS_HASH
        self.prev_recorded: datetime | None = from_text(last[1]) if last else None
        self.now = clock.now()
        self._second: tuple[datetime, str] | None = None  # see _recorded_text
        self.lookup = lookup
        self.known_ids = actor_ids if actor_ids is not None else frozenset(lookup.values())
        self.new_actors: dict[str, Actor] = {}
        self.types: dict[str, str] = {}  # id -> stored type name, for correction checks
        self.sources: dict[str, ev.Source] = {}  # sources of the batch by id, for via
        self.seen: dict[str, str] = {}  # id -> payload, for duplicates inside the batch
        self.rows: list[tuple[Any, ...]] = []
        self.actor_rows: list[tuple[int, str, str]] = []
        # (position, summary, quote, attribution, headline, publisher, actor ids)
        self.search_rows: list[tuple[Any, ...]] = []
        self.appended: list[RecordedEvent] = []
        self.skipped: list[str] = []

    def add(self, index: int, original: ev.Event) -> None:
        """Validate one batch item and stage its rows (or note it as already stored)."""
        event = resolve_actors(original, self.lookup, self.new_actors, self.register_actors, index)
        event = resolve_origins(event, self._source)
        prior = self.seen.get(event.id) or self.stored.get(event.id)
        if prior is not None:
            self._check_duplicate(with_fields(event, story=self.story), prior, index)
            self.skipped.append(event.id)
            return
        recorded_at = self.now
        if self.prev_recorded is not None and recorded_at <= self.prev_recorded:
            recorded_at = self.prev_recorded + _ONE_MICROSECOND
        self.prev_recorded = recorded_at
        reported = event.effective_reported_at or recorded_at
        reported_until = max(event.effective_reported_until or reported, reported)
        # the record was validated when built; only the store's own fields change
        event = with_fields(
            event,
            story=self.story,
            reported_at=reported,
            reported_until=derived_unless_given(event, reported_until),
        )
        check_target(self.conn, self.codec, event, self.types)
        data, payload = self.codec.payload(event)
        if "\\u0000" in payload:  # a cheap look first: JSON spells NUL \u0000
            refuse_nul(data, "", f"event #{index} ({event.id!r})")
        check_claimed(self.conn, event, self.types)
        # each time formatted once: from the payload's spelling when it is UTC
        occurred_text = to_text_spelled(event.occurred_at, data.get("occurred_at"))
        occurred_until = event.occurred_until
        occurred_until_text = (
            occurred_text
            if occurred_until == event.occurred_at
            else to_text_spelled(occurred_until, data.get("occurred_until"))
        )
        recorded_text = self._recorded_text(recorded_at)
        reported_text = (
            recorded_text
            if reported == recorded_at
            else to_text_spelled(reported, data.get("reported_at"))
        )
        reported_until_text = (
            reported_text
            if reported_until == reported
            else to_text_spelled(reported_until, data.get("reported_until"))
        )
        self.position += 1
        self.version += 1
        hashed = (
            self.position,
            event.id,
            self.story,
            self.version,
            data["type"],
            data["schema_version"],
            occurred_text,
            event.precision.value,
            reported_text,
            recorded_text,
            payload,
        )
        digest = row_hash(self.prev_hash, hashed)
        # the period ends sit outside the hashed columns (older rows have the same
        # hash); the payload holds them, and verify() checks the columns against it
        ends = (occurred_until_text, reported_until_text)
        self.rows.append((*hashed, self.prev_hash, digest, *ends))
        self.prev_hash = digest
        self.seen[event.id] = payload
        self.types[event.id] = data["type"]
        for source in event.sources:
            if source.id is not None:
                self.sources[source.id] = source
        first_actor_row = len(self.actor_rows)
        for role, actor in event.actor_refs():
            self.actor_rows.append((self.position, actor, role))
        for name in event.description_fields:
            for item in getattr(event, name):
                if item in self.known_ids or item in self.new_actors:
                    self.actor_rows.append((self.position, item, name))
        if self.builds_search_rows:
            actors = sorted({row[1] for row in self.actor_rows[first_actor_row:]})
            self.search_rows.append(self.search_row(data, actors))
        self.appended.append(
            RecordedEvent(
                position=self.position,
                story=self.story,
                version=self.version,
                recorded_at=recorded_at,
                event=event,
            )
        )

    def _recorded_text(self, recorded_at: datetime) -> str:
        """:func:`to_text` of ``recorded_at``: a batch's events are recorded within
        microseconds of each other, so the text up to the second is formatted once and
        each event adds its microseconds to it."""
        second = self._second
        if second is not None:
            delta = recorded_at - second[0]
            if not delta.days and not delta.seconds and delta.microseconds >= 0:
                return f"{second[1]}{delta.microseconds:06d}Z"
        text = to_text(recorded_at)
        if recorded_at.tzinfo is UTC:
            self._second = (recorded_at.replace(microsecond=0), text[:20])
        return text

    def search_row(self, data: Mapping[str, Any], actors: list[str]) -> tuple[Any, ...]:
        """The search index's row for the event just staged (``data``: its encoded
        fields; ``actors``: the ids it names, sorted)."""
        return (self.position, *search_text(data), actors)

    def add_all(self, batch: list[ev.Event]) -> None:
        """Stage every item; a refused one's error carries ``batch_index`` (its index),
        which lets callers (the fixture loader) say which batch item failed."""
        self.know_sources(batch)
        index = -1
        try:
            for index, event in enumerate(batch):
                self.add(index, event)
        except TimelineError as exc:
            exc.batch_index = index  # type: ignore[attr-defined]
            raise
        except UnicodeEncodeError as exc:
            error = not_unicode(exc, f"event #{index} ({batch[index].id!r})")
            error.batch_index = index  # type: ignore[attr-defined]
            raise error from exc

    def know_sources(self, events: list[ev.Event]) -> None:
        """Sources the batch cites, by id, so a ``via`` may name one cited later in it."""
        for event in events:
            for source in event.sources:
                if source.id is not None and source.via is None:
                    self.sources.setdefault(source.id, source)

    def _source(self, source_id: str) -> ev.Source | None:
        return self.sources.get(source_id) or stored_source(self.conn, source_id)

    def _check_duplicate(self, event: ev.Event, prior_payload: str, index: int) -> None:
        codec = self.codec
        prior = loads_trusted(prior_payload)
        # stored before times were periods: a report then had one instant, which a
        # re-read of the same source may now widen to a period (not a conflict)
        before_periods = "reported_until" not in prior
        if prior.get("schema_version") != codec.registry.get(prior["type"]).version:
            # stored under an older schema: compare with what it reads as today
            prior = codec.encode(codec.from_dict(prior))
        reported = event.effective_reported_at
        reported_until = event.effective_reported_until
        if reported is None:
            # stored with the store's recorded_at as reported_at: compare on the rest
            stored = codec.decode_trusted(prior)
            reported, reported_until = stored.reported_at, stored.reported_until
        elif reported_until is None or reported_until < reported:
            reported_until = reported
        assert reported_until is not None  # filled above
        same = codec.encode(
            with_fields(
                event,
                reported_at=reported,
                reported_until=derived_unless_given(event, reported_until),
            )
        )
        if before_periods:
            same, prior = _without_report_ends(same), _without_report_ends(prior)
        if same != prior:
            raise DuplicateEventError(event.id, f"batch item #{index}")


def search_text(data: Mapping[str, Any]) -> tuple[str, str, Any, Any, Any]:
    """An event's searched text from its encoded fields, spelled exactly as the view
    ``events_search`` spells it from the stored payload (see ``_schema._SEARCH_TEXT``):
    the append indexes the values in hand instead of reading the payload back."""
    replacement = data.get("replacement")
    if not isinstance(replacement, Mapping):
        replacement = {}
    summary = " ".join(
        _text(v) for v in (data.get("summary"), replacement.get("summary"), data.get("reason"))
    ).strip(" ")
    quote = f"{_text(data.get('quote'))} {_text(replacement.get('quote'))}".strip(" ")
    sources = data.get("sources")
    headline = publisher = None
    if type(sources) is list and len(sources) == 1 and type(sources[0]) is dict:
        # one source (the common case): the same spelling as the general loop below
        only = sources[0]
        headline = only.get("headline")
        name = only.get("publisher")
        if name is not None:
            origin = only.get("origin")
            publisher = name if origin is None else f"{name} {origin}"
    elif isinstance(sources, list) and sources:
        headlines = [s.get("headline") for s in sources]
        headline = (
            " ".join(h for h in headlines if h is not None)
            if any(h is not None for h in headlines)
            else None
        )
        publishers = [
            s["publisher"] + ("" if s.get("origin") is None else " " + s["origin"])
            for s in sources
            if s.get("publisher") is not None
        ]
        publisher = " ".join(publishers) if publishers else None
    source = data.get("source")
    if isinstance(source, Mapping):
        if headline is None:
            headline = source.get("headline")
        if publisher is None:
            publisher = source.get("publisher")
    return summary, quote, data.get("attribution"), headline, publisher


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def derived_unless_given(event: ev.Event, reported_until: datetime) -> datetime:
    """The report period's end as the store fills it: marked derived unless the author
    gave it (see :class:`timeline.events.DerivedEnd`)."""
    given = event.reported_until
    if given is not None and type(given) is not ev.DerivedEnd:
        return reported_until
    return ev.derived(reported_until)


def _without_report_ends(data: dict[str, Any]) -> dict[str, Any]:
    """An encoded record without the ends of its report and publication periods."""
    out = {k: v for k, v in data.items() if k != "reported_until"}
    for key in ("source", "sources", "replacement"):
        value = out.get(key)
        if isinstance(value, dict):
            out[key] = (
                _without_report_ends(value)
                if key == "replacement"
                else {k: v for k, v in value.items() if k != "published_until"}
            )
        elif isinstance(value, list):
            out[key] = [
                {k: v for k, v in s.items() if k != "published_until"} if isinstance(s, dict) else s
                for s in value
            ]
    return out

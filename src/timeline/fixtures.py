"""Reading fixture files (``timeline-fixture/1`` JSON) into actors and events.

Every problem becomes a :class:`~timeline.errors.FixtureError` naming the file,
the event (its index in ``events`` and its id) and the field path. Parsing
never writes: the store appends the whole file in one transaction, or nothing.
"""

from __future__ import annotations

import codecs
import gc
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from timeline import events as ev
from timeline.codec import Codec, default_codec
from timeline.errors import (
    DuplicateEventError,
    FixtureDuplicateEventError,
    FixtureError,
    FixtureUnknownActorError,
    FixtureUnknownEventTypeError,
    TimelineError,
    UnknownActorError,
    UnknownEventTypeError,
    ValidationError,
)
from timeline.identity import fold, identity_problem
from timeline.registry import target_of, target_problem
from timeline.store.recorded import Actor

__all__ = [
    "FORMAT",
    "DuplicateKeyError",
    "check_regular_file",
    "number_problem",
    "unique_keys",
    "Fixture",
    "FixtureStream",
    "WholeFileNeeded",
    "fixture_error",
    "fixture_error_at",
    "parse_fixture",
    "read_fixture",
]

FORMAT = "timeline-fixture/1"
_FORMAT_FAMILY = "timeline-fixture/"
_TOP_KEYS = {"format", "story", "title", "actors", "sources", "events"}
_ACTOR_KEYS = {"name", "kind", "aliases"}
_MAX_BYTES = 256 * 1024 * 1024


@attrs.frozen(kw_only=True)
class Fixture:
    """A parsed fixture file: story, declared actors and validated events."""

    path: str
    story: str
    title: str | None
    actors: tuple[Actor, ...]
    events: tuple[ev.Event, ...]


def read_fixture(
    path: str | os.PathLike[str],
    *,
    codec: Codec | None = None,
    known_actors: Mapping[str, str] | None = None,
    known_ids: Mapping[str, str] | None = None,
    known_source: SourceLookup | None = None,
) -> Fixture:
    """Read and validate a fixture file.

    Args:
        path: the JSON file.
        codec: the codec (and so the event-type registry) to decode with.
        known_actors: casefolded ids and aliases already in the store -> actor id.
        known_ids: ids of events already in the store -> their stored type name,
            so corrections and retractions may point at them.
        known_source: looks up a source cited in the store by id, so a ``via``
            may name it.

    Raises:
        FixtureError: unreadable file or any bad value, naming file, event, field.
    """
    name = str(path)
    check_regular_file(path)
    try:
        # the cap applies to what is read (a device or a growing file reports no size)
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
        if len(raw) > _MAX_BYTES:
            raise FixtureError(f"file is over the limit of {_MAX_BYTES} bytes", path=name)
    except OSError as exc:
        raise FixtureError(f"cannot read file: {exc.strerror or exc}", path=name) from exc
    if not raw.strip():
        raise FixtureError("file is empty; expected a JSON object", path=name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FixtureError(f"not UTF-8 text (byte {exc.start})", path=name) from exc
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise FixtureError("JSON nested too deeply", path=name) from None
    except _DuplicateKeyError as exc:
        # json.loads would keep the last of the two silently
        raise FixtureError(
            f"key {exc.key!r} appears twice in one JSON object", path=name, field=exc.key
        ) from None
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=name
        ) from exc
    except ValueError as exc:  # an integer of thousands of digits, say
        raise FixtureError(f"invalid JSON: {_number_problem(exc)}", path=name) from None
    return parse_fixture(
        data,
        path=name,
        codec=codec,
        known_actors=known_actors,
        known_ids=known_ids,
        known_source=known_source,
    )


def parse_fixture(
    data: object,
    *,
    path: str = "<fixture>",
    codec: Codec | None = None,
    known_actors: Mapping[str, str] | None = None,
    known_ids: Mapping[str, str] | None = None,
    known_source: SourceLookup | None = None,
) -> Fixture:
    """Validate already-parsed fixture JSON. See :func:`read_fixture`."""
    codec = codec or default_codec
    if not isinstance(data, dict):
        raise FixtureError(f"expected a JSON object at the top, got {_kind(data)}", path=path)
    extra = sorted(set(data) - _TOP_KEYS)
    if extra:
        raise FixtureError(
            f"unknown top-level key(s): {', '.join(extra)}", path=path, field=extra[0]
        )
    fmt = data.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith(_FORMAT_FAMILY):
            message = f"unsupported fixture format {fmt!r}; this version reads {FORMAT!r}"
        else:
            message = f'expected "format": {FORMAT!r}, got {fmt!r}'
        raise FixtureError(message, path=path, field="format")
    story = data.get("story")
    if not isinstance(story, str) or not story.strip():
        raise FixtureError("expected a non-empty slug", path=path, field="story")
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        raise FixtureError(f"expected text, got {_kind(title)}", path=path, field="title")

    actors = _parse_actors(data.get("actors", {}), path)
    lookup: dict[str, str] = dict(known_actors or {})
    problem = identity_problem(actors, lookup)
    if problem is not None:
        owner, where, message = problem
        # a take-over names the actor (as it always has); a bad character names the key
        takeover = where == "id" or "already names" in message
        field = f"actors.{owner}" if takeover else f"actors.{owner}.{where}"
        if "already names" in message:
            (declared,) = [a for a in actors if a.id == owner]
            key = declared.id if where == "id" else declared.aliases[int(where[8:-1])]
            message = f"{key!r} already names " + message.split(" already names ", 1)[1]
        raise FixtureError(message, path=path, field=field)
    for actor in actors:
        for key in (actor.id, *actor.aliases):
            lookup[fold(key)] = actor.id
    sources = _parse_sources(data.get("sources", {}), path, codec, known_source)

    raw_events = data.get("events")
    if not isinstance(raw_events, list):
        raise FixtureError(f"expected a list, got {_kind(raw_events)}", path=path, field="events")
    ids: dict[str, str] = dict(known_ids or {})
    in_file: set[str] = set()
    parsed: list[ev.Event] = []
    problems: list[FixtureError] = []  # every bad event is reported, up to a bound
    plain: dict[str, dict[str, Any]] = {}  # each declared source as data, made once
    for index, item in enumerate(raw_events):
        try:
            event = _parse_event(item, index, path, codec, sources, lookup, story, plain)
            if isinstance(item, dict) and "id" not in item:
                # A random default id would make every reload append the event again:
                # derive it from the event's own text, so a reload finds it.
                event = attrs.evolve(event, id=_derived_id(story, item))
            if event.id in in_file:
                raise FixtureError(
                    f"duplicate id {event.id!r} (appears earlier in this file)",
                    path=path,
                    index=index,
                    event_id=event.id,
                    field="id",
                )
            in_file.add(event.id)
            _check_target(event, ids, path, index, codec)
        except FixtureError as exc:
            problems.append(exc)
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        ids[event.id] = codec.registry.of(event).name
        parsed.append(event)
    if problems:
        raise all_problems(problems, path, complete=len(problems) < MAX_PROBLEMS)
    return Fixture(path=path, story=story, title=title, actors=tuple(actors), events=tuple(parsed))


MAX_PROBLEMS = 50


def all_problems(problems: list[FixtureError], path: str, *, complete: bool) -> FixtureError:
    """One error for every problem found: the first one, whose message lists them all.

    It keeps the first problem's class and ``index``/``event_id``/``field``; its
    ``problems`` attribute holds each problem as its own ``FixtureError``.
    """
    first = problems[0]
    if len(problems) > 1:
        prefix = f"{path}: "
        lines = [str(p).removeprefix(prefix) for p in problems]
        more = "" if complete else f" (stopped at the first {MAX_PROBLEMS})"
        first.args = (f"{path}: {len(problems)} problems{more}:\n- " + "\n- ".join(lines),)
    first.problems = tuple(problems)
    return first


def number_problem(exc: ValueError) -> str:
    """What ``json`` refused that is not a syntax error: a number too long to convert."""
    text = str(exc)
    if "digits" in text:
        return "a number with more than 4300 digits"
    return text[:200]


_number_problem = number_problem


def too_large_to_read_whole(path: str | os.PathLike[str]) -> str | None:
    """Why :func:`read_fixture` would refuse this file for its size (``None``: it would
    not). A larger file can only be read as it is appended (:class:`FixtureStream`)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None  # the reader words it
    if size <= _MAX_BYTES:
        return None
    return f"file is over the limit of {_MAX_BYTES} bytes"


def check_regular_file(path: str | os.PathLike[str]) -> None:
    """Refuse, before reading, what is not a regular file: a FIFO would block, a
    device (``/dev/zero``) never ends.

    Raises:
        FixtureError: naming the file and what it is.
    """
    name = str(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise FixtureError(f"cannot read file: {exc.strerror or exc}", path=name) from exc
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory" if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )  # fmt: skip
    raise FixtureError(f"cannot read file: it is {kind}, not a regular file", path=name)


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


def _derived_id(story: str, item: Mapping[str, Any]) -> str:
    text = json.dumps([story, item], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "fx-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _parse_actors(raw: object, path: str) -> list[Actor]:
    if not isinstance(raw, dict):
        raise FixtureError(f"expected an object, got {_kind(raw)}", path=path, field="actors")
    out = []
    for actor_id, spec in raw.items():
        field = f"actors.{actor_id}"
        if not actor_id.strip():
            raise FixtureError("actor ids must be non-empty", path=path, field=field)
        if not isinstance(spec, dict):
            raise FixtureError(f"expected an object, got {_kind(spec)}", path=path, field=field)
        extra = sorted(set(spec) - _ACTOR_KEYS)
        if extra:
            raise FixtureError(
                f"unknown field(s): {', '.join(extra)}", path=path, field=f"{field}.{extra[0]}"
            )
        name = spec.get("name", actor_id)
        kind = spec.get("kind", "")
        aliases = spec.get("aliases", [])
        if not isinstance(name, str) or not name.strip():
            raise FixtureError("expected non-empty text", path=path, field=f"{field}.name")
        if not isinstance(kind, str):
            raise FixtureError(
                f"expected text, got {_kind(kind)}", path=path, field=f"{field}.kind"
            )
        if not isinstance(aliases, list) or not all(
            isinstance(a, str) and a.strip() for a in aliases
        ):
            raise FixtureError(
                "expected a list of non-empty text", path=path, field=f"{field}.aliases"
            )
        out.append(Actor(id=actor_id, name=name, kind=kind, aliases=tuple(aliases)))
    return out


SourceLookup = Callable[[str], "ev.Source | None"]
"""A stored source by id (``None`` if no stored event cites one)."""


def _parse_sources(
    raw: object, path: str, codec: Codec, known_source: SourceLookup | None = None
) -> dict[str, ev.Source]:
    return _with_origins(_structure_sources(raw, path, codec), path, known_source)


def _structure_sources(raw: object, path: str, codec: Codec) -> dict[str, ev.Source]:
    """The declared sources, each checked, ``via`` not yet followed."""
    if not isinstance(raw, dict):
        raise FixtureError(f"expected an object, got {_kind(raw)}", path=path, field="sources")
    out = {}
    for source_id, spec in raw.items():
        field = f"sources.{source_id}"
        if not isinstance(spec, dict):
            raise FixtureError(f"expected an object, got {_kind(spec)}", path=path, field=field)
        if spec.get("origin") is not None:
            raise FixtureError(
                "origin is derived from via; give via (the id of the source relied on)",
                path=path,
                field=f"{field}.origin",
            )
        try:
            out[source_id] = codec.structure({**spec, "id": source_id}, ev.Source)
        except ValidationError as exc:
            sub = f"{field}.{exc.field}" if exc.field else field
            raise FixtureError(_strip(str(exc), exc.field), path=path, field=sub) from exc
    return out


def _with_origins(
    sources: dict[str, ev.Source], path: str, known_source: SourceLookup | None = None
) -> dict[str, ev.Source]:
    """Follow each declared source's ``via``: a loop is an error, and so is a chain
    ending at an id neither declared in the file nor cited in the store (when the
    store can be asked; otherwise the store refuses it at append)."""
    out = dict(sources)
    for source_id, source in sources.items():
        if source.via is None:
            continue
        seen = [source_id]
        current = source
        while current.via is not None and current.via in sources:
            if current.via in seen:
                chain = " -> ".join([*seen, current.via])
                raise FixtureError(
                    f"the via chain of source {source_id!r} loops ({chain})",
                    path=path,
                    field=f"sources.{source_id}.via",
                )
            seen.append(current.via)
            current = sources[current.via]
        if current.via is None:
            out[source_id] = attrs.evolve(source, origin=current.publisher)
        elif known_source is not None:
            stored = known_source(current.via)
            if stored is None:
                raise FixtureError(
                    f"source {seen[-1]!r} relies on unknown source {current.via!r} "
                    "(declared in this file or cited in the store)",
                    path=path,
                    field=f"sources.{seen[-1]}.via",
                )
            out[source_id] = attrs.evolve(source, origin=stored.origin_publisher)
    return out


def _strip(message: str, field: str | None) -> str:
    if field and message.startswith(f"{field}: "):
        return message[len(field) + 2 :]
    return message


def _parse_event(
    item: object,
    index: int,
    path: str,
    codec: Codec,
    sources: Mapping[str, ev.Source],
    lookup: Mapping[str, str],
    story: str,
    plain: dict[str, dict[str, Any]] | None = None,
) -> ev.Event:
    """One fixture event as a record of ``story`` (set before it is built and validated
    once, not copied afterwards). ``plain``: the cited sources as data, by id, filled
    as they are first cited (a file cites each on many events)."""
    if not isinstance(item, dict):
        raise FixtureError(f"expected an event object, got {_kind(item)}", path=path, index=index)
    raw_id = item.get("id")
    event_id = raw_id if isinstance(raw_id, str) else None
    where: dict[str, Any] = {"path": path, "index": index, "event_id": event_id}
    if "story" in item:
        raise FixtureError("the story is set once at the top of the file", field="story", **where)
    payload = _with_source(dict(item), sources, where, plain=plain)
    payload["story"] = story
    if isinstance(payload.get("replacement"), dict):
        payload["replacement"] = _with_source(
            dict(payload["replacement"]), sources, where, "replacement.", plain
        )
    try:
        event = codec.from_dict(payload)
    except UnknownEventTypeError as exc:
        # a registered type can only fail on its schema version (newer than this code)
        field = "schema_version" if exc.type_name in codec.registry else "type"
        raise FixtureUnknownEventTypeError(
            str(exc), type_name=exc.type_name, field=field, **where
        ) from exc
    except ValidationError as exc:
        if exc.field and exc.field.endswith(".type") and "unknown event type" in str(exc):
            raise FixtureUnknownEventTypeError(
                _strip(str(exc), exc.field),
                type_name=str(payload.get("type")),
                field=exc.field,
                **where,
            ) from exc
        raise FixtureError(_strip(str(exc), exc.field), field=exc.field, **where) from exc
    return _resolve(event, lookup, where)


def _with_source(
    item: dict[str, Any],
    sources: Mapping[str, ev.Source],
    where: dict[str, Any],
    prefix: str = "",
    plain: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    ref = item.get("source")
    if ref is not None:
        item["source"] = _source_ref(ref, sources, where, f"{prefix}source", plain)
    refs = item.get("sources")
    if refs is not None:
        if not isinstance(refs, list):
            raise FixtureError(
                f"expected a list of source ids, got {_kind(refs)}",
                field=f"{prefix}sources",
                **where,
            )
        item["sources"] = [
            _source_ref(r, sources, where, f"{prefix}sources[{i}]", plain)
            for i, r in enumerate(refs)
        ]
    return item


def _source_ref(
    ref: object,
    sources: Mapping[str, ev.Source],
    where: dict[str, Any],
    field: str,
    plain: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if not isinstance(ref, str):
        raise FixtureError(f"expected a source id (text), got {_kind(ref)}", field=field, **where)
    if plain is not None and ref in plain:
        return dict(plain[ref])  # a copy: the record's structuring may fill it in
    source = sources.get(ref)
    if source is None:
        known = ", ".join(sorted(sources)) or "none declared"
        raise FixtureError(f"unknown source {ref!r} (declared: {known})", field=field, **where)
    data: dict[str, Any] = default_codec.unstructure(source)
    if plain is not None:
        plain[ref] = dict(data)
    return data


def _resolve(event: ev.Event, lookup: Mapping[str, str], where: dict[str, Any]) -> ev.Event:
    """Actor ids or aliases -> ids; unknown actors are an error."""

    def one(value: str, field: str) -> str:
        found = lookup.get(fold(value))
        if found is None:
            raise FixtureUnknownActorError(
                f'unknown actor {value!r}; declare it under "actors"',
                actor=value,
                field=field,
                **where,
            )
        return found

    return ev.map_actors(event, one, lookup)


def _check_target(
    event: ev.Event, ids: Mapping[str, str], path: str, index: int, codec: Codec
) -> None:
    field = "denies" if isinstance(event, ev.Denial) else "confirms"
    for i, claimed in enumerate(ev.claimed_ids(event)):
        if claimed not in ids:
            raise FixtureError(
                f"event {claimed!r} is not in this file (before it) or the store",
                path=path,
                index=index,
                event_id=event.id,
                field=f"{field}[{i}]",
            )
    target = target_of(event)
    if target is None:
        return
    problem = target_problem(
        codec.registry, event, ids.get(target), "this file (before it) or the store"
    )
    if problem is not None:
        field, reason = problem
        raise FixtureError(reason, path=path, index=index, event_id=event.id, field=field)


def fixture_error(fixture: Fixture, exc: TimelineError) -> FixtureError:
    """The fixture-level error for a store error raised while appending ``fixture``."""
    index = getattr(exc, "batch_index", None)
    event_id = (
        fixture.events[index].id if index is not None and 0 <= index < len(fixture.events) else None
    )
    return fixture_error_at(fixture.path, index, event_id, exc)


def fixture_error_at(
    path: str, index: int | None, event_id: str | None, exc: TimelineError
) -> FixtureError:
    """The fixture-level error for a store error raised at event ``index`` of ``path``."""
    where: dict[str, Any] = {"path": path, "index": index, "event_id": event_id}
    if isinstance(exc, DuplicateEventError):
        return FixtureDuplicateEventError(
            f"id {exc.event_id!r} is already stored with different content", field="id", **where
        )
    if isinstance(exc, UnknownActorError):
        return FixtureUnknownActorError(str(exc), actor=exc.actor, field=None, **where)
    field = getattr(exc, "field", None)
    return FixtureError(_strip(str(exc), field), field=field, **where)


# --- streaming: bounded memory for large files ------------------------------------


class WholeFileNeeded(Exception):
    """The file is not in the shape the streaming reader handles (``events`` last,
    after ``format`` and ``story``), or is malformed before its events: read it whole
    (:func:`read_fixture`), which also words any error exactly as before."""


_CHUNK_CHARS = 1 << 20  # characters read at a time
STREAM_CHUNK = 1000  # events appended per staged batch (one transaction for the file)
_MAX_VALUE = 64 << 20  # one event (or header value) larger than this is refused


class _Text:
    """UTF-8 text read from a file a chunk at a time, with JSON values decoded from it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file = Path(path).open("rb")  # noqa: SIM115 - closed by close()
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder(object_pairs_hook=_unique_keys)
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0
        self.lines_before = 0  # newlines in the text already dropped from ``buf``
        self.col_base = 0  # characters on the current line that were dropped

    def close(self) -> None:
        self.file.close()

    def _more(self) -> bool:
        if self.eof:
            return False
        raw = self.file.read(_CHUNK_CHARS)
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise FixtureError(
                f"not UTF-8 text (byte {self.bytes_read + exc.start})", path=self.path
            ) from exc
        self.bytes_read += len(raw)
        if not raw:
            self.eof = True
        dropped = self.buf[: self.pos]
        newlines = dropped.count("\n")
        if newlines:
            self.lines_before += newlines
            self.col_base = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.col_base += len(dropped)
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more():
                return ""

    def take(self, char: str) -> bool:
        """Consume ``char`` if it is next (after white space)."""
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def value(self) -> Any:
        """The next JSON value; a syntax error is a :class:`FixtureError`."""
        self.peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.pos)
            except _DuplicateKeyError as exc:
                raise FixtureError(
                    f"key {exc.key!r} appears twice in one JSON object",
                    path=self.path,
                    field=exc.key,
                ) from None
            except RecursionError:
                raise FixtureError("JSON nested too deeply", path=self.path) from None
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos < _MAX_VALUE and self._more():
                    continue  # the value runs past what has been read
                raise self._syntax(exc) from exc
            except ValueError as exc:  # an integer of thousands of digits, say
                raise FixtureError(
                    f"invalid JSON: {_number_problem(exc)}", path=self.path
                ) from None
            if end == len(self.buf) and self._more():
                continue  # a number may go on in the next chunk
            self.pos = end
            return value

    def _syntax(self, exc: json.JSONDecodeError) -> FixtureError:
        line = self.lines_before + exc.doc.count("\n", 0, exc.pos) + 1
        start = exc.doc.rfind("\n", 0, exc.pos)
        column = exc.pos - start if start >= 0 else self.col_base + exc.pos + 1
        message = f"invalid JSON at line {line} column {column}: {exc.msg}"
        return FixtureError(message, path=self.path)


class FixtureStream:
    """A fixture file read as it is appended: header first, then events in chunks.

    Use as a context manager; :meth:`chunks` yields lists of validated events.
    Raises :class:`WholeFileNeeded` when the file must be read whole instead.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        codec: Codec | None = None,
        known_actors: Mapping[str, str] | None = None,
        stored_type: Callable[[str], str | None] = lambda _id: None,
        chunk: int | None = None,
        known_source: SourceLookup | None = None,
    ) -> None:
        self.path = str(path)
        self.known_source = known_source
        self.codec = codec or default_codec
        self.stored_type = stored_type
        self.chunk = chunk or STREAM_CHUNK
        check_regular_file(self.path)
        try:
            self.text = _Text(self.path)
        except OSError as exc:
            raise FixtureError(f"cannot read file: {exc.strerror or exc}", path=self.path) from exc
        self.count = 0
        try:
            self._header(known_actors or {})
        except BaseException:
            self.text.close()
            raise

    @property
    def bytes_read(self) -> int:
        """How many bytes of the file have been read so far."""
        return self.text.bytes_read

    def __enter__(self) -> FixtureStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.text.close()

    def _header(self, known_actors: Mapping[str, str]) -> None:
        text = self.text
        if not text.take("{"):
            raise WholeFileNeeded
        data: dict[str, Any] = {}
        while True:
            if text.peek() != '"':
                raise WholeFileNeeded
            try:
                key = text.value()
            except FixtureError:
                raise WholeFileNeeded from None
            if not text.take(":") or key in data:
                raise WholeFileNeeded
            if key == "events":
                break
            try:
                data[key] = text.value()
            except FixtureError:
                raise WholeFileNeeded from None
            if not text.take(","):
                raise WholeFileNeeded  # no events, or malformed: the whole-file path says
        if "format" not in data or "story" not in data or not text.take("["):
            raise WholeFileNeeded
        # everything but the events, checked exactly as for a whole file: the sources
        # last (as there), read once
        try:
            header = parse_fixture(
                {**{k: v for k, v in data.items() if k != "sources"}, "events": []},
                path=self.path,
                codec=self.codec,
                known_actors=known_actors,
            )
            declared = _structure_sources(data.get("sources", {}), self.path, self.codec)
            _with_origins(declared, self.path)
        except FixtureError:
            raise WholeFileNeeded from None  # which error comes first is its call
        self.story = header.story
        self.title = header.title
        self.actors = header.actors
        self.lookup: dict[str, str] = dict(known_actors)
        for actor in header.actors:
            for name in (actor.id, *actor.aliases):
                self.lookup[fold(name)] = actor.id
        self.sources = _with_origins(declared, self.path, self.known_source)
        self.plain: dict[str, dict[str, Any]] = {}  # each cited source as data, made once

    def chunks(self) -> Iterator[list[ev.Event]]:
        """Validated events, ``chunk`` at a time, with the story set."""
        text = self.text
        in_file: dict[str, str] = {}
        out: list[ev.Event] = []
        index = 0
        # Parsing a chunk allocates many small objects and no cycles: the cyclic
        # collector is paused while a chunk is parsed (never while the caller holds it).
        paused = gc.isenabled()
        gc.disable()
        try:
            if not text.take("]"):
                while True:
                    item = text.value()
                    out.append(self._event(item, index, in_file))
                    index += 1
                    self.count = index
                    if len(out) >= self.chunk:
                        if paused:
                            gc.enable()
                        yield out
                        paused = gc.isenabled()
                        gc.disable()
                        out = []
                    if text.take("]"):
                        break
                    if not text.take(","):
                        text.value()  # raises the syntax error, worded by the parser
                        raise WholeFileNeeded
        except FixtureError:
            # the whole-file reader reports every problem of the file at once
            raise WholeFileNeeded from None
        finally:
            if paused:
                gc.enable()
        if not text.take("}") or text.peek() != "":
            raise WholeFileNeeded  # keys after the events, or trailing text
        if out:
            yield out

    def _event(self, item: object, index: int, in_file: dict[str, str]) -> ev.Event:
        path, codec = self.path, self.codec
        event = _parse_event(
            item, index, path, codec, self.sources, self.lookup, self.story, self.plain
        )
        if isinstance(item, dict) and "id" not in item:
            event = attrs.evolve(event, id=_derived_id(self.story, item))
        if event.id in in_file:
            raise FixtureError(
                f"duplicate id {event.id!r} (appears earlier in this file)",
                path=path,
                index=index,
                event_id=event.id,
                field="id",
            )
        target = target_of(event)
        wanted = [*ev.claimed_ids(event), *([] if target is None else [target])]
        if wanted:
            known = {i: in_file.get(i) or self.stored_type(i) for i in wanted}
            ids = {i: kind for i, kind in known.items() if kind is not None}
            _check_target(event, ids, path, index, codec)
        in_file[event.id] = codec.registry.of(event).name
        return event


# public names for the other readers of JSON (JSON Lines)
DuplicateKeyError = _DuplicateKeyError
unique_keys = _unique_keys

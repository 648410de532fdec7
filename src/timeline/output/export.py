"""Exports of a timeline: JSON Lines, CSV, Markdown, TimelineJS JSON and an HTML page.

Every export takes the bounds of :meth:`timeline.Timeline.state` (``at``,
``known_at``, ``recorded_by``, ``story``) and includes the events a state with
those bounds sees, in the order it folds them (occurred order): retracted
events are left out and corrected ones appear as corrected.

JSON Lines is the exception, because it is meant to be loaded again: it holds
the stored *records* that state needs, in log order, one per line in the
codec's form (``type``, ``schema_version``, ``story``, ``id``, the three times,
the fields). Corrections and retractions are records too, so an unbounded
export is the whole log, and loading it into a new store gives the same
events (ids, content, ``reported_at``) and the same ``state()``. Actor display
names and aliases, and story titles, are not part of it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any, TextIO

from timeline import events as ev
from timeline.bitemporal import Bounds, effective_events, known_meta, resolve_meta
from timeline.codec import Codec, canonical_json
from timeline.errors import (
    FixtureError,
    FixtureUnknownEventTypeError,
    UnknownEventTypeError,
    ValidationError,
)
from timeline.fixtures import DuplicateKeyError, check_regular_file, number_problem, unique_keys
from timeline.output.corrections import corrections_log
from timeline.output.escape import (
    csv_cell,
    jsonl_line,
    md_code,
    md_line,
    md_link,
    md_text,
    safe_url,
)
from timeline.output.html import write_html
from timeline.output.labels import (
    actor_ids,
    actor_names,
    claim_labels,
    date_groups,
    describe_bounds,
    event_when,
    fact_label,
    headline,
    iso,
    provenance,
    source_line,
    story_title,
    type_label,
)
from timeline.output.reader import TimelineReader
from timeline.store.base import EventLog
from timeline.store.recorded import RecordedEvent
from timeline.times import end_grain, period_end

__all__ = ["CSV_COLUMNS", "FORMATS", "archive_records", "date_parts", "export", "read_jsonl"]

FORMATS = ("jsonl", "csv", "markdown", "timelinejs", "html")

CSV_COLUMNS = (
    "position",
    "story",
    "id",
    "type",
    "occurred_at",
    "occurred_until",
    "precision",
    "when",
    "reported_at",
    "reported_until",
    "recorded_at",
    "actors",
    "topic",
    "product",
    "stance",
    "source_publisher",
    "source_headline",
    "source_url",
    "attribution",
    "summary",
    "quote",
)


Tick = Callable[[int], None]
"""Told the number of events written since its last call (progress)."""


def _no_tick(_written: int) -> None:
    pass


def export(
    timeline: TimelineReader,
    fmt: str,
    out: TextIO,
    bounds: Bounds | None = None,
    progress: Tick | None = None,
) -> int:
    """Write ``timeline`` to the text stream ``out`` in format ``fmt``.

    Args:
        timeline: the store to export.
        fmt: one of :data:`FORMATS`.
        out: an open text stream (open CSV targets with ``newline=""``).
        bounds: which events, as for ``state()`` (default: everything).
        progress: called with the number of events written since its last call.

    Returns:
        The number of events written.

    Raises:
        ValidationError: an unknown format.
    """
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValidationError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}", field="format")
    return writer(timeline, out, bounds or Bounds(), progress or _no_tick)


# --- JSON Lines -----------------------------------------------------------------


def archive_records(store: EventLog, bounds: Bounds) -> Iterator[RecordedEvent]:
    """The stored records a state under ``bounds`` needs, in log order.

    Every event the state folds (a corrected one as its original), the
    retracted events that occurred by ``at`` and the corrections and
    retractions of records kept. Unbounded, that is the whole log.
    """
    folded = {p.position for p in effective_events(store, bounds)}
    retracted, _ = resolve_meta(known_meta(store, bounds))
    kept: set[str] = set()
    for record in store.read(bounds.knowledge()):
        event = record.event
        target = ev.target_of(event)
        if target is not None:
            keep = target in kept
        else:
            keep = record.position in folded or (
                event.id in retracted and (bounds.at is None or event.occurred_at <= bounds.at)
            )
        if keep:
            kept.add(event.id)
            yield record


def _write_jsonl(timeline: TimelineReader, out: TextIO, bounds: Bounds, tick: Tick) -> int:
    codec = timeline.store.codec
    count = 0
    for record in archive_records(timeline.store, bounds):
        out.write(jsonl_line(canonical_json(codec.to_dict(record.event))) + "\n")
        count += 1
        tick(1)
    return count


def read_jsonl(path: str | os.PathLike[str], codec: Codec) -> list[ev.Event]:
    """Read a JSON Lines export (one record per line; blank lines are skipped).

    Raises:
        FixtureError: an unreadable file, or a bad line, naming the file, the
            event (its index among the file's events and its id), the field and the line.
    """
    return list(iter_jsonl(path, codec))


def iter_jsonl(path: str | os.PathLike[str], codec: Codec) -> Iterator[ev.Event]:
    """:func:`read_jsonl` one event at a time, as the file is read (bounded memory);
    the first bad line raises when it is reached."""
    name = str(path)
    count = 0
    for lineno, line in _jsonl_lines(path):
        if not line.strip():
            continue
        where: dict[str, Any] = {"path": name, "index": count}
        try:
            data = json.loads(line, object_pairs_hook=unique_keys)
        except json.JSONDecodeError as exc:
            raise FixtureError(
                f"invalid JSON at column {exc.colno}: {exc.msg} (line {lineno})", **where
            ) from exc
        except DuplicateKeyError as exc:
            raise FixtureError(
                f"key {exc.key!r} appears twice in one JSON object (line {lineno})",
                field=exc.key,
                **where,
            ) from None
        except RecursionError:
            raise FixtureError(f"JSON nested too deeply (line {lineno})", **where) from None
        except ValueError as exc:  # an integer of thousands of digits, say
            raise FixtureError(
                f"invalid JSON: {number_problem(exc)} (line {lineno})", **where
            ) from None
        if not isinstance(data, dict):
            raise FixtureError(f"expected an event object (line {lineno})", **where)
        raw_id = data.get("id")
        where["event_id"] = raw_id if isinstance(raw_id, str) else None
        try:
            event = codec.from_dict(data)
        except UnknownEventTypeError as exc:
            raise FixtureUnknownEventTypeError(
                f"{exc} (line {lineno})", type_name=exc.type_name, field="type", **where
            ) from exc
        except ValidationError as exc:
            message = str(exc)
            if exc.field and message.startswith(f"{exc.field}: "):
                message = message[len(exc.field) + 2 :]
            raise FixtureError(f"{message} (line {lineno})", field=exc.field, **where) from exc
        yield event
        count += 1


_MAX_LINE = 64 << 20  # one record larger than this is refused


def _jsonl_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` split on ``\\n`` only (never on U+2028 and the like).

    Raises:
        FixtureError: not a regular file, unreadable, not UTF-8, or a line too long.
    """
    name = str(path)
    check_regular_file(path)
    try:
        with open(path, encoding="utf-8-sig", newline="\n") as handle:
            lineno = 0
            while True:
                line = handle.readline(_MAX_LINE + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > _MAX_LINE:
                    raise FixtureError(
                        f"line {lineno} is longer than {_MAX_LINE} characters", path=name
                    )
                yield lineno, line.rstrip("\r\n")
    except OSError as exc:
        raise FixtureError(f"cannot read file: {exc.strerror or exc}", path=name) from exc
    except UnicodeDecodeError as exc:
        raise FixtureError(f"not UTF-8 text (byte {exc.start})", path=name) from exc


# --- CSV ------------------------------------------------------------------------------


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, ev.Position | ev.Measure):
        return value.value
    return str(value)


def _write_csv(timeline: TimelineReader, out: TextIO, bounds: Bounds, tick: Tick) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cell = csv_cell  # a leading = + - @ tab or CR gets a ' (OWASP): text, not a formula
    count = 0
    for placed in effective_events(timeline.store, bounds):
        event, record = placed.event, placed.record
        source = event.source
        writer.writerow(
            [
                placed.position,
                *map(
                    cell,
                    [
                        record.story,
                        event.id,
                        timeline.type_name(event),
                        iso(event.occurred_at),
                        iso(event.occurred_until),
                        event.precision.value,
                        event_when(event),
                        iso(event.reported_at or record.reported_at),
                        iso(event.effective_reported_until or record.reported_until),
                        iso(record.recorded_at),
                        "; ".join(actor_ids(event)),
                        _text(getattr(event, "topic", None)),
                        _text(getattr(event, "product", None)),
                        _text(getattr(event, "position", None)),
                        source.publisher if source else "",
                        _text(source.headline) if source else "",
                        _text(source.url) if source else "",
                        event.attribution,
                        event.summary,
                        _text(event.quote),
                    ],
                ),
            ]
        )
        count += 1
        tick(1)
    return count


# --- Markdown -------------------------------------------------------------------------


def _write_markdown(timeline: TimelineReader, out: TextIO, bounds: Bounds, tick: Tick) -> int:
    names = actor_names(timeline)
    store = timeline.store
    # the count comes first: the events are read twice, in one read transaction (the
    # same log both times), and written as they are read the second time
    with store.reading():
        count = _count(store, bounds)
        # every stored text through md_text (escaped, one line) and every URL through
        # md_link (only http/https become links): text cannot run or forge structure
        out.write(f"# {md_text(story_title(timeline, bounds.story))}\n\n")
        out.write(f"{count} events: {md_text(describe_bounds(bounds))}.\n")
        for label, group in date_groups(effective_events(store, bounds)):
            out.write(f"\n## {md_text(label)}\n\n")
            for p in group:
                event = p.event
                actors = ", ".join(md_text(names.get(a, a)) for a in actor_ids(event))
                head = f"**{md_text(type_label(timeline.type_name(event)))}**"
                if actors:
                    head += f" ({actors})"
                out.write(f"- {head}: {md_text(event.summary)} {md_code(event.id)}\n")
                if event.quote:
                    out.write(f"  > {md_line(event.quote)}\n")
                source = source_line(event, text=md_text, link=md_link)
                if source:
                    out.write(f"  - Source: {source}\n")
                if event.about:
                    about = ", ".join(md_text(names.get(a, a)) for a in event.about)
                    out.write(f"  - About: {about}\n")
                tick(1)
    _write_markdown_facts(timeline, out, bounds, names)
    notes = corrections_log(timeline, bounds)
    if notes:
        out.write("\n## Corrections and retractions\n\n")
        for note in notes:
            out.write(f"- {md_text(note.text)} {md_code(note.id)}\n")
    return count


def _count(store: EventLog, bounds: Bounds) -> int:
    """How many events a state under ``bounds`` sees (one pass, nothing kept): pages
    that state it before their events hold none of them (a million-event Markdown page
    took 1.7 GB when it listed them from memory)."""
    return sum(1 for _ in effective_events(store, bounds))


def _write_markdown_facts(
    timeline: TimelineReader, out: TextIO, bounds: Bounds, names: dict[str, str]
) -> None:
    """Where things stand under ``bounds``: each fact, who says so, who disputes it."""
    state = timeline.state(
        at=bounds.at,
        known_at=bounds.known_at,
        recorded_by=bounds.recorded_by,
        story=bounds.story,
        certain=bounds.certain,
    )
    stances, intents, restrictions = state.stances(), state.order_intents(), state.restrictions()
    if not (stances or intents or restrictions):
        return
    claims = claim_labels(timeline, [*stances, *intents, *restrictions])
    out.write("\n## Where things stand\n\n")
    t = md_text
    for s in stances:
        what = f"**{t(names.get(s.actor, s.actor))}** on {md_code(s.topic)}: "
        what += t(fact_label(s, claims))
        if s.conditions:
            what += f" (conditions: {t(', '.join(s.conditions))})"
        out.write(f"- {what}; {t(provenance(s))}\n")
    for i in intents:
        who = f"{names.get(i.buyer, i.buyer)} / {names.get(i.supplier, i.supplier)} / {i.product}"
        out.write(f"- **{t(who)}**: {t(fact_label(i, claims))}; {t(provenance(i))}\n")
    for r in restrictions:
        out.write(f"- **{t(r.id)}** ({t(names.get(r.authority, r.authority))}): ")
        out.write(f"{t(fact_label(r, claims))}; {t(provenance(r))}\n")


# --- TimelineJS ----------------------------------------------------------------------


def date_parts(event: ev.Event) -> dict[str, int]:
    """TimelineJS ``start_date`` parts that follow the event's precision (UTC)."""
    return _parts(event.occurred_at, event.precision)


def end_date_parts(event: ev.Event) -> dict[str, int] | None:
    """TimelineJS ``end_date`` parts of a period wider than its precision (an EDTF
    interval), as precise as its end is; ``None`` for a plain instant, day, month or year."""
    end = event.occurred_until
    if end == period_end(event.occurred_at, event.precision):
        return None
    return _parts(end, _END_PRECISION[end_grain(end.astimezone(UTC))])


_END_PRECISION = {
    "instant": ev.Precision.EXACT,
    "day": ev.Precision.DAY,
    "month": ev.Precision.MONTH,
    "year": ev.Precision.YEAR,
}


def _parts(value: datetime, precision: ev.Precision) -> dict[str, int]:
    utc = value.astimezone(UTC)
    parts = {"year": utc.year}
    if precision is ev.Precision.YEAR:
        return parts
    parts["month"] = utc.month
    if precision is ev.Precision.MONTH:
        return parts
    parts["day"] = utc.day
    if precision is ev.Precision.DAY:
        return parts
    parts.update(hour=utc.hour, minute=utc.minute)
    return parts


def _write_timelinejs(timeline: TimelineReader, out: TextIO, bounds: Bounds, tick: Tick) -> int:
    """Knight Lab's JSON: the title (which gives the count), then the slides, written
    one at a time as the events are read a second time (as :func:`_write_markdown`);
    the text is the one ``json.dumps(document, indent=2)`` gives."""
    names = actor_names(timeline)
    store = timeline.store
    with store.reading():
        count = _count(store, bounds)
        document = {
            "title": {
                "text": {
                    "headline": escape(story_title(timeline, bounds.story)),
                    "text": escape(f"{count} events: {describe_bounds(bounds)}."),
                }
            },
            "events": [],
        }
        whole = json.dumps(document, ensure_ascii=False, indent=2)
        if not count:
            out.write(jsonl_line(whole) + "\n")
            return 0
        opening = whole[: -len("[]\n}")] + "["  # up to the events' list, opened
        out.write(jsonl_line(opening))
        written = 0
        for p in effective_events(store, bounds):
            slide = _slide(timeline, p.event, names)
            text = json.dumps(slide, ensure_ascii=False, indent=2).replace("\n", "\n    ")
            out.write(("\n    " if not written else ",\n    ") + jsonl_line(text))
            written += 1
            tick(1)
        out.write("\n  ]\n}\n")
    return written


def _slide(timeline: TimelineReader, event: ev.Event, names: dict[str, str]) -> dict[str, Any]:
    """One event as a TimelineJS slide."""
    type_name = timeline.type_name(event)
    actors = [names.get(a, a) for a in actor_ids(event)]
    body = f"<p>{escape(event.summary)}</p>"
    if event.quote:
        body += f"<blockquote>{escape(event.quote)}</blockquote>"
    source = source_line(event, url_as_link=False)
    if source:
        body += f"<p><small>{escape(source)}</small></p>"
    slide: dict[str, Any] = {
        "start_date": date_parts(event),
        # as people write it ("8\u201310 Dec 2025"): TimelineJS shows it instead
        "display_date": event_when(event),
        "text": {
            "headline": escape(headline(event.summary) or type_label(type_name)),
            "text": body,
        },
        # TimelineJS puts these into the page as HTML: every text field is escaped
        "group": escape(actors[0] if actors else type_label(type_name)),
        "unique_id": event.id,
    }
    end = end_date_parts(event)
    if end is not None:
        slide["end_date"] = end
    # TimelineJS requires media.url (it stops with a script error without one);
    # a source without a URL is already credited in the slide's text
    # (only an http/https one: TimelineJS would embed or link any other)
    url = safe_url(event.source.url) if event.source and event.source.url else None
    if event.source is not None and url is not None:
        media: dict[str, str] = {"credit": escape(event.source.publisher), "url": url}
        if event.source.headline:
            media["caption"] = escape(event.source.headline)
        slide["media"] = media
    return slide


_WRITERS: dict[str, Callable[[TimelineReader, TextIO, Bounds, Tick], int]] = {
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "markdown": _write_markdown,
    "timelinejs": _write_timelinejs,
    "html": write_html,
}

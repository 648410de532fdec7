"""Records and facts as people and machines read them: JSON-ready data and short labels.

Shared by the command line and the exports, so a stance or an event looks the
same in ``timeline state --json``, in a CSV file and on the HTML page.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from timeline import events as ev
from timeline.bitemporal import Bounds
from timeline.codec import Codec, default_codec
from timeline.output.reader import TimelineReader
from timeline.projections.base import Change, is_internal
from timeline.store.recorded import RecordedEvent, SearchHit
from timeline.times import Precision, human_period, period_end

__all__ = [
    "Amendments",
    "actor_ids",
    "amendment_of",
    "actor_names",
    "bounds_dict",
    "change_dict",
    "claim_labels",
    "claims_note",
    "change_label",
    "change_text",
    "date_groups",
    "describe_bounds",
    "fact_label",
    "headline",
    "iso",
    "plain",
    "provenance",
    "record_dict",
    "source_line",
    "story_title",
    "type_label",
    "visible",
    "with_amending_ids",
    "when",
    "event_when",
]


def iso(value: datetime) -> str:
    """A datetime in UTC, ISO 8601 with offset (``2025-12-10T00:00:00+00:00``)."""
    return value.astimezone(UTC).isoformat()


def when(value: datetime, precision: Precision | str = Precision.EXACT) -> str:
    """A time as precisely as known, as people write it: ``2025``, ``Sep 2025``,
    ``8 Dec 2025``, or ``10 Dec 2025 08:00Z``; never a false midnight."""
    return human_period(value, period_end(value, Precision(precision)))


def event_when(event: ev.Event) -> str:
    """When an event happened, as people write the period: ``8\u201310 Dec 2025``."""
    return human_period(event.occurred_at, event.occurred_until)


def type_label(type_name: str) -> str:
    """``regulator_meeting`` -> ``Regulator meeting``."""
    return type_name.replace("_", " ").capitalize()


def record_dict(record: RecordedEvent, codec: Codec = default_codec) -> dict[str, Any]:
    """A stored event as plain data: where and when it was stored, and the record.

    The record's own fields sit under ``record`` so that none of them (a stance's
    ``position``, say) can overwrite the log's ``position``; ``id``, ``type``,
    ``story`` and the times are repeated beside it for convenience.
    """
    data = codec.to_dict(record.event)
    return {
        "position": record.position,
        "version": record.version,
        "story": record.story,
        "id": record.event.id,
        "type": data.get("type"),
        "occurred_at": data.get("occurred_at"),
        "reported_at": data.get("reported_at"),
        "recorded_at": iso(record.recorded_at),
        "record": data,
    }


def visible(changes: Iterable[Change]) -> list[Change]:
    """The changes readers care about: without a projection's internal index facts."""
    return [c for c in changes if not is_internal(c.key)]


def change_dict(
    change: Change, codec: Codec = default_codec, amendments: Amendments | None = None
) -> dict[str, Any]:
    """A changed fact as plain data: ``projection``, ``key``, ``before``, ``after``, and
    ``amended`` (``{"kind": "retracted", "by": "mag-08"}``) when it comes of one."""
    out = {
        "projection": change.projection,
        "key": [plain(k, codec) for k in change.key],
        "before": plain(with_amending_ids(change.before, amendments), codec),
        "after": plain(with_amending_ids(change.after, amendments), codec),
    }
    amended = amendment_of(change, amendments)
    if amended is not None:
        out["amended"] = {"kind": amended[0], "by": amended[1]}
    return out


def plain(value: Any, codec: Codec = default_codec) -> Any:
    """JSON-ready data for any value the library returns.

    Datetimes become ISO strings, enums their values, records their codec
    form, attrs classes (``Stance``, ``OrderIntent``, ``Source``...) dicts of
    their fields, tuples lists. Anything else unknown becomes its ``str()``.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, RecordedEvent):
        return record_dict(value, codec)
    if isinstance(value, ev.Event):
        return codec.to_dict(value)
    if isinstance(value, Change):
        return change_dict(value, codec)
    if isinstance(value, SearchHit):
        return {
            "rank": value.rank,
            "snippet": value.snippet,
            "status": value.status,
            "amended_by": value.amended_by,
            "event": record_dict(value.record, codec),
        }
    if attrs.has(type(value)):
        data = {f.name: plain(getattr(value, f.name), codec) for f in attrs.fields(type(value))}
        if hasattr(value, "independent_sources"):
            data["independent_sources"] = value.independent_sources
        return data
    if isinstance(value, Mapping):
        return {str(k): plain(v, codec) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, codec) for v in value]
    return str(value)


def fact_label(fact: Any, claims: Mapping[str, str] | None = None) -> str:
    """A fact in a few words: a stance's position, an intent's status, a restriction,
    and who disputes or confirms it (``exploring — disputed by Lumen, 4 Mar``).

    ``claims`` maps denial and confirmation ids to labels (see :func:`claim_labels`);
    without it the ids are shown.
    """
    if fact is None:
        return "—"
    text = getattr(fact, "label", None)  # a fact class says how it reads
    if not isinstance(text, str):
        return str(fact)
    if getattr(fact, "certain", True) is False:
        text = f"possibly {text}"
    note = claims_note(fact, claims)
    return f"{text} — {note}" if note else text


def claims_note(fact: Any, claims: Mapping[str, str] | None = None) -> str:
    """``disputed by Lumen, 4 Mar; confirmed by Nvidia, 5 Mar`` (empty when neither)."""
    labels = claims or {}
    parts = []
    for word, ids in (
        ("disputed", getattr(fact, "disputed_by", ())),
        ("confirmed", getattr(fact, "confirmed_by", ())),
    ):
        if ids:
            parts.append(f"{word} by " + "; ".join(labels.get(i, i) for i in ids))
    return "; ".join(parts)


def provenance(fact: Any) -> str:
    """``2 independent sources: Reuters, The Information`` (origin publishers)."""
    origins = getattr(fact, "origins", ())
    if not origins:
        return "no source"
    count = len(origins)
    return f"{count} independent source{'s' if count != 1 else ''}: {', '.join(origins)}"


def claim_labels(timeline: TimelineReader, facts: Iterable[Any]) -> dict[str, str]:
    """Denial / confirmation id -> ``Lumen, 4 Mar`` for the claims on ``facts``."""
    names = actor_names(timeline)
    out: dict[str, str] = {}
    for fact in facts:
        for claim_id in (*getattr(fact, "disputed_by", ()), *getattr(fact, "confirmed_by", ())):
            if claim_id in out:
                continue
            record = timeline.get(claim_id)
            if record is None:
                out[claim_id] = claim_id
                continue
            event = record.event
            actor = getattr(event, "actor", "")
            out[claim_id] = f"{names.get(actor, actor)}, {_short_date(event)}"
    return out


def _short_date(event: ev.Event) -> str:
    return human_period(event.occurred_at, max(event.occurred_until, event.occurred_at))


# amended event id -> ("corrected" | "retracted", id of the correction or retraction)
Amendments = Mapping[str, tuple[str, str]]
F = TypeVar("F")


def with_amending_ids(fact: F, amendments: Amendments | None) -> F:
    """``fact`` with the id of each correction or retraction of an event of its
    ``evidence`` in that evidence, just before the id it amends (newest first):
    ``("corr-1", "h200-0010", ...)``. Without any, ``fact`` itself.

    A corrected event keeps its own id in the facts folded from its replacement;
    this says, wherever a fact is shown, which correction made it so.
    """
    evidence = getattr(fact, "evidence", None)
    if not amendments or not evidence or not attrs.has(type(fact)):
        return fact
    shown: list[str] = []
    for event_id in evidence:
        amended = amendments.get(event_id)
        if amended is not None and amended[1] not in evidence:
            shown.append(amended[1])
        shown.append(event_id)
    if len(shown) == len(evidence):
        return fact
    return attrs.evolve(fact, evidence=tuple(shown))  # type: ignore[misc]


def amendment_of(change: Change, amendments: Amendments | None) -> tuple[str, str] | None:
    """Whether a change comes of a correction or retraction: ``("retracted", "mag-08")``.

    It does when the evidence of the fact before or after it (or the restriction
    itself) includes an amended event.
    """
    if not amendments:
        return None
    for fact in (change.before, change.after):
        if fact is None:
            continue
        ids = list(getattr(fact, "evidence", ()))
        own_id = getattr(fact, "id", None)  # a restriction is its own event
        if isinstance(own_id, str):
            ids.append(own_id)
        for event_id in ids:
            if event_id in amendments:
                return amendments[event_id]
    return None


def change_text(
    change: Change,
    claims: Mapping[str, str] | None = None,
    amendments: Amendments | None = None,
) -> str:
    """``stance beijing / h200-imports: — -> undecided``; a restated fact says so, and a
    change that comes of a correction or retraction says which (``corrected by mag-10``)."""
    before, after = fact_label(change.before, claims), fact_label(change.after, claims)
    amended = amendment_of(change, amendments)
    if amended is not None:
        note = f" ({amended[0]} by {amended[1]})"
    else:
        note = " (restated)" if before == after else ""
    return f"{change_label(change)}: {before} -> {after}{note}"


def change_label(change: Change) -> str:
    """Which fact changed: ``stance beijing / h200-imports``."""
    subject = getattr(change.fact, "subject", None)  # a fact class says which it is
    if isinstance(subject, str):
        return subject
    return f"{change.projection} {' / '.join(str(k) for k in change.key)}"


def bounds_dict(bounds: Bounds) -> dict[str, Any]:
    """The bounds of a query as plain data (``None`` where unbounded)."""
    return {
        "at": iso(bounds.at) if bounds.at else None,
        "known_at": iso(bounds.known_at) if bounds.known_at else None,
        "recorded_by": iso(bounds.recorded_by) if bounds.recorded_by else None,
        "story": bounds.story,
    }


def describe_bounds(bounds: Bounds) -> str:
    """``as of 2025-12-10 23:59Z, as known at ...`` or ``everything recorded``."""
    parts = []
    if bounds.at is not None:
        parts.append(f"what happened by {iso(bounds.at)}")
    if bounds.known_at is not None:
        parts.append(f"as reported by {iso(bounds.known_at)}")
    if bounds.recorded_by is not None:
        parts.append(f"as recorded by {iso(bounds.recorded_by)}")
    text = ", ".join(parts) if parts else "everything recorded"
    return f"{text} (story {bounds.story})" if bounds.story else text


# --- events for readers ---------------------------------------------------------


def actor_ids(event: ev.Event) -> list[str]:
    """The actors an event names, in field order, without repeats."""
    return list(dict.fromkeys(actor for _, actor in event.actor_refs()))


def actor_names(timeline: TimelineReader) -> dict[str, str]:
    """Actor id -> display name."""
    return {actor.id: actor.name for actor in timeline.actors()}


def story_title(timeline: TimelineReader, story: str | None) -> str:
    """The title of ``story``, of the store's only story, or of the store file."""
    stories = timeline.stories()
    if story is not None:
        titles = [title for slug, title, _ in stories if slug == story]
        return (titles[0] if titles else None) or story
    if len(stories) == 1:
        return stories[0][1] or stories[0][0]
    return f"Timeline: {timeline.path.name}"


# a full stop after a lower-case letter or digit, then a capital: "U.S. AI" is no end
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"\u201d\u2019])[.!?](?=\s+[A-Z\u201c\"])")


def headline(summary: str, limit: int = 100) -> str:
    """The first sentence of ``summary``, at most ``limit`` characters."""
    first = _SENTENCE_END.split(summary.strip(), maxsplit=1)[0]
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first


def source_line(
    event: ev.Event,
    *,
    url_as_link: bool = True,
    text: Callable[[str], str] | None = None,
    link: Callable[[str], str] | None = None,
) -> str:
    """Each source (publisher, via, headline, publication date, URL), then the
    attribution and the basis, in one line.

    ``text`` escapes stored text and ``link`` writes a URL, for a markup (Markdown).
    """
    t = text or (lambda s: s)
    cited = []
    for source in event.sources:
        parts = [t(source.publisher)]
        if source.via is not None:
            parts[0] += f" (via {t(source.origin or source.via)})"
        if source.headline:
            parts.append(f"“{t(source.headline)}”")
        if source.published_at is not None:
            parts.append(f"published {when(source.published_at, Precision.DAY)}")
        if source.url:
            if link is not None:
                parts.append(link(source.url))
            else:
                parts.append(f"<{source.url}>" if url_as_link else source.url)
        cited.append(", ".join(parts))
    parts = ["; ".join(cited)] if cited else []
    if event.attribution:
        parts.append(f"attribution: {t(event.attribution)}")
    if event.basis is not ev.Basis.UNKNOWN:
        parts.append(f"basis: {event.basis.value}")
    return ", ".join(parts)


class _HasEvent(Protocol):
    @property
    def event(self) -> ev.Event: ...


T = TypeVar("T", bound=_HasEvent)


def date_groups(items: Iterable[T]) -> Iterator[tuple[str, list[T]]]:
    """Consecutive items (in occurred order) under the label of their date."""
    label: str | None = None
    group: list[T] = []
    for item in items:
        current = event_when(item.event)
        if group and current != label:
            yield label or "", group
            group = []
        label = current
        group.append(item)
    if group:
        yield label or "", group

"""The corrections log: what was corrected or retracted, when we learned it, and why.

A retracted report disappears from every state that knows of the retraction; a
corrected one is silently replaced. Readers of an export deserve to be told, so
the Markdown and HTML exports list every correction and retraction the export's
knowledge bounds (``known_at``, ``recorded_by``) include, whatever its ``at``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from timeline import events as ev
from timeline.bitemporal import Bounds, meta_type_names
from timeline.output.labels import actor_ids, actor_names, headline
from timeline.output.reader import TimelineReader

__all__ = ["CorrectionNote", "amendments", "corrections_log", "day_text", "step_amendments"]


def day_text(value: datetime) -> str:
    """A day as people write it: ``11 Dec 2025`` (UTC)."""
    utc = value.astimezone(UTC)
    return f"{utc.day} {utc:%b} {utc.year:04d}"


@attrs.frozen(kw_only=True)
class CorrectionNote:
    """One correction or retraction, described for a reader."""

    id: str
    kind: str  # "corrected" or "retracted"
    target: str
    reported_at: datetime
    text: str


def _what(timeline: TimelineReader, target: ev.Event | None, target_id: str) -> str:
    if target is None:
        return f"event {target_id}"
    names = actor_names(timeline)
    kind = timeline.type_name(target).replace("_", " ")
    actors = [names.get(a, a) for a in actor_ids(target)]
    by = f" by {', '.join(actors)}" if actors else ""
    return f"report of {_article(kind)}{by} ({target_id})"


def _article(noun: str) -> str:
    # "an order placed", "a statement"
    label = {"order placed": "order", "order cancelled": "order cancellation"}.get(noun, noun)
    return ("an " if label[:1] in "aeiou" else "a ") + label


def corrections_log(timeline: TimelineReader, bounds: Bounds) -> list[CorrectionNote]:
    """Every correction and retraction within ``bounds``' knowledge, by report time."""
    notes: list[CorrectionNote] = []
    store = timeline.store
    for record in store.read(bounds.knowledge(types=meta_type_names(store), order="reported")):
        event = record.event
        reported = record.reported_at
        if isinstance(event, ev.Retraction):
            original = timeline.get(event.retracts)
            what = _what(timeline, original.event if original else None, event.retracts)
            why = f" — {event.reason}" if event.reason else ""
            notes.append(
                CorrectionNote(
                    id=event.id,
                    kind="retracted",
                    target=event.retracts,
                    reported_at=reported,
                    text=f"{day_text(reported)}: {what} retracted{why}",
                )
            )
        elif isinstance(event, ev.Correction):
            original = timeline.get(event.corrects)
            what = _what(timeline, original.event if original else None, event.corrects)
            now = headline(event.replacement.summary) or headline(event.summary)
            notes.append(
                CorrectionNote(
                    id=event.id,
                    kind="corrected",
                    target=event.corrects,
                    reported_at=reported,
                    text=f"{day_text(reported)}: {what} corrected" + (f" — {now}" if now else ""),
                )
            )
    return notes


def amendments(
    timeline: TimelineReader,
    *,
    known_since: datetime | None = None,
    known_until: datetime | None = None,
    story: str | None = None,
) -> dict[str, tuple[str, str]]:
    """Amended event id -> ``(kind, amending id)`` for the corrections and retractions
    reported in ``(known_since, known_until]`` (each bound optional)."""
    out: dict[str, tuple[str, str]] = {}
    store = timeline.store
    bounds = Bounds(known_at=known_until, story=story)
    for record in store.read(bounds.knowledge(types=meta_type_names(store), order="reported")):
        if known_since is not None and record.reported_at <= known_since:
            continue
        event = record.event
        target = ev.target_of(event)
        if target is not None:
            kind = "retracted" if isinstance(event, ev.Retraction) else "corrected"
            out[target] = (kind, event.id)
    return out


def step_amendments(
    event: ev.Event, otherwise: dict[str, tuple[str, str]] | None
) -> dict[str, tuple[str, str]] | None:
    """What a replay step's changes come of: its own correction or retraction, if it is
    one (a replay in reported or recorded order), or the amendment of the event
    itself (in occurred order a corrected event is folded as corrected)."""
    target = ev.target_of(event)
    if target is None:
        if otherwise and event.id in otherwise:
            return {event.id: otherwise[event.id]}
        return None
    return {target: ("retracted" if isinstance(event, ev.Retraction) else "corrected", event.id)}

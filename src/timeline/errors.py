"""Every error ``timeline`` raises derives from :class:`TimelineError`.

This module imports nothing from ``timeline`` so any layer can raise these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConcurrencyError",
    "DuplicateEventError",
    "FixtureError",
    "IntegrityError",
    "StoreError",
    "StoreFormatError",
    "TimelineError",
    "UnknownActorError",
    "UnknownEventTypeError",
    "UnknownTopicError",
    "ValidationError",
    "did_you_mean",
]


class TimelineError(Exception):
    """Base class of every error raised by ``timeline``."""


class ValidationError(TimelineError, ValueError):
    """A record or query argument has a bad value.

    Attributes:
        field: dotted path of the offending field, when known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConcurrencyError(TimelineError):
    """A story is not at the version the writer expected; nothing was written."""

    def __init__(self, story: str, expected: int, actual: int) -> None:
        super().__init__(f"story {story!r} is at version {actual}, expected {expected}")
        self.story = story
        self.expected = expected
        self.actual = actual


class DuplicateEventError(TimelineError):
    """An event id is already stored with different content."""

    def __init__(self, event_id: str, detail: str = "") -> None:
        message = f"event {event_id!r} is already stored with different content"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)
        self.event_id: str | None = event_id


class IntegrityError(TimelineError):
    """The hash chain does not match the stored rows.

    Attributes:
        position: the first log position whose row fails the check.
    """

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"integrity check failed at position {position}: {reason}")
        self.position = position
        self.reason = reason


class UnknownEventTypeError(TimelineError, LookupError):
    """No event type is registered under this stored name."""

    def __init__(self, type_name: str, message: str | None = None) -> None:
        super().__init__(message or f"unknown event type {type_name!r}")
        self.type_name = type_name

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0])


def did_you_mean(suggestions: Sequence[str]) -> str:
    """``"; did you mean 'a' or 'b'?"``, or nothing when there is no suggestion."""
    if not suggestions:
        return ""
    quoted = [repr(s) for s in suggestions]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"; did you mean {listed}?"


class UnknownActorError(TimelineError, LookupError):
    """An actor is named that the store (or the fixture) does not know.

    Attributes:
        actor: the name as given.
        suggestions: known ids, aliases or display names close to it, best first.
    """

    def __init__(
        self, actor: str, message: str | None = None, *, suggestions: Sequence[str] = ()
    ) -> None:
        super().__init__(message or f"unknown actor {actor!r}{did_you_mean(suggestions)}")
        self.actor = actor
        self.suggestions = tuple(suggestions)

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownTopicError(TimelineError, LookupError):
    """A topic is named that no stored event mentions.

    Attributes:
        topic: the topic as given.
        suggestions: known topics close to it, best first.
    """

    def __init__(self, topic: str, *, suggestions: Sequence[str] = ()) -> None:
        super().__init__(f"unknown topic {topic!r}{did_you_mean(suggestions)}")
        self.topic = topic
        self.suggestions = tuple(suggestions)

    def __str__(self) -> str:
        return str(self.args[0])


_MAX_REASON = 1000


class FixtureError(TimelineError, ValueError):
    """A fixture file is unreadable or holds a bad value; nothing was written.

    Attributes:
        path: the fixture file.
        problems: every problem found in the file, this one first (a file with
            several bad events reports them all at once, up to 50).
        index: position of the offending event in the file's ``events`` list.
        event_id: id of the offending event, when it has one.
        field: path of the offending field (``events[3].occurred_at``).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        index: int | None = None,
        event_id: str | None = None,
        field: str | None = None,
    ) -> None:
        where = [path]
        if index is not None:
            where.append(f"event #{index}" + (f" ({event_id!r})" if event_id else ""))
        elif event_id is not None:
            where.append(f"event {event_id!r}")
        if field:
            where.append(f"field {field}")
        if len(message) > _MAX_REASON:  # a 10 MB hostile value must not become the message
            message = message[: _MAX_REASON - 3] + "..."
        # Not super(): in the subclasses below that would run e.g. UnknownActorError's
        # __init__, which wraps the whole text again ("unknown actor '<message>'").
        Exception.__init__(self, f"{': '.join(where)}: {message}")
        self.path = path
        self.index = index
        self.event_id = event_id
        self.field = field
        self.reason = message
        # every problem found in the file (this one first); see fixtures.all_problems
        self.problems: tuple[FixtureError, ...] = (self,)


class StoreError(TimelineError):
    """The database refused an operation (locked past retries, read-only, disk full)."""


class StoreFormatError(TimelineError):
    """The file is not a timeline store, or was written by a newer version."""


# A fixture problem that is also a more specific kind: catchable as either.


class FixtureUnknownActorError(FixtureError, UnknownActorError):
    """A fixture event names an actor that is neither declared nor stored."""

    def __init__(self, message: str, *, actor: str, **where: Any) -> None:
        FixtureError.__init__(self, message, **where)
        self.actor = actor
        self.suggestions: tuple[str, ...] = ()

    def __str__(self) -> str:
        return str(self.args[0])


class FixtureUnknownEventTypeError(FixtureError, UnknownEventTypeError):
    """A fixture event has a ``type`` no one registered."""

    def __init__(self, message: str, *, type_name: str, **where: Any) -> None:
        FixtureError.__init__(self, message, **where)
        self.type_name = type_name

    def __str__(self) -> str:
        return str(self.args[0])


class FixtureDuplicateEventError(FixtureError, DuplicateEventError):
    """A fixture event reuses an id the store holds with other content."""

    def __init__(self, message: str, **where: Any) -> None:
        FixtureError.__init__(self, message, **where)

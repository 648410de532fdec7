"""What the store hands back: actors, recorded events, append results, search hits."""

from __future__ import annotations

from datetime import datetime

import attrs

from timeline import events as ev

__all__ = ["Actor", "AppendResult", "RecordedEvent", "SearchHit"]


@attrs.frozen(kw_only=True)
class Actor:
    """Someone who takes positions or places orders: a government, company, person."""

    id: str
    name: str
    kind: str = ""
    aliases: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RecordedEvent:
    """An event as stored: the record plus where and when the store logged it."""

    position: int
    story: str
    version: int
    recorded_at: datetime
    event: ev.Event

    @property
    def id(self) -> str:
        """The event's id."""
        return self.event.id

    @property
    def type(self) -> str:
        """The event's class name (see ``Timeline.type_name`` for the stored name)."""
        return type(self.event).__name__

    @property
    def occurred_at(self) -> datetime:
        """When it happened."""
        return self.event.occurred_at

    @property
    def reported_at(self) -> datetime:
        """When it became public, at the earliest (always set once stored)."""
        assert self.event.reported_at is not None  # the store fills it
        return self.event.reported_at

    @property
    def occurred_until(self) -> datetime:
        """When it happened, at the latest."""
        return self.event.occurred_until

    @property
    def reported_until(self) -> datetime:
        """When it became public, at the latest (always set once stored)."""
        found = self.event.effective_reported_until
        assert found is not None  # the store fills it
        return found


@attrs.frozen(kw_only=True)
class AppendResult:
    """What an append did: events written and ids skipped as already stored."""

    appended: tuple[RecordedEvent, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def version(self) -> int | None:
        """The story's version after the append, if anything was written."""
        return self.appended[-1].version if self.appended else None


@attrs.frozen(kw_only=True)
class SearchHit:
    """One search result: the event, a snippet with the matches marked, and its rank.

    Attributes:
        rank: the backend's rank (FTS5's bm25 for SQLite); lower is a better match
            (results come best first).
        status: ``"current"``, ``"retracted"`` or ``"corrected"`` (superseded by a
            correction), as known at the search's ``known_at``.
        amended_by: the id of the retraction or correction, if any.
    """

    record: RecordedEvent
    snippet: str
    rank: float
    status: str = "current"
    amended_by: str | None = None

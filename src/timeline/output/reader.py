"""What the outputs read from a timeline: the narrow view they depend on.

Exports, the HTML page and the labels take a :class:`TimelineReader`, not the
``Timeline`` facade, so the facade may import them without a cycle (and any
object with these few methods can be exported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from timeline import events as ev
from timeline.projections.fold import State
from timeline.replay import Replay
from timeline.store.base import EventLog
from timeline.store.recorded import Actor, RecordedEvent
from timeline.times import TimeInput

__all__ = ["TimelineReader"]


class TimelineReader(Protocol):
    """The part of :class:`timeline.Timeline` that outputs use."""

    @property
    def path(self) -> Path:
        """The store file (titles fall back to its name)."""
        ...

    @property
    def store(self) -> EventLog:
        """The event log (records, codec)."""
        ...

    def state(
        self,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
        story: str | None = None,
        *,
        certain: bool = False,
    ) -> State:
        """The facts under these bounds (only what certainly happened, with ``certain``)."""
        ...

    def replay(
        self,
        order: str = "occurred",
        *,
        story: str | None = None,
        at: TimeInput | None = None,
        known_at: TimeInput | None = None,
        recorded_by: TimeInput | None = None,
    ) -> Replay:
        """Steps through the log under these bounds."""
        ...

    def type_name(self, event: ev.Event) -> str:
        """The stored type name of a record."""
        ...

    def get(self, event_id: str) -> RecordedEvent | None:
        """A stored event by id."""
        ...

    def actors(self) -> list[Actor]:
        """Every actor."""
        ...

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story."""
        ...

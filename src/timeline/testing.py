"""Helpers for testing code built on timeline: clocks a test drives by hand.

``StepClock`` stands still until told to move (or to go backwards), so that
``recorded_at`` values are known in advance without sleeping. For the system
clock, freeze time with freezegun instead: the store reads it through
:class:`timeline.SystemClock`.

Example::

    from timeline.testing import StepClock
    clock = StepClock()
    with tl.Timeline.open(":memory:", clock=clock) as store:
        store.append([...], story="s")
        clock.advance(hours=1)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["StepClock"]

_START = datetime(2026, 1, 1, tzinfo=UTC)


class StepClock:
    """A :class:`timeline.Clock` that moves only when told: it can stall or go backwards.

    Args:
        start: the first time it reads (default 2026-01-01T00:00Z); timezone-aware.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or _START

    def now(self) -> datetime:
        """The time it was last set to."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move by ``timedelta(**delta)`` (negative values go backwards)."""
        self.current += timedelta(**delta)

    def set(self, when: datetime) -> None:
        """Jump to ``when``."""
        self.current = when

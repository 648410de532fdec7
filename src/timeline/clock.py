"""The store's clock: the only place ``timeline`` asks for the current time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """Wall-clock UTC time (``freezegun`` can freeze it in tests)."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

"""The two storage ports: the event log and the snapshot store.

Everything above ``store/`` talks to these protocols, never to a driver.
A backend implements both (``store/sqlite.py`` and ``store/facts.py`` for
SQLite) and promises that no driver error leaves it: every failure is a
:class:`~timeline.errors.TimelineError` subclass. ``tests/contract/`` holds
the guarantees a backend must keep, written once against these protocols.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import attrs

from timeline import events as ev
from timeline.clock import Clock
from timeline.codec import Codec
from timeline.errors import StoreError
from timeline.store.recorded import Actor, AppendResult, RecordedEvent, SearchHit

__all__ = [
    "ORDERS",
    "Checkpoint",
    "CheckpointMoved",
    "EventFilter",
    "EventLog",
    "FactRow",
    "SnapshotStore",
    "vague_extent_of",
]

ORDERS = ("position", "recorded", "occurred", "reported")
"""Orders a read may ask for (``recorded`` is log order, like ``position``)."""


@attrs.frozen(kw_only=True)
class EventFilter:
    """Which stored events a read wants: every given field must match.

    Times are inclusive bounds on the stored (UTC) times; ``after_position`` /
    ``upto_position`` cut the log to ``(after, upto]``; ``order`` is one of
    :data:`ORDERS`. With ``certain``, ``occurred_until`` / ``reported_until`` bound
    the *last* instant of each period (``occurred_until`` / ``reported_until``
    columns) instead of the first. ``vague_at`` / ``vague_known``: only events
    that possibly but not certainly happened by then / were public by then.
    ``fields``: a hint for :meth:`EventLog.read_events` that the caller reads only
    these fields of each record (see :meth:`timeline.Codec.trusted_decoder`); a
    store may ignore it and decode every record whole.
    """

    story: str | None = None
    actor: str | None = None
    types: Sequence[str] | None = None
    exclude_types: Sequence[str] | None = None
    ids: Sequence[str] | None = None
    occurred_from: datetime | None = None
    occurred_until: datetime | None = None
    reported_from: datetime | None = None
    reported_until: datetime | None = None
    recorded_until: datetime | None = None
    after_position: int = 0
    upto_position: int | None = None
    order: str = "position"
    certain: bool = False
    vague_at: datetime | None = None
    vague_known: datetime | None = None
    fields: frozenset[str] | None = None

    def but(self, **changes: Any) -> EventFilter:
        """A copy with some fields changed."""
        return attrs.evolve(self, **changes)


EVERYTHING = EventFilter()


@attrs.frozen
class Checkpoint:
    """How far the snapshot versions reach.

    Attributes:
        position: the log position they are built towards (or cover, once complete).
        okey: the fold key (``snapshots.okey``: occurred time, then position) folded up to.
        max_reported / max_recorded: the latest ``reported_at`` / ``recorded_at``
            among the events covered, as stored text.
        signature: the projections and fact layouts they were built with.
        complete: the fold reached ``position``.
    """

    position: int
    okey: str
    max_reported: str | None
    max_recorded: str | None
    signature: str
    complete: bool


FactRow = tuple[str, str, Any]
"""``(key text, okey, fact)``: one fact version, ``None`` fact meaning removed."""


class CheckpointMoved(StoreError):
    """Another writer moved the snapshot checkpoint since it was read (retry or fold)."""


class EventLog(Protocol):
    """The append-only log of one store: positions, versions, actors, hash chain."""

    path: Path
    clock: Clock
    codec: Codec
    readonly: bool

    def close(self) -> None:
        """Release the connection; later use raises ``StoreError``."""

    # --- writing ---

    def append(
        self,
        events: Iterable[ev.Event],
        *,
        story: str | None = None,
        expected_version: int | None = None,
        actors: Iterable[Actor] = (),
        register_actors: bool = True,
        title: str | None = None,
    ) -> AppendResult:
        """Append a batch atomically (see :meth:`timeline.Timeline.append`)."""
        ...

    def register_actors(self, actors: Iterable[Actor]) -> None:
        """Declare or update actors (names, kinds, aliases merged), atomically."""

    # --- reading ---

    def reading(self) -> AbstractContextManager[None]:
        """One read transaction: every read inside sees the same committed log
        (snapshot isolation), never waits for writers and never writes."""
        ...

    def read(self, where: EventFilter = EVERYTHING) -> Iterator[RecordedEvent]:
        """Stream the stored events matching ``where``, lazily, in its order."""
        ...

    def read_events(
        self, where: EventFilter = EVERYTHING
    ) -> Iterator[tuple[datetime, int, ev.Event]]:
        """As :meth:`read`, lean: ``(occurred_at, position, event)`` (the folding hot path)."""
        ...

    def read_ids(
        self, ids: Iterable[str], where: EventFilter = EVERYTHING
    ) -> Iterator[RecordedEvent]:
        """The stored events with these ids (any number of them) that match ``where``."""
        ...

    def get(self, event_id: str) -> RecordedEvent | None:
        """The stored event with this id, or ``None``."""
        ...

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        ...

    def story_version(self, story: str) -> int:
        """The story's current version (0 if it has no events)."""
        ...

    def stories(self) -> list[tuple[str, str | None, int]]:
        """``(story, title, version)`` for every story, sorted."""
        ...

    def topics(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """``(topic, events, actors)`` for every topic an event names, sorted by topic."""
        ...

    def known_ids(self) -> dict[str, str]:
        """Every stored event id with its stored type name."""
        ...

    def count_events(self) -> int:
        """How many events the log holds."""
        ...

    def time_extent(self, after: int, upto: int) -> tuple[str | None, str | None]:
        """The latest ``reported_at`` and ``recorded_at`` in ``(after, upto]``, as
        :func:`timeline.times.to_text` writes them (``None`` when the range is empty)."""
        ...

    def actors(self) -> list[Actor]:
        """Every known actor, sorted by id."""
        ...

    def actor_lookup(self, marker: tuple[int, int] | None = None) -> dict[str, str]:
        """Every id and alias (casefolded) mapped to its actor id."""
        ...

    def change_marker(self) -> tuple[int, int]:
        """A value that changes whenever the store may have changed (cheap to ask)."""
        ...

    def wait(self, after_position: int, timeout: float) -> bool:
        """Block until the log passes ``after_position`` or ``timeout`` seconds pass.

        Returns:
            Whether the log now holds events after ``after_position``.
        """
        ...

    def search(
        self,
        query: str,
        *,
        raw: bool | None = None,
        where: EventFilter = EVERYTHING,
        limit: int | None = 50,
        markers: tuple[str, str] = ("[", "]"),
    ) -> list[SearchHit]:
        """Full-text search, best first (see :meth:`timeline.Timeline.search`)."""
        ...

    # --- integrity and files ---

    def verify(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Re-walk the hash chain; the number of events checked (``IntegrityError`` if broken).

        ``progress`` is called with the number of events checked since its last call.
        """
        ...

    def schema_names(self) -> list[str]:
        """Names of the applied schema migrations."""
        ...

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Write a consistent copy to ``target`` (which must not exist)."""


class SnapshotStore(Protocol):
    """Persisted fact versions of the built-in projections, and their checkpoint.

    Fact versions are keyed by a fact's key text and the fold key (``okey``) it
    holds from; the facts are encoded by the caller (``dumps``) so that a backend
    stores text. Sources are interned: :meth:`source_ref` gives a stable number
    for a source's canonical JSON, usable inside :meth:`write_versions`.
    """

    wait: bool
    """``False``: :meth:`begin` and :meth:`write_versions` give up at once (``StoreError``)
    when another writer holds the lock, instead of waiting (a best-effort refresh)."""

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint, or ``None`` before the first build."""
        ...

    def begin(
        self, expected: Checkpoint | None, checkpoint: Checkpoint, *, delete_from: str | None
    ) -> None:
        """Atomically: check the checkpoint is still ``expected`` (else ``CheckpointMoved``),
        drop versions from ``delete_from`` on (``""``: all of them), write ``checkpoint``."""

    def write_versions(
        self,
        expected: Checkpoint,
        rows: Sequence[FactRow],
        dumps: Callable[[Any], str | None],
        checkpoint: Checkpoint,
    ) -> None:
        """Atomically: check ``expected`` (else ``CheckpointMoved``), store the fact
        versions (``dumps`` encodes each fact), and move to ``checkpoint``."""

    def facts_at(self, okey: str, *, inclusive: bool) -> Iterator[tuple[str, str]]:
        """``(key text, fact text)``: each fact's latest version at or before ``okey``
        (strictly before with ``inclusive=False``); removed facts are left out."""
        ...

    def fact_at(self, key: str, okey: str) -> str | None:
        """One fact's latest version at or before ``okey`` (``None``: absent)."""
        ...

    def source_ref(self, text: str) -> int:
        """The number of an interned source (interning it now if new)."""
        ...

    def sources(self, after: int = 0) -> list[tuple[int, str]]:
        """Interned sources numbered above ``after``, in order."""
        ...


def vague_extent_of(
    row: tuple[str | None, str | None], replaced: Sequence[tuple[Any, Any]]
) -> tuple[datetime, datetime] | None:
    """A store's ``vague_extent`` from its two reads (stored text, payload text)."""
    spans = (
        []
        if row[0] is None or row[1] is None
        else [(datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1]))]
    )
    for start, end in replaced:
        if isinstance(start, str) and isinstance(end, str):
            begins, ends = datetime.fromisoformat(start), datetime.fromisoformat(end)
            if ends > begins:
                spans.append((begins, ends))
    if not spans:
        return None
    return min(b for b, _ in spans), max(e for _, e in spans)

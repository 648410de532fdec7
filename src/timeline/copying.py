"""Copying a store between backends, row for row: ``timeline copy SRC DST``.

Positions, versions, recorded times and hashes stay as they are: the copy's
``verify()`` re-walks the very chain the source holds. The copy goes in
chunks, each one transaction that must continue the destination's chain, so
an interrupted copy resumes where it stopped, and a destination that is not a
prefix of the source is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import attrs

from timeline.errors import IntegrityError, StoreError
from timeline.store.recorded import Actor

__all__ = ["CopyReport", "copy_store"]


class _Copyable(Protocol):
    """What both stores offer for copying (beyond the event log protocol)."""

    def head(self) -> int: ...
    def raw_rows(self, after_position: int = 0, limit: int = 1000) -> list[tuple[Any, ...]]: ...
    def actor_rows(self, after_position: int, upto_position: int) -> list[tuple[Any, ...]]: ...
    def actors(self) -> list[Actor]: ...
    def stories(self) -> list[tuple[str, str | None, int]]: ...
    def verify(self) -> int: ...
    def copy_rows(
        self,
        rows: Sequence[Sequence[Any]],
        actor_rows: Iterable[Sequence[Any]],
        actors: Iterable[Actor],
        stories: Iterable[tuple[str, str | None]],
    ) -> None: ...


@attrs.frozen(kw_only=True)
class CopyReport:
    """What a copy did: events already there (resumed from), copied, and verified."""

    resumed_from: int
    copied: int
    verified: int
    head_hash: str | None


def copy_store(
    source: Any,
    target: Any,
    *,
    chunk: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy every event ``target`` lacks from ``source``; verify both ends.

    Args:
        source / target: the event logs (``Timeline.store``) of two stores.
        chunk: events per transaction.
        progress: called with ``(events copied so far, events to copy)``.

    Raises:
        IntegrityError: ``target`` holds events that are not the same as
            ``source``'s at the same positions, or either chain is broken.
        StoreError: the target is ahead of the source.
    """
    src: _Copyable = source
    dst: _Copyable = target
    start = dst.head()
    end = src.head()
    if start > end:
        raise StoreError(
            f"the target holds {start} events, more than the source's {end}: not a copy of it"
        )
    if start:
        mine = dst.raw_rows(start - 1, 1)
        theirs = src.raw_rows(start - 1, 1)
        if not theirs or mine[0][:13] != theirs[0][:13]:
            raise IntegrityError(
                start, "the target's last event differs from the source's at that position"
            )
    actors = src.actors()
    stories = [(story, title) for story, title, _ in src.stories()]
    copied = 0
    after = start
    if progress is not None:
        progress(0, end - start)
    while after < end:
        rows = src.raw_rows(after, min(chunk, end - after))
        if not rows:
            break
        upto = rows[-1][0]
        dst.copy_rows(rows, src.actor_rows(after, upto), actors, stories)
        copied += len(rows)
        after = upto
        if progress is not None:
            progress(copied, end - start)
    if copied == 0:
        dst.copy_rows([], [], actors, stories)  # titles and actor names still follow
    verified = src.verify()
    if dst.verify() < end:
        raise IntegrityError(end, "the copy holds fewer events than the source")
    last = dst.raw_rows(end - 1, 1) if end else []
    return CopyReport(
        resumed_from=start,
        copied=copied,
        verified=verified,
        head_hash=last[0][12] if last else None,
    )

"""A state kept in memory and caught up with the log (where snapshots are not used)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from timeline import events as ev
from timeline.bitemporal import Bounds, fold_events, ignored_type_names, read_fields
from timeline.projections.base import Context, Projection
from timeline.projections.fold import Fold
from timeline.store.base import EventFilter, EventLog

__all__ = ["LiveFold"]


class LiveFold:
    """The unbounded state of one story scope, caught up incrementally.

    New events that sort after everything folded so far are applied on top;
    a backdated event, a correction or a retraction makes it fold again.
    """

    def __init__(self, projections: Sequence[Projection], ctx: Context, story: str | None) -> None:
        self.projections = projections
        self.ctx = ctx
        self.story = story
        self.fold = Fold(projections, ctx)
        self.head = 0
        self.last: tuple[Any, int] | None = None

    def catch_up(self, store: EventLog) -> None:
        if self.head == 0:
            # the first catch-up folds the whole log as a replay does: streamed, only
            # the fields the projections read decoded (no record is held in memory)
            head = store.head()
            if head:
                self._refold(store, head)
                self.head = head
            return
        new = list(store.read(EventFilter(story=self.story, after_position=self.head)))
        if not new:
            return
        head = new[-1].position
        new.sort(key=lambda r: (r.event.occurred_at, r.position))
        first = new[0]
        backdated = self.last is not None and (first.event.occurred_at, first.position) < self.last
        if backdated or any(ev.target_of(r.event) is not None for r in new):
            # up to the head read above: later appends are the next catch-up's
            self._refold(store, head)
        else:
            self.fold.run(r.event for r in new)
            self.last = (new[-1].event.occurred_at, new[-1].position)
        self.head = max(self.head, head)

    def _refold(self, store: EventLog, head: int) -> None:
        """Fold the story's log up to position ``head`` from nothing, in one run (the
        cyclic collector paused throughout, as :meth:`Fold.run` does); ``last`` is the
        fold key of the last event folded. Types no projection follows are left out in
        SQL: folding a later event on top of them changes nothing."""
        self.fold = Fold(self.projections, self.ctx)
        self.last = None
        stream = fold_events(
            store,
            Bounds(story=self.story),
            upto=head,
            ignore=ignored_type_names(store, self.projections),
            fields=read_fields(self.projections),  # the fold keeps facts, never records
        )

        def events() -> Iterator[ev.Event]:
            for occurred_at, position, event in stream:
                self.last = (occurred_at, position)
                yield event

        self.fold.run(events())

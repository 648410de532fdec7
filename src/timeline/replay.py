"""Replays: the log step by step, each step with the facts it changed.

- ``order="occurred"``: the story as it happened (valid time), under any
  knowledge bounds; the fold applies each event and reports its changes.
- ``order="reported"`` / ``"recorded"``: the story as it was learned. Each step
  adds one event to what is known (by ``reported_at`` or by log position); its
  changes are the difference between the state before and after, which for a
  backdated report, a correction or a retraction may reach far into the past.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import attrs

from timeline import events as ev
from timeline.bitemporal import Bounds, effective_events, effective_in_memory, uncertain_ids
from timeline.errors import TimelineError, ValidationError
from timeline.projections.base import Change, Context, Projection
from timeline.projections.fold import Fold, State, diff_states
from timeline.store.base import EventFilter, EventLog
from timeline.store.recorded import RecordedEvent

__all__ = ["ORDERS", "Replay", "ReplayStep"]

ORDERS = ("occurred", "reported", "recorded")


@attrs.frozen(kw_only=True, eq=False)
class ReplayStep:
    """One event of a replay and the facts it changed (``before`` / ``after``)."""

    index: int
    event: ev.Event
    record: RecordedEvent
    changes: tuple[Change, ...]
    owner: Replay = attrs.field(repr=False)

    @property
    def position(self) -> int:
        """Log position of the event (of the original, for a correction's replacement)."""
        return self.record.position

    @property
    def state(self) -> State:
        """The state right after this step, while this is the replay's latest step.

        Raises:
            TimelineError: the replay has moved past this step; replay with
                ``until`` (or call ``state()``) to get an earlier state.
        """
        return self.owner._state_at(self.index)


class Replay:
    """An iterator of :class:`ReplayStep`; ``.state`` is the state after the last step."""

    def __init__(
        self,
        store: EventLog,
        projections: Callable[[], Sequence[Projection]],
        ctx: Context,
        *,
        order: str,
        bounds: Bounds,
        start: datetime | None,
        until: datetime | None,
        actor: str | None,
        resolve: Callable[[str], str],
    ) -> None:
        if order not in ORDERS:
            raise ValidationError(
                f"order: {order!r} is not one of {', '.join(ORDERS)}", field="order"
            )
        self._store = store
        self._projections = projections
        self._ctx = ctx
        self._order = order
        self._bounds = bounds
        self._start = start
        self._until = until
        self._actor = actor
        self._resolve = resolve
        self._fold = Fold(projections(), ctx)
        # the bounds the state after the last step answers (until narrows them)
        self._last = bounds
        if until is not None:
            if order == "occurred":
                at = until if bounds.at is None else min(until, bounds.at)
                self._last = attrs.evolve(bounds, at=at)
            elif order == "reported":
                known = until if bounds.known_at is None else min(until, bounds.known_at)
                self._last = attrs.evolve(bounds, known_at=known)
            else:
                by = until if bounds.recorded_by is None else min(until, bounds.recorded_by)
                self._last = attrs.evolve(bounds, recorded_by=by)
        self._index = -1
        self._steps = self._generate()

    def __iter__(self) -> Iterator[ReplayStep]:
        return self

    def __next__(self) -> ReplayStep:
        return next(self._steps)

    @property
    def state(self) -> State:
        """The state after the latest step (facts say whether they are ``certain``)."""
        return self._fold.state(self._resolve, uncertain=uncertain_ids(self._store, self._last))

    def _state_at(self, index: int) -> State:
        if index != self._index:
            raise TimelineError(
                f"replay step {index} is past: the replay is at step {self._index}; "
                "replay with until= to see an earlier state"
            )
        return self.state

    # --- generation -------------------------------------------------------------

    def _generate(self) -> Iterator[ReplayStep]:
        source = self._occurred() if self._order == "occurred" else self._learned()
        for time, record, event, changes in source:
            if self._start is not None and time < self._start:
                continue
            if self._actor is not None and not _touches(event, changes, self._actor):
                continue
            self._index += 1
            yield ReplayStep(
                index=self._index, event=event, record=record, changes=tuple(changes), owner=self
            )

    def _occurred(self) -> Iterator[tuple[datetime, RecordedEvent, ev.Event, list[Change]]]:
        for placed in effective_events(self._store, self._last):
            yield placed.occurred_at, placed.record, placed.event, self._fold.apply(placed.event)

    def _learned(self) -> Iterator[tuple[datetime, RecordedEvent, ev.Event, list[Change]]]:
        by_reported = self._order == "reported"
        bounds = self._bounds
        records = self._store.read(
            EventFilter(
                story=bounds.story,
                order="reported" if by_reported else "position",
                reported_until=_earliest(bounds.known_at, self._until if by_reported else None),
                recorded_until=_earliest(bounds.recorded_by, None if by_reported else self._until),
                certain=bounds.certain,
            )
        )
        known: list[RecordedEvent] = []
        targets: set[str] = set()  # ids named by known corrections and retractions
        last: tuple[datetime, int] | None = None
        for record in records:
            known.append(record)
            time = record.reported_at if by_reported else record.recorded_at
            event = record.event
            key = (event.occurred_at, record.position)
            target = ev.target_of(event)
            is_meta = target is not None
            if target is not None:
                targets.add(target)
            in_order = not is_meta and event.id not in targets and (last is None or key > last)
            if in_order and bounds.occurred_by(event):
                changes = self._fold.apply(event)
                last = key
            elif in_order:
                changes = []  # outside the valid-time bound: known, but not yet happened
            else:
                before = self._fold.state()
                placed = effective_in_memory(known, bounds)
                self._fold = Fold(self._projections(), self._ctx).run(p.event for p in placed)
                last = (placed[-1].occurred_at, placed[-1].position) if placed else None
                changes = diff_states(before, self._fold.state())
            yield time, record, event, changes


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _touches(event: ev.Event, changes: Sequence[Change], actor: str) -> bool:
    if any(a == actor for _, a in event.actor_refs()):
        return True
    for change in changes:
        fact = change.fact
        for field in ("actor", "buyer", "supplier", "authority"):
            if getattr(fact, field, None) == actor:
                return True
    return False

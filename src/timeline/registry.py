"""Stable stored type names <-> record classes, schema versions and upcasters.

A stored row names its type (``"regulator_meeting"``) and the schema version it
was written with. Reading an older version runs the registered upcasters, one
small pure function per ``(type, from_version)``, until the payload is current.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import attrs

from timeline import events as ev
from timeline.errors import UnknownEventTypeError

__all__ = [
    "EventType",
    "Registry",
    "Upcaster",
    "default_registry",
    "event_type",
    "upcaster",
]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound=type[ev.Event])


@attrs.frozen
class EventType:
    """A registered event type."""

    name: str
    cls: type[ev.Event]
    version: int


class Registry:
    """Maps stored type names to classes; holds schema versions and upcasters."""

    def __init__(self) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_cls: dict[type[ev.Event], EventType] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[ev.Event], name: str, *, version: int = 1) -> None:
        """Register ``cls`` under the stored name ``name`` at schema ``version``.

        Raises:
            ValueError: the name or class is already registered to something else,
                or ``cls`` is not an ``Event`` subclass.
        """
        if not (isinstance(cls, type) and issubclass(cls, ev.Event)):
            raise ValueError(f"{cls!r} is not an attrs Event subclass")
        if not name or not isinstance(name, str):
            raise ValueError("event type name must be a non-empty string")
        if version < 1:
            raise ValueError("schema version starts at 1")
        existing = self._by_name.get(name)
        if existing is not None and existing.cls is not cls:
            raise ValueError(
                f"event type {name!r} is already registered to {existing.cls.__name__}"
            )
        if cls in self._by_cls and self._by_cls[cls].name != name:
            raise ValueError(f"{cls.__name__} is already registered as {self._by_cls[cls].name!r}")
        entry = EventType(name, cls, version)
        self._by_name[name] = entry
        self._by_cls[cls] = entry

    def add_upcaster(self, name: str, from_version: int, fn: Upcaster) -> None:
        """Register ``fn`` to turn a ``name`` payload at ``from_version`` into the next version."""
        self._upcasters[(name, from_version)] = fn

    def get(self, name: str) -> EventType:
        """The entry for a stored name.

        Raises:
            UnknownEventTypeError: nothing is registered under ``name``.
        """
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise UnknownEventTypeError(
                name, f"unknown event type {name!r} (known: {known})"
            ) from None

    def of(self, event: ev.Event | type[ev.Event]) -> EventType:
        """The entry for a record or class.

        Raises:
            UnknownEventTypeError: the class was never registered.
        """
        cls = event if isinstance(event, type) else type(event)
        try:
            return self._by_cls[cls]
        except KeyError:
            raise UnknownEventTypeError(
                cls.__name__, f"event class {cls.__name__} is not registered"
            ) from None

    def upcast(self, name: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Bring ``payload`` from ``version`` to the current version of ``name``.

        Raises:
            UnknownEventTypeError: unknown type, a version newer than this code
                knows, or a missing upcaster step.
        """
        current = self.get(name).version
        if version > current:
            raise UnknownEventTypeError(
                name,
                f"event type {name!r} schema version {version} is newer than this "
                f"version of timeline supports ({current})",
            )
        while version < current:
            step = self._upcasters.get((name, version))
            if step is None:
                raise UnknownEventTypeError(
                    name,
                    f"no upcaster for event type {name!r} from schema version {version}",
                )
            payload = step(dict(payload))
            version += 1
        return payload

    def names(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._by_name)

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._by_name.values(), key=lambda e: e.name))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def size(self) -> int:
        """How many names are registered (a name, once registered, keeps its class)."""
        return len(self._by_name)


default_registry = Registry()


def target_problem(
    registry: Registry, event: ev.Event, target_type: str | None, looked_in: str
) -> tuple[str, str] | None:
    """What is wrong with the event a correction or retraction points at, if anything.

    Args:
        registry: names the replacement's type.
        event: any record; only corrections and retractions are checked.
        target_type: the stored type name of the event it points at, or ``None``
            when no such event exists.
        looked_in: where the target was looked for, for the message
            ("the store or earlier in the batch").

    Returns:
        ``(field, reason)``, or ``None`` when the target is fine.
    """
    target = ev.target_of(event)
    if target is None:
        return None
    field = type(event).target_field  # type: ignore[attr-defined]
    if target_type is None:
        return field, f"event {target!r} is not in {looked_in}"
    if isinstance(event, ev.Correction):
        if target_type in (registry.of(ev.Correction).name, registry.of(ev.Retraction).name):
            return field, f"{target!r} is a {target_type}; correct the original report"
        replacement_type = registry.of(event.replacement).name
        if replacement_type != target_type:
            return (
                "replacement.type",
                f"the replacement is a {replacement_type} but {target!r} is a {target_type}",
            )
    return None


target_of = ev.target_of


def event_type(
    name: str, *, version: int = 1, registry: Registry | None = None
) -> Callable[[E], E]:
    """Class decorator registering a user-defined event type.

    Example::

        @tl.event_type("merger_vote", version=1)
        @attrs.frozen(kw_only=True)
        class MergerVote(tl.Event):
            actor_fields = ("board",)
            board: str
    """

    def decorate(cls: E) -> E:
        (registry or default_registry).register(cls, name, version=version)
        return cls

    return decorate


def upcaster(
    name: str, from_version: int, *, registry: Registry | None = None
) -> Callable[[Upcaster], Upcaster]:
    """Decorator registering an upcaster from ``from_version`` to ``from_version + 1``."""

    def decorate(fn: Upcaster) -> Upcaster:
        (registry or default_registry).add_upcaster(name, from_version, fn)
        return fn

    return decorate


def _envelope_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 envelopes had one ``source``; v2 adds ``sources``, ``basis`` and ``about``."""
    source = payload.get("source")
    payload.setdefault("sources", [] if source is None else [source])
    payload.setdefault("basis", ev.Basis.UNKNOWN.value)
    payload.setdefault("about", [])
    return payload


def _stance_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Announcements and statements also gained ``conditions`` in v2."""
    payload = _envelope_v1_to_v2(payload)
    payload.setdefault("conditions", [])
    return payload


def upcast_periods(payload: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3 of the built-in types (1 -> 2 of denials and confirmations):
    every time became a period.

    Adds ``occurred_until`` (the end of the ``precision`` period), ``reported_until``
    (``reported_at``: events stored before were public from one instant) and each
    source's ``published_until`` (none: ``published_at`` alone).
    """
    from timeline.times import Precision, period_end

    occurred = payload.get("occurred_at")
    if "occurred_until" not in payload and isinstance(occurred, str):
        start = datetime.fromisoformat(occurred)
        precision = Precision(payload.get("precision", Precision.EXACT.value))
        payload["occurred_until"] = period_end(start, precision).isoformat()
    payload.setdefault("reported_until", payload.get("reported_at"))
    source = payload.get("source")
    if isinstance(source, dict) and "published_until" not in source:
        payload["source"] = {**source, "published_until": None}
    sources = payload.get("sources")
    if isinstance(sources, list):
        payload["sources"] = [
            {**s, "published_until": None}
            if isinstance(s, dict) and "published_until" not in s
            else s
            for s in sources
        ]
    return payload


BUILT_IN_VERSION = 3
"""Schema version of the built-in types (2: several sources; 3: periods)."""

for _cls, _name in [
    (ev.Announcement, "announcement"),
    (ev.Statement, "statement"),
    (ev.RegulatorMeeting, "regulator_meeting"),
    (ev.Inquiry, "inquiry"),
    (ev.PolicyChange, "policy_change"),
    (ev.OrderPlaced, "order_placed"),
    (ev.OrderCancelled, "order_cancelled"),
    (ev.OrderDelivered, "order_delivered"),
    (ev.Report, "report"),
    (ev.Correction, "correction"),
    (ev.Retraction, "retraction"),
]:
    # schema v2 (2026-12): several sources, basis, about (see the upcasters above);
    # v3: periods
    default_registry.register(_cls, _name, version=BUILT_IN_VERSION)
    default_registry.add_upcaster(
        _name,
        1,
        _stance_v1_to_v2 if _cls in (ev.Announcement, ev.Statement) else _envelope_v1_to_v2,
    )
    default_registry.add_upcaster(_name, 2, upcast_periods)
_CLAIMS: list[tuple[type[ev.Event], str]] = [
    (ev.Denial, "denial"),
    (ev.Confirmation, "confirmation"),
]
for _cls, _name in _CLAIMS:
    default_registry.register(_cls, _name, version=2)  # 2: periods
    default_registry.add_upcaster(_name, 1, upcast_periods)

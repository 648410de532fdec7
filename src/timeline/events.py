"""Immutable event records: the shared envelope and the built-in event types.

Every record is ``attrs.frozen(kw_only=True)`` and validated on construction.
Stored type names and schema versions live in :mod:`timeline.registry`, not
here, so renaming a class never breaks stored data.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from timeline.errors import ValidationError
from timeline.identity import fold
from timeline.times import Precision, is_utc_representable, period_end

__all__ = [
    "Announcement",
    "Basis",
    "Confirmation",
    "Correction",
    "Denial",
    "Event",
    "Inquiry",
    "Measure",
    "OrderCancelled",
    "OrderDelivered",
    "OrderPlaced",
    "PolicyChange",
    "Position",
    "Precision",
    "RegulatorMeeting",
    "Report",
    "Retraction",
    "Source",
    "Statement",
    "claimed_ids",
    "map_actors",
    "target_of",
]


class Position(enum.StrEnum):
    """An actor's stance on a topic."""

    SUPPORTS = "supports"
    OPPOSES = "opposes"
    UNDECIDED = "undecided"
    NEUTRAL = "neutral"


class Basis(enum.StrEnum):
    """How a claim is sourced."""

    OFFICIAL = "official"  # the actor's own statement or filing
    NAMED = "named"  # a named person
    DOCUMENT = "document"  # a document seen by the reporter
    ANONYMOUS = "anonymous"  # "people familiar with the matter"
    UNKNOWN = "unknown"


class Measure(enum.StrEnum):
    """What a policy change does."""

    PERMIT = "permit"
    RESTRICT = "restrict"
    BAN = "ban"
    LIFT = "lift"


# --- validators -------------------------------------------------------------


def _aware(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{attribute.name}: expected a datetime, got {type(value).__name__}",
            field=attribute.name,
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{attribute.name}: naive datetime {value.isoformat()!r} refused; give a timezone",
            field=attribute.name,
        )
    if not is_utc_representable(value):
        raise ValidationError(
            f"{attribute.name}: {value.isoformat()!r} is out of range once converted to UTC",
            field=attribute.name,
        )


class DerivedEnd(datetime):
    """A period's end that no author gave: derived from its start (the precision of
    ``occurred_at``, ``reported_at`` itself, the sources' publication periods).

    Equal to the plain datetime of the same instant. A record built with one (by
    ``attrs.evolve`` or from ``attrs.asdict``) derives it again from its new start.
    """

    __slots__ = ()


def derived(value: datetime) -> DerivedEnd:
    """``value`` marked as a derived period end."""
    return DerivedEnd(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        value.tzinfo,
        fold=value.fold,
    )


def _occurred_end(value: datetime | None, inst: Any) -> datetime | None:
    """``occurred_until``: given explicitly it wins; else the end of the precision period."""
    if value is not None and type(value) is not DerivedEnd:
        return value
    start = inst.occurred_at
    if not isinstance(start, datetime) or start.utcoffset() is None:
        return None  # occurred_at's own validator explains
    return derived(period_end(start, inst.precision))


def _reported_end(value: datetime | None, inst: Any) -> datetime | None:
    """``reported_until``: given explicitly it wins; else ``reported_at`` (an instant).

    Without either, :attr:`Event.effective_reported_until` looks at the sources.
    """
    if value is not None and type(value) is not DerivedEnd:
        return value
    start = inst.reported_at
    return derived(start) if isinstance(start, datetime) else None


def _not_before(start: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """The ``*_until`` end of a period must not come before its ``*_at`` start."""

    def check(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        name = attribute.name
        _aware(inst, attribute, value)
        begin = getattr(inst, start)
        if isinstance(value, datetime) and isinstance(begin, datetime) and value < begin:
            raise ValidationError(
                f"{name}: {value.isoformat()!r} is before {start} {begin.isoformat()!r}",
                field=name,
            )

    return check


def _text(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError(
            f"{attribute.name}: expected text, got {type(value).__name__}",
            field=attribute.name,
        )


def _non_empty(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{attribute.name}: must be a non-empty string, got {value!r}",
            field=attribute.name,
        )


def _non_empty_items(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise ValidationError(f"{attribute.name}: expected a list", field=attribute.name)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(
                f"{attribute.name}[{i}]: must be a non-empty string, got {item!r}",
                field=f"{attribute.name}[{i}]",
            )


def _at_least_one(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not value:
        raise ValidationError(f"{attribute.name}: needs at least one entry", field=attribute.name)


def _to_enum(kind: type[enum.StrEnum], field: str, value: object) -> Any:
    if isinstance(value, kind):
        return value
    allowed = ", ".join(m.value for m in kind)
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    raise ValidationError(
        f"{field}: {value!r} is not a valid {kind.__name__.lower()} (one of: {allowed})",
        field=field,
    )


def _to_position(value: object) -> Position:
    result: Position = _to_enum(Position, "position", value)
    return result


def _to_precision(value: object) -> Precision:
    result: Precision = _to_enum(Precision, "precision", value)
    return result


def _to_basis(value: object) -> Basis:
    result: Basis = _to_enum(Basis, "basis", value)
    return result


def _to_measure(value: object) -> Measure:
    result: Measure = _to_enum(Measure, "measure", value)
    return result


def _tuple(value: object) -> tuple[Any, ...]:
    if isinstance(value, str | bytes):
        raise ValidationError(f"expected a list, got a string {value!r}")
    if isinstance(value, list | tuple):
        return tuple(value)
    raise ValidationError(f"expected a list, got {type(value).__name__}")


def _new_id() -> str:
    return uuid.uuid4().hex


# --- envelope ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Source:
    """Where a report was published.

    ``id`` is the short name a fixture gives the source (``"reuters-2025-12-10"``).
    ``via`` is the id of the source this one relies on ("according to The
    Information"); following ``via`` to its end gives the *origin*, whose
    publisher the store records in ``origin`` when it records the event.
    """

    publisher: str = attrs.field(validator=_non_empty)
    id: str | None = attrs.field(default=None, validator=_text)
    url: str | None = attrs.field(default=None, validator=_text)
    headline: str | None = attrs.field(default=None, validator=_text)
    published_at: datetime | None = attrs.field(default=None, validator=_aware)
    published_until: datetime | None = attrs.field(
        default=None, validator=_not_before("published_at")
    )
    via: str | None = attrs.field(default=None, validator=attrs.validators.optional(_non_empty))
    origin: str | None = attrs.field(default=None, validator=attrs.validators.optional(_non_empty))

    @property
    def origin_publisher(self) -> str:
        """The publisher at the end of the ``via`` chain (this one's if it relays nothing)."""
        return self.origin or self.publisher

    @property
    def published_latest(self) -> datetime | None:
        """The last instant it may have been published: ``published_until`` or ``published_at``."""
        return self.published_until if self.published_until is not None else self.published_at


def _check_sources(inst: Any, _attribute: attrs.Attribute[Any], value: object) -> None:
    """``source`` is the first of ``sources``: either may be given, or both, agreeing."""
    if not isinstance(value, tuple):
        raise ValidationError("sources: expected a list", field="sources")
    for i, item in enumerate(value):
        if not isinstance(item, Source):
            raise ValidationError(
                f"sources[{i}]: expected a Source, got {type(item).__name__}",
                field=f"sources[{i}]",
            )
    first = inst.source
    if first is not None and not isinstance(first, Source):
        raise ValidationError(
            f"source: expected a Source, got {type(first).__name__}", field="source"
        )
    if not value:
        if first is not None:
            object.__setattr__(inst, "sources", (first,))
    elif first is None:
        object.__setattr__(inst, "source", value[0])
    elif first != value[0]:
        raise ValidationError("source: must be the first of sources", field="source")


@attrs.frozen(kw_only=True)
class Event:
    """The envelope every event shares.

    Subclasses add their fields and name the ones that refer to actors in
    ``actor_fields`` (single ids or lists of ids); ``description_fields`` hold
    actor ids *or* free descriptions (only known actors are resolved).
    """

    actor_fields: ClassVar[tuple[str, ...]] = ()
    description_fields: ClassVar[tuple[str, ...]] = ()

    id: str = attrs.field(factory=_new_id, validator=_non_empty)
    story: str | None = attrs.field(default=None, validator=attrs.validators.optional(_non_empty))
    occurred_at: datetime = attrs.field(validator=_aware)
    precision: Precision = attrs.field(default=Precision.EXACT, converter=_to_precision)
    occurred_until: datetime = attrs.field(
        default=None,
        # the mypy attrs plugin does not know attrs.Converter yet
        converter=attrs.Converter(_occurred_end, takes_self=True),  # type: ignore[misc]
        validator=_not_before("occurred_at"),
    )
    reported_at: datetime | None = attrs.field(default=None, validator=_aware)
    reported_until: datetime | None = attrs.field(
        default=None,
        converter=attrs.Converter(_reported_end, takes_self=True),  # type: ignore[misc]
        validator=_not_before("reported_at"),
    )
    source: Source | None = None
    attribution: str = attrs.field(default="", validator=_text)
    summary: str = attrs.field(default="", validator=_text)
    quote: str | None = attrs.field(default=None, validator=_text)
    sources: tuple[Source, ...] = attrs.field(
        factory=tuple, converter=_tuple, validator=_check_sources
    )
    basis: Basis = attrs.field(default=Basis.UNKNOWN, converter=_to_basis)
    about: tuple[str, ...] = attrs.field(
        factory=tuple, converter=_tuple, validator=_non_empty_items
    )

    def actor_refs(self) -> Iterator[tuple[str, str]]:
        """Yield ``(role, actor_id)`` for every actor this event names (``about`` last)."""
        yield from self.acting_refs()
        for actor in self.about:
            yield "about", actor

    def acting_refs(self) -> Iterator[tuple[str, str]]:
        """Yield ``(role, actor_id)`` for the actors who act in this event (not ``about``)."""
        for name in self.actor_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str):
                yield name, value
            else:
                for item in value:
                    yield name, item

    @property
    def effective_reported_at(self) -> datetime | None:
        """``reported_at``, else the earliest ``published_at`` of its sources (the store
        fills the rest)."""
        if self.reported_at is not None:
            return self.reported_at
        times = [s.published_at for s in self.sources if s.published_at is not None]
        return min(times) if times else None

    @property
    def effective_reported_until(self) -> datetime | None:
        """The last instant it may have become public.

        ``reported_until``; else ``reported_at`` when that is given (an instant);
        else the earliest ``published_until`` (or ``published_at``) of its sources.
        """
        if self.reported_until is not None:
            return self.reported_until
        if self.reported_at is not None:
            return self.reported_at
        # public from the earliest source: certainly by the earliest of their last instants
        times = [s.published_latest for s in self.sources if s.published_latest is not None]
        return min(times) if times else None


def mark_derived_ends(event: Event) -> Event:
    """Mark period ends equal to what their starts imply as derived (returns ``event``).

    A decoded record then behaves as one built without them: ``attrs.evolve(e,
    occurred_at=...)`` moves the derived end along. Used by the codec.
    """
    until = event.occurred_until
    if type(until) is datetime and until == period_end(event.occurred_at, event.precision):
        object.__setattr__(event, "occurred_until", derived(until))
    reported = event.reported_until
    if type(reported) is datetime:
        implied: datetime | None = event.reported_at
        if implied is None or reported != implied:
            times = [s.published_latest for s in event.sources if s.published_latest is not None]
            implied = min(times) if times else None
        if reported == implied:
            object.__setattr__(event, "reported_until", derived(reported))
    return event


def _actor(**kw: Any) -> Any:
    return attrs.field(validator=_non_empty, **kw)


def _actors(*, required: bool = False) -> Any:
    validators = [_non_empty_items]
    if required:
        validators.append(_at_least_one)
    return attrs.field(factory=tuple, converter=_tuple, validator=validators)


def _texts() -> Any:
    return attrs.field(factory=tuple, converter=_tuple, validator=_non_empty_items)


@attrs.frozen(kw_only=True)
class Announcement(Event):
    """An actor announces its position on a topic."""

    actor_fields = ("actor",)

    actor: str = _actor()
    topic: str = attrs.field(validator=_non_empty)
    position: Position = attrs.field(converter=_to_position)
    conditions: tuple[str, ...] = _texts()


@attrs.frozen(kw_only=True)
class Statement(Event):
    """An actor says something on a topic (often ``neutral``: "declined to comment")."""

    actor_fields = ("actor",)

    actor: str = _actor()
    topic: str = attrs.field(validator=_non_empty)
    position: Position = attrs.field(default=Position.NEUTRAL, converter=_to_position)
    conditions: tuple[str, ...] = _texts()


@attrs.frozen(kw_only=True)
class RegulatorMeeting(Event):
    """A regulator meets companies; its own stance becomes ``position``."""

    actor_fields = ("regulator", "attendees")

    regulator: str = _actor()
    attendees: tuple[str, ...] = _actors()
    topic: str = attrs.field(validator=_non_empty)
    product: str | None = attrs.field(default=None, validator=_text)
    agenda: str = attrs.field(default="", validator=_text)
    outcome: str = attrs.field(default="", validator=_text)
    position: Position = attrs.field(default=Position.UNDECIDED, converter=_to_position)


@attrs.frozen(kw_only=True)
class Inquiry(Event):
    """Buyers ask a supplier about a product."""

    actor_fields = ("inquirers", "supplier")

    inquirers: tuple[str, ...] = _actors(required=True)
    supplier: str = _actor()
    product: str = attrs.field(validator=_non_empty)
    topic: str | None = attrs.field(default=None, validator=attrs.validators.optional(_non_empty))
    quantity: str | None = attrs.field(default=None, validator=_text)
    conditions: tuple[str, ...] = _texts()
    concerns: tuple[str, ...] = _texts()


@attrs.frozen(kw_only=True)
class PolicyChange(Event):
    """An authority permits, restricts, bans or lifts something.

    ``applies_to`` lists actor ids or free descriptions ("government-funded data
    centres"); descriptions block no one.
    """

    actor_fields = ("authority",)
    description_fields = ("applies_to",)

    authority: str = _actor()
    topic: str = attrs.field(validator=_non_empty)
    measure: Measure = attrs.field(converter=_to_measure)
    product: str | None = attrs.field(default=None, validator=_text)
    applies_to: tuple[str, ...] = _texts()


@attrs.frozen(kw_only=True)
class _Order(Event):
    actor_fields = ("buyer", "supplier")

    buyer: str = _actor()
    supplier: str = _actor()
    product: str = attrs.field(validator=_non_empty)
    quantity: str | None = attrs.field(default=None, validator=_text)


@attrs.frozen(kw_only=True)
class OrderPlaced(_Order):
    """A buyer orders a product from a supplier."""


@attrs.frozen(kw_only=True)
class OrderCancelled(_Order):
    """A buyer cancels an order."""


@attrs.frozen(kw_only=True)
class OrderDelivered(_Order):
    """A supplier delivers an order."""


@attrs.frozen(kw_only=True)
class Report(Event):
    """A reported development that moves no built-in projection.

    Added for facts such as supply constraints or grey-market procurement: it
    keeps them on the timeline, in search and in exports, tied to the actors
    it concerns, without inventing a stance.
    """

    actor_fields = ("actors",)

    actors: tuple[str, ...] = _actors()
    topic: str | None = attrs.field(default=None, validator=attrs.validators.optional(_non_empty))


def _ids(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _non_empty_items(_inst, attribute, value)
    _at_least_one(_inst, attribute, value)


@attrs.frozen(kw_only=True)
class Denial(Event):
    """``actor`` denies the events ``denies`` (ids): a statement in the world.

    It disputes the facts resting on a denied event in which the denier takes
    part (all of them if it takes part in none); their value does not change.
    """

    actor_fields = ("actor",)

    actor: str = _actor()
    denies: tuple[str, ...] = attrs.field(converter=_tuple, validator=_ids)


@attrs.frozen(kw_only=True)
class Confirmation(Event):
    """``actor`` confirms the events ``confirms`` (ids); scoped like a denial."""

    actor_fields = ("actor",)

    actor: str = _actor()
    confirms: tuple[str, ...] = attrs.field(converter=_tuple, validator=_ids)


def claimed_ids(event: Event) -> tuple[str, ...]:
    """The ids a denial or confirmation is about (empty for other events)."""
    if isinstance(event, Denial):
        return event.denies
    if isinstance(event, Confirmation):
        return event.confirms
    return ()


@attrs.frozen(kw_only=True)
class Retraction(Event):
    """A report is withdrawn: the retracted event is treated as never having happened."""

    target_field: ClassVar[str] = "retracts"

    retracts: str = attrs.field(validator=_non_empty)
    reason: str = attrs.field(default="", validator=_text)

    @property
    def target(self) -> str:
        """The id of the retracted event."""
        return self.retracts

    def __attrs_post_init__(self) -> None:
        if self.retracts == self.id:
            raise ValidationError(
                f"retracts: event {self.id!r} cannot retract itself", field="retracts"
            )


@attrs.frozen(kw_only=True)
class Correction(Event):
    """A report is corrected: ``replacement`` takes the original's place.

    The replacement carries the corrected event's id (set here if it differs).
    """

    target_field: ClassVar[str] = "corrects"

    corrects: str = attrs.field(validator=_non_empty)
    replacement: Event

    @property
    def target(self) -> str:
        """The id of the corrected event."""
        return self.corrects

    def __attrs_post_init__(self) -> None:
        if self.corrects == self.id:
            raise ValidationError(
                f"corrects: event {self.id!r} cannot correct itself", field="corrects"
            )
        if isinstance(self.replacement, Correction | Retraction):
            raise ValidationError(
                "replacement: a correction replaces a report, not another correction or retraction",
                field="replacement",
            )
        if not isinstance(self.replacement, Event):
            raise ValidationError("replacement: expected an event record", field="replacement")
        if self.replacement.id != self.corrects:
            # attrs' documented escape hatch for derived values on frozen classes
            object.__setattr__(
                self, "replacement", attrs.evolve(self.replacement, id=self.corrects)
            )

    def actor_refs(self) -> Iterator[tuple[str, str]]:
        for role, actor in self.replacement.actor_refs():
            yield f"replacement.{role}", actor


def map_actors(
    event: Event,
    actor: Callable[[str, str], str],
    known: Mapping[str, str],
    prefix: str = "",
) -> Event:
    """The record with every actor reference mapped to an actor id.

    Args:
        event: the record.
        actor: called as ``actor(value, field)`` for each id or alias in an actor
            field that ``known`` does not map (``field`` is its path,
            ``inquirers[1]``); returns the id or raises.
        known: casefolded ids and aliases -> actor id: maps an actor field's value
            before ``actor`` is asked; a description field's entry is replaced only
            when it names a known actor.
        prefix: path prefix for the fields of a correction's replacement.

    Returns:
        ``event`` itself when nothing changes, else a copy (validated again).
    """
    changes: dict[str, Any] = {}
    # a value ``known`` maps is mapped by it (as ``actor`` would); ``actor`` (and the
    # field's path) only for the others: most values are ids already
    for name in event.actor_fields:
        value = getattr(event, name)
        if value is None:
            continue
        if isinstance(value, str):
            found = known.get(fold(value))
            if found is None:
                found = actor(value, f"{prefix}{name}")
            if found != value:
                changes[name] = found
        else:
            mapped = _mapped(value, actor, known, f"{prefix}{name}")
            if mapped != value:
                changes[name] = mapped
    if event.about:
        mapped = _mapped(event.about, actor, known, f"{prefix}about")
        if mapped != event.about:
            changes["about"] = mapped
    for name in event.description_fields:
        value = getattr(event, name)
        if value:
            described = tuple([known.get(fold(v), v) for v in value])
            if described != value:
                changes[name] = described
    if isinstance(event, Correction):
        replacement = map_actors(event.replacement, actor, known, "replacement.")
        if replacement != event.replacement:
            changes["replacement"] = replacement
    return attrs.evolve(event, **changes) if changes else event


def _mapped(
    values: Iterable[str],
    actor: Callable[[str, str], str],
    known: Mapping[str, str],
    path: str,
) -> tuple[str, ...]:
    """Each of ``values`` mapped by ``known``, or by ``actor`` (``path[i]``) if it is not."""
    found = [known.get(fold(v)) for v in values]
    if None in found:
        found = [
            f if f is not None else actor(v, f"{path}[{i}]")
            for i, (f, v) in enumerate(zip(found, values, strict=True))
        ]
    return tuple(found)  # type: ignore[arg-type]


def target_of(event: Event) -> str | None:
    """The id a correction or retraction points at (``None`` for other events).

    Corrections and retractions are records *about* other records: they change
    what we know, and are filtered by knowledge time only.
    """
    return event.target if isinstance(event, Correction | Retraction) else None

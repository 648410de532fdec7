"""Records <-> plain dicts and canonical JSON, through one private cattrs converter.

The converter is strict: ``"false"`` is not ``True``, ``1.9`` is not ``1``, a
string is not a list, extra keys are refused. Every failure becomes a
:class:`~timeline.errors.ValidationError` whose ``field`` is the path of the
offending value (``source.published_at``, ``conditions[1]``), or an
:class:`~timeline.errors.UnknownEventTypeError`.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
import cattrs
import orjson
from cattrs.errors import ForbiddenExtraKeysError

from timeline import events as ev
from timeline._codegen import compile_function
from timeline.errors import TimelineError, UnknownEventTypeError, ValidationError
from timeline.registry import Registry, default_registry
from timeline.times import Precision, full_timestamp, parse_instant, parse_period

__all__ = [
    "Codec",
    "canonical_json",
    "canonical_json_plain",
    "default_codec",
    "field_kind",
    "loads_trusted",
]

_TYPE = "type"
_VERSION = "schema_version"


def _type_name(tp: object) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def _strict(kind: type, label: str) -> Any:
    def hook(value: object, tp: object) -> object:
        if tp is not kind and isinstance(tp, type) and issubclass(tp, enum.Enum):
            # cattrs dispatches a StrEnum field to the str hook (a subclass of str):
            # without this it would take any text and stay a plain str
            return Codec._structure_enum(value, tp)
        # bool is an int subclass: True must not pass as 1
        if isinstance(value, bool) and kind is not bool:
            raise ValidationError(f"expected {label}, got a boolean")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise ValidationError(f"expected {label}, got {_describe(value)}")
        if isinstance(value, str) and not _is_utf8(value):
            # JSON may spell a lone surrogate ("\ud800"); SQLite cannot store it
            raise ValidationError("text holds a lone surrogate; it is not valid Unicode")
        return value

    return hook


def _is_utf8(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, bool | int | float):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def _is_homogeneous_tuple(tp: object) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


class Codec:
    """Encodes and decodes records for one :class:`~timeline.registry.Registry`."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or default_registry
        conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True, use_alias=True)
        conv.register_structure_hook(str, _strict(str, "text"))
        conv.register_structure_hook(int, _strict(int, "an integer"))
        conv.register_structure_hook(float, _strict(float, "a number"))
        conv.register_structure_hook(bool, _strict(bool, "true or false"))
        conv.register_structure_hook(datetime, self._structure_datetime)
        conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
        conv.register_structure_hook_func(
            lambda t: isinstance(t, type) and issubclass(t, enum.Enum),
            self._structure_enum,
        )
        for kind in (ev.Position, ev.Precision, ev.Measure, ev.Basis):
            # cattrs passes str-enums through as they are; store their plain value
            conv.register_unstructure_hook(kind, _enum_value)
        conv.register_structure_hook_func(_is_homogeneous_tuple, self._structure_tuple)
        # A field typed as the base ``Event`` (a correction's replacement) holds
        # any registered type: dispatch on its "type" tag both ways.
        conv.register_structure_hook_func(lambda t: t is ev.Event, self._structure_nested)
        conv.register_unstructure_hook_func(lambda t: t is ev.Event, self._unstructure_nested)
        self._conv = conv
        self._plans: dict[type[Any], _Plan | None] = {}
        self._strict: dict[type[Any], Callable[[Any], Any] | None] = {}
        self.fast_structure = True  # False: every value through the converter (tests)

    # --- hooks --------------------------------------------------------------

    @staticmethod
    def _structure_datetime(value: object, _tp: object) -> datetime:
        parsed = full_timestamp(value)
        return parsed if parsed is not None else parse_instant(value)[0]

    @staticmethod
    def _structure_enum(value: object, tp: type[enum.Enum]) -> enum.Enum:
        # the member values' own kinds (text for ours; a user's enum may use numbers),
        # but never a boolean, which would pass as 1
        kinds = tuple({type(m.value) for m in tp} - {bool}) or (str,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            label = "text" if kinds == (str,) else "one of its values"
            raise ValidationError(f"expected {label}, got {_describe(value)}")
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise ValidationError(f"{value!r} is not one of: {allowed}") from None

    def _structure_tuple(self, value: object, tp: object) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ValidationError(f"expected a list, got {_describe(value)}")
        item_type = typing.get_args(tp)[0]
        out = []
        errors: list[Exception] = []
        for i, item in enumerate(value):
            try:
                out.append(self._conv.structure(item, item_type))
            except Exception as exc:  # noqa: BLE001 - regrouped below with its index, as cattrs does
                exc.__notes__ = [
                    *getattr(exc, "__notes__", []),
                    cattrs.IterableValidationNote(f"Structuring {tp} @ index {i}", i, item_type),
                ]
                errors.append(exc)
        if errors:
            raise cattrs.IterableValidationError(
                f"While structuring {tp}", errors, typing.cast(type, tp)
            )
        return tuple(out)

    def _structure_nested(self, value: object, _tp: object) -> ev.Event:
        if not isinstance(value, Mapping):
            raise ValidationError(f"expected an event object, got {_describe(value)}")
        return self._from_mapping(value)

    def _unstructure_nested(self, value: ev.Event) -> dict[str, Any]:
        return self.to_dict(value)

    # --- public -------------------------------------------------------------

    def to_dict(self, event: ev.Event) -> dict[str, Any]:
        """The plain-data form of a record, tagged with ``type`` and ``schema_version``.

        Raises:
            UnknownEventTypeError: the record's class is not registered.
        """
        entry = self.registry.of(event)
        body: dict[str, Any] = self._conv.unstructure(event, unstructure_as=type(event))
        return {_TYPE: entry.name, _VERSION: entry.version, **body}

    def from_dict(self, data: Mapping[str, Any]) -> ev.Event:
        """Build a record from plain data (``type`` required, ``schema_version`` optional).

        Older schema versions are upcast first.

        Raises:
            UnknownEventTypeError: unknown ``type``.
            ValidationError: any bad value; ``field`` is its path.
        """
        try:
            return self._from_mapping(data)
        except TimelineError:
            raise
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            field, message = _first_problem(exc)
            raise ValidationError(f"{field}: {message}" if field else message, field=field) from exc

    def _from_mapping(self, data: Mapping[str, Any]) -> ev.Event:
        if not isinstance(data, Mapping):
            raise ValidationError(f"expected an event object, got {_describe(data)}")
        payload = dict(data)
        name = payload.pop(_TYPE, None)
        if name is None:
            raise ValidationError("type: required field missing", field=_TYPE)
        if not isinstance(name, str):
            raise ValidationError(f"type: expected text, got {_describe(name)}", field=_TYPE)
        entry = self.registry.get(name)
        version = payload.pop(_VERSION, entry.version)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValidationError(
                f"schema_version: expected a positive integer, got {_describe(version)}",
                field=_VERSION,
            )
        payload = self.registry.upcast(name, version, payload)
        names = _field_names(entry.cls)
        if "occurred_at" in names:
            expand_period(payload, "occurred_at", "occurred_until", "precision")
        if "reported_at" in names:
            expand_period(payload, "reported_at", "reported_until")
        if isinstance(payload.get("source"), dict):
            payload["source"] = expand_period(
                dict(payload["source"]), "published_at", "published_until"
            )
        event: ev.Event = self._structure_record(payload, entry.cls)
        return ev.mark_derived_ends(event)

    def _structure_record(self, data: Any, cls: type[Any]) -> Any:
        """``self._conv.structure(data, cls)`` for an attrs record: first through a
        generated strict structurer (:func:`_strict_source`), which applies the very
        checks of the converter's hooks but gives up at the first doubt; then, for
        anything it gave up on, the converter itself, whose errors name the field.
        The two agree on every value both accept (``tests/unit/test_fast_structure.py``)."""
        if self.fast_structure:
            fast = self._strict_plan(cls)
            if fast is not None:
                try:
                    return fast(data)
                except Exception:  # noqa: BLE001 - the converter words what is wrong
                    pass
        return self._conv.structure(data, cls)

    def _strict_plan(self, cls: type[Any]) -> Callable[[Any], Any] | None:
        if cls not in self._strict:
            self._strict[cls] = None  # a record that holds itself: the converter
            self._strict[cls] = _strict_structurer(self, cls)
        return self._strict[cls]

    def dumps(self, event: ev.Event) -> str:
        """Canonical JSON of a record: sorted keys, no spaces, UTF-8 text."""
        return self.payload(event)[1]

    def payload(self, event: ev.Event) -> tuple[dict[str, Any], str]:
        """The record as plain data and as canonical JSON, encoded once.

        Records whose fields cannot hold a float go through orjson (byte-identical
        output, property-tested); others through the standard encoder, whose float
        spelling (``1e-05``) orjson does not share.
        """
        plan = self._plan(type(event))
        if plan is None:
            data = self.to_dict(event)
            return data, canonical_json(data)
        data = plan.encode(event)
        if plan.float_free:
            return data, canonical_json_plain(data)
        return data, canonical_json(data)

    def loads(self, text: str) -> ev.Event:
        """Inverse of :meth:`dumps`, with full validation (untrusted text).

        Raises:
            ValidationError: not JSON, or a bad value (see :meth:`from_dict`).
            UnknownEventTypeError: unknown ``type``.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise ValidationError(f"not valid JSON: {exc}") from exc
        return self.from_dict(data)

    # --- trusted fast paths (the store's own rows) ------------------------------

    def encode(self, event: ev.Event) -> dict[str, Any]:
        """Same result as :meth:`to_dict`, through a precompiled plan where one exists."""
        plan = self._plan(type(event))
        if plan is None:
            return self.to_dict(event)
        return plan.encode(event)

    def decode_trusted(self, data: dict[str, Any]) -> ev.Event:
        """Rebuild a record the store wrote itself, skipping re-validation.

        Falls back to :meth:`from_dict` for older schema versions (upcasting) and
        for types without a precompiled plan.
        """
        name = data.get(_TYPE)
        entry = self.registry.get(name) if isinstance(name, str) else None
        if entry is None:
            return self.from_dict(data)
        version = data.get(_VERSION, entry.version)
        if version != entry.version:
            if not isinstance(version, int) or isinstance(version, bool) or version > entry.version:
                return self.from_dict(data)
            # an older stored shape: upcast, then the fast path (the store wrote it)
            data = {
                _TYPE: name,
                _VERSION: entry.version,
                **self.registry.upcast(
                    entry.name,
                    version,
                    {k: v for k, v in data.items() if k not in (_TYPE, _VERSION)},
                ),
            }
        plan = self._plan(entry.cls)
        if plan is None:
            return self.from_dict(data)
        try:
            event: ev.Event = plan.decode(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            return self.from_dict(data)  # a row of unexpected shape: the strict path explains it
        return event

    def decode_record_trusted(self, data: Any, cls: type[Any]) -> Any:
        """Rebuild a non-event record (a ``Source``) that the store wrote itself, without
        re-validating it; data of any other shape goes through :meth:`structure`."""
        plan = self._plan(cls)
        if plan is not None and isinstance(data, dict):
            try:
                return plan.decode(data)
            except (KeyError, TypeError, ValueError, AttributeError):
                pass  # not as the store writes it: the strict path explains
        return self.structure(data, cls)

    def trusted_decoder(
        self, fields: frozenset[str] | None
    ) -> Callable[[dict[str, Any]], ev.Event]:
        """:meth:`decode_trusted`, or, for a fold that reads only ``fields`` of the
        records its projections follow, a decoder that leaves every other field of
        those records unset (never read, never parsed: a full replay's records are
        folded and dropped). Corrections, retractions, denials and confirmations,
        records of an older schema version and anything unexpected are decoded whole.
        ``id`` and ``occurred_at`` are always read. Records so decoded must not leave
        the fold: they do not compare or print.
        """
        if fields is None:
            return self.decode_trusted
        wanted = frozenset(fields) | _ALWAYS_READ
        # per stored type name, as first met: (version, lean decoder), or None for
        # a type decoded whole (a read meets a few of the registered types)
        table: dict[str, tuple[int, Callable[[Mapping[str, Any]], Any]] | None] = {}
        whole = self.decode_trusted

        def lean_for(name: str) -> tuple[int, Callable[[Mapping[str, Any]], Any]] | None:
            found = None
            if name in self.registry:
                entry = self.registry.get(name)
                plan = None if issubclass(entry.cls, _WHOLE) else self._plan(entry.cls)
                if plan is not None:
                    found = (entry.version, plan.lean(wanted))
            table[name] = found
            return found

        def decode(data: dict[str, Any]) -> ev.Event:
            name = data.get(_TYPE)
            if type(name) is not str:
                return whole(data)
            found = table[name] if name in table else lean_for(name)
            if found is not None and data.get(_VERSION, found[0]) == found[0]:
                try:
                    event: ev.Event = found[1](data)
                except (KeyError, TypeError, ValueError, AttributeError):
                    pass  # a row of unexpected shape: decoded whole, or explained
                else:
                    return event
            return whole(data)

        return decode

    def _plan(self, cls: type[Any]) -> _Plan | None:
        if cls not in self._plans:
            self._plans[cls] = _Plan.compile(self, cls)
        return self._plans[cls]

    def structure(self, data: object, tp: type[Any]) -> Any:
        """Structure a non-event value (``Source``...) with the same strict rules.

        Raises:
            ValidationError: a bad value; ``field`` is its path.
        """
        if tp is ev.Source and isinstance(data, dict):
            data = expand_period(dict(data), "published_at", "published_until")
        try:
            if isinstance(tp, type) and attrs.has(tp):
                return self._structure_record(data, tp)
            return self._conv.structure(data, tp)
        except TimelineError:
            raise
        except (
            cattrs.BaseValidationError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
        ) as exc:
            field, message = _first_problem(exc)
            raise ValidationError(f"{field}: {message}" if field else message, field=field) from exc

    def unstructure(self, value: object) -> Any:
        """Plain data for a non-event value."""
        return self._conv.unstructure(value)


def expand_period(
    payload: dict[str, Any], at: str, until: str, precision: str | None = None
) -> dict[str, Any]:
    """Spell a period given in ``payload[at]`` as its start and its ``until`` end.

    ``"2025-12-08/2025-12-10"`` (EDTF) and ``"2025-12"`` are periods: ``at`` gets
    the first instant and ``until`` the last, unless ``until`` is given (it wins).
    The spelling of the start implies ``precision`` when that is absent.
    Full timestamps are left alone. Returns ``payload`` (changed in place).

    Raises:
        ValidationError: an unparseable time, or an interval that ends before it starts.
    """
    value = payload.get(at)
    if not isinstance(value, str) or (len(value) > 10 and "/" not in value):
        return payload  # a full timestamp, or not text (the converter explains)
    found = parse_period(value, field=at)
    if "/" in value:
        payload[at] = found.earliest.isoformat()
    # an occurred day or month (no interval) ends where its precision says: the
    # record's own default
    interval = "/" in value
    if (interval or precision is None) and payload.get(until) is None and not found.is_instant:
        payload[until] = found.latest.isoformat()
    if precision is not None and precision not in payload and found.precision is not None:
        # "2025-08" means the month of August: its spelling implies the precision
        payload[precision] = found.precision.value
    return payload


_FIELD_NAMES: dict[type[Any], frozenset[str]] = {}


def _field_names(cls: type[Any]) -> frozenset[str]:
    """The names of a record class's fields (classes never change their fields)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(a.name for a in attrs.fields(cls))
    return names


_PLAIN = {str, int, float, bool, type(None)}
_TRUSTED_POST_INIT = (ev.Correction, ev.Retraction)  # their post-init only validates


class _Plan:
    """A precompiled encoder/decoder for one attrs record class (hot paths only)."""

    def __init__(
        self,
        codec: Codec,
        cls: type[Any],
        name: str | None,
        version: int | None,
        fields: list[tuple[str, str, str, Any]],
    ) -> None:
        self.codec = codec
        self.cls = cls
        self.name = name
        self.version = version
        self.fields = fields
        self.float_free = all(_float_free(codec, kind, extra) for _, _, kind, extra in fields)
        self.encode: Callable[[Any], dict[str, Any]] = self._generate_encoder()
        self.decode: Callable[[Mapping[str, Any]], Any] = self._generate_decoder()
        self.decode_shared = _shared(self.decode)
        # a frozen record of plain fields (a Source) cited by many events: encoded once
        flat = all(kind in ("plain", "dt", "enum") for _, _, kind, _ in fields)
        self.encode_nested: Callable[[Any], dict[str, Any]] = (
            _encoded_once(self.encode) if flat and _is_frozen(cls) else self.encode
        )
        self._lean: dict[frozenset[str], Callable[[Mapping[str, Any]], Any]] = {}

    @classmethod
    def compile(cls, codec: Codec, record: type[Any]) -> _Plan | None:
        try:
            hints = typing.get_type_hints(record)
        except Exception:  # noqa: BLE001 - unresolvable annotations: use the general path
            return None
        if "__attrs_post_init__" in vars(record) and record not in _TRUSTED_POST_INIT:
            return None
        fields: list[tuple[str, str, str, Any]] = []
        for field in attrs.fields(record):
            if not field.init:
                return None
            kind = _kind_of(hints.get(field.name))
            if kind is None:
                return None
            fields.append((field.name, field.alias or field.name, kind[0], kind[1]))
        if issubclass(record, ev.Event):
            entry = codec.registry.of(record)
            return cls(codec, record, entry.name, entry.version, fields)
        return cls(codec, record, None, None, fields)

    # Generated straight-line code, as attrs and cattrs do: a loop over field
    # descriptors costs about twice as much on every stored row.

    def _generate_encoder(self) -> Any:
        env: dict[str, Any] = {
            "_codec": self.codec,
            "_plan_for": _plan_for,
            "_enum_of": _enum_member,
        }
        items = []
        if self.name is not None:
            items.append(f"{_TYPE!r}: {self.name!r}, {_VERSION!r}: {self.version!r}")
        for i, (name, key, kind, extra) in enumerate(self.fields):
            get = f"obj.{name}"
            if kind == "plain":
                expr = get
            elif kind == "dt":
                expr = f"(None if {get} is None else {get}.isoformat())"
            elif kind == "enum":
                env[f"_enum{i}"] = extra
                expr = f"_enum_of({get}, _enum{i}, {name!r}).value"
            elif kind == "tuple":
                expr = f"list({get})"
            elif kind == "records":
                env[f"_enc{i}"] = _plan_for(self.codec, extra).encode_nested
                expr = f"[_enc{i}(x) for x in {get}]"
            elif kind == "event":
                expr = f"(None if {get} is None else _codec.encode({get}))"
            else:
                env[f"_enc{i}"] = _plan_for(self.codec, extra).encode_nested
                expr = f"(None if {get} is None else _enc{i}({get}))"
            items.append(f"{key!r}: {expr}")
        source = "def encode(obj):\n    return {" + ", ".join(items) + "}\n"
        return compile_function(source, "encode", env, f"encode {self.cls.__qualname__}")

    def lean(self, wanted: frozenset[str]) -> Callable[[Mapping[str, Any]], Any]:
        """A decoder that sets only the fields in ``wanted`` (see
        :meth:`Codec.trusted_decoder`); generated once per set of fields."""
        found = self._lean.get(wanted)
        if found is None:
            found = self._lean[wanted] = self._generate_decoder(wanted)
        return found

    def _generate_decoder(self, only: frozenset[str] | None = None) -> Any:
        env: dict[str, Any] = {
            "_codec": self.codec,
            "_plan_for": _plan_for,
            "_new": object.__new__,
            "_set": object.__setattr__,
            "_cls": self.cls,
            "_fromiso": datetime.fromisoformat,
        }
        lines = ["def decode(d):", "    o = _new(_cls)"]
        is_event = issubclass(self.cls, ev.Event)
        if is_event:
            env["_derived_iso"] = ev.DerivedEnd.fromisoformat
            env["_exact"] = Precision.EXACT.value
            lines.append("    ends = 0")  # period ends left for mark_derived_ends
        if only is not None and is_event and not only.isdisjoint(_DERIVED_ENDS):
            only = only | _PERIOD_FIELDS  # mark_derived_ends reads them all
        for i, (name, key, kind, extra) in enumerate(self.fields):
            if only is not None and name not in only:
                continue  # left unset: the caller reads none of it
            lines.append(f"    v = d[{key!r}]")
            if is_event and kind == "dt" and name in _DERIVED_ENDS:
                # an end spelled as its start (an exact time; reported when published)
                # is the end the record derives itself: marked so here, as
                # mark_derived_ends would, without working the period out again
                start, precision = _DERIVED_ENDS[name]
                same = f"v == d[{start!r}]"
                if precision is not None:
                    same += f" and d[{precision!r}] == _exact"
                lines.append("    if v is not None:")
                lines.append(f"        if {same}: v = _derived_iso(v)")
                lines.append("        else: v = _fromiso(v); ends += 1")
            elif kind == "dt":
                lines.append("    if v is not None: v = _fromiso(v)")
            elif kind == "enum":
                # the member map is what Enum.__call__ consults, minus its overhead
                env[f"_enum{i}"] = extra._value2member_map_
                lines.append(f"    if v is not None: v = _enum{i}[v]")
            elif kind == "tuple":
                lines.append("    v = tuple(v)")
            elif kind == "records":
                env[f"_dec{i}"] = _plan_for(self.codec, extra).decode_shared
                # most events cite one source: no comprehension for it
                lines.append(
                    f"    v = (_dec{i}(v[0]),) if len(v) == 1 else tuple([_dec{i}(x) for x in v])"
                )
            elif kind == "event":
                lines.append("    if v is not None: v = _codec.decode_trusted(v)")
            elif kind == "record":
                env[f"_dec{i}"] = _plan_for(self.codec, extra).decode_shared
                lines.append(f"    if v is not None: v = _dec{i}(v)")
            setter = slot_setter(self.cls, name)
            if setter is None:
                lines.append(f"    _set(o, {name!r}, v)")
            else:
                env[f"_put{i}"] = setter
                lines.append(f"    _put{i}(o, v)")
        if is_event:
            env["_defaults"] = ev.mark_derived_ends
            lines.append("    if ends: _defaults(o)")
        lines.append("    return o")
        source = "\n".join(lines) + "\n"
        label = f"decode {self.cls.__qualname__}" + (" (lean)" if only is not None else "")
        made: Callable[[Mapping[str, Any]], Any] = compile_function(source, "decode", env, label)
        return made


def slot_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None] | None:
    """The ``__set__`` of the slot that holds ``name`` on ``cls`` (attrs' slotted classes),
    or ``None`` (a class with a ``__dict__``, or a descriptor of another kind). A frozen
    record's fields are set through it: a third cheaper per field than
    ``object.__setattr__``, which looks the same slot up by name each time."""
    for klass in cls.__mro__:
        if name in vars(klass):
            found = vars(klass)[name]
            if type(found) is types.MemberDescriptorType:
                setter: Callable[[Any, Any], None] = found.__set__
                return setter
            return None
    return None


_DERIVED_ENDS = {
    "occurred_until": ("occurred_at", "precision"),
    "reported_until": ("reported_at", None),
}
"""An event's period ends: the start they may equal and the precision that must be exact."""

_PERIOD_FIELDS = frozenset(
    ("occurred_at", "precision", "occurred_until", "reported_at", "reported_until", "sources")
)
"""What :func:`timeline.events.mark_derived_ends` reads."""

_ALWAYS_READ = frozenset(("id", "occurred_at"))
"""Fields every read decodes: a fold skips events by id and merges them by time."""

_WHOLE = (ev.Correction, ev.Retraction, ev.Denial, ev.Confirmation)
"""Records a fold reads itself (claims, corrections): always decoded whole."""


class _GiveUp(Exception):
    """The strict structurer's doubt: the converter decides (and words the error)."""


def _strict_kind(tp: object) -> tuple[bool, str, Any] | None:
    """``(optional, kind, detail)`` of a field type the strict structurer handles."""
    optional = False
    args = typing.get_args(tp)
    if args and type(None) in args:
        if len(args) != 2:
            return None
        optional = True
        tp = next(a for a in args if a is not type(None))
        args = typing.get_args(tp)
    if tp in (str, int, float, bool):
        return optional, "plain", tp
    if tp is datetime:
        return optional, "dt", None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return optional, "enum", tp
    if _is_homogeneous_tuple(tp) and args[0] in (str, int, float, bool):
        return optional, "tuple", args[0]
    if (
        _is_homogeneous_tuple(tp)
        and isinstance(args[0], type)
        and attrs.has(args[0])
        and not issubclass(args[0], ev.Event)
    ):
        return optional, "records", args[0]
    if tp is ev.Event:
        return optional, "event", None
    if isinstance(tp, type) and attrs.has(tp) and not issubclass(tp, ev.Event):
        return optional, "record", tp
    return None


def _check_text(value: Any) -> Any:
    if type(value) is not str or not (value.isascii() or _is_utf8(value)):
        raise _GiveUp
    return value


def _check_int(value: Any) -> Any:
    if type(value) is not int:
        raise _GiveUp
    return value


def _check_float(value: Any) -> Any:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _GiveUp


def _check_bool(value: Any) -> Any:
    if type(value) is not bool:
        raise _GiveUp
    return value


_PLAIN_CHECKS: dict[type, Callable[[Any], Any]] = {
    str: _check_text,
    int: _check_int,
    float: _check_float,
    bool: _check_bool,
}


def _enum_check(tp: type[enum.Enum]) -> Callable[[Any], Any]:
    """What ``Codec._structure_enum`` accepts, as it converts it; anything else gives up."""
    kinds = tuple({type(m.value) for m in tp} - {bool}) or (str,)

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _GiveUp
        return tp(value)

    return check


def _strict_structurer(codec: Codec, cls: type[Any]) -> Callable[[Any], Any] | None:
    """A generated structurer for one attrs record that accepts exactly what the
    converter's hooks accept, builds the same value, and raises at the first doubt
    (any other type, an extra key, a bad value); ``None`` for records with a field
    it does not handle. Missing fields, defaults and validators are the record's
    ``__init__``'s, as with the converter."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: the converter alone
        return None
    env: dict[str, Any] = {"_cls": cls, "_GiveUp": _GiveUp, "_dict": dict, "_type": type}
    fields = attrs.fields(cls)
    if any(not f.init for f in fields):
        return None
    allowed = frozenset(f.alias or f.name for f in fields)
    env["_allowed"] = allowed
    lines = [
        "def structure(d):",
        "    if _type(d) is not _dict or not _allowed.issuperset(d): raise _GiveUp",
        "    kw = {}",
    ]
    for i, field in enumerate(fields):
        kind = _strict_kind(hints.get(field.name))
        if kind is None:
            return None
        optional, what, detail = kind
        key = field.alias or field.name
        if what == "plain":
            env[f"_c{i}"] = _PLAIN_CHECKS[detail]
            convert = f"_c{i}(v)"
        elif what == "dt":
            env[f"_c{i}"] = Codec._structure_datetime
            convert = f"_c{i}(v, None)"
        elif what == "enum":
            env[f"_c{i}"] = _enum_check(detail)
            convert = f"_c{i}(v)"
        elif what == "tuple":
            env[f"_c{i}"] = _PLAIN_CHECKS[detail]
            env["_seq"] = (list, tuple)
            convert = f"tuple([_c{i}(x) for x in v]) if _type(v) in _seq else _fail()"
        elif what in ("records", "record"):
            nested = codec._strict_plan(detail)
            if nested is None:
                return None
            env[f"_c{i}"] = _memoised(nested)
            env["_seq"] = (list, tuple)
            convert = (
                f"tuple([_c{i}(x) for x in v]) if _type(v) in _seq else _fail()"
                if what == "records"
                else f"_c{i}(v)"
            )
        else:  # a correction's replacement: any registered type, by its tag
            env["_nested"] = codec._structure_nested
            convert = "_nested(v, None)"
        env["_fail"] = _give_up
        lines.append(f"    if {key!r} in d:")
        lines.append(f"        v = d[{key!r}]")
        if optional:
            lines.append(f"        kw[{key!r}] = None if v is None else {convert}")
        else:
            lines.append(f"        kw[{key!r}] = {convert}")
    lines.append("    return _cls(**kw)")
    source = "\n".join(lines) + "\n"
    made: Callable[[Any], Any] = compile_function(
        source, "structure", env, f"strict structure {cls.__qualname__}"
    )
    return made


def _give_up() -> Any:
    raise _GiveUp


def _memoised(structure: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``structure`` of a nested record (a ``Source``), one frozen object per distinct
    input of text: a fixture cites each declared source on many events, and later caches
    (the fact codec's interning) then find it by identity. Bounded; cleared when full."""
    cache: dict[tuple[tuple[str, Any], ...], Any] = {}

    def memoised(data: Any) -> Any:
        if type(data) is not dict:
            raise _GiveUp
        for value in data.values():
            if value is not None and type(value) is not str:
                # 1, 1.0 and True are one key: only text (and null) is memoised
                return structure(data)
        key = tuple(data.items())
        found = cache.get(key)
        if found is None:
            if len(cache) >= _SHARED_LIMIT:
                cache.clear()
            found = cache[key] = structure(data)
        return found

    return memoised


def _float_free(codec: Codec, kind: str, extra: Any) -> bool:
    """Whether a field of this plan kind can never encode to a JSON float."""
    if kind == "dt":
        return True
    if kind in ("plain", "tuple"):
        return extra is not float  # see _kind_of: the plain type, or the tuple's item type
    if kind == "enum":
        return all(type(m.value) in (str, int) for m in extra)
    if kind in ("record", "records"):
        return _plan_for(codec, extra).float_free
    return False  # "event": any record type (a correction's replacement)


def _enum_member(value: Any, kind: type[enum.Enum], field: str) -> enum.Enum:
    """``value`` as a member of ``kind``: a record built without a converter may hold text."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValidationError(f"{field}: {value!r} is not one of: {allowed}", field=field) from None


_SHARED_LIMIT = 50_000


def _shared(decode: Callable[[Mapping[str, Any]], Any]) -> Callable[[Mapping[str, Any]], Any]:
    """Decode equal nested values (a ``Source`` repeated on many rows) to one object.

    Folds compare sources when they add them to a fact; one shared object makes
    that an identity check, and skips rebuilding it. Bounded; cleared when full.
    """
    cache: dict[tuple[tuple[str, Any], ...], Any] = {}

    def decode_shared(data: Mapping[str, Any]) -> Any:
        try:
            key = tuple(data.items())
            found = cache.get(key)
        except TypeError:  # an unhashable value: decode it afresh
            return decode(data)
        if found is None:
            if len(cache) >= _SHARED_LIMIT:
                cache.clear()
            found = cache[key] = decode(data)
        return found

    return decode_shared


_ENCODED_LIMIT = 8192
"""How many records :func:`_encoded_once` keeps (a fixture cites its sources near where
they are published: a few thousand recent ones cover it; the load's memory stays bounded)."""


def _encoded_once(encode: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """``encode`` of a frozen record of plain fields, kept per object: the same
    ``Source`` object is cited by many events (and twice by each, as ``source`` and
    first of ``sources``). Each call returns its own copy (the values are plain: a
    shallow copy is a whole one). Bounded (``_ENCODED_LIMIT``); cleared when full."""
    cache: dict[int, tuple[Any, dict[str, Any]]] = {}

    def encode_once(obj: Any) -> dict[str, Any]:
        kept = cache.get(id(obj))
        if kept is not None and kept[0] is obj:  # the object is held: its id is its own
            return kept[1].copy()
        data = encode(obj)
        if len(cache) >= _ENCODED_LIMIT:
            cache.clear()
        cache[id(obj)] = (obj, data)
        return data.copy()

    return encode_once


def _is_frozen(cls: type[Any]) -> bool:
    """Whether an attrs class is frozen (its instances never change)."""
    fields = attrs.fields(cls)
    if not fields:
        return False
    try:
        setattr(object.__new__(cls), fields[0].name, None)
    except attrs.exceptions.FrozenInstanceError:
        return True
    except Exception:  # noqa: BLE001 - anything else: not known to be frozen
        return False
    return False


def _plan_for(codec: Codec, cls: type[Any]) -> _Plan:
    plan = codec._plan(cls)
    assert plan is not None  # only compiled for attrs classes whose plan exists
    return plan


def field_kind(tp: object) -> tuple[str, Any] | None:
    """How a field of type ``tp`` is written: ``(kind, detail)``, or ``None`` when no
    generated plan handles it (``X | None`` is read as ``X``).

    Kinds: ``plain`` (str, int, ...), ``dt``, ``enum``, ``tuple`` (of plain
    items), ``records`` / ``record`` (attrs records that are not events), ``event``.
    """
    return _kind_of(tp)


def _kind_of(tp: object) -> tuple[str, Any] | None:
    args = typing.get_args(tp)
    if args and type(None) in args and len(args) == 2:  # X | None
        tp = next(a for a in args if a is not type(None))
        args = typing.get_args(tp)
    if tp in _PLAIN:
        return ("plain", tp)
    if tp is datetime:
        return ("dt", None)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return ("enum", tp)
    if _is_homogeneous_tuple(tp) and args[0] in _PLAIN:
        return ("tuple", args[0])
    if (
        _is_homogeneous_tuple(tp)
        and isinstance(args[0], type)
        and attrs.has(args[0])
        and not issubclass(args[0], ev.Event)
    ):
        return ("records", args[0])
    if tp is ev.Event:
        return ("event", None)
    if isinstance(tp, type) and attrs.has(tp) and not issubclass(tp, ev.Event):
        return ("record", tp)
    return None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: object) -> str:
    """Deterministic JSON used for storage and hashing."""
    return _CANONICAL.encode(data)


_SORTED = orjson.OPT_SORT_KEYS


def canonical_json_plain(data: object) -> str:
    """:func:`canonical_json` of data holding no floats, through orjson.

    For text, integers, booleans, ``None``, lists and dicts with text keys the two
    spellings are byte-identical (``tests/unit/test_canonical.py`` proves it on
    random data). Whatever orjson refuses (a lone surrogate, an integer beyond 64
    bits, a key that is not text) goes through the standard encoder, which
    decides what happens to it exactly as before.
    """
    try:
        return orjson.dumps(data, option=_SORTED).decode()
    except (orjson.JSONEncodeError, TypeError):
        return _CANONICAL.encode(data)


def canonical_bytes_plain(data: object) -> bytes:
    """:func:`canonical_json_plain` as UTF-8 bytes (what the hash reads)."""
    try:
        return orjson.dumps(data, option=_SORTED)
    except (orjson.JSONEncodeError, TypeError):
        return _CANONICAL.encode(data).encode("utf-8")


def loads_trusted(text: str | bytes) -> Any:
    """Parse JSON the store wrote itself: orjson, or the standard parser for what
    orjson refuses (an integer beyond 64 bits, say)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _problems(exc: BaseException, path: str) -> list[tuple[str, str]]:
    if isinstance(exc, cattrs.IterableValidationError):
        with_notes, without = exc.group_exceptions()
        out: list[tuple[str, str]] = []
        for sub, inote in with_notes:
            out += _problems(sub, f"{path}[{inote.index}]")
        for sub in without:
            out += _problems(sub, path)
        return out
    if isinstance(exc, cattrs.ClassValidationError):
        with_notes2, without2 = exc.group_exceptions()
        out = []
        for sub, anote in with_notes2:
            out += _problems(sub, f"{path}.{anote.name}" if path else anote.name)
        for sub in without2:
            out += _problems(sub, path)
        return out
    if isinstance(exc, ValidationError):
        message = str(exc)
        inner = exc.field
        if inner and message.startswith(f"{inner}: "):
            message = message[len(inner) + 2 :]
        if inner:
            path = f"{path}.{inner}" if path else inner
        return [(path, message)]
    if isinstance(exc, UnknownEventTypeError):
        return [(f"{path}.type" if path else "type", str(exc))]
    if isinstance(exc, ForbiddenExtraKeysError):
        extra = ", ".join(sorted(exc.extra_fields))
        return [(f"{path}.{extra}" if path else extra, f"unknown field ({extra})")]
    if isinstance(exc, KeyError):
        return [(path, "required field missing")]
    if isinstance(exc, TypeError) and "missing" in str(exc) and "required" in str(exc):
        return [(path, "required field missing")]
    return [(path, f"invalid value ({exc})")]


def _first_problem(exc: BaseException) -> tuple[str | None, str]:
    found = _problems(exc, "")
    if not found:
        return None, str(exc)
    field, message = found[0]
    return (field or None), message


default_codec = Codec()

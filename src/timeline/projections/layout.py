"""Fact layouts derived from the facts' attrs fields: how a fact is stored, and its signature.

A fact (``Stance``, ``OrderIntent``, ``Restriction``, or a projection's own) is
an attrs class; its layout is the list of its fields, in order, with how each
is written as compact JSON: a tag (the class name), then one value per field.
Sources are written as numbers the caller interns. Nothing here names a
particular fact: a field added to a fact is stored, read back and part of the
:func:`signature`, so stored snapshots of the old shape are rebuilt by themselves.

The encoders and decoders are generated straight-line code (a loop over field
descriptors costs about twice as much on the single-fact hot path), registered
with :mod:`linecache` so tracebacks show their source.
"""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from timeline import events as ev
from timeline._codegen import compile_function
from timeline.codec import Codec, field_kind

__all__ = ["FactLayout", "signature"]

Dump = Callable[[Any, Callable[[ev.Source], int]], list[Any]]
Load = Callable[[list[Any], Callable[[list[int]], tuple[ev.Source, ...]]], Any]


class FactLayout:
    """How one fact class is written to and read from a JSON list.

    Attributes:
        cls: the fact class.
        tag: the first item of every stored fact of this class (its name).
        fields: ``(name, kind)`` per attrs field, in order (the kinds of
            :func:`timeline.codec.field_kind`, ``"source"``/``"sources"`` for
            interned sources, ``"any"`` for what goes through the codec).
        dump: ``dump(fact, ref) -> list``; ``ref`` interns a source.
        load: ``load(data, sources) -> fact``; ``sources`` resolves interned numbers.
    """

    def __init__(self, cls: type[Any], codec: Codec) -> None:
        self.cls = cls
        self.tag = cls.__name__
        hints = typing.get_type_hints(cls)
        self.fields: list[tuple[str, str]] = []
        self.types: list[str] = []
        env: dict[str, Any] = {
            "_cls": cls,
            "_iso": datetime.fromisoformat,
            "_unstructure": codec.unstructure,
            "_structure": codec.structure,
        }
        dumped = [repr(self.tag)]
        loaded = []
        for i, field in enumerate(attrs.fields(cls)):
            hint = hints.get(field.name, field.type)
            found = field_kind(hint)
            kind, extra = found if found is not None else ("any", None)
            if kind == "records" and extra is ev.Source:
                kind = "sources"
            elif kind == "record" and extra is ev.Source:
                kind = "source"
            self.fields.append((field.name, kind))
            self.types.append(hint.__name__ if isinstance(hint, type) else str(hint))
            get, item = f"f.{field.name}", f"d[{i + 1}]"
            dump, load = _expressions(kind, get, item, i, extra, hint, env)
            dumped.append(dump)
            arg = field.alias or field.name
            loaded.append(f"{arg}={load}")
        self.dump: Dump = compile_function(
            f"def dump(f, _ref):\n    return [{', '.join(dumped)}]\n",
            "dump",
            env,
            f"fact layout {self.tag} dump",
        )
        self.load: Load = compile_function(
            f"def load(d, _sources):\n    return _cls({', '.join(loaded)})\n",
            "load",
            env,
            f"fact layout {self.tag} load",
        )

    def describe(self) -> str:
        """The layout as text: the tag, then each field's name, kind and type."""
        parts = (
            f"{name}:{kind}:{tp}" for (name, kind), tp in zip(self.fields, self.types, strict=True)
        )
        return f"{self.tag}({','.join(parts)})"


def _expressions(
    kind: str, get: str, item: str, i: int, extra: Any, hint: Any, env: dict[str, Any]
) -> tuple[str, str]:
    """The dump and load expressions of one field."""

    def optional(expr: str, value: str) -> str:
        return f"(None if {value} is None else {expr})"

    if kind == "plain":
        return get, item
    if kind == "dt":
        return optional(f"{get}.isoformat()", get), optional(f"_iso({item})", item)
    if kind == "enum":
        env[f"_enum{i}"] = extra._value2member_map_  # Enum.__call__ minus its overhead
        return optional(f"{get}.value", get), optional(f"_enum{i}[{item}]", item)
    if kind == "tuple":
        return optional(f"list({get})", get), optional(f"tuple({item})", item)
    if kind == "sources":
        return (
            optional(f"[_ref(s) for s in {get}]", get),
            optional(f"_sources({item})", item),
        )
    if kind == "source":
        return optional(f"_ref({get})", get), optional(f"_sources([{item}])[0]", item)
    env[f"_type{i}"] = hint
    return f"_unstructure({get})", f"_structure({item}, _type{i})"


def signature(version: str, names: Iterable[str], layouts: Sequence[FactLayout]) -> str:
    """What stored snapshots were built with: rules version, projections, fact layouts.

    Any change (a projection added, a field added to a fact, a field's type
    changed) gives another signature, and snapshots of the old one are rebuilt.
    """
    text = ";".join([version, ",".join(sorted(names)), *sorted(x.describe() for x in layouts)])
    return f"{version}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"

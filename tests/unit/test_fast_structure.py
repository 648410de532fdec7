"""The strict structurer agrees with the converter: same records, same errors.

``Codec.from_dict`` first tries a generated structurer for the record's class, which
makes the converter's own checks and gives up at the first doubt; the converter then
decides, and words any error. Random valid records, and the same records with one
value replaced by any JSON value, a key dropped or a key added (at the top, in a
source, in a correction's replacement), must come out of both paths alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.strategies import USER_REGISTRY, events, votes

fast = tl.Codec(USER_REGISTRY)
slow = tl.Codec(USER_REGISTRY)
slow.fast_structure = False

# values that each pass some field's checks and fail others'
AWKWARD: list[Any] = [True, False, 0, 1, -3, 2**70, 1.5, 2.0, None, "", "x", "\ud800", "2025-08",
                      "2025-12-08T10:00:00+00:00", "supports", "exact", [], ["a"], ("a",), [1],
                      {}, {"publisher": "p"}, {"type": "report"}]  # fmt: skip


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(AWKWARD),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)  # fmt: skip


def outcome(codec: tl.Codec, data: dict[str, Any]) -> tuple[str, ...]:
    """The record's repr (types of values included), or the error's class, text and field."""
    try:
        return ("ok", repr(codec.from_dict(data)))
    except tl.TimelineError as exc:
        return (type(exc).__name__, str(exc), str(getattr(exc, "field", None)))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(st.one_of(events, votes))
    data = fast.to_dict(event)
    targets: list[dict[str, Any]] = [data]
    for key in ("source", "replacement"):
        if isinstance(data.get(key), dict):
            targets.append(data[key])
    if isinstance(data.get("sources"), list) and data["sources"]:
        targets.append(data["sources"][0])
    target = draw(st.sampled_from(targets))
    how = draw(st.sampled_from(["keep", "replace", "drop", "add"]))
    # an event without an id gets a random one: not something to compare
    keys = sorted(k for k in target if k != "type" and not (k == "id" and "type" in target))
    if how == "replace" and keys:
        target[draw(st.sampled_from(keys))] = draw(json_values)
    elif how == "drop" and keys:
        del target[draw(st.sampled_from(keys))]
    elif how == "add":
        target[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_both_paths_give_the_same_record_or_the_same_error(data: dict[str, Any]) -> None:
    assert outcome(fast, data) == outcome(slow, data)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.one_of(events, votes))
def test_every_field_with_every_awkward_value(event: tl.Event) -> None:
    data = fast.to_dict(event)
    paths: list[tuple[str, ...]] = [()]
    for key in ("source", "replacement"):
        if isinstance(data.get(key), dict):
            paths.append((key,))
    if isinstance(data.get("sources"), list) and data["sources"]:
        paths.append(("sources",))
    for path in paths:

        def target(copy: dict[str, Any], path: tuple[str, ...] = path) -> dict[str, Any]:
            if path == ("sources",):
                inner: dict[str, Any] = copy["sources"][0]
                return inner
            return copy[path[0]] if path else copy

        for key in target(data):
            if key == "type" or (key == "id" and "type" in target(data)):
                continue
            for value in [*AWKWARD, KeyError]:
                copy = copy_of(data)
                if value is KeyError:
                    del target(copy)[key]
                else:
                    target(copy)[key] = value
                assert outcome(fast, copy) == outcome(slow, copy), (path, key, value)


def copy_of(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: copy_of(v) for k, v in data.items()}
    if isinstance(data, list):
        return [copy_of(v) for v in data]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.one_of(events, votes))
def test_valid_records_take_the_strict_structurer(event: tl.Event) -> None:
    data = fast.to_dict(event)
    cls = type(event)
    plan = fast._strict_plan(cls)
    assert plan is not None  # every built-in type, and a user type of plain fields
    body = {k: v for k, v in data.items() if k not in ("type", "schema_version")}
    assert repr(plan(body)) == repr(slow._conv.structure(body, cls))
    assert fast.from_dict(data) == event == slow.from_dict(data)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"precision": "weekly"}, "precision"),
        ({"summary": 3}, "summary"),
        ({"actor": None}, "actor"),
        ({"sources": [{"publisher": True}]}, "sources[0].publisher"),
        ({"extra": 1}, "extra"),
    ],
)
def test_errors_name_the_field_as_before(change: dict[str, Any], field: str) -> None:
    data = {
        "type": "statement",
        "id": "s1",
        "occurred_at": "2025-12-08T10:00:00+00:00",
        "actor": "gov",
        "topic": "h200",
        "position": "supports",
        "summary": "said so",
        **change,
    }
    with pytest.raises(tl.ValidationError) as caught:
        fast.from_dict(data)
    assert caught.value.field == field
    assert outcome(fast, data) == outcome(slow, data)

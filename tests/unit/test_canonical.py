"""orjson spells the canonical JSON exactly as the standard encoder does.

The store hashes the canonical text, so the fast encoder must be byte-identical
on everything it is handed: plain data without floats, and every record whose
fields cannot hold one (records that can go through the standard encoder).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import timeline as tl
from timeline.codec import canonical_bytes_plain, canonical_json, canonical_json_plain
from timeline.store.integrity import GENESIS_HASH, row_hash

from ..strategies import USER_REGISTRY, Vote, events

CODEC = tl.Codec(USER_REGISTRY)

# any code point, lone surrogates and control characters included
any_text = st.text(st.characters(codec=None, categories=None), max_size=20)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits too
    any_text,
)
plain_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


def _same(data: Any) -> tuple[str | None, str | None]:
    def attempt(encode: Any) -> str | None:
        try:
            return str(encode(data))
        except UnicodeEncodeError:
            return None

    return attempt(canonical_json), attempt(canonical_json_plain)


@settings(max_examples=300)
@given(plain_data)
def test_plain_data_spells_the_same_through_orjson(data: Any) -> None:
    standard, fast = _same(data)
    assert fast == standard


@settings(max_examples=300)
@given(plain_data)
def test_plain_bytes_are_the_utf8_of_the_standard_text(data: Any) -> None:
    standard = canonical_json(data)
    try:
        expected = standard.encode("utf-8")
    except UnicodeEncodeError:
        return  # a lone surrogate: the store refuses it before hashing
    assert canonical_bytes_plain(data) == expected


@settings(max_examples=300)
@given(events)
def test_every_record_payload_equals_the_standard_canonical_json(event: tl.Event) -> None:
    data, payload = CODEC.payload(event)
    assert data == CODEC.to_dict(event)
    assert payload == canonical_json(CODEC.to_dict(event))


def test_a_record_with_a_float_field_goes_through_the_standard_encoder() -> None:
    plan = CODEC._plan(Vote)
    assert plan is not None
    assert plan.float_free is False
    vote = Vote(
        board="b",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        unanimous=False,
        seats=3,
        share=1e-05,
        stance=tl.Position.SUPPORTS,
        summary="s",
    )
    assert '"share":1e-05' in CODEC.payload(vote)[1]


def test_built_in_records_with_several_sources_go_through_orjson() -> None:
    # a tuple of records (``sources``) holds no float: only a correction, whose
    # replacement may be any record type, keeps the standard encoder
    codec = tl.Codec()
    plans = {name: codec._plan(codec.registry.get(name).cls) for name in codec.registry.names()}
    slow = sorted(name for name, plan in plans.items() if plan is None or not plan.float_free)
    assert slow == ["correction"]


def test_row_hash_is_sha256_of_the_previous_hash_and_the_standard_row_text() -> None:
    row = (1, "id-é", "story", 1, "statement", 1, "t", "day", "r", "rec", '{"a":"\\n"}')
    expected = hashlib.sha256(
        (GENESIS_HASH + canonical_json(list(row))).encode("utf-8")
    ).hexdigest()
    assert row_hash(GENESIS_HASH, row) == expected

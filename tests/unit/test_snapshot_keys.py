"""Snapshot fact keys: the fast spelling equals the JSON encoder's, for any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from timeline.snapshots import _ENCODE, _key_of, _key_text

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@given(projection=texts, key=st.lists(texts, max_size=4).map(tuple))
def test_a_key_of_text_is_spelled_as_json_and_read_back(
    projection: str, key: tuple[str, ...]
) -> None:
    text = _key_text(projection, key)
    assert text == _ENCODE([projection, key])
    assert _key_of(text) == (projection, key)


def test_a_key_with_other_values_falls_back_to_the_encoder() -> None:
    assert _key_text("votes", "acme") == '["votes","acme"]'
    assert _key_text("orders", ("_idx", ("a", "b"))) == '["orders",["_idx",["a","b"]]]'

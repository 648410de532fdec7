"""Fact versions compressed for storage: a large write is compressed in two threads,
with the very result of compressing each text alone, in order."""

from __future__ import annotations

import threading
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.store import _schema, facts
from timeline.store._schema import pack_fact, unpack_fact


def _versions(count: int) -> list[tuple[int, str, str | None]]:
    """Texts of every kind pack_fact tells apart: short, long and compressible, long and
    not (random-looking ids), and removals."""
    out: list[tuple[int, str, str | None]] = []
    for n in range(count):
        if n % 7 == 0:
            text: str | None = None
        elif n % 3 == 0:
            text = f'["Stance","a{n}","t"]'
        elif n % 3 == 1:
            text = '["OrderIntent",' + ",".join(f'"ev-{n}-{i}"' for i in range(60)) + "]"
        else:
            text = '["T",["' + zlib.compress(str(n).encode() * 90).hex() + '"]]'
        out.append((n % 50, f"okey-{n:06d}", text))
    return out


@pytest.mark.parametrize("count", [0, 1, facts._PACK_IN_TWO_FROM - 1, 9_001])
def test_a_write_is_packed_as_each_text_alone_in_order(count: int) -> None:
    values = _versions(count)
    packed = facts._packed(values)
    assert packed == [(i, o, pack_fact(t)) for i, o, t in values]
    assert [unpack_fact(p) if p is not None else None for _, _, p in packed] == [
        t for _, _, t in values
    ]
    kinds = {type(p) for _, _, p in packed}
    if count > 100:
        assert kinds == {str, bytes, type(None)}  # text kept, compressed, removed


def test_a_large_write_is_packed_in_a_second_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    original = _schema.pack_fact

    def watched(text: str | None) -> str | bytes | None:
        seen.add(threading.current_thread().name)
        return original(text)

    monkeypatch.setattr(facts, "pack_fact", watched)
    monkeypatch.setattr(facts, "_CORES", 2)
    facts._packed(_versions(facts._PACK_IN_TWO_FROM - 1))
    assert seen == {threading.current_thread().name}  # a small write: here alone
    seen.clear()
    facts._packed(_versions(facts._PACK_IN_TWO_FROM))
    assert len(seen) == 2
    assert threading.current_thread().name in seen
    seen.clear()
    monkeypatch.setattr(facts, "_CORES", 1)  # one core: no second thread
    facts._packed(_versions(facts._PACK_IN_TWO_FROM * 2))
    assert seen == {threading.current_thread().name}


def test_a_failure_in_the_second_thread_reaches_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    main = threading.current_thread()

    def failing(text: str | None) -> str | bytes | None:
        if threading.current_thread() is not main:
            raise MemoryError("out of memory")
        return pack_fact(text)

    monkeypatch.setattr(facts, "pack_fact", failing)
    monkeypatch.setattr(facts, "_CORES", 2)
    with pytest.raises(MemoryError, match="out of memory"):
        facts._packed(_versions(facts._PACK_IN_TWO_FROM))


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(min_size=0, max_size=600)), max_size=60))
def test_any_texts_pack_alike_alone_or_in_two_threads(texts: list[str | None]) -> None:
    values = [(n, f"k{n}", t) for n, t in enumerate(texts)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(facts, "_PACK_IN_TWO_FROM", 2)
        mp.setattr(facts, "_CORES", 2)
        assert facts._packed(values) == [(i, o, pack_fact(t)) for i, o, t in values]

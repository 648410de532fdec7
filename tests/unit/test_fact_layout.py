"""Fact layouts derive from the facts' attrs fields; a changed shape changes the signature."""

from __future__ import annotations

import linecache
from datetime import UTC, datetime

import attrs
import pytest

import timeline as tl
from timeline.codec import default_codec
from timeline.projections.layout import FactLayout, signature

WHEN = datetime(2025, 12, 8, 12, tzinfo=UTC)
REUTERS = tl.Source(publisher="Reuters", url="https://example.com/a")


@attrs.frozen(kw_only=True)
class Everything:
    """A fact with one field of each kind a layout knows."""

    name: str
    count: int | None = None
    when: datetime | None = None
    position: tl.Position = tl.Position.NEUTRAL
    tags: tuple[str, ...] = ()
    sources: tuple[tl.Source, ...] = ()
    first: tl.Source | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    certain: bool = True


class Interner:
    """Numbers sources as the snapshot store would."""

    def __init__(self) -> None:
        self.refs: dict[tl.Source, int] = {}

    def ref(self, source: tl.Source) -> int:
        return self.refs.setdefault(source, len(self.refs) + 1)

    def sources(self, refs: list[int]) -> tuple[tl.Source, ...]:
        by_ref = {v: k for k, v in self.refs.items()}
        return tuple(by_ref[r] for r in refs)


@pytest.mark.parametrize(
    "fact",
    [
        Everything(name="bare"),
        Everything(
            name="full",
            count=3,
            when=WHEN,
            position=tl.Position.OPPOSES,
            tags=("a", "b"),
            sources=(REUTERS, tl.Source(publisher="AP")),
            first=REUTERS,
            pairs=(("x", "y"),),
            certain=False,
        ),
        tl.Stance(actor="beijing", topic="t", position=tl.Position.SUPPORTS, since=WHEN),
        tl.OrderIntent(
            buyer="b",
            supplier="s",
            product="p",
            status=tl.IntentStatus.EXPLORING,
            since=WHEN,
            quantity="large",
            sources=(REUTERS,),
        ),
        tl.Restriction(
            id="r",
            authority="us",
            measure=tl.Measure.BAN,
            product="p",
            applies_to=("b",),
            since=WHEN,
        ),
    ],
)
def test_a_fact_reads_back_equal_through_its_layout(fact: object) -> None:
    layout = FactLayout(type(fact), default_codec)
    interner = Interner()
    data = layout.dump(fact, interner.ref)
    assert data[0] == type(fact).__name__
    assert layout.load(data, interner.sources) == fact


def test_every_field_of_a_fact_is_in_its_layout() -> None:
    for cls in (tl.Stance, tl.OrderIntent, tl.Restriction):
        layout = FactLayout(cls, default_codec)
        assert [name for name, _ in layout.fields] == [f.name for f in attrs.fields(cls)]


def test_sources_are_stored_as_interned_numbers() -> None:
    layout = FactLayout(Everything, default_codec)
    interner = Interner()
    data = layout.dump(Everything(name="n", sources=(REUTERS,), first=REUTERS), interner.ref)
    assert data[6:8] == [[1], 1]


def test_a_field_added_to_a_fact_changes_the_signature() -> None:
    note = {"note": attrs.field(default="", type=str)}
    noted = attrs.make_class("Everything", note, bases=(Everything,))
    before = FactLayout(Everything, default_codec)
    after = FactLayout(noted, default_codec)
    assert after.describe() == before.describe()[:-1] + ",note:plain:str)"
    assert signature("3", ["p"], [before]) != signature("3", ["p"], [after])
    assert signature("3", ["p"], [before]) == signature("3", ["p"], [before])


def test_a_changed_field_type_changes_the_signature() -> None:
    as_text = FactLayout(attrs.make_class("Fact", {"n": attrs.field(type=str)}), default_codec)
    as_int = FactLayout(attrs.make_class("Fact", {"n": attrs.field(type=int)}), default_codec)
    assert (as_text.describe(), as_int.describe()) == ("Fact(n:plain:str)", "Fact(n:plain:int)")
    assert signature("3", [], [as_text]) != signature("3", [], [as_int])


def test_generated_code_shows_its_source_in_tracebacks() -> None:
    layout = FactLayout(tl.Stance, default_codec)
    code = layout.load.__code__
    assert code.co_filename.startswith("<timeline generated")
    assert linecache.getline(code.co_filename, 1) == "def load(d, _sources):\n"
    with pytest.raises(IndexError) as caught:
        layout.load(["Stance"], Interner().sources)
    assert str(caught.traceback[-1].path) == code.co_filename
    assert "return _cls(actor=d[1]" in str(caught.traceback[-1].statement)

"""Contract: a relayed source (``via``) resolves to its origin on every backend, from
the same batch or from any event stored earlier; an unknown one writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import timeline as tl

DAY = datetime(2023, 4, 1, tzinfo=UTC)


def _statement(
    event_id: str, source: tl.Source | None = None, sources: tuple[tl.Source, ...] = ()
) -> tl.Statement:
    return tl.Statement(
        id=event_id, occurred_at=DAY, actor="micron", topic="t", source=source, sources=sources
    )


def _origins(store: tl.Timeline, event_id: str) -> list[str | None]:
    stored = store.get(event_id)
    assert stored is not None
    return [s.origin for s in stored.event.sources]


def test_a_via_names_the_single_source_of_an_event_stored_earlier(store: tl.Timeline) -> None:
    store.append([_statement("a", source=tl.Source(publisher="FT", id="ft"))], story="s")
    relayed = tl.Source(publisher="Reuters", id="reuters", via="ft")
    store.append([_statement("b", source=relayed)], story="s")
    assert _origins(store, "b") == ["FT"]
    stance = store.state().stance("micron", "t")
    assert stance is not None
    assert stance.independent_sources == 1


def test_a_via_names_a_listed_source_of_an_event_stored_earlier(store: tl.Timeline) -> None:
    listed = (tl.Source(publisher="Wire", id="wire"), tl.Source(publisher="FT", id="ft"))
    store.append([_statement("a", sources=listed)], story="s")
    store.append([_statement("b", source=tl.Source(publisher="R", id="r", via="ft"))], story="s")
    assert _origins(store, "b") == ["FT"]


def test_a_via_follows_a_chain_through_stored_relays(store: tl.Timeline) -> None:
    store.append([_statement("a", source=tl.Source(publisher="FT", id="ft"))], story="s")
    store.append([_statement("b", source=tl.Source(publisher="R", id="r", via="ft"))], story="s")
    store.append([_statement("c", source=tl.Source(publisher="W", id="w", via="r"))], story="s")
    assert _origins(store, "c") == ["FT"]


def test_a_via_naming_no_known_source_is_refused_and_writes_nothing(store: tl.Timeline) -> None:
    store.append([_statement("a", source=tl.Source(publisher="FT", id="ft"))], story="s")
    relayed = tl.Source(publisher="Reuters", id="reuters", via="nowhere")
    with pytest.raises(tl.ValidationError, match="'reuters' relies on unknown source 'nowhere'"):
        store.append([_statement("b", source=relayed)], story="s")
    assert [r.event.id for r in store.events()] == ["a"]

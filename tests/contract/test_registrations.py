"""Contract: actors, aliases and story titles are in a hash chain verify() re-walks,
and the event-actor index takes only rows that follow from the log."""

from __future__ import annotations

from typing import Any

import pytest

import timeline as tl
from tests.contract._samples import STORY, _statement
from tests.contract.conftest import Backend


def _registered(store: tl.Timeline) -> tl.Timeline:
    store.register_actor("gov", name="Government", kind="government", aliases=["The State"])
    store.register_actor("nvidia", name="Nvidia")
    store.store.append([_statement("a-1", actor="gov")], story=STORY, title="Trade talks")
    return store


def _registrations(store: tl.Timeline) -> int:
    """How many records the registrations chain holds (both backends call their
    connection ``conn``)."""
    conn: Any = getattr(store.store, "conn")  # noqa: B009
    return int(conn.execute("SELECT COUNT(*) FROM registrations").fetchone()[0])


def test_a_healthy_store_with_actors_aliases_and_titles_verifies(store: tl.Timeline) -> None:
    _registered(store)
    assert store.verify() == 1


def test_an_unchanged_declaration_registers_nothing_new(store: tl.Timeline) -> None:
    _registered(store)
    before = _registrations(store)
    store.register_actor("gov", name="Government", kind="government", aliases=["The State"])
    store.store.append([], story=STORY, title="Trade talks")
    assert _registrations(store) == before
    store.register_actor("gov", name="The Government")  # a change: one record
    store.store.append([], story=STORY, title="Trade talks, day two")
    assert _registrations(store) == before + 2
    assert store.verify() == 1


TAMPERING = {
    "actor name": (
        "UPDATE actors SET name = 'Someone else' WHERE id = 'gov'",
        "actor 'gov': name is 'Someone else' in table actors, 'Government' as registered",
    ),
    "actor kind": (
        "UPDATE actors SET kind = 'company' WHERE id = 'gov'",
        "actor 'gov': kind is 'company' in table actors, 'government' as registered",
    ),
    "alias moved": (
        "UPDATE actor_aliases SET actor = 'nvidia' WHERE alias = 'The State'",
        "alias 'The State' names actor 'nvidia' in table actor_aliases, but it is "
        "registered for 'gov'",
    ),
    "alias added": (
        "INSERT INTO actor_aliases (alias, actor) VALUES ('Green', 'nvidia')",
        "alias 'Green' names actor 'nvidia' in table actor_aliases, but was never registered",
    ),
    "alias deleted": (
        "DELETE FROM actor_aliases WHERE alias = 'The State'",
        "registered alias 'the state' of actor 'gov' is missing from table actor_aliases",
    ),
    "actor inserted": (
        "INSERT INTO actors (id, name, kind, aliases) VALUES ('ghost', 'Ghost', '', '[]')",
        "actor 'ghost' is in table actors but was never registered",
    ),
    "title": (
        "UPDATE stories SET title = 'Forged' WHERE story = 'trade'",
        "story 'trade': title is 'Forged' in table stories, 'Trade talks' as registered",
    ),
    "story inserted": (
        "INSERT INTO stories (story, title) VALUES ('forged', NULL)",
        "story 'forged' is in table stories with no events and no title",
    ),
}


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_verify_names_an_edited_actor_alias_or_title(
    store: tl.Timeline, backend: Backend, what: str
) -> None:
    _registered(store)
    sql, named = TAMPERING[what]
    backend.raw(sql)
    with pytest.raises(tl.IntegrityError, match="differ from their registrations") as caught:
        store.verify()
    assert named in str(caught.value)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE registrations SET value = '\"Forged\"' WHERE kind = 'title'",
        "DELETE FROM registrations",
    ],
)
def test_the_registrations_refuse_update_and_delete(
    store: tl.Timeline, backend: Backend, sql: str
) -> None:
    _registered(store)
    with pytest.raises(Exception, match="append-only"):
        backend.raw(sql)
    assert store.verify() == 1


def test_verify_names_a_registration_whose_content_was_edited(
    store: tl.Timeline, backend: Backend
) -> None:
    _registered(store)
    drop = (
        "DROP TRIGGER registrations_refuse_update"
        if backend.name == "sqlite"
        else "ALTER TABLE registrations DISABLE TRIGGER USER"
    )
    backend.raw(drop)
    backend.raw("UPDATE registrations SET value = '\"Forged\"' WHERE kind = 'title'")
    backend.raw("UPDATE stories SET title = 'Forged' WHERE story = 'trade'")
    with pytest.raises(tl.IntegrityError, match="content does not match its hash") as caught:
        store.verify()
    assert "(title 'trade')" in str(caught.value)


# --- the event-actor index -------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        "(1, 'nvidia', 'actor')",  # an actor the event does not name
        "(1, 'gov', 'inquirers')",  # the right actor in a field the event does not have
        "(7, 'gov', 'actor')",  # no such event
    ],
)
def test_a_foreign_insert_into_the_event_actor_index_is_refused(
    store: tl.Timeline, backend: Backend, row: str
) -> None:
    _registered(store)
    with pytest.raises(Exception, match="event_actors is derived from events") as caught:
        backend.raw(f"INSERT INTO event_actors (position, actor, role) VALUES {row}")
    assert "that its event names in that role" in str(caught.value)
    assert store.verify(deep=True) == 1
    assert [e.id for e in store.events(actor="nvidia")] == []


def test_the_index_still_takes_every_row_the_store_writes(store: tl.Timeline) -> None:
    store.register_actor("gov", name="Government")
    store.append(
        [
            tl.Inquiry(
                id="i1",
                occurred_at=_statement("x").occurred_at,
                inquirers=["acme", "bolt"],
                supplier="chipco",
                product="X1",
                about=["gov"],
            ),
            tl.PolicyChange(
                id="p1",
                occurred_at=_statement("x").occurred_at,
                authority="gov",
                topic="exports",
                measure="ban",
                product="X1",
                applies_to=["acme", "everyone else"],
            ),
            tl.Correction(
                id="c1",
                occurred_at=_statement("x").occurred_at,
                corrects="i1",
                replacement=tl.Inquiry(
                    id="i1",
                    occurred_at=_statement("x").occurred_at,
                    inquirers=["acme"],
                    supplier="chipco",
                    product="X1",
                ),
            ),
        ],
        story=STORY,
    )
    assert store.verify(deep=True) == 3
    assert [e.id for e in store.events(actor="bolt")] == ["i1"]
    assert [e.id for e in store.events(actor="acme")] == ["i1", "p1", "c1"]

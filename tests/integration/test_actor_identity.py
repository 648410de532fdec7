"""Actor identity in a real store: normalised look-ups, no take-over, nothing written."""

from __future__ import annotations

import json
import shutil
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timeline as tl
from tests.cli.conftest import run


def test_register_actor_over_an_alias_is_refused_and_the_alias_stays(h200: tl.Timeline) -> None:
    before = h200.store.actor_lookup()
    with pytest.raises(tl.ValidationError, match=r"'china'.*already names actor 'beijing'") as info:
        h200.register_actor("china")
    assert info.value.field == "actors.china.id"
    assert h200.resolve_actor("China") == "beijing"
    assert h200.store.actor_lookup() == before
    assert "china" not in [a.id for a in h200.actors()]


def test_nfc_and_nfd_spellings_resolve_to_one_actor(store: tl.Timeline) -> None:
    store.register_actor("cafe", aliases=[unicodedata.normalize("NFC", "Café")])
    assert store.resolve_actor(unicodedata.normalize("NFD", "CAFÉ")) == "cafe"
    assert store.resolve_actor("\uff43\uff41\uff46\uff45") == "cafe"  # full-width id
    with pytest.raises(tl.ValidationError, match="already names actor 'cafe'"):
        store.register_actor("bistro", aliases=[unicodedata.normalize("NFD", "café")])


def test_a_confusable_or_invisible_actor_is_refused_at_append(store: tl.Timeline) -> None:
    store.register_actor("nvidia", name="Nvidia")
    for spelling, needle in [
        ("nv\u0456dia", "looks like"),
        ("nvidia\u200b", r"U\+200B ZERO WIDTH SPACE"),
    ]:
        event = tl.Announcement(
            id=f"e-{len(spelling)}",
            occurred_at=datetime(2025, 12, 1, tzinfo=UTC),
            actor=spelling,
            topic="h200-imports",
            position="supports",
        )
        with pytest.raises(tl.TimelineError, match=needle):
            store.append([event], story="s")
    assert [a.id for a in store.actors()] == ["nvidia"]
    assert store.store.head() == 0


def test_the_b9_fixture_is_refused_naming_file_and_field(
    store: tl.Timeline, tmp_path: Path
) -> None:
    actors = {"nvidia": {"name": "Nvidia"}, "nvidia\u200b": {"name": "Nvidia"}}
    path = tmp_path / "spoof.json"
    doc = {"format": "timeline-fixture/1", "story": "s", "actors": actors, "events": []}
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(tl.FixtureError) as info:
        store.load(path)
    assert info.value.path == str(path)
    assert info.value.field == "actors.nvidia\u200b"
    assert "U+200B ZERO WIDTH SPACE" in str(info.value)
    assert store.actors() == []


def test_deep_verify_names_keys_a_store_from_before_the_rules_holds(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent.parent / "data" / "store-schema-0003.db", db)
    nfd = unicodedata.normalize("NFD", "Beijing\u0301")
    old = sqlite3.connect(db, isolation_level=None)  # as the old schema let anyone write
    old.execute("INSERT INTO actors VALUES ('nv\u0456dia', 'Nvidia', '', '[]')")
    old.execute("INSERT INTO actors VALUES ('b2', 'B', '', ?)", (json.dumps([nfd]),))
    nfc = unicodedata.normalize("NFC", "beijing\u0301")
    old.execute("INSERT INTO actors VALUES ('b3', 'C', '', ?)", (json.dumps([nfc]),))
    old.executemany("INSERT INTO actor_aliases VALUES (?, ?)", [(nfd, "b2"), (nfc, "b3")])
    old.close()
    with tl.Timeline.open(db) as store:
        assert store.verify() == 21  # migrated: registered as they stood
        with pytest.raises(tl.IntegrityError, match="identity rules refuse") as caught:
            store.verify(deep=True)
    text = str(caught.value)
    assert "'nvidia' (actor 'nvidia') looks like 'nv\u0456dia' (actor 'nv\u0456dia')" in text
    assert f"{nfd!r} (actor 'b2'), {nfc!r} (actor 'b3') are one key after NFKC" in text
    failed = run("verify", db, "--deep")
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1
    assert "looks like 'nv\u0456dia'" in failed.stderr

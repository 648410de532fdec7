"""Sources that count, through the store: via chains, about, denials, old stores."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL

DAY = datetime(2023, 4, 1, tzinfo=UTC)
DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMA_0003_STORE = DATA / "store-schema-0003.db"


def _fixture(tmp_path: Path, events: list[dict[str, Any]], **extra: Any) -> Path:
    data = {
        "format": "timeline-fixture/1",
        "story": "memory-chips",
        "actors": {
            "cac": {"name": "Cyberspace Administration of China", "kind": "regulator"},
            "micron": {"name": "Micron", "kind": "Chipmaker"},
            "lumen": {"name": "Lumen", "kind": "telecom"},
        },
        "sources": {
            "ft": {"publisher": "Financial Times", "published_at": "2023-03-30T09:00:00Z"},
            "reuters": {"publisher": "Reuters", "via": "ft", "published_at": "2023-03-31"},
            "wire": {"publisher": "Wire", "via": "reuters", "published_at": "2023-04-01"},
        },
        "events": events,
        **extra,
    }
    path = tmp_path / "story.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


REVIEW = {
    "id": "review",
    "type": "report",
    "occurred_at": "2023-03-31",
    "actors": ["cac"],
    "about": ["micron"],
    "sources": ["wire", "ft"],
    "basis": "official",
    "summary": "The regulator opens a cybersecurity review of Micron's products.",
}


def test_a_via_chain_is_followed_to_its_origin_at_load(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_fixture(tmp_path, [REVIEW]))
    event = store.get("review")
    assert event is not None
    assert [s.origin_publisher for s in event.event.sources] == [
        "Financial Times",
        "Financial Times",
    ]
    assert event.event.basis is tl.Basis.OFFICIAL
    assert event.event.reported_at == event.event.sources[1].published_at  # the earliest


def test_a_via_loop_in_a_fixture_is_refused_naming_the_source(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _fixture(tmp_path, [REVIEW])
    data = json.loads(path.read_text())
    data["sources"]["ft"]["via"] = "wire"
    path.write_text(json.dumps(data))
    with pytest.raises(tl.FixtureError, match=r"via chain of source 'ft' loops") as info:
        store.load(path)
    assert info.value.field == "sources.ft.via"
    assert list(store.events()) == []


def test_a_via_naming_an_unknown_source_is_refused_at_append(store: tl.Timeline) -> None:
    relayed = tl.Source(publisher="Reuters", id="reuters", via="nowhere")
    event = tl.Statement(occurred_at=DAY, actor="micron", topic="t", sources=(relayed,))
    with pytest.raises(tl.ValidationError, match="'reuters' relies on unknown source 'nowhere'"):
        store.append([event], story="s")
    assert list(store.events()) == []


def test_a_via_can_name_a_source_stored_earlier(store: tl.Timeline) -> None:
    origin = tl.Source(publisher="Financial Times", id="ft")
    first = tl.Statement(id="a", occurred_at=DAY, actor="micron", topic="t", source=origin)
    store.append([first], story="s")
    relayed = tl.Source(publisher="Reuters", id="reuters", via="ft")
    second = tl.Statement(id="b", occurred_at=DAY, actor="micron", topic="t", source=relayed)
    store.append([second], story="s")
    stored = store.get("b")
    assert stored is not None
    assert stored.event.sources[0].origin == "Financial Times"
    stance = store.state().stance("micron", "t")
    assert stance is not None
    assert stance.independent_sources == 1


def test_events_history_and_search_include_events_about_an_actor(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_fixture(tmp_path, [REVIEW]))
    assert [r.event.id for r in store.events(actor="micron")] == ["review"]
    assert [s.event.id for s in store.history("Micron")] == ["review"]
    assert [s.event.id for s in store.replay(actor="micron")] == ["review"]
    assert [h.record.event.id for h in store.search("review", actor="micron")] == ["review"]


def test_an_unknown_actor_in_about_is_refused_naming_the_field(
    store: tl.Timeline, tmp_path: Path
) -> None:
    with pytest.raises(tl.FixtureError, match="unknown actor 'hynix'") as info:
        store.load(_fixture(tmp_path, [{**REVIEW, "about": ["hynix"]}]))
    assert info.value.field == "about[0]"


def test_a_denial_of_an_event_not_in_the_file_or_store_is_refused(
    store: tl.Timeline, tmp_path: Path
) -> None:
    denial = {"id": "d", "type": "denial", "occurred_at": "2023-04-02", "actor": "micron",
              "denies": ["nothing"]}  # fmt: skip
    with pytest.raises(tl.FixtureError, match="'nothing' is not in this file") as info:
        store.load(_fixture(tmp_path, [REVIEW, denial]))
    assert info.value.field == "denies[0]"


BAN = {
    "id": "ban",
    "type": "policy_change",
    "occurred_at": "2023-05-21",
    "authority": "cac",
    "topic": "micron-in-infrastructure",
    "measure": "ban",
    "product": "Micron",
    "applies_to": ["kind:TELECOM"],
    "sources": ["reuters"],
    "basis": "official",
}
ORDER = {
    "id": "order",
    "type": "order_placed",
    "occurred_at": "2023-06-01",
    "buyer": "lumen",
    "supplier": "micron",
    "product": "DRAM",
    "sources": ["ft"],
}


def test_a_kind_target_blocks_actors_declared_later(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_fixture(tmp_path, [BAN]))
    later = tmp_path / "later.json"
    later.write_text(json.dumps({
        "format": "timeline-fixture/1", "story": "memory-chips",
        "actors": {"unicom": {"name": "China Unicom", "kind": "Telecom"}},
        "events": [{**ORDER, "id": "order2", "buyer": "unicom", "sources": []}],
    }))  # fmt: skip
    store.load(later)
    intent = store.state().order_intent("unicom", "micron", "DRAM")
    assert intent is not None
    assert intent.blocked_by == ("ban",)
    assert store.order_intent("unicom", "micron", "DRAM") == intent


def test_denials_are_filtered_by_at_and_known_at_and_kept_in_snapshots(
    store: tl.Timeline, tmp_path: Path
) -> None:
    denial = {"id": "deny", "type": "denial", "occurred_at": "2023-06-05", "actor": "lumen",
              "denies": ["order"], "source": "ft", "reported_at": "2023-06-06"}  # fmt: skip
    store.load(_fixture(tmp_path, [BAN, ORDER, denial]))
    now = store.state().order_intent("lumen", "micron", "DRAM")
    assert now is not None
    assert now.disputed_by == ("deny",)
    assert store.order_intent("lumen", "micron", "DRAM") == now  # from the snapshots
    before = store.state(at="2023-06-04").order_intent("lumen", "micron", "DRAM")
    assert before is not None
    assert before.disputed_by == ()
    unknown = store.state(known_at="2023-06-05").order_intent("lumen", "micron", "DRAM")
    assert unknown is not None
    assert unknown.disputed_by == ()
    changes = store.diff("2023-06-04", "2023-06-05")
    assert [(c.key, c.after.disputed_by) for c in changes] == [
        (("intent", "lumen", "micron", "dram"), ("deny",))
    ]


def test_a_store_of_the_0003_schema_opens_migrates_and_verifies(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    with tl.Timeline.open(copy) as store:
        assert store.verify() == 21
        assert "0004_several_sources" in store.store.schema_names()
        first = next(iter(store.events()))
        assert first.event.sources == (first.event.source,)
        assert first.event.basis is tl.Basis.UNKNOWN
        stance = store.state().stance("us-government", "h200-exports-to-china")
        assert stance is not None
        assert stance.independent_sources >= 1


@pytest.mark.sqlite_only("reads the SQLite file's sources view")
def test_the_sources_view_lists_every_cited_source(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_fixture(tmp_path, [REVIEW]))
    rows = store.store.conn.execute(
        "SELECT source_id, origin FROM sources ORDER BY source_id"
    ).fetchall()
    assert rows == [("ft", "Financial Times"), ("wire", "Financial Times")]


def test_a_via_to_a_source_nowhere_declared_is_refused_at_load_naming_the_source(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _fixture(tmp_path, [{**REVIEW, "sources": ["ft"]}])
    data = json.loads(path.read_text())
    data["sources"]["ft"]["via"] = "nowhere"
    path.write_text(json.dumps(data))
    with pytest.raises(tl.FixtureError, match="'ft' relies on unknown source 'nowhere'") as info:
        store.load(path)
    assert info.value.field == "sources.ft.via"
    assert list(store.events()) == []


def test_a_declared_source_relying_on_an_unknown_one_is_refused_even_if_never_cited(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _fixture(tmp_path, [{**REVIEW, "sources": ["ft"]}])
    data = json.loads(path.read_text())
    data["sources"]["lonely"] = {"publisher": "Lonely", "via": "nowhere"}
    path.write_text(json.dumps(data))
    with pytest.raises(tl.FixtureError, match="'lonely' relies on unknown source 'nowhere'") as e:
        store.load(path)
    assert e.value.field == "sources.lonely.via"
    assert list(store.events()) == []


def test_a_declared_source_may_rely_on_a_source_cited_in_the_store(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_fixture(tmp_path, [REVIEW]))
    later = tmp_path / "later.json"
    later.write_text(json.dumps({
        "format": "timeline-fixture/1", "story": "memory-chips",
        "sources": {"echo": {"publisher": "Echo", "via": "wire"}},
        "events": [{**REVIEW, "id": "echoed", "sources": ["echo"]}],
    }))  # fmt: skip
    store.load(later)
    echoed = store.get("echoed")
    assert echoed is not None
    assert echoed.event.sources[0].origin == "Financial Times"


def test_a_via_may_name_a_source_cited_later_in_the_same_batch(store: tl.Timeline) -> None:
    relayed = tl.Source(publisher="Reuters", id="reuters", via="ft")
    first = tl.Statement(id="a", occurred_at=DAY, actor="micron", topic="t", source=relayed)
    origin = tl.Source(publisher="Financial Times", id="ft")
    second = tl.Statement(id="b", occurred_at=DAY, actor="micron", topic="t", source=origin)
    store.append([first, second], story="s")
    stance = store.state().stance("micron", "t")
    assert stance is not None
    assert stance.origins == ("Financial Times",)

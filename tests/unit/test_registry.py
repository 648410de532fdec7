"""The registry: stable type names, schema versions and upcasters (no I/O).

Store round trips of user types and of upcast rows are in
``tests/integration/test_store.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import timeline as tl
from tests.strategies import registry_with_builtins

BUILT_INS = [
    "announcement",
    "confirmation",
    "correction",
    "denial",
    "inquiry",
    "order_cancelled",
    "order_delivered",
    "order_placed",
    "policy_change",
    "regulator_meeting",
    "report",
    "retraction",
    "statement",
]

# A row as version 1 of "merger_vote" stored it: a yes/no flag, no stance.
MERGER_VOTE_V1_PAYLOAD = (
    '{"attribution":"","board":"acme-board","id":"mv-1","in_favour":true,'
    '"occurred_at":"2025-06-01T00:00:00+00:00","precision":"day","quote":null,'
    '"reported_at":null,"schema_version":1,"source":null,"story":null,"summary":"",'
    '"type":"merger_vote"}'
)


@attrs.frozen(kw_only=True)
class MergerVoteV2(tl.Event):
    """Version 2: the flag became a stance, so projections can read it."""

    actor_fields = ("board",)

    board: str
    position: tl.Position


def upcast_merger_vote_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    in_favour = payload.pop("in_favour")
    payload["position"] = "supports" if in_favour else "opposes"
    return payload


def _v2_registry() -> tl.Registry:
    registry = registry_with_builtins()
    tl.event_type("merger_vote", version=2, registry=registry)(MergerVoteV2)
    tl.upcaster("merger_vote", 1, registry=registry)(upcast_merger_vote_v1_v2)
    return registry


def test_the_default_registry_holds_every_built_in_type() -> None:
    assert tl.default_registry.names() == BUILT_INS


def test_built_in_types_are_at_schema_version_three_and_new_ones_at_two() -> None:
    # 2: several sources; 3: periods (denial and confirmation came with 2's work, at 1)
    expected = {name: 2 if name in ("denial", "confirmation") else 3 for name in BUILT_INS}
    assert {entry.name: entry.version for entry in tl.default_registry} == expected


V1_STATEMENT = {
    "type": "statement", "schema_version": 1, "id": "s1", "story": None,
    "occurred_at": "2025-12-08T00:00:00+00:00", "precision": "day", "reported_at": None,
    "source": {"publisher": "Reuters", "id": "r", "url": None, "headline": None,
               "published_at": None},
    "attribution": "", "summary": "", "quote": None, "actor": "nvidia",
    "topic": "t", "position": "neutral",
}  # fmt: skip


def test_a_v1_event_is_upcast_to_several_sources_unknown_basis_and_no_about() -> None:
    event = tl.Codec().from_dict(V1_STATEMENT)
    assert isinstance(event, tl.Statement)
    assert event.sources == (tl.Source(publisher="Reuters", id="r"),)
    assert event.source == event.sources[0]
    assert (event.basis, event.about, event.conditions) == (tl.Basis.UNKNOWN, (), ())
    assert tl.Codec().to_dict(event)["schema_version"] == 3


def test_a_stored_name_maps_to_its_class_and_back() -> None:
    entry = tl.default_registry.get("regulator_meeting")
    assert entry.cls is tl.RegulatorMeeting
    assert tl.default_registry.of(tl.RegulatorMeeting).name == "regulator_meeting"


def test_an_unknown_name_raises_unknown_event_type_error_listing_the_known_ones() -> None:
    with pytest.raises(tl.UnknownEventTypeError, match=r"'rumour' \(known: announcement,"):
        tl.default_registry.get("rumour")


def test_an_unregistered_class_raises_unknown_event_type_error() -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="MergerVoteV2 is not registered"):
        tl.default_registry.of(MergerVoteV2)


def test_the_decorator_registers_a_user_type_under_its_stable_name() -> None:
    registry = tl.Registry()

    @tl.event_type("board_meeting", version=3, registry=registry)
    @attrs.frozen(kw_only=True)
    class BoardMeeting(tl.Event):
        board: str

    entry = registry.get("board_meeting")
    assert (entry.cls, entry.version) == (BoardMeeting, 3)
    assert "board_meeting" in registry
    assert "board_meeting" not in tl.default_registry


def test_registering_a_name_again_for_another_class_is_refused() -> None:
    registry = registry_with_builtins()
    with pytest.raises(ValueError, match="'statement' is already registered to Statement"):
        registry.register(MergerVoteV2, "statement")


def test_registering_a_class_under_a_second_name_is_refused() -> None:
    registry = registry_with_builtins()
    with pytest.raises(ValueError, match="Statement is already registered as 'statement'"):
        registry.register(tl.Statement, "remark")


def test_registering_a_class_that_is_not_an_event_is_refused() -> None:
    with pytest.raises(ValueError, match="is not an attrs Event subclass"):
        tl.Registry().register(tl.Source, "source")  # type: ignore[arg-type]


def test_a_schema_version_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="schema version starts at 1"):
        tl.Registry().register(MergerVoteV2, "merger_vote", version=0)


def test_an_upcaster_brings_a_stored_v1_payload_to_v2() -> None:
    payload = json.loads(MERGER_VOTE_V1_PAYLOAD)
    payload.pop("type")
    payload.pop("schema_version")
    upcast = _v2_registry().upcast("merger_vote", 1, payload)
    assert upcast["position"] == "supports"
    assert "in_favour" not in upcast


def test_upcasting_leaves_the_callers_payload_untouched() -> None:
    payload = {"in_favour": False}
    _v2_registry().upcast("merger_vote", 1, payload)
    assert payload == {"in_favour": False}


def test_upcasters_chain_one_version_at_a_time() -> None:
    registry = tl.Registry()
    registry.register(MergerVoteV2, "merger_vote", version=3)
    registry.add_upcaster("merger_vote", 1, lambda p: {**p, "steps": [*p["steps"], 1]})
    registry.add_upcaster("merger_vote", 2, lambda p: {**p, "steps": [*p["steps"], 2]})
    assert registry.upcast("merger_vote", 1, {"steps": []}) == {"steps": [1, 2]}


def test_a_current_payload_is_not_upcast() -> None:
    assert _v2_registry().upcast("merger_vote", 2, {"x": 1}) == {"x": 1}


def test_a_missing_upcaster_step_raises_unknown_event_type_error() -> None:
    registry = tl.Registry()
    registry.register(MergerVoteV2, "merger_vote", version=2)
    with pytest.raises(tl.UnknownEventTypeError, match="no upcaster for event type 'merger_vote'"):
        registry.upcast("merger_vote", 1, {})


def test_a_payload_newer_than_the_registered_version_raises() -> None:
    with pytest.raises(tl.UnknownEventTypeError, match="schema version 3 is newer"):
        _v2_registry().upcast("merger_vote", 3, {})


def test_the_codec_decodes_a_stored_v1_payload_as_the_v2_record() -> None:
    event = tl.Codec(_v2_registry()).loads(MERGER_VOTE_V1_PAYLOAD)
    assert event == MergerVoteV2(
        id="mv-1",
        occurred_at=datetime(2025, 6, 1, tzinfo=UTC),
        precision="day",
        board="acme-board",
        position="supports",
    )


def test_the_codec_writes_the_current_schema_version() -> None:
    event = tl.Codec(_v2_registry()).loads(MERGER_VOTE_V1_PAYLOAD)
    data = tl.Codec(_v2_registry()).to_dict(event)
    assert (data["type"], data["schema_version"]) == ("merger_vote", 2)

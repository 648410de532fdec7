"""Mistyped actors and topics fail loudly, with suggestions; display names work."""

from __future__ import annotations

import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS

BACKENDS = BOTH_BACKENDS  # the store-facing tests run on SQLite and on PostgreSQL


def test_a_misspelt_actor_in_a_state_accessor_raises_with_a_suggestion(
    h200: tl.Timeline,
) -> None:
    with pytest.raises(tl.UnknownActorError, match=r"'Bytedanse'; did you mean 'bytedance'\?"):
        h200.state().stance("Bytedanse", "h200-imports")


def test_the_error_carries_the_name_and_its_suggestions(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError) as info:
        h200.state(at="2025-12-10").order_intent("bytedance", "Nvidea", "H200")
    assert info.value.actor == "Nvidea"
    assert info.value.suggestions == ("nvidia",)
    assert isinstance(info.value, LookupError)


def test_a_misspelt_topic_raises_with_a_suggestion(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownTopicError, match=r"'h200-import'; did you mean 'h200-imports'"):
        h200.state().stance("beijing", "h200-import")
    with pytest.raises(tl.UnknownTopicError, match="h200-imports"):
        h200.state().stances(topic="h200-import")


def test_a_known_topic_without_a_stance_yet_is_none_not_an_error(h200: tl.Timeline) -> None:
    assert h200.state(at="2025-01-01").stance("beijing", "h200-imports") is None


def test_the_fast_single_fact_lookups_check_names_too(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError, match="did you mean 'alibaba'"):
        h200.stance("Alibabba", "h200-imports")
    with pytest.raises(tl.UnknownTopicError, match="did you mean 'h200-supply'"):
        h200.stance("nvidia", "h200-suply")
    with pytest.raises(tl.UnknownActorError, match="did you mean 'bytedance'"):
        h200.order_intent("Bytedanse", "nvidia", "H200")


def test_history_and_filters_name_the_unknown_actor(h200: tl.Timeline) -> None:
    with pytest.raises(tl.UnknownActorError, match="did you mean 'alibaba'"):
        h200.history("alibab")
    with pytest.raises(tl.UnknownActorError, match="did you mean 'tencent'"):
        list(h200.events(actor="tencnt"))
    with pytest.raises(tl.UnknownActorError, match="did you mean 'huawei'"):
        h200.search("chips", actor="huawai")


def test_display_names_are_accepted_like_aliases(h200: tl.Timeline) -> None:
    by_name = h200.state().stance("Chinese government", "h200-imports")
    assert by_name is not None
    assert by_name == h200.state().stance("beijing", "h200-imports")
    assert h200.resolve_actor("ByteDance") == "bytedance"
    intent = h200.order_intent("ByteDance", "Nvidia", "H200")
    assert intent is not None
    assert intent.buyer == "bytedance"


def test_topics_lists_every_topic_with_its_actors_and_counts(h200: tl.Timeline) -> None:
    topics = {t.topic: t for t in h200.topics()}
    assert sorted(topics) == [
        "h200-exports-to-china",
        "h200-grey-market",
        "h200-imports",
        "h200-supply",
        "nvidia-ai-chip-purchases",
    ]
    assert topics["h200-exports-to-china"].events == 5
    assert topics["h200-exports-to-china"].actors == ("nvidia", "us-government")
    assert "bytedance" in topics["h200-imports"].actors

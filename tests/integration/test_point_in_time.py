"""Point-in-time questions against real store files: the H200 story and the time rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

import timeline as tl
from tests.conftest import BOTH_BACKENDS, StepClock

BACKENDS = BOTH_BACKENDS  # every test here runs on SQLite and on PostgreSQL

US = ("us-government", "h200-exports-to-china")


def position(state: tl.State, actor: str, topic: str) -> str | None:
    stance = state.stance(actor, topic)
    return None if stance is None else stance.position.value


def status(state: tl.State, buyer: str) -> str | None:
    intent = state.order_intent(buyer, "nvidia", "H200")
    return None if intent is None else intent.status.value


# --- the H200 story -----------------------------------------------------------------


def test_before_the_us_announcement_no_bytedance_intent_and_us_opposes(h200: tl.Timeline) -> None:
    state = h200.state(at="2025-12-07")
    assert status(state, "bytedance") is None
    assert position(state, *US) == "opposes"


def test_on_dec_10_bytedance_and_alibaba_explore_conditional_on_beijing(h200: tl.Timeline) -> None:
    state = h200.state(at="2025-12-10")
    for buyer in ("bytedance", "alibaba"):
        intent = state.order_intent(buyer, "nvidia", "H200")
        assert intent is not None
        assert intent.status == tl.IntentStatus.EXPLORING
        assert intent.conditions == ("Beijing approval",)
        assert intent.concerns == ("supply",)
        assert intent.quantity == "large"
    assert position(state, "beijing", "h200-imports") == "undecided"
    assert position(state, *US) == "supports"


def test_known_at_dec_9_knows_the_announcement_but_not_the_dec_10_reports(
    h200: tl.Timeline,
) -> None:
    state = h200.state(known_at="2025-12-09")
    assert position(state, *US) == "supports"
    assert status(state, "bytedance") is None
    assert position(state, "beijing", "h200-imports") is None


def test_known_at_dec_10_knows_the_inquiry_and_beijings_indecision(h200: tl.Timeline) -> None:
    state = h200.state(known_at="2025-12-10")
    assert status(state, "bytedance") == "exploring"
    assert position(state, "beijing", "h200-imports") == "undecided"


def test_beijings_earlier_bar_blocks_no_named_buyer(h200: tl.Timeline) -> None:
    state = h200.state(at="2025-12-10")
    intent = state.order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.blocked_by == ()
    assert position(state, "beijing", "nvidia-ai-chip-purchases") == "opposes"


def test_facts_carry_evidence_ids_and_sources(h200: tl.Timeline) -> None:
    intent = h200.state().order_intent("bytedance", "nvidia", "H200")
    assert intent is not None
    assert intent.evidence
    assert all(h200.get(eid) is not None for eid in intent.evidence)
    assert intent.sources[0].publisher == "Reuters"


def test_aliases_resolve_in_state_accessors(h200: tl.Timeline) -> None:
    state = h200.state(at="2025-12-10")
    assert state.stance("Trump administration", "h200-exports-to-china") == state.stance(*US)


def test_state_with_a_story_filter_sees_only_that_story(h200: tl.Timeline) -> None:
    assert h200.state(story="another-story").stances() == []
    assert h200.state(story="h200-china") == h200.state()


# --- bounds ---------------------------------------------------------------------------


def test_bounds_accept_datetime_date_and_iso_strings_alike(h200: tl.Timeline) -> None:
    end_of_day = datetime(2025, 12, 9, 23, 59, 59, 999999, tzinfo=UTC)
    by_string = h200.state(at="2025-12-09")
    assert h200.state(at=date(2025, 12, 9)) == by_string
    assert h200.state(at=end_of_day) == by_string
    assert h200.state(at="2025-12-09T23:59:59.999999+00:00") == by_string


def test_a_date_only_bound_includes_the_whole_day(store: tl.Timeline) -> None:
    late = datetime(2025, 12, 9, 23, 30, tzinfo=UTC)
    store.append(
        [tl.Announcement(id="a", occurred_at=late, actor="x", topic="t", position="supports")],
        story="s",
    )
    assert position(store.state(at="2025-12-09"), "x", "t") == "supports"
    assert position(store.state(at="2025-12-09T23:00:00Z"), "x", "t") is None


def test_a_naive_bound_is_refused_naming_the_argument(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="known_at") as info:
        h200.state(known_at=datetime(2025, 12, 9))
    assert info.value.field == "known_at"


def test_an_unparseable_bound_is_refused(h200: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="at"):
        h200.state(at="last tuesday")


def test_recorded_by_shows_what_the_store_said_then(store: tl.Timeline, clock: StepClock) -> None:
    first_recorded = clock.now()
    store.append(
        [
            tl.Announcement(
                id="a",
                occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                actor="x",
                topic="t",
                position="supports",
            )
        ],
        story="s",
    )
    clock.advance(days=1)
    store.append(
        [
            tl.Statement(
                id="b",
                occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
                actor="x",
                topic="t",
                position="opposes",
            )
        ],
        story="s",
    )
    # backdated: occurred earlier, so the later announcement still wins now
    assert position(store.state(), "x", "t") == "supports"
    assert position(store.state(recorded_by=first_recorded), "x", "t") == "supports"
    before = store.state(at="2024-06-01", recorded_by=first_recorded)
    assert position(before, "x", "t") is None
    assert position(store.state(at="2024-06-01"), "x", "t") == "opposes"


# --- corrections and retractions ---------------------------------------------------------


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def rumour(store: tl.Timeline) -> tl.Timeline:
    """An order reported Aug 14, retracted Aug 16."""
    store.append(
        [
            tl.Inquiry(
                id="inq",
                occurred_at=at("2025-08-01"),
                reported_at=at("2025-08-01"),
                inquirers=("bytedance",),
                supplier="nvidia",
                product="H200",
            ),
            tl.OrderPlaced(
                id="order",
                occurred_at=at("2025-08-14"),
                reported_at=at("2025-08-14"),
                buyer="bytedance",
                supplier="nvidia",
                product="H200",
            ),
            tl.Retraction(
                id="retract",
                retracts="order",
                occurred_at=at("2025-08-16"),
                reported_at=at("2025-08-16"),
                reason="source withdrew",
            ),
        ],
        story="s",
    )
    return store


def test_a_retracted_report_is_absent_from_what_we_now_believe_happened(
    rumour: tl.Timeline,
) -> None:
    assert status(rumour.state(at="2025-08-15"), "bytedance") == "exploring"
    assert status(rumour.state(), "bytedance") == "exploring"


def test_a_retracted_report_is_present_in_what_was_believed_before_the_retraction(
    rumour: tl.Timeline,
) -> None:
    assert status(rumour.state(at="2025-08-15", known_at="2025-08-15"), "bytedance") == "ordered"


def test_retractions_are_never_filtered_by_valid_time(rumour: tl.Timeline) -> None:
    # the retraction occurred Aug 16, after at=Aug 15, and still applies
    assert status(rumour.state(at="2025-08-14", known_at="2025-08-20"), "bytedance") == "exploring"


def test_retracting_the_retraction_restores_the_report(rumour: tl.Timeline) -> None:
    rumour.append(
        [
            tl.Retraction(
                id="unretract",
                retracts="retract",
                occurred_at=at("2025-08-18"),
                reported_at=at("2025-08-18"),
            )
        ],
        story="s",
    )
    assert status(rumour.state(), "bytedance") == "ordered"
    assert status(rumour.state(known_at="2025-08-17"), "bytedance") == "exploring"


def test_a_correction_replaces_the_original_with_its_own_occurred_at(store: tl.Timeline) -> None:
    wrong = tl.Announcement(
        id="ann",
        occurred_at=at("2025-08-10"),
        reported_at=at("2025-08-10"),
        actor="x",
        topic="t",
        position="supports",
    )
    fixed = attrs.evolve(wrong, occurred_at=at("2025-08-12"), position="opposes")
    store.append([wrong], story="s")
    store.append(
        [
            tl.Correction(
                id="fix",
                corrects="ann",
                replacement=fixed,
                occurred_at=at("2025-08-13"),
                reported_at=at("2025-08-13"),
            )
        ],
        story="s",
    )
    assert position(store.state(), "x", "t") == "opposes"
    stance = store.state().stance("x", "t")
    assert stance is not None
    assert (stance.since, stance.evidence) == (at("2025-08-12"), ("ann",))
    # now we know nothing had happened by Aug 11
    assert position(store.state(at="2025-08-11"), "x", "t") is None
    # but on Aug 11 it was believed the actor supported it
    assert position(store.state(at="2025-08-11", known_at="2025-08-11"), "x", "t") == "supports"


def test_the_latest_of_several_corrections_wins(store: tl.Timeline) -> None:
    base = tl.Statement(
        id="st", occurred_at=at("2025-08-10"), actor="x", topic="t", position="supports"
    )
    store.append([base], story="s")
    for n, pos in enumerate(["opposes", "undecided"]):
        store.append(
            [
                tl.Correction(
                    id=f"fix{n}",
                    corrects="st",
                    occurred_at=at("2025-08-11"),
                    replacement=attrs.evolve(base, position=pos),
                )
            ],
            story="s",
        )
    assert position(store.state(), "x", "t") == "undecided"


def test_a_correction_of_a_retracted_report_does_not_resurrect_it(rumour: tl.Timeline) -> None:
    replacement = tl.OrderPlaced(
        occurred_at=at("2025-08-14"),
        buyer="bytedance",
        supplier="nvidia",
        product="H200",
        quantity="small",
    )
    rumour.append(
        [
            tl.Correction(
                id="fix", corrects="order", replacement=replacement, occurred_at=at("2025-08-17")
            )
        ],
        story="s",
    )
    assert status(rumour.state(), "bytedance") == "exploring"


# --- user-defined types and projections -----------------------------------------------------


# a private registry, so the default one keeps only the built-in types
REGISTRY = tl.Registry()
for _entry in tl.default_registry:
    REGISTRY.register(_entry.cls, _entry.name, version=_entry.version)


@tl.event_type("test_board_vote", registry=REGISTRY)
@attrs.frozen(kw_only=True)
class BoardVote(tl.Event):
    actor_fields = ("board",)
    board: str
    approve: bool


class Votes(tl.FoldProjection):
    name = "votes"
    handlers = {BoardVote: "_vote"}  # noqa: RUF012

    def _vote(self, facts: object, event: BoardVote, ctx: tl.Context) -> dict[str, str]:
        return {event.board: "approved" if event.approve else "rejected"}


@pytest.fixture
def vote_store(db_path: Path) -> Iterator[tl.Timeline]:
    with tl.Timeline.open(db_path, registry=REGISTRY) as store:
        yield store


def test_a_custom_projection_over_a_custom_event_type_runs_through_the_machinery(
    vote_store: tl.Timeline,
) -> None:
    store = vote_store
    store.add_projection(Votes())
    store.append(
        [
            BoardVote(id="v1", occurred_at=at("2026-03-01"), board="acme", approve=False),
            BoardVote(id="v2", occurred_at=at("2026-03-05"), board="acme", approve=True),
        ],
        story="merger",
    )
    assert store.state(at="2026-03-02").facts("votes") == {"acme": "rejected"}
    assert store.state().facts("votes") == {"acme": "approved"}
    steps = list(store.replay())
    assert [c.after for s in steps for c in s.changes if c.projection == "votes"] == [
        "rejected",
        "approved",
    ]
    assert [s.event.id for s in store.history("acme")] == ["v1", "v2"]


def test_adding_a_projection_twice_is_refused(store: tl.Timeline) -> None:
    store.add_projection(Votes())
    with pytest.raises(tl.ValidationError, match="votes"):
        store.add_projection(Votes())


def test_asking_for_an_unknown_projection_names_the_known_ones(store: tl.Timeline) -> None:
    with pytest.raises(tl.ValidationError, match="orders, stance"):
        store.state().facts("nope")

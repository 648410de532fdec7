"""Loading fixture files: defaults, aliases, idempotent reloads, all-or-nothing loads,
and errors that name the file, the event and the field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.conftest import H200, StepClock, table_counts

STORY = "chips"


def _fixture() -> dict[str, Any]:
    return {
        "format": "timeline-fixture/1",
        "story": STORY,
        "title": "Acme and ChipCo",
        "actors": {
            "gov": {"name": "Government", "kind": "government", "aliases": ["The State"]},
            "acme": {"name": "Acme", "kind": "company", "aliases": ["ACME Corp"]},
            "chipco": {"name": "ChipCo", "kind": "company"},
        },
        "sources": {
            "wire": {"publisher": "Wire", "published_at": "2025-12-10T08:00:00+08:00"},
            "undated": {"publisher": "Rumour mill", "published_at": None},
        },
        "events": [
            {
                "id": "ev-1",
                "type": "policy_change",
                "occurred_at": "2025-12-08",
                "source": "wire",
                "authority": "The State",
                "topic": "chip-exports",
                "measure": "permit",
                "product": "X1",
                "applies_to": ["acme corp", "state-owned labs"],
            },
            {
                "id": "ev-2",
                "type": "inquiry",
                "occurred_at": "2025-08",
                "reported_at": "2025-12-09T12:00:00Z",
                "source": "wire",
                "inquirers": ["ACME Corp"],
                "supplier": "chipco",
                "product": "X1",
            },
            {
                "id": "ev-3",
                "type": "statement",
                "occurred_at": "2025-12-09T10:00:00+08:00",
                "source": "undated",
                "actor": "chipco",
                "topic": "chip-exports",
            },
        ],
    }


def _write(tmp_path: Path, data: dict[str, Any], name: str = "story.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _counts(location: str | Path) -> dict[str, int]:
    return table_counts(location, "events", "actors", "actor_aliases", "stories")


def _event(store: tl.Timeline, event_id: str) -> tl.RecordedEvent:
    recorded = store.get(event_id)
    assert recorded is not None
    return recorded


# --- what a load stores ---------------------------------------------------------------


def test_loading_reports_what_was_appended(store: tl.Timeline, tmp_path: Path) -> None:
    path = _write(tmp_path, _fixture())
    assert store.load(path) == tl.LoadReport(path=str(path), story=STORY, appended=3, skipped=0)


def test_reloading_the_same_file_appends_nothing(store: tl.Timeline, tmp_path: Path) -> None:
    path = _write(tmp_path, _fixture())
    store.load(path)
    report = store.load(path)
    assert (report.appended, report.skipped) == (0, 3)
    assert len(list(store.events())) == 3


def test_reloading_a_file_with_one_new_event_appends_only_that_event(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _fixture()
    store.load(_write(tmp_path, data))
    data["events"].append(
        {
            "id": "ev-4",
            "type": "statement",
            "occurred_at": "2025-12-11",
            "actor": "gov",
            "topic": "t",
        }
    )
    report = store.load(_write(tmp_path, data, "more.json"))
    assert (report.appended, report.skipped) == (1, 3)


def _without_ids() -> dict[str, Any]:
    data = _fixture()
    for event in data["events"]:
        del event["id"]
    return data


def test_reloading_a_file_whose_events_have_no_ids_appends_nothing(
    store: tl.Timeline, tmp_path: Path
) -> None:
    path = _write(tmp_path, _without_ids())
    store.load(path)
    report = store.load(path)
    assert (report.appended, report.skipped) == (0, 3)


def test_an_event_without_an_id_gets_the_same_id_in_every_store(tmp_path: Path) -> None:
    path = _write(tmp_path, _without_ids())
    ids = []
    for name in ("one.db", "two.db"):
        with tl.Timeline.open(tmp_path / name) as store:
            store.load(path)
            ids.append([e.id for e in store.events()])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3


def test_reported_at_defaults_to_the_sources_published_at(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    published = datetime(2025, 12, 10, 8, tzinfo=timezone(timedelta(hours=8)))
    assert _event(store, "ev-1").reported_at == published


def test_an_explicit_reported_at_wins_over_the_sources_published_at(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    assert _event(store, "ev-2").reported_at == datetime(2025, 12, 9, 12, tzinfo=UTC)


def test_reported_at_defaults_to_recorded_at_when_the_source_has_no_date(
    store: tl.Timeline, tmp_path: Path, clock: StepClock
) -> None:
    store.load(_write(tmp_path, _fixture()))
    recorded = _event(store, "ev-3")
    assert recorded.reported_at == recorded.recorded_at


def test_the_h200_fixture_reports_its_events_when_reuters_published(h200: tl.Timeline) -> None:
    reuters = datetime(2025, 12, 10, tzinfo=UTC)
    assert _event(h200, "h200-0002").reported_at == reuters


def test_events_carry_their_declared_source(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_write(tmp_path, _fixture()))
    assert _event(store, "ev-1").event.source == tl.Source(
        id="wire",
        publisher="Wire",
        published_at=datetime(2025, 12, 10, tzinfo=UTC),
    )


def test_aliases_in_events_are_stored_as_actor_ids(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_write(tmp_path, _fixture()))
    policy = _event(store, "ev-1").event
    inquiry = _event(store, "ev-2").event
    assert isinstance(policy, tl.PolicyChange)
    assert isinstance(inquiry, tl.Inquiry)
    assert (policy.authority, inquiry.inquirers) == ("gov", ("acme",))


def test_applies_to_resolves_known_actors_and_keeps_descriptions(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    policy = _event(store, "ev-1").event
    assert isinstance(policy, tl.PolicyChange)
    assert policy.applies_to == ("acme", "state-owned labs")


def test_declared_actors_are_stored_with_names_kinds_and_aliases(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    assert store.actors() == [
        tl.Actor(id="acme", name="Acme", kind="company", aliases=("ACME Corp",)),
        tl.Actor(id="chipco", name="ChipCo", kind="company", aliases=()),
        tl.Actor(id="gov", name="Government", kind="government", aliases=("The State",)),
    ]


def test_the_story_and_its_title_are_stored(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_write(tmp_path, _fixture()))
    assert store.stories() == [(STORY, "Acme and ChipCo", 3)]


def test_a_date_only_occurred_at_without_precision_has_day_precision(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    event = _event(store, "ev-1").event
    assert (event.occurred_at, event.precision) == (
        datetime(2025, 12, 8, tzinfo=UTC),
        tl.Precision.DAY,
    )


def test_a_month_only_occurred_at_without_precision_has_month_precision(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    event = _event(store, "ev-2").event
    assert (event.occurred_at, event.precision) == (
        datetime(2025, 8, 1, tzinfo=UTC),
        tl.Precision.MONTH,
    )


def test_a_later_file_may_name_actors_an_earlier_file_declared(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    later = _fixture()
    later["actors"] = {}
    later["events"] = [
        {
            "id": "ev-9",
            "type": "statement",
            "occurred_at": "2025-12-12",
            "actor": "the state",
            "topic": "t",
        }
    ]
    store.load(_write(tmp_path, later, "later.json"))
    assert _event(store, "ev-9").event.actor == "gov"  # type: ignore[attr-defined]


def test_a_later_file_may_correct_an_event_an_earlier_file_stored(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    later = _fixture()
    later["events"] = [
        {
            "id": "fix-3",
            "type": "correction",
            "occurred_at": "2025-12-12",
            "corrects": "ev-3",
            "replacement": {
                "type": "statement",
                "occurred_at": "2025-12-09",
                "actor": "chipco",
                "topic": "chip-exports",
                "position": "opposes",
            },
        }
    ]
    store.load(_write(tmp_path, later, "later.json"))
    correction = _event(store, "fix-3").event
    assert isinstance(correction, tl.Correction)
    assert (correction.replacement.id, correction.replacement.position) == (  # type: ignore[attr-defined]
        "ev-3",
        tl.Position.OPPOSES,
    )


def test_a_file_with_a_utf8_byte_order_mark_loads(store: tl.Timeline, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_fixture()).encode("utf-8"))
    assert store.load(path).appended == 3


def test_a_file_without_actors_or_sources_keys_loads(store: tl.Timeline, tmp_path: Path) -> None:
    data = {
        "format": "timeline-fixture/1",
        "story": STORY,
        "events": [{"id": "r", "type": "report", "occurred_at": "2025"}],
    }
    assert store.load(_write(tmp_path, data)).appended == 1


# --- all or nothing -------------------------------------------------------------------


def test_a_file_that_fails_in_the_store_leaves_no_trace(
    store: tl.Timeline, tmp_path: Path, store_location: str
) -> None:
    store.load(_write(tmp_path, _fixture()))
    before = _counts(store_location)
    changed = _fixture()
    changed["actors"]["newco"] = {"name": "NewCo", "aliases": ["New Company"]}
    changed["events"] = [
        {
            "id": "n-1",
            "type": "statement",
            "occurred_at": "2025-12-12",
            "actor": "newco",
            "topic": "t",
        },
        {
            "id": "n-2",
            "type": "statement",
            "occurred_at": "2025-12-12",
            "actor": "acme",
            "topic": "t",
        },
        {**_fixture()["events"][2], "summary": "changed"},
    ]
    with pytest.raises(tl.DuplicateEventError, match="'ev-3' is already stored"):
        store.load(_write(tmp_path, changed, "changed.json"))
    assert _counts(store_location) == before
    assert (store.get("n-1"), store.get("n-2")) == (None, None)


def test_a_file_that_fails_validation_writes_nothing(
    store: tl.Timeline, tmp_path: Path, store_location: str
) -> None:
    data = _fixture()
    data["events"][2]["position"] = "ambivalent"
    store.register_actor("someone")  # so the store is not new and empty (kept on failure)
    with pytest.raises(tl.FixtureError, match="'ambivalent'"):
        store.load(_write(tmp_path, data))
    assert _counts(store_location) == {"events": 0, "actors": 1, "actor_aliases": 0, "stories": 0}


@pytest.mark.sqlite_only("a failed load removes the new SQLite file it created")
def test_a_file_that_fails_validation_leaves_no_new_store_behind(
    store: tl.Timeline, tmp_path: Path, db_path: Path
) -> None:
    data = _fixture()
    data["events"][2]["position"] = "ambivalent"
    with pytest.raises(tl.FixtureError, match="'ambivalent'"):
        store.load(_write(tmp_path, data))
    assert not db_path.exists()  # the store opened it new: the failed load removed it


# --- errors name the file, the event and the field ------------------------------------


def _load_error(store: tl.Timeline, path: Path) -> tl.FixtureError:
    with pytest.raises(tl.FixtureError) as info:
        store.load(path)
    return info.value


def test_a_bad_value_names_file_event_index_id_and_field(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _fixture()
    data["events"][1]["conditions"] = ["approval", 3]
    path = _write(tmp_path, data)
    error = _load_error(store, path)
    assert (error.path, error.index, error.event_id, error.field) == (
        str(path),
        1,
        "ev-2",
        "conditions[1]",
    )
    assert str(error) == (
        f"{path}: event #1 ('ev-2'): field conditions[1]: expected text, got int 3"
    )


def test_an_unknown_actor_is_also_an_unknown_actor_error(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _fixture()
    data["events"][2]["actor"] = "martians"
    with pytest.raises(tl.UnknownActorError, match="unknown actor 'martians'") as info:
        store.load(_write(tmp_path, data))
    assert isinstance(info.value, tl.FixtureError)
    assert (info.value.actor, info.value.index, info.value.field) == ("martians", 2, "actor")


def test_an_unknown_actor_message_is_not_wrapped_twice(store: tl.Timeline, tmp_path: Path) -> None:
    data = _fixture()
    data["events"][2]["actor"] = "martians"
    path = _write(tmp_path, data)
    error = _load_error(store, path)
    assert str(error) == (
        f"{path}: event #2 ('ev-3'): field actor: unknown actor 'martians'; "
        'declare it under "actors"'
    )


def test_an_unknown_type_is_also_an_unknown_event_type_error(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _fixture()
    data["events"][0]["type"] = "rumour"
    with pytest.raises(tl.UnknownEventTypeError, match="unknown event type 'rumour'") as info:
        store.load(_write(tmp_path, data))
    assert isinstance(info.value, tl.FixtureError)
    assert (info.value.type_name, info.value.index, info.value.field) == ("rumour", 0, "type")


def test_the_same_id_with_other_content_is_also_a_duplicate_event_error(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    changed = _fixture()
    changed["events"][1]["product"] = "X2"
    path = _write(tmp_path, changed, "changed.json")
    with pytest.raises(tl.DuplicateEventError, match="'ev-2' is already stored") as info:
        store.load(path)
    assert isinstance(info.value, tl.FixtureError)
    assert (info.value.path, info.value.index, info.value.event_id, info.value.field) == (
        str(path),
        1,
        "ev-2",
        "id",
    )


def test_a_declared_alias_that_names_a_stored_actor_is_refused(
    store: tl.Timeline, tmp_path: Path
) -> None:
    store.load(_write(tmp_path, _fixture()))
    other = _fixture()
    other["actors"] = {"globex": {"name": "Globex", "aliases": ["acme corp"]}}
    other["events"] = []
    error = _load_error(store, _write(tmp_path, other, "other.json"))
    assert (error.field, error.index) == ("actors.globex", None)
    assert "'acme corp' already names actor 'acme'" in str(error)


def test_a_missing_file_is_a_fixture_error_naming_it(store: tl.Timeline, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(tl.FixtureError, match=r"missing\.json: cannot read file"):
        store.load(missing)


def test_a_directory_is_a_fixture_error(store: tl.Timeline, tmp_path: Path) -> None:
    with pytest.raises(tl.FixtureError, match="cannot read file"):
        store.load(tmp_path)


def test_a_schema_version_newer_than_the_code_names_the_schema_version_field(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _fixture()
    data["events"][2]["schema_version"] = 5
    error = _load_error(store, _write(tmp_path, data))
    assert isinstance(error, tl.UnknownEventTypeError)
    assert (error.index, error.field) == (2, "schema_version")


def test_loading_the_h200_fixture_twice_keeps_21_events(h200: tl.Timeline) -> None:
    report = h200.load(H200)
    assert (report.appended, report.skipped, len(list(h200.events()))) == (0, 21, 21)


def test_fixture_files_are_not_modified_by_loading(store: tl.Timeline, tmp_path: Path) -> None:
    path = _write(tmp_path, copy.deepcopy(_fixture()))
    before = path.read_bytes()
    store.load(path)
    assert path.read_bytes() == before

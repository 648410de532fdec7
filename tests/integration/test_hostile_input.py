"""The hostile-input corpus in ``fixtures/invalid/``: every file is refused with a
``FixtureError`` that names the file, the event and the field, and the store is left
as it was. Unusual but valid text is stored and read back byte for byte."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import H200, INVALID, raw_rows, table_counts


@attrs.frozen
class Case:
    """What loading one hostile file must report."""

    field: str | None
    proves: str
    index: int | None = None
    event_id: str | None = None
    also: type[Exception] | None = None


def _at(index: int, event_id: str | None, field: str, proves: str, **kw: Any) -> Case:
    return Case(field=field, proves=proves, index=index, event_id=event_id, **kw)


CASES: dict[str, Case] = {
    # unreadable or the wrong shape
    "truncated": Case(None, "JSON cut off mid-object is refused with its line and column"),
    "binary": Case(None, "bytes that are not UTF-8 text are refused"),
    "utf16": Case(None, "UTF-16 text is refused: fixtures are UTF-8"),
    "empty": Case(None, "an empty file is refused"),
    "whitespace-only": Case(None, "a file of blanks is refused as empty"),
    "top-level-list": Case(None, "the top level must be an object, not a list"),
    "top-level-string": Case(None, "the top level must be an object, not a string"),
    "unknown-top-level-key": Case("evnets", "a misspelt top-level key is refused, not ignored"),
    "duplicate-key": Case("id", "a key twice in one object is refused, not the last one kept"),
    "huge-integer": Case(None, "a 5,000-digit number is refused, not a raw ValueError"),
    "future-format": Case("format", 'an unsupported future "timeline-fixture/2" is refused'),
    "missing-format": Case("format", 'a file without "format" is refused'),
    "missing-story": Case("story", "a file without a story slug is refused"),
    "title-not-text": Case("title", "a number where the title text belongs is refused"),
    "events-not-a-list": Case("events", "events given as an object instead of a list"),
    "actors-a-list": Case("actors", "actors given as a list instead of an object"),
    "sources-a-list": Case("sources", "sources given as a list instead of an object"),
    "event-not-an-object": Case(None, "an event that is a string", index=1),
    # actors and sources
    "actor-not-an-object": Case("actors.acme", "an actor given as a string"),
    "actor-unknown-field": Case("actors.acme.ticker", "an unknown key in an actor"),
    "actor-aliases-a-string": Case("actors.acme.aliases", "a string where the alias list belongs"),
    "blank-declared-actor-id": Case("actors.  ", "a blank actor id in the actors table"),
    "alias-clash": Case("actors.chipco", "two actors claiming the same alias (case-insensitive)"),
    "alias-names-another-actor": Case("actors.chipco", "an alias equal to another actor's id"),
    # actor identity
    "actor-alias-zero-width": Case("actors.chipco.aliases[0]", "a zero-width space in an alias"),
    "actor-alias-bidi-override": Case(
        "actors.chipco.aliases[0]", "a right-to-left override in an alias"
    ),
    "actor-alias-soft-hyphen": Case("actors.chipco.aliases[0]", "a soft hyphen in an alias"),
    "actor-id-confusable": Case(
        "actors.\u0430cme", "an id with a Cyrillic letter imitating another actor's id"
    ),
    "actor-alias-confusable": Case(
        "actors.chipco.aliases[0]", "an alias with a Cyrillic letter imitating another's alias"
    ),
    "actor-alias-fullwidth": Case(
        "actors.chipco", "a full-width spelling of another actor's alias (NFKC)"
    ),
    "actor-alias-decomposed": Case(
        "actors.chipco", "a decomposed (NFD) spelling of another actor's alias"
    ),
    "naive-source-published-at": Case(
        "sources.wire.published_at", "a source published_at without a UTC offset"
    ),
    "source-unknown-field": Case("sources.wire.paywall", "an unknown key in a source"),
    # wrong JSON types in an event
    "string-for-list": _at(1, "ev-2", "conditions", "a string where a list belongs"),
    "string-for-number": _at(2, "ev-3", "schema_version", 'the string "1" is not the number 1'),
    "float-for-integer": _at(2, "ev-3", "schema_version", "1.9 is not an integer"),
    "boolean-for-number": _at(2, "ev-3", "schema_version", "true is not the number 1"),
    "boolean-for-text": _at(2, "ev-3", "summary", "false is not text"),
    "number-for-text": _at(2, "ev-3", "topic", "7 is not the text '7'"),
    "list-for-text": _at(2, "ev-3", "topic", "a list where text belongs"),
    "null-for-required-text": _at(2, "ev-3", "topic", "null for a required text field"),
    "nan-for-text": _at(2, "ev-3", "summary", "the non-standard NaN literal is not text"),
    "lone-surrogate": _at(1, "ev-2", "summary", 'a lone surrogate ("\\ud800") is not Unicode'),
    # times
    "naive-datetime": _at(2, "ev-3", "occurred_at", "a timestamp without a UTC offset"),
    "naive-reported-at": _at(2, "ev-3", "reported_at", "a reported_at without a UTC offset"),
    "impossible-date": _at(1, "ev-2", "occurred_at", "2025-02-30 does not exist"),
    "unparseable-date": _at(1, "ev-2", "occurred_at", "free text is not a date"),
    "out-of-range-datetime": _at(
        2, "ev-3", "occurred_at", "year 1 at +05:00 overflows in UTC and is refused, not crashed on"
    ),
    # types, fields, values
    "unknown-type": _at(2, "ev-3", "type", "an unregistered type", also=tl.UnknownEventTypeError),
    "missing-type": _at(2, "ev-3", "type", "an event without a type"),
    "future-schema-version": _at(
        2,
        "ev-3",
        "schema_version",
        "a schema version newer than the code",
        also=tl.UnknownEventTypeError,
    ),
    "unknown-field": _at(2, "ev-3", "sentiment", "an unknown key in an event is refused"),
    "missing-required-field": _at(2, "ev-3", "topic", "a required field left out"),
    "story-on-event": _at(2, "ev-3", "story", "the story is set once, at the top"),
    "empty-actor-id": _at(2, "ev-3", "actor", 'an empty actor id ("")'),
    "empty-inquirers": _at(1, "ev-2", "inquirers", "an inquiry with no inquirers"),
    "bad-precision": _at(2, "ev-3", "precision", "precision outside exact/day/month/year"),
    "bad-position": _at(2, "ev-3", "position", "position outside supports/opposes/..."),
    "bad-measure": _at(0, "ev-1", "measure", "measure outside permit/restrict/ban/lift"),
    "unknown-actor": _at(
        2, "ev-3", "actor", "an actor neither declared nor stored", also=tl.UnknownActorError
    ),
    "unknown-actor-in-list": _at(
        1, "ev-2", "inquirers[1]", "an unknown actor inside a list", also=tl.UnknownActorError
    ),
    "unknown-source": _at(2, "ev-3", "source", "a source id that is not declared"),
    "source-not-an-id": _at(2, "ev-3", "source", "an inline source object instead of an id"),
    "duplicate-id": _at(2, "ev-1", "id", "the same id twice in one file"),
    # corrections and retractions
    "correction-of-unknown-id": _at(3, "ev-4", "corrects", "a correction of an id never seen"),
    "retraction-of-unknown-id": _at(3, "ev-4", "retracts", "a retraction of an id never seen"),
    "retraction-of-a-later-event": _at(
        0, "ev-0", "retracts", "a retraction must come after what it retracts"
    ),
    "self-correction": _at(3, "ev-4", "corrects", "a correction of itself"),
    "self-retraction": _at(3, "ev-4", "retracts", "a retraction of itself"),
    "correction-replacement-of-another-type": _at(
        3, "ev-4", "replacement.type", "a statement corrected into an announcement"
    ),
    "correction-of-a-retraction": _at(
        4, "ev-5", "replacement", "a correction whose replacement is a retraction"
    ),
    "unknown-actor-in-replacement": _at(
        3,
        "ev-4",
        "replacement.actor",
        "an unknown actor inside a correction's replacement",
        also=tl.UnknownActorError,
    ),
    "unknown-type-in-replacement": _at(
        3,
        "ev-4",
        "replacement.type",
        "an unregistered type as a replacement",
        also=tl.UnknownEventTypeError,
    ),
    "unknown-field-in-replacement": _at(
        3, "ev-4", "replacement.sentiment", "an unknown key inside a replacement"
    ),
}


def _valid_base() -> dict[str, Any]:
    """The corpus' valid base: ``unknown-field.json`` without its one unknown key."""
    data: dict[str, Any] = json.loads((INVALID / "unknown-field.json").read_text("utf-8"))
    del data["events"][2]["sentiment"]
    return data


def _with_event_field(field: str, value: object) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        data = _valid_base()
        data["events"][2][field] = value
        path = directory / "generated.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


def _deep_nesting(directory: Path) -> Path:
    path = directory / "deep-nesting.json"
    depth = 100_000
    path.write_text(
        '{"format": "timeline-fixture/1", "story": "hostile", "events": '
        + "[" * depth
        + "]" * depth
        + "}",
        encoding="utf-8",
    )
    return path


TEN_MB = 10 * 1024 * 1024

GENERATED: dict[str, tuple[Callable[[Path], Path], Case]] = {
    "huge-string-date": (
        _with_event_field("occurred_at", "2" * TEN_MB),
        _at(2, "ev-3", "occurred_at", "a 10 MB date string is refused with a short message"),
    ),
    "huge-string-actor": (
        _with_event_field("actor", "m" * TEN_MB),
        _at(
            2,
            "ev-3",
            "actor",
            "a 10 MB unknown actor id is refused with a short message",
            also=tl.UnknownActorError,
        ),
    ),
    "deep-nesting": (_deep_nesting, Case(None, "100 000 nested lists are refused, not crashed on")),
}

ALL_CASES = sorted([*CASES, *GENERATED])


def _hostile_file(name: str, directory: Path) -> tuple[Path, Case]:
    if name in GENERATED:
        write, case = GENERATED[name]
        return write(directory), case
    return INVALID / f"{name}.json", CASES[name]


def _counts(location: str | Path) -> dict[str, int]:
    return table_counts(location, "events", "actors", "actor_aliases", "stories")


# --- the corpus itself --------------------------------------------------------------


def test_the_corpus_has_at_least_32_files() -> None:
    assert len(list(INVALID.glob("*.json"))) >= 32


def test_every_corpus_file_has_an_expected_outcome_and_every_outcome_a_file() -> None:
    assert sorted(p.stem for p in INVALID.glob("*.json")) == sorted(CASES)


def test_no_corpus_file_is_larger_than_a_megabyte() -> None:
    assert max(p.stat().st_size for p in INVALID.glob("*.json")) < 1024 * 1024


def test_the_readme_lists_every_case() -> None:
    readme = (INVALID / "README.md").read_text("utf-8")
    missing = [name for name in ALL_CASES if f"`{name}" not in readme]
    assert missing == []


def test_the_valid_base_of_the_corpus_loads(store: tl.Timeline, tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(_valid_base()), encoding="utf-8")
    assert store.load(path).appended == 3


# --- every case --------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_CASES)
def test_a_hostile_file_raises_a_fixture_error_naming_the_file_event_and_field(
    store: tl.Timeline, tmp_path: Path, name: str
) -> None:
    path, case = _hostile_file(name, tmp_path)
    with pytest.raises(tl.FixtureError) as info:
        store.load(path)
    error = info.value
    assert (error.path, error.index, error.event_id, error.field) == (
        str(path),
        case.index,
        case.event_id,
        case.field,
    )
    message = str(error)
    assert message.startswith(f"{path}: ")
    if case.index is not None:
        assert f"event #{case.index}" in message
    if case.event_id is not None:
        assert repr(case.event_id) in message
    if case.field is not None:
        assert f"field {case.field}:" in message
    assert len(message) < len(str(path)) + 1200
    if case.also is not None:
        assert isinstance(error, case.also)


@pytest.mark.sqlite_only("a failed load removes the new SQLite file it created")
@pytest.mark.parametrize("name", ALL_CASES)
def test_a_hostile_file_leaves_the_store_empty(
    store: tl.Timeline, tmp_path: Path, db_path: Path, name: str
) -> None:
    path, _ = _hostile_file(name, tmp_path)
    with pytest.raises(tl.TimelineError, match=re.escape(str(path))):
        store.load(path)
    # nothing written: the store was new, so the failed load removed its file
    assert not db_path.exists()
    store.register_actor("someone")  # the same file again, no longer empty
    with pytest.raises(tl.TimelineError, match=re.escape(str(path))):
        store.load(path)
    assert _counts(db_path) == {"events": 0, "actors": 1, "actor_aliases": 0, "stories": 0}


# --- the same ids with other content than the store holds ------------------------------


def test_a_modified_copy_of_a_loaded_fixture_is_refused_naming_the_changed_event(
    store: tl.Timeline, tmp_path: Path, store_location: str
) -> None:
    store.load(H200)
    before = _counts(store_location)
    data = json.loads(H200.read_text("utf-8"))
    data["events"][9]["summary"] += " (edited)"
    copy = tmp_path / "h200-edited.json"
    copy.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    event_id = data["events"][9]["id"]
    with pytest.raises(tl.DuplicateEventError, match="already stored") as info:
        store.load(copy)
    error = info.value
    assert isinstance(error, tl.FixtureError)
    assert (error.path, error.index, error.event_id, error.field) == (str(copy), 9, event_id, "id")
    assert f"event #9 ({event_id!r})" in str(error)
    assert _counts(store_location) == before
    assert store.verify() == before["events"]


# --- unusual but valid text -----------------------------------------------------------

# Letters ruff finds "ambiguous" are exactly what this test needs.
UNUSUAL = [
    "emoji 🚀🇨🇳👩🏽‍💻 and a ZWJ family 👨‍👩‍👧",
    "Arabic: الصين تدرس السماح بشراء رقائق H200",
    "Hebrew: סין שוקלת לאשר רכישת שבבים",  # noqa: RUF001 - the point is unusual letters
    "mixed direction: Nvidia \u202bإنفيديا\u202c said",  # noqa: RUF001 - the point is unusual letters
    "quotes \"double\" 'single' “curly” «guillemets»",
    "backslashes \\ \\\\ \\n \\u0000 C:\\path\\to",
    "'; DROP TABLE events; --",
    "tab\tcarriage\rnewline\nvertical\x0bformfeed\x0cbell\x07escape\x1b",
    "line\u2028separator\u2029paragraph",
    "combining e\u0301 and precomposed \u00e9; BOM \ufeff inside",
    "CJK 北京 東京 서울; math 𝔸𝔹ℂ; private use \ue000",  # noqa: RUF001 - the point is unusual letters
    'json-ish {"type": "report"} [1, 2] null true',
]


def _unusual_fixture(tmp_path: Path) -> Path:
    events = [
        {
            "id": f"u-{i}",
            "type": "statement",
            "occurred_at": "2025-12-10T08:00:00+08:00",
            "actor": "'; DROP TABLE actors; --",
            "topic": text,
            "attribution": text,
            "summary": text,
            "quote": text,
        }
        for i, text in enumerate(UNUSUAL)
    ]
    data = {
        "format": "timeline-fixture/1",
        "story": "unusual",
        "title": UNUSUAL[0],
        "actors": {"'; DROP TABLE actors; --": {"name": UNUSUAL[1], "aliases": ["שבב", "🚀"]}},
        "events": events,
    }
    path = tmp_path / "unusual.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_unusual_text_is_read_back_byte_for_byte(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_unusual_fixture(tmp_path))
    read = {e.id: e.event for e in store.events()}
    for i, text in enumerate(UNUSUAL):
        event = read[f"u-{i}"]
        assert (event.summary, event.attribution, event.quote, event.topic) == (  # type: ignore[attr-defined]
            text,
            text,
            text,
            text,
        )


def test_unusual_text_is_stored_as_is_in_the_payload_json(
    store: tl.Timeline, tmp_path: Path, store_location: str
) -> None:
    store.load(_unusual_fixture(tmp_path))
    rows = raw_rows(store_location, "SELECT id, payload FROM events ORDER BY position")
    summaries = [json.loads(payload)["summary"] for _, payload in rows]
    assert summaries == UNUSUAL
    assert [row[0] for row in rows] == [f"u-{i}" for i in range(len(UNUSUAL))]


def test_an_actor_id_that_looks_like_sql_is_just_an_id(store: tl.Timeline, tmp_path: Path) -> None:
    store.load(_unusual_fixture(tmp_path))
    assert len(list(store.events(actor="'; DROP TABLE actors; --"))) == len(UNUSUAL)
    assert len(list(store.events(actor="🚀"))) == len(UNUSUAL)
    assert store.verify() == len(UNUSUAL)


def test_reloading_unusual_text_appends_nothing(store: tl.Timeline, tmp_path: Path) -> None:
    path = _unusual_fixture(tmp_path)
    store.load(path)
    assert store.load(path).skipped == len(UNUSUAL)


@pytest.mark.slow
def test_a_ten_megabyte_summary_is_stored_and_read_back_whole(
    store: tl.Timeline, tmp_path: Path
) -> None:
    data = _valid_base()
    summary = "x" * TEN_MB + " end ✓"
    data["events"][2]["summary"] = summary
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    store.load(path)
    stored = store.get("ev-3")
    assert stored is not None
    assert stored.event.summary == summary


# --- random damage -------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
_places = st.sampled_from(
    [
        ("format",),
        ("story",),
        ("title",),
        ("actors",),
        ("actors", "acme"),
        ("actors", "acme", "aliases"),
        ("actors", "acme", "name"),
        ("sources", "wire"),
        ("sources", "wire", "published_at"),
        ("events",),
        ("events", 0),
        ("events", 0, "applies_to"),
        ("events", 0, "measure"),
        ("events", 1, "inquirers"),
        ("events", 1, "conditions"),
        ("events", 1, "occurred_at"),
        ("events", 2, "id"),
        ("events", 2, "type"),
        ("events", 2, "actor"),
        ("events", 2, "source"),
        ("events", 2, "precision"),
        ("events", 2, "reported_at"),
        ("events", 2, "unexpected"),
    ]
)


def _set(data: dict[str, Any], place: tuple[str | int, ...], value: object) -> None:
    """Put ``value`` at ``place``, if earlier damage left that place in existence."""
    target: Any = data
    for key in place[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return
    last = place[-1]
    fits_dict = isinstance(target, dict) and isinstance(last, str)
    fits_list = isinstance(target, list) and isinstance(last, int) and last < len(target)
    if fits_dict or fits_list:
        target[last] = value


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_places, _json_values), min_size=1, max_size=3))
def test_randomly_damaged_fixtures_load_or_raise_only_fixture_errors(
    damage: list[tuple[tuple[str | int, ...], object]],
) -> None:
    data = _valid_base()
    for place, value in damage:
        _set(data, place, value)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "damaged.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with tl.Timeline.open(Path(directory) / "store.db") as store:
            try:
                store.load(path)
            except tl.FixtureError:
                # nothing written: the store was new, so the failed load removed it
                assert not (Path(directory) / "store.db").exists()
            else:
                assert store.verify() == len(data["events"])

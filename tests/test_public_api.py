"""The public API: ``timeline.__all__`` is sorted, importable and pinned here, so any
change to it shows up in review; every public error derives from ``TimelineError``."""

from __future__ import annotations

import importlib

import pytest

import timeline as tl
import timeline.errors

PINNED = [
    "Actor",
    "Announcement",
    "AppendResult",
    "Basis",
    "Change",
    "Clock",
    "Codec",
    "ConcurrencyError",
    "Confirmation",
    "Context",
    "Correction",
    "Denial",
    "DuplicateEventError",
    "Event",
    "FIXTURE_FORMAT",
    "FixtureError",
    "Fold",
    "FoldProjection",
    "Inquiry",
    "IntegrityError",
    "IntentStatus",
    "LoadReport",
    "Measure",
    "OrderCancelled",
    "OrderDelivered",
    "OrderIntent",
    "OrderPlaced",
    "Period",
    "PolicyChange",
    "Position",
    "Precision",
    "Projection",
    "RecordedEvent",
    "Registry",
    "RegulatorMeeting",
    "Replay",
    "ReplayStep",
    "Report",
    "Restriction",
    "Retraction",
    "SearchHit",
    "Source",
    "Stance",
    "State",
    "Statement",
    "StoreError",
    "StoreFormatError",
    "SystemClock",
    "Timeline",
    "TimelineError",
    "TopicSummary",
    "UnknownActorError",
    "UnknownEventTypeError",
    "UnknownTopicError",
    "ValidationError",
    "__version__",
    "default_registry",
    "event_type",
    "period",
    "upcaster",
]

DESIGNED_ERRORS = [
    "ConcurrencyError",
    "DuplicateEventError",
    "FixtureError",
    "IntegrityError",
    "StoreFormatError",
    "UnknownActorError",
    "UnknownEventTypeError",
]


def _public_exceptions() -> list[type[BaseException]]:
    found = [getattr(tl, name) for name in tl.__all__]
    return [obj for obj in found if isinstance(obj, type) and issubclass(obj, BaseException)]


def test_all_is_sorted() -> None:
    assert tl.__all__ == sorted(tl.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(tl.__all__) == len(set(tl.__all__))


def test_all_is_the_pinned_list() -> None:
    assert tl.__all__ == PINNED


@pytest.mark.parametrize("name", PINNED)
def test_each_public_name_is_importable_from_timeline(name: str) -> None:
    module = importlib.import_module("timeline")
    assert getattr(module, name) is not None


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from timeline import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PINNED)


def test_every_designed_error_is_exported() -> None:
    assert set(DESIGNED_ERRORS) <= set(tl.__all__)


@pytest.mark.parametrize("error", _public_exceptions(), ids=lambda e: e.__name__)
def test_every_public_error_derives_from_timeline_error(error: type[BaseException]) -> None:
    assert issubclass(error, tl.TimelineError)


@pytest.mark.parametrize(
    "name", [n for n in dir(timeline.errors) if n.endswith("Error") and not n.startswith("_")]
)
def test_every_error_the_errors_module_defines_derives_from_timeline_error(name: str) -> None:
    assert issubclass(getattr(timeline.errors, name), tl.TimelineError)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (tl.UnknownEventTypeError, LookupError),
        (tl.UnknownActorError, LookupError),
        (tl.FixtureError, ValueError),
        (tl.ValidationError, ValueError),
    ],
)
def test_errors_also_subclass_the_matching_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, builtin)


def test_the_version_is_a_string() -> None:
    assert isinstance(tl.__version__, str)
    assert tl.__version__ != ""


def test_the_fixture_format_is_version_one() -> None:
    assert tl.FIXTURE_FORMAT == "timeline-fixture/1"

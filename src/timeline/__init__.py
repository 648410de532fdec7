"""Event-sourced news timelines: sourced, immutable event records in SQLite.

Users import from here; submodules are implementation detail.
"""

from importlib.metadata import PackageNotFoundError, version

from timeline.clock import Clock, SystemClock
from timeline.codec import Codec
from timeline.errors import (
    ConcurrencyError,
    DuplicateEventError,
    FixtureError,
    IntegrityError,
    StoreError,
    StoreFormatError,
    TimelineError,
    UnknownActorError,
    UnknownEventTypeError,
    UnknownTopicError,
    ValidationError,
)
from timeline.events import (
    Announcement,
    Basis,
    Confirmation,
    Correction,
    Denial,
    Event,
    Inquiry,
    Measure,
    OrderCancelled,
    OrderDelivered,
    OrderPlaced,
    PolicyChange,
    Position,
    Precision,
    RegulatorMeeting,
    Report,
    Retraction,
    Source,
    Statement,
)
from timeline.facade import LoadReport, Timeline, TopicSummary
from timeline.fixtures import FORMAT as FIXTURE_FORMAT
from timeline.projections.base import Change, Context, FoldProjection, Projection
from timeline.projections.fold import Fold, State
from timeline.projections.orders import IntentStatus, OrderIntent, Restriction
from timeline.projections.stance import Stance
from timeline.registry import Registry, default_registry, event_type, upcaster
from timeline.replay import Replay, ReplayStep
from timeline.store.recorded import Actor, AppendResult, RecordedEvent, SearchHit
from timeline.times import Period, period

try:
    __version__ = version("timeline")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
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

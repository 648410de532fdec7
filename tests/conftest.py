"""Shared fixtures: real store files, a controllable clock, the H200 fixture."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import timeline as tl
from timeline.testing import StepClock

__all__ = [
    "BOTH_BACKENDS",
    "FIXTURES",
    "H200",
    "INVALID",
    "ROOT",
    "StepClock",
    "postgres_dsn",
    "postgres_schema",
]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
H200 = FIXTURES / "h200-china.json"
INVALID = FIXTURES / "invalid"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a store file that does not exist yet."""
    return tmp_path / "news.db"


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


# PostgreSQL tests need a server: the DSN of a database they may create schemas
# in (`bash .ci/postgres start` prints one). Without it they skip, except in CI.
POSTGRES_ENV = "TIMELINE_TEST_POSTGRES"
BOTH_BACKENDS = ("sqlite", "postgresql")
_schemas = itertools.count()


def postgres_dsn() -> str:
    """The test server's DSN; skips without one, and fails instead under CI."""
    dsn = os.environ.get(POSTGRES_ENV)
    if dsn:
        return dsn
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must test PostgreSQL: set {POSTGRES_ENV} (see .ci/postgres)")
    pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV} to run these tests")


def postgres_schema() -> tuple[str, str]:
    """A new empty schema on the test server: ``(its name, a URL whose search_path is it)``."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    dsn = postgres_dsn()
    schema = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
    params = conninfo_to_dict(dsn)
    params["options"] = f"{params.get('options') or ''} -c search_path={schema}".strip()
    query = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in params.items())
    return schema, f"postgresql:///?{query}"


def drop_postgres_schema(schema: str) -> None:
    """Drop a schema :func:`postgres_schema` made."""
    import psycopg

    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of an empty schema of its own on the test server, dropped afterwards."""
    schema, url = postgres_schema()
    yield url
    drop_postgres_schema(schema)


# The backends a module's ``store`` runs on unless the module names its own
# (``BACKENDS = ...``): SQLite by default; TIMELINE_TEST_BACKENDS=sqlite,postgresql
# runs every store-facing test on both.
BACKENDS_ENV = "TIMELINE_TEST_BACKENDS"


def default_backends() -> tuple[str, ...]:
    """The backends of modules that do not name theirs (see ``TIMELINE_TEST_BACKENDS``)."""
    names = tuple(n.strip() for n in os.environ.get(BACKENDS_ENV, "sqlite").split(",") if n.strip())
    unknown = set(names) - set(BOTH_BACKENDS)
    if unknown or not names:
        raise pytest.UsageError(f"{BACKENDS_ENV}: give some of {', '.join(BOTH_BACKENDS)}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``store`` runs on both backends in modules that say ``BACKENDS = BOTH_BACKENDS``,
    on SQLite only in modules that say ``BACKENDS = ("sqlite",)`` and in tests marked
    ``@pytest.mark.sqlite_only(reason)`` (each says why), elsewhere on
    :func:`default_backends`."""
    if "store_backend" in metafunc.fixturenames:
        backends = getattr(metafunc.module, "BACKENDS", None) or default_backends()
        marker = metafunc.definition.get_closest_marker("sqlite_only")
        if marker is not None:
            if not marker.args:
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
            backends = ("sqlite",)
        metafunc.parametrize("store_backend", backends)


@pytest.fixture
def store_location(store_backend: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a new store opens: a file, or an empty PostgreSQL schema."""
    if store_backend == "sqlite":
        return str(db_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_location: str, clock: StepClock) -> Iterator[tl.Timeline]:
    """An empty store (a real file, or a PostgreSQL schema), with a hand-driven clock."""
    with tl.Timeline.open(store_location, clock=clock) as s:
        yield s


@pytest.fixture
def h200(store: tl.Timeline) -> tl.Timeline:
    """A store holding the H200 story."""
    store.load(H200)
    return store

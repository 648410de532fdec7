"""Shared fixtures: real store files, a controllable clock, the H200 fixture."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import hypothesis
import pytest

import timeline as tl
from timeline.testing import StepClock

__all__ = [
    "BOTH_BACKENDS",
    "FIXTURES",
    "H200",
    "INVALID",
    "new_store_location",
    "ROOT",
    "StepClock",
    "postgres_dsn",
    "postgres_schema",
    "raw_execute",
    "raw_rows",
    "table_counts",
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


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_dsn() -> str:
    """The test server's DSN; skips without one, and fails instead under CI."""
    dsn = os.environ.get(POSTGRES_ENV)
    if dsn:
        return dsn
    if _under_ci():
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


def raw_rows(location: str | Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one SQL query run behind the store's back, on a connection of its
    own, on either backend (a file path, or a PostgreSQL URL as ``store_location``)."""
    if str(location).startswith(("postgresql:", "postgres:")):
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]  # type: ignore[arg-type]
    conn = sqlite3.connect(location)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def raw_execute(location: str | Path, sql: str) -> None:
    """Run one SQL statement behind the store's back, committed, on either backend."""
    if str(location).startswith(("postgresql:", "postgres:")):
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]
        return
    conn = sqlite3.connect(location, isolation_level=None)
    try:
        conn.execute(sql)
    finally:
        conn.close()


def table_counts(location: str | Path, *tables: str) -> dict[str, int]:
    """How many rows each table holds, read behind the store's back."""
    return {table: raw_rows(location, f"SELECT COUNT(*) FROM {table}")[0][0] for table in tables}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of an empty schema of its own on the test server, dropped afterwards."""
    schema, url = postgres_schema()
    yield url
    drop_postgres_schema(schema)


# The backends a module's ``store`` runs on unless the module names its own
# (``BACKENDS = ...``): both when a server is given (TIMELINE_TEST_POSTGRES) or under
# CI, SQLite alone otherwise; TIMELINE_TEST_BACKENDS (e.g. ``sqlite``) overrides.
BACKENDS_ENV = "TIMELINE_TEST_BACKENDS"


def default_backends() -> tuple[str, ...]:
    """The backends of modules that do not name theirs (see ``TIMELINE_TEST_BACKENDS``)."""
    server = bool(os.environ.get(POSTGRES_ENV)) or _under_ci()
    given = os.environ.get(BACKENDS_ENV, ",".join(BOTH_BACKENDS) if server else "sqlite")
    names = tuple(n.strip() for n in given.split(",") if n.strip())
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
        if os.environ.get(BACKENDS_ENV):  # said explicitly: it narrows a module's own too
            backends = tuple(b for b in backends if b in default_backends())
        marker = metafunc.definition.get_closest_marker("sqlite_only")
        if marker is not None:
            if not marker.args:
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
            backends = ("sqlite",)
        metafunc.parametrize("store_backend", backends)


@contextlib.contextmanager
def new_store_location(backend: str) -> Iterator[str]:
    """Where a new store opens, removed afterwards: for tests that need several stores,
    such as one per hypothesis example (``store_location`` is one per test)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "store.db")
        return
    schema, url = postgres_schema()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


# Property tests make a store per example, which costs a schema on PostgreSQL: there
# they run this share of the examples they name (at least MIN_PG_EXAMPLES).
PG_EXAMPLES_SHARE = 0.25
MIN_PG_EXAMPLES = 5


@pytest.fixture(autouse=True)
def _fewer_examples_on_postgresql(request: pytest.FixtureRequest) -> Iterator[None]:
    callspec = getattr(request.node, "callspec", None)
    test = getattr(request.node, "function", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    if callspec is None or callspec.params.get("store_backend") != "postgresql" or not current:
        yield
        return
    fewer = max(MIN_PG_EXAMPLES, int(current.max_examples * PG_EXAMPLES_SHARE))
    test._hypothesis_internal_use_settings = hypothesis.settings(  # type: ignore[union-attr]
        current, max_examples=min(fewer, current.max_examples)
    )
    try:
        yield
    finally:
        test._hypothesis_internal_use_settings = current  # type: ignore[union-attr]


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


def traced(store: tl.Timeline, events: list[tl.Event], story: str = "s") -> list[str]:
    """The SQL statements one ``append`` of ``events`` sends through a SQLite store's
    connection (SQLite's trace: each row of an ``executemany`` too), stripped."""
    statements: list[str] = []
    conn = store.store.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(statements.append)
    try:
        store.append(events, story=story)
    finally:
        conn.set_trace_callback(None)
    return [s.strip() for s in statements]


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The cyclic collector on for the test, and back as the run had it afterwards."""
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def watch_collector(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, seen: list[tuple[str, bool]]
) -> None:
    """Wrap ``owner.name``: each call first records ``(name, whether the cyclic collector
    is on)`` in ``seen``."""
    method = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append((name, gc.isenabled()))
        return method(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)


def alternating_statements(
    n: int, base: datetime, *, actor: str = "a1", topic: str = "t1"
) -> list[tl.Event]:
    """``n`` statements ``s0``, ``s1``, ... by ``actor`` on ``topic``, a day apart from
    ``base``, opposing and supporting in turn (``s0`` opposes), each with a summary."""
    return [
        tl.Statement(
            id=f"s{i}",
            occurred_at=base + timedelta(days=i),
            actor=actor,
            topic=topic,
            position="supports" if i % 2 else "opposes",
            summary=f"statement {i}",
        )
        for i in range(n)
    ]

"""Files: foreign and newer files are refused untouched, old stores open, read-only works."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import H200

DATA = Path(__file__).resolve().parent.parent / "data"
FIRST_SCHEMA_STORE = DATA / "store-schema-0001.db"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wal_bytes(path: Path) -> int:
    """Size of the write-ahead log beside a database (0 when there is none)."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('not a timeline')")
    conn.commit()
    conn.close()


def _foreign_sqlite_with_events_table(path: Path) -> None:
    # another application's events table and its own sqlite-utils migrations
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")
    conn.execute(
        "CREATE TABLE _sqlite_migrations "
        "(id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('calendar', '0001_init', '2025-01-01')"
    )
    conn.commit()
    conn.close()


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b'{"format": "timeline-fixture/1"}\n' * 200)


def _newer_schema(path: Path) -> None:
    with tl.Timeline.open(path) as store:
        store.load(H200)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('timeline', '9999_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()


REFUSED: dict[str, tuple[Callable[[Path], None], str]] = {
    "foreign-sqlite": (_foreign_sqlite, "not a timeline store"),
    "foreign-events-table": (_foreign_sqlite_with_events_table, "not a timeline store"),
    "not-sqlite": (_not_sqlite, "not a timeline store"),
    "newer-schema": (_newer_schema, "newer version of timeline"),
}


@pytest.fixture(params=sorted(REFUSED))
def refused(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A file timeline must refuse, and the words its error must contain."""
    make, message = REFUSED[request.param]
    path = tmp_path / "other.db"
    make(path)
    return path, message


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_opening_a_file_that_is_not_a_current_timeline_store_raises_store_format_error(
    refused: tuple[Path, str], readonly: bool
) -> None:
    path, message = refused
    with pytest.raises(tl.StoreFormatError, match=message):
        tl.Timeline.open(path, readonly=readonly)


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_a_refused_file_is_left_byte_identical(refused: tuple[Path, str], readonly: bool) -> None:
    path, _ = refused
    before = _sha256(path)
    with pytest.raises(tl.StoreFormatError):
        tl.Timeline.open(path, readonly=readonly)
    assert _sha256(path) == before


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_a_refused_file_has_no_write_ahead_log_with_changes_beside_it(
    refused: tuple[Path, str], readonly: bool
) -> None:
    # a read-only connection to a WAL file may leave an empty -wal (and -shm) behind:
    # harmless, as long as the log holds nothing that a later open would apply
    path, _ = refused
    with pytest.raises(tl.StoreFormatError):
        tl.Timeline.open(path, readonly=readonly)
    assert _wal_bytes(path) == 0


# --- a store written by the first schema version ---------------------------------


@pytest.fixture
def first_schema_store(tmp_path: Path) -> Path:
    """A copy of the checked-in first-schema store (opening may migrate it)."""
    copy = tmp_path / FIRST_SCHEMA_STORE.name
    shutil.copyfile(FIRST_SCHEMA_STORE, copy)
    return copy


def test_the_checked_in_store_has_the_first_schema_only() -> None:
    conn = sqlite3.connect(f"{FIRST_SCHEMA_STORE.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    finally:
        conn.close()
    assert names == ["0001_event_log"]


def test_a_first_schema_store_opens_and_verifies(first_schema_store: Path) -> None:
    with tl.Timeline.open(first_schema_store) as store:
        assert store.verify() == 21


def test_a_first_schema_store_is_migrated_to_the_current_schema(
    first_schema_store: Path, tmp_path: Path
) -> None:
    with tl.Timeline.open(tmp_path / "current.db") as fresh:
        current = fresh.store.schema_names()
    with tl.Timeline.open(first_schema_store) as store:
        assert store.store.schema_names() == current


def test_a_first_schema_store_reads_back_the_h200_events_as_recorded(
    first_schema_store: Path,
) -> None:
    with tl.Timeline.open(first_schema_store) as store:
        got = [(e.id, e.story, e.version, e.recorded_at) for e in store.events()]
    first = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert got == [
        (f"h200-{n:04d}", "h200-china", n, datetime.fromtimestamp(first + (n - 1) / 1e6, UTC))
        for n in range(1, 22)
    ]


def test_a_first_schema_store_accepts_appends_after_migration(first_schema_store: Path) -> None:
    with tl.Timeline.open(first_schema_store) as store:
        result = store.append(
            [tl.Report(id="after-upgrade", occurred_at=datetime(2025, 12, 11, tzinfo=UTC))],
            story="h200-china",
            expected_version=21,
        )
        assert (result.version, store.verify()) == (22, 22)


# --- read-only ---------------------------------------------------------------------


@pytest.fixture
def h200_file(db_path: Path) -> Path:
    """A closed store file holding the H200 story."""
    with tl.Timeline.open(db_path) as store:
        store.load(H200)
    return db_path


def test_a_store_opened_read_only_reads_and_verifies(h200_file: Path) -> None:
    with tl.Timeline.open(h200_file, readonly=True) as store:
        ids = [e.id for e in store.events()]
        assert (len(ids), store.verify()) == (21, 21)


def test_a_store_opened_read_only_refuses_append_saying_so(h200_file: Path) -> None:
    with tl.Timeline.open(h200_file, readonly=True) as store:
        with pytest.raises(tl.StoreError, match="read-only"):
            store.append(
                [tl.Report(id="refused", occurred_at=datetime(2025, 12, 11, tzinfo=UTC))],
                story="h200-china",
            )
        assert store.verify() == 21


def test_a_store_opened_read_only_refuses_loading_a_fixture_saying_so(h200_file: Path) -> None:
    with (
        tl.Timeline.open(h200_file, readonly=True) as store,
        pytest.raises(tl.TimelineError, match="read-only"),
    ):
        store.load(H200)


def test_reading_a_store_read_only_leaves_the_file_byte_identical(h200_file: Path) -> None:
    before = _sha256(h200_file)
    with tl.Timeline.open(h200_file, readonly=True) as store:
        list(store.events())
        store.verify()
        with pytest.raises(tl.StoreError):
            store.append(
                [tl.Report(id="refused", occurred_at=datetime(2025, 12, 11, tzinfo=UTC))],
                story="h200-china",
            )
    assert (_sha256(h200_file), _wal_bytes(h200_file)) == (before, 0)


def test_opening_a_missing_store_read_only_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(tl.StoreFormatError, match="no such timeline store"):
        tl.Timeline.open(path, readonly=True)
    assert list(tmp_path.iterdir()) == []


_WITHOUT_WRITE_PERMISSION = """
import sys
from datetime import UTC, datetime

import timeline as tl

with tl.Timeline.open(sys.argv[1]) as store:
    print(store.verify())
    try:
        store.append(
            [tl.Report(id="refused", occurred_at=datetime(2025, 12, 11, tzinfo=UTC))],
            story="h200-china",
        )
    except tl.StoreError as error:
        print(type(error).__name__, error)
"""


def test_a_store_file_without_write_permission_reads_and_refuses_writes(h200_file: Path) -> None:
    # file permissions bind even as root once the capabilities that bypass them are dropped
    h200_file.chmod(0o444)
    before = h200_file.read_bytes()
    result = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            "-c",
            _WITHOUT_WRITE_PERMISSION,
            str(h200_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    count, refusal = result.stdout.splitlines()
    assert count == "21"
    assert refusal.startswith("StoreError ")
    assert "read-only" in refusal
    assert h200_file.read_bytes() == before

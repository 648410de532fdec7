"""Tamper evidence: edits, deletions and reorderings behind the store's back are caught.

Each case works on a byte copy of one small template store, drops the triggers that
refuse UPDATE and DELETE (as someone editing the file directly would), changes it
with raw SQL, and expects ``verify()`` to name the position of the damaged row.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import StepClock

ROWS = 8
HASHED = (
    "position",
    "id",
    "story",
    "version",
    "type",
    "schema_version",
    "occurred_at",
    "precision",
    "reported_at",
    "recorded_at",
    "payload",
    "prev_hash",
    "hash",
)
INTEGERS = {"position", "version", "schema_version"}
UNIQUE_INTEGERS = {"position", "version"}  # values 1..ROWS would collide with another row


@attrs.frozen
class Template:
    """A closed, self-contained store file and its rows as written."""

    path: Path
    rows: dict[int, dict[str, Any]]  # position -> column -> value


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("tamper") / "template.db"
    with tl.Timeline.open(path, clock=StepClock()) as store:
        store.append(
            [
                tl.Report(
                    id=f"event-{n}",
                    occurred_at=datetime(2025, 12, n, tzinfo=UTC),
                    summary=f"development number {n}",
                    actors=("nvidia",),
                )
                for n in range(1, ROWS + 1)
            ],
            story="tamper",
        )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")  # one file holds everything: copyable
    conn.row_factory = sqlite3.Row
    rows = {
        r["position"]: {c: r[c] for c in HASHED}
        for r in conn.execute(f"SELECT {', '.join(HASHED)} FROM events")
    }
    conn.close()
    return Template(path=path, rows=rows)


def _tampered(template: Template, *statements: tuple[str, Sequence[Any]]) -> Path | None:
    """A copy of the template changed by raw SQL; ``None`` if SQLite refused the change."""
    path = template.path.with_name(f"case-{uuid.uuid4().hex}.db")
    shutil.copyfile(template.path, path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER events_refuse_update")
        conn.execute("DROP TRIGGER events_refuse_delete")
        for sql, params in statements:
            conn.execute(sql, params)
    except sqlite3.IntegrityError:  # e.g. an edited id that collides with another row's
        path.unlink()
        return None
    finally:
        conn.close()
    return path


def _verify_error(path: Path) -> tl.IntegrityError | None:
    try:
        with tl.Timeline.open(path) as store:
            store.verify()
    except tl.IntegrityError as exc:
        return exc
    finally:
        for leftover in path.parent.glob(f"{path.name}*"):
            leftover.unlink()
    return None


def _edit(column: str, value: Any) -> st.SearchStrategy[Any]:
    """Another value for a column: a changed integer, or one character replaced."""
    if column in INTEGERS:
        forbidden = set(range(1, ROWS + 1)) if column in UNIQUE_INTEGERS else {value}
        return st.integers(-1000, 1000).filter(lambda v: v not in forbidden and v != value)

    def replace_one(index_and_char: tuple[int, str]) -> str:
        index, char = index_and_char
        return f"{value[:index]}{char}{value[index + 1 :]}"

    return (
        st.tuples(
            st.integers(0, len(value) - 1), st.characters(min_codepoint=32, max_codepoint=126)
        )
        .filter(lambda ic: value[ic[0]] != ic[1])
        .map(replace_one)
    )


def test_an_untouched_copy_of_the_template_verifies(template: Template) -> None:
    path = _tampered(template)
    assert path is not None
    assert _verify_error(path) is None


@pytest.mark.parametrize("column", HASHED)
@settings(max_examples=8, deadline=None)  # x 13 columns: about 100 edits per run
@given(data=st.data())
def test_a_single_byte_edit_to_any_hashed_column_is_caught_at_that_row(
    template: Template, column: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(1, ROWS), label="position")
    new = data.draw(_edit(column, template.rows[position][column]), label="new value")
    path = _tampered(
        template, (f"UPDATE events SET {column} = ? WHERE position = ?", (new, position))
    )
    assume(path is not None)
    assert path is not None
    error = _verify_error(path)
    # an edited position leaves a gap at the row's original place: that is what is named
    assert (error.position if error else None) == position


@pytest.mark.parametrize("position", [1, 4, ROWS], ids=["first", "middle", "last"])
def test_deleting_a_row_is_caught_at_its_position(template: Template, position: int) -> None:
    path = _tampered(template, ("DELETE FROM events WHERE position = ?", (position,)))
    assert path is not None
    error = _verify_error(path)
    assert (error.position if error else None) == position


def test_deleting_the_last_rows_is_caught_at_the_first_deleted(template: Template) -> None:
    path = _tampered(template, ("DELETE FROM events WHERE position > ?", (ROWS - 3,)))
    assert path is not None
    error = _verify_error(path)
    assert (error.position if error else None) == ROWS - 2


@pytest.mark.parametrize(("a", "b"), [(3, 4), (2, 7), (1, ROWS)], ids=["adjacent", "apart", "ends"])
def test_swapping_two_rows_contents_is_caught_at_the_earlier_row(
    template: Template, a: int, b: int
) -> None:
    columns = HASHED[1:]
    marks = ", ".join("?" * len(HASHED))

    def insert(position: int, source: int) -> tuple[str, Sequence[Any]]:
        values = [template.rows[source][c] for c in columns]
        return f"INSERT INTO events ({', '.join(HASHED)}) VALUES ({marks})", [position, *values]

    path = _tampered(
        template,
        ("DELETE FROM events WHERE position IN (?, ?)", (a, b)),
        insert(a, b),
        insert(b, a),
    )
    assert path is not None
    error = _verify_error(path)
    assert (error.position if error else None) == a


def test_a_row_appended_behind_the_stores_back_is_caught_at_its_position(
    template: Template,
) -> None:
    # a copy of the last row's content, re-numbered and re-linked but not re-hashed
    last = template.rows[ROWS]
    values = {**last, "position": ROWS + 1, "id": "forged", "version": ROWS + 1}
    values["prev_hash"] = last["hash"]
    path = _tampered(
        template,
        (
            f"INSERT INTO events ({', '.join(HASHED)}) VALUES ({', '.join('?' * len(HASHED))})",
            [values[c] for c in HASHED],
        ),
    )
    assert path is not None
    error = _verify_error(path)
    assert (error.position if error else None) == ROWS + 1

"""CLI fixtures: a real store file holding the H200 story, and a runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from freezegun import freeze_time

from tests.conftest import H200
from timeline.cli import cli

# the store clock when the fixture is loaded: every recorded_at is just after this
LOADED_AT = "2026-01-02T03:04:05+00:00"


def run(*args: str | Path) -> Result:
    """Invoke ``timeline ARGS``; stdout and stderr stay apart."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def h200_db(store_location: str) -> str:
    """A store loaded with the H200 fixture by ``timeline load``: a file, or a PostgreSQL
    schema (whose recorded times come from the server's clock, not the frozen one)."""
    with freeze_time(LOADED_AT):
        result = run("load", store_location, H200)
    assert result.exit_code == 0, result.output
    return store_location

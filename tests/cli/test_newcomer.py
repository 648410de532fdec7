"""The CLI for a newcomer: suggestions, topics, ids, human dates, quiet pipes."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import run


def test_cli_topics_and_a_misspelt_actor(h200_db: Path) -> None:
    listed = run("topics", h200_db)
    assert listed.exit_code == 0
    assert "h200-exports-to-china            5  nvidia, us-government" in listed.stdout
    wrong = run("history", h200_db, "alibab")
    assert wrong.exit_code == 1
    assert wrong.stderr == "Error: unknown actor 'alibab'; did you mean 'alibaba'?\n"
    named = run("state", h200_db, "--actor", "Chinese government", "--topic", "h200-imports")
    assert named.exit_code == 0
    assert "beijing" in named.stdout

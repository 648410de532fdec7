"""Every command has help, and the README's "Command line" section shows each one."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import run
from tests.conftest import ROOT
from timeline.cli import cli

COMMANDS = sorted(cli.commands)


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Command line\n(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Command line' section"
    return match.group(1)


def test_the_command_set() -> None:
    assert COMMANDS == [
        "actors", "backup", "copy", "datasette-metadata", "diff", "export", "follow", "history",
        "info", "load", "repair", "replay", "search", "state", "stories", "topics", "verify",
    ]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: cli {command} [OPTIONS] DB")
    assert len(cli.commands[command].help or "") > 20


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_shown_in_the_readme(command: str) -> None:
    assert re.search(rf"^\$ timeline {command} ", _readme_section(), flags=re.MULTILINE)

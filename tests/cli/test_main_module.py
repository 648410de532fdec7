from __future__ import annotations

import importlib.metadata
import runpy
import subprocess
import sys

import pytest


def test_python_dash_m_timeline_prints_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "timeline", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: python -m timeline" in done.stdout
    assert "search" in done.stdout
    assert "export" in done.stdout


def test_the_module_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["timeline", "--version"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("timeline", run_name="__main__")
    assert done.value.code == 0
    assert capsys.readouterr().out.split()[-1] == importlib.metadata.version("timeline")

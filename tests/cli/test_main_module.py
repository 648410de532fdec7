from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_timeline_prints_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "timeline", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: python -m timeline" in done.stdout
    assert "search" in done.stdout
    assert "export" in done.stdout

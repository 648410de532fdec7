"""Headless Chromium (Debian's, driven by Playwright) for tests of what a reader sees.

Under CI (``CI=true``) a missing browser, Playwright or TimelineJS fails the
test instead of skipping it: ``.ci/run`` installs all three. Screenshots go to
``$TIMELINE_CI_LOGS`` (default ``.ci/logs/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("TIMELINE_CHROMIUM", "/usr/bin/chromium")
TIMELINEJS = Path(
    os.environ.get(
        "TIMELINE_TIMELINEJS_DIR",
        ROOT / ".ci" / "vendor" / "node_modules" / "@knight-lab" / "timelinejs" / "dist",
    )
)
LOGS = Path(os.environ.get("TIMELINE_CI_LOGS", ROOT / ".ci" / "logs"))

# no sandbox: CI runs as root; nothing may reach the network or phone home
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str) -> None:
    """Skip on a developer's machine without the tool; fail under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh Chromium profile; pages are opened from it."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def logs() -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS

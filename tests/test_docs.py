"""The README's python blocks run, in order, as one script."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import ROOT

README = ROOT / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_has_python_examples() -> None:
    assert len(python_blocks(README.read_text(encoding="utf-8"))) >= 5


@pytest.fixture
def restored_registry() -> Iterator[None]:
    """The README registers an event type in the default registry: undo it after."""
    registry = tl.default_registry
    saved = (dict(registry._by_name), dict(registry._by_cls), dict(registry._upcasters))
    yield
    registry._by_name, registry._by_cls, registry._upcasters = saved


@pytest.mark.usefixtures("restored_registry")
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for index, block in enumerate(python_blocks(README.read_text(encoding="utf-8"))):
        code = compile(block, f"README.md python block #{index}", "exec")
        exec(code, namespace)
    assert (tmp_path / "news.db").exists()


def test_readme_commands_install_and_run_pytest() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install -e '.[dev]'" in text
    assert ".venv/bin/pytest" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[dev]'" in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)

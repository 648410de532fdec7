"""The package's import graph, read from the source with ``ast``: no module imports
itself back through others (not even under ``TYPE_CHECKING``), and SQL drivers are
imported only under ``store/``."""

from __future__ import annotations

import ast
from pathlib import Path

import timeline

PACKAGE = Path(timeline.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in its body."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from timeline.store import sqlite` imports the module timeline.store.sqlite
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    graph = {_module_name(p): _imports(p, modules) for p in paths}
    # importing a package runs its __init__: a module importing timeline.x.y also
    # imports timeline.x, but that edge is the package's, not the module's concern
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules (packages' ``__init__`` re-exports aside)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt == "timeline" or graph.get(nxt) is None:
                continue  # the package's curated re-exports import everything
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found is not None:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node != "timeline" and node not in state:
            found = visit(node)
            if found is not None:
                return found
    return None


def test_the_graph_is_read_from_every_module() -> None:
    graph = _graph()
    assert "timeline.facade" in graph
    assert "timeline.store.sqlite" in graph["timeline.facade"]
    assert "timeline.facade_core" in graph["timeline.facade_writing"]
    assert "timeline.errors" in graph["timeline.store.sqlite"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {
        "timeline.a": {"timeline.b"},
        "timeline.b": {"timeline.c"},
        "timeline.c": {"timeline.a"},
    }
    assert _cycle(graph) == ["timeline.a", "timeline.b", "timeline.c", "timeline.a"]
    assert _cycle({"timeline.a": {"timeline.b"}, "timeline.b": set()}) is None


def test_no_module_imports_itself_back_through_others() -> None:
    assert _cycle(_graph()) is None


def test_errors_imports_nothing_from_timeline() -> None:
    assert _graph()["timeline.errors"] == set()


def test_only_the_store_imports_the_database_drivers() -> None:
    outside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            outside += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in ("sqlite3", "psycopg")
            ]
    assert outside == []

"""The layering rules of docs/architecture.md, read from the import graph of the sources (with `ast`, nothing is
imported): what each layer must not import, no import cycles among the project's modules, and nothing shipped
under sync/ importing the tests. Function-level imports count (they run as soon as the function does); imports
under `if TYPE_CHECKING:` do not (they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from settings import PROJECT_DIR

SKIPPED_DIRS = {".venv", ".git", "node_modules", "__pycache__", "test-artifacts"}
DASH = {"dash", "dash_bootstrap_components", "dash_ag_grid"}

# layer (a package of the project) -> the imports it must not have: third-party top-level names or project packages.
FORBIDDEN = {
    "sync": {*DASH, "flask", "layouts", "callbacks", "web", "tests"},
    "metrics": {*DASH, "sqlalchemy", "flask"},
    "models": {*DASH, "sync"},
    "layouts": {"sync", "sqlalchemy"},
    "view_models": {*DASH, "flask", "sync", "layouts", "callbacks", "web"},
    "digest": {"dash", "dash_bootstrap_components", "dash_ag_grid", "layouts", "callbacks", "tests"},
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the importing file
    target: str  # dotted name as written (module, or module.attribute for `from m import a`)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for path in sorted(PROJECT_DIR.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(PROJECT_DIR).parts):
            yield path


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below `node` except the bodies of `if TYPE_CHECKING:` blocks."""
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def imports_of(path: Path) -> list[Import]:
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found: list[Import] = []
    for node in _walk_runtime(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(Import(importer, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importer's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.append(Import(importer, f"{base}.{alias.name}" if base else alias.name, node.lineno))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return {module_name(path): imports_of(path) for path in source_files()}


def resolve(target: str, modules: set[str]) -> str | None:
    """The project module an import names: the longest dotted prefix that is a module of the project."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def test_the_import_graph_is_read(graph: dict[str, list[Import]]) -> None:
    # The walk sees the project: the layers exist and their imports are found (a broken walk would pass vacuously).
    assert {"app", "settings", "sync.service", "sync.demo.source", "metrics.sales", "web.gate"} <= set(graph)
    assert any(item.target.startswith("sync.engine") for item in graph["sync.service"])
    assert any(item.target.startswith("dash") for item in graph["layouts.tv"])


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(graph: dict[str, list[Import]], layer: str) -> None:
    modules = [name for name in graph if name == layer or name.startswith(layer + ".")]
    assert modules, f"no modules under {layer}/"
    wrong = [
        f"{item.importer}:{item.line} imports {item.target}"
        for name in modules
        for item in graph[name]
        if item.target.split(".")[0] in FORBIDDEN[layer]
    ]
    assert not wrong, f"{layer}/ must not import {', '.join(sorted(FORBIDDEN[layer]))}:\n" + "\n".join(wrong)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(edges.get(node, ())):
            if state.get(successor) == 1:
                return [*path[path.index(successor) :], successor]
            if successor not in state and (cycle := visit(successor)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def project_edges(graph: dict[str, list[Import]]) -> dict[str, set[str]]:
    modules = set(graph)
    edges: dict[str, set[str]] = {}
    for importer, items in graph.items():
        for item in items:
            target = resolve(item.target, modules)
            if target is not None and target != importer:
                edges.setdefault(importer, set()).add(target)
    return edges


def test_find_cycle_finds_one_and_only_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles(graph: dict[str, list[Import]]) -> None:
    # A package's __init__ importing its own modules (callbacks/__init__.py registers every page) is how Python
    # packages work, not a cycle between concepts: edges into a package from its own modules are left out.
    edges = {
        importer: {target for target in targets if not importer.startswith(target + ".")}
        for importer, targets in project_edges(graph).items()
    }
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_dash_is_used_through_its_public_api(graph: dict[str, list[Import]]) -> None:
    # Dash's underscore modules (dash._utils, dash._callback, ...) change without notice between releases.
    private = [
        f"{item.importer}:{item.line} imports {item.target}"
        for items in graph.values()
        for item in items
        if item.target.startswith("dash.") and any(part.startswith("_") for part in item.target.split(".")[1:])
    ]
    assert not private, "\n".join(private)

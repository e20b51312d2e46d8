"""The package layering holds: no import cycles, and the layers import only downwards.

The graph is built from the source with ``ast``, so an import hidden inside a function or
under ``if TYPE_CHECKING:`` counts like any other: hiding an import does not remove the
dependency, it only moves the failure from import time to the first call.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "protocols")


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's ``__init__``) for every module of PACKAGES."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imported(name: str, path: Path, is_package: bool) -> Iterator[str]:
    """Every dotted name one module imports, wherever in the file the import statement is."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from pkg import sub` imports the module pkg.sub; `from mod import x`, mod.
            yield from (f"{source}.{alias.name}" for alias in node.names)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (the longest known prefix of each name)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in known.items():
        edges: set[str] = set()
        for dotted in _imported(name, path, is_package):
            parts = dotted.split(".")
            for end in range(len(parts), 0, -1):
                target = ".".join(parts[:end])
                if target in known:
                    if target != name:
                        edges.add(target)
                    break
        graph[name] = edges
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


GRAPH = import_graph()


def test_the_graph_sees_function_local_and_type_checking_imports() -> None:
    assert len(GRAPH) > 50
    # gateway/cli.py imports gateway.app inside cmd_serve, to start fast.
    assert "gateway.app" in GRAPH["gateway.cli"]
    # gateway/model.py imports protocols.classification at the top.
    assert "protocols.classification" in GRAPH["gateway.model"]


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("protocols", "gateway"),  # protocols/ is sans-IO and stands alone
        ("gateway.ssh", "gateway.postgres"),  # the two protocol fronts share only the core
        ("gateway.postgres", "gateway.ssh"),
    ],
)
def test_layers(importer: str, forbidden: str) -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name == importer or name.startswith(importer + ".")
        for target in targets
        if target == forbidden or target.startswith(forbidden + ".")
    )
    assert wrong == []


def test_no_module_imports_sqlglot() -> None:
    """sqlglot is a test-only oracle (the `test` extra), never a runtime dependency."""
    users = sorted(
        name
        for name, (path, is_package) in modules().items()
        if any(d.split(".")[0] == "sqlglot" for d in _imported(name, path, is_package))
    )
    assert users == []


def test_sqlglot_is_a_test_dependency_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}

    assert "sqlglot" not in names(project["dependencies"])
    assert "sqlglot" in names(project["optional-dependencies"]["test"])

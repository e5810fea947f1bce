"""The layers of `benchmark/` and `optim/` read top to bottom: no module imports, directly or
through others, a module that imports it back.

Every import counts: at the top, inside functions (deferred for speed, they still tie the two
modules together) and under `TYPE_CHECKING` (a type named from a module above is a dependency
on it). `from pkg import name` counts as an import of `pkg.name` when that is a module, else of
`pkg` (its `__init__`); importing a submodule is not counted as importing its package's
`__init__`, which Python runs first but which names nothing the submodule uses.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "optim")


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> dict[str, int]:
    """The modules of `known` that module `name` imports anywhere in its file -> first line."""
    out: dict[str, int] = {}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        for target in targets:
            if target in known and target != name:
                out.setdefault(target, node.lineno)
    return out


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
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
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def import_graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_no_module_imports_its_way_back_to_itself():
    graph = import_graph()
    lines = [f"{a} -> {b} (line {graph[a][b]})" for component in cycles(graph)
             for a in component for b in sorted(graph[a]) if b in component]
    assert not lines, "import cycles:\n" + "\n".join(lines)


@pytest.mark.parametrize("edges, cyclic", [
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, [["a", "b", "c"]]),
    ({"a": {"b": 1}, "b": {"a": 1}, "c": {"a": 1}}, [["a", "b"]]),
])
def test_the_walk_finds_a_cycle_where_there_is_one(edges, cyclic):
    assert cycles(edges) == cyclic


def test_the_walk_sees_imports_inside_functions_and_type_checking(tmp_path):
    (tmp_path / "x.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from benchmark import y\ndef f():\n"
                                   "    import benchmark.z\n")
    known = {"benchmark.x": tmp_path / "x.py", "benchmark.y": Path(), "benchmark.z": Path()}
    assert imported("benchmark.x", tmp_path / "x.py", known) == {"benchmark.y": 3,
                                                                 "benchmark.z": 5}


def test_the_grid_does_not_import_the_report():
    graph = import_graph()
    assert not [m for m in graph["benchmark.grid"] if m.startswith("benchmark.reporting")]


def test_no_metric_is_declared_through_a_string():
    """Each metric's compute is a function of its own module, not `lazy("module:fn")`."""
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "benchmark").rglob("*.py")
            if "lazy(" in p.read_text()]
    assert not hits


def mlflow_importers() -> list[str]:
    """The modules of the packages that import `mlflow` (or a submodule of it), anywhere."""
    found = []
    for name, path in sorted(modules().items()):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n == "mlflow" or n.startswith("mlflow.") for n in names):
                found.append(name)
                break
    return found


def test_only_the_tracking_package_imports_mlflow():
    """One package talks to MLflow (docs/CONTRACTS.md): the runner, training and the report
    reach the store through `benchmark.tracking`, so MLflow stays replaceable."""
    outside = [m for m in mlflow_importers() if not m.startswith("benchmark.tracking")]
    assert not outside, f"modules importing mlflow outside benchmark/tracking/: {outside}"
    assert "benchmark.tracking.store" in mlflow_importers()  # the walk does see an import

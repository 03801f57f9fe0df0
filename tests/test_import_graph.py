"""The shape of `panro/` and `flows/`: imports go one way (no cycle, even through an import inside a function), and
no module is longer than a reader can hold (~400 lines).

The import graph is read from the source with `ast`, not by importing anything: every `import` and
`from … import` anywhere in a module (at the top, inside a function or a method) and every
`importlib.import_module("literal")` is an edge. Imports under `if TYPE_CHECKING:` are not: they
never run, and name a type only (a module may annotate with a type of a module that imports it).
A `from package import name` is an edge to the submodule when `name` is one, else to the package.
The implicit import of a module's parent package (`import panro.gate.wap` runs
`panro/gate/__init__.py` first) is not an edge: a package's `__init__` naming its own modules is
not a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PANRO = Path(__file__).resolve().parents[1] / "panro"
FLOWS = PANRO.parent / "flows"   # the Prefect flows: `panro run` runs them, they call into panro
MAX_LINES = 400


def module_names(*roots: Path) -> dict[str, Path]:
    """`panro.gate.wap` → its file, for every module and package under `roots` (packages' folders)."""
    names = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names[".".join(parts)] = path
    return names


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module a dotted name starts with (`panro.gate.wap.audit` → `panro.gate.wap`)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules `module` imports, wherever in its source the import is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]
        for target in targets:
            resolved = _resolve(target, known)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree except the bodies of `if TYPE_CHECKING:` (their `else:` runs, and counts)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def import_graph(*roots: Path) -> dict[str, set[str]]:
    known = module_names(*roots)
    return {m: imports_of(m, p, known) for m, p in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path_within(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the component's first module, for the failure message."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return component


def test_panro_and_flows_imports_go_one_way_even_inside_functions() -> None:
    graph = import_graph(PANRO, FLOWS)
    assert graph.get("panro.gate.wap"), "the graph reads no imports: the test is broken"
    assert "flows.pipeline" in graph["panro.commands.running"] and "flows.tasks" in graph["flows.pipeline"], \
        "the graph does not join panro/ and flows/: the test is broken"
    found = cycles(graph)
    assert not found, "import cycles in panro/ and flows/:\n" + "\n".join(
        " → ".join(_path_within(graph, c)) for c in found)


def test_the_gate_never_imports_the_quarantine_commands() -> None:
    """`panro quarantine release` calls the gate; the gate writes quarantine folders through its own module."""
    graph = import_graph(PANRO)
    gate = [m for m in graph if m == "panro.gate" or m.startswith("panro.gate.")]
    assert [m for m in gate if "panro.quarantine" in graph[m]] == []
    assert "panro.gate.wap" in graph["panro.quarantine"]   # `release` re-audits through the gate


@pytest.mark.parametrize("where", ["top", "function", "method", "relative", "import_module"])
def test_the_graph_sees_a_cycle_wherever_the_import_is(tmp_path: Path, where: str) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import g\n\ndef f():\n    return g()\n")
    back = {
        "top": "import pkg.a\n",
        "function": "def g():\n    from pkg.a import f\n    return f\n",
        "method": "class G:\n    def g(self):\n        import pkg.a\n        return pkg.a\n",
        "relative": "from . import a\n",
        "import_module": "import importlib\n\ndef g():\n    return importlib.import_module('pkg.a')\n",
    }[where]
    (pkg / "b.py").write_text(back)
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.b"]]
    (pkg / "b.py").write_text("def g():\n    return 1\n")
    assert cycles(import_graph(pkg)) == []


def test_an_import_for_type_annotations_only_is_no_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n"
                              "else:\n    import json\n\ndef g() -> A:\n    return 1\n")
    assert cycles(import_graph(pkg)) == []
    assert import_graph(pkg)["pkg.b"] == set()


def module_lengths(root: Path) -> dict[str, int]:
    return {path.relative_to(root.parent).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
            for path in sorted(root.rglob("*.py"))}


def test_no_module_of_panro_or_flows_is_over_400_lines() -> None:
    lengths = module_lengths(PANRO) | module_lengths(FLOWS)
    assert lengths, "no module found: the test is broken"
    assert "flows/pipeline.py" in lengths, "flows/ not measured: the test is broken"
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}

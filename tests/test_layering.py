"""The package's layers: no module imports a higher layer, train and eval do not import each other, and no
modules import each other in a cycle.

Layers, lowest first: {io, config, stats, lock} < geometry < data < models < objectives < {train, eval} < pipeline
< cli. Every import statement counts, also those inside functions and under `if TYPE_CHECKING:`. `from pkg import name`
is an edge to the submodule pkg.name when there is one, else to pkg itself (its `__init__`), so a
package's re-exports take part in the cycle check. The implicit import of a module's parent packages
is left out: a package `__init__` that imports its own submodules is Python's ordinary layout.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hatchvl

PACKAGE = "hatchvl"
RANKS = {"io": 0, "config": 0, "stats": 0, "lock": 0, "geometry": 1, "data": 2, "models": 3, "objectives": 4,
         "train": 5, "eval": 5, "pipeline": 6, "cli": 7}


def module_names(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every module under root (the package folder); packages by their __init__."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Dotted names a statement imports: modules, or `module.name` candidates for `from module import name`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def module_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, from every import statement in its source."""
    names = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in names.items():
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            candidates = _imported(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                base, members = candidates[0], candidates[1:]
                found = [m for m in members if m in names]
                if len(found) < len(members) and base in names:
                    found.append(base)  # a name defined in (or re-exported by) the module itself
                edges.update(found)
            else:
                edges.update(c for c in candidates if c in names)
        edges.discard(module)
        graph[module] = edges
    return graph


def layer(module: str) -> str:
    """The layer of a dotted module name; the root package (`hatchvl` itself) sits with the lowest."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "io"


def layer_violations(graph: dict[str, set[str]], ranks: dict[str, int] = RANKS) -> list[str]:
    """'a imports b (layer -> layer)' for every edge to a higher layer or to another layer of the same rank."""
    bad = []
    for module, edges in sorted(graph.items()):
        for target in sorted(edges):
            src, dst = layer(module), layer(target)
            if src not in ranks or dst not in ranks:
                bad.append(f"{module} imports {target}: layer {src if src not in ranks else dst} is not in the order")
            elif src != dst and ranks[dst] >= ranks[src]:
                bad.append(f"{module} imports {target} ({src} -> {dst})")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None when the graph has none (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return path[path.index(target):] + [target]
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph.get(target, ()))))
    return None


# -- the package ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph():
    return module_graph(Path(hatchvl.__file__).parent)


def test_every_module_is_in_a_known_layer(graph):
    assert {layer(m) for m in graph} <= set(RANKS)
    assert {"hatchvl.io", "hatchvl.data.format", "hatchvl.objectives.probe", "hatchvl.cli.main"} <= set(graph)


def test_no_module_imports_a_higher_layer(graph):
    assert layer_violations(graph) == []


def test_no_modules_import_each_other_in_a_cycle(graph):
    assert find_cycle(graph) is None


def test_io_imports_nothing_from_the_package(graph):
    assert graph["hatchvl.io"] == set()


def test_the_synthetic_builder_does_not_import_the_importers(graph):
    synthetic = [m for m in graph if m.startswith("hatchvl.data.synthetic")]
    assert synthetic and not any(t.startswith("hatchvl.data.importers") for m in synthetic for t in graph[m])


# -- the checker itself --------------------------------------------------------------------------------------


def test_the_checker_finds_a_higher_layer_and_a_sibling_layer():
    fake = {
        "hatchvl.geometry.camera": {"hatchvl.io"},
        "hatchvl.data.format": {"hatchvl.geometry.camera", "hatchvl.models.tiny"},  # up: data -> models
        "hatchvl.models.tiny": set(),
        "hatchvl.train.pasta": {"hatchvl.eval.score", "hatchvl.objectives.pasta"},  # sideways: train -> eval
        "hatchvl.eval.score": {"hatchvl.data.format"},
        "hatchvl.objectives.pasta": set(),
        "hatchvl.io": set(),
        "hatchvl.cli.main": {"hatchvl", "hatchvl.train.pasta"},
        "hatchvl": set(),
    }
    assert layer_violations(fake) == ["hatchvl.data.format imports hatchvl.models.tiny (data -> models)",
                                      "hatchvl.train.pasta imports hatchvl.eval.score (train -> eval)"]
    assert layer_violations({"hatchvl.extra.x": {"hatchvl.io"}}) == [
        "hatchvl.extra.x imports hatchvl.io: layer extra is not in the order"]


def test_the_checker_finds_a_cycle_and_only_a_cycle():
    chain = {"a": {"b"}, "b": {"c"}, "c": set(), "d": {"b", "c"}}
    assert find_cycle(chain) is None
    assert find_cycle({**chain, "c": {"d"}}) == ["b", "c", "d", "b"]
    assert find_cycle({"x": {"x"}}) == ["x", "x"]


def test_the_graph_counts_imports_in_functions_relative_imports_and_init_re_exports(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("from pkg.sub.low import thing\n")
    (root / "sub" / "low.py").write_text("def thing():\n    from pkg.sub import other\n")
    (root / "sub" / "other.py").write_text("from . import low\nfrom .low import thing\n")
    (root / "top.py").write_text("import pkg.sub.low\nfrom pkg.sub import thing\n")
    graph = module_graph(root, "pkg")
    assert graph == {"pkg": set(), "pkg.sub": {"pkg.sub.low"}, "pkg.sub.low": {"pkg.sub.other"},
                     "pkg.sub.other": {"pkg.sub.low"}, "pkg.top": {"pkg.sub.low", "pkg.sub"}}
    assert find_cycle(graph) == ["pkg.sub.low", "pkg.sub.other", "pkg.sub.low"]

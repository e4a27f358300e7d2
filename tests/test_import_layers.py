"""The grader's imports point one way, down the layers of docs/architecture.md, with no circle.

Every ``import`` of every module under grader/ counts, also those inside
functions and under ``if TYPE_CHECKING``: a lazy import that points up is
still an upward dependency. A module may import its own layer or a lower
one; the engine never imports the assignments' code (``reference``,
``assignments``). Run this file as a script to print the graph by layer.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

GRADER = Path(__file__).resolve().parents[1] / "grader"

# Lowest first. A module belongs to the first entry that is it or one of its packages.
LAYERS = [
    ("model", ["grader", "grader.model", "grader.errors", "grader.text", "grader.files"]),
    ("configuration", ["grader.config"]),
    ("source", ["grader.source"]),
    ("sandbox", ["grader.sandbox"]),
    ("checking", ["grader.checking"]),
    ("scoring", ["grader.scoring"]),
    ("grading", ["grader.grading"]),
    ("report", ["grader.report"]),
    ("outputs", ["grader.outputs"]),
    ("batch", ["grader.batch", "grader.handout", "grader.demo", "grader.authoring",
                "grader.export"]),
    ("server", ["grader.server"]),
    ("command line", ["grader.cli", "grader.__main__"]),
]
FORBIDDEN = ("reference", "assignments")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(GRADER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(GRADER.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The index in LAYERS of `module`'s layer (the longest matching prefix wins)."""
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")
    return rank


def imports_of(module: str) -> set[str]:
    """The grader modules (and forbidden packages) that `module` imports anywhere in its file."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from grader.x import y` imports grader.x.y when y is a module.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.add(name)
            elif name == "grader" or name.startswith("grader."):
                while name not in MODULES:  # grader.sandbox.Limits and the like: the module is the prefix
                    name = name.rpartition(".")[0]
                if name != module:
                    found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_the_engine_never_imports_an_assignments_code():
    offenders = {m: sorted(i for i in targets if i.split(".")[0] in FORBIDDEN) for m, targets in GRAPH.items()}
    assert {m: t for m, t in offenders.items() if t} == {}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_or_across(module):
    upward = [f"{target} ({LAYERS[layer_of(target)][0]})" for target in sorted(GRAPH[module])
              if target.split(".")[0] == "grader" and layer_of(target) > layer_of(module)]
    assert not upward, f"{module} ({LAYERS[layer_of(module)][0]}) imports upward: {', '.join(upward)}"


def test_no_import_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if target not in MODULES:
                continue
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)


def test_a_new_upward_import_would_be_caught(monkeypatch):
    # The check itself must be able to fail: pretend the model imported the batch.
    monkeypatch.setitem(GRAPH, "grader.model", GRAPH["grader.model"] | {"grader.batch"})
    with pytest.raises(AssertionError, match="imports upward"):
        test_imports_point_down_or_across("grader.model")


def print_graph() -> None:
    """Each layer's modules and the lower layers they use."""
    by_layer = defaultdict(list)
    for module in sorted(MODULES):
        by_layer[layer_of(module)].append(module)
    for index, (name, _) in reversed(list(enumerate(LAYERS))):
        uses = sorted({LAYERS[layer_of(t)][0] for m in by_layer[index] for t in GRAPH[m]
                       if t in MODULES and layer_of(t) < index}, key=lambda n: -[l for l, _ in LAYERS].index(n))
        print(f"{index:2} {name:<13} {len(by_layer[index]):2} modules  uses: {', '.join(uses) or '-'}")


if __name__ == "__main__":
    print_graph()
    sys.exit(0)

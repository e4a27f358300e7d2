"""A reference module's source as the handout gives it: its own regions stripped, what it imports from other
reference modules inlined (a submission is one file; the sandbox cannot import ``reference``)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from grader.config.locations import code_root
from grader.handout.errors import HandoutError
from grader.handout.solutions import FUNCTIONS, apply_edits, parse_reference, region_edits, solution_regions
from grader.source.pyparse import bound_names


def module_source(path: Path, *, strip: bool = True, _seen: tuple[Path, ...] = ()) -> str:
    """The module at `path` as one self-contained file: reference imports inlined, regions removed if `strip`."""
    path = Path(path).resolve()
    if path in _seen:
        raise HandoutError(f"{path}: reference modules import each other in a cycle")
    filename = shown(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HandoutError(f"{filename}: cannot read the reference module: {exc.strerror}") from None
    regions = solution_regions(source, filename)
    tree = parse_reference(source, filename)
    lines = source.splitlines()
    edits = region_edits(tree, regions, filename) if strip else []
    for node in ast.walk(tree):
        module = reference_import(node)
        if module is None:
            continue
        if node not in tree.body or not isinstance(node, ast.ImportFrom) or module == "reference":
            raise HandoutError(f"{filename}:{node.lineno}: only a top-level `from reference.<module> import "
                               f"<names>` can be inlined into the starter")
        block = _inlined(code_root() / (module.replace(".", "/") + ".py"), [a.name for a in node.names],
                         tree, strip, (*_seen, path))
        # The block brings its own blank lines after it; the import's would add to them.
        last = node.end_lineno
        while last < len(lines) and not lines[last].strip():
            last += 1
        edits.append((node.lineno, last, block))
    return apply_edits(source, edits)


def reference_import(node: ast.AST) -> str | None:
    """The module name when `node` imports from the ``reference`` package, else None."""
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        module = node.module
    elif isinstance(node, ast.Import):
        module = next((a.name for a in node.names if a.name.split(".")[0] == "reference"), None)
    else:
        return None
    return module if module and module.split(".")[0] == "reference" else None


def _inlined(path: Path, names: list[str], target: ast.Module, strip: bool, seen: tuple[Path, ...]) -> list[str]:
    """The lines that replace ``from <module> import names``: those names and what they use."""
    full_source = module_source(path, strip=False, _seen=seen)
    wanted = _closure(parse_reference(full_source, shown(path)), names)
    taken = {name for node in target.body if not isinstance(node, (ast.Import, ast.ImportFrom))
             for name in bound_names(node)}
    clashes = sorted(wanted & taken)
    if clashes:
        raise HandoutError(f"{shown(path)}: inlining it would redefine {', '.join(clashes)} of the importing module")
    imported = {name for node in target.body if isinstance(node, (ast.Import, ast.ImportFrom))
                for name in bound_names(node)}
    source = module_source(path, strip=True, _seen=seen) if strip else full_source
    tree = parse_reference(source, shown(path))
    lines = source.splitlines()
    header = (f"From {shown(path)}: {', '.join(names)} and what they use. Write the functions that raise "
              f"NotImplementedError here too; your own solution of that part will do.")
    block = textwrap.wrap(header, width=77, initial_indent="# ", subsequent_indent="# ") + [""]
    previous = None
    for node in tree.body:
        bound = set(bound_names(node))
        if not bound & wanted or isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)) and bound <= imported:
            continue
        # PEP 8 layout: two blank lines around definitions, one between imports and constants.
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)) or isinstance(previous, (*FUNCTIONS, ast.ClassDef)):
            block += ["", ""]
        elif previous is not None and _is_import(node) != _is_import(previous):
            block += [""]
        block += lines[first_line(node, lines) - 1:node.end_lineno]
        previous = node
    return block + ["", ""]


def _is_import(node: ast.stmt) -> bool:
    """Whether `node` is an import statement."""
    return isinstance(node, (ast.Import, ast.ImportFrom))


def _closure(tree: ast.Module, names: list[str]) -> set[str]:
    """`names` and every module-level name of `tree` they use, directly or not."""
    defined = {name: node for node in tree.body for name in bound_names(node)}
    missing = [name for name in names if name not in defined]
    if missing:
        raise HandoutError(f"cannot inline {', '.join(missing)}: not defined at module level")
    wanted, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        used = {n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)}
        pending.extend(used & defined.keys())
    return wanted


def first_line(node: ast.stmt, lines: list[str]) -> int:
    """A statement's first line, including its decorators and the comment lines right above it."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it (error messages stay short)."""
    try:
        return Path(path).resolve().relative_to(code_root()).as_posix()
    except ValueError:
        return str(path)

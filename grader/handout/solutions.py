"""Solution regions: the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` removed from a reference module."""

from __future__ import annotations

import ast
import re

from grader.handout.errors import HandoutError
from grader.source.pyparse import bound_names

MARKER = re.compile(r"^([ \t]*)# (BEGIN|END) SOLUTION[ \t]*$")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def strip_solutions(source: str, filename: str = "<reference>") -> str:
    """`source` with every solution region replaced by its placeholder (see the module docstring)."""
    regions = solution_regions(source, filename)  # marker mistakes first: they are the likelier cause of a parse error
    return apply_edits(source, region_edits(parse_reference(source, filename), regions, filename))


def solution_regions(source: str, filename: str) -> list[tuple[int, int, str]]:
    """The (BEGIN line, END line, indentation) of every region, checked for balance."""
    regions, open_at = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.match(line)
        if match is None:
            continue
        indent, kind = match.groups()
        if kind == "BEGIN":
            if open_at is not None:
                raise HandoutError(f"{filename}:{number}: BEGIN SOLUTION inside the region opened at line {open_at[0]}")
            open_at = (number, indent)
        elif open_at is None:
            raise HandoutError(f"{filename}:{number}: END SOLUTION without a BEGIN SOLUTION")
        else:
            if indent != open_at[1]:
                raise HandoutError(f"{filename}:{number}: END SOLUTION is indented differently from its "
                                   f"BEGIN SOLUTION at line {open_at[0]}")
            regions.append((open_at[0], number, indent))
            open_at = None
    if open_at is not None:
        raise HandoutError(f"{filename}:{open_at[0]}: BEGIN SOLUTION is never closed")
    return regions


def region_edits(tree: ast.Module, regions: list[tuple[int, int, str]],
                  filename: str) -> list[tuple[int, int, list[str]]]:
    """The `apply_edits` edits that replace each region of `tree` by its placeholder."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return [(first, last, _placeholder(parents, first, last, indent, filename))
            for first, last, indent in regions]


def _placeholder(parents: dict[ast.AST, ast.AST], first: int, last: int, indent: str, filename: str) -> list[str]:
    """The lines that replace the region between marker lines `first` and `last`.

    `parents` maps every node of the module but the module itself to its parent.
    """
    inside = [n for n in parents if isinstance(n, ast.stmt) and first < n.lineno < last]
    outer = [n for n in inside if parents[n] not in inside]
    if not outer:
        raise HandoutError(f"{filename}:{first}: the solution region holds no statement")
    for node in outer:
        if node.end_lineno >= last or parents[node] is not parents[outer[0]]:
            raise HandoutError(f"{filename}:{node.lineno}: a statement crosses the solution region's "
                               f"boundary (lines {first}-{last}); put the markers around whole statements")
    container = parents[outer[0]]
    if isinstance(container, ast.Module):
        return [_none_assignment(node, name) for node in outer for name in bound_names(node)
                if not name.startswith("_")]
    ancestor = container
    while ancestor is not None and not isinstance(ancestor, FUNCTIONS):
        ancestor = parents.get(ancestor)
    if ancestor is None:
        raise HandoutError(f"{filename}:{first}: a solution region must sit in a function body or at "
                           f"module level")
    return [f"{indent}raise NotImplementedError"]


def _none_assignment(node: ast.stmt, name: str) -> str:
    """``NAME = None``; a name the solution defines as a function says so, with its signature."""
    if isinstance(node, FUNCTIONS):
        return f"{name} = None  # replace by a function: def {name}({ast.unparse(node.args)}): ..."
    return f"{name} = None"


def apply_edits(source: str, edits: list[tuple[int, int, list[str]]]) -> str:
    """Replace 1-based inclusive line ranges by new lines; the ranges must not overlap."""
    lines = source.splitlines()
    for first, last, new in sorted(edits, reverse=True):
        lines[first - 1:last] = new
    return "\n".join(lines) + "\n"


def parse_reference(source: str, filename: str) -> ast.Module:
    """`source` parsed; a syntax error becomes a HandoutError naming the file and line."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise HandoutError(f"{filename}:{exc.lineno}: does not parse: {exc.msg}") from None

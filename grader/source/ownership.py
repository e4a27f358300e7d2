"""Which top-level names a submission writes itself, and where the others it imports come from.

Credit goes to code the student wrote (issue 10): a function the assignment
asks for earns nothing when the submission only imports it, be it from a
course helper module given with ``--support`` (``from dnn_app_utils_v2 import
*``) or from an installed package. This module answers the static half of
that question from the load plan, on the trusted side, without running
anything: a name is the student's own when a top-level ``def``, ``class`` or
assignment of the submission binds it (also inside a top-level ``if``,
``try`` or ``with``); a name bound only by an import, or by an assignment
that merely renames an imported object (``linear_forward = utils.linear_forward``),
is not, and `Origins.origin` says which import it probably comes from.

What the worker actually holds is the sandbox's business; `grader.checking.student`
combines the two (a name the worker has but the student did not write).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Iterable

from grader.source.loadplan import Statement

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Compound statements whose bodies run at module level (and so bind module names).
_BLOCKS = (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor)


@dataclass
class Origins:
    """The submission's own top-level names, and the imports that bind the others."""

    own: set[str] = field(default_factory=set)
    imported: dict[str, str] = field(default_factory=dict)   # name -> module it is imported from
    star_modules: list[str] = field(default_factory=list)     # modules imported with `import *`

    def is_own(self, name: str) -> bool:
        """Whether the submission itself defines or assigns `name` at the top level."""
        return name in self.own

    def origin(self, name: str) -> str:
        """Where `name` comes from when the submission does not define it, in words for the student."""
        if name in self.imported:
            return f"`{name}` comes from {self.imported[name]}, which your file imports"
        if len(self.star_modules) == 1:
            return f"`{name}` comes from {self.star_modules[0]}, which your file imports with `import *`"
        if self.star_modules:
            return (f"`{name}` comes from one of {', '.join(self.star_modules)}, which your file imports with "
                    f"`import *`")
        return f"`{name}` is not defined in your file (it comes from somewhere else)"


def origins(statements: Iterable[Statement]) -> Origins:
    """The `Origins` of a submission from its load plan (statements that do not parse are ignored)."""
    found = Origins()
    renamed: dict[str, ast.expr] = {}
    for statement in statements:
        try:
            tree = ast.parse(statement.source)
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in _module_level(tree.body):
            _record(node, found, renamed)
    # `name = other` or `name = module.attr` where the root is imported: the name is not the student's.
    for name, value in renamed.items():
        root = _root(value)
        if root is not None and root in found.imported and root not in found.own:
            found.imported[name] = found.imported[root]
            found.own.discard(name)
    return found


def _module_level(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Every statement that runs at module level: the body, and the bodies of its if/try/with/loops."""
    for node in body:
        yield node
        if isinstance(node, _BLOCKS):
            for part in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(node, part, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                yield from _module_level(handler.body)


def _record(node: ast.stmt, found: Origins, renamed: dict[str, ast.expr]) -> None:
    if isinstance(node, _DEFINITIONS):
        found.own.add(node.name)
        renamed.pop(node.name, None)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            found.imported.setdefault(bound, alias.name if alias.asname else bound)
    elif isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                if module not in found.star_modules:
                    found.star_modules.append(module)
            else:
                found.imported.setdefault(alias.asname or alias.name, module)
    elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                    found.own.add(name.id)
                    if isinstance(target, ast.Name) and isinstance(node.value, (ast.Name, ast.Attribute)):
                        renamed[name.id] = node.value
                    else:
                        renamed.pop(name.id, None)


def _root(value: ast.expr) -> str | None:
    while isinstance(value, ast.Attribute):
        value = value.value
    return value.id if isinstance(value, ast.Name) else None


"""Helpers for the sandbox tests: build a Sandbox from source that runs every statement."""

from __future__ import annotations

import ast
import textwrap

from grader.sandbox import Limits, Sandbox, SandboxConfig


def all_statements(source: str) -> list[tuple[int, int, str]]:
    """A load plan that runs every top-level statement (attacks at import must run)."""
    lines = source.splitlines(True)
    tree = ast.parse(source)
    out = []
    for i, node in enumerate(tree.body):
        start = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
        out.append((i, start, "".join(lines[start - 1:node.end_lineno])))
    return out


def make_sandbox(source: str, *, refused: tuple[str, ...] = (), support_dirs: tuple[str, ...] = (),
                 **limits) -> Sandbox:
    """A sandbox for `source` with test-sized limits (override any Limits field)."""
    source = textwrap.dedent(source)
    defaults = {"call_timeout": 5.0, "load_timeout": 5.0}
    defaults.update(limits)
    config = SandboxConfig(assignment="test-assignment", limits=Limits(**defaults),
                           refused_imports=refused, support_dirs=support_dirs)
    return Sandbox(source, all_statements(source), filename="student.py", config=config)

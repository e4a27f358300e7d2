"""Helpers for the sandbox tests: build a Sandbox from source that runs every statement."""

from __future__ import annotations

import textwrap

from grader.source.loadplan import plan_load
from grader.sandbox import Limits, Sandbox, SandboxConfig, Zygote


def all_statements(source: str) -> list[tuple[int, int, str]]:
    """A load plan that runs every top-level statement, whatever the grader's plan would skip
    (attacks at import must run)."""
    return [(s.index, s.lineno, s.source) for s in plan_load(source)]


def make_sandbox(source: str, *, refused: tuple[str, ...] = (), support_dirs: tuple[str, ...] = (),
                 **limits) -> Sandbox:
    """A sandbox for `source` with test-sized limits (override any Limits field)."""
    source = textwrap.dedent(source)
    defaults = {"call_timeout": 5.0, "load_timeout": 5.0}
    defaults.update(limits)
    config = SandboxConfig(assignment="test-assignment", limits=Limits(**defaults),
                           refused_imports=refused, support_dirs=support_dirs)
    return Sandbox(source, all_statements(source), filename="student.py", config=config)


def sandbox_on(zygote: Zygote, source: str) -> Sandbox:
    """A sandbox for `source` with the default configuration, whose workers come from `zygote`."""
    return Sandbox(source, all_statements(source), config=SandboxConfig(), zygote=zygote)

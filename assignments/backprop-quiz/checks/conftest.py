"""Shared fixtures of the quiz's checks: reading the student's module-level answers out of the sandbox.

The worker only calls functions, so a trusted driver (see `READ_DRIVER`)
reads the answers inside it and converts them to tagged plain data; the
trusted side decodes that, never trusting its shape. A missing answer is
explained from the load plan: the line that assigns it was skipped when the
file was loaded (and why), or raised, or no top-level line assigns it.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

import pytest

from grader.checking import CheckFailure, StudentCodeError
from grader.source.loadplan import plan_load
from grader.source.pyparse import PARSE_ERRORS, names_bound_by, parse

# Runs in the worker: any value becomes {"kind": ..., ...} made of plain data only.
PLAIN_SOURCE = '''
def plain(value, depth=0):
    if depth > 4:
        return {"kind": "other", "type": "a structure nested too deeply"}
    if isinstance(value, bool):
        return {"kind": "bool", "value": bool(value)}
    if isinstance(value, int):
        return {"kind": "int", "value": int(value)} if abs(value) < 2 ** 62 else {"kind": "float", "value": float(value)}
    if isinstance(value, float):
        return {"kind": "float", "value": float(value)}
    if isinstance(value, str):
        return {"kind": "str", "value": str(value)[:200]}
    if callable(value):
        return {"kind": "function", "type": type(value).__name__[:60]}
    if hasattr(value, "tolist") and hasattr(value, "shape"):
        return plain(value.tolist(), depth + 1)
    if isinstance(value, (tuple, list)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"kind": kind, "items": [plain(v, depth + 1) for v in list(value)[:40]]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": [[plain(k, depth + 1), plain(v, depth + 1)] for k, v in list(value.items())[:40]]}
    return {"kind": "other", "type": type(value).__name__[:60]}
'''

READ_DRIVER = PLAIN_SOURCE + '''

def drive(module, names):
    namespace = vars(module)
    return {name: plain(namespace[name]) if name in namespace else {"kind": "missing"} for name in names}
'''

CALL_DRIVER = PLAIN_SOURCE + '''

def drive(module, name, points):
    function = vars(module)[name]
    return [plain(function(x, y)) for x, y in points]
'''


@dataclass(frozen=True)
class Opaque:
    """A value that is not plain data (a function, an object): only its type is known."""

    kind: str
    type_name: str = ""

    def __str__(self) -> str:
        return f"a {self.type_name or self.kind}"


def decode(node: Any) -> Any:
    """Tagged plain data from the worker back to Python values; anything malformed is an `Opaque`."""
    if not isinstance(node, dict):
        return Opaque("other", "unreadable value")
    kind = node.get("kind")
    if kind in ("bool", "int", "float", "str") and type(node.get("value")).__name__ in ("bool", "int", "float", "str"):
        return node["value"]
    if kind in ("tuple", "list") and isinstance(node.get("items"), list):
        items = [decode(item) for item in node["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(node.get("items"), list):
        out = {}
        for pair in node["items"]:
            if isinstance(pair, list) and len(pair) == 2:
                key = decode(pair[0])
                if isinstance(key, (bool, int, float, str)):
                    out[key] = decode(pair[1])
        return out
    if kind == "function":
        return Opaque("function", str(node.get("type", "function")))
    return Opaque("other", str(node.get("type", "value")))


def describe(value: Any) -> str:
    """A short student-facing rendering of an answer."""
    if isinstance(value, Opaque):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe(v) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})" if isinstance(value, tuple) else f"[{inner}]"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def is_number(value: Any) -> bool:
    """An int or float (not a bool, not NaN or infinite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Quiz:
    """Reads the student's answers, explains missing ones, and compares numbers with the quiz's tolerance."""

    describe = staticmethod(describe)
    is_number = staticmethod(is_number)

    def __init__(self, rtol: float) -> None:
        self.rtol = rtol
        self._values: dict[str, Any] = {}  # name -> decoded answer: one read each (B2_SHAPES has 15 checks)

    def close(self, got: float, expected: float) -> bool:
        """Whether `got` is within the relative tolerance of `expected`."""
        return abs(got - expected) <= self.rtol * abs(expected)

    def value(self, student: Any, name: str) -> Any:
        """The student's module-level `name`, decoded; a failure explaining why when it is not there."""
        if name in self._values:
            return self._values[name]
        answers = student.drive(READ_DRIVER, [name], what=f"reading {name}").value
        node = answers.get(name) if isinstance(answers, dict) else None
        if isinstance(node, dict) and node.get("kind") == "missing":
            reason, hint = self.why_missing(student, name)
            raise CheckFailure(f"{name} is not defined in your file after loading it: {reason}", hint=hint)
        self._values[name] = decode(node)
        return self._values[name]

    def evaluate(self, student: Any, name: str, points: list[tuple[float, float]]) -> list[Any]:
        """The student's function `name` called at each (x, y) point, decoded."""
        function = self.value(student, name)
        if not (isinstance(function, Opaque) and function.kind == "function"):
            raise CheckFailure(f"{name} is {describe(function)}; expected a function of (x, y).",
                               hint=f"Define it with `def {name}(x, y): return ...` or `{name} = lambda x, y: ...`.")
        values = student.drive(CALL_DRIVER, name, [list(p) for p in points], what=name).value
        if not isinstance(values, list) or len(values) != len(points):
            raise StudentCodeError(f"{name} could not be evaluated at the check's points.")
        return [decode(v) for v in values]

    def why_missing(self, student: Any, name: str) -> tuple[str, str]:
        """Why `name` is not there, and a hint: its line was skipped at load, raised, or does not exist."""
        sandbox = student.sandbox
        as_loaded = plan_load(sandbox.source, filename=sandbox.filename)
        ran = {index for index, _, _ in sandbox.statements}
        for statement in as_loaded:
            if name not in _assigned_names(statement.source):
                continue
            where = f"line {statement.lineno}"
            if statement.index not in ran:
                reason = statement.reason or "it was not run when your file was loaded"
                if "__main__" in reason:
                    hint = (f"Move the assignment of {name} out of the `if __name__ == \"__main__\":` block: "
                            f"that block does not run when your file is graded.")
                elif "SyntaxError" in reason:
                    hint = f"Fix the syntax error around line {statement.lineno}: Python could not read it."
                else:
                    hint = f"Assign {name} its value directly, or with a simple expression of numbers."
                return f"{where} assigns it, but was not run when your file was loaded ({reason}).", hint
            for problem in sandbox.load_problems:
                if statement.lineno <= problem.lineno <= statement.end_lineno:
                    return (f"{where} assigns it, but raised {problem.type_name}: {problem.message}",
                            f"Fix the error on line {problem.lineno}: every line your answers need runs when "
                            f"your file is loaded.")
        similar = difflib.get_close_matches(name, [n for n in sandbox.names if n != name], n=1, cutoff=0.6)
        also = f" (your file defines {similar[0]}: a typo?)" if similar else ""
        return (f"no top-level line of your file assigns it{also}.",
                f"Assign {name} at the top level of your file (not inside a function), spelled exactly so.")


def _assigned_names(source: str) -> set[str]:
    """Module-level names a top-level statement binds (inside if/try/with/for too, not inside functions)."""
    try:
        tree = parse(source)
    except PARSE_ERRORS:
        # Code that does not parse still says what it meant to assign: NAME = ... at a line's start.
        return set(re.findall(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", source, flags=re.M))
    return names_bound_by(tree.body)


@pytest.fixture(scope="session")
def quiz(assignment) -> Quiz:
    """The quiz helpers, with the tolerance of assignment.toml."""
    return Quiz(float(assignment.setting("relative_tolerance")))


@pytest.fixture(scope="session")
def ref(reference: Any) -> Any:
    """The reference answers (trusted side only): the assignment's `reference` module
    (a copy made with `grader new NAME --from ...` has its own reference.py)."""
    return reference

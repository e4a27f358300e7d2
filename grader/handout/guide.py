"""How to self-check: the public checks' titles, read from the check files with `ast` (never imported)."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.config.assignment import CHECK_FILE_PATTERNS
from grader.config.assignment import Assignment
from grader.handout.solutions import FUNCTIONS, parse_reference
from grader.handout.starter import as_assignment

# pytest's default collection rules (the runner passes no ini file).
_CHECK_FILES = CHECK_FILE_PATTERNS


def public_checks(checks_dir: Path) -> list[tuple[str, str]]:
    """(check id, title) of every check marked ``@pytest.mark.public``, read with `ast`, never imported.

    The id is ``file.py::function`` (``file.py::Class::method`` in a class), the title the
    first line of the docstring (the function's name without one), as the grader shows it.
    """
    found = []
    files = sorted({p for pattern in _CHECK_FILES for p in Path(checks_dir).rglob(pattern)})
    for path in files:
        relative = path.relative_to(checks_dir).as_posix()
        tree = parse_reference(path.read_text(encoding="utf-8"), relative)
        module_public = _has_public_mark(tree.body)
        for node in tree.body:
            if isinstance(node, FUNCTIONS) and node.name.startswith("test"):
                if module_public or _is_public(node.decorator_list):
                    found.append((f"{relative}::{node.name}", _title(node)))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_public = module_public or _is_public(node.decorator_list) or _has_public_mark(node.body)
                found += [(f"{relative}::{node.name}::{item.name}", _title(item)) for item in node.body
                          if isinstance(item, FUNCTIONS) and item.name.startswith("test")
                          and (class_public or _is_public(item.decorator_list))]
    return found


def _is_public(decorators: list[ast.expr]) -> bool:
    """Whether one of `decorators` is ``pytest.mark.public`` (or ``mark.public``, called or not)."""
    for decorator in decorators:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "public" \
                and isinstance(target.value, (ast.Attribute, ast.Name)) \
                and getattr(target.value, "attr", getattr(target.value, "id", None)) == "mark":
            return True
    return False


def _has_public_mark(body: list[ast.stmt]) -> bool:
    """Whether `body` assigns ``pytestmark`` the public mark (alone or in a list)."""
    for node in body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            value = node.value
            marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            if _is_public(marks):
                return True
    return False


def _title(node: ast.AST) -> str:
    """A check's title as the grader shows it: its docstring's first line, else its name."""
    doc = (ast.get_docstring(node) or "").strip()
    return doc.splitlines()[0] if doc else node.name


def checking_guide(assignment: Assignment | str) -> str:
    """README.md of the handout: the files, how to self-check, and the public checks by rubric item."""
    assignment = as_assignment(assignment)
    name = assignment.id
    lines = [f"# {assignment.title}", "", assignment.description, "", "## Files", "",
             f"- `{name}.py`: the starter as a Python file.",
             f"- `{name}.ipynb`: the same starter as a Jupyter notebook.",
             "", "Work in either one and hand in that one file (not this folder: it holds both).",
             "", "## Checking your work", "",
             "Run the self-check on your file whenever you like:", "", "```",
             f"grader check {name}.py -a {name}", f"grader check {name}.ipynb -a {name}", "```", "",
             "It runs your code in a sandbox against the public checks below and shows what passed, "
             "what failed and a hint. Your grade also counts checks that are not listed here, so passing "
             "the public checks is a good sign, not a guarantee.", "", "## Public checks", ""]
    checks = public_checks(assignment.checks_dir)
    for heading, titles in _by_rubric_item(assignment, checks):
        lines.append(f"### {heading}")
        lines.append("")
        lines += [f"- {title}" for title in titles] or ["- (no public check)"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _by_rubric_item(assignment: Assignment, checks: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Check titles grouped under their rubric item (or their file when there is no rubric), deduplicated."""
    from grader.config.rubric import RubricError, rubric_for
    try:
        items = rubric_for(assignment.rubric).items
    except RubricError:
        items = ()
    groups: dict[str, list[str]] = {}
    for item in items:
        heading = f"{item.title} ({item.points:g} points)"
        groups[heading] = []
        if item.source == "quality":
            groups[heading].append(f"Not a check: {item.description or 'an automatic estimate from your source.'}")
    for check_id, title in checks:
        owner = next((item for item in items if item.matches(check_id)
                      or any(s.startswith(check_id + "[") for s in item.checks)), None)
        heading = f"{owner.title} ({owner.points:g} points)" if owner else check_id.partition("::")[0]
        if title not in groups.setdefault(heading, []):
            groups[heading].append(title)
    return list(groups.items())

"""`grader new NAME [--from ASSIGNMENT]`: a folder an instructor turns into an assignment of their own.

Without ``--from`` it writes ``./NAME/`` from the template beside this module:
a small working assignment (assignment.toml, rubric.toml, reference.py with a
solution region, checks/ with a conftest, one public and one hidden check,
and fixtures/ with one known bug). With ``--from`` it copies an assignment
(bundled or local) to adapt: its checks, its rubric as ``rubric.toml``, its
reference module as ``reference.py`` (the copy's checks read it through the
``reference`` fixture), with ``id``, ``rubric``, ``reference`` and the
rubric's ``assignment`` rewritten; hooks named as dotted modules still come
from the installed grader.

The folder is built beside its destination and loaded like any assignment
(every key validated) before it is moved into place, so a failure leaves
nothing behind, and an existing ``./NAME`` is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from grader.config import locations
from grader.config.assignment import AssignmentError, assignment_folder, load_assignment
from grader.errors import ConfigurationError

TEMPLATE = Path(__file__).with_name("template")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PLACEHOLDER = "__ID__"
# Never copied from an assignment: compiled files, caches, the bundled lab's demo class.
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "demo-class.toml")


class NewAssignmentError(ConfigurationError):
    """`grader new` cannot write the folder; the message says why and what to do."""


def new_assignment(name: str, parent: str | os.PathLike = ".", *, source: str | None = None) -> Path:
    """Write ``parent/name/`` (from the template, or a copy of assignment `source`); returns its path."""
    if not _NAME.fullmatch(name):
        raise NewAssignmentError(f"{name!r} cannot name an assignment: use letters, digits, '-', '_' or '.' "
                                 f"(at most 64, starting with a letter or digit)")
    parent = Path(parent).resolve()
    target = parent / name
    if target.exists() or target.is_symlink():
        raise NewAssignmentError(f"{target} already exists; choose another NAME or move it away first")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".grader-new-", dir=parent))
    try:
        folder = staging / name
        if source is None:
            _from_template(folder, name)
        else:
            _from_assignment(folder, name, source)
        _validate(staging, name)
        os.rename(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _from_template(folder: Path, name: str) -> None:
    """The template's files with the placeholder id replaced by `name`."""
    for path in sorted(TEMPLATE.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        out = folder / path.relative_to(TEMPLATE)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(path.read_text(encoding="utf-8").replace(_PLACEHOLDER, name), encoding="utf-8")


def _from_assignment(folder: Path, name: str, source: str) -> None:
    """A copy of assignment `source` under id `name`, with its own rubric.toml and reference.py."""
    original = load_assignment(source)  # validated: a broken source is reported as such, not as a broken copy
    shutil.copytree(assignment_folder(source), folder, ignore=_SKIP)
    from grader.config.rubric import rubric_file
    rubric = Path(original.rubric) if original.rubric.endswith(".toml") else rubric_file(original.rubric)
    rubric_text = rubric.read_text(encoding="utf-8")
    (folder / "rubric.toml").write_text(_set_key(rubric_text, "assignment", name, rubric), encoding="utf-8")
    if original.reference_file is not None:
        shutil.copyfile(original.reference_file, folder / "reference.py")
    toml = folder / "assignment.toml"
    text = toml.read_text(encoding="utf-8")
    text = _set_key(text, "id", name, toml)
    text = _set_key(text, "rubric", "rubric.toml", toml)
    if original.reference_file is not None:
        text = _set_key(text, "reference", "reference.py", toml, after="rubric")
    header = (f"# Copied from {source} by `grader new {name} --from {source}`: adapt it (docs/authoring.md).\n"
              f"# Its rubric is rubric.toml and its reference solution reference.py, both in this folder.\n")
    toml.write_text(header + text, encoding="utf-8")


def _set_key(text: str, key: str, value: str, path: Path, *, after: str | None = None) -> str:
    """`text` (TOML) with top-level ``key = "value"``: the existing line replaced, or a line added after `after`."""
    head_end = re.search(r"^\[", text, flags=re.M)
    head, rest = (text[:head_end.start()], text[head_end.start():]) if head_end else (text, "")
    line = f'{key} = "{value}"'
    pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", flags=re.M)
    if pattern.search(head):
        return pattern.sub(line.replace("\\", "\\\\"), head, count=1) + rest
    anchor = re.search(rf"^{re.escape(after)}\s*=.*$", head, flags=re.M) if after else None
    if anchor is None:
        if after is not None:
            raise NewAssignmentError(f"{path}: no top-level `{after}` line to add `{key}` after")
        return f"{line}\n{head}{rest}"
    return head[:anchor.end()] + "\n" + line + head[anchor.end():] + rest


def _validate(staging: Path, name: str) -> None:
    """Load the new assignment from the staging folder, as `grader list --assignments` would."""
    saved = os.environ.get(locations.ENV_VAR)
    os.environ[locations.ENV_VAR] = str(staging)
    try:
        load_assignment(name)
    except AssignmentError as exc:
        raise NewAssignmentError(f"the new assignment does not load: {exc}") from None
    finally:
        if saved is None:
            os.environ.pop(locations.ENV_VAR, None)
        else:
            os.environ[locations.ENV_VAR] = saved


def next_steps(folder: Path) -> list[str]:
    """What to run next, as the command prints it."""
    name, where = folder.name, os.path.relpath(folder.parent)
    bug = sorted((folder / "fixtures").glob("*.py")) if (folder / "fixtures").is_dir() else []
    lines = [f"wrote {os.path.relpath(folder)}/: " + ", ".join(sorted(p.name + ("/" if p.is_dir() else "")
                                                                    for p in folder.iterdir())),
             "Try it (every command takes --assignments DIR, the folder that holds it):",
             f"  grader list --assignments {where}",
             f"  grader assign {name} -o {name}-handout --assignments {where}",
             f"  grader grade {os.path.relpath(folder / 'reference.py')} -a {name} --assignments {where}"]
    if bug:
        lines.append(f"  grader check {os.path.relpath(bug[0])} -a {name} --assignments {where}")
    lines.append("docs/authoring.md explains every file and key, and how to add a check, a hint, a rubric item "
                 "or a limit.")
    return lines

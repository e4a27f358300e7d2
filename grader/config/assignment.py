"""Assignment configuration: ``assignments/<id>/assignment.toml``, validated at load time.

An assignment names its checks folder, its rubric, the modules a submission
may not import, the modules the sandbox preloads, accepted aliases of
function names, the functions the code-quality estimate looks for, sandbox
limits, settings its checks read (e.g. the training budget), and its hooks:
the trusted code of the assignment that the engine calls (hints for a
student's exception, extra report sections, the validation of its settings).
The engine knows nothing of any one assignment beyond what this file says.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.config.hooks import Hooks, load_hooks
from grader.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"

_TOP_KEYS = {"id", "title", "description", "rubric", "checks", "refused_imports", "preload", "aliases",
             "required_functions", "required_names", "limits", "settings", "starter", "hooks"}


class AssignmentError(ConfigurationError):
    """An assignment configuration that cannot be used; the message names file and field."""


@dataclass(frozen=True)
class Assignment:
    """One assignment's configuration."""

    id: str
    title: str
    folder: Path
    checks_dir: Path
    rubric: str
    description: str = ""
    refused_imports: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    aliases: dict[str, list[str]] = field(default_factory=dict)
    required_functions: tuple[str, ...] = ()
    # Module-level values the checks read (the quiz's answers): the statements
    # binding them run at load even where the load policy would skip them.
    required_names: tuple[str, ...] = ()
    # Sandbox limits by the field names of grader.sandbox.Limits (bytes, seconds); absent ones keep its defaults.
    limits: dict[str, float] = field(default_factory=dict)
    # Wall-clock seconds for all checks of one submission ([limits] submission_seconds); past it the
    # remaining checks fail with status "budget" (grader.checking.budget).
    submission_seconds: float = 300.0
    settings: dict[str, Any] = field(default_factory=dict)
    starter: dict[str, Any] = field(default_factory=dict)
    hooks: Hooks = field(default_factory=Hooks)

    @property
    def toml_path(self) -> Path:
        """The assignment.toml this configuration was read from."""
        return self.folder / "assignment.toml"

    def with_settings(self, changes: dict[str, Any]) -> "Assignment":
        """This assignment with some [settings] replaced (e.g. a shorter training budget), validated again."""
        if not changes:
            return self
        for key, value in changes.items():
            if key not in self.settings:
                raise AssignmentError(f"{self.toml_path}: [settings] has no `{key}` to replace "
                                      f"(settings: {', '.join(sorted(self.settings)) or 'none'})")
            _same_kind(self.toml_path, key, self.settings[key], value)
        changed = dataclasses.replace(self, settings={**self.settings, **changes})
        _validate_settings(changed)
        return changed

    def setting(self, key: str) -> Any:
        """A value from [settings]; a missing key is a configuration error, not a KeyError in a check."""
        try:
            return self.settings[key]
        except KeyError:
            raise AssignmentError(f"{self.folder / 'assignment.toml'}: [settings] has no `{key}`") from None


def available_assignments() -> list[str]:
    """The ids of every assignment shipped in ``assignments/``."""
    return sorted(p.name for p in ASSIGNMENTS_DIR.iterdir() if (p / "assignment.toml").is_file())


def load_assignment(assignment_id: str) -> Assignment:
    """Load and validate ``assignments/<assignment_id>/assignment.toml``."""
    folder = ASSIGNMENTS_DIR / assignment_id
    path = folder / "assignment.toml"
    if not path.is_file():
        known = ", ".join(available_assignments()) or "none"
        raise AssignmentError(f"unknown assignment {assignment_id!r} (known: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: invalid TOML: {exc}") from None
    _no_unknown(path, "", data, _TOP_KEYS)
    if data.get("id") != assignment_id:
        raise AssignmentError(f"{path}: `id` must be {assignment_id!r}, found {data.get('id')!r}")
    checks_dir = folder / _typed(path, "checks", data.get("checks", "checks"), str)
    if not checks_dir.is_dir():
        raise AssignmentError(f"{path}: `checks` folder {checks_dir} does not exist")
    aliases = _typed(path, "aliases", data.get("aliases", {}), dict)
    for key, value in aliases.items():
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise AssignmentError(f"{path}: aliases.{key} must be a list of names")
    limits = _typed(path, "limits", data.get("limits", {}), dict)
    assignment = Assignment(
        id=assignment_id,
        title=_typed(path, "title", data.get("title", assignment_id), str),
        description=_typed(path, "description", data.get("description", ""), str),
        folder=folder,
        checks_dir=checks_dir,
        rubric=_typed(path, "rubric", data.get("rubric", assignment_id), str),
        refused_imports=tuple(_str_list(path, "refused_imports", data.get("refused_imports", []))),
        preload=tuple(_str_list(path, "preload", data.get("preload", []))),
        aliases=aliases,
        required_functions=tuple(_str_list(path, "required_functions", data.get("required_functions", []))),
        required_names=tuple(_str_list(path, "required_names", data.get("required_names", []))),
        limits=_limits(path, limits),
        submission_seconds=_submission_seconds(path, limits),
        settings=_typed(path, "settings", data.get("settings", {}), dict),
        starter=_typed(path, "starter", data.get("starter", {}), dict),
        hooks=load_hooks(path, folder, _typed(path, "hooks", data.get("hooks", {}), dict)),
    )
    _validate_settings(assignment)
    return assignment


def _validate_settings(assignment: Assignment) -> None:
    """Run the assignment's `check_settings` hook: a bad value is a configuration error now, not in a check."""
    problems = assignment.hooks.check_settings(assignment.settings) if assignment.hooks.check_settings else []
    if problems:
        raise AssignmentError("\n".join(f"{assignment.toml_path}: [settings] {problem}" for problem in problems))


def _same_kind(path: Path, key: str, current: Any, new: Any) -> None:
    """A replaced setting keeps the kind of value the file gives (a number stays a number)."""
    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "a boolean"
        if isinstance(value, (int, float)):
            return "a number"
        return f"a {type(value).__name__}"
    if kind(current) != kind(new):
        raise AssignmentError(f"{path}: [settings] `{key}` must be {kind(current)} like the file's "
                              f"{current!r}, found {new!r}")


def _no_unknown(path: Path, table: str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        where = f"[{table}] " if table else ""
        raise AssignmentError(f"{path}: {where}unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(allowed))}")


def _typed(path: Path, key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise AssignmentError(f"{path}: `{key}` must be a {kind.__name__}, found {value!r}")
    return value


def _str_list(path: Path, key: str, value: Any) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise AssignmentError(f"{path}: `{key}` must be a list of strings, found {value!r}")
    return value


# [limits] key -> (grader.sandbox.Limits field, unit factor, type).
_LIMIT_FIELDS = {
    "call_timeout": ("call_timeout", 1, float), "load_timeout": ("load_timeout", 1, float),
    "memory_mb": ("memory_bytes", 2**20, int), "cpu_seconds": ("cpu_seconds", 1, int),
    "nproc": ("nproc", 1, int), "nofile": ("nofile", 1, int), "fsize_mb": ("fsize", 2**20, int),
    "output_kb": ("output_bytes", 2**10, int), "max_message_mb": ("max_message_bytes", 2**20, int),
    "disk_mb": ("disk_bytes", 2**20, int), "disk_files": ("disk_files", 1, int),
}


# The [limits] key that is not the sandbox's: the wall-clock budget of all checks of one submission.
_BUDGET_KEY = "submission_seconds"


def _limits(path: Path, data: dict) -> dict[str, float]:
    """[limits] in the sandbox's own units, by its field names; keys not given keep the sandbox's defaults."""
    _no_unknown(path, "limits", data, set(_LIMIT_FIELDS) | {_BUDGET_KEY})
    limits: dict[str, float] = {}
    for key, value in data.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf:
            raise AssignmentError(f"{path}: limits.{key} must be a positive number, found {value!r}")
        if key == _BUDGET_KEY:
            continue
        if key == "disk_files" and value != int(value):
            raise AssignmentError(f"{path}: limits.disk_files must be a whole number of files, found {value!r}")
        name, factor, kind = _LIMIT_FIELDS[key]
        limits[name] = kind(value * factor)
    return limits


def _submission_seconds(path: Path, data: dict) -> float:
    """[limits] submission_seconds (already checked positive by `_limits`), at least as long as one call may be."""
    default = Assignment.__dataclass_fields__["submission_seconds"].default
    budget = float(data.get(_BUDGET_KEY, default))
    for key in ("call_timeout", "load_timeout"):
        single = float(data.get(key, 0.0))
        if budget < single:
            raise AssignmentError(f"{path}: limits.{_BUDGET_KEY} ({budget:g} s, for all checks of a submission) "
                                  f"must be at least limits.{key} ({single:g} s): one call alone may take that long")
    return budget

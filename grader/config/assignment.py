"""Assignment configuration: ``<assignment folder>/assignment.toml``, validated at load time.

An assignment is a folder named by its id, found in the folders of local
assignments (``--assignments DIR``, ``GRADER_ASSIGNMENTS``) before the bundled
ones (grader.config.locations). Its assignment.toml names its checks folder,
its rubric, its reference module, the modules a submission may not import,
the modules the sandbox preloads, accepted aliases of function names, the
functions the code-quality estimate looks for, sandbox limits, settings its
checks read (e.g. the training budget), what the handout gives ([starter]),
and its hooks: the trusted code of the assignment that the engine calls
(hints for a student's exception, extra report sections, the validation of
its settings). The engine knows nothing of any one assignment beyond what
this file says; docs/authoring.md documents every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.config import locations
from grader.config.hooks import Hooks, load_hooks
from grader.errors import ConfigurationError

_TOP_KEYS = {"id", "title", "description", "rubric", "reference", "checks", "refused_imports", "preload",
             "aliases", "required_functions", "required_names", "limits", "settings", "starter", "hooks"}
# [starter]: what `grader assign` makes of the reference (grader/handout/).
_STARTER_KEYS = {"instructions": str, "reference_docstring": bool, "given": list}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
# pytest's default collection rules (the runner passes no ini file).
CHECK_FILE_PATTERNS = ("test_*.py", "*_test.py")


class AssignmentError(ConfigurationError):
    """An assignment configuration that cannot be used; the message names file and field."""


@dataclass(frozen=True)
class Assignment:
    """One assignment's configuration."""

    id: str
    title: str
    folder: Path
    checks_dir: Path
    # A bundled rubric's name (rubrics/<name>.toml) or the path of the assignment's own rubric file.
    rubric: str
    description: str = ""
    # The reference module as written: a dotted module of the trusted side or a .py file of the folder.
    reference: str = ""
    # Its source file (the handout is made from it).
    reference_file: Path | None = None
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
    def reference_module(self) -> str | None:
        """The reference's dotted module name when it is one (None for a file of the assignment's folder)."""
        return None if self.reference.endswith(".py") else self.reference

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
    """The ids of every assignment found: local folders' and the bundled ones, each id once."""
    found = set()
    for folder in locations.assignment_dirs():
        if folder.is_dir():
            found.update(p.name for p in folder.iterdir() if (p / "assignment.toml").is_file())
    return sorted(found)


def assignment_folder(assignment_id: str) -> Path | None:
    """The folder of assignment `assignment_id`: the first local folder that has it, else the bundled one."""
    if not _ID.fullmatch(assignment_id or ""):
        return None
    for folder in locations.assignment_dirs():
        if (folder / assignment_id / "assignment.toml").is_file():
            return folder / assignment_id
    return None


def load_assignment(assignment_id: str) -> Assignment:
    """Load and validate ``<folder>/<assignment_id>/assignment.toml`` (local folders first, then bundled)."""
    folder = assignment_folder(assignment_id)
    if folder is None:
        known = ", ".join(available_assignments()) or "none"
        searched = ", ".join(str(d) for d in locations.local_assignment_dirs())
        where = f"; searched {searched} (--assignments / {locations.ENV_VAR}) and the bundled ones" if searched \
            else f" (add a folder of your own with --assignments DIR or {locations.ENV_VAR})"
        raise AssignmentError(f"unknown assignment {assignment_id!r} (known: {known}){where}")
    return read_assignment(folder, assignment_id)


def read_assignment(folder: Path, assignment_id: str | None = None) -> Assignment:
    """Read and validate ``FOLDER/assignment.toml`` (its `id` must be `assignment_id` when given).

    Every problem is an AssignmentError naming the file and the key: unknown
    keys, wrong types, a missing checks folder, a rubric or reference that
    cannot be found, hooks that do not import, and the [settings] problems
    its check_settings hook finds.
    """
    path = folder / "assignment.toml"
    if assignment_id is None:
        assignment_id = folder.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssignmentError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"{path}: invalid TOML: {exc}") from None
    _no_unknown(path, "", data, _TOP_KEYS)
    if data.get("id") != assignment_id:
        raise AssignmentError(f"{path}: `id` must be {assignment_id!r} (the folder's name), found {data.get('id')!r}")
    checks_dir = folder / _typed(path, "checks", data.get("checks", "checks"), str)
    if not checks_dir.is_dir():
        raise AssignmentError(f"{path}: `checks` folder {checks_dir} does not exist")
    if not any(f for pattern in CHECK_FILE_PATTERNS for f in checks_dir.rglob(pattern)):
        raise AssignmentError(f"{path}: `checks` folder {checks_dir} holds no check file "
                              f"({' or '.join(CHECK_FILE_PATTERNS)})")
    aliases = _typed(path, "aliases", data.get("aliases", {}), dict)
    for key, value in aliases.items():
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise AssignmentError(f"{path}: aliases.{key} must be a list of names")
    reference, reference_file = _reference(path, folder, data.get("reference"), assignment_id)
    limits = _typed(path, "limits", data.get("limits", {}), dict)
    assignment = Assignment(
        id=assignment_id,
        title=_typed(path, "title", data.get("title", assignment_id), str),
        description=_typed(path, "description", data.get("description", ""), str),
        folder=folder,
        checks_dir=checks_dir,
        rubric=_rubric(path, folder, data.get("rubric"), assignment_id),
        reference=reference,
        reference_file=reference_file,
        refused_imports=tuple(_str_list(path, "refused_imports", data.get("refused_imports", []))),
        preload=tuple(_modules(path, "preload", data.get("preload", []))),
        aliases=aliases,
        required_functions=tuple(_str_list(path, "required_functions", data.get("required_functions", []))),
        required_names=tuple(_str_list(path, "required_names", data.get("required_names", []))),
        limits=_limits(path, limits),
        submission_seconds=_submission_seconds(path, limits),
        settings=_typed(path, "settings", data.get("settings", {}), dict),
        starter=_starter(path, _typed(path, "starter", data.get("starter", {}), dict)),
        hooks=_hooks(path, folder, _typed(path, "hooks", data.get("hooks", {}), dict)),
    )
    _validate_settings(assignment)
    return assignment


def _rubric(path: Path, folder: Path, value: Any, assignment_id: str) -> str:
    """`rubric`: a file of the folder (``rubric.toml``) or a bundled rubric's name; loaded now to validate it."""
    from grader.config.rubric import load_rubric, rubric_file
    if value is None:
        # Without the key: the folder's rubric.toml, else the bundled rubric named like the assignment, else
        # none yet (an assignment read only to run its checks); grading then fails naming the rubric.
        if (folder / "rubric.toml").is_file():
            value = "rubric.toml"
        elif (locations.bundled_rubrics_dir() / f"{assignment_id}.toml").is_file():
            value = assignment_id
        else:
            return assignment_id
    value = _typed(path, "rubric", value, str)
    if value.endswith(".toml"):
        file = (folder / value).resolve()
        if not file.is_file():
            raise AssignmentError(f"{path}: `rubric` file {value} is not in {folder}")
    else:
        file = rubric_file(value, where=f"{path}: `rubric`")
    rubric = load_rubric(file)
    if rubric.assignment != assignment_id:
        raise AssignmentError(f"{file}: `assignment` must be {assignment_id!r} (the assignment whose "
                              f"`rubric` names this file, {path}), found {rubric.assignment!r}")
    return str(file) if value.endswith(".toml") else value


def _reference(path: Path, folder: Path, value: Any, assignment_id: str) -> tuple[str, Path | None]:
    """`reference`: a .py file of the folder or a dotted module; (as written, its source file).

    Without the key: ``reference.py`` when the folder has one, else the
    bundled ``reference.<id with _ for ->`` when that exists, else none (an
    assignment without a reference has no handout and no `reference` fixture).
    """
    if value is None:
        if (folder / "reference.py").is_file():
            value = "reference.py"
        else:
            default = f"reference.{assignment_id.replace('-', '_').replace('.', '_')}"
            return (default, _module_file(default)) if _module_file(default) else ("", None)
    value = _typed(path, "reference", value, str)
    if value.endswith(".py"):
        file = (folder / value).resolve()
        if not file.is_file() or folder.resolve() not in file.parents:
            raise AssignmentError(f"{path}: `reference` file {value} is not a file of {folder}")
        return value, file
    if not _DOTTED.fullmatch(value):
        raise AssignmentError(f"{path}: `reference` must be a .py file of the assignment's folder "
                              f"(\"reference.py\") or a dotted module (\"reference.backprop_lab\"), found {value!r}")
    file = _module_file(value)
    if file is None:
        raise AssignmentError(f"{path}: `reference` module {value} cannot be found on the trusted side")
    return value, file


def _module_file(name: str) -> Path | None:
    """The source file of dotted module `name` (its parent packages are imported, the module itself is not)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def _modules(path: Path, key: str, value: Any) -> list[str]:
    """A list of importable module names (their top-level package must be installed)."""
    names = _str_list(path, key, value)
    for name in names:
        if not _DOTTED.fullmatch(name):
            raise AssignmentError(f"{path}: `{key}` entry {name!r} is not a module name")
        try:
            found = importlib.util.find_spec(name.split(".")[0]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise AssignmentError(f"{path}: `{key}` names {name}, which is not installed")
    return names


def _starter(path: Path, table: dict) -> dict[str, Any]:
    """[starter], its keys and their types checked (the handout reads it)."""
    for key, value in table.items():
        kind = _STARTER_KEYS.get(key)
        if kind is None:
            if key == "reference":
                raise AssignmentError(f"{path}: [starter] `reference` moved to the top level: "
                                      f"reference = \"reference.py\" or a dotted module")
            _no_unknown(path, "starter", {key: value}, set(_STARTER_KEYS))
        if not isinstance(value, kind):
            raise AssignmentError(f"{path}: [starter] `{key}` must be a {kind.__name__}, found {value!r}")
    _str_list(path, "starter.given", table.get("given", []))
    return table


def _hooks(path: Path, folder: Path, table: dict) -> Hooks:
    try:
        return load_hooks(path, folder, table)
    except ConfigurationError as exc:
        raise AssignmentError(str(exc)) from None


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
        guesses = [match for key in unknown for match in difflib.get_close_matches(key, sorted(allowed), n=1)]
        guess = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
        raise AssignmentError(f"{path}: {where}unknown key(s) {', '.join(unknown)}{guess}; "
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

"""An assignment's hooks: the trusted code of the assignment that the engine calls by name.

``[hooks]`` in assignment.toml maps a hook to ``"module:function"``. The
module is either a dotted name importable on the trusted side
(``reference.diagnose``) or a ``.py`` file in the assignment's folder
(``hooks.py``), so an instructor's own assignment can carry its hooks. An
assignment without a hook simply gets none of that behaviour: the engine has
no built-in knowledge of any assignment.

Hooks (all optional):

- ``exception_hint(function, type_name, message, arg_shapes) -> str | None``:
  a hint for an exception the student's code raised in a check;
- ``report_sections(checks, settings) -> list[grader.report.sections.Section]``:
  extra sections of the student's HTML report, built from the recorded
  check outcomes (dicts as in results.json) and the assignment's settings;
- ``check_settings(settings) -> list[str]``: the problems of the
  assignment's [settings] (each a sentence naming the key), checked when the
  assignment is loaded so that no check finds a bad value while grading.

Every hook is imported when the assignment loads: a missing module or
function is a configuration error naming the file and the hook.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from grader.errors import ConfigurationError

HOOK_NAMES = ("exception_hint", "report_sections", "check_settings")
_SPEC = re.compile(r"(?P<module>[^:]+):(?P<function>[A-Za-z_]\w*)")


@dataclass(frozen=True)
class Hooks:
    """The assignment's hook functions (None where it has none), and the modules they come from."""

    exception_hint: Callable[..., Any] | None = None
    report_sections: Callable[..., Any] | None = None
    check_settings: Callable[..., Any] | None = None
    modules: tuple[str, ...] = ()


def load_hooks(toml_path: Path, folder: Path, table: dict[str, Any]) -> Hooks:
    """Import the functions ``[hooks]`` names; a configuration error names the file, the hook and the problem."""
    unknown = sorted(set(table) - set(HOOK_NAMES))
    if unknown:
        raise ConfigurationError(f"{toml_path}: [hooks] unknown hook(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(HOOK_NAMES)}")
    found: dict[str, Callable[..., Any]] = {}
    modules: list[str] = []
    for name, spec in table.items():
        match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
        if match is None:
            raise ConfigurationError(f"{toml_path}: [hooks] {name} must be \"module:function\", found {spec!r}")
        module = load_module(toml_path, folder, f"[hooks] {name}", match["module"])
        function = getattr(module, match["function"], None)
        if not callable(function):
            raise ConfigurationError(f"{toml_path}: [hooks] {name}: {match['module']} has no function "
                                     f"{match['function']!r}")
        found[name] = function
        modules.append(module.__name__)
    return Hooks(**found, modules=tuple(dict.fromkeys(modules)))


def load_reference(assignment: Any) -> Any:
    """The assignment's reference module (grader.config.assignment's `reference`), for its checks."""
    if not assignment.reference:
        raise ConfigurationError(f"{assignment.toml_path}: the checks use the `reference` fixture but the "
                                 f"assignment has no reference module (set `reference`)")
    return load_module(assignment.toml_path, assignment.folder, "`reference`", assignment.reference)


def load_module(toml_path: Path, folder: Path, hook: str, module: str) -> Any:
    """A dotted module, or a .py file of the assignment's folder under a private module name (loaded once).

    `hook` says which key names the module, for the configuration error
    raised when it cannot be imported.
    """
    try:
        if not module.endswith(".py"):
            return importlib.import_module(module)
        path = (folder / module).resolve()
        if not path.is_file() or folder.resolve() not in path.parents:
            raise ConfigurationError(f"{toml_path}: {hook}: {module} is not a file of {folder}")
        name = f"_grader_hooks_{abs(hash(str(path)))}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[name]
            raise
        return loaded
    except ConfigurationError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any failure to import is the same configuration error
        raise ConfigurationError(f"{toml_path}: {hook}: cannot import {module} "
                                 f"({type(exc).__name__}: {exc})") from None

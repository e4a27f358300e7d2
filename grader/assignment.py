"""Assignment configuration: ``assignments/<id>/assignment.toml``, validated at load time.

An assignment names its checks folder, its rubric, the modules a submission
may not import, the modules the sandbox preloads, accepted aliases of
function names, the functions the code-quality estimate looks for, sandbox
limits, and free-form settings its checks read (e.g. the training budget).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import Limits, SandboxConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"

_TOP_KEYS = {"id", "title", "description", "rubric", "checks", "refused_imports", "preload", "aliases",
             "required_functions", "required_names", "limits", "settings", "starter"}
_LIMIT_KEYS = {"call_timeout", "load_timeout", "memory_mb", "cpu_seconds", "nproc", "nofile", "fsize_mb",
               "output_kb", "max_message_mb", "disk_mb", "disk_files"}


class AssignmentError(Exception):
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
    limits: Limits = field(default_factory=Limits)
    settings: dict[str, Any] = field(default_factory=dict)
    starter: dict[str, Any] = field(default_factory=dict)

    def sandbox_config(self, support_dirs: tuple[str, ...] = ()) -> SandboxConfig:
        """The sandbox configuration for one submission of this assignment."""
        return SandboxConfig(assignment=self.id, limits=self.limits, refused_imports=self.refused_imports,
                             support_dirs=tuple(support_dirs), preload=self.preload)

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
    return Assignment(
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
        limits=_limits(path, _typed(path, "limits", data.get("limits", {}), dict)),
        settings=_typed(path, "settings", data.get("settings", {}), dict),
        starter=_typed(path, "starter", data.get("starter", {}), dict),
    )


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


def _limits(path: Path, data: dict) -> Limits:
    _no_unknown(path, "limits", data, _LIMIT_KEYS)
    for key, value in data.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise AssignmentError(f"{path}: limits.{key} must be a positive number, found {value!r}")
    if "disk_files" in data and data["disk_files"] != int(data["disk_files"]):
        raise AssignmentError(f"{path}: limits.disk_files must be a whole number of files, found {data['disk_files']!r}")
    defaults = Limits()
    mb = 2**20
    return Limits(
        call_timeout=float(data.get("call_timeout", defaults.call_timeout)),
        load_timeout=float(data.get("load_timeout", defaults.load_timeout)),
        memory_bytes=int(data.get("memory_mb", defaults.memory_bytes // mb) * mb),
        cpu_seconds=int(data.get("cpu_seconds", defaults.cpu_seconds)),
        nproc=int(data.get("nproc", defaults.nproc)),
        nofile=int(data.get("nofile", defaults.nofile)),
        fsize=int(data.get("fsize_mb", defaults.fsize // mb) * mb),
        disk_bytes=int(data.get("disk_mb", defaults.disk_bytes // mb) * mb),
        disk_files=int(data.get("disk_files", defaults.disk_files)),
        output_bytes=int(data.get("output_kb", defaults.output_bytes // 1024) * 1024),
        max_message_bytes=int(data.get("max_message_mb", defaults.max_message_bytes // mb) * mb),
    )

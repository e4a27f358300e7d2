"""A wheel of the running grader, for installing it elsewhere (a Gradescope image) from any layout.

The wheel holds what `python -m build` puts in one: the ``grader`` and
``reference`` packages, the bundled assignments and rubrics inside
``grader/_bundled/`` (read from wherever grader.config.locations finds them,
a checkout or an installation) and the metadata pip needs (the requirements
of the installed distribution, else of the checkout's pyproject.toml). The
demo class is left out: an autograder never runs the demo.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import tomllib
import zipfile
from pathlib import Path

from grader import __version__
from grader.config import locations
from grader.errors import ConfigurationError

DISTRIBUTION = "backprop-grader"
_SKIP_PARTS = {"__pycache__", ".pytest_cache", "_bundled"}
# A fixed timestamp: the same grader makes the same wheel.
_DATE = (2026, 1, 1, 0, 0, 0)


def requirements() -> tuple[list[str], str]:
    """(Requires-Dist lines without the extras, Requires-Python) of this grader."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        requires = [r for r in dist.requires or [] if "extra ==" not in r]
        return requires, dist.metadata.get("Requires-Python") or ">=3.11"
    except importlib.metadata.PackageNotFoundError:
        pass
    pyproject = locations.code_root() / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        raise ConfigurationError(f"cannot tell this grader's requirements: {DISTRIBUTION} is not installed and "
                                 f"{pyproject} cannot be read") from None
    return list(project.get("dependencies", [])), project.get("requires-python", ">=3.11")


def _files() -> list[tuple[str, Path]]:
    """(name in the wheel, file) of every file the wheel holds, sorted."""
    found: list[tuple[str, Path]] = []
    for package in ("grader", "reference"):
        root = locations.code_root() / package
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and not _SKIP_PARTS & set(relative.parts) and path.suffix not in (".pyc", ".pyo"):
                found.append((f"{package}/{relative.as_posix()}", path))
    for name, folder in (("assignments", locations.bundled_assignments_dir()),
                         ("rubrics", locations.bundled_rubrics_dir())):
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if path.is_file() and not _SKIP_PARTS & set(relative.parts) and path.suffix not in (".pyc", ".pyo"):
                found.append((f"grader/_bundled/{name}/{relative.as_posix()}", path))
    return sorted(found)


def wheel_name() -> str:
    """The file name of this grader's wheel."""
    return f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"


def write_wheel(folder: Path) -> Path:
    """Write this grader's wheel into `folder`; returns its path."""
    requires, python = requirements()
    dist_info = f"{DISTRIBUTION.replace('-', '_')}-{__version__}.dist-info"
    metadata = "\n".join(["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {__version__}",
                          f"Requires-Python: {python}", *[f"Requires-Dist: {r}" for r in requires]]) + "\n"
    generated = {
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (b"Wheel-Version: 1.0\nGenerator: grader export\nRoot-Is-Purelib: true\n"
                               b"Tag: py3-none-any\n"),
        f"{dist_info}/entry_points.txt": b"[console_scripts]\ngrader = grader.cli:main\n",
        f"{dist_info}/top_level.txt": b"grader\nreference\n",
    }
    path = Path(folder) / wheel_name()
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [(name, file.read_bytes()) for name, file in _files()] + sorted(generated.items())
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=_DATE), data, zipfile.ZIP_DEFLATED)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=_DATE), "\n".join(record) + "\n",
                         zipfile.ZIP_DEFLATED)
    return path

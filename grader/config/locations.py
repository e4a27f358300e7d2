"""Where the grader's data lives: the bundled assignments, rubrics, reference and demo class, and local ones.

Two layouts hold the bundled data:

- a source checkout (also ``pip install -e .``): the repository's top-level
  folders ``assignments/``, ``rubrics/``, ``reference/`` and the demo class's
  ``tests/fixtures/lab/`` beside the ``grader`` package;
- an installed wheel or sdist: setup.py's build step copies them into the
  package as ``grader/_bundled/{assignments,rubrics,demo}``, and
  ``reference`` is a top-level package beside ``grader`` in site-packages.

Local assignments: every folder named by ``GRADER_ASSIGNMENTS`` (several are
separated by ``os.pathsep``; the command line's ``--assignments DIR`` sets it
for its own run, so that a batch's worker processes see the same folders)
holds assignment folders; one found there takes precedence over a bundled
one of the same id, and the first folder wins over later ones.

`hidden_paths` is what student code must never read: the sandbox's Landlock
rules leave exactly these out of the Python installation they grant.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader.errors import ConfigurationError

ENV_VAR = "GRADER_ASSIGNMENTS"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The folder that holds the grader and reference packages: the repository, or site-packages.
CODE_ROOT = PACKAGE_DIR.parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"


def is_installed() -> bool:
    """Whether this grader runs from a built wheel or sdist (its data inside the package), not a checkout."""
    return (BUNDLED_DIR / "assignments").is_dir()


def code_root() -> Path:
    """The folder holding the ``grader`` and ``reference`` packages (the sandbox zygote starts there)."""
    return CODE_ROOT


def bundled_assignments_dir() -> Path:
    """The folder of the assignments that ship with the grader."""
    return (BUNDLED_DIR if is_installed() else CODE_ROOT) / "assignments"


def bundled_rubrics_dir() -> Path:
    """The folder of the bundled assignments' rubrics (``<rubric name>.toml``)."""
    return (BUNDLED_DIR if is_installed() else CODE_ROOT) / "rubrics"


def reference_dir() -> Path:
    """The ``reference`` package: the bundled reference solutions and the chapter's trusted helpers."""
    return CODE_ROOT / "reference"


def demo_fixtures_dir() -> Path:
    """The folder of the submissions the demo class hands in."""
    return BUNDLED_DIR / "demo" if is_installed() else CODE_ROOT / "tests" / "fixtures" / "lab"


def local_assignment_dirs() -> list[Path]:
    """The folders of local assignments named by GRADER_ASSIGNMENTS, in precedence order."""
    value = os.environ.get(ENV_VAR, "")
    return [Path(entry).resolve() for entry in value.split(os.pathsep) if entry.strip()]


def assignment_dirs() -> list[Path]:
    """Every folder searched for assignments, local ones first, the bundled folder last."""
    return [*local_assignment_dirs(), bundled_assignments_dir()]


def use_assignment_dirs(folders: list[str | os.PathLike]) -> None:
    """Search `folders` (first wins) before the bundled assignments, in this process and the ones it starts.

    A folder that does not exist is a configuration error naming it: a typo
    would otherwise silently grade with the bundled assignment.
    """
    resolved = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ConfigurationError(f"--assignments {folder}: not a folder (it should hold assignment folders, "
                                     f"each with an assignment.toml)")
        resolved.append(str(path.resolve()))
    os.environ[ENV_VAR] = os.pathsep.join(resolved)


def hidden_paths() -> list[Path]:
    """The folders student code must not read: the reference, the checks, the rubrics, local assignments.

    From a checkout that is every entry of the repository (its tests and
    fixtures hold solutions too, its .git all of them) except one that holds
    the running Python installation (a ``.venv`` inside the clone); from an
    installed wheel, exactly the ``reference`` package and the bundled data,
    and nothing else of site-packages, where NumPy and the rest of what
    student code may import live. Of a local folder, its assignment folders.
    """
    if is_installed():
        hidden = [reference_dir(), BUNDLED_DIR]
    else:
        prefixes = [Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
        hidden = [entry for entry in sorted(CODE_ROOT.iterdir())
                  if not any(prefix == entry.resolve() or entry.resolve() in prefix.parents for prefix in prefixes)]
    for folder in local_assignment_dirs():
        if folder.is_dir():
            hidden += sorted(entry for entry in folder.iterdir() if (entry / "assignment.toml").is_file())
    return hidden

"""Build step: the wheel carries the bundled assignments, rubrics and demo class inside the grader package.

The repository keeps them in its top-level folders (assignments/, rubrics/,
tests/fixtures/lab/); `build_py` copies them to ``grader/_bundled/`` in the
build, where grader.config.locations finds them once installed. The sdist
carries the same folders (MANIFEST.in), so a wheel built from it has them too.
An editable install (``pip install -e .``) reads them from the checkout instead.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Build litter that must never ship: compiled files and caches.
_LITTER = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache")


def copy_bundled(target: Path) -> None:
    """Copy the assignments, the rubrics and the demo class's submissions into `target` (grader/_bundled)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "assignments", target / "assignments", ignore=_LITTER)
    shutil.copytree(ROOT / "rubrics", target / "rubrics", ignore=_LITTER)
    # Only the submissions the demo class hands in (assignments/backprop-lab/demo-class.toml).
    demo = tomllib.loads((ROOT / "assignments" / "backprop-lab" / "demo-class.toml").read_text(encoding="utf-8"))
    (target / "demo").mkdir(parents=True)
    for entry in demo["students"].values():
        shutil.copy2(ROOT / "tests" / "fixtures" / "lab" / entry["file"], target / "demo" / entry["file"])


class BuildWithBundledData(build_py):
    """setuptools' build_py, then the bundled data copied into the built grader package."""

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            copy_bundled(Path(self.build_lib) / "grader" / "_bundled")


setup(cmdclass={"build_py": BuildWithBundledData})

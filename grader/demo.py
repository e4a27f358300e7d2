"""`grader demo --out DIR`: grade a bundled, made-up class of `backprop-lab` students.

The class is described by ``assignments/backprop-lab/demo-class.toml``: each
student hands in one of the grader's fixture submissions (``tests/fixtures/lab``
in a checkout, bundled inside an installed grader), as a file, a folder or a
zip. The demo writes the class into ``DIR/submissions/`` (so the inputs
can be read next to their reports) and grades it with `grader.batch.run_batch`
into DIR, exactly as `grader batch` would.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

from grader.batch import BatchSummary, run_batch
from grader.config.locations import bundled_assignments_dir, demo_fixtures_dir
from grader.errors import ConfigurationError

ASSIGNMENT = "backprop-lab"
# The bundled lab's, also when a local assignment of the same id takes its place for grading.
CLASS_FILE = bundled_assignments_dir() / ASSIGNMENT / "demo-class.toml"
FIXTURES = demo_fixtures_dir()


class DemoError(ConfigurationError):
    """The demo class cannot be built (its description or a fixture is missing)."""


def class_spec() -> dict:
    """The demo class's description (CLASS_FILE)."""
    try:
        return tomllib.loads(CLASS_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DemoError(f"{CLASS_FILE}: {exc}") from None


def build_class(dest: Path, spec: dict | None = None) -> list[str]:
    """Write the demo class described by `spec` (default: CLASS_FILE's) into `dest`; returns the student ids."""
    spec = class_spec() if spec is None else spec
    dest.mkdir(parents=True, exist_ok=True)
    students = spec.get("students", {})
    for student, entry in students.items():
        source = FIXTURES / entry["file"]
        if not source.is_file():
            raise DemoError(f"{CLASS_FILE}: {student}'s submission {source} is missing")
        how = entry.get("as", "file")
        if how == "file":
            _replace_if_changed(source.read_bytes(), dest / f"{student}{source.suffix}")
        elif how == "folder":
            _replace_if_changed(source.read_bytes(), dest / student / f"lab{source.suffix}")
        elif how == "zip":
            target = dest / f"{student}.zip"
            if not target.exists():
                with zipfile.ZipFile(target, "w") as archive:
                    # A fixed timestamp keeps the zip's bytes, and so a rerun's resume, stable.
                    info = zipfile.ZipInfo(f"lab{source.suffix}", date_time=(2026, 1, 1, 0, 0, 0))
                    archive.writestr(info, source.read_bytes())
        else:
            raise DemoError(f"{CLASS_FILE}: {student}: `as` must be file, folder or zip, not {how!r}")
    return list(students)


def _replace_if_changed(data: bytes, target: Path) -> None:
    # Rewriting an unchanged file would be harmless (resume goes by content), but leaving
    # it keeps its timestamp, which is what a user who looked at it expects.
    if target.is_file() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def run_demo(out: str | Path, *, jobs: int | None = None, force: bool = False,
             progress: bool | None = None) -> BatchSummary:
    """Build the demo class under `out`/submissions and batch-grade it into `out`."""
    out = Path(out)
    submissions = out / "submissions"
    if submissions.exists() and not submissions.is_dir():
        raise DemoError(f"{submissions} exists and is not a folder")
    spec = class_spec()
    build_class(submissions, spec)
    # The class file may shorten the training budget; without it the lab's own applies.
    settings = {"train_timeout": float(spec["train_timeout"])} if "train_timeout" in spec else None
    return run_batch(submissions, ASSIGNMENT, out, jobs=jobs, force=force, progress=progress, settings=settings)

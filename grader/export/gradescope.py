"""`grader export gradescope ASSIGNMENT -o bundle.zip`: a Gradescope autograder bundle.

The zip holds what Gradescope asks for at its root: ``setup.sh`` (run once
when Gradescope builds the image: installs Python 3.11 when the image lacks
it, then this grader's wheel into a venv) and ``run_autograder`` (run per
submission: grades ``/autograder/submission`` and writes
``/autograder/results/results.json``, whose schema is Gradescope's own), plus
the wheel (grader.export.wheel) and, for a local assignment, its folder under
``assignments/`` (searched before the bundled ones, as ``--assignments`` does).
The scripts live beside this module in ``gradescope_files/``.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import zipfile
from pathlib import Path

from grader.config.assignment import Assignment, load_assignment
from grader.config.locations import bundled_assignments_dir
from grader.errors import ConfigurationError
from grader.export.wheel import write_wheel

FILES = Path(__file__).with_name("gradescope_files")
_DATE = (2026, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def is_local(assignment: Assignment) -> bool:
    """Whether the assignment comes from a local folder (it must travel in the bundle) rather than the package."""
    return assignment.folder.parent.resolve() != bundled_assignments_dir().resolve()


def write_bundle(assignment_id: str, out: str | os.PathLike) -> Path:
    """Write the bundle for `assignment_id` to `out` (a .zip, written whole or not at all); returns its path."""
    assignment = load_assignment(assignment_id)  # validated now, not when Gradescope builds the image
    out = Path(out)
    if out.suffix != ".zip":
        raise ConfigurationError(f"-o {out}: the bundle is a .zip file (Gradescope's upload takes a zip)")
    if out.is_dir():
        raise ConfigurationError(f"-o {out}: is a folder; name the .zip file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    words = ["--assignment", shlex.quote(assignment.id)]
    if is_local(assignment):
        words += ["--assignments", '"$ROOT/source/assignments"']
    run = (FILES / "run_autograder").read_text(encoding="utf-8").replace("@ARGUMENTS@", " ".join(words))
    with tempfile.TemporaryDirectory() as scratch:
        wheel = write_wheel(Path(scratch))
        partial = out.with_name(f".{out.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                _add(archive, "setup.sh", (FILES / "setup.sh").read_bytes(), executable=True)
                _add(archive, "run_autograder", run.encode(), executable=True)
                _add(archive, wheel.name, wheel.read_bytes())
                if is_local(assignment):
                    for path in sorted(assignment.folder.rglob("*")):
                        relative = path.relative_to(assignment.folder)
                        if path.is_file() and not _SKIP_PARTS & set(relative.parts) and path.suffix != ".pyc":
                            _add(archive, f"assignments/{assignment.id}/{relative.as_posix()}", path.read_bytes())
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return out


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def describe(path: Path, assignment_id: str) -> list[str]:
    """What the command prints after writing the bundle."""
    return [f"wrote {path}: the Gradescope autograder for {assignment_id}",
            "Upload it in Gradescope (Configure Autograder > Zip file upload; the default Ubuntu image will do: "
            "setup.sh installs Python 3.11 when the image lacks it).",
            "Each submission's results.json is the grader's own; the autograder's output, which only instructors "
            "see, says which sandbox protections the container allowed."]

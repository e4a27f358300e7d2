"""A batch's output folder as a store of results: what is current (resume), and writing each student's files.

Resume: results.json records, under ``extra_data["batch"]``, the submission's
content hash, the assignment, a digest of the assignment's own files (its
folder, rubric, reference module and the trusted modules beside it, its
hooks) and of the settings replaced for the run, the grader version and a
digest of the student's manual overrides. A rerun skips a student whose
record matches them all, so an instructor who fixes a check, the rubric or
the reference gets every student graded again; a student whose grading
failed ("grader error: ...") is retried. A
fault of ours is also regraded within the run (`ResultWriter.finish`), so no
score is ever recorded from a grading that shared machinery failed under.
"""

from __future__ import annotations

import hashlib
import json
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from grader import __version__
from grader.batch.discover import Student
from grader.errors import MAX_REGRADES, should_regrade
from grader.model import Override, RowState
from grader.outputs import RESULTS_NAME, Graded, placeholder
from grader.text import one_line

BATCH_KEY = "batch"
_REASON_LIMIT = 500
_TRACEBACK_LIMIT = 20_000


def cache_key(student: Student, assignment_id: str, overrides: dict[str, dict] | None,
              assignment_digest: str = "") -> dict | None:
    """What a stored result must match to be reused; None when the submission cannot even be hashed.

    `assignment_digest` (`assignment_digest`) stands for what grades: when a
    check, the rubric, the reference or the run's settings change, no stored
    result is current any more.
    """
    from grader.source.submission import SubmissionError, content_hash
    if student.problem:
        content = "problem:" + hashlib.sha256(student.problem.encode()).hexdigest()
    else:
        try:
            content = content_hash(student.path)
        except SubmissionError:
            return None
    key = {"content_hash": content, "assignment": assignment_id, "grader_version": __version__,
           "overrides": _digest(overrides or {})}
    if assignment_digest:
        key["assignment_digest"] = assignment_digest
    return key


def assignment_digest(assignment: Any, settings: dict[str, Any] | None = None) -> str:
    """SHA-256 over what decides an assignment's grades besides the grader: its folder's files (assignment.toml,
    checks), its rubric file, its reference module and the trusted modules beside it, its hooks' modules, and the
    [settings] this run replaces. Files are named relative to their folder, so moving the project keeps results
    current."""
    files: dict[str, Path] = {}
    for path in _source_files(assignment.folder, recursive=True):
        files[f"assignment/{path.relative_to(assignment.folder).as_posix()}"] = path
    rubric = Path(assignment.rubric) if assignment.rubric.endswith(".toml") else None
    if rubric is None:
        from grader.config.rubric import RubricError, rubric_file
        try:
            rubric = rubric_file(assignment.rubric)
        except RubricError:
            rubric = None
    if rubric is not None:
        files[f"rubric/{rubric.name}"] = rubric
    if assignment.reference_file is not None:
        # The checks import the reference's neighbours too (the lab's networks, caches, mutants).
        folder = Path(assignment.reference_file).parent
        for path in _source_files(folder, recursive=False):
            files[f"reference/{path.name}"] = path
    for module in assignment.hooks.modules:
        origin = getattr(sys.modules.get(module), "__file__", None)
        if origin:
            files[f"hooks/{module}"] = Path(origin)
    digest = hashlib.sha256()
    for label, path in sorted(files.items()):
        try:
            content = path.read_bytes()
        except OSError:
            content = b"<unreadable>"
        digest.update(f"{label}\0{len(content)}\0".encode("utf-8", "surrogateescape") + content)
    digest.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _source_files(folder: Path, *, recursive: bool) -> list[Path]:
    """The files of `folder` that can change a grade (no caches, no hidden files)."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return [p for p in pattern if p.is_file() and "__pycache__" not in p.parts
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
            and p.suffix not in (".pyc", ".pyo")]


def stored_record(outdir: Path, student_id: str) -> dict | None:
    """The ``extra_data["batch"]`` record of a student's stored results.json (None when absent or unreadable)."""
    try:
        data = json.loads(Path(outdir, student_id, RESULTS_NAME).read_text(encoding="utf-8"))
        record = data["extra_data"][BATCH_KEY]
        return record if isinstance(record, dict) and isinstance(data.get("tests"), list) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_current(record: dict | None, key: dict | None) -> bool:
    """Whether a stored record can stand for this run: same key, and not a grader error (those are retried)."""
    if record is None or key is None or RowState.of(str(record.get("status", ""))) is RowState.GRADER_ERROR:
        return False
    return all(record.get(name) == value for name, value in key.items())


def _digest(overrides: dict) -> str:
    return hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()


class ResultWriter:
    """Writes each student's files as soon as their outcome arrives; `on_stored(status)` counts them."""

    def __init__(self, outdir: Path, assignment: Any, seed: int, on_stored: Callable[[str], None],
                 on_failure: Callable[[str], None]) -> None:
        self.outdir, self.assignment, self.seed = outdir, assignment, seed
        self.on_stored, self.on_failure = on_stored, on_failure
        self.finished: set[str] = set()
        self.protections: list[str] | None = None

    def finish(self, task: Any, outcome: Any) -> bool:
        """Store a work unit's result, or its failure as a grader error; True when the task is to run again.

        A fault of ours (shared machinery that failed, a grading process that
        died) is regraded up to `grader.errors.MAX_REGRADES` times before it
        is recorded, visibly, as a grader error: never as a score. A result
        that cannot be stored as it is (anything in it the writer cannot
        handle) is that student's grader error; only a failure to store even
        that (a full disk) stops the batch.
        """
        if isinstance(outcome, BaseException):
            if should_regrade(outcome, task.regrades):
                task.regrades += 1
                self.on_failure(f"{task.student.id}: graded again ({task.regrades} of {MAX_REGRADES}) after a "
                                f"fault of the grader: {_reason(outcome)}")
                return True
            self._store_failure(task, _reason(outcome), _traceback(outcome))
            return False
        try:
            self._store_result(task, outcome)
        except Exception as exc:  # noqa: BLE001 (one student's result must not stop the class)
            self._store_failure(task, f"its result could not be stored: {_reason(exc)}", _traceback(exc))
        return False

    def _store_result(self, task: Any, outcome: Any) -> None:
        if not (isinstance(outcome, dict) and isinstance(outcome.get("results"), dict)
                and isinstance(outcome.get("report_html"), str) and isinstance(outcome.get("status"), str)):
            self._store_failure(task, f"the work unit returned {type(outcome).__name__}, not a result", "")
            return
        data, status = outcome["results"], outcome["status"]
        key = dict(task.key)
        graded_hash = data.get("extra_data", {}).get("submission_sha256")
        if graded_hash and RowState.of(status) is not RowState.BROKEN:
            key["content_hash"] = graded_hash  # what was graded, should the file have changed meanwhile
        self._store(task.student, Graded(data, outcome["report_html"], status), key,
                    seconds=outcome.get("seconds"), worker=outcome.get("worker_pid"),
                    worker_peak_rss_kb=outcome.get("worker_peak_rss_kb"), regrades=task.regrades or None)
        if self.protections is None:
            self.protections = list(data.get("extra_data", {}).get("sandbox_protections") or []) or None

    def record_problem(self, task: Any) -> None:
        """Store the result of an entry that cannot be graded (unsupported file, clashing ids)."""
        problem = task.student.problem
        self._store_placeholder(task, RowState.BROKEN, problem, f"Your submission could not be graded: {problem}",
                                "")

    def _store_failure(self, task: Any, reason: str, trace: str) -> None:
        self.on_failure(f"{task.student.id}: {RowState.GRADER_ERROR}: {reason}")
        message = ("The grader failed while grading this submission; this is not a problem of your code. "
                   "Your instructor will grade it again.")
        self._store_placeholder(task, RowState.GRADER_ERROR, reason, message, trace, regrades=task.regrades or None)

    def _store_placeholder(self, task: Any, state: RowState, reason: str, message: str, trace: str,
                           **more: Any) -> None:
        student = task.student
        overrides = {item: Override.from_dict(o) for item, o in task.overrides.items()}
        seed = getattr(task, "seed", None)
        graded = placeholder(self.assignment, state, reason, message=message, seed=self.seed if seed is None else seed,
                             submission_file=student.entry, student=student.id, overrides=overrides)
        self._store(student, graded, task.key, traceback=trace, **more)

    def _store(self, student: Student, graded: Graded, key: dict, *, counted: bool = True, **more: Any) -> None:
        status = with_folder_note(graded.status, student)
        record = {"student": student.id, "entry": student.entry, "folder": student.folder, "status": status,
                  **key, "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        record.update({name: value for name, value in more.items() if value not in (None, "")})
        graded.results.setdefault("extra_data", {})[BATCH_KEY] = record
        folder = self.outdir / student.folder
        folder.mkdir(exist_ok=True)
        graded.write(folder)
        self.finished.add(student.folder)
        if counted:  # a re-scored result (changed manual points) is not a grading
            self.on_stored(status)


def with_folder_note(status: str, student: Student) -> str:
    """The row's status, saying where the results are when the student's name could not be their folder."""
    if not student.renamed:
        return status
    # First, so that a long reason cut short in the gradebook never hides where the results are.
    note = f"results in the folder {student.folder} ({student.renamed})"
    if note in status:  # a stored result re-scored with new manual points already says it
        return status
    reason = status.split(":", 1)[1].strip() if ":" in status else ""
    return RowState.of(status).with_reason(f"{note}; {reason}" if reason else note)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, _REASON_LIMIT)


def _traceback(exc: BaseException) -> str:
    # A pool worker's traceback travels as the exception's cause (a _RemoteTraceback).
    text = "".join(traceback.format_exception(exc))
    return text[-_TRACEBACK_LIMIT:]

"""Grade a whole class: one work unit per student, on a local process pool or a Dask cluster (grader/pool.py).

The work unit (`grade_student`) is a plain, picklable function: it grades one
submission with its own process's sandbox and returns plain data (the
results.json dict, the rendered report, a status and timings). This process
never grades: it discovers the students, decides who needs grading, hands out
work units, and writes each student's results as soon as they arrive:
``OUTDIR/<student>/report.html`` then ``OUTDIR/<student>/results.json``, each
atomically, results.json last, so a results.json on disk always comes with its
report.

Resume: results.json records, under ``extra_data["batch"]``, the submission's
content hash, the assignment, the grader version and a digest of the
student's manual overrides. A rerun skips a student whose record matches all
four; `force` regrades everyone. A student whose grading failed ("grader
error: ...") is retried by the next run.

Failures stay per student: an exception in a work unit, a pool process that
died (its students are retried alone, so one crash cannot take classmates
down with it) or a lost Dask worker becomes that student's "grader error"
status and the batch goes on. Ctrl-C cancels what has not started, stops the
pool, keeps every result already written and says how to resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from grader import __version__
from grader.discover import DiscoveryError, Student, discovered
from grader.gradebook import (BROKEN, GRADED, GRADER_ERROR, GRADEBOOK_NAME, INDEX_NAME, NOT_GRADED, REPORT_NAME,
                              RESULTS_NAME, one_line, read_row, write_gradebook, write_index)
from grader.pool import ClusterError, Engine, WorkUnit, batch_zygote, dask_engine, drive, local_engine
from grader.report import write_text_atomic

BATCH_KEY = "batch"
# Output files of the batch itself: an entry with one of these ids would collide with them.
RESERVED_IDS = frozenset({GRADEBOOK_NAME, INDEX_NAME})
_REASON_LIMIT = 500
_TRACEBACK_LIMIT = 20_000

# One grading at a time per process: the runner drives pytest, which swaps
# process-wide state (stdout, environment). A Dask worker with several
# threads would otherwise run two gradings at once in one process.
_GRADING_LOCK = threading.Lock()


class BatchError(Exception):
    """The batch cannot start (bad folder, assignment, overrides, options or cluster); the message says why."""


# ---------------------------------------------------------------- the work unit


def grade_student(path: str, assignment_id: str, seed: int, support_dirs: tuple[str, ...] = (),
                  overrides: dict[str, dict] | None = None, *, student: str | None = None,
                  settings: dict[str, Any] | None = None) -> dict:
    """Grade one submission in this process; returns plain data.

    `overrides` maps rubric item ids to ``{"points", "comment"}``; `student`
    names the student in the report's title; `settings` replaces entries of
    the assignment's [settings] (the demo's shorter training budget). The result holds ``results``
    (the results.json dict), ``report_html``, ``status`` ("graded", or
    "broken: why" when the submission could not be read), ``seconds``,
    ``student_seconds``, ``worker_pid`` and ``worker_peak_rss_kb``. A bad
    submission never raises; an exception here is a grader bug.
    """
    from grader.overrides import Override
    from grader.report.html import render_student_report
    from grader.report.results_json import to_results_json
    from grader.runner import grade

    started = time.perf_counter()
    item_overrides = {item: Override.from_dict(o) for item, o in (overrides or {}).items()}
    with _GRADING_LOCK:
        run = grade(path, assignment_id, seed=seed, support_dirs=tuple(support_dirs), overrides=item_overrides,
                    settings=settings)
    data = to_results_json(run.result, execution_time=run.execution_time, output="\n".join(run.notes()),
                           extra=run.extra_data())
    html = render_student_report(data, student=student)
    status = GRADED if run.submission_error is None else f"{BROKEN}: {one_line(run.submission_error, _REASON_LIMIT)}"
    return {"results": data, "report_html": html, "status": status,
            "seconds": round(time.perf_counter() - started, 3), "student_seconds": round(run.student_seconds, 3),
            "worker_pid": os.getpid(), "worker_peak_rss_kb": peak_rss_kb()}


def peak_rss_kb() -> int:
    """This process's peak resident memory in KiB (VmHWM on Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


# ---------------------------------------------------------------- the batch


@dataclass
class BatchSummary:
    """What a batch run did, for the command line's last lines.

    `graded` counts the work done by this run (students graded or recorded as
    broken or failed); `broken`, `errors` and `pending` describe the whole
    gradebook afterwards, whichever run graded each student.
    """

    outdir: Path
    assignment: str
    seed: int
    total: int = 0
    graded: int = 0
    skipped: int = 0
    broken: int = 0
    errors: int = 0
    pending: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    unknown_override_students: list[str] = field(default_factory=list)

    def lines(self, resume_command: str = "the same command") -> list[str]:
        """The summary as the user reads it, with what to do next."""
        out = [f"{self.total} students: graded {self.graded} in {self.seconds:.1f} s, skipped {self.skipped} "
               f"unchanged since the last run{' (--force regrades them)' if self.skipped else ''}; "
               f"in the gradebook: {self.broken} broken, {self.errors} grader errors"]
        out.append(f"seed {self.seed} (replay one student: grader grade SUBMISSION -a {self.assignment} "
                   f"--seed {self.seed})")
        out.append(f"gradebook: {self.outdir / GRADEBOOK_NAME}; class summary: {self.outdir / INDEX_NAME}")
        if self.unknown_override_students:
            out.append(f"warning: the overrides name students who are not in the class folder: "
                       f"{', '.join(self.unknown_override_students)} (check the ids)")
        if self.errors:
            out.append(f"{self.errors} students could not be graded because of a grader error (status in "
                       f"gradebook.csv); run {resume_command} again to retry them")
        if self.interrupted:
            out.append(f"interrupted: {self.total - self.pending} of {self.total} students have results in "
                       f"{self.outdir}; run {resume_command} again to grade the other {self.pending} "
                       "(students already graded are skipped)")
        return out


@dataclass
class _Task:
    """One student's work unit: its arguments, and the cache key its result will be stored with."""

    student: Student
    key: dict
    overrides: dict[str, dict]
    args: tuple
    kwargs: dict


def run_batch(source: str | os.PathLike, assignment_id: str, outdir: str | os.PathLike, *,
              jobs: int | None = None, scheduler: str | None = None, force: bool = False,
              overrides_file: str | os.PathLike | None = None, support_dirs: tuple[str, ...] = (),
              seed: int | None = None, progress: bool | None = None, work: WorkUnit = grade_student) -> BatchSummary:
    """Grade every student of `source` (a folder or a class .zip) into `outdir`.

    `jobs` local worker processes (default: one per CPU this process may use), or the Dask
    cluster at `scheduler`; `force` regrades students whose results are
    current; `overrides_file` is the instructor's manual points (CSV);
    `seed` replays a batch (default: a fresh one); `progress` shows the bar
    (default: when stderr is a terminal); `work` is the work unit. Raises
    BatchError before grading anything when the inputs cannot be used;
    returns with ``interrupted`` set after Ctrl-C.
    """
    from grader.runner import new_seed

    started = time.perf_counter()
    assignment, rubric = _assignment_and_rubric(assignment_id)
    outdir = Path(outdir)
    overrides = _overrides(overrides_file, rubric)
    support = _support_dirs(support_dirs)
    if jobs is not None and jobs < 1:
        raise BatchError(f"-j {jobs}: the number of worker processes must be at least 1")
    if outdir.resolve() == Path(source).resolve():
        raise BatchError(f"{outdir}: the output folder cannot be the class folder itself (the class folder is "
                         "only read); choose another -o OUTDIR")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"{outdir}: cannot create the output folder ({exc.strerror or exc})") from None
    summary = BatchSummary(outdir, assignment.id, new_seed() if seed is None else int(seed))
    exclude = [outdir] + ([overrides_file] if overrides_file else [])
    with contextlib.ExitStack() as stack:
        try:
            students = stack.enter_context(
                discovered(source, unpack_parent=outdir if scheduler else None, exclude=exclude))
        except DiscoveryError as exc:
            raise BatchError(str(exc)) from None
        # Connect before grading anything: a wrong address is a usage error, not a class of grader errors.
        try:
            engine = (stack.enter_context(dask_engine(scheduler, jobs)) if scheduler
                      else local_engine(jobs, preload=assignment.preload,
                                        zygote=stack.enter_context(batch_zygote(assignment.preload))))
        except ClusterError as exc:
            raise BatchError(str(exc)) from None
        summary.total = len(students)
        summary.unknown_override_students = sorted(set(overrides) - {s.id for s in students})
        tasks, finished = _plan(students, assignment.id, rubric, outdir, overrides, support, summary, force)
        bar = _Progress(summary, progress)
        writer = _Writer(outdir, rubric, summary, bar, finished)
        try:
            _execute(tasks, work, writer, engine)
        except KeyboardInterrupt:
            summary.interrupted = True
        except OSError as exc:  # a full disk, an output path taken by a file, no processes left...
            raise BatchError(f"the batch stopped: {type(exc).__name__}: {exc}; the results written so far are "
                             "kept: fix this and run the same command again to resume") from None
        finally:
            bar.close()
        with _sigint_deferred():
            _write_class_files(students, outdir, rubric, assignment.id, finished, summary)
            if writer.protections is not None:
                from grader.sandbox import announce_protections
                announce_protections(writer.protections)
    summary.seconds = time.perf_counter() - started
    return summary


def _assignment_and_rubric(assignment_id: str) -> tuple[Any, Any]:
    from grader.assignment import AssignmentError, load_assignment
    from grader.rubric import RubricError, rubric_for
    try:
        assignment = load_assignment(assignment_id)
        return assignment, rubric_for(assignment.rubric)
    except (AssignmentError, RubricError) as exc:
        raise BatchError(str(exc)) from None


def _overrides(path: str | os.PathLike | None, rubric: Any) -> dict[str, dict[str, dict]]:
    """{student: {item: {"points", "comment"}}} from the overrides file (plain data for the work units)."""
    if path is None:
        return {}
    from grader.overrides import OverrideError, load_overrides
    try:
        table = load_overrides(path, rubric)
    except OverrideError as exc:
        raise BatchError(str(exc)) from None
    return {student: {item: o.to_dict() for item, o in items.items()} for student, items in table.items()}


def _support_dirs(folders: tuple[str, ...]) -> tuple[str, ...]:
    for folder in folders:
        if not Path(folder).is_dir():
            raise BatchError(f"--support {folder}: not a folder")
    return tuple(str(Path(f).resolve()) for f in folders)


# ---------------------------------------------------------------- resume


def cache_key(student: Student, assignment_id: str, overrides: dict[str, dict] | None) -> dict | None:
    """What a stored result must match to be reused; None when the submission cannot even be hashed."""
    from grader.submission import SubmissionError, content_hash
    if student.problem:
        content = "problem:" + hashlib.sha256(student.problem.encode()).hexdigest()
    else:
        try:
            content = content_hash(student.path)
        except SubmissionError:
            return None
    return {"content_hash": content, "assignment": assignment_id, "grader_version": __version__,
            "overrides": _digest(overrides or {})}


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
    if record is None or key is None or str(record.get("status", "")).startswith(GRADER_ERROR):
        return False
    return all(record.get(name) == value for name, value in key.items())


def _digest(overrides: dict) -> str:
    return hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()


def _plan(students: list[Student], assignment_id: str, rubric: Any, outdir: Path, overrides: dict,
          support: tuple[str, ...], summary: BatchSummary, force: bool) -> tuple[list[_Task], set[str]]:
    """The work units to run; students found current are counted as skipped and put in the returned set."""
    tasks, finished = [], set()
    class_folder = students[0].path.parent.resolve() if students else None
    for student in students:
        if (outdir / student.id).resolve() == class_folder:
            raise BatchError(f"the results of student {student.id!r} would be written into the class folder "
                             f"{class_folder} itself; choose an -o OUTDIR that is not the class folder's parent")
        if student.id.casefold() in RESERVED_IDS:
            raise BatchError(f"{student.path}: a student folder named {student.id!r} would collide with the "
                             "batch's own output file of that name; rename the entry")
        student_overrides = overrides.get(student.id, {})
        key = cache_key(student, assignment_id, student_overrides)
        if not force and is_current(stored_record(outdir, student.id), key):
            summary.skipped += 1
            finished.add(student.id)
            continue
        args = (str(student.path), assignment_id, summary.seed, support, student_overrides)
        tasks.append(_Task(student, key or {}, student_overrides, args, {"student": student.id}))
    return tasks, finished


# ---------------------------------------------------------------- execution


def _execute(tasks: list[_Task], work: WorkUnit, writer: "_Writer", engine: Engine) -> None:
    """Record the broken entries, then run the others' work units with `engine`."""
    runnable = []
    for task in tasks:
        if task.student.problem:
            writer.record_problem(task)
        else:
            runnable.append(task)
    if not runnable:
        return
    # No more workers than students: each pool process pays its start-up once.
    workers = min(engine.workers or len(runnable), len(runnable))
    drive(runnable, work, writer.finish, lambda: engine.make_executor(workers), engine.close,
          window=workers + engine.queued)


# ---------------------------------------------------------------- writing results


class _Writer:
    """Writes each student's files as soon as their outcome arrives, and keeps the counts."""

    def __init__(self, outdir: Path, rubric: Any, summary: BatchSummary, bar: "_Progress", finished: set[str]) -> None:
        self.outdir, self.rubric = outdir, rubric
        self.summary, self.bar, self.finished = summary, bar, finished
        self.protections: list[str] | None = None

    def finish(self, task: _Task, outcome: Any) -> None:
        """Store a work unit's result, or its failure as a grader error."""
        student = task.student
        if isinstance(outcome, BaseException):
            self._store_failure(task, _reason(outcome), _traceback(outcome))
            return
        if not (isinstance(outcome, dict) and isinstance(outcome.get("results"), dict)
                and isinstance(outcome.get("report_html"), str) and isinstance(outcome.get("status"), str)):
            self._store_failure(task, f"the work unit returned {type(outcome).__name__}, not a result", "")
            return
        data, status = outcome["results"], outcome["status"]
        key = dict(task.key)
        graded_hash = data.get("extra_data", {}).get("submission_sha256")
        if graded_hash and not status.startswith(BROKEN):
            key["content_hash"] = graded_hash  # what was graded, should the file have changed meanwhile
        self._store(student, data, outcome["report_html"], status, key, seconds=outcome.get("seconds"),
                    worker=outcome.get("worker_pid"), worker_peak_rss_kb=outcome.get("worker_peak_rss_kb"))
        if self.protections is None:
            self.protections = list(data.get("extra_data", {}).get("sandbox_protections") or []) or None

    def record_problem(self, task: _Task) -> None:
        """Store the result of an entry that cannot be graded (unsupported file, clashing ids)."""
        problem = task.student.problem
        self._store_placeholder(task, f"{BROKEN}: {one_line(problem, _REASON_LIMIT)}",
                                f"Your submission could not be graded: {problem}", problem, "")

    def _store_failure(self, task: _Task, reason: str, trace: str) -> None:
        self.bar.note(f"{task.student.id}: {GRADER_ERROR}: {reason}")
        message = ("The grader failed while grading this submission; this is not a problem of your code. "
                   "Your instructor will grade it again.")
        self._store_placeholder(task, f"{GRADER_ERROR}: {reason}", message, message, trace)

    def _store_placeholder(self, task: _Task, status: str, output: str, error: str, trace: str) -> None:
        from grader.overrides import Override
        from grader.report.html import render_student_report
        from grader.report.results_json import to_results_json
        from grader.rubric import grade as apply_rubric
        student = task.student
        overrides = {item: Override.from_dict(o) for item, o in task.overrides.items()}
        result = apply_rubric(self.rubric, [], collection_errors=[error], overrides=overrides)
        data = to_results_json(result, execution_time=0.0, output=output, extra={
            "seed": self.summary.seed, "submission_file": student.path.name, "submission_sha256": None,
            "submission_error": error})
        self._store(student, data, render_student_report(data, student=student.id), status, task.key,
                    traceback=trace)

    def _store(self, student: Student, data: dict, html: str, status: str, key: dict, **more: Any) -> None:
        record = {"student": student.id, "entry": student.path.name, "status": status, **key,
                  "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        record.update({name: value for name, value in more.items() if value not in (None, "")})
        data.setdefault("extra_data", {})[BATCH_KEY] = record
        from grader.report.results_json import write_json_atomic
        folder = self.outdir / student.id
        folder.mkdir(exist_ok=True)
        write_text_atomic(folder / REPORT_NAME, html)
        write_json_atomic(folder / RESULTS_NAME, data)  # last: its presence means both files are complete
        self.finished.add(student.id)
        self.summary.graded += 1
        self.bar.advance(status)


def _write_class_files(students: list[Student], outdir: Path, rubric: Any, assignment_id: str,
                       finished: set[str], summary: BatchSummary) -> None:
    """gradebook.csv and index.html from the stored results (students not reached yet are "not graded")."""
    pending = f"{NOT_GRADED}: the batch was interrupted before this student; run it again to resume"
    rows = [read_row(outdir, s.id, status=None if s.id in finished else pending) for s in students]
    summary.pending = sum(1 for row in rows if row.kind == NOT_GRADED)
    summary.broken = sum(1 for row in rows if row.kind == BROKEN)
    summary.errors = sum(1 for row in rows if row.kind == GRADER_ERROR)
    items = [{"id": item.id, "title": item.title, "max_score": item.points} for item in rubric.items]
    write_gradebook(outdir, rows, [item.id for item in rubric.items])
    write_index(outdir, rows, assignment=assignment_id, rubric_items=items)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a second Ctrl-C until the gradebook is written (only the main thread can handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class _Progress:
    """The tqdm bar on stderr: students done of all, failures so far, time left."""

    def __init__(self, summary: BatchSummary, enabled: bool | None) -> None:
        from tqdm import tqdm
        self.broken = self.errors = 0
        self.bar = tqdm(total=summary.total, initial=summary.skipped, desc="grading", unit="student",
                        file=sys.stderr, disable=None if enabled is None else not enabled, dynamic_ncols=True)
        self._postfix()

    def advance(self, status: str) -> None:
        """One more student done, with this status."""
        self.broken += status.startswith(BROKEN)
        self.errors += status.startswith(GRADER_ERROR)
        self._postfix()
        self.bar.update(1)

    def note(self, text: str) -> None:
        """A line above the bar."""
        self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        """Leave the bar's last state on screen."""
        self.bar.close()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(f"broken {self.broken}, grader errors {self.errors}", refresh=False)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, _REASON_LIMIT)


def _traceback(exc: BaseException) -> str:
    # A pool worker's traceback travels as the exception's cause (a _RemoteTraceback).
    text = "".join(traceback.format_exception(exc))
    return text[-_TRACEBACK_LIMIT:]


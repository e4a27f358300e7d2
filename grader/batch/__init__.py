"""Grade a whole class: one work unit per student, on a local process pool or a Dask cluster (grader.batch.pool).

The work unit (grader.batch.workunit) grades one submission with its own
process's sandbox and returns plain data. This process never grades: it
discovers the students (grader.batch.discover), decides who needs grading
(grader.batch.store), hands out work units, and writes each student's results
as soon as they arrive: ``OUTDIR/<student>/report.html`` then
``OUTDIR/<student>/results.json``, each atomically, results.json last, so a
results.json on disk always comes with its report. gradebook.csv and
index.html are rebuilt from those files at the end.

Failures stay per student: an exception in a work unit (shared machinery
that failed under it), a pool process that died (its students are retried
alone, so one crash cannot take classmates down with it) or a lost Dask
worker is graded again, at most twice, then becomes that student's "grader
error" status, and the batch goes on. Ctrl-C cancels what has not started, stops the
pool, keeps every result already written and says how to resume.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from grader.batch.discover import DiscoveryError, Student, discovered
from grader.batch.gradebook import BROKEN, GRADER_ERROR, NOT_GRADED, read_row, write_gradebook
from grader.batch.index import write_index
from grader.batch.pool import ClusterError, Engine, WorkUnit, batch_zygote, dask_engine, drive, local_engine
from grader.batch.progress import BatchSummary, Progress
from grader.batch.store import ResultWriter, cache_key, is_current, stored_record
from grader.batch.workunit import grade_student
from grader.errors import ConfigurationError


class BatchError(ConfigurationError):
    """The batch cannot start (bad folder, assignment, overrides, options or cluster); the message says why."""


@dataclass
class _Task:
    """One student's work unit: its arguments, and the cache key its result will be stored with."""

    student: Student
    key: dict
    overrides: dict[str, dict]
    args: tuple
    kwargs: dict
    regrades: int = 0  # times graded again after a fault of ours (grader.errors.should_regrade)


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
    from grader.grading import new_seed

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
                      else local_engine(jobs, preload=assignment.preload, trusted_modules=trusted_modules(assignment),
                                        zygote=stack.enter_context(batch_zygote(assignment.preload))))
        except ClusterError as exc:
            raise BatchError(str(exc)) from None
        summary.total = len(students)
        summary.unknown_override_students = sorted(set(overrides) - {s.id for s in students})
        tasks, finished = _plan(students, assignment.id, rubric, outdir, overrides, support, summary, force)
        bar = Progress(summary, progress)
        writer = ResultWriter(outdir, assignment, summary.seed, on_stored=bar.advance, on_failure=bar.note)
        writer.finished |= finished
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
            _write_class_files(students, outdir, rubric, assignment.id, writer.finished, summary)
            if writer.protections is not None:
                from grader.sandbox import announce_protections
                announce_protections(writer.protections)
    summary.seconds = time.perf_counter() - started
    return summary


def _assignment_and_rubric(assignment_id: str) -> tuple[Any, Any]:
    from grader.config.assignment import load_assignment
    from grader.config.rubric import rubric_for
    try:
        assignment = load_assignment(assignment_id)
        return assignment, rubric_for(assignment.rubric)
    except ConfigurationError as exc:
        raise BatchError(str(exc)) from None


def _overrides(path: str | os.PathLike | None, rubric: Any) -> dict[str, dict[str, dict]]:
    """{student: {item: {"points", "comment"}}} from the overrides file (plain data for the work units)."""
    if path is None:
        return {}
    from grader.config.overrides import OverrideError, load_overrides
    try:
        table = load_overrides(path, rubric)
    except OverrideError as exc:
        raise BatchError(str(exc)) from None
    return {student: {item: o.to_dict() for item, o in items.items()} for student, items in table.items()}


def trusted_modules(assignment: Any) -> list[str]:
    """The assignment's own trusted modules a pool process imports once before grading: its hooks and reference."""
    modules = list(assignment.hooks.modules)
    reference = str(assignment.starter.get("reference", ""))
    if reference.endswith(".py") and "/" in reference and not reference.startswith(("/", ".")):
        modules.append(reference[:-3].replace("/", "."))
    return modules


def _support_dirs(folders: tuple[str, ...]) -> tuple[str, ...]:
    for folder in folders:
        if not Path(folder).is_dir():
            raise BatchError(f"--support {folder}: not a folder")
    return tuple(str(Path(f).resolve()) for f in folders)


def _plan(students: list[Student], assignment_id: str, rubric: Any, outdir: Path, overrides: dict,
          support: tuple[str, ...], summary: BatchSummary, force: bool) -> tuple[list[_Task], set[str]]:
    """The work units to run; students found current are counted as skipped and put in the returned set."""
    tasks, finished = [], set()
    class_folder = students[0].path.parent.resolve() if students else None
    for student in students:
        if (outdir / student.folder).resolve() == class_folder:
            raise BatchError(f"the results of student {student.id!r} would be written into the class folder "
                             f"{class_folder} itself; choose an -o OUTDIR that is not the class folder's parent")
        student_overrides = overrides.get(student.id, {})
        key = cache_key(student, assignment_id, student_overrides)
        if not force and is_current(stored_record(outdir, student.folder), key):
            summary.skipped += 1
            finished.add(student.folder)
            continue
        args = (str(student.path), assignment_id, summary.seed, support, student_overrides)
        tasks.append(_Task(student, key or {}, student_overrides, args, {"student": student.id}))
    return tasks, finished


def _execute(tasks: list[_Task], work: WorkUnit, writer: ResultWriter, engine: Engine) -> None:
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


def _write_class_files(students: list[Student], outdir: Path, rubric: Any, assignment_id: str,
                       finished: set[str], summary: BatchSummary) -> None:
    """gradebook.csv and index.html from the stored results (students not reached yet are "not graded")."""
    pending = f"{NOT_GRADED}: the batch was interrupted before this student; run it again to resume"
    rows = [read_row(outdir, s.id, folder=s.folder, status=None if s.folder in finished else pending)
            for s in students]
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



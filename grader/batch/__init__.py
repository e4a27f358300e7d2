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
from typing import Any, Collection, Iterator

from grader.batch.discover import DiscoveryError, Student, discovered
from grader.batch.gradebook import BROKEN, GRADER_ERROR, NOT_GRADED, read_row, write_gradebook
from grader.batch.index import write_index
from grader.batch.pool import ClusterError, Engine, WorkUnit, batch_zygote, dask_engine, drive, local_engine
from grader.batch.overrides import NONE, kept_overrides
from grader.batch.progress import BatchSummary, Progress
from grader.batch.similarity import ClassCode
from grader.batch.record import created_folders, earlier_outputs, read_record, student_seed, write_record
from grader.batch.store import ResultWriter, assignment_digest, cache_key, is_current, stored_record
from grader.batch.workunit import grade_student
from grader.config import locations
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
    seed: int | None = None
    regrades: int = 0  # times graded again after a fault of ours (grader.errors.should_regrade)


def run_batch(source: str | os.PathLike, assignment_id: str, outdir: str | os.PathLike, *,
              jobs: int | None = None, scheduler: str | None = None, force: bool = False,
              overrides_file: str | os.PathLike | None = None, support_dirs: tuple[str, ...] = (),
              seed: int | None = None, progress: bool | None = None, work: WorkUnit = grade_student,
              settings: dict[str, Any] | None = None, only: Collection[str] | None = None) -> BatchSummary:
    """Grade every student of `source` (a folder or a class .zip) into `outdir`.

    `jobs` local worker processes (default: one per CPU this process may use), or the Dask
    cluster at `scheduler`; `force` regrades students whose results are
    current; `overrides_file` is the instructor's manual points (CSV), kept in
    OUTDIR/overrides.csv and applied again by later runs ("none" removes
    them; grader.batch.overrides); `seed` is the batch's seed (default: the
    one OUTDIR's record keeps, else a fresh one), from which each student's
    own seed derives; `progress` shows the bar (default: when stderr is a
    terminal); `work` is the work unit; `settings` replace entries of the
    assignment's [settings] (kept in the record, so `grader regrade` uses them
    too); `only` grades just these student ids, as with `force`, and keeps
    everyone else's results. Raises BatchError before grading anything when
    the inputs cannot be used (leaving no output folder it created behind);
    returns with ``interrupted`` set after Ctrl-C.
    """
    from grader.grading import new_seed

    started = time.perf_counter()
    assignment, rubric = _assignment_and_rubric(assignment_id)
    outdir = Path(outdir)
    support = _support_dirs(support_dirs)
    if jobs is not None and jobs < 1:
        raise BatchError(f"-j {jobs}: the number of worker processes must be at least 1")
    if outdir.resolve() == Path(source).resolve():
        raise BatchError(f"{outdir}: the output folder cannot be the class folder itself (the class folder is "
                         "only read); choose another -o OUTDIR")
    try:
        kept = kept_overrides(outdir, overrides_file, rubric)
    except ConfigurationError as exc:
        raise BatchError(str(exc)) from None
    overrides = kept.table
    record = read_record(outdir)
    if seed is None:
        seed = record["seed"] if record else new_seed()
    summary = BatchSummary(outdir, assignment.id, int(seed))
    summary.overrides_origin = kept.origin
    # Earlier output folders of the grader inside the class folder are not students.
    previous_outputs = earlier_outputs(source)
    summary.earlier_outputs = [p.name for p in previous_outputs]
    exclude = [outdir, *previous_outputs] + ([overrides_file] if overrides_file and str(overrides_file) != NONE
                                             else [])
    with contextlib.ExitStack() as stack:
        try:
            # First in, last out: a failure removes the output folders this run created (when still empty).
            stack.enter_context(created_folders(outdir))
        except OSError as exc:
            raise BatchError(f"{outdir}: cannot create the output folder ({exc.strerror or exc})") from None
        try:
            students = stack.enter_context(
                discovered(source, unpack_parent=outdir if scheduler else None, exclude=exclude))
        except DiscoveryError as exc:
            raise BatchError(str(exc)) from None
        _check_only(only, students)
        # Connect before grading anything: a wrong address is a usage error, not a class of grader errors.
        try:
            engine = (stack.enter_context(dask_engine(scheduler, jobs)) if scheduler
                      else local_engine(jobs, preload=assignment.preload, trusted_modules=trusted_modules(assignment),
                                        zygote=stack.enter_context(batch_zygote(assignment.preload))))
        except ClusterError as exc:
            raise BatchError(str(exc)) from None
        write_record(outdir, source=source, assignment=assignment.id, seed=summary.seed, support_dirs=support,
                     settings=settings)
        kept.commit(outdir)
        summary.total = len(students)
        summary.unknown_override_students = sorted(set(overrides) - {s.id for s in students})
        plan = _plan(students, assignment, rubric, outdir, overrides, support, summary, force, settings, only)
        bar = Progress(summary, progress)
        writer = ResultWriter(outdir, assignment, summary.seed, on_stored=bar.advance, on_failure=bar.note)
        writer.finished |= plan.finished
        code = ClassCode(assignment)
        try:
            plan.tasks.extend(_rescore(plan.rescore, outdir, assignment, rubric, writer, summary))
            _execute(plan.tasks, work, writer, engine, code)
        except KeyboardInterrupt:
            summary.interrupted = True
        except OSError as exc:  # a full disk, an output path taken by a file, no processes left...
            raise BatchError(f"the batch stopped: {type(exc).__name__}: {exc}; the results written so far are "
                             "kept: fix this and run the same command again to resume") from None
        finally:
            bar.close()
        summary.replays = [(t.student.id, str(t.student.path), t.seed) for t in plan.tasks
                           if t.student.folder in writer.finished and not t.student.problem]
        with _sigint_deferred():
            _write_class_files(students, outdir, rubric, assignment, writer.finished, summary, code)
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


def trusted_modules(assignment: Any) -> list[str]:
    """The assignment's own trusted modules a pool process imports once before grading: its hooks and reference,
    and what its check files import at the top (the first student of each pool process would import them)."""
    modules = list(assignment.hooks.modules)
    if assignment.reference_module:
        modules.append(assignment.reference_module)
    for module in _imported_by_checks(assignment.checks_dir):
        if module not in modules:
            modules.append(module)
    return modules


def _imported_by_checks(checks_dir: Path) -> list[str]:
    """The absolute modules the check files of `checks_dir` import at their top level, in file order."""
    import ast

    found: list[str] = []
    for path in sorted(checks_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # the checks' own load reports it
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            found.extend(n for n in names if n != "__future__" and n not in found)
    return found


def _support_dirs(folders: tuple[str, ...]) -> tuple[str, ...]:
    for folder in folders:
        if not Path(folder).is_dir():
            raise BatchError(f"--support {folder}: not a folder")
    return tuple(str(Path(f).resolve()) for f in folders)


@dataclass
class _Plan:
    """Who this run grades (`tasks`), re-scores with changed manual points (`rescore`) and keeps (`finished`)."""

    tasks: list[_Task]
    rescore: list[_Task]
    finished: set[str]


def _plan(students: list[Student], assignment: Any, rubric: Any, outdir: Path, overrides: dict,
          support: tuple[str, ...], summary: BatchSummary, force: bool, settings: dict[str, Any] | None,
          only: Collection[str] | None) -> _Plan:
    """The work units to run; students found current are counted as skipped and put in the returned set.

    A result whose code, assignment and grader version are current but whose
    manual points changed is re-scored, not graded again: an override never
    moves an automatic score.
    """
    plan = _Plan([], [], set())
    assignment_id = assignment.id
    digest = assignment_digest(assignment, settings)
    local_dirs = tuple(str(p) for p in locations.local_assignment_dirs())
    class_folder = students[0].path.parent.resolve() if students else None
    for student in students:
        if (outdir / student.folder).resolve() == class_folder:
            raise BatchError(f"the results of student {student.id!r} would be written into the class folder "
                             f"{class_folder} itself; choose an -o OUTDIR that is not the class folder's parent")
        student_overrides = overrides.get(student.id, {})
        key = cache_key(student, assignment_id, student_overrides, digest)
        seed = student_seed(summary.seed, student.id)
        args = (str(student.path), assignment_id, seed, support, student_overrides)
        kwargs = {"student": student.id, **({"settings": dict(settings)} if settings else {}),
                  **({"assignment_dirs": local_dirs} if local_dirs else {})}
        task = _Task(student, key or {}, student_overrides, args, kwargs, seed)
        stored = stored_record(outdir, student.folder)
        if only is not None and student.id not in only:
            summary.kept += 1
            plan.finished.add(student.folder)  # its stored result (if any) stays as it is
            continue
        if only is None and not force and is_current(stored, _code_key(key)):
            if stored.get("overrides") == key.get("overrides"):
                summary.skipped += 1
                plan.finished.add(student.folder)
            else:
                plan.rescore.append(task)
            continue
        plan.tasks.append(task)
    return plan


def _code_key(key: dict | None) -> dict | None:
    """The part of a cache key that decides whether the code must be graded again (all but the overrides)."""
    return None if key is None else {name: value for name, value in key.items() if name != "overrides"}


def _rescore(tasks: list[_Task], outdir: Path, assignment: Any, rubric: Any, writer: ResultWriter,
             summary: BatchSummary) -> list[_Task]:
    """Apply the changed manual points of `tasks` to their stored results; returns those that must be graded
    again because their stored result cannot be re-scored."""
    from datetime import datetime, timezone

    from grader.batch.rescore import RescoreError, rescore
    regrade = []
    for task in tasks:
        try:
            graded = rescore(outdir, task.student.folder, assignment, rubric, task.overrides)
        except RescoreError as exc:
            writer.on_failure(f"{task.student.id}: graded again: {exc}")
            regrade.append(task)
            continue
        old = graded.results["extra_data"].get("batch") or {}
        key = {**task.key, "content_hash": old.get("content_hash", task.key.get("content_hash"))}
        # The grading's own facts stay; only the time the points were applied is new.
        more = {name: old[name] for name in ("graded_at", "seconds", "worker", "worker_peak_rss_kb") if name in old}
        writer._store(task.student, graded, key, rescored_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     counted=False, **more)
        summary.rescored += 1
    return regrade


def _check_only(only: Collection[str] | None, students: list[Student]) -> None:
    """BatchError when `only` names a student the class folder does not have (with the closest ids)."""
    if only is None:
        return
    import difflib
    ids = [s.id for s in students]
    for wanted in only:
        if wanted not in ids:
            close = difflib.get_close_matches(wanted, ids, n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise BatchError(f"no student {wanted!r} in the class folder{hint}")


def _execute(tasks: list[_Task], work: WorkUnit, writer: ResultWriter, engine: Engine, code: ClassCode) -> None:
    """Record the broken entries, then run the others' work units with `engine`; each graded student's code is
    read for the class comparison as their result is stored."""
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

    def finish(task: _Task, outcome: Any) -> bool:
        again = writer.finish(task, outcome)
        if not again:
            try:
                code.read(task.student.id, str(task.student.path))
            except Exception:  # noqa: BLE001 - one student's file never stops the batch; it is read again at the end
                pass
        return again

    drive(runnable, work, finish, lambda: engine.make_executor(workers), engine.close,
          window=workers + engine.queued)


def _write_class_files(students: list[Student], outdir: Path, rubric: Any, assignment: Any,
                       finished: set[str], summary: BatchSummary, code: ClassCode) -> None:
    """gradebook.csv and index.html from the stored results (students not reached yet are "not graded"),
    with the identical and near-identical submissions (grader.batch.similarity)."""
    assignment_id = assignment.id
    pending = f"{NOT_GRADED}: the batch was interrupted before this student; run it again to resume"
    rows = [read_row(outdir, s.id, folder=s.folder, status=None if s.folder in finished else pending)
            for s in students]
    summary.pending = sum(1 for row in rows if row.kind == NOT_GRADED)
    summary.broken = sum(1 for row in rows if row.kind == BROKEN)
    summary.errors = sum(1 for row in rows if row.kind == GRADER_ERROR)
    items = [{"id": item.id, "title": item.title, "max_score": item.points} for item in rubric.items]
    write_gradebook(outdir, rows, [item.id for item in rubric.items])
    graded = {s.id: str(s.path) for s, row in zip(students, rows) if not s.problem and row.kind != NOT_GRADED}
    pairs = code.pairs(graded)
    write_index(outdir, rows, assignment=assignment_id, rubric_items=items, similar=pairs)


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



"""The batch's work unit: grade one student in this process and return plain data.

A plain, picklable function so that a local process pool and a Dask cluster
can both run it; it calls the same `grader.outputs.grade_submission` as
`grader grade` and the course server.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

# One grading at a time per process: the checks runner drives pytest, which
# swaps process-wide state (stdout, environment). A Dask worker with several
# threads would otherwise run two gradings at once in one process.
_GRADING_LOCK = threading.Lock()


def grade_student(path: str, assignment_id: str, seed: int, support_dirs: tuple[str, ...] = (),
                  overrides: dict[str, dict] | None = None, *, student: str | None = None,
                  settings: dict[str, Any] | None = None, assignment_dirs: tuple[str, ...] = ()) -> dict:
    """Grade one submission in this process; returns plain data.

    `overrides` maps rubric item ids to ``{"points", "comment"}``; `student`
    names the student in the report's title; `settings` replaces entries of
    the assignment's [settings] (the demo's shorter training budget);
    `assignment_dirs` are the batch's local assignment folders (a pool or
    cluster process may have started before they were chosen, so it is told
    rather than left to inherit them). The result holds ``results``
    (the results.json dict), ``report_html``, ``status`` ("graded", or
    "broken: why" when the submission could not be read), ``seconds``,
    ``student_seconds``, ``worker_pid`` and ``worker_peak_rss_kb``. A bad
    submission never raises; an exception here is a grader bug.
    """
    from grader.model import Override
    from grader.outputs import grade_submission

    started = time.perf_counter()
    if assignment_dirs:
        from grader.config.locations import local_assignment_dirs, use_assignment_dirs
        if [str(p) for p in local_assignment_dirs()] != list(assignment_dirs):
            use_assignment_dirs(assignment_dirs)
    item_overrides = {item: Override.from_dict(o) for item, o in (overrides or {}).items()}
    with _GRADING_LOCK:
        graded = grade_submission(path, assignment_id, seed=seed, student=student, support_dirs=tuple(support_dirs),
                                  overrides=item_overrides, settings=settings)
    return {"results": graded.results, "report_html": graded.report_html, "status": graded.status,
            "seconds": round(time.perf_counter() - started, 3),
            "student_seconds": round(graded.run.student_seconds, 3),
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

"""Grade one submission and make what it hands back: the results.json data and the HTML report.

`grade_submission` is the one function that `grader grade`, `grader batch`
(through its work unit), `grader regrade` and the course server call, so a
student's results and report are built the same way everywhere.
`placeholder` makes the results of a student who could not be graded at
all (an unreadable entry, a fault of ours), and `render_report` (re)renders a
report from stored results, with the assignment's own report sections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.config.assignment import Assignment, load_assignment
from grader.config.rubric import rubric_for
from grader.files import write_text_atomic
from grader.grading import GradingRun, grade
from grader.model import Override, RowState
from grader.report.html import render_student_report
from grader.report.results_json import to_results_json, write_json_atomic
from grader.report.sections import Section
from grader.scoring.rubric import apply_rubric
from grader.text import one_line

RESULTS_NAME, REPORT_NAME = "results.json", "report.html"
REASON_LIMIT = 500


@dataclass
class Graded:
    """One graded submission as it is handed back: results.json data, the report, and the row's status."""

    results: dict[str, Any]
    report_html: str
    status: str            # "graded", or "broken: why" when the submission could not be read
    run: GradingRun | None = None

    def write(self, folder: str | os.PathLike) -> None:
        """Write ``report.html`` then ``results.json`` into `folder`, each atomically: results.json last,
        so that a results.json on disk always comes with its report."""
        folder = Path(folder)
        write_text_atomic(folder / REPORT_NAME, self.report_html)
        write_json_atomic(folder / RESULTS_NAME, self.results)


def grade_submission(path: str | os.PathLike, assignment: Assignment | str, *, seed: int | None = None,
                     student: str | None = None, public_only: bool = False, support_dirs: tuple[str, ...] = (),
                     overrides: dict[str, Override] | None = None,
                     settings: dict[str, Any] | None = None) -> Graded:
    """Grade the submission at `path` and build its results.json data and HTML report.

    `student` names the student in the report's title (default: the
    submission's file name). The other arguments are `grader.grading.grade`'s.
    Never raises for a bad submission; raises ConfigurationError for an
    unusable assignment.
    """
    if isinstance(assignment, str):
        assignment = load_assignment(assignment)
    run = grade(path, assignment, seed=seed, public_only=public_only, support_dirs=support_dirs,
                overrides=overrides, settings=settings)
    results = to_results_json(run.result, execution_time=run.execution_time, output="\n".join(run.notes()),
                              extra=run.extra_data())
    status = RowState.GRADED.value if run.submission_error is None else \
        RowState.BROKEN.with_reason(one_line(run.submission_error, REASON_LIMIT))
    return Graded(results, render_report(results, run.assignment, student=student), status, run)


def placeholder(assignment: Assignment, state: RowState, reason: str, *, message: str, seed: int | None,
                submission_file: str, student: str, overrides: dict[str, Override] | None = None) -> Graded:
    """The results of a student who could not be graded: every item at zero (or the instructor's override).

    `state` is BROKEN (the entry cannot be graded: `reason` is the student's)
    or GRADER_ERROR (a fault of ours); `message` is what the student reads.
    """
    rubric = rubric_for(assignment.rubric)
    result = apply_rubric(rubric, [], collection_errors=[message], overrides=overrides)
    results = to_results_json(result, execution_time=0.0, output=message, extra={
        "seed": seed, "submission_file": submission_file, "submission_sha256": None, "submission_error": message})
    return Graded(results, render_report(results, assignment, student=student),
                  state.with_reason(one_line(reason, REASON_LIMIT)))


def render_report(results: dict, assignment: Assignment, *, student: str | None = None) -> str:
    """The student's HTML report of `results`, with the assignment's report sections when it has that hook."""
    return render_student_report(results, student=student, sections=report_sections(results, assignment))


def report_sections(results: dict, assignment: Assignment) -> list[Section]:
    """The sections the assignment's report_sections hook builds from the recorded checks ([] without the hook).

    The hook reads what a student's code produced, so a failure in it must
    not cost the student their report: it becomes a section saying so.
    """
    hook = assignment.hooks.report_sections
    if hook is None:
        return []
    checks = (results.get("extra_data") or {}).get("checks") or []
    try:
        return list(hook(checks, dict(assignment.settings)))
    except Exception as exc:  # noqa: BLE001
        return [Section("section-error", "More details",
                        intro=f"This part of the report could not be drawn ({type(exc).__name__}); your scores "
                              f"above are complete.")]

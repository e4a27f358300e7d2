"""Grade one submission: load it, start its sandbox, run the assignment's checks, apply the rubric.

The checks run on the trusted side (grader.checking.runner); student code runs
only in the sandbox worker. Every way a submission can be broken (unreadable
file, syntax errors, a crash at import, missing functions) ends as a graded
result with reasons, never as an exception out of `grade`. Rendering the
result (results.json, the HTML report) is grader.outputs' job.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import __version__
from grader.checking.budget import Budget
from grader.checking.runner import run_checks
from grader.checking.student import StudentCode
from grader.config.assignment import Assignment, load_assignment
from grader.config.rubric import rubric_for
from grader.model import GradeResult, Override
from grader.sandbox import Limits, Sandbox, SandboxConfig, protections_off
from grader.scoring.quality import estimate_quality
from grader.scoring.rubric import apply_rubric
from grader.source.loadplan import RUN, plan_load, statements_to_run
from grader.source.ownership import origins
from grader.source.pyparse import parse_pieces
from grader.source.submission import Submission, SubmissionError, load_submission


@dataclass
class GradingRun:
    """Everything one grading run produced, before rendering."""

    assignment: Assignment
    result: GradeResult
    seed: int
    execution_time: float
    student_seconds: float
    submission: Submission | None = None
    submission_error: str | None = None
    load_problems: list[dict] = field(default_factory=list)
    skipped_statements: list[dict] = field(default_factory=list)
    sandbox_events: list[str] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    output: str = ""

    def notes(self) -> list[str]:
        """Lines about loading and the sandbox that the student should read (skipped lines, crashes)."""
        notes = []
        if self.submission_error:
            notes.append(f"Your submission could not be read: {self.submission_error}")
        for problem in self.load_problems:
            notes.append(f"While loading, {problem['where']} failed and was skipped: {problem['type']}: "
                         f"{problem['message']}")
        for event in self.sandbox_events:
            notes.append(f"Sandbox: {event}")
        return notes

    def extra_data(self) -> dict:
        """What results.json carries beyond Gradescope's fields."""
        return {
            "grader_version": __version__,
            "assignment": self.assignment.id,
            "seed": self.seed,
            "submission_sha256": self.submission.sha256 if self.submission else None,
            "submission_file": self.submission.filename if self.submission else None,
            "submission_error": self.submission_error,
            "load_problems": self.load_problems,
            "skipped_statements": self.skipped_statements,
            "sandbox_events": self.sandbox_events,
            "sandbox_protections": self.protections,
            "sandbox_protections_off": protections_off(self.protections) if self.protections else [],
            "student_seconds": round(self.student_seconds, 3),
        }


def new_seed() -> int:
    """A fresh seed the student cannot predict (recorded so a run can be replayed)."""
    return secrets.randbits(31)


def grade(path: str | Path, assignment: Assignment | str, *, seed: int | None = None, public_only: bool = False,
          support_dirs: tuple[str, ...] = (), overrides: dict[str, Override] | None = None,
          settings: dict[str, Any] | None = None) -> GradingRun:
    """Grade the submission at `path`; never raises for a bad submission.

    Raises ConfigurationError when the assignment's configuration turns out
    unusable (before grading, or when a check finds it so).

    `settings` replaces entries of the assignment's [settings] for this run
    (e.g. a shorter training budget in the grader's own tests).
    """
    started = time.perf_counter()
    if isinstance(assignment, str):
        assignment = load_assignment(assignment)
    assignment = assignment.with_settings(settings or {})
    rubric = rubric_for(assignment.rubric)
    seed = new_seed() if seed is None else int(seed)
    run_kwargs: dict[str, Any] = {}
    try:
        submission = load_submission(Path(path))
    except SubmissionError as exc:
        message = _without_folders(str(exc), Path(path))
        result = apply_rubric(rubric, [], collection_errors=[f"the submission could not be read: {message}"],
                              overrides=overrides)
        return GradingRun(assignment, result, seed, time.perf_counter() - started, 0.0,
                          submission_error=message)
    # Parsed once: the load plan and the quality estimate read the same pieces.
    pieces = parse_pieces(submission.source, submission.filename)
    statements = plan_load(submission.source, filename=submission.filename,
                           required_names=assignment.required_names, parsed=pieces)
    to_run = statements_to_run(statements)
    skipped = [{"lineno": s.lineno, "where": submission.origin(s.lineno), "reason": s.reason}
               for s in statements if s.action != RUN]
    sandbox = Sandbox(submission.source, to_run, filename=submission.filename,
                      config=sandbox_config(assignment, support_dirs))
    with sandbox:
        student = StudentCode(sandbox, assignment.aliases, exception_hint=assignment.hooks.exception_hint,
                              not_loaded=_unloaded_definitions(statements, submission),
                              origins=origins(statements), budget=Budget(assignment.submission_seconds))
        outcomes, collection_errors = run_checks(assignment, student, seed=seed, public_only=public_only)
        student_seconds = sandbox.student_seconds
        run_kwargs.update(
            load_problems=[{"lineno": p.lineno, "where": submission.origin(p.lineno), "type": p.type_name,
                            "message": p.message} for p in sandbox.load_problems],
            sandbox_events=list(sandbox.events), protections=list(sandbox.applied), output=sandbox.output)
    quality = None
    if any(getattr(item, "source", None) == "quality" for item in rubric.items):
        estimate = estimate_quality(submission.source, list(assignment.required_functions),
                                    notebook=submission.kind == "ipynb", pieces=pieces)
        quality = (estimate.fraction, [f"{c.name}: {c.points:g}/{c.max_points:g}" for c in estimate.criteria]
                   + [e for c in estimate.criteria for e in c.evidence])
    result = apply_rubric(rubric, outcomes, quality=quality, overrides=overrides,
                          collection_errors=collection_errors)
    return GradingRun(assignment, result, seed, time.perf_counter() - started, student_seconds,
                      submission=submission, skipped_statements=skipped, **run_kwargs)


def _without_folders(message: str, path: Path) -> str:
    """`message` naming the submission by its own name: the folders it was read from are the instructor's
    (``demo-report/submissions/...``, a private unpack folder), not the student's business."""
    for folder in {str(path.parent), str(path.absolute().parent), str(path.resolve().parent)}:
        if folder not in ("", "."):
            message = message.replace(folder.rstrip(os.sep) + os.sep, "")
    return message


def sandbox_config(assignment: Assignment, support_dirs: tuple[str, ...] = ()) -> SandboxConfig:
    """What one submission of `assignment` asks of the sandbox."""
    return SandboxConfig(assignment=assignment.id, limits=Limits(**assignment.limits),
                         refused_imports=assignment.refused_imports, support_dirs=tuple(support_dirs),
                         preload=assignment.preload)


_DEFINITION = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)


def _unloaded_definitions(statements: list, submission: Submission) -> dict[str, str]:
    """Functions and classes whose definition was skipped (a syntax error), and why."""
    out = {}
    for statement in statements:
        if statement.action == RUN:
            continue
        for name in _DEFINITION.findall(statement.source):
            out.setdefault(name, f"{submission.origin(statement.lineno)} was skipped ({statement.reason})")
    return out

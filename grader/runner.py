"""Grade one submission: load it, start its sandbox, run the assignment's checks, apply the rubric.

The checks are pytest files run in this (trusted) process with a plugin that
provides the fixtures and records every check's outcome as data. Student
code runs only in the sandbox worker. Every way a submission can be broken
(unreadable file, syntax errors, a crash at import, missing functions) ends
as a graded result with reasons, never as an exception out of `grade`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import secrets
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader import __version__
from grader.assignment import ASSIGNMENTS_DIR, Assignment, AssignmentError, load_assignment
from grader.checks import CheckFailure, StudentCode
from grader.outcomes import ERROR, FAILED, PASSED, SKIPPED, CheckOutcome
from grader.sandbox import Sandbox, SandboxError
from grader.submission import Submission, SubmissionError, load_submission
from grader.loadplan import RUN, plan_load, statements_to_run


@dataclass
class GradingRun:
    """Everything one grading run produced, before rendering."""

    assignment: Assignment
    result: Any                              # grader.rubric.GradeResult
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
            "student_seconds": round(self.student_seconds, 3),
        }


def new_seed() -> int:
    """A fresh seed the student cannot predict (recorded so a run can be replayed)."""
    return secrets.randbits(31)


def grade(path: str | Path, assignment: Assignment | str, *, seed: int | None = None, public_only: bool = False,
          support_dirs: tuple[str, ...] = (), overrides: dict | None = None,
          settings: dict[str, Any] | None = None) -> GradingRun:
    """Grade the submission at `path`; never raises for a bad submission.

    Raises AssignmentError when the assignment's configuration turns out
    unusable while grading (a bad [settings] value a check reads).

    `settings` replaces entries of the assignment's [settings] for this run
    (e.g. a shorter training budget in the grader's own tests).
    """
    from grader.quality import estimate_quality
    from grader.rubric import grade as apply_rubric, rubric_for

    started = time.perf_counter()
    if isinstance(assignment, str):
        assignment = load_assignment(assignment)
    if settings:
        assignment = dataclasses.replace(assignment, settings={**assignment.settings, **settings})
    rubric = rubric_for(assignment.rubric)
    seed = new_seed() if seed is None else int(seed)
    run_kwargs: dict[str, Any] = {}
    try:
        submission = load_submission(Path(path))
    except SubmissionError as exc:
        result = apply_rubric(rubric, [], collection_errors=[f"the submission could not be read: {exc}"],
                              overrides=overrides)
        return GradingRun(assignment, result, seed, time.perf_counter() - started, 0.0,
                          submission_error=str(exc))
    statements = plan_load(submission.source, filename=submission.filename,
                           required_names=assignment.required_names)
    to_run = statements_to_run(statements)
    skipped = [{"lineno": s.lineno, "where": submission.origin(s.lineno), "reason": s.reason}
               for s in statements if s.action != RUN]
    sandbox = Sandbox(submission.source, to_run, filename=submission.filename,
                      config=assignment.sandbox_config(support_dirs))
    with sandbox:
        student = StudentCode(sandbox, assignment.aliases, exception_hint=_exception_hint(),
                              not_loaded=_unloaded_definitions(statements, submission))
        outcomes, collection_errors = run_checks(assignment, student, seed=seed, public_only=public_only)
        student_seconds = sandbox.student_seconds
        run_kwargs.update(
            load_problems=[{"lineno": p.lineno, "where": submission.origin(p.lineno), "type": p.type_name,
                            "message": p.message} for p in sandbox.load_problems],
            sandbox_events=list(sandbox.events), protections=list(sandbox.applied), output=sandbox.output)
    quality = None
    if any(getattr(item, "source", None) == "quality" for item in rubric.items):
        estimate = estimate_quality(submission.source, list(assignment.required_functions),
                                    notebook=submission.kind == "ipynb")
        quality = (estimate.fraction, [f"{c.name}: {c.points:g}/{c.max_points:g}" for c in estimate.criteria]
                   + [e for c in estimate.criteria for e in c.evidence])
    result = apply_rubric(rubric, outcomes, quality=quality, overrides=overrides,
                          collection_errors=collection_errors)
    return GradingRun(assignment, result, seed, time.perf_counter() - started, student_seconds,
                      submission=submission, skipped_statements=skipped, **run_kwargs)


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


def _exception_hint() -> Any:
    try:
        from grader.diagnose import diagnose_exception
    except ImportError:
        return None

    def hint(function: str, type_name: str, message: str, shapes: dict) -> str | None:
        diagnosis = diagnose_exception(function, type_name, message, shapes)
        return diagnosis.hint if diagnosis else None
    return hint


# ---------------------------------------------------------------- pytest


class _GradingPlugin:
    """Fixtures for the checks, and the recorder that turns reports into outcomes."""

    def __init__(self, assignment: Assignment, student: StudentCode, seed: int) -> None:
        self._assignment = assignment
        self._student = student
        self._seed = seed
        self.outcomes: dict[str, CheckOutcome] = {}
        self.collection_errors: list[str] = []
        self.configuration_errors: list[AssignmentError] = []
        self._started: dict[str, float] = {}

    @pytest.fixture(scope="session")
    def student(self) -> StudentCode:
        """The student's code, called through the sandbox."""
        return self._student

    @pytest.fixture(scope="session")
    def assignment(self) -> Assignment:
        """The assignment's configuration (settings, aliases)."""
        return self._assignment

    @pytest.fixture(scope="session")
    def seed(self) -> int:
        """This grading run's seed."""
        return self._seed

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        """A generator seeded from the run's seed and the check's id: fresh per run, replayable."""
        return np.random.default_rng([self._seed, zlib.crc32(request.node.nodeid.encode())])

    @pytest.fixture(scope="module")
    def module_rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        """Like `rng`, seeded from the check file's id: for inputs every check of a file shares."""
        return np.random.default_rng([self._seed, zlib.crc32(request.node.nodeid.encode())])

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "public: the check runs in the student's self-check too")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'checks'}: {_short(str(report.longrepr))}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        outcome = yield
        report = outcome.get_result()
        nodeid = report.nodeid
        if call.when == "setup":  # this hook runs after each phase: the check started when its setup did
            self._started[nodeid] = call.start
        existing = self.outcomes.get(nodeid)
        if existing is not None and existing.status != PASSED:
            return  # the first phase that failed says why
        if report.passed and call.when != "call":
            return
        title = _title(item)
        public = item.get_closest_marker("public") is not None
        duration = call.stop - self._started.get(nodeid, call.start)
        details = dict(getattr(item, "grading_details", {}))
        if report.passed:
            fraction = getattr(item, "grading_fraction", None)
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, PASSED, public=public, details=details,
                                                 duration=duration, fraction=fraction)
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, AssignmentError):  # the assignment's configuration, not the student's code
            self.configuration_errors.append(exc)
        if report.skipped:
            reason = str(exc.msg) if exc is not None and hasattr(exc, "msg") else "skipped"
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, SKIPPED, message=reason, public=public,
                                                 duration=duration)
            return
        if isinstance(exc, CheckFailure):
            details.update(exc.details)
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, exc.status, message=exc.message, hint=exc.hint,
                                                 public=public, details=details, duration=duration,
                                                 fraction=getattr(item, "grading_fraction", None)
                                                 if exc.status == FAILED else None)
        elif isinstance(exc, SandboxError):
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, ERROR, message=exc.reason, public=public,
                                                 details=details, duration=duration)
        elif isinstance(exc, AssertionError):
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, FAILED, message=_short(str(exc)) or title,
                                                 public=public, details=details, duration=duration)
        else:
            name = type(exc).__name__ if exc is not None else "Error"
            self.outcomes[nodeid] = CheckOutcome(
                nodeid, title, ERROR, public=public, details=details, duration=duration,
                message=f"The check could not use what your code returned ({name}: {_short(str(exc))}).")


def run_checks(assignment: Assignment, student: StudentCode, *, seed: int,
               public_only: bool = False) -> tuple[list[CheckOutcome], list[str]]:
    """Run the assignment's checks against `student`; returns (outcomes, collection errors).

    Raises AssignmentError when a check found the assignment's configuration
    unusable (a bad [settings] value): no student should be scored by it.
    """
    plugin = _GradingPlugin(assignment, student, seed)
    _forget_other_assignments_checks(assignment)
    args = [str(assignment.checks_dir), "--rootdir", str(assignment.checks_dir), "-c", os.devnull,
            "--import-mode=importlib", "-p", "no:cacheprovider", "-p", "no:stepwise", "-o", "addopts=",
            "-q", "--no-header", "-W", "ignore", "--assert=plain", "-s",
            # Plugins a grading run never uses: each costs start-up time on every submission.
            "-p", "no:doctest", "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:unittest",
            "-p", "no:legacypath", "-p", "no:nose", "-p", "no:logging", "-p", "no:faulthandler",
            "-p", "no:debugging", "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:warnings",
            "-p", "no:python_path", "-p", "no:tmpdir", "-p", "no:monkeypatch", "-p", "no:recwarn",
            "-p", "no:unraisableexception", "-p", "no:threadexception"]
    if public_only:
        args += ["-m", "public"]
    sink = io.StringIO()
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # third-party plugins have no business here
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = pytest.main(args, plugins=[plugin])
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    if plugin.configuration_errors:
        raise plugin.configuration_errors[0]
    errors = list(plugin.collection_errors)
    if code not in (0, 1, 5) and not errors:
        errors.append(f"the checks could not run (pytest exit code {int(code)}): {_short(sink.getvalue())}")
    outcomes = [_relative(o, assignment.checks_dir) for o in plugin.outcomes.values()]
    return outcomes, errors


def _forget_other_assignments_checks(assignment: Assignment) -> None:
    """Drop other assignments' check modules from sys.modules.

    pytest imports check files by base name, and two assignments both have a
    test_gradient_check.py: without this, grading the lab after the
    exercises in one process would reuse the exercises' module. The current
    assignment's modules stay cached, which keeps a batch fast.
    """
    root, own = str(ASSIGNMENTS_DIR) + os.sep, str(assignment.checks_dir) + os.sep
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(root) and not path.startswith(own):
            del sys.modules[name]


def _relative(outcome: CheckOutcome, checks_dir: Path) -> CheckOutcome:
    prefix = checks_dir.name + "/"
    if outcome.check_id.startswith(prefix):
        outcome.check_id = outcome.check_id[len(prefix):]
    return outcome


def _title(item: pytest.Item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    title = doc.splitlines()[0] if doc else item.name
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec is not None else title


def _short(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."

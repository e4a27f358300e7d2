"""Run an assignment's checks (pytest files) against one student's code and record every outcome as data.

The checks run in this (trusted) process with a plugin that provides their
fixtures (``student``, ``assignment``, ``reference``, ``seed``, ``rng``,
``module_rng``, and ``earlier``: the checks that already ran and did not
pass), honours declared prerequisites (``@pytest.mark.requires(...)``) and
turns each check's report into a `CheckOutcome`. Student code runs only in
the sandbox behind ``student``.

While the checks run, their folder is first on ``sys.path``: a check file
imports what its folder's ``conftest.py`` or another module there defines
(``from conftest import Lab``) by the ordinary import system, and those
modules are forgotten when another assignment's checks run in this process.

Prerequisites, as check50 declares them::

    @pytest.mark.requires("test_backprop_agrees_*", "test_forward.py::test_compute_cost_values",
                          why="a gradient check can only be tested on correct code")
    def test_gradient_check_flags_a_planted_bug(...): ...

Each argument is a selector of checks that run earlier (``*`` and ``?``
wildcards; without ``::`` it names checks of the same file, and a function
name covers all its parametrizations). Unless every check it selects earned
full credit, the dependant is not run and scores zero as "not graded until
... pass", with the titles of the checks that did not and `why`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zlib
from typing import Any

import numpy as np
import pytest

from grader.checking.failures import CheckFailure, NotGraded
from grader.checking.student import StudentCode
from grader.config.assignment import Assignment
from grader.config.hooks import load_reference
from grader.config.rubric import selector_matches
from grader.errors import ConfigurationError, GraderFault
from grader.model import ERROR, FAILED, PASSED, SKIPPED, CheckOutcome
from grader.sandbox import InfrastructureError, SandboxError

REQUIRES_MARKER = "requires"
# Exceptions in a check that are failures of the grader's machinery, never of the student's code.
MACHINERY_FAILURES = (InfrastructureError, OSError, EOFError)
_MESSAGE_LIMIT = 600
# Check folders this process has run: pytest imports check files by base name,
# so another assignment's modules must be forgotten before these run.
_CHECK_DIRS_RUN: set[str] = set()


class _GradingPlugin:
    """Fixtures for the checks, prerequisites, and the recorder that turns reports into outcomes."""

    def __init__(self, assignment: Assignment, student: StudentCode, seed: int) -> None:
        self._assignment = assignment
        self._student = student
        self._seed = seed
        self._prefix = assignment.checks_dir.name + "/"
        self.outcomes: dict[str, CheckOutcome] = {}
        self.collection_errors: list[str] = []
        self.configuration_errors: list[ConfigurationError] = []
        self.machinery_failure: str | None = None
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
    def reference(self) -> Any:
        """The assignment's reference module (its `reference` key), imported on the trusted side only."""
        return load_reference(self._assignment)

    @pytest.fixture(scope="session")
    def seed(self) -> int:
        """This grading run's seed."""
        return self._seed

    @pytest.fixture(scope="session")
    def earlier(self) -> "EarlierChecks":
        """The outcomes of the checks that already ran (to name another item's failing function in a hint)."""
        return EarlierChecks(self)

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
        config.addinivalue_line("markers", "requires(*selectors, why=''): not graded until those checks pass")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'checks'}: {_short(str(report.longrepr))}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        budget = getattr(self._student, "budget", None)  # no student: checks that need no code
        if budget is not None and budget.exhausted():
            raise budget.not_started()  # status "budget": the check is zero, with the reason
        marker = item.get_closest_marker(REQUIRES_MARKER)
        if marker is not None:
            self._require(item, marker)

    def _require(self, item: pytest.Item, marker: pytest.Mark) -> None:
        """Raise NotGraded unless every check the marker selects ran earlier and earned full credit."""
        own_file = self._relative(item.nodeid).split("::", 1)[0]
        missing, failing = [], []
        for selector in marker.args:
            if "::" not in selector:
                selector = f"{own_file}::{selector}"
            ran = [o for check_id, o in self.outcomes.items() if _selects(selector, self._relative(check_id))]
            if not ran:
                missing.append(selector)
            failing += [o for o in ran if not o.earned_full_credit()]
        if not (missing or failing):
            return
        why = marker.kwargs.get("why", "")
        titles = list(dict.fromkeys(_without_parameters(o.title) for o in failing)) + \
            [f"{selector} (it did not run)" for selector in missing]
        shown = "; ".join(f"\u201c{t}\u201d" for t in titles)
        raise NotGraded(f"Not graded until {'this check passes' if len(titles) == 1 else 'these checks pass'}: "
                        f"{shown}{': ' + why if why else ''}.")

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
        stop = self._budget_stop()
        if stop is not None and not self._machinery_failed(call.excinfo.value if call.excinfo else None):
            # The budget ran out during this check: it did not run as written, whatever it then made of the
            # stopped call (a check may catch a student's failure and fall back), so it says where time went.
            # Claimed at each phase's report, so a failure never carries over to the next check.
            details.update(stop.details)
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, stop.status, message=stop.message, hint=stop.hint,
                                                 public=public, details=details, duration=duration)
            return
        if report.passed:
            fraction = getattr(item, "grading_fraction", None)
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, PASSED, public=public, details=details,
                                                 duration=duration, fraction=fraction)
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, ConfigurationError):  # the assignment's configuration, not the student's code
            self.configuration_errors.append(exc)
        if self._machinery_failed(exc):
            # Nothing this check said is about the student: stop, and let no outcome become a score.
            item.session.shouldstop = "the grader's shared machinery failed"
            self.outcomes[nodeid] = CheckOutcome(nodeid, title, ERROR, public=public, duration=duration,
                                                 message=f"Not graded: {self.machinery_failure}")
            return
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

    def _budget_stop(self) -> CheckFailure | None:
        """The budget failure raised during this check, even one the check caught (None when there was none)."""
        budget = getattr(self._student, "budget", None)
        return None if budget is None else budget.claim()

    def _machinery_failed(self, exc: BaseException | None) -> bool:
        """Whether shared machinery (the sandbox's zygote, its connection) failed under this check; remembers why."""
        if self.machinery_failure is None:
            failure = _infrastructure_failure(self._student)
            if failure is not None:
                self.machinery_failure = failure
            elif isinstance(exc, MACHINERY_FAILURES):
                # Student code never raises into this process: an OSError here is ours (a reset
                # connection to the zygote, a broken pipe), as is the sandbox's InfrastructureError.
                self.machinery_failure = f"{type(exc).__name__}: {_short(str(exc))}"
        return self.machinery_failure is not None

    def _relative(self, nodeid: str) -> str:
        return nodeid[len(self._prefix):] if nodeid.startswith(self._prefix) else nodeid


class EarlierChecks:
    """What a check may know of the checks that ran before it: which of them did not earn full credit.

    Checks run file by file in name order, so a training check sees every
    forward and backward check. A hint may then say "your L_layer_backward
    fails its checks: fix it first" instead of guessing at a symptom; it
    never changes a verdict.
    """

    def __init__(self, plugin: _GradingPlugin) -> None:
        self._plugin = plugin

    def failed(self, *selectors: str) -> list[CheckOutcome]:
        """The checks that ran, match one of `selectors` (as in ``requires``) and did not earn full credit."""
        plugin = self._plugin
        return [o for check_id, o in plugin.outcomes.items()
                if any(_selects(s, plugin._relative(check_id)) for s in selectors) and not o.earned_full_credit()]


def run_checks(assignment: Assignment, student: StudentCode, *, seed: int,
               public_only: bool = False) -> tuple[list[CheckOutcome], list[str]]:
    """Run the assignment's checks against `student`; returns (outcomes, collection errors).

    Raises ConfigurationError when a check found the assignment's
    configuration unusable: no student should be scored by it; raises
    GraderFault when the sandbox's shared machinery failed during the run
    (the outcomes would not be about the student's code).
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
    checks_path = str(assignment.checks_dir)
    sys.path.insert(0, checks_path)  # `from conftest import ...` and helper modules of the checks folder
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = pytest.main(args, plugins=[plugin])
    finally:
        if checks_path in sys.path:
            sys.path.remove(checks_path)
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    if plugin.configuration_errors:
        raise plugin.configuration_errors[0]
    failure = plugin.machinery_failure or _infrastructure_failure(student)
    if failure is not None:
        raise GraderFault(f"the grader's shared machinery failed while grading this submission ({failure}); "
                          "no score is recorded: it is graded again")
    errors = list(plugin.collection_errors)
    if code not in (0, 1, 5) and not errors:
        errors.append(f"the checks could not run (pytest exit code {int(code)}): {_short(sink.getvalue())}")
    outcomes = []
    for outcome in plugin.outcomes.values():
        outcome.check_id = plugin._relative(outcome.check_id)
        outcomes.append(outcome)
    return outcomes, errors


def _infrastructure_failure(student: Any) -> str | None:
    # Checks that need no student code (an assignment's own self-tests) run with no student at all.
    return None if student is None else student.infrastructure_failure


def _forget_other_assignments_checks(assignment: Assignment) -> None:
    """Drop the check modules of other assignments this process ran from sys.modules.

    pytest imports check files by base name, and two assignments both have a
    test_gradient_check.py: without this, grading the lab after the
    exercises in one process would reuse the exercises' module. The current
    assignment's modules stay cached, which keeps a batch fast.
    """
    own = str(assignment.checks_dir) + os.sep
    others = tuple(d for d in _CHECK_DIRS_RUN if d != own)
    _CHECK_DIRS_RUN.add(own)
    if not others:
        return
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(others):
            del sys.modules[name]


def _selects(selector: str, check_id: str) -> bool:
    """Whether `selector` names `check_id`, a bare function name covering all its parametrizations."""
    return selector_matches(selector, check_id) or selector_matches(selector + "[*]", check_id)


def _without_parameters(title: str) -> str:
    return title.rsplit(" [", 1)[0] if title.endswith("]") else title


def _title(item: pytest.Item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    title = doc.splitlines()[0] if doc else item.name
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec is not None else title


def _short(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."

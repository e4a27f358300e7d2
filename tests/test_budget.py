"""A submission's checks share one wall-clock budget (issue 11): past it the rest fail with status "budget".

Every call is bounded on its own, but a function that sleeps 9.5 s per call
(under the 10 s call limit) or six class bodies that each sleep 10 s at load
once made one student take minutes. `[limits] submission_seconds` bounds the
sum; here the budget is cut to seconds so that the tests stay short.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from grader.checking.budget import MIN_TIMEOUT, Budget, BudgetedConfig
from grader.config.assignment import AssignmentError, _limits, _submission_seconds, load_assignment
from grader.grading import grade
from grader.model import BUDGET, PASSED, Status
from grader.outputs import render_report
from grader.report.results_json import to_results_json
from grader.report.terminal import render_summary
from grader.sandbox import Limits, SandboxConfig

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "attacks"))
from make_attacks import write_attacks  # noqa: E402

SHORT_BUDGET = 12.0  # seconds: one 9.5 s call fits, the second does not


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_clamps_timeouts_and_the_sandbox_limits_it_hands_out():
    clock = _Clock()
    budget = Budget(30, clock=clock)
    config = BudgetedConfig(SandboxConfig(assignment="x", limits=Limits(call_timeout=10, load_timeout=10)), budget)
    assert budget.clamp(60) == 30 and config.limits.call_timeout == 10 and config.assignment == "x"
    clock.now += 25
    assert budget.clamp(60) == pytest.approx(5) and config.limits.load_timeout == pytest.approx(5)
    clock.now += 10
    assert budget.exhausted() and budget.clamp(60) == MIN_TIMEOUT and config.limits.call_timeout == MIN_TIMEOUT
    budget.record("linear_forward", 9.5)
    budget.record("linear_forward", 9.5)
    failure = budget.not_started()
    assert failure.status == BUDGET == Status.BUDGET.value
    assert "30 s" in failure.message and "`linear_forward`: 2 calls, 19.0 s" in failure.hint


def test_the_budget_is_a_limit_of_assignment_toml_validated_at_load(tmp_path):
    assert load_assignment("backprop-lab").submission_seconds == 300
    path = tmp_path / "assignment.toml"
    assert _submission_seconds(path, {}) == 300
    assert "submission_seconds" not in _limits(path, {"submission_seconds": 120, "call_timeout": 5})
    assert _submission_seconds(path, {"submission_seconds": 120, "call_timeout": 5}) == 120
    for bad, message in (({"submission_seconds": 0}, "must be a positive number"),
                         ({"submission_seconds": "long"}, "must be a positive number"),
                         ({"submission_seconds": float("inf")}, "must be a positive number")):
        with pytest.raises(AssignmentError, match=message):
            _limits(path, bad)
    with pytest.raises(AssignmentError, match="must be at least limits.call_timeout"):
        _submission_seconds(path, {"submission_seconds": 5, "call_timeout": 10})


@pytest.fixture(scope="module")
def attacks(tmp_path_factory):
    return write_attacks(tmp_path_factory.mktemp("attacks"), ["sleeps_per_call", "slow_class_bodies"])


@pytest.fixture(scope="module")
def short_budget():
    return dataclasses.replace(load_assignment("backprop-lab"), submission_seconds=SHORT_BUDGET)


def _statuses(run) -> dict[str, str]:
    return {o.check_id: o.status for o in run.result.outcomes}


def test_a_function_that_sleeps_under_the_call_limit_stops_at_the_budget(attacks, short_budget):
    run = grade(attacks["sleeps_per_call"], short_budget, seed=2, settings={"train_timeout": 10.0})
    statuses = _statuses(run)
    order = [o.status for o in run.result.outcomes]
    first = order.index(BUDGET)
    # The checks before the budget ran out passed (linear_forward answers right, slowly); every later one is cut.
    assert set(order[:first]) <= {PASSED} and set(order[first:]) == {BUDGET}, statuses
    budget = [o for o in run.result.outcomes if o.status == BUDGET]
    # One check says which call was stopped (linear_forward itself, or a pass calling it) and where time went.
    stopped = [o for o in budget if " was stopped: this submission's time budget ran out" in o.message]
    assert len(stopped) == 1 and "`linear_forward`" in stopped[0].hint
    assert all(o.message.startswith("Not run: this submission used up its time budget") for o in budget
               if o is not stopped[0])
    # Zero points for every check cut by the budget; the reports show the status by name.
    for item in run.result.items:
        assert all(o.earned() == 0 for o in item.outcomes if o.status == BUDGET)
    results = to_results_json(run.result, execution_time=run.execution_time, extra=run.extra_data())
    assert any("[budget]" in test["output"] for test in results["tests"])
    assert "time budget used up" in render_report(results, run.assignment)
    assert "(budget)" in render_summary(run.result, color=False)


def test_class_bodies_that_sleep_at_load_cost_the_budget_not_minutes(attacks, short_budget):
    # A budget below the 10 s load limit: the budget cuts the very first load, so every check is the budget's.
    # (With 12 s the first load could time out by its own 10 s limit before the deadline, a load timeout of the
    # student's: whether it does depends on how long the sandbox took to start, and CI once saw it.)
    run = grade(attacks["slow_class_bodies"], dataclasses.replace(short_budget, submission_seconds=8.0), seed=2)
    statuses = set(_statuses(run).values())
    assert PASSED not in statuses and statuses <= {BUDGET, "skipped"}, _statuses(run)
    first = min((o for o in run.result.outcomes if o.status == BUDGET), key=lambda o: o.duration, default=None)
    assert first is not None


class _StoppedStudent:
    """Student code whose every call is stopped by the budget (what a sandbox call gets once time runs out)."""

    infrastructure_failure = None

    def __init__(self) -> None:
        self.budget = Budget(60.0)

    def call(self, name: str, *args):
        raise self.budget.stopped(name)


def test_a_check_that_catches_the_stopped_call_still_reports_the_budget(tmp_path):
    """A check may catch a student's failure and fall back (the lab learns cache layouts that way); a budget stop
    inside it must still make that check, and every later one, a "budget" zero naming the stopped call."""
    from grader.checking.runner import run_checks
    from tests.test_engine import tiny_assignment
    checks = {"test_fallback.py": '''
        from grader.checking import CheckFailure

        def test_falls_back(student):
            """Catches what the student's call raised"""
            try:
                student.call("forward")
            except CheckFailure:
                pass  # e.g. "use the chapter's layout instead"

        def test_later(student):
            """A later check"""
        '''}
    outcomes, errors = run_checks(tiny_assignment(tmp_path, checks), student=_StoppedStudent(), seed=1)
    assert errors == []
    by_id = {o.check_id: o for o in outcomes}
    first, later = by_id["test_fallback.py::test_falls_back"], by_id["test_fallback.py::test_later"]
    assert first.status == BUDGET and first.message.startswith("`forward` was stopped")
    assert later.status == BUDGET and later.message.startswith("Not run")


class _SlowSandbox:
    """A sandbox whose one call runs `seconds` on the test's clock and then times out by its own limit."""

    def __init__(self, clock: _Clock, seconds: float) -> None:
        self.config = SandboxConfig(assignment="x", limits=Limits(call_timeout=10, load_timeout=10))
        self.clock, self.seconds = clock, seconds

    def has(self, name: str) -> bool:
        return True

    def call(self, name, args, kwargs, *, timeout=None, **options):
        from grader.sandbox import CallTimeout
        self.clock.now += self.seconds
        raise CallTimeout(f"timed out after {timeout:g} s")


def test_a_training_that_times_out_by_its_own_limit_is_not_called_a_budget_stop(monkeypatch):
    """With 65 s of the budget left, a train() given 60 s that uses them all is the student's timeout, even though
    only 5 s of the budget remain after it, less than a call's limit (the budget cut no limit when it began)."""
    from grader.checking import BudgetExhausted, StudentCode, StudentCodeTimeout
    clock = _Clock()
    monkeypatch.setattr("grader.checking.student.time.monotonic", clock)
    student = StudentCode(_SlowSandbox(clock, 60.0), budget=Budget(65, clock=clock))
    with pytest.raises(StudentCodeTimeout) as raised:
        student.run("train", timeout=60)
    assert raised.value.status != BUDGET and "did not finish" in raised.value.message
    # A call that begins once the budget cuts the limits (5 s left, under the 10 s call limit) and times out is
    # the budget's doing, even before the deadline has passed.
    student.sandbox.seconds = 1.0
    with pytest.raises(BudgetExhausted) as raised:
        student.run("train", timeout=60)
    assert raised.value.status == BUDGET and clock.now < 165  # stopped 4 s before the deadline

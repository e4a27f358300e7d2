"""backprop-research graded end to end: the reference earns full marks, each typical mistake an exact score.

Expected scores are fractions of each rubric item; every item not listed must
be full. The Value item has 41 checks: one for data and grad, one for
backward(), 16 single operations, the same 16 with their operand used again,
reused nodes, 4 random expressions and 2 logistic losses.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest

from grader.config.assignment import load_assignment
from grader.config.rubric import rubric_for
from grader.grading import grade
from reference.value_graphs import OPERATION_KINDS
from tests.grading_helpers import assert_fragments, assert_scores, reference_submission

ASSIGNMENT = "backprop-research"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "research"
SEED = 20250611
VALUE_CHECKS = 41

CASES = {
    # Single operations are right; each reused operand is not (12 operations), nor are reused nodes. No
    # operation between Values works when reused, so the random expressions cannot be drawn. The logistic
    # loss passes: with y = 0 or 1 one of its two uses of `a` contributes exactly 0, so overwriting is harmless.
    "bug_value_grad_overwrites": (
        {"value_autograd": (VALUE_CHECKS - 17) / VALUE_CHECKS},
        [("test_value_accumulates_over_reused_nodes", "The output is right but the gradients are not"),
         ("test_value_reused_operand[mul]", "never assign it (=): in ((x0 * x1) + x0) + x1"),
         ("test_value_random_expression[expression-1]", "Not graded: a random expression needs")]),
    # log and 2 / v fail on their own; their reuse and the loss (which needs log) are not graded.
    "bug_value_missing_ops": (
        {"value_autograd": (VALUE_CHECKS - 6) / VALUE_CHECKS},
        [("test_value_operation[log]", "'Value' object has no attribute 'log'"),
         ("test_value_operation[number_div]", "unsupported operand type(s) for /"),
         ("test_value_operation[number_div]", "__rtruediv__"),
         ("test_value_reused_operand[log]", "needs `x.log()`, which fails on its own"),
         ("test_value_logistic_regression_loss[y=0]", "needs `x.log()`, which fails on its own")]),
    "bug_value_exp_derivative": (
        {"value_autograd": (VALUE_CHECKS - 4) / VALUE_CHECKS},
        [("test_value_operation[exp]", "exp is its own derivative"),
         ("test_value_operation[exp]", "finite differences of your own forward give")]),
    # A shared node's _backward runs once per path; with y = 0 the first path contributes 0 (harmless).
    "bug_value_no_topological_order": (
        {"value_autograd": (VALUE_CHECKS - 6) / VALUE_CHECKS},
        [("test_value_accumulates_over_reused_nodes", "build a topological order"),
         ("test_value_random_expression[expression-3]", "build a topological order"),
         ("test_value_logistic_regression_loss[y=1]", "(a - y) times its input")]),
    "bug_checkpoint_keeps_everything": (
        {"checkpointing": 2 / 3},
        [("test_checkpointing_saves_memory", "checkpointing must stay at or below 60%"),
         ("test_checkpointing_saves_memory", "Keep only every segment_size-th activation")]),
    "bug_checkpoint_last_segment": (
        {"checkpointing": 2 / 3},
        [("test_checkpointed_gradients_match_plain_backprop[segment_size=3]", "KeyError: 'W17'")]),
    "bug_checkpoint_boundary_mask": (
        {"checkpointing": 0.0},
        [("test_checkpointed_gradients_match_plain_backprop[segment_size=4]", "(right: dW13, db13,"),
         ("test_checkpointing_saves_memory", "Not graded until checkpointed_gradients")]),
    "bug_checkpoint_missing": (
        {"checkpointing": 0.0},
        [("test_checkpointing_saves_memory", "does not define `checkpointed_gradients`")]),
}


@functools.lru_cache(maxsize=None)
def _graded(path: str, seed: int = SEED):
    return grade(path, ASSIGNMENT, seed=seed)


def _fixture(name: str) -> str:
    return str(FIXTURES / f"{name}.py")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The research reference as one file: it imports layer helpers from the lab's reference, so inline that."""
    path = reference_submission("backprop_research", tmp_path_factory.mktemp("reference"))
    return grade(path, ASSIGNMENT, seed=SEED)


def test_reference_earns_full_marks(reference_run):
    assert_scores(reference_run, {})


def test_memory_report_shows_both_peaks_and_the_extra_work(reference_run):
    outcome = next(o for o in reference_run.result.outcomes if o.check_id.endswith("test_checkpointing_saves_memory"))
    details = outcome.details
    # The reference submission has the lab's plain passes too, so both baselines are measured.
    assert {"checkpointed_peak_mb", "reference_plain_peak_mb", "your_plain_peak_mb"} <= set(details)
    assert details["memory_ratio"] <= 0.6
    assert details["forward_layer_evaluations"] == {"plain": 16, "checkpointed": 28}
    assert details["extra_forward_work"].startswith("12 more layer evaluations")


@pytest.mark.parametrize("seed", [SEED, 1])
def test_correct_submission_earns_full_marks(seed):
    assert_scores(_graded(_fixture("correct"), seed), {})


def test_rubric_selectors_agree_with_the_checks():
    run = _graded(_fixture("correct"))
    check_ids = [o.check_id for o in run.result.outcomes]
    assert len([c for c in check_ids if c.startswith("test_value_autograd.py::")]) == VALUE_CHECKS
    assert rubric_for(ASSIGNMENT).validate_against(check_ids) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_typical_mistake_earns_its_exact_score(name):
    fractions, fragments = CASES[name]
    run = _graded(_fixture(name))
    assert_scores(run, fractions)
    assert_fragments(run, fragments)


def test_every_fixture_is_covered():
    assert {p.stem for p in FIXTURES.glob("*.py")} == set(CASES) | {"correct"}


# ------------------------------------------------------------------ issue 10 §4: each mistake charged where it lives

VERDICTS = FIXTURES / "verdicts"
VALUE_PREFIX = "test_value_autograd.py::"


def _verdict_run(name: str):
    return _graded(str(VERDICTS / f"{name}.py"))


def _not_passed(run) -> dict[str, str]:
    """Value check (without its file) -> status, for every Value check that did not pass."""
    return {o.check_id.removeprefix(VALUE_PREFIX): o.status for o in run.result.outcomes
            if o.check_id.startswith(VALUE_PREFIX) and o.status != "passed"}


@pytest.mark.parametrize("name, kind, also", [
    ("bug_value_no_log", "log", {"test_value_logistic_regression_loss[y=0]", "test_value_logistic_regression_loss[y=1]"}),
    ("bug_value_no_rsub", "number_sub", set()),
])
def test_one_missing_operation_costs_only_its_own_checks(name, kind, also):
    """The operation fails alone, its reuse is not graded, and nothing else is charged for it, except the
    logistic loss, which cannot be written without log."""
    not_passed = _not_passed(_verdict_run(name))
    assert set(not_passed) == {f"test_value_operation[{kind}]", f"test_value_reused_operand[{kind}]"} | also
    assert not_passed[f"test_value_reused_operand[{kind}]"] == "skipped"  # not graded, with the reason


@pytest.mark.parametrize("name, left_out", [
    ("bug_value_no_log", {"log"}),
    ("bug_value_pow_assigns", {"pow", "div", "number_div"}),
    ("bug_value_exp_assigns", {"exp"}),
])
def test_random_expressions_draw_only_operations_that_pass_on_their_own(name, left_out):
    run = _verdict_run(name)
    expressions = [o for o in run.result.outcomes if "test_value_random_expression" in o.check_id]
    assert len(expressions) == 4
    for outcome in expressions:
        assert outcome.status == "passed", outcome.message
        assert set(outcome.details["operations_left_out"]) == left_out
        assert set(outcome.details["operations"]) == set(OPERATION_KINDS) - left_out


def test_the_reuse_check_covers_every_operation_as_the_chapter_writes_it():
    run = _graded(_fixture("correct"))
    expressions = {o.check_id.removeprefix(VALUE_PREFIX): o.details["expression"] for o in run.result.outcomes
                   if "test_value_reused_operand" in o.check_id}
    assert set(expressions) == {f"test_value_reused_operand[{kind}]" for kind in OPERATION_KINDS}
    for kind, steps in [("pow", "n2 = x0 ** 3; n3 = n2 + x0;"), ("exp", "n2 = x0.exp(); n3 = n2 * x0;"),
                        ("log", "n2 = x0.log(); n3 = n2 + x0;"), ("neg", "n2 = -x0; n3 = n2 * x0;"),
                        ("div", "n2 = x0 / x1; n3 = n2 + x0; n4 = n3 + x1;")]:
        assert steps in expressions[f"test_value_reused_operand[{kind}]"]


@pytest.mark.parametrize("name, kind", [("bug_value_exp_assigns", "exp"), ("bug_value_pow_assigns", "pow")])
def test_an_assignment_instead_of_adding_fails_the_operations_reuse_check(name, kind):
    run = _verdict_run(name)
    outcome = next(o for o in run.result.outcomes if o.check_id.endswith(f"test_value_reused_operand[{kind}]"))
    assert outcome.status == "failed"
    assert "never assign it (=)" in outcome.hint and kind in outcome.hint
    assert f"test_value_operation[{kind}]" not in _not_passed(run)


def test_the_data_and_grad_check_needs_no_plain_number_operands():
    not_passed = _not_passed(_verdict_run("bug_value_no_number_operands"))
    assert "test_value_holds_data_and_starts_with_zero_grad" not in not_passed
    # Charged where it lives: the eight operations with a plain number (and their reuse), nothing else; the
    # logistic loss wraps its numbers in Values for such an engine.
    number_kinds = [k for k in OPERATION_KINDS if "number" in k]
    assert set(not_passed) == {f"test_value_{check}[{k}]" for k in number_kinds
                               for check in ("operation", "reused_operand")}


def test_a_backward_that_runs_twice_gets_one_hint_pointing_at_backward():
    run = _verdict_run("bug_value_backward_twice")
    not_passed = _not_passed(run)
    failed = [check for check, status in not_passed.items() if status != "skipped"]
    assert failed == ["test_value_backward_starts_at_one_and_runs_once"]
    outcome = next(o for o in run.result.outcomes if o.check_id.endswith(failed[0]))
    assert "doubled" in outcome.message and "backward()" in outcome.hint
    # Every other check that needs gradients waits for backward(), and none blames an operation's code.
    assert len(not_passed) == VALUE_CHECKS - 1  # all but the data/grad check
    texts = [f"{o.message} {o.hint or ''}" for o in run.result.outcomes
             if o.check_id.removeprefix(VALUE_PREFIX) in not_passed]
    assert all("__add__" not in text and "__mul__" not in text for text in texts)
    assert all("backward()" in text for text in texts)


def test_a_value_that_hangs_costs_a_few_call_timeouts_not_one_per_operation(tmp_path):
    source = (FIXTURES / "correct.py").read_text(encoding="utf-8")
    hanging = source.replace("    def backward(self):\n", "    def backward(self):\n        while True:\n            pass\n", 1)
    assert hanging != source
    path = tmp_path / "hangs.py"
    path.write_text(hanging, encoding="utf-8")
    assignment = load_assignment(ASSIGNMENT)
    quick = dataclasses.replace(assignment, limits={**assignment.limits, "call_timeout": 1.0})
    run = grade(path, quick, seed=SEED, settings={"memory_batch": 256})  # only the Value checks matter here
    value = {o.check_id.removeprefix(VALUE_PREFIX): o for o in run.result.outcomes
             if o.check_id.startswith(VALUE_PREFIX)}
    timed_out = [c for c, o in value.items() if o.status == "timeout" and not o.message.startswith("Not run")]
    assert len(timed_out) == 3, timed_out
    assert all(o.message.startswith("Not run: your Value ran out of time on 3 operations already")
               for c, o in value.items() if c.startswith("test_value_operation[") and c not in timed_out)
    assert {o.status for c, o in value.items() if c.startswith(("test_value_random", "test_value_logistic",
                                                                 "test_value_holds_data"))} == {"skipped"}

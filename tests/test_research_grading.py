"""backprop-research graded end to end: the reference earns full marks, each typical mistake an exact score.

Expected scores are fractions of each rubric item; every item not listed must
be full. The Value item has 24 checks: one for data and grad, 16 single
operations, reused nodes, 4 random expressions and 2 logistic losses.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from grader.config.rubric import rubric_for
from grader.grading import grade
from tests.grading_helpers import assert_fragments, assert_scores, reference_submission

ASSIGNMENT = "backprop-research"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "research"
SEED = 20250611
VALUE_CHECKS = 24

CASES = {
    # Single operations are right; reused nodes and random expressions are not. The logistic loss
    # passes: with y = 0 or 1 one of its two uses of `a` contributes exactly 0, so overwriting is harmless.
    "bug_value_grad_overwrites": (
        {"value_autograd": (VALUE_CHECKS - 5) / VALUE_CHECKS},
        [("test_value_accumulates_over_reused_nodes", "the output is right but the gradients are not"),
         ("test_value_random_expression[expression-1]", "self.grad += ..., never =")]),
    # log and 2 / v fail on their own, and so does everything that uses them.
    "bug_value_missing_ops": (
        {"value_autograd": (VALUE_CHECKS - 8) / VALUE_CHECKS},
        [("test_value_operation[log]", "'Value' object has no attribute 'log'"),
         ("test_value_operation[number_div]", "unsupported operand type(s) for /"),
         ("test_value_operation[number_div]", "__rtruediv__"),
         ("test_value_random_expression[expression-2]", "the single-operation checks show which one fails")]),
    "bug_value_exp_derivative": (
        {"value_autograd": (VALUE_CHECKS - 7) / VALUE_CHECKS},
        [("test_value_operation[exp]", "exp is its own derivative"),
         ("test_value_operation[exp]", "finite differences of your own forward give")]),
    # A shared node's _backward runs once per path; with y = 0 the first path contributes 0 (harmless).
    "bug_value_no_topological_order": (
        {"value_autograd": (VALUE_CHECKS - 6) / VALUE_CHECKS},
        [("test_value_accumulates_over_reused_nodes", "build a topological order"),
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

"""backprop-exercises graded end to end: the reference earns full marks, each typical mistake an exact score.

Expected scores are fractions of each rubric item (so the rubric's points can
change without touching these tests); every item not listed must be full.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from grader.config.rubric import rubric_for
from grader.grading import grade
from tests.grading_helpers import assert_fragments, assert_scores, reference_submission

ASSIGNMENT = "backprop-exercises"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "exercises"
SEED = 20250611

# fixture -> ({item id: expected fraction of its points}, [(check id fragment, message or hint fragment)])
CASES = {
    "bug_leaky_relu_ignores_dA": (
        {"leaky_relu_backward": 1 / 8},  # only the in-place check passes
        [("test_leaky_relu_default_alpha", "You return the local derivative only")]),
    "bug_leaky_relu_zero_as_positive": (
        {"leaky_relu_backward": 1 / 8},
        [("test_leaky_relu_alpha_keyword", "At Z == 0 the chapter takes the derivative as alpha")]),
    "bug_leaky_relu_fixed_alpha": (
        {"leaky_relu_backward": 6 / 8},
        [("test_leaky_relu_alpha_positional", "but alpha=0.2 was passed"),
         ("test_leaky_relu_alpha_keyword", "but alpha=0.3 was passed")]),
    "bug_leaky_relu_in_place": (
        {"leaky_relu_backward": 7 / 8},
        [("test_leaky_relu_leaves_inputs_unchanged", "changed its input dA in place")]),
    "bug_check_shapes_bare_assert": (
        {"check_shapes": (3 + 2 * 0.5) / 5},  # half credit on both mismatch checks
        [("test_check_shapes_raises_on_mismatch[dW1_transposed]", "raised AssertionError with no message"),
         ("test_check_shapes_raises_on_mismatch[db2_flattened]", "half credit")]),
    "bug_check_shapes_prints": (
        {"check_shapes": 3 / 5},
        [("test_check_shapes_raises_on_mismatch[dW1_transposed]", "it must raise AssertionError. It printed")]),
    "bug_any_depth_two_layers": (
        # only depth 2 passes, forward and backward (2 of 18 checks); [5, 4, 3, 1] has three layers
        {"any_depth": 2 / 18, "gradient_check": 0.0},
        [("test_forward_fixed_architecture[3-1]", "This network has 1 layer(s)"),
         ("test_backward_fixed_architecture[3-1]", "This network has 1 layer(s)"),
         ("test_forward_fixed_architecture[7-6-5-4-3-1]", "returned AL with shape (5, 8); expected shape (1, 8)"),
         ("test_backprop_agrees_with_numerical_gradients",
          "Your L_layer_backward fails its own checks (see C3: backpropagation for any depth): fix it first"),
         ("test_gradient_check_passes_correct_code", "Not graded until this check passes: \u201cYour backprop gradients agree")]),
    "bug_gradient_check_own_gradients": (
        {"gradient_check": 2 / 3},
        [("test_gradient_check_flags_a_planted_bug", "a gradient check must report more than 0.001")]),
    "bug_debug_untouched": (
        {"debug_this": 0.0},
        [("test_bug1_", "off by the factor m / n_x"),
         ("test_bug2_", "bug 2 is not fixed"),
         ("test_bug3_", "returned db1 with shape (1, "),
         ("test_no_new_bugs", "Not graded until at least one of the three bugs is fixed")]),
    "bug_debug_bug2_unfixed": (
        {"debug_this": 2 / 3},
        [("test_bug2_", "the unfixed product dZ2 @ A1 cannot be computed")]),
    "bug_debug_only_bug1_fixed": (
        {"debug_this": 1 / 3},
        [("test_bug3_", "np.sum(dZ1, axis=1, keepdims=True)")]),
    "bug_debug_new_bug_dW1": (
        {"debug_this": 3 / 4},  # the three bugs' thirds, less the no-new-bug check's quarter
        [("test_no_new_bugs", "dW1 is wrong, although none of the three bugs affects it")]),
    # The backward pass built on the unstable softmax is judged with the grader's softmax in its place: the
    # instability is charged once, in the softmax's own check.
    "bug_softmax_unstable": (
        {"softmax_ce": 3 / 4},
        [("test_softmax_is_stable_for_large_logits", "subtract each column's own max")]),
    "bug_softmax_ce_divides_by_classes": (
        {"softmax_ce": 2 / 4},
        [("test_softmax_cross_entropy_backward", "m = z.shape[1]")]),
}


@functools.lru_cache(maxsize=None)
def _graded(path: str, seed: int = SEED):
    return grade(path, ASSIGNMENT, seed=seed)


def _fixture(name: str) -> str:
    return str(FIXTURES / f"{name}.py")


def test_reference_earns_full_marks(tmp_path):
    # The exercises' reference imports C2/C3 from the lab's reference: one file needs that inlined.
    run = grade(reference_submission("backprop_exercises", tmp_path), ASSIGNMENT, seed=SEED)
    assert_scores(run, {})
    assert run.result.score == run.result.max_score


@pytest.mark.parametrize("seed", [SEED, 1, 2])
def test_correct_submission_earns_full_marks(seed):
    assert_scores(_graded(_fixture("correct"), seed), {})


def test_rubric_selectors_agree_with_the_checks():
    run = _graded(_fixture("correct"))
    assert rubric_for(ASSIGNMENT).validate_against([o.check_id for o in run.result.outcomes]) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_typical_mistake_earns_its_exact_score(name):
    fractions, fragments = CASES[name]
    run = _graded(_fixture(name))
    assert_scores(run, fractions)
    assert_fragments(run, fragments)


def test_debug_this_credit_follows_the_bugs_fixed():
    outcomes = {o.check_id: o for o in _graded(_fixture("bug_debug_bug2_unfixed")).result.outcomes}
    no_new_bugs = outcomes["test_debug_this.py::test_no_new_bugs"]
    assert no_new_bugs.status == "passed"
    assert no_new_bugs.fraction == pytest.approx(2 / 3)
    assert no_new_bugs.details["bugs_fixed"] == [1, 3]


def test_every_fixture_is_covered():
    names = {p.stem for p in FIXTURES.glob("*.py")}
    assert names == set(CASES) | {"correct"}


def test_a_check_shapes_that_crashes_is_named_in_the_message(tmp_path):
    submission = reference_submission("backprop_exercises", tmp_path)
    source = submission.read_text().replace('    """C4: check that every gradient',
                                            '    import os\n    os._exit(3)\n    """C4: check that every gradient', 1)
    submission.write_text(source)
    run = grade(submission, ASSIGNMENT, seed=SEED)
    assert_scores(run, {"check_shapes": 0.0})
    assert_fragments(run, [("test_check_shapes_raises_on_mismatch", "`check_shapes` did not return")])

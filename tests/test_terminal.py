"""The terminal summary: the numbers, the failures with hints, colour on request, the self-check's limits."""

from __future__ import annotations

import pytest

from grader.model import CheckOutcome
from grader.model import Override
from grader.report.terminal import render_summary
from grader.config.rubric import rubric_for
from grader.scoring.rubric import apply_rubric

LONG_MESSAGE = ("dW1 differs from the reference in 12 of 12 entries; the worst is at (2, 1) where your value is "
                "off by a factor of m = 7, which is what dividing by m twice would give. ") * 2


@pytest.fixture
def result():
    outcomes = [
        CheckOutcome("test_forward.py::test_linear_forward_values[n_x=3,m=1]", "linear_forward values", "passed",
                     public=True),
        CheckOutcome("test_forward.py::test_L_layer_forward_values[2-5-3-1,m=7]", "L_layer_forward values",
                     "failed", message="AL has shape (1, 5); expected (1, 7).", hint="Read m from X.shape[1].",
                     public=True),
        CheckOutcome("test_backward.py::test_L_layer_backward_gradients[4-3-1,m=7]", "L_layer_backward gradients",
                     "failed", message=LONG_MESSAGE, hint="Divide by m once, in dW and db only.", public=True),
        CheckOutcome("test_backward.py::test_L_layer_backward_leaves_inputs_unchanged", "SECRET-HIDDEN-CHECK",
                     "failed", message="SECRET-HIDDEN-MESSAGE", hint="SECRET-HIDDEN-HINT",
                     details={"expected": "SECRET-EXPECTED-VALUE"}),
        CheckOutcome("test_training.py::test_train_reaches_the_accuracy_bar", "accuracy", "passed", public=True,
                     details={"accuracy": 0.987}),
        CheckOutcome("test_training.py::test_plot_decision_boundary_returns_a_figure", "plot", "passed"),
    ]
    return apply_rubric(rubric_for("backprop-lab"), outcomes, quality=(0.75, ["Docstrings: 2/3"]),
                 overrides={"gradient_check": Override(4.0, "Handed in late")})


def test_full_summary_shows_scores_failures_and_hints(result):
    text = render_summary(result, color=False)
    assert "Score: 41.5 / 100" in text  # 10 + 0 + 4 (override) + 20 + 7.5
    for row in ("forward", "Forward pass", "10/20"), ("backward", "0/30"), ("training", "20/20"), ("quality", "7.5/10"):
        line = next(line for line in text.splitlines() if line.strip().startswith(row[0] + " "))
        assert all(part in line for part in row), line
    assert "AL has shape (1, 5); expected (1, 7)." in text
    assert "Hint: Read m from X.shape[1]." in text
    assert "SECRET-HIDDEN-MESSAGE" in text  # the instructor's view shows hidden checks
    assert "SECRET-EXPECTED-VALUE" not in text  # details are never printed
    assert "score set by the instructor to 4/20 (automatic 0): Handed in late" in text
    assert "quality: Docstrings: 2/3" in text
    assert "gradient_check: no check of this item ran" in text


def test_long_messages_are_wrapped_and_indented_to_88_columns(result):
    text = render_summary(result, color=False)
    assert all(len(line) <= 88 for line in text.splitlines())
    message_lines = [line for line in text.splitlines() if "dW1 differs" in line or "off by a factor" in line]
    assert message_lines and all(line.startswith("      ") for line in message_lines)
    assert "Hint: Divide by m once, in dW and db only." in " ".join(line.strip() for line in text.splitlines())


def test_no_ansi_codes_without_color_and_some_with_it(result):
    assert "\x1b[" not in render_summary(result, color=False)
    assert "\x1b[" not in render_summary(result, color=False, public_only=True)
    coloured = render_summary(result, color=True)
    assert "\x1b[32m" in coloured and "\x1b[0m" in coloured


def test_self_check_shows_only_public_checks_and_counts_them(result):
    text = render_summary(result, color=False, public_only=True)
    assert "SECRET" not in text
    assert "Self-check: public checks only" in text
    assert "1/2 public checks passed" in text
    assert "0/1 public checks passed" in text  # backward: the hidden check is not counted
    assert "Hint: Read m from X.shape[1]." in text
    assert "no public checks" in text  # gradient_check has none in this result
    assert "estimate 7.5/10" in text and "Docstrings: 2/3" in text
    assert "no check of this item ran" not in text  # notes of check-fed items may name hidden checks
    assert "Score:" not in text and "Handed in late" not in text


def test_all_passed_says_so():
    outcomes = [CheckOutcome("test_value_autograd.py::test_add", "add", "passed", public=True),
                CheckOutcome("test_checkpointing.py::test_memory", "memory", "passed", public=True)]
    result = apply_rubric(rubric_for("backprop-research"), outcomes)
    text = render_summary(result, color=False)
    assert "Score: 100 / 100" in text
    assert "All checks passed." in text
    assert "All public checks passed." in render_summary(result, color=False, public_only=True)

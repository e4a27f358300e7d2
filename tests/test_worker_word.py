"""Nothing the worker says about the student is believed (issue 11): attack submissions graded for real.

Each attack is a correct lab submission (tests/fixtures/lab/correct_classic.py)
with one attack appended (tests/fixtures/attacks/*.snippet). Each used to score
on the check it attacks; each must now fail exactly that check, for a reason
the trusted side established itself: inputs read back from shared memory, the
gradient check's value compared with the grader's own numerical gradients,
the figure's rendered pixels, and a training task no pasted network fits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from grader.grading import grade
from grader.model import PASSED, SKIPPED

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "attacks"))
from make_attacks import write_attacks  # noqa: E402

ATTACKS = ["unchanged_lying_worker", "gradient_check_saved_original", "gradient_check_detects_patch",
           "plot_duck_typed_figure", "plot_static_picture", "train_pasted_rotation_search",
           "train_sklearn_without_finder", "train_200k_units"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    paths = write_attacks(tmp_path_factory.mktemp("attacks"), ATTACKS)
    return {name: grade(path, "backprop-lab", seed=11, settings={"train_timeout": 30.0})
            for name, path in paths.items()}


def _outcomes(run, fragment: str) -> list:
    found = [o for o in run.result.outcomes if fragment in o.check_id]
    assert found, f"no check matching {fragment!r}"
    return found


def _others_pass(run, *attacked: str) -> None:
    """Every check outside the attacked ones passed: the attack costs only what it attacks."""
    rest = [o for o in run.result.outcomes if not any(a in o.check_id for a in attacked)]
    assert all(o.status == PASSED for o in rest), [(o.check_id, o.status, o.message[:120]) for o in rest
                                                    if o.status != PASSED]


def test_inputs_changed_behind_a_lying_worker_are_seen_in_shared_memory(graded):
    run = graded["unchanged_lying_worker"]
    for outcome in _outcomes(run, "test_L_layer_forward_leaves_inputs_unchanged"):
        assert outcome.status == "failed" and "changed its inputs X, params (keys W1)" in outcome.message
    restores = _outcomes(run, "test_gradient_check_restores_parameters")[0]
    assert restores.status == "failed" and "params" in restores.message
    _others_pass(run, "test_L_layer_forward_leaves_inputs_unchanged", "test_gradient_check_restores_parameters")


@pytest.mark.parametrize("attack", ["gradient_check_saved_original", "gradient_check_detects_patch"])
def test_a_gradient_check_without_numerical_gradients_scores_nothing(graded, attack):
    run = graded[attack]
    flags = _outcomes(run, "test_gradient_check_flags_a_planted_bug")[0]
    assert flags.status == "failed" and "numerical gradients" in flags.message
    assert _outcomes(run, "test_gradient_check_returns_the_relative_difference")[0].status == "failed"
    for name in ("passes_correct_code", "uses_two_sided_differences", "restores_parameters"):
        outcome = _outcomes(run, f"test_gradient_check_{name}")[0]
        assert outcome.status == SKIPPED and "flags the planted bug" in outcome.message
    item = run.result.item("gradient_check")
    assert item.score == 6  # only "your backprop agrees with numerical gradients", which it does
    _others_pass(run, "test_gradient_check_")


@pytest.mark.parametrize("attack", ["plot_duck_typed_figure", "plot_static_picture"])
def test_a_figure_that_does_not_draw_its_data_fails_the_plot_check(graded, attack):
    run = graded[attack]
    plot = _outcomes(run, "test_plot_decision_boundary_returns_a_figure")[0]
    assert plot.status == "failed"
    assert "does not show the data points it is given" in plot.message
    assert "no decision boundary" in plot.message
    _others_pass(run, "test_plot_decision_boundary_returns_a_figure")


def test_pasted_weights_turned_into_place_do_not_reach_the_bar(graded):
    run = graded["train_pasted_rotation_search"]
    accuracy = _outcomes(run, "test_train_reaches_the_accuracy_bar")[0]
    assert accuracy.status == "failed" and accuracy.details["accuracy"] < 0.9
    _others_pass(run, "test_train_reaches_the_accuracy_bar")


def test_a_refused_package_cannot_be_imported_by_removing_the_guard(graded):
    run = graded["train_sklearn_without_finder"]
    accuracy = _outcomes(run, "test_train_reaches_the_accuracy_bar")[0]
    assert accuracy.status == "error" and "`train` raised" in accuracy.message
    _others_pass(run, "test_train_reaches_the_accuracy_bar")


def test_a_huge_trained_network_is_refused_before_it_is_evaluated_or_recorded(graded):
    run = graded["train_200k_units"]
    accuracy = _outcomes(run, "test_train_reaches_the_accuracy_bar")[0]
    assert accuracy.status == "failed" and "a network of 800,001 parameters" in accuracy.message
    assert len(json.dumps([o.details for o in run.result.outcomes], default=str)) < 2**20
    _others_pass(run, "test_train_reaches_the_accuracy_bar")


@pytest.mark.parametrize("seed", [5, 7])
def test_a_check_that_answers_a_constant_for_any_swap_scores_nothing_on_any_seed(tmp_path, seed):
    """gradient_check_detects_patch answers max(0, 0.5) whenever something was swapped in: on seed 5 one of
    the planted bug's readings was 0.504 (17/20), on seed 7 its relative difference 0.4826 (9/20). Two planted
    bugs whose readings differ several-fold must both be read by one rule."""
    path = write_attacks(tmp_path, ["gradient_check_detects_patch"])["gradient_check_detects_patch"]
    run = grade(path, "backprop-lab", seed=seed, settings={"train_timeout": 30.0})
    assert run.result.item("gradient_check").score == 6
    assert _outcomes(run, "test_gradient_check_returns_the_relative_difference")[0].status == "failed"

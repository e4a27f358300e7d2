"""results.json: Gradescope's schema, one test per rubric item, atomic writes, and reading it back."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grader.model import CheckOutcome
from grader.model import Override
from grader.report.results_json import read_results, to_results_json, write_json_atomic
from grader.config.rubric import rubric_for
from grader.scoring.rubric import apply_rubric

TOP_KEYS = {"score", "max_score", "execution_time", "output", "tests", "extra_data"}
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility", "tags"}


@pytest.fixture
def result():
    outcomes = [
        CheckOutcome("test_forward.py::test_linear_forward_values[n_x=3,m=1]", "linear_forward values [n_x=3,m=1]",
                     "passed", public=True),
        CheckOutcome("test_forward.py::test_L_layer_forward_values[2-5-3-1,m=7]", "L_layer_forward values",
                     "failed", message="AL has shape (1, 5); expected (1, 7).",
                     hint="Read m from X.shape[1], not X.shape[0].", public=True,
                     details={"expected_shape": [1, 7], "worst": math.inf, "array": np.arange(3)}),
        CheckOutcome("test_backward.py::test_linear_backward_values[n_x=3,m=1]", "linear_backward values", "timeout",
                     message="Your linear_backward ran out of its 10 s."),
        CheckOutcome("test_gradient_check.py::test_backprop_agrees_with_numerical_gradients", "agrees", "passed"),
        # The lab rubric weighs each of the gradient-check checks; a weight group with no check is a zero.
        *[CheckOutcome(f"test_gradient_check.py::test_gradient_check_{name}", name, "passed")
          for name in ("passes_correct_code", "flags_a_planted_bug", "returns_the_relative_difference",
                       "uses_two_sided_differences", "restores_parameters")],
        CheckOutcome("test_training.py::test_train_reaches_the_accuracy_bar", "accuracy", "passed"),
        CheckOutcome("test_training.py::test_plot_decision_boundary_returns_a_figure", "plot", "passed"),
    ]
    return apply_rubric(rubric_for("backprop-lab"), outcomes, quality=(0.5, ["Docstrings: 1/3"]),
                 overrides={"backward": Override(15.0, "Partial credit for the derivation you handed in.")})


def test_top_level_follows_the_gradescope_schema(result):
    data = to_results_json(result, execution_time=12.3456, output="Loaded your notebook.")
    assert set(data) == TOP_KEYS
    assert data["score"] == 10 + 15 + 20 + 20 + 5
    assert data["max_score"] == 100
    assert data["execution_time"] == 12.346
    assert data["output"] == "Loaded your notebook."


def test_one_test_per_rubric_item_in_rubric_order_tagged_with_the_item_id(result):
    tests = to_results_json(result, execution_time=1.0)["tests"]
    assert [t["tags"][0] for t in tests] == ["forward", "backward", "gradient_check", "training", "quality"]
    assert [t["name"] for t in tests] == ["Forward pass", "Backward pass", "Gradient check", "Training + plot",
                                          "Code quality"]
    assert all(set(t) == TEST_KEYS for t in tests)
    assert [(t["score"], t["max_score"], t["status"]) for t in tests] == [
        (10, 20, "failed"), (15, 30, "failed"), (20, 20, "passed"), (20, 20, "passed"), (5, 10, "failed")]
    assert tests[1]["tags"] == ["backward", "override"]
    assert all(t["visibility"] == "visible" for t in tests)


def test_item_output_says_what_was_checked_and_how_to_fix_each_failure(result):
    tests = to_results_json(result, execution_time=1.0)["tests"]
    forward = tests[0]["output"]
    assert "What this checks: Correct shapes, proper caching" in forward
    assert "1 of 2 checks passed." in forward
    assert "[failed] L_layer_forward values\n      AL has shape (1, 5); expected (1, 7)." in forward
    assert "Hint: Read m from X.shape[1], not X.shape[0]." in forward
    backward = tests[1]["output"]
    assert "Score set by your instructor: 15 of 30 (automatic score 0)." in backward
    assert "Partial credit for the derivation you handed in." in backward
    assert "[timeout] linear_backward values" in backward
    assert "Docstrings: 1/3" in tests[4]["output"]


def test_extra_data_holds_every_check_and_the_run_metadata(result):
    data = to_results_json(result, execution_time=1.0, extra={"seed": 1234, "submission_sha256": "ab12"})
    extra = data["extra_data"]
    assert extra["assignment"] == "backprop-lab"
    assert extra["grader_version"]
    assert (extra["seed"], extra["submission_sha256"]) == (1234, "ab12")
    assert [c["check_id"] for c in extra["checks"]] == [o.check_id for o in result.outcomes]
    details = extra["checks"][1]["details"]
    assert details == {"expected_shape": [1, 7], "worst": "inf", "array": [0, 1, 2]}
    with pytest.raises(ValueError, match="reserved"):
        to_results_json(result, execution_time=1.0, extra={"checks": []})


def test_written_file_is_strict_json_and_reads_back_as_the_same_result(result, tmp_path):
    path = tmp_path / "alice" / "results.json"
    write_json_atomic(path, to_results_json(result, execution_time=2.5, output="notes",
                                            extra={"seed": 7}))
    json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temp file left behind
    again = read_results(path)
    assert (again.assignment, again.score, again.max_score) == (result.assignment, result.score, result.max_score)
    assert [i.to_record() for i in again.items][2:] == [i.to_record() for i in result.items][2:]
    assert again.item("backward").override == Override(15.0, "Partial credit for the derivation you handed in.")
    assert again.item("backward").automatic_score == 0
    assert [o.check_id for o in again.item("forward").outcomes] == [o.check_id for o in result.item("forward").outcomes]
    assert again.metadata["seed"] == 7 and again.metadata["output"] == "notes"
    # Rendering the re-read result gives the same file.
    assert to_results_json(again, execution_time=2.5, output="notes")["tests"] == \
        to_results_json(result, execution_time=2.5)["tests"]


def test_atomic_write_replaces_and_leaves_the_old_file_when_data_is_not_json(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomic(path, {"score": 1})
    write_json_atomic(path, {"score": 2})
    assert json.loads(path.read_text())["score"] == 2
    with pytest.raises(ValueError):
        write_json_atomic(path, {"score": math.nan})
    assert json.loads(path.read_text())["score"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_read_results_refuses_a_foreign_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"score": 3, "tests": []}))
    with pytest.raises(ValueError, match="not a results.json written by this grader"):
        read_results(path)

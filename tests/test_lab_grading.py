"""The lab graded end to end: every fixture's item verdicts, the checks that fail, and the targeted hints.

Each fixture in tests/fixtures/lab is graded once, through the real sandbox,
with a fixed seed. What is pinned does not move with the rubric's points:
per fixture, each item's verdict (full, partial or zero marks; quality is
test_quality's business), exactly which checks fail (as patterns of check
ids), and the hints the student reads; the totals are checked against the
rubric itself (the items add up to the score, a full item scores the
rubric's points). Each mistake is charged once, where it lives (issue 10):

- a backward bug costs the backward item, the gradient check (whose
  "backprop agrees with numerical gradients" is the chapter's own criterion,
  and every later check waits for it) and training, never the forward item
  (caching is judged on the caches themselves);
- a forward bug costs the forward item, the gradient check and training,
  never the backward item (judged on caches built from correct values in
  the student's own layout);
- a cost bug costs the cost checks only: the student's gradient_check is
  judged with the grader's compute_cost in place of theirs when theirs
  fails its checks (a held-out file with the logs swapped lost 14 of the
  gradient check's 20 points for a correct gradient_check);
- a gradient_check bug costs the one check of it (one-sided differences the
  two-sided probe, parameters left nudged the restoring check).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from grader.config.rubric import rubric_for
from grader.grading import grade

FIXTURES = Path(__file__).parent / "fixtures" / "lab"
MANIFEST = tomllib.loads((FIXTURES / "MANIFEST.toml").read_text())
SEED = 20261129
ITEMS = ("forward", "backward", "gradient_check", "training", "quality")
VERDICT_ITEMS = ITEMS[:4]
FULL, PART, ZERO = "full", "partial", "zero"

# fixture -> ((forward, backward, gradient_check, training) verdicts, then the ids of the checks that fail, with
# `*` as the only wildcard: every failing check matches one, and every one matches a failing check).
VERDICTS = {
    "correct_classic": ((FULL, FULL, FULL, FULL),
    ),
    "correct_dictcache": ((FULL, FULL, FULL, FULL),
    ),
    "correct_notebook": ((FULL, FULL, FULL, FULL),
    ),
    "correct_float32": ((FULL, FULL, FULL, FULL),
    ),
    "correct_messy": ((FULL, FULL, FULL, FULL),
    ),
    "bug_missing_1_over_m": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=10]",
        "test_backward.py::test_L_layer_backward_gradients[3-1,m=4]",
        "test_backward.py::test_L_layer_backward_gradients[4-32-33-1,m=65]",
        "test_backward.py::test_L_layer_backward_gradients[6-5-4-3-2-1,m=8]",
        "test_backward.py::test_linear_backward_values[n_prev=2,n=3,m=6]",
        "test_backward.py::test_linear_backward_values[n_prev=3,n=4,m=5]",
        "test_backward.py::test_linear_backward_values[n_prev=33,n=32,m=65]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_extra_factor_m": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=10]",
        "test_backward.py::test_L_layer_backward_gradients[3-1,m=4]",
        "test_backward.py::test_L_layer_backward_gradients[4-32-33-1,m=65]",
        "test_backward.py::test_L_layer_backward_gradients[6-5-4-3-2-1,m=8]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_db_wrong_axis": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_backward.py::test_linear_backward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_dW_missing_transpose": ((FULL, ZERO, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_backward.py::test_L_layer_backward_is_backprop",
        "test_backward.py::test_L_layer_backward_leaves_inputs_unchanged",
        "test_backward.py::test_linear_backward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_dA_prev_missing_transpose": ((FULL, ZERO, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_backward.py::test_L_layer_backward_is_backprop",
        "test_backward.py::test_L_layer_backward_leaves_inputs_unchanged",
        "test_backward.py::test_linear_backward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_relu_mask_wrong_layer": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=10]",
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=1]",
        "test_backward.py::test_L_layer_backward_gradients[4-32-33-1,m=65]",
        "test_backward.py::test_L_layer_backward_gradients[6-5-4-3-2-1,m=8]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_sigmoid_derivative_twice": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_last_layer_skipped": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_dZ_sign_flipped": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_relu_backward_wrong": ((FULL, PART, ZERO, FULL),
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=10]",
        "test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=1]",
        "test_backward.py::test_L_layer_backward_gradients[4-32-33-1,m=65]",
        "test_backward.py::test_L_layer_backward_gradients[6-5-4-3-2-1,m=8]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_missing_function": ((FULL, PART, FULL, FULL),
        "test_backward.py::test_linear_backward_values[*]",
    ),
    "bug_wrong_activation_hidden": ((PART, FULL, ZERO, FULL),
        "test_forward.py::test_L_layer_forward_values[2-5-3-1,m=7]",
        "test_forward.py::test_L_layer_forward_values[3-32-16-1,m=64]",
        "test_forward.py::test_L_layer_forward_values[3-6-5-4-2-1,m=9]",
        "test_forward.py::test_L_layer_forward_values[5-4-3-1,m=1]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_wrong_activation_output": ((PART, FULL, ZERO, FULL),
        "test_forward.py::test_L_layer_forward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_missing_bias": ((PART, FULL, ZERO, FULL),
        "test_forward.py::test_L_layer_forward_values[*]",
        "test_forward.py::test_linear_forward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_forward_mutates_input": ((PART, FULL, FULL, FULL),
        "test_forward.py::test_L_layer_forward_leaves_inputs_unchanged[*]",
        "test_forward.py::test_linear_forward_leaves_inputs_unchanged[*]",
    ),
    "bug_cost_wrong_sign": ((PART, FULL, FULL, FULL),
        "test_forward.py::test_compute_cost_values[*]",
    ),
    "bug_cost_missing_mean": ((PART, FULL, FULL, FULL),
        "test_forward.py::test_compute_cost_values[m=7]",
    ),
    "bug_one_sided_differences": ((FULL, FULL, PART, FULL),
        "test_gradient_check.py::test_gradient_check_uses_two_sided_differences",
    ),
    "bug_params_not_restored": ((FULL, FULL, PART, FULL),
        "test_gradient_check.py::test_gradient_check_restores_parameters",
    ),
    "bug_gradient_check_no_relative": ((FULL, FULL, PART, FULL),
        "test_gradient_check.py::test_gradient_check_returns_the_relative_difference",
    ),
    "bug_train_too_short": ((FULL, FULL, FULL, PART),
        "test_training.py::test_train_reaches_the_accuracy_bar",
    ),
    "bug_plot_returns_none": ((FULL, FULL, FULL, PART),
        "test_training.py::test_plot_decision_boundary_returns_a_figure",
    ),
    "bug_syntax_error_in_one_function": ((PART, FULL, PART, PART),
        "test_forward.py::test_compute_cost_values[*]",
        "test_training.py::test_train_reaches_the_accuracy_bar",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_untouched_starter": ((ZERO, ZERO, ZERO, ZERO),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_backward.py::test_L_layer_backward_is_backprop",
        "test_backward.py::test_L_layer_backward_leaves_inputs_unchanged",
        "test_backward.py::test_linear_backward_values[*]",
        "test_forward.py::test_L_layer_forward_leaves_inputs_unchanged[*]",
        "test_forward.py::test_L_layer_forward_values[*]",
        "test_forward.py::test_caches_hold_what_backward_needs",
        "test_forward.py::test_compute_cost_values[*]",
        "test_forward.py::test_linear_forward_leaves_inputs_unchanged[*]",
        "test_forward.py::test_linear_forward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_training.py::test_plot_decision_boundary_returns_a_figure",
        "test_training.py::test_train_reaches_the_accuracy_bar",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    # Its plot raises through the pasted forward pass; judged with the grader's forward it draws (charge once).
    "bug_hardcoded_answers": ((PART, PART, ZERO, PART),
        "test_backward.py::test_L_layer_backward_gradients[*]",
        "test_backward.py::test_linear_backward_values[*]",
        "test_forward.py::test_L_layer_forward_values[*]",
        "test_forward.py::test_caches_hold_what_backward_needs",
        "test_forward.py::test_compute_cost_values[*]",
        "test_forward.py::test_linear_forward_values[*]",
        "test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
        "test_training.py::test_train_reaches_the_accuracy_bar",
        "test_gradient_check.py::test_gradient_check_*",
    ),
    "bug_uses_torch": ((FULL, FULL, FULL, PART),
        "test_training.py::test_train_reaches_the_accuracy_bar",
    ),
    "bug_infinite_loop_in_train": ((FULL, FULL, FULL, PART),
        "test_training.py::test_train_reaches_the_accuracy_bar",
    ),
    "bug_prints_a_lot": ((FULL, FULL, FULL, FULL),
    ),
    "bug_exits_at_import": ((FULL, FULL, FULL, FULL),
    ),
    "broken_binary": ((ZERO, ZERO, ZERO, ZERO),
    ),
    "broken_latin1": ((ZERO, ZERO, ZERO, ZERO),
    ),
    "broken_notebook": ((ZERO, ZERO, ZERO, ZERO),
    ),
    "empty": ((ZERO, ZERO, ZERO, ZERO),
    ),
}

# A fragment of the hint (or, marked "message:", of the message) a student with this bug must read.
HINTS = {
    "bug_missing_1_over_m": "dW and db are averages over the m examples",
    "bug_extra_factor_m": "Divide by m exactly once",
    "bug_db_wrong_axis": "db sums dZ over the examples, the columns",
    "bug_dW_missing_transpose": "dW = (1/m) dZ @ A_prev.T",
    "bug_dA_prev_missing_transpose": "dA_prev = W.T @ dZ",
    "bug_relu_mask_wrong_layer": "so the bug is in the step that goes from layer",
    "bug_sigmoid_derivative_twice": "already includes the sigmoid's derivative",
    "bug_last_layer_skipped": "the forward loop must reach it, and the backward pass must start from it",
    "bug_dZ_sign_flipped": "dZ[L] = A[L] - Y (prediction minus label), not Y - A[L]",
    "bug_relu_backward_wrong": "ReLU backward is dZ = dA * g'(Z)",
    "bug_missing_function": "Define `linear_backward` at the top level",
    "bug_wrong_activation_hidden": "Hidden layers use ReLU",
    "bug_wrong_activation_output": "The output layer uses a sigmoid",
    "bug_missing_bias": "add the bias in every layer",
    "bug_forward_mutates_input": "message:linear_forward changed its input A_prev in place",
    "bug_cost_wrong_sign": "the minus makes the cost positive",
    "bug_cost_missing_mean": "The cost is the mean over the m examples",
    "bug_one_sided_differences": "Your values match one-sided differences",
    "bug_params_not_restored": "Perturb a copy",
    "bug_gradient_check_no_relative": "You return the norm of the difference without dividing",
    "bug_train_too_short": "The network underfits",
    "bug_plot_returns_none": "plt.show() alone returns None",
    "bug_syntax_error_in_one_function": "message:`compute_cost` could not be loaded, so this could not be checked: "
                                        "line 197 was skipped (SyntaxError: expected ':'",
    "bug_untouched_starter": "Replace `raise NotImplementedError` in the starter with your code",
    "bug_uses_torch": "message:`torch` is not allowed in backprop-lab: implement it with NumPy",
    "bug_infinite_loop_in_train": "message:`train` did not finish: timed out after 4 s",
    "bug_hardcoded_answers": "message:returned Z with shape (1, 2); expected shape (4, 5)",
}

# A wrong pass is charged once, in its own item: train() around it is judged with the grader's passes in place
# of the student's (reference/stand_in.py) and keeps its points; the report says which passes were replaced.
STAND_IN = {
    "bug_missing_1_over_m": ["L_layer_backward", "linear_backward"],
    "bug_relu_backward_wrong": ["L_layer_backward"],
    "bug_dZ_sign_flipped": ["L_layer_backward"],
    "bug_missing_bias": ["L_layer_forward", "linear_forward"],
    "bug_wrong_activation_hidden": ["L_layer_forward"],
}


@pytest.fixture(scope="module")
def graded():
    """Every fixture graded once (a short training budget keeps the endless-loop fixture quick).

    Only that fixture gets the short budget: a real training run may take several seconds on a loaded
    machine, and a verdict must not depend on the machine's load.
    """
    runs = {}
    for name, entry in MANIFEST.items():
        settings = {"train_timeout": 4} if name == "bug_infinite_loop_in_train" else None
        runs[name] = grade(FIXTURES / entry["file"], "backprop-lab", seed=SEED, settings=settings)
    return runs


def _matches(check_id: str, pattern: str) -> bool:
    """`pattern` names `check_id`, its only wildcard `*` (brackets are the parameters' own)."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), check_id) is not None


def _verdict(item) -> str:
    if item.score >= item.max_score - 1e-9:
        return FULL
    return ZERO if item.score <= 1e-9 else PART


def test_every_fixture_has_an_expectation():
    assert set(VERDICTS) == set(MANIFEST)
    assert len([n for n in MANIFEST if n.startswith("bug_")]) >= 25


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_item_verdicts(graded, name):
    items = {item.id: item for item in graded[name].result.items}
    assert list(items) == list(ITEMS)
    expected = dict(zip(VERDICT_ITEMS, VERDICTS[name][0]))
    assert {item: _verdict(items[item]) for item in VERDICT_ITEMS} == expected


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_exactly_these_checks_fail(graded, name):
    patterns = VERDICTS[name][1:]
    failing = [o.check_id for o in graded[name].result.outcomes if not o.earned_full_credit()]
    unexpected = [c for c in failing if not any(_matches(c, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(_matches(c, p) for c in failing)]
    assert not unexpected and not unmatched, (unexpected, unmatched)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_totals_follow_the_rubric(graded, name):
    rubric = {item.id: item.points for item in rubric_for("backprop-lab").items}
    result = graded[name].result
    assert result.score == pytest.approx(sum(item.score for item in result.items), abs=1e-9)
    assert result.max_score == pytest.approx(sum(rubric.values()))
    for item in result.items:
        assert item.max_score == rubric[item.id]
        if _verdict(item) == FULL:
            assert item.score == pytest.approx(rubric[item.id])


@pytest.mark.parametrize("name", sorted(HINTS))
def test_the_student_reads_a_targeted_hint(graded, name):
    fragment = HINTS[name]
    outcomes = [o for o in graded[name].result.outcomes if not o.passed]
    if fragment.startswith("message:"):
        texts = [o.message for o in outcomes]
        fragment = fragment[len("message:"):]
    else:
        texts = [o.hint or "" for o in outcomes]
    assert any(fragment in text for text in texts), f"no failed check of {name} says {fragment!r}"


@pytest.mark.parametrize("name", sorted(STAND_IN))
def test_a_wrong_pass_is_charged_once_training_is_judged_with_the_grader_passes(graded, name):
    training = next(o for o in graded[name].result.outcomes if "accuracy_bar" in o.check_id)
    assert training.passed
    stand_in = training.details["with_grader_passes"]
    assert stand_in["passed"] and stand_in["accuracy"] > 0.95
    # The student's own passes are all replaced together (one cache layout), whichever of them is wrong.
    assert set(STAND_IN[name]) <= set(stand_in["replaced"])
    assert {"L_layer_forward", "L_layer_backward"} <= set(stand_in["replaced"])


def test_a_train_that_never_finishes_is_not_run_again_with_the_grader_passes(tmp_path):
    """An endless train() around a wrong backward pass times out once: rerunning it with the grader's passes
    would only spend the submission's time budget again (and again on a second task)."""
    source = (FIXTURES / "bug_infinite_loop_in_train.py").read_text(encoding="utf-8")
    right = "    dW = (1 / m) * np.dot(dZ, A_prev.T)\n"
    assert source.count(right) == 1
    path = tmp_path / "endless_and_wrong_dW.py"
    path.write_text(source.replace(right, "    dW = np.dot(dZ, A_prev.T)\n"), encoding="utf-8")
    run = grade(path, "backprop-lab", seed=SEED, settings={"train_timeout": 2})
    training = next(o for o in run.result.outcomes if "accuracy_bar" in o.check_id)
    assert training.status == "timeout" and "with_grader_passes" not in (training.details or {})
    assert training.hint.startswith("Your L_layer_backward fails its own checks"), training.hint


def test_a_correct_plot_keeps_its_points_when_train_never_finishes():
    """The plot of a file whose train() times out is judged with the grader's network carried to the run's
    task. On seed 266812496 (a demo class's draw) that network's classes barely changed where the swapped
    points fell on the regions, and the frame check took the classic plot's 5 points: 'drawn in another frame'."""
    run = grade(FIXTURES / "bug_infinite_loop_in_train.py", "backprop-lab", seed=266812496,
                settings={"train_timeout": 2})
    plot = next(o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id)
    assert plot.status == "passed", plot.message
    assert next(i for i in run.result.items if i.id == "training").score == 5


def test_a_correct_submission_is_never_trained_with_the_grader_passes(graded):
    for name in ("correct_classic", "correct_dictcache", "correct_messy"):
        training = next(o for o in graded[name].result.outcomes if "accuracy_bar" in o.check_id)
        assert training.passed and "with_grader_passes" not in (training.details or {})


def test_items_not_affected_by_a_bug_keep_full_marks(graded):
    """The manifest's items_affected is what a bug may cost; every other item must stay full."""
    full = dict(zip(ITEMS, (20, 30, 20, 20, 10)))
    for name, entry in MANIFEST.items():
        if entry["kind"] not in ("bug", "attack") or name == "bug_untouched_starter":
            continue
        scores = {item.id: item.score for item in graded[name].result.items}
        for item in ITEMS:
            if item not in entry.get("items_affected", []) and item != "quality":
                assert scores[item] == full[item], f"{name} lost {item} points it should keep"


def test_pasted_in_trained_weights_do_not_pass_the_training_bar(graded):
    """bug_hardcoded_answers' train returns weights trained once elsewhere: right on plain moons, wrong on this run's task."""
    outcome = next(o for o in graded["bug_hardcoded_answers"].result.outcomes if "accuracy_bar" in o.check_id)
    assert not outcome.passed
    assert "the parameters train returns do not come from the X and Y it is given" in outcome.message
    assert outcome.details["plain_moons_accuracy"] > 0.95 and outcome.details["accuracy"] < 0.90


def test_broken_files_are_graded_with_a_reason_not_a_crash(graded):
    assert "NUL bytes" in graded["broken_binary"].submission_error
    assert "not valid JSON" in graded["broken_notebook"].submission_error
    assert "empty" in graded["empty"].submission_error
    assert "UTF-8" in graded["broken_latin1"].submission_error
    for name in ("broken_binary", "broken_notebook", "empty", "broken_latin1"):
        assert graded[name].result.score == 0
        assert all("could not be read" in " ".join(item.notes) for item in graded[name].result.items
                   if item.id != "quality")


def test_sandbox_events_are_reported(graded):
    assert any("output beyond the first" in e for e in graded["bug_prints_a_lot"].sandbox_events)
    assert any("timed out after 4 s during `train`" in e for e in graded["bug_infinite_loop_in_train"].sandbox_events)
    # sys.exit() between definitions is top-level demo code: never run, reported as skipped.
    skipped = graded["bug_exits_at_import"].skipped_statements
    assert any("`sys.exit(...)`" in s["reason"] for s in skipped)
    refused = graded["bug_uses_torch"].load_problems
    assert refused and refused[0]["type"] == "RefusedImportError"


@pytest.mark.parametrize("name", ["correct_dictcache", "correct_notebook"])
def test_a_correct_solution_in_another_style_scores_full_marks(graded, name):
    """Dict caches, np.dot and an Adam class; a notebook with magics and demo cells: 100 points too."""
    assert graded[name].result.score == 100


def test_the_reference_solution_scores_full_marks():
    run = grade(Path(__file__).parents[1] / "reference" / "backprop_lab.py", "backprop-lab", seed=SEED)
    assert run.result.score == 100
    assert run.seed == SEED


def test_a_fresh_seed_each_run_is_recorded_and_changes_the_inputs(tmp_path):
    def training(run):
        return next(o for o in run.result.outcomes if "accuracy_bar" in o.check_id).details

    first = grade(FIXTURES / "correct_classic.py", "backprop-lab")
    second = grade(FIXTURES / "correct_classic.py", "backprop-lab")
    assert first.seed != second.seed
    # Other moons turned by another angle: the trained weights differ.
    assert training(first)["params"] != training(second)["params"]
    replay = grade(FIXTURES / "correct_classic.py", "backprop-lab", seed=first.seed)
    assert training(replay)["accuracy"] == training(first)["accuracy"]


def test_grade_command_writes_gradescope_results(tmp_path, capsys):
    out = tmp_path / "results.json"
    html = tmp_path / "report.html"
    code = cli_main(["grade", str(FIXTURES / "bug_missing_1_over_m.py"), "-a", "backprop-lab",
                     "--seed", str(SEED), "--json", str(out), "--html", str(html), "--no-color"])
    printed = capsys.readouterr().out
    assert code == 0
    data = json.loads(out.read_text())
    assert [t["tags"][0] for t in data["tests"]] == list(ITEMS)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=1e-9)
    # Training keeps its points: the missing 1/m is charged to backward (and the gradient check) only.
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed", "passed", "failed"]
    assert data["extra_data"]["seed"] == SEED
    assert "Backward pass" in printed and "dW and db are averages over the m examples" in printed
    assert "bug_missing_1_over_m" in html.read_text()


def test_check_command_shows_only_public_checks(tmp_path, capsys):
    code = cli_main(["check", str(FIXTURES / "bug_params_not_restored.py"), "-a", "backprop-lab", "--no-color"])
    printed = capsys.readouterr().out
    assert code == 0
    # The restoring check is not public: the self-check neither runs nor names it.
    assert "leaves params as it found them" not in printed
    assert "Perturb a copy" not in printed
    assert "public checks passed" in printed


@pytest.mark.parametrize("path", [FIXTURES / "verdicts" / "bug_relu_backward_no_mask.py",
                                  FIXTURES / "bug_train_too_short.py"], ids=lambda p: p.stem)
def test_check_and_grade_run_the_public_checks_on_the_same_cases(path):
    """`grader check` (public checks only) and `grader grade` agree on every public check for one seed."""
    def public(run):
        return {o.check_id: (o.status, o.message) for o in run.result.outcomes if o.public}

    checked = public(grade(path, "backprop-lab", seed=SEED, public_only=True))
    graded = public(grade(path, "backprop-lab", seed=SEED))
    assert checked and checked == graded


def test_list_command_names_every_item(capsys):
    assert cli_main(["list"]) == 0
    printed = capsys.readouterr().out
    assert "backprop-lab" in printed
    for item in ITEMS:
        assert item in printed


def test_grading_another_assignment_first_leaves_the_lab_checks_alone(tmp_path):
    """Both assignments have a test_gradient_check.py; the lab must still run its own."""
    other = tmp_path / "exercise.py"
    other.write_text("def leaky_relu_backward(dA, Z, alpha=0.01):\n    return dA\n")
    grade(other, "backprop-exercises", seed=SEED)
    run = grade(Path(__file__).parents[1] / "reference" / "backprop_lab.py", "backprop-lab", seed=SEED)
    assert run.result.score == 100


def test_a_missing_submission_path_is_a_usage_error(tmp_path, capsys):
    assert cli_main(["grade", str(tmp_path / "nope.py"), "-a", "backprop-lab"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_bad_rotation_setting_is_a_configuration_error_before_any_check_runs(monkeypatch):
    from grader.config.assignment import AssignmentError
    import grader.grading

    def no_checks(*args, **kwargs):
        raise AssertionError("the checks ran with a bad setting")
    monkeypatch.setattr(grader.grading, "run_checks", no_checks)
    with pytest.raises(AssignmentError, match=r"`moons_rotation_degrees` must be \[low, high\].*found \[300, 60\]"):
        grade(FIXTURES / "correct_classic.py", "backprop-lab", seed=1, settings={"moons_rotation_degrees": [300, 60]})

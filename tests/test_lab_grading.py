"""The lab graded end to end: every fixture submission earns exact item scores and the targeted hints.

Each fixture in tests/fixtures/lab is graded once, through the real sandbox,
with a fixed seed (the grader's inputs are random per run; a fixed seed makes
the scores below exact). The expectations were read off and then checked
against what each bug should cost (MANIFEST.toml, items_affected):

- a backward bug also costs the forward item's caching checks (they run the
  student's own backward), and every gradient-check check after the first is
  "not graded" until backprop is right;
- a cost bug costs the cost check and the gradient-check checks that rely on
  the student's own cost;
- quality is the automatic estimate: 9 for the documented base file.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from grader.grading import grade

FIXTURES = Path(__file__).parent / "fixtures" / "lab"
MANIFEST = tomllib.loads((FIXTURES / "MANIFEST.toml").read_text())
SEED = 20261129
ITEMS = ("forward", "backward", "gradient_check", "training", "quality")

# (forward, backward, gradient_check, training, quality) out of (20, 30, 20, 20, 10)
EXPECTED = {
    "correct_classic": (20, 30, 20, 20, 9),
    "correct_dictcache": (20, 30, 20, 20, 10),
    "correct_notebook": (20, 30, 20, 20, 10),
    "correct_float32": (20, 30, 20, 20, 8),
    "correct_messy": (20, 30, 20, 20, 3),
    "bug_missing_1_over_m": (17.1429, 11.25, 0, 5, 9),
    "bug_extra_factor_m": (17.1429, 18.75, 0, 5, 9),
    "bug_db_wrong_axis": (17.1429, 3.75, 0, 5, 9),
    "bug_dW_missing_transpose": (17.1429, 0, 0, 5, 9),
    "bug_dA_prev_missing_transpose": (17.1429, 0, 0, 5, 9),
    "bug_relu_mask_wrong_layer": (17.1429, 18.75, 0, 5, 9),
    "bug_sigmoid_derivative_twice": (17.1429, 15, 0, 20, 9),
    "bug_last_layer_skipped": (17.1429, 15, 0, 5, 9),
    "bug_dZ_sign_flipped": (17.1429, 15, 0, 5, 9),
    "bug_relu_backward_wrong": (17.1429, 18.75, 0, 5, 9),
    "bug_missing_function": (20, 18.75, 20, 20, 8),
    "bug_wrong_activation_hidden": (12.8571, 18.75, 0, 5, 9),
    "bug_wrong_activation_output": (11.4286, 15, 0, 20, 9),
    "bug_missing_bias": (5.7143, 15, 0, 5, 9),
    "bug_forward_mutates_input": (17.1429, 30, 20, 20, 9),
    "bug_cost_wrong_sign": (17.1429, 30, 6, 20, 9),
    "bug_cost_missing_mean": (18.5714, 30, 6, 20, 9),
    "bug_one_sided_differences": (20, 30, 17, 20, 9),
    "bug_params_not_restored": (20, 30, 12, 20, 9),
    "bug_gradient_check_no_relative": (20, 30, 17, 20, 9),
    "bug_train_too_short": (20, 30, 20, 5, 9),
    "bug_plot_returns_none": (20, 30, 20, 15, 9),
    "bug_syntax_error_in_one_function": (17.1429, 30, 6, 5, 8),
    "bug_untouched_starter": (0, 0, 0, 0, 0),
    "bug_hardcoded_answers": (2.8571, 3.75, 0, 0, 7.5),
    "bug_uses_torch": (20, 30, 20, 5, 9),
    "bug_infinite_loop_in_train": (20, 30, 20, 5, 9),
    "bug_prints_a_lot": (20, 30, 20, 20, 9),
    "bug_exits_at_import": (20, 30, 20, 20, 8.5),
    "broken_binary": (0, 0, 0, 0, 0),
    "broken_latin1": (0, 0, 0, 0, 0),
    "broken_notebook": (0, 0, 0, 0, 0),
    "empty": (0, 0, 0, 0, 0),
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


@pytest.fixture(scope="module")
def graded():
    """Every fixture graded once (a short training budget keeps the endless-loop fixture quick)."""
    runs = {}
    for name, entry in MANIFEST.items():
        runs[name] = grade(FIXTURES / entry["file"], "backprop-lab", seed=SEED, settings={"train_timeout": 4})
    return runs


def test_every_fixture_has_an_expectation():
    assert set(EXPECTED) == set(MANIFEST)
    assert len([n for n in MANIFEST if n.startswith("bug_")]) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_item_scores_are_exact(graded, name):
    result = graded[name].result
    got = {item.id: item.score for item in result.items}
    assert [item.id for item in result.items] == list(ITEMS)
    assert got == {item: pytest.approx(score, abs=1e-3) for item, score in zip(ITEMS, EXPECTED[name])}
    assert result.score == pytest.approx(sum(EXPECTED[name]), abs=1e-2)


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
    assert data["score"] == pytest.approx(sum(EXPECTED["bug_missing_1_over_m"]), abs=1e-2)
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

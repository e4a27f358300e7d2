"""Issue 10 §5: the lab's plot check trains no reference network for a file that has no plot_decision_boundary.

When the student's train fails, the plot check draws the plot from the
reference's trained parameters (about 1 s of training). A file that does not
define plot_decision_boundary cannot use them: the check must say the
function is missing without training anything. Shown by counting calls of the
reference's train (not by timing), with a control that proves the count sees
the training when the plot function does exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import reference.backprop_lab as reference_lab
from grader.grading import grade

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lab"
SEED = 20261129
CHECK_FILE = str(Path("backprop-lab", "checks", "test_training.py"))


def _forget_reference_params() -> None:
    """Empty the check module's cache of reference parameters, if the module is loaded (runs stay honest)."""
    for module in list(sys.modules.values()):
        if (getattr(module, "__file__", None) or "").endswith(CHECK_FILE):
            module._reference_params.cache_clear()


def _without_train(source: str) -> str:
    """`source` whose train is renamed, so training fails and the plot check needs the reference's params."""
    assert source.count("def train(") == 1
    return source.replace("def train(", "def train_renamed(")


@pytest.fixture
def reference_trainings(monkeypatch):
    """Counts calls of the reference's train made while grading."""
    calls = []
    original = reference_lab.train

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(reference_lab, "train", counting)
    return calls


def _plot_outcome(path: Path):
    run = grade(path, "backprop-lab", seed=SEED)
    return next(o for o in run.result.outcomes if "test_plot_decision_boundary" in o.check_id)


def test_a_missing_plot_function_trains_no_reference_network(tmp_path, reference_trainings):
    source = (FIXTURES / "verdicts" / "bug_plot_not_defined.py").read_text(encoding="utf-8")
    assert "def plot_decision_boundary" not in source
    path = tmp_path / "no_train_no_plot.py"
    path.write_text(_without_train(source), encoding="utf-8")
    _forget_reference_params()
    outcome = _plot_outcome(path)
    assert outcome.status != "passed" and "does not define `plot_decision_boundary`" in outcome.message
    assert reference_trainings == []


def test_the_count_sees_the_reference_training_when_the_plot_function_exists(tmp_path, reference_trainings):
    path = tmp_path / "no_train.py"
    path.write_text(_without_train((FIXTURES / "correct_classic.py").read_text(encoding="utf-8")), encoding="utf-8")
    _forget_reference_params()
    outcome = _plot_outcome(path)
    assert outcome.status == "passed", outcome.message
    assert reference_trainings == [1]


def test_a_plot_without_a_boundary_because_of_a_forward_bug_names_the_forward_pass():
    """On this seed the wrong hidden activation leaves the student's plot without a boundary (their plot predicts
    with their own forward): the hint sends them to L_layer_forward, not to ax.contourf."""
    from pathlib import Path
    from grader.grading import grade
    fixture = Path(__file__).resolve().parent / "fixtures" / "lab" / "bug_wrong_activation_hidden.py"
    run = grade(fixture, "backprop-lab", seed=1826701615)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "failed" and "no decision boundary" in plot.message
    assert plot.hint.startswith("Your L_layer_forward fails its own checks")

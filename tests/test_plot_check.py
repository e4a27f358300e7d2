"""The lab's plot check when the student's own network cannot be drawn, and a few plots it once misjudged.

When the student's train fails (or learns no boundary), the plot check draws
the plot with a network of the grader's, fitted to the run's data (300 of the
reference's Adam steps, about 0.15 s). Issue 10 §5: a file that does not
define plot_decision_boundary cannot use it, so the check must say the
function is missing without training anything. Shown by counting calls of the
reference's train (not by timing), with a control that proves the count sees
the training when the plot function does exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import reference.backprop_lab as reference_lab
from grader.grading import grade

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lab"
SEED = 20261129


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
    outcome = _plot_outcome(path)
    assert outcome.status != "passed" and "does not define `plot_decision_boundary`" in outcome.message
    assert reference_trainings == []


def test_the_count_sees_the_reference_training_when_the_plot_function_exists(tmp_path, reference_trainings):
    path = tmp_path / "no_train.py"
    path.write_text(_without_train((FIXTURES / "correct_classic.py").read_text(encoding="utf-8")), encoding="utf-8")
    outcome = _plot_outcome(path)
    assert outcome.status == "passed", outcome.message
    assert reference_trainings == [1]


def test_a_plot_without_a_boundary_because_of_a_forward_bug_is_judged_with_the_grader_forward():
    """On this seed the wrong hidden activation leaves the student's plot without a boundary (their plot predicts
    with their own forward): that forward bug is charged in the Forward item only, so the plot is judged once
    more around the grader's forward pass and passes, as it does on every other seed."""
    run = grade(FIXTURES / "bug_wrong_activation_hidden.py", "backprop-lab", seed=1826701615)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "passed", plot.message
    assert plot.details.get("with_grader_forward") is True
    # The report says so beside the figure (which, drawn through the student's forward, shows no boundary).
    from grader.outputs import render_report
    from grader.report.results_json import to_results_json
    html = render_report(to_results_json(run.result, execution_time=run.execution_time, extra=run.extra_data()),
                         run.assignment)
    assert "your plot judged with" in html and "the grader&#39;s forward pass (yours fails its own checks)" in html


def test_a_plot_that_draws_no_boundary_fails_even_with_a_forward_bug(tmp_path):
    """The same file whose plot draws no regions at all: the grader's forward pass does not help, so the figure
    fails and its hint does not send the student to their forward pass."""
    source = (FIXTURES / "bug_wrong_activation_hidden.py").read_text(encoding="utf-8")
    contour = "    ax.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.8)\n"
    assert source.count(contour) == 1
    path = tmp_path / "no_regions.py"
    path.write_text(source.replace(contour, ""), encoding="utf-8")
    run = grade(path, "backprop-lab", seed=1826701615)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "failed" and "no decision boundary" in plot.message
    assert not (plot.hint or "").startswith("Your L_layer_forward"), plot.hint


def test_small_faint_markers_of_a_correct_plot_are_found_on_every_orientation_ranking():
    """correct_messy.py draws 5-point viridis markers over pale regions: on this seed the blob fit ranked the
    right orientation third, and refining only the best two read 81% of the points found (a correct plot failed).
    Every orientation is now refined until one shows the data where it belongs."""
    run = grade(FIXTURES / "correct_messy.py", "backprop-lab", seed=2141492030)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "passed", plot.message
    assert plot.details["figure_evidence"]["points_found"] >= 0.95


@pytest.mark.parametrize("seed", [2, 5, 6, 8])
def test_a_training_bug_does_not_cost_a_correct_plot_its_points(seed):
    """The file's train raises (it slices the labels' rows), its plot crosses out the misclassified points. The
    grader's network used to be fitted to plain moons and carried to the run's frame: it got about half of the
    run's labels right, half the points were crossed out, and the plot lost its 5 points on these seeds (4 of the
    first 8). Fitted to the run's data, the stand-in network makes the picture a correct student's would be: the
    training bug is charged once, in the training check."""
    run = grade(FIXTURES / "verdicts" / "bug_train_batch_labels_plot_crosses.py", "backprop-lab", seed=seed)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "passed", plot.message
    assert plot.details["figure_evidence"]["points_found"] >= 0.95
    assert run.result.item("training").score == 5


def test_regions_drawn_by_a_wrong_forward_pass_are_judged_with_the_grader_forward():
    """bug_missing_bias.py's forward pass ignores the biases, and its plot predicts with it: the regions it draws
    are not the network's. On this seed the frame check read their colours under the points as the network's
    classes with the coordinates swapped (0.96 against 0.53) and failed a correct plot, although the figure shows
    a boundary. The forward bug is charged in the Forward item: the plot is judged once more around the grader's
    forward pass, and passes."""
    run = grade(FIXTURES / "bug_missing_bias.py", "backprop-lab", seed=908218103)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "passed", plot.message
    assert plot.details.get("with_grader_forward") is True


@pytest.mark.parametrize("seed", [908218103, 1085177457])
def test_a_swapped_scatter_is_seen_where_the_colours_under_its_points_cannot_tell(seed):
    """bug_plot_scatter_swapped.py draws scatter(X[1], X[0]) over regions the right way round. On these seeds
    (2 of 103) the colours under its points read the network's classes both ways and the plot kept its points;
    where its picture changes when the network turns matches the network only with the coordinates swapped."""
    run = grade(FIXTURES / "verdicts" / "bug_plot_scatter_swapped.py", "backprop-lab", seed=seed)
    [plot] = [o for o in run.result.outcomes if "plot_decision_boundary" in o.check_id]
    assert plot.status == "failed" and "another frame" in plot.message, plot.message
    assert run.result.item("training").score == 15

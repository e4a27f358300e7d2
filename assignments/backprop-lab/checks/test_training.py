"""Training + plot (20 points): train on moons reaches > 95% held-out accuracy; the plot is a real figure.

train(X, Y) runs once per grading run, in the sandbox, on make_moons data
drawn with a seed from this run and made into this run's task: turned,
stretched and shifted by an affine map, the labels swapped beyond a line
across the arcs, all drawn from the same seed (the held-out set too;
reference/moons.py). The grader computes accuracy itself, on the fresh
held-out set, from the returned params with the reference forward pass: no
student code decides the score. The task costs an honest network nothing
(benchmarks/train_robustness.py) and makes pasted-in parameters useless,
even turned and shifted into place by a search inside train.
"""

from __future__ import annotations

import base64
import functools

import numpy as np
import pytest

from grader.checking import CheckFailure, NotGraded, StudentCodeTimeout, record
from reference.moons import MOONS_NOISE, draw_task, moons


@pytest.fixture(scope="module")
def training(student, ref, assignment, seed):
    """The student's train(X, Y) on this run's moons task; failures are kept to report in each check."""
    rng = np.random.default_rng([seed, 1000])
    train_seed, holdout_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    # Moons under an affine map, the labels swapped beyond a line, all drawn per run (reference/moons.py):
    # no network fitted in advance fits it, and benchmarks/train_robustness.py shows every correct one learns it.
    task = draw_task(rng, rotation_degrees=tuple(assignment.setting("moons_rotation_degrees")),
                     stretch=tuple(assignment.setting("moons_stretch")), shift=float(assignment.setting("moons_shift")),
                     line_offset=float(assignment.setting("moons_line_offset")))
    X, Y = task.sample(int(assignment.setting("train_samples")), train_seed)
    X_test, Y_test = task.sample(int(assignment.setting("holdout_samples")), holdout_seed)
    X_plain, Y_plain = moons(int(assignment.setting("holdout_samples")), holdout_seed)
    outcome = {"X": X, "Y": Y, "X_test": X_test, "Y_test": Y_test, "X_plain": X_plain, "Y_plain": Y_plain,
               "task": task, "failure": None, "params": None}
    try:
        result = student.run("train", outcome["X"], Y, timeout=float(assignment.setting("train_timeout")))
        outcome["seconds"] = result.seconds
        outcome["params"] = _validated_params(result.value, X)
    except CheckFailure as failure:
        outcome["failure"] = failure
    return outcome


def _validated_params(value, X):
    """The returned params as a dict of float arrays in the chapter's format, or a precise failure."""
    if not isinstance(value, dict):
        raise CheckFailure(f"train(X, Y) returned {type(value).__name__}; expected the trained params dict "
                           f"{{'W1': ..., 'b1': ..., ...}}.", hint="End train with `return params`.")
    L = len([k for k in value if isinstance(k, str) and k.startswith("W")])
    expected_keys = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    missing = sorted(expected_keys - set(value))
    if L == 0 or missing:
        raise CheckFailure(f"train(X, Y) returned params with keys {sorted(map(str, value))[:12]}; expected "
                           f"W1, b1, ..., WL, bL{' (missing ' + ', '.join(missing) + ')' if missing else ''}.")
    params, n_prev = {}, X.shape[0]
    for l in range(1, L + 1):
        W, b = value[f"W{l}"], value[f"b{l}"]
        if not (isinstance(W, np.ndarray) and isinstance(b, np.ndarray)):
            raise CheckFailure(f"params['W{l}'] and params['b{l}'] must be NumPy arrays.")
        if W.ndim != 2 or W.shape[1] != n_prev or b.shape not in ((W.shape[0], 1), (W.shape[0],)):
            raise CheckFailure(f"params['W{l}'] has shape {W.shape} and params['b{l}'] {b.shape}; layer {l} "
                               f"must map {n_prev} inputs: W{l} of shape (n_{l}, {n_prev}), b{l} of shape (n_{l}, 1).")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise CheckFailure(f"params['W{l}'] or params['b{l}'] holds NaN or infinite values: training diverged.",
                               hint="Lower the learning rate, or check the gradients' signs.")
        params[f"W{l}"], params[f"b{l}"] = W.astype(float), b.reshape(-1, 1).astype(float)
        n_prev = W.shape[0]
    if n_prev != 1:
        raise CheckFailure(f"The last layer of the trained network has {n_prev} units; a binary classifier on "
                           f"moons needs one sigmoid output unit.")
    return params


def _figure_details(figure: dict | None) -> dict:
    if not figure or not figure.get("png"):
        return {}
    return {"images": {"student_decision_boundary": base64.b64encode(figure["png"]).decode()}}


@functools.lru_cache(maxsize=1)
def _reference_params(ref):
    X, Y = moons(1000, 0)
    return ref.train(X, Y)


@pytest.mark.public
def test_train_reaches_the_accuracy_bar(training, student, ref, assignment, seed, request):
    """train(X, Y) on this run's moons task (turned, stretched, shifted, relabelled) reaches > 95% held-out accuracy"""
    threshold = float(assignment.setting("accuracy_threshold"))
    if isinstance(training["failure"], StudentCodeTimeout):
        raise StudentCodeTimeout(training["failure"].message + f" Training has a budget of "
                           f"{assignment.setting('train_timeout')} s.",
                           hint="Use fewer iterations, or vectorise the loop over samples.")
    if training["failure"] is not None:
        raise training["failure"]
    params = training["params"]
    accuracy = float(np.mean(ref.predict(training["X_test"], params) == training["Y_test"]))
    train_accuracy = float(np.mean(ref.predict(training["X"], params) == training["Y"]))
    record(request, accuracy=accuracy, train_accuracy=train_accuracy, train_seconds=training.get("seconds"),
           moons_noise=MOONS_NOISE, moons_task=training["task"].to_dict(),
           params={k: v.tolist() for k, v in params.items()})
    if accuracy > threshold:
        return
    plain = float(np.mean(ref.predict(training["X_plain"], params) == training["Y_plain"]))
    if plain > threshold:
        raise CheckFailure(
            f"Your trained network classifies {accuracy:.1%} of this run's held-out points correctly, but "
            f"{plain:.1%} of plain make_moons points. This run's data was moons turned, stretched and shifted, "
            f"with the labels swapped beyond a line (a fresh task every run, as easy to learn): the parameters "
            f"train returns do not come from the X and Y it is given.",
            hint="Train on the X and Y passed to train, starting from fresh random parameters every call.",
            details={"accuracy": accuracy, "plain_moons_accuracy": plain})
    raise CheckFailure(
        f"Your trained network classifies {accuracy:.1%} of a fresh held-out moons set correctly "
        f"({train_accuracy:.1%} of its training set); the bar is more than {threshold:.0%}.",
        hint=("The network underfits: train longer, raise the learning rate, or add hidden units."
              if train_accuracy <= threshold else
              "It fits the training set but not new data: use fewer hidden units or fewer iterations."),
        details={"accuracy": accuracy})


def test_plot_decision_boundary_returns_a_figure(training, student, ref, request):
    """plot_decision_boundary(params, X, Y) returns a matplotlib Figure showing the data and the boundary"""
    params = training["params"]
    if params is None:
        params = _reference_params(ref)  # grade the plot even when training failed
    X, Y = training["X"], training["Y"]
    result = student.run("plot_decision_boundary", params, X, Y, figure=True, timeout=30)
    figure = result.figure or {}
    record(request, **_figure_details(figure), figure_summary={k: v for k, v in figure.items() if k != "png"})
    if not figure.get("is_figure"):
        raise CheckFailure(f"plot_decision_boundary returned {figure.get('type', 'nothing')}; expected a "
                           f"matplotlib Figure.",
                           hint="Create it with fig, ax = plt.subplots(), draw on ax, and `return fig` "
                                "(plt.show() alone returns None).")
    problems = []
    if figure.get("axes", 0) < 1:
        problems.append("it has no axes")
    if figure.get("points", 0) < X.shape[1] // 2:
        problems.append(f"it shows {figure.get('points', 0)} data points (expected the {X.shape[1]} samples, "
                        f"e.g. with ax.scatter)")
    if figure.get("filled_regions", 0) + figure.get("lines", 0) + figure.get("images", 0) < 1:
        problems.append("it shows no decision boundary (e.g. ax.contourf over a grid of predictions)")
    if problems:
        raise CheckFailure("The figure is incomplete: " + "; ".join(problems) + ".")
    if figure.get("png") is None:
        raise NotGraded("The figure could not be rendered to an image.")

"""Training + plot (20 points): train on moons reaches > 95% held-out accuracy; the plot is a real figure.

train(X, Y) runs once per grading run, in the sandbox, on make_moons data
drawn with a seed from this run and turned about the origin by an angle drawn
from the same seed (the held-out set too). The grader computes accuracy
itself, on the fresh held-out set, from the returned params with the reference
forward pass: no student code decides the score. The rotation costs an honest
network nothing (reference/moons.py) and makes pasted-in parameters useless
without a second training run.
"""

from __future__ import annotations

import base64
import functools

import numpy as np
import pytest

from grader.checking import CheckFailure, NotGraded, StudentCodeTimeout, record
from reference.moons import MOONS_NOISE, moons, rotated
from reference.networks import num_layers


@pytest.fixture(scope="module")
def training(student, ref, assignment, seed):
    """The student's train(X, Y) on this run's rotated moons data; failures are kept to report in each check."""
    rng = np.random.default_rng([seed, 1000])
    train_seed, holdout_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    low, high = (float(v) for v in assignment.settings["moons_rotation_degrees"])
    degrees = round(float(rng.uniform(low, high)), 1)
    X, Y = moons(int(assignment.setting("train_samples")), train_seed)
    X_test, Y_test = moons(int(assignment.setting("holdout_samples")), holdout_seed)
    outcome = {"X": rotated(X, degrees), "Y": Y, "X_test": rotated(X_test, degrees), "Y_test": Y_test,
               "X_test_unrotated": X_test, "degrees": degrees, "failure": None, "params": None}
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
    L = num_layers(value)
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
def test_train_reaches_the_accuracy_bar(training, student, ref, lab, assignment, seed, earlier, request):
    """train(X, Y) on make_moons(1000) data turned by a random angle reaches more than 95% held-out accuracy"""
    threshold = float(assignment.setting("accuracy_threshold"))
    # train() runs the student's own passes: when one of them fails its checks, that is the fix to make first.
    blame = lab.blame(earlier, "L_layer_backward", "linear_backward", "L_layer_forward", "linear_forward",
                      why="train learns with the gradients and outputs they compute")
    failure = training["failure"]
    if isinstance(failure, StudentCodeTimeout):
        raise StudentCodeTimeout(failure.message + f" Training has a budget of "
                           f"{assignment.setting('train_timeout')} s.",
                           hint=blame or "Use fewer iterations, or vectorise the loop over samples.")
    if failure is not None:
        raise type(failure)(failure.message, hint=" ".join(h for h in (blame, failure.hint) if h) or None,
                            details=failure.details)
    params = training["params"]
    accuracy = float(np.mean(ref.predict(training["X_test"], params) == training["Y_test"]))
    train_accuracy = float(np.mean(ref.predict(training["X"], params) == training["Y"]))
    record(request, accuracy=accuracy, train_accuracy=train_accuracy, train_seconds=training.get("seconds"),
           moons_noise=MOONS_NOISE, moons_rotation_degrees=training["degrees"],
           params={k: v.tolist() for k, v in params.items()})
    if accuracy > threshold:
        return
    unrotated = float(np.mean(ref.predict(training["X_test_unrotated"], params) == training["Y_test"]))
    if unrotated > threshold:
        raise CheckFailure(
            f"Your trained network classifies {accuracy:.1%} of this run's held-out moons correctly, but "
            f"{unrotated:.1%} of the same points turned back to the usual orientation. This run's moons were "
            f"rotated by {training['degrees']:g} degrees about the origin (a fresh angle every run, exactly as easy "
            f"to learn): the parameters train returns do not come from the X and Y it is given.",
            hint="Train on the X and Y passed to train, starting from fresh random parameters every call.",
            details={"accuracy": accuracy, "unrotated_accuracy": unrotated})
    raise CheckFailure(
        f"Your trained network classifies {accuracy:.1%} of a fresh held-out moons set correctly "
        f"({train_accuracy:.1%} of its training set); the bar is more than {threshold:.0%}.",
        hint=blame or ("The network underfits: train longer, raise the learning rate, or add hidden units."
                       if train_accuracy <= threshold else
                       "It fits the training set but not new data: use fewer hidden units or fewer iterations."),
        details={"accuracy": accuracy})


def test_plot_decision_boundary_returns_a_figure(training, student, ref, request):
    """plot_decision_boundary(params, X, Y) returns a matplotlib Figure showing the data and the boundary"""
    params = training["params"]
    if params is None:
        student.resolve("plot_decision_boundary")  # a missing function needs no reference network to say so
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

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

import numpy as np
import pytest

from grader.checking import BudgetExhausted, CheckFailure, StudentCodeTimeout, record
from grader.sandbox import png_bytes
from reference.figures import (MAX_NEW_MARKS, MIN_SPREAD, PIXELS_EXPLAINED, POINTS_FOUND, boundary_moves,
                               boundary_shown, classes_and_swapped, differing, frames_differ, plotted_data,
                               point_evidence, regions_in_another_frame, shifted_params)
from reference.moons import MOONS_NOISE, draw_task, moons
from reference.networks import num_layers
from reference.stand_in import FORWARD, stand_in_patch

# Points of the run's data the plot is drawn with: few enough that markers rarely hide one another.
PLOT_POINTS = 200
MAX_RECORDED_PNG = 1 << 20
# The largest trained network the grader evaluates (and records in results.json): a thousand times the lab's.
MAX_PARAMETERS = 100_000


@pytest.fixture(scope="module")
def training(student, ref, assignment, seed):
    """The student's train(X, Y) on this run's moons task; failures are kept to report in each check."""
    return _trained(student, assignment, _task_data(assignment, seed, 0))


def _task_data(assignment, seed: int, attempt: int) -> dict:
    """Training and held-out data of this run's task number `attempt` (0: the task every check uses)."""
    rng = np.random.default_rng([seed, 1000 + attempt])
    train_seed, holdout_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    # Moons under an affine map, the labels swapped beyond a line, all drawn per run (reference/moons.py):
    # no network fitted in advance fits it, and benchmarks/train_robustness.py shows every correct one learns it.
    task = draw_task(rng, rotation_degrees=tuple(assignment.setting("moons_rotation_degrees")),
                     stretch=tuple(assignment.setting("moons_stretch")), shift=float(assignment.setting("moons_shift")),
                     line_offset=float(assignment.setting("moons_line_offset")))
    X, Y = task.sample(int(assignment.setting("train_samples")), train_seed)
    X_test, Y_test = task.sample(int(assignment.setting("holdout_samples")), holdout_seed)
    X_plain, Y_plain = moons(int(assignment.setting("holdout_samples")), holdout_seed)
    return {"X": X, "Y": Y, "X_test": X_test, "Y_test": Y_test, "X_plain": X_plain, "Y_plain": Y_plain,
            "task": task, "failure": None, "params": None}


def _trained(student, assignment, outcome: dict, patch: dict | None = None) -> dict:
    """`outcome` (from `_task_data`) with the student's train(X, Y) run on it: params, seconds or failure.

    `patch` swaps grader functions in for this call (reference/stand_in.py)."""
    try:
        result = student.run("train", outcome["X"], outcome["Y"], timeout=float(assignment.setting("train_timeout")),
                             patch=patch)
        outcome["seconds"] = result.seconds
        outcome["params"] = _validated_params(result.value, outcome["X"])
    except CheckFailure as failure:
        outcome["failure"] = failure
    return outcome


def _second_task_accuracy(student, ref, assignment, seed, patch: dict | None = None) -> float | None:
    """Held-out accuracy of the student's train on a second task of this run (None if that run fails).

    A correct network trained from a fixed initialisation can stick in a
    poor local minimum on one task in about fifty (benchmarks/train_robustness.py):
    the verdict must not hang on that draw, so a network under the bar is
    given one more, independent task. Pasted or underfitting networks miss
    both.
    """
    second = _trained(student, assignment, _task_data(assignment, seed, 1), patch)
    if second["params"] is None:
        return None
    return float(np.mean(ref.predict(second["X_test"], second["params"]) == second["Y_test"]))


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
    size = sum(int(getattr(value[k], "size", 0)) for k in expected_keys)
    if size > MAX_PARAMETERS:
        # Evaluating, drawing and recording such a network would cost the grader gigabytes and minutes.
        raise CheckFailure(f"train(X, Y) returned a network of {size:,} parameters; the grader evaluates networks "
                           f"of at most {MAX_PARAMETERS:,} (the lab's networks have a few hundred).",
                           hint="Keep the hidden layers small, e.g. layer sizes [2, 16, 8, 1].")
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


def _stand_in_params(ref, training: dict) -> dict:
    """A network of the grader's fitted to this run's training data, for a plot whose own network cannot be drawn.

    300 of the reference's 1500 Adam steps (about 0.15 s, paid only when the student's train failed or learned no
    boundary) reach 99.5% or more held-out on the run's task, as a correct train does, so the plot is judged on a
    picture like a correct student's. A network fitted to plain moons and carried over to the task's frame
    (MoonsTask.carried) has its boundary where the points are but knows nothing of the labels swapped beyond a
    line: it got 42-60% of them right, and a plot that circles misclassified points then circled half of them,
    which failed a correct plot on 5 of 8 seeds.
    """
    return ref.train(training["X"], training["Y"], num_iterations=300)


@pytest.mark.public
def test_train_reaches_the_accuracy_bar(training, student, ref, lab, assignment, seed, earlier, request):
    """train(X, Y) on this run's moons task (turned, stretched, shifted, relabelled) reaches > 95% held-out accuracy"""
    # train() runs the student's own passes: when one of them fails its checks, that is the fix to make first.
    blame = lab.blame(earlier, "L_layer_backward", "linear_backward", "L_layer_forward", "linear_forward",
                      "compute_cost", why="train learns with the gradients and outputs they compute")
    try:
        _judge_training(training, student, ref, assignment, seed, request, blame)
    except BudgetExhausted:
        raise
    except CheckFailure as failure:
        if blame is None or isinstance(training["failure"], StudentCodeTimeout):
            raise  # a train() that never finishes is judged as such: rerunning it would only spend the budget again
        # Wrong passes are charged in their own items, and whether a loop around them reaches the bar moves
        # with the drawn task: judge the loop itself, around the grader's passes (reference/stand_in.py).
        stand_in = _with_grader_passes(student, ref, assignment, seed, request)
        if stand_in is None:
            raise
        if stand_in["passed"]:
            return
        raise type(failure)(failure.message, details=failure.details, hint=(
            f"{blame} Even with the grader's forward and backward passes in place of yours, your train reaches "
            f"{'no usable network' if stand_in['accuracy'] is None else format(stand_in['accuracy'], '.1%')}: "
            f"the training loop itself (initialisation, learning rate, number of steps, update) needs fixing too."
        )) from None


def _judge_training(training, student, ref, assignment, seed, request, blame) -> None:
    """Pass if the student's train, as handed in, reaches the accuracy bar on this run's task (or a second)."""
    threshold = float(assignment.setting("accuracy_threshold"))
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
           moons_noise=MOONS_NOISE, moons_task=training["task"].to_dict(),
           params={k: v.tolist() for k, v in params.items()})
    if accuracy > threshold:
        return
    # A second task for a network that may have stuck in a poor minimum, unless a pass it trains with fails its
    # checks: then the loop is judged with the grader's passes instead (their own second task included).
    second = _second_task_accuracy(student, ref, assignment, seed) if blame is None else None
    record(request, second_task_accuracy=second)
    if second is not None and second > threshold:
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
        hint=blame or ("The network underfits. Check the update first: params[W] -= learning_rate * grads[dW] "
                       "(and the same for every b: a sign flipped on one of them keeps the loss from falling); "
                       "then train longer, tune the learning rate, or add hidden units."
                       if train_accuracy <= threshold else
                       "It fits the training set but not new data: use fewer hidden units or fewer iterations."),
        details={"accuracy": accuracy})


def _with_grader_passes(student, ref, assignment, seed, request) -> dict | None:
    """The student's train on this run's task (or a second) with the grader's forward and backward passes in place
    of the student's own: {"replaced", "accuracy", "passed"}, also recorded; None when there is nothing to replace."""
    patch = stand_in_patch(student, ref)
    if not patch:
        return None  # the submission defines none of the passes under a name the grader knows
    threshold = float(assignment.setting("accuracy_threshold"))
    outcome = _trained(student, assignment, _task_data(assignment, seed, 0), patch)
    accuracy = None if outcome["params"] is None else \
        float(np.mean(ref.predict(outcome["X_test"], outcome["params"]) == outcome["Y_test"]))
    if (accuracy is None or accuracy <= threshold) and not isinstance(outcome["failure"], StudentCodeTimeout):
        second = _second_task_accuracy(student, ref, assignment, seed, patch)
        accuracy = second if second is not None and (accuracy is None or second > accuracy) else accuracy
    stand_in = {"replaced": sorted(patch), "accuracy": accuracy, "passed": accuracy is not None and accuracy > threshold}
    record(request, with_grader_passes=stand_in)
    return stand_in


def test_plot_decision_boundary_returns_a_figure(training, student, ref, lab, rng, earlier, request):
    """plot_decision_boundary(params, X, Y) returns a matplotlib Figure showing the data and the boundary"""
    # Only the image the worker renders is evidence, decoded and compared here (reference/figures.py): the
    # data's points must be where the data puts them, and the picture must move with the network.
    X, Y = training["X"], training["Y"]
    params = training["params"]
    if params is None or not boundary_moves(params, X, ref.L_layer_forward):
        student.resolve("plot_decision_boundary")  # a missing function needs no reference network to say so
        # Grade the plot even when training failed or learned no boundary, with a network of the grader's fitted
        # to this run's data: the training item charges the failure, not this one.
        params = _stand_in_params(ref, training)
    # Points of the run's data, some of them where swapping the coordinates changes the network's class: those
    # can show points and regions drawn in different frames (reference/figures.py, frames_differ).
    X, Y, keep = plotted_data(X, Y, params, ref.L_layer_forward, PLOT_POINTS, rng)
    problems, failure = _judged_figure(student, ref, params, X, Y, keep, request)
    if not problems and failure is None:
        return
    # A plot predicts with the student's own forward pass: when that fails its checks, fixing it comes first, and
    # the plot is judged once more around the grader's forward pass (reference/stand_in.py), so that a wrong
    # forward pass is charged in its own item only, not here too on some drawn data and not on other. Whether or
    # not the figure shows a boundary: regions drawn by a wrong forward pass are not the network's, and the
    # frame check, which reads their colours under the points, can then read them as drawn in another frame.
    blame = None if isinstance(failure, StudentCodeTimeout) else \
        lab.blame(earlier, "L_layer_forward", "linear_forward", why="your plot predicts with it")
    patch = stand_in_patch(student, ref, FORWARD) if blame else {}
    if patch:
        again, failed_again = _judged_figure(student, ref, params, X, Y, keep, request, patch=patch)
        if not again and failed_again is None:
            record(request, with_grader_forward=True)
            return
        blame = None  # the figure fails with the grader's forward too: the plot itself is what to fix
    if failure is not None:
        raise type(failure)(failure.message, hint=" ".join(h for h in (blame, failure.hint) if h) or None,
                            details=failure.details)
    raise CheckFailure("The figure is incomplete: " + "; ".join(problems) + ".", hint=blame)


def _judged_figure(student, ref, params, X, Y, keep, request, patch: dict | None = None):
    """(`_figure_problems`' problems, None), or ([], the failure) when the student's figure could not be had at
    all (their plot raised, timed out or returned no figure)."""
    try:
        return _figure_problems(student, ref, params, X, Y, keep, request, patch), None
    except BudgetExhausted:
        raise
    except CheckFailure as failure:
        return [], failure


def _figure_problems(student, ref, params, X, Y, keep, request, patch: dict | None = None) -> list[str]:
    """What the student's figure for (params, X, Y) lacks (empty when none).

    Rendered three times: with every point, with a subset (the removed points' pixels must change) and with
    the boundary moved (the picture must move with it). The first image and the evidence are recorded."""
    removed = np.setdiff1d(np.arange(X.shape[1]), keep)
    full = _rendered(student, params, X, Y, patch)
    if patch is None:
        png = png_bytes(full)  # what the check judged, as the report shows it
        if len(png) <= MAX_RECORDED_PNG:  # a usual figure is well under 100 KB; results.json stays small
            record(request, images={"student_decision_boundary": base64.b64encode(png).decode()})
    subset = _rendered(student, params, X[:, keep], Y[:, keep], patch)
    moved_params = shifted_params(params, X, ref.L_layer_forward)
    moved = _rendered(student, moved_params, X, Y, patch)
    if not full.shape == subset.shape == moved.shape:
        raise CheckFailure("The figure's size changed with the data it was given; draw on a figure of a fixed "
                           "size (e.g. plt.subplots(figsize=(6, 4))).")
    evidence = point_evidence(full, subset, X[:, removed])
    moved_changed = differing(full, moved)  # where the picture moved with the network: counted, and read below
    moved_pixels = int(moved_changed.sum())
    if patch is None:
        record(request, figure_evidence={"point_pixels": evidence.pixels, "points_found": evidence.found,
                                         "pixels_explained": evidence.explained, "points_spread": evidence.spread,
                                         "new_marks": evidence.new_marks, "boundary_pixels": moved_pixels})
    problems = []
    if evidence.pixels < 20:
        problems.append(f"it does not show the data points it is given (drawn with {X.shape[1]} points and with "
                        f"{len(keep)} of them, the image stayed the same), e.g. draw them with ax.scatter and "
                        f"colours that stand out from the regions")
    elif not evidence.ok:
        problems.append(_misplaced(evidence, removed.size))
    # Two readings of the frames: the colours left where the removed points vanished, and where the picture
    # changed when the network turned (reference/figures.py); either can see what the other cannot.
    if evidence.ok and (frames_differ(subset, X[:, removed], *classes_and_swapped(X[:, removed], params,
                                                                                 ref.L_layer_forward), evidence)
                        or regions_in_another_frame(moved_changed, X, params, moved_params, ref.L_layer_forward,
                                                    X[:, removed], evidence)):
        problems.append("its points are drawn in another frame than its regions: X[0] and X[1] are swapped between "
                        "the points and the regions (the regions' colours under the points, and the places where "
                        "the regions change when the network changes, fit the network only with the two swapped): "
                        "plot X[0] horizontally and X[1] vertically in both, e.g. ax.scatter(X[0], X[1]) with "
                        "ax.contourf(xx, yy, Z)")
    if not boundary_shown(moved_pixels):
        problems.append("it shows no decision boundary that follows the network (e.g. ax.contourf over a grid of "
                        "predictions made with params)")
    return problems


def _misplaced(evidence, removed: int) -> str:
    """What the point evidence says is wrong: points missing, the picture changing with the data beyond the
    markers, or the points elsewhere (reference/figures.py: found = removed points seen at their place,
    explained = changed pixels at some removed point, spread = how far apart the fit puts them, new marks = marks
    that appeared rather than vanished)."""
    if evidence.new_marks > MAX_NEW_MARKS:
        # Removing points can only take markers away: a figure that shows new ones with fewer points draws a part
        # of whatever it is given (the first 50 columns, a sample).
        return (f"some of the points it is given are not drawn (drawn again with {removed} of the points left out, "
                f"it showed markers that the first drawing did not, as a plot does that draws only some of the "
                f"columns of X, e.g. X[:, :50]): scatter every column of X")
    if evidence.spread < MIN_SPREAD or (evidence.found < POINTS_FOUND and evidence.explained >= PIXELS_EXPLAINED):
        # Everything that vanished is markers, but of a few points only (when the fit must shrink the data onto
        # those few markers to explain them, every point reads "found" there).
        seen = "only a few" if evidence.spread < MIN_SPREAD else f"only {evidence.found:.0%}"
        return (f"some of the points it is given are not drawn (of {removed} points removed, {seen} changed the "
                f"image where the data puts them): scatter every column of X")
    if evidence.found >= POINTS_FOUND:
        return (f"the removed points vanished where the data puts them, but so did much else: only "
                f"{evidence.explained:.0%} of the pixels that changed when {removed} points were removed lie at "
                f"those points, so the picture itself depends on the points it is given (e.g. regions fitted to "
                f"X and Y rather than predicted with params)")
    return (f"its points are not where the data puts them (only {evidence.found:.0%} of the points checked "
            f"appear at their place): plot X[0] against X[1] of the X it is given")


def _rendered(student, params, X, Y, patch: dict | None = None) -> np.ndarray:
    """The student's figure for (params, X, Y), drawn in the worker without its text and legends, as pixels
    checked here."""
    result = student.run("plot_decision_boundary", params, X, Y, figure=True, timeout=30, patch=patch)
    figure = result.figure or {}
    if result.pixels is None:
        what = "a figure that could not be drawn" if figure.get("is_figure") else figure.get("type", "nothing")
        raise CheckFailure(f"plot_decision_boundary returned {what}; expected a matplotlib Figure.",
                           hint="Create it with fig, ax = plt.subplots(), draw on ax, and `return fig` "
                                "(plt.show() alone returns None); keep it of a usual size (at most "
                                "2000 x 2000 pixels at 72 dpi).")
    return result.pixels

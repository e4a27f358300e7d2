"""The reference solutions are right: the grader scores students against them.

Gradients are checked against two-sided numerical gradients, quiz answers
against the chapter's printed numbers, and the starter-generation markers for
balance, so that `grader assign` can trust them.
"""

from __future__ import annotations

import ast
import copy
import math
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from reference import backprop_exercises as ex
from reference import backprop_lab as lab
from reference import backprop_quiz as quiz
from reference import backprop_research as res
from reference.moons import MOONS_NOISE, moons, rotated

REFERENCE_DIR = Path(lab.__file__).parent
SOLUTION_MODULES = ["backprop_lab.py", "backprop_exercises.py", "backprop_research.py", "backprop_quiz.py"]


def random_problem(layer_dims, m, seed):
    """Seeded random data and parameters (He weights, small random biases) for a network of `layer_dims`.

    Both choices keep a 1e-7 two-sided difference meaningful. The biases are
    nonzero because with zero biases a sample whose previous layer is all
    dead ReLUs has Z exactly 0, on the ReLU's kink, where the difference sees
    half the slope. The inputs have standard deviation 0.5 because large
    inputs can saturate the sigmoid output (AL = 1 - 2e-6, say), and then
    the rounding of AL alone moves the cost by more than 1e-7 of a gradient.
    """
    rng = np.random.default_rng(seed)
    X = 0.5 * rng.standard_normal((layer_dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(np.float64)
    params = lab.initialize_parameters(layer_dims, seed=seed + 1)
    for l in range(1, len(layer_dims)):
        params[f"b{l}"] = rng.normal(0.0, 0.1, size=(layer_dims[l], 1))
    return X, Y, params


def assert_same_arrays(before, after):
    """Every array in `after` equals its snapshot in `before` (nothing was mutated)."""
    if isinstance(before, dict):
        assert before.keys() == after.keys()
        for key in before:
            assert_same_arrays(before[key], after[key])
    else:
        np.testing.assert_array_equal(after, before)


# ------------------------------------------------------------------ lab: layers


def test_linear_forward_and_backward_match_the_formulas():
    rng = np.random.default_rng(0)
    A_prev, W, b = rng.standard_normal((3, 7)), rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    Z, cache = lab.linear_forward(A_prev, W, b)
    np.testing.assert_allclose(Z, W @ A_prev + b)
    dZ = rng.standard_normal((4, 7))
    dA_prev, dW, db = lab.linear_backward(dZ, cache)
    np.testing.assert_allclose(dW, dZ @ A_prev.T / 7)
    np.testing.assert_allclose(db, dZ.sum(axis=1, keepdims=True) / 7)
    np.testing.assert_allclose(dA_prev, W.T @ dZ)
    assert (dA_prev.shape, dW.shape, db.shape) == (A_prev.shape, W.shape, b.shape)


@pytest.mark.parametrize("layer_dims, m", [([2, 5, 3, 1], 1), ([4, 3, 1], 9), ([3, 1], 2)])
def test_forward_shapes_and_one_cache_per_layer(layer_dims, m):
    X, _, params = random_problem(layer_dims, m, seed=2)
    AL, caches = lab.L_layer_forward(X, params)
    assert AL.shape == (1, m)
    assert np.all((AL > 0) & (AL < 1))
    assert len(caches) == len(layer_dims) - 1
    for l, ((A_prev, W, b), Z) in enumerate(caches, start=1):
        assert A_prev.shape == (layer_dims[l - 1], m) and Z.shape == (layer_dims[l], m)
        assert W is params[f"W{l}"] and b is params[f"b{l}"]


def test_chapter_aliases_are_the_same_functions():
    assert lab.L_model_forward is lab.L_layer_forward
    assert lab.L_model_backward is lab.L_layer_backward


def test_compute_cost_is_a_float_and_finite_when_saturated():
    assert isinstance(lab.compute_cost(np.full((1, 4), 0.5), np.array([[0, 1, 0, 1]])), float)
    assert lab.compute_cost(np.full((1, 4), 0.5), np.array([[0, 1, 0, 1]])) == pytest.approx(math.log(2))
    assert math.isfinite(lab.compute_cost(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])))


def test_activation_derivatives_match_numerical_ones():
    Z = np.linspace(-3, 3, 13) + 0.05  # away from the kinks at 0
    h = 1e-6
    leaky_relu = lambda z: np.where(z > 0, z, 0.01 * z)  # noqa: E731
    for forward, backward in [(lab.relu, lab.relu_backward), (leaky_relu, ex.leaky_relu_backward)]:
        numerical = (forward(Z + h) - forward(Z - h)) / (2 * h)
        np.testing.assert_allclose(backward(np.ones_like(Z), Z), numerical, rtol=1e-6, atol=1e-9)


def test_sigmoid_saturates_without_overflow_warnings():
    # Underflow to 0.0 is expected and silent by default; overflow or nan would warn.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = lab.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0])


# ------------------------------------------------------------ gradient checking


@pytest.mark.parametrize("layer_dims", [[2, 5, 3, 1], [5, 4, 3, 1]])
def test_gradient_check_passes_below_the_chapters_threshold(layer_dims):
    X, Y, params = random_problem(layer_dims, m=10, seed=3)
    assert lab.gradient_check(X, Y, params) < 1e-7
    assert ex.gradient_check(X, Y, params) < 1e-7


@pytest.mark.parametrize("layer_dims", [[3, 1], [7, 6, 5, 4, 3, 1]])
def test_any_depth_backprop_matches_numerical_gradients(layer_dims):
    X, Y, params = random_problem(layer_dims, m=8, seed=4)
    AL, caches = ex.L_layer_forward(X, params)
    grads = ex.L_layer_backward(AL, Y, caches)
    numerical = lab.numerical_gradients(X, Y, params)
    assert set(numerical) == {"d" + key for key in params}
    for key in numerical:
        assert grads[key].shape == params[key[1:]].shape
        np.testing.assert_allclose(grads[key], numerical[key], rtol=1e-5, atol=1e-8, err_msg=key)


def test_gradient_check_flags_a_backward_with_a_planted_bug(monkeypatch):
    X, Y, params = random_problem([2, 5, 3, 1], m=10, seed=5)
    correct = lab.L_layer_backward

    def off_by_factor_two(AL, Y, caches):
        grads = correct(AL, Y, caches)
        grads["dW1"] = 2 * grads["dW1"]
        return grads

    # The grader swaps the backward pass in the module namespace; gradient_check must pick it up.
    monkeypatch.setattr(lab, "L_layer_backward", off_by_factor_two)
    assert lab.gradient_check(X, Y, params) > 1e-3


# ------------------------------------------------------------ training and plot


def test_rotated_turns_points_about_the_origin_keeping_distances():
    X, _ = moons(50, seed=7)
    turned = rotated(X, 90)
    np.testing.assert_allclose(turned[0], -X[1], atol=1e-12)  # (x, y) -> (-y, x)
    np.testing.assert_allclose(turned[1], X[0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(rotated(X, 137.5), axis=0), np.linalg.norm(X, axis=0))
    np.testing.assert_allclose(rotated(rotated(X, 200), 160), X, atol=1e-12)


def test_moons_data_layout_and_determinism():
    X, Y = moons(50, seed=7)
    assert X.shape == (2, 50) and Y.shape == (1, 50)
    assert X.dtype == np.float64 and Y.dtype == np.float64
    assert set(np.unique(Y)) == {0.0, 1.0}
    np.testing.assert_array_equal(moons(50, seed=7)[0], X)
    assert MOONS_NOISE == 0.1


@pytest.mark.parametrize("degrees", [0, 60, 180, 300])
def test_training_beats_the_labs_bar_on_held_out_moons_in_any_orientation(degrees):
    X, Y = moons(1000, seed=0)
    X_test, Y_test = moons(1000, seed=12345)
    params = lab.train(rotated(X, degrees), Y)
    predictions = lab.predict(rotated(X_test, degrees), params)
    assert predictions.shape == (1, 1000) and set(np.unique(predictions)) <= {0, 1}
    assert np.mean(predictions == Y_test) > 0.95


def test_plot_decision_boundary_returns_a_figure_with_data_and_boundary():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    X, Y = moons(100, seed=8)
    params = lab.train(X, Y, num_iterations=50)
    open_before = plt.get_fignums()
    fig = lab.plot_decision_boundary(params, X, Y)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == open_before  # no pyplot state created
    ax = fig.axes[0]
    scatter = [c for c in ax.collections if len(c.get_offsets()) == 100]
    assert scatter, "the 100 data points are not plotted"
    assert len(ax.collections) > len(scatter), "no filled decision regions"


# ---------------------------------------------------------------- no mutation


def test_no_reference_function_mutates_its_inputs():
    X, Y, params = random_problem([2, 5, 3, 1], m=6, seed=9)
    snapshot = copy.deepcopy((X, Y, params))
    AL, caches = lab.L_layer_forward(X, params)
    AL_before = AL.copy()
    lab.L_layer_backward(AL, Y, caches)
    lab.compute_cost(AL, Y)
    lab.numerical_gradients(X, Y, params)
    lab.gradient_check(X, Y, params)
    lab.predict(X, params)
    lab.train(X, Y, num_iterations=5)
    res.checkpointed_gradients(X, Y, params, 2)
    np.testing.assert_array_equal(AL, AL_before)
    assert_same_arrays(snapshot[0], X)
    assert_same_arrays(snapshot[1], Y)
    assert_same_arrays(snapshot[2], params)

    dZ = np.ones((3, 6))
    cache_before = copy.deepcopy(caches[1][0])
    lab.linear_backward(dZ, caches[1][0])
    for before, after in zip(cache_before, caches[1][0]):
        np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(dZ, np.ones((3, 6)))

    z = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    ex.softmax_cross_entropy_backward(z, y)
    np.testing.assert_array_equal(z, [[1.0, 2.0], [3.0, -1.0]])


# ------------------------------------------------------------------- exercises


def two_layer_problem(n_x, n_h, m, seed):
    """A 2-layer "Debug This!" setting: params W1, b1, W2, b2 and the cache A1, A2, Z1."""
    X, Y, params = random_problem([n_x, n_h, 1], m, seed)
    params["b1"] = params["b1"] + 0.1  # nonzero biases, so a wrong db shows up in values too
    AL, caches = lab.L_layer_forward(X, params)
    Z1 = caches[0][1]
    cache = {"Z1": Z1, "A1": lab.relu(Z1), "A2": AL}
    return X, Y, params, cache, lab.L_layer_backward(AL, Y, caches)


def test_fixed_backward_equals_the_lab_backprop():
    X, Y, params, cache, expected = two_layer_problem(3, 4, 6, seed=10)
    grads = ex.backward(X, Y, params, cache)
    assert set(grads) == {"dW1", "db1", "dW2", "db2"}
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-12, err_msg=key)


def test_buggy_backward_shows_the_chapters_three_bugs():
    # With m != n_h the missing transpose makes dZ2 @ A1 impossible.
    X, Y, params, cache, _ = two_layer_problem(3, 4, 6, seed=11)
    with pytest.raises(ValueError):
        ex.buggy_backward(X, Y, params, cache)
    # With m == n_h it runs, and every gradient but none of the right ones comes out.
    X, Y, params, cache, expected = two_layer_problem(3, 4, 4, seed=11)
    buggy = ex.buggy_backward(X, Y, params, cache)
    assert buggy["db1"].shape == (1, 4) and expected["db1"].shape == (4, 1)
    # m = n_x = 3 instead of 4 scales the remaining gradients by 4/3.
    np.testing.assert_allclose(buggy["db2"], expected["db2"] * 4 / 3)
    np.testing.assert_allclose(buggy["dW1"], expected["dW1"] * 4 / 3)
    assert not np.allclose(buggy["dW2"], expected["dW2"] * 4 / 3)


def test_check_shapes_accepts_matching_and_names_the_mismatch():
    params = {"W1": np.zeros((4, 3)), "b1": np.zeros((4, 1))}
    assert ex.check_shapes(params, {"dW1": np.zeros((4, 3)), "db1": np.zeros((4, 1))}) is None
    with pytest.raises(AssertionError) as mismatch:
        ex.check_shapes(params, {"dW1": np.zeros((3, 4)), "db1": np.zeros((4, 1))})
    message = str(mismatch.value)
    assert "dW1" in message and "(3, 4)" in message and "(4, 3)" in message
    with pytest.raises(AssertionError, match="db1"):
        ex.check_shapes(params, {"dW1": np.zeros((4, 3))})


def test_leaky_relu_backward_values():
    dA = np.array([[2.0, 2.0, 2.0]])
    Z = np.array([[-1.0, 0.0, 3.0]])
    np.testing.assert_allclose(ex.leaky_relu_backward(dA, Z), [[0.02, 0.02, 2.0]])
    np.testing.assert_allclose(ex.leaky_relu_backward(dA, Z, alpha=0.2), [[0.4, 0.4, 2.0]])


def test_softmax_is_stable_and_sums_to_one_per_column():
    z = np.array([[1001.0, -999.0, 1.0], [1002.0, -998.0, 2.0], [1003.0, -997.0, 3.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = ex.softmax(z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=0), 1.0)
    small = z[:, 2:]
    np.testing.assert_allclose(ex.softmax(small), np.exp(small) / np.exp(small).sum())
    np.testing.assert_allclose(s[:, 0], s[:, 2])  # shift invariance
    np.testing.assert_allclose(s[:, 1], s[:, 2])


def test_softmax_cross_entropy_backward_matches_numerical_gradient():
    rng = np.random.default_rng(13)
    z = rng.standard_normal((4, 5))
    y = np.eye(4)[:, rng.integers(0, 4, 5)]

    def loss(logits):
        return -np.sum(y * np.log(ex.softmax(logits))) / 5

    numerical = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = 1e-6
        numerical[index] = (loss(z + step) - loss(z - step)) / 2e-6
    np.testing.assert_allclose(ex.softmax_cross_entropy_backward(z, y), numerical, rtol=1e-5, atol=1e-9)


# -------------------------------------------------------------- research: Value


def numerical_partials(build, point, h=1e-6):
    """Two-sided derivatives of ``build(*Values).data`` at `point`, one per argument."""
    partials = []
    for i in range(len(point)):
        up = [Value(v + (h if j == i else 0.0)) for j, v in enumerate(point)]
        down = [Value(v - (h if j == i else 0.0)) for j, v in enumerate(point)]
        partials.append((build(*up).data - build(*down).data) / (2 * h))
    return partials


Value = res.Value

EXPRESSIONS = {
    "arithmetic": (lambda a, b, c: a * b + c - a / b, [1.5, -2.0, 0.7]),
    "reused nodes": (lambda a, b, c: a * a + a * b + (a + b) * (a + c) - a, [0.3, 1.2, -0.8]),
    "reversed numbers": (lambda a, b, c: 3 + (2 * a) * (1 - b) + 2 / c - a * 4 + c / 2, [0.5, 2.0, 1.5]),
    "powers and negation": (lambda a, b, c: -(a ** 3) + b ** -2 + c ** 0.5, [1.1, 0.9, 2.0]),
    "exp and log": (lambda a, b, c: (a * b).exp().log() + (c ** 2 + 1).log() * a.exp(), [0.4, -0.6, 1.3]),
}


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_value_gradients_match_numerical_derivatives(name):
    build, point = EXPRESSIONS[name]
    inputs = [Value(v) for v in point]
    assert all(v.grad == 0.0 for v in inputs)
    out = build(*inputs)
    out.backward()
    assert out.grad == 1.0
    np.testing.assert_allclose([v.grad for v in inputs], numerical_partials(build, point), rtol=1e-6, atol=1e-8)


def test_value_backward_twice_gives_the_same_gradients():
    a = Value(3.0)
    out = a * a + a
    out.backward()
    out.backward()
    assert a.grad == pytest.approx(7.0)


def test_value_backward_handles_graphs_deeper_than_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + x * 0.001
    y.backward()
    assert math.isfinite(x.grad) and x.grad > 0


def test_value_refuses_a_value_exponent():
    with pytest.raises(TypeError):
        Value(2.0) ** Value(3.0)


def test_logistic_loss_reproduces_worked_example_two():
    w = [Value(0.5), Value(-0.3)]
    b = Value(0.1)
    loss = res.logistic_loss(w, [2.0, 3.0], b, 1)
    loss.backward()
    assert loss.data == pytest.approx(0.5981, abs=1e-4)
    assert [v.grad for v in w] == pytest.approx([-0.9003, -1.3505], abs=1e-4)
    assert b.grad == pytest.approx(-0.4502, abs=1e-4)


@pytest.mark.parametrize("label", [0, 1])
def test_logistic_loss_gradients_match_numerical_ones(label):
    point = [0.7, -1.2, 0.3, 0.25]  # w1, w2, w3, b
    x = [1.5, 0.4, -2.0]

    def build(w1, w2, w3, b):
        return res.logistic_loss([w1, w2, w3], x, b, label)

    inputs = [Value(v) for v in point]
    build(*inputs).backward()
    np.testing.assert_allclose([v.grad for v in inputs], numerical_partials(build, point), rtol=1e-6)


# ------------------------------------------------------- research: checkpointing


DEEP_DIMS = [64] * 16 + [1]  # 16 layers


@pytest.fixture(scope="module")
def deep_problem():
    """A 16-layer, width-64 network and a wide batch, with plain backprop's gradients."""
    X, Y, params = random_problem(DEEP_DIMS, m=4096, seed=14)
    AL, caches = lab.L_layer_forward(X, params)
    return X, Y, params, lab.L_layer_backward(AL, Y, caches)


@pytest.mark.parametrize("segment_size", [1, 3, 4, 16, 20])
def test_checkpointed_gradients_equal_plain_backprop(deep_problem, segment_size):
    X, Y, params, expected = deep_problem
    grads = res.checkpointed_gradients(X, Y, params, segment_size)
    assert set(grads) >= set(expected)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-10, atol=1e-14, err_msg=key)


def peak_bytes(function):
    """Peak traced allocation while `function()` runs (its result is dropped inside)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_uses_at_most_60_percent_of_plain_peak_memory(deep_problem):
    X, Y, params, _ = deep_problem

    def plain():
        AL, caches = lab.L_layer_forward(X, params)
        lab.L_layer_backward(AL, Y, caches)

    ratio = peak_bytes(lambda: res.checkpointed_gradients(X, Y, params, 4)) / peak_bytes(plain)
    assert ratio <= 0.6


def test_forward_layer_evaluations_counts_what_checkpointing_runs(monkeypatch):
    X, Y, params = random_problem([5] * 10 + [1], m=3, seed=15)
    calls = []
    original = res.linear_forward

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(res, "linear_forward", counting)
    for segment_size in [1, 3, 4, 10]:
        calls.clear()
        res.checkpointed_gradients(X, Y, params, segment_size)
        assert len(calls) == res.forward_layer_evaluations(10, segment_size)
    assert res.forward_layer_evaluations(16, 4) == 28


# ------------------------------------------------------------------------ quiz


def test_quiz_answers_match_the_chapter():
    assert quiz.EX1_GRADS == pytest.approx((-4, -4, 3), rel=1e-3)
    assert quiz.EX2_UPDATED == pytest.approx((0.5900, -0.1649, 0.1450), rel=1e-3)
    for x, y in [(1.0, 2.0), (-3.0, 0.5), (2.0, -1.5)]:
        assert quiz.B1_DF_DX(x, y) == pytest.approx(2 * x * y + 3 * y ** 2, rel=1e-3)
        assert quiz.B1_DF_DY(x, y) == pytest.approx(x ** 2 + 6 * x * y, rel=1e-3)
    assert quiz.B2_SHAPES == {
        "X": (3, 5), "W1": (4, 3), "b1": (4, 1), "Z1": (4, 5), "A1": (4, 5), "W2": (1, 4), "b2": (1, 1),
        "Z2": (1, 5), "A2": (1, 5), "dZ2": (1, 5), "dW2": (1, 4), "db2": (1, 1), "dZ1": (4, 5),
        "dW1": (4, 3), "db1": (4, 1)}
    assert quiz.B5_NUMERICAL == pytest.approx(14.0001, rel=1e-3)
    assert quiz.B5_ANALYTICAL == pytest.approx(14, rel=1e-3)
    assert quiz.B5_ERROR == pytest.approx(1e-4, rel=1e-3)
    assert set(quiz.EXAM_ANSWERS) == {1, 2, 3, 4}


def published_options(question):
    """The options of exam question `question` as printed in the quiz module's docstring."""
    block = re.search(rf"Q{question}\.(.*?)(?=\nQ\d\.|\Z)", quiz.__doc__, re.S).group(1)
    return dict(re.findall(r"^\s+([A-D])\) (.+)$", block, re.M))


def test_exam_answers_point_at_the_chapters_answers_in_the_published_options():
    for question in [1, 2, 3, 4]:
        assert set(published_options(question)) == set("ABCD")
    chosen = {q: published_options(q)[quiz.EXAM_ANSWERS[q]] for q in [1, 2, 3, 4]}
    assert float(chosen[1]) == pytest.approx(0.3 - 1)
    assert chosen[2] == "O(sum of n_l * n_{l-1} * m)"
    assert chosen[3].startswith("A[l-1] ")
    assert chosen[4] == "O(eps^2)"
    assert len(set(quiz.EXAM_ANSWERS.values())) > 1, "the right letter should vary"


# ------------------------------------------------------------ solution markers


def solution_regions(source):
    """(begin line, end line, indent) of each marked region; asserts they are well formed."""
    regions, open_region = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        if stripped == "# BEGIN SOLUTION":
            assert open_region is None, f"line {number}: BEGIN inside the region opened at line {open_region[0]}"
            open_region = (number, indent)
        elif stripped == "# END SOLUTION":
            assert open_region is not None, f"line {number}: END without BEGIN"
            assert indent == open_region[1], f"line {number}: END indented unlike its BEGIN"
            assert number > open_region[0] + 1, f"line {number}: empty region"
            regions.append((open_region[0], number, indent))
            open_region = None
        elif stripped.startswith("#") and "SOLUTION" in stripped.upper():
            raise AssertionError(f"line {number}: malformed marker {stripped!r}")
    assert open_region is None, f"region opened at line {open_region[0]} never ends"
    return regions


def strip_solutions(source):
    """The starter's view: each region replaced by ``raise NotImplementedError``."""
    lines = source.splitlines()
    for begin, end, indent in reversed(solution_regions(source)):
        lines[begin - 1:end] = [f"{indent}raise NotImplementedError"]
    return "\n".join(lines) + "\n"


def docstrings(tree):
    """{qualified function or class name: docstring} for everything defined in `tree`."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                found[prefix + child.name] = ast.get_docstring(child)
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in REFERENCE_DIR.glob("*.py")))
def test_solution_markers_are_balanced_and_leave_a_valid_starter(module):
    source = (REFERENCE_DIR / module).read_text()
    regions = solution_regions(source)
    if module in SOLUTION_MODULES:
        assert regions, f"{module} marks no solution"
    starter = strip_solutions(source)
    starter_tree = ast.parse(starter)
    # Signatures and docstrings stay for the student: stripping removes no function and no docstring.
    original = docstrings(ast.parse(source))
    kept = docstrings(starter_tree)
    public = {name: doc for name, doc in original.items()
              if not any(part.startswith("_") and not part.startswith("__") for part in name.split("."))}
    for name, doc in public.items():
        if name in kept:
            assert kept[name] == doc, f"{module}: the docstring of {name} is inside a solution region"
    lab_functions = {"linear_forward", "linear_backward", "L_layer_forward", "L_layer_backward",
                     "compute_cost", "gradient_check", "train", "plot_decision_boundary"}
    if module == "backprop_lab.py":
        assert lab_functions <= set(kept)

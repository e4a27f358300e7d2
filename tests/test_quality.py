"""Tests of the automatic code-quality estimate (grader/quality/).

Each test states what an instructor or a student would notice if it broke:
a good solution losing points, a sloppy one getting them, evidence that does
not point at the line to fix, or a crash on a broken file.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.scoring.quality import (
    COMMENTS, DOCSTRINGS, MODULARITY, NAMES, TOP_LEVEL, Criterion, QualityEstimate, estimate_quality,
)

LAB_FUNCTIONS = [
    "linear_forward", "linear_backward", "L_layer_forward|L_model_forward",
    "L_layer_backward|L_model_backward", "compute_cost", "gradient_check", "train",
    "plot_decision_boundary",
]

# A documented, commented, modular solution of the lab.
GOOD = '''\
"""Modular backpropagation framework for the chapter's lab."""

import numpy as np


def sigmoid(Z):
    """Return the element-wise logistic sigmoid of `Z`."""
    # Clip so that np.exp cannot overflow for very negative inputs.
    return 1.0 / (1.0 + np.exp(-np.clip(Z, -500, 500)))


def relu(Z):
    """Return max(0, Z) element-wise for the pre-activation `Z`."""
    return np.maximum(0, Z)


def initialize_parameters(layer_dims, seed=0):
    """Create He-initialised weights and zero biases.

    Args:
        layer_dims: list of layer sizes [n_x, n_1, ..., n_L].
        seed: seed of the random generator, for reproducible runs.

    Returns:
        dict params with W1..WL of shape (n_l, n_{l-1}) and b1..bL of shape (n_l, 1).
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(layer_dims)):
        # He scaling keeps ReLU activations from shrinking layer after layer.
        scale = np.sqrt(2.0 / layer_dims[l - 1])
        params["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * scale
        params["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return params


def linear_forward(A_prev, W, b):
    """Compute the linear part of a layer's forward pass.

    Args:
        A_prev: activations of the previous layer, shape (n_{l-1}, m).
        W: weights, shape (n_l, n_{l-1}).
        b: biases, shape (n_l, 1).

    Returns:
        (Z, cache): the pre-activation Z = W A_prev + b and the inputs,
        which the backward pass needs.
    """
    # Broadcasting adds b to every column, i.e. to every sample.
    Z = W @ A_prev + b
    return Z, (A_prev, W, b)


def linear_backward(dZ, cache):
    """Backpropagate through the linear part of a layer.

    Args:
        dZ: gradient of the cost with respect to Z, shape (n_l, m).
        cache: the (A_prev, W, b) tuple saved by linear_forward.

    Returns:
        (dA_prev, dW, db), each with the shape of the value it differentiates.
    """
    A_prev, W, b = cache
    m = A_prev.shape[1]
    # Average over the batch: the cost is a mean over samples.
    dW = dZ @ A_prev.T / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    # The chain rule sends the gradient back through W's transpose.
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def L_layer_forward(X, params):
    """Run the forward pass of the whole network.

    Args:
        X: input data, shape (n_x, m).
        params: dict of W1..WL and b1..bL.

    Returns:
        (AL, caches): the output activations and one cache per layer.
    """
    caches = []
    A = X
    L = len(params) // 2
    for l in range(1, L + 1):
        Z, linear_cache = linear_forward(A, params["W" + str(l)], params["b" + str(l)])
        # Hidden layers use ReLU; the output layer a sigmoid for probabilities.
        A = sigmoid(Z) if l == L else relu(Z)
        caches.append((linear_cache, Z, A))
    return A, caches


def compute_cost(AL, Y):
    """Return the mean binary cross-entropy of predictions AL against labels Y."""
    m = Y.shape[1]
    # Clipping keeps log() finite when the network is very confident.
    AL = np.clip(AL, 1e-12, 1 - 1e-12)
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def L_layer_backward(AL, Y, caches):
    """Backpropagate through every layer, from the output to the input.

    Args:
        AL: output activations, shape (1, m).
        Y: labels, shape (1, m).
        caches: the per-layer caches from L_layer_forward.

    Returns:
        grads: dict with dW1..dWL and db1..dbL.
    """
    grads = {}
    L = len(caches)
    # Sigmoid and cross-entropy together simplify to AL - Y.
    dZ = AL - Y
    for l in range(L, 0, -1):
        linear_cache, Z, _ = caches[l - 1]
        dA_prev, grads["dW" + str(l)], grads["db" + str(l)] = linear_backward(dZ, linear_cache)
        if l > 1:
            # ReLU's derivative is 1 where the previous layer's Z was positive.
            dZ = dA_prev * (caches[l - 2][1] > 0)
    return grads


def gradient_check(X, Y, params, epsilon=1e-7):
    """Compare backprop's gradients with two-sided numerical ones.

    Args:
        X, Y: a batch of data and labels.
        params: the network's parameters.
        epsilon: the step of the finite differences.

    Returns:
        The relative difference between the two gradient vectors.
    """
    AL, caches = L_layer_forward(X, params)
    grads = L_layer_backward(AL, Y, caches)
    analytic, numeric = [], []
    for key in sorted(params):
        for index in np.ndindex(params[key].shape):
            numeric.append(_two_sided_difference(X, Y, params, key, index, epsilon))
            analytic.append(grads["d" + key][index])
    analytic, numeric = np.array(analytic), np.array(numeric)
    # The relative difference is scale-free, unlike the plain norm.
    return float(np.linalg.norm(analytic - numeric)
                 / (np.linalg.norm(analytic) + np.linalg.norm(numeric)))


def _two_sided_difference(X, Y, params, key, index, epsilon):
    """Return the centred difference of the cost along one parameter entry."""
    original = params[key][index]
    costs = []
    for shift in (epsilon, -epsilon):
        # Perturb in place and restore below, so params is left unchanged.
        params[key][index] = original + shift
        costs.append(compute_cost(L_layer_forward(X, params)[0], Y))
    params[key][index] = original
    return (costs[0] - costs[1]) / (2 * epsilon)


def train(X, Y, layer_dims=(2, 16, 8, 1), learning_rate=0.5, iterations=3000):
    """Train the network with full-batch gradient descent.

    Args:
        X: inputs, shape (2, m).
        Y: labels, shape (1, m).
        layer_dims: the sizes of the layers.
        learning_rate: the step size of gradient descent.
        iterations: how many steps to take.

    Returns:
        The trained params dict.
    """
    params = initialize_parameters(list(layer_dims))
    for _ in range(iterations):
        AL, caches = L_layer_forward(X, params)
        grads = L_layer_backward(AL, Y, caches)
        # Step every parameter against its gradient.
        for key in params:
            params[key] -= learning_rate * grads["d" + key]
    return params


def plot_decision_boundary(params, X, Y):
    """Plot the data and the network's decision boundary.

    Args:
        params: a trained params dict.
        X: inputs, shape (2, m).
        Y: labels, shape (1, m).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    # A grid slightly larger than the data shows the boundary's whole shape.
    x_min, x_max = X[0].min() - 0.5, X[0].max() + 0.5
    y_min, y_max = X[1].min() - 0.5, X[1].max() + 0.5
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, 200), np.linspace(y_min, y_max, 200))
    grid = np.vstack([xx.ravel(), yy.ravel()])
    probabilities = L_layer_forward(grid, params)[0].reshape(xx.shape)
    figure, axes = plt.subplots()
    axes.contourf(xx, yy, probabilities > 0.5, alpha=0.3)
    axes.scatter(X[0], X[1], c=Y.ravel(), s=8)
    return figure


if __name__ == "__main__":
    from sklearn.datasets import make_moons

    data, labels = make_moons(n_samples=1000, noise=0.1, random_state=0)
    trained = train(data.T, labels.reshape(1, -1))
    plot_decision_boundary(trained, data.T, labels.reshape(1, -1)).savefig("boundary.png")
'''


def _sloppy_train(lines: int = 150) -> str:
    """A `train` that does everything inline, layer by layer, for `lines` lines."""
    body = [
        "def train(X, Y):",
        "    W1 = np.random.randn(16, 2) * 0.01",
        "    b1 = np.zeros((16, 1))",
        "    W2 = np.random.randn(1, 16) * 0.01",
        "    b2 = np.zeros((1, 1))",
        "    m = X.shape[1]",
    ]
    step = [
        "    Z1 = W1 @ X + b1",
        "    A1 = np.maximum(0, Z1)",
        "    Z2 = W2 @ A1 + b2",
        "    A2 = 1 / (1 + np.exp(-Z2))",
        "    dZ2 = A2 - Y",
        "    W2 = W2 - 0.5 * (dZ2 @ A1.T) / m",
        "    b2 = b2 - 0.5 * np.sum(dZ2, axis=1, keepdims=True) / m",
        "    dZ1 = (W2.T @ dZ2) * (Z1 > 0)",
        "    W1 = W1 - 0.5 * (dZ1 @ X.T) / m",
        "    b1 = b1 - 0.5 * np.sum(dZ1, axis=1, keepdims=True) / m",
    ]
    while len(body) < lines - 1:
        body += step[: lines - 1 - len(body)]
    body.append("    return {'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}")
    return "\n".join(body) + "\n"


# Undocumented, uncommented, one 150-line function, training at import time.
SLOPPY = (
    textwrap.dedent("""\
    import numpy as np
    from sklearn.datasets import make_moons

    def linear_forward(A_prev, W, b):
        Z = W @ A_prev + b
        return Z, (A_prev, W, b)

    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = dZ @ A_prev.T / m
        db = np.sum(dZ, axis=1, keepdims=True) / m
        dA_prev = W.T @ dZ
        return dA_prev, dW, db

    def L_layer_forward(X, params):
        caches = []
        A = X
        L = len(params) // 2
        for l in range(1, L + 1):
            Z, c = linear_forward(A, params['W' + str(l)], params['b' + str(l)])
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)
            caches.append((c, Z))
        return A, caches

    def L_layer_backward(AL, Y, caches):
        grads = {}
        dZ = AL - Y
        for l in range(len(caches), 0, -1):
            dA, grads['dW' + str(l)], grads['db' + str(l)] = linear_backward(dZ, caches[l - 1][0])
            if l > 1:
                dZ = dA * (caches[l - 2][1] > 0)
        return grads

    def compute_cost(AL, Y):
        m = Y.shape[1]
        return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)

    def gradient_check(X, Y, params, epsilon=1e-7):
        AL, caches = L_layer_forward(X, params)
        grads = L_layer_backward(AL, Y, caches)
        return float(np.sum(grads['dW1']) * epsilon)

    """)
    + _sloppy_train()
    + textwrap.dedent("""\

    def plot_decision_boundary(params, X, Y):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.scatter(X[0], X[1], c=Y.ravel())
        return fig

    X, Y = make_moons(n_samples=1000)
    X = X.T
    Y = Y.reshape(1, -1)
    params = train(X, Y)
    print(compute_cost(L_layer_forward(X, params)[0], Y))
    """)
)


def _points(estimate: QualityEstimate) -> dict[str, float]:
    """Points per criterion name."""
    return {criterion.name: criterion.points for criterion in estimate.criteria}


def _criterion(estimate: QualityEstimate, name: str) -> Criterion:
    """The criterion called `name`."""
    return next(criterion for criterion in estimate.criteria if criterion.name == name)


def _line_of(source: str, text: str) -> int:
    """1-based line number of the first line containing `text`."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def _strip_docstrings(source: str) -> str:
    """Remove every indented (function) docstring; the module's stays."""
    return re.sub(r'\n(    )+"""[\s\S]*?"""', "", source)


def _strip_comments(source: str) -> str:
    """Remove every full-line comment."""
    return re.sub(r"\n[ \t]*#[^\n]*", "", source)


# ------------------------------------------------------------------ scores

def test_a_well_written_solution_scores_at_least_9_of_10():
    estimate = estimate_quality(GOOD, LAB_FUNCTIONS)
    assert estimate.points >= 9
    assert estimate.max_points == 10
    assert [c.name for c in estimate.criteria] == [DOCSTRINGS, COMMENTS, MODULARITY, NAMES, TOP_LEVEL]
    assert sum(c.max_points for c in estimate.criteria) == pytest.approx(10)


def test_a_sloppy_solution_scores_at_most_4_and_the_evidence_says_why():
    estimate = estimate_quality(SLOPPY, LAB_FUNCTIONS)
    assert estimate.points <= 4

    docstrings = _criterion(estimate, DOCSTRINGS).evidence
    for name in ("linear_forward", "linear_backward", "L_layer_forward", "compute_cost", "train"):
        line = _line_of(SLOPPY, f"def {name}(")
        assert f"line {line}: `{name}` has no docstring" in docstrings

    train_line = _line_of(SLOPPY, "def train(")
    modularity = _criterion(estimate, MODULARITY).evidence
    assert any(re.match(rf"line {train_line}: `train` is 1\d\d lines long \(over 40\): split it", e)
               for e in modularity), modularity

    top_level = _criterion(estimate, TOP_LEVEL).evidence
    call_line = _line_of(SLOPPY, "params = train(X, Y)")
    assert (f'line {call_line}: top-level call `train(X, Y)` runs when the file is imported: '
            f'move it into a function or under `if __name__ == "__main__":`') in top_level
    assert any(e.startswith(f"line {call_line + 1}: top-level call `print(") for e in top_level)
    assert _criterion(estimate, TOP_LEVEL).points == 0
    assert _criterion(estimate, COMMENTS).points == 0


def _add_unused_and_shadowing_names(source: str) -> str:
    """Give `compute_cost` an unused variable and a local that shadows `sum`."""
    return source.replace(
        "    m = Y.shape[1]\n",
        "    m = Y.shape[1]\n    backup = AL.copy()\n    sum = np.sum\n    total = sum(Y)\n    del total\n",
    )


def _add_top_level_training(source: str) -> str:
    """Train the network when the file is imported."""
    return source + "\nrng = np.random.default_rng(0)\nfeatures = rng.normal(size=(2, 50))\ntrained = train(features, features[:1] > 0)\n"


def _add_long_nested_helper(source: str) -> str:
    """Add a documented, commented, used helper that is too long and nests too deep."""
    lines = ['def summarise(history):', '    """Return the mean and the last value of the `history` of costs."""',
             "    total = 0.0", "    count = 0"]
    for index in range(45):
        if index % 5 == 0:
            lines.append(f"    # Step {index}: costs are averaged in slices, so a spike shows up.")
        lines.append(f"    total = total + history[{index}] * {index + 1}")
    lines += ["    for cost in history:",
              "        if cost > 0:",
              "            if cost < 1:",
              "                while count < 3:",
              "                    # Count small positive costs, at most three of them.",
              "                    count += 1",
              "    return total / len(history), history[-1], count", ""]
    guard = 'if __name__ == "__main__":\n'
    return source.replace(guard, "\n".join(lines) + "\n\n" + guard + "    print(summarise([1.0] * 50))\n")


@pytest.mark.parametrize("defect, criterion", [
    (_strip_docstrings, DOCSTRINGS),
    (_strip_comments, COMMENTS),
    (_add_long_nested_helper, MODULARITY),
    (_add_unused_and_shadowing_names, NAMES),
    (_add_top_level_training, TOP_LEVEL),
])
def test_each_criterion_responds_to_its_own_defect_only(defect, criterion):
    fixed = _points(estimate_quality(GOOD, LAB_FUNCTIONS))
    broken = _points(estimate_quality(defect(GOOD), LAB_FUNCTIONS))
    assert broken[criterion] < fixed[criterion]
    assert {k: v for k, v in broken.items() if k != criterion} == \
        {k: v for k, v in fixed.items() if k != criterion}


def test_adding_docstrings_to_the_sloppy_solution_raises_only_the_docstring_criterion():
    documented = SLOPPY
    for name, params in re.findall(r"^def (\w+)\(([^)]*)\):", SLOPPY, flags=re.M):
        doc = f'    """Compute {name} from {params}.\n\n    Returns the result of {name}.\n    """\n'
        documented = documented.replace(f"def {name}({params}):\n", f"def {name}({params}):\n{doc}", 1)
    before = _points(estimate_quality(SLOPPY, LAB_FUNCTIONS))
    after = _points(estimate_quality(documented, LAB_FUNCTIONS))
    assert after[DOCSTRINGS] == 3.0 and before[DOCSTRINGS] == 0.0
    assert {k: v for k, v in after.items() if k != DOCSTRINGS} == \
        {k: v for k, v in before.items() if k != DOCSTRINGS}


def test_a_docstring_that_skips_arguments_and_return_earns_part_of_the_credit():
    vague = GOOD.replace(
        '    """Return the mean binary cross-entropy of predictions AL against labels Y."""',
        '    """Binary cross-entropy cost of this network."""')
    assert 'Binary cross-entropy cost' in vague
    evidence = _criterion(estimate_quality(vague, LAB_FUNCTIONS), DOCSTRINGS).evidence
    line = _line_of(vague, "def compute_cost(")
    assert f"line {line}: the docstring of `compute_cost` does not say what `AL`, `Y` are" in evidence
    assert f"line {line}: the docstring of `compute_cost` does not say what it returns" in evidence


def test_a_missing_required_function_earns_no_docstring_credit():
    source = GOOD.replace("def train(", "def fit(").replace("trained = train(", "trained = fit(")
    estimate = estimate_quality(source, LAB_FUNCTIONS)
    assert "`train` is not defined, so it earns no docstring credit" in _criterion(estimate, DOCSTRINGS).evidence
    assert "`train` is not defined as a separate top-level function" in _criterion(estimate, MODULARITY).evidence
    assert _criterion(estimate, DOCSTRINGS).points < 3


def test_an_unimplemented_starter_function_earns_no_docstring_credit():
    stub = re.sub(r'(def train\(.*?\n    """[\s\S]*?"""\n)[\s\S]*?(?=\n\ndef )',
                  r"\1    # YOUR CODE HERE\n    raise NotImplementedError\n", GOOD)
    assert "raise NotImplementedError" in stub
    estimate = estimate_quality(stub, LAB_FUNCTIONS)
    line = _line_of(stub, "def train(")
    assert f"line {line}: `train` is not implemented yet, so it earns no docstring credit" in \
        _criterion(estimate, DOCSTRINGS).evidence
    assert f"line {line}: `train` is not implemented yet" in _criterion(estimate, MODULARITY).evidence


def test_a_broken_file_whose_docstring_has_unindented_lines_keeps_its_docstring_whole():
    source = '"""Lab.\n\nUnindented prose: X is (n_x, m).\nY is (1, m).\nW1 is (n_1, n_x).\nb1 is (n_1, 1).\nMore prose.\n"""\n\nimport numpy as np\n\n\n' + \
        GOOD.split('import numpy as np\n', 1)[1].replace("def compute_cost(AL, Y):", "def compute_cost(AL, Y)")
    notes = [e for e in _criterion(estimate_quality(source, LAB_FUNCTIONS), DOCSTRINGS).evidence
             if e.startswith("could not parse")]
    line = _line_of(source, "def compute_cost(AL, Y)")
    assert len(notes) == 1 and notes[0].startswith(f"could not parse lines {line}-")


def test_aliases_count_as_the_required_function():
    source = GOOD.replace("L_layer_forward", "L_model_forward")
    assert estimate_quality(source, LAB_FUNCTIONS).points == estimate_quality(GOOD, LAB_FUNCTIONS).points


# ---------------------------------------------------------------- comments

BODY = '''\
def linear_backward(dZ, cache):
    """Backpropagate through a linear layer.

    Args: dZ, the gradient of Z; cache, (A_prev, W, b) from the forward pass.
    Returns (dA_prev, dW, db).
    """
    A_prev, W, b = cache
{c1}
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
{c2}
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = W.T @ dZ
    dA_prev = dA_prev.astype(dZ.dtype)
    dW = dW.astype(dZ.dtype)
    db = db.astype(dZ.dtype)
    return dA_prev, dW, db
'''


def _comments_points(c1: str, c2: str) -> tuple[float, list[str]]:
    """Comments points and evidence of BODY with lines `c1` and `c2` filled in."""
    source = "import numpy as np\n\n\n" + BODY.format(c1=c1, c2=c2)
    criterion = _criterion(estimate_quality(source, ["linear_backward"]), COMMENTS)
    return criterion.points, criterion.evidence


def test_commented_out_code_does_not_count_as_comments():
    prose, _ = _comments_points("    # shape: (n_l, m); the cache holds what forward saw.",
                                "    # Note: db sums over samples (axis=1), not features.")
    nothing, _ = _comments_points("", "")
    code, evidence = _comments_points("    # m = A_prev.shape[0]", "    # db = np.sum(dZ, axis=0, keepdims=True)")
    assert prose == 2.5
    assert code <= nothing < prose
    assert any("is commented-out code, not a comment" in e for e in evidence)
    assert any(e.startswith("line 11: `# m = A_prev.shape[0]`") for e in evidence), evidence


def test_commented_out_blocks_are_reported_once_with_their_line_range():
    block = "    # for l in range(L):\n    #     dW = dZ @ A.T\n    #     print(dW)"
    _, evidence = _comments_points(block, "")
    assert any(e.startswith("lines 11-13: `# for l in range(L):` is commented-out code") for e in evidence), evidence


# ------------------------------------------------------------------- names

def test_names_evidence_points_at_unused_shadowing_and_cryptic_names():
    source = textwrap.dedent("""\
        import numpy as np


        def compute_cost(AL, Y, np=None):
            \"\"\"Return the cost of predictions AL against labels Y; `np` is ignored.\"\"\"
            grads = {}
            q = Y.shape[1]
            list = [AL, Y]
            return float(-(list[1] * AL).sum() / q)
        """)
    evidence = _criterion(estimate_quality(source, ["compute_cost"]), NAMES).evidence
    assert "line 6: `grads` is assigned but never used" in evidence
    assert "line 4: parameter `np` shadows the module imported on line 1" in evidence
    assert "line 8: `list` shadows the built-in `list`" in evidence
    assert "line 7: single-letter name `q` does not say what it holds" in evidence


def test_the_chapters_math_names_are_not_cryptic():
    evidence = _criterion(estimate_quality(GOOD, LAB_FUNCTIONS), NAMES).evidence
    assert not any("single-letter" in e for e in evidence)


def test_copy_pasted_steps_are_reported_even_with_renamed_variables():
    source = textwrap.dedent("""\
        import numpy as np


        def layer_two_gradients(dZ2, A1, m):
            \"\"\"Return dW2 and db2 from dZ2 and the cached A1 over m samples.\"\"\"
            dW2 = (1 / m) * dZ2 @ A1.T
            db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
            dW2 = np.clip(dW2, -5.0, 5.0)
            return dW2, db2


        def layer_one_gradients(dZ1, X, m):
            \"\"\"Return dW1 and db1 from dZ1 and the input X over m samples.\"\"\"
            dW1 = (1 / m) * dZ1 @ X.T
            db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
            dW1 = np.clip(dW1, -1.0, 1.0)
            return dW1, db1
        """)
    estimate = estimate_quality(source, ["layer_two_gradients", "layer_one_gradients"])
    assert ("lines 6-9 (`layer_two_gradients`) and lines 14-17 (`layer_one_gradients`) repeat the same "
            "steps: move them into one helper") in _criterion(estimate, MODULARITY).evidence


def test_an_unused_helper_is_reported():
    source = GOOD.replace("def relu(Z):", "def leaky(Z):\n    \"\"\"Return Z.\"\"\"\n    return Z\n\n\ndef relu(Z):")
    line = _line_of(source, "def leaky(")
    evidence = _criterion(estimate_quality(source, LAB_FUNCTIONS), MODULARITY).evidence
    assert f"line {line}: helper `leaky` is never used: remove it or call it" in evidence


# --------------------------------------------------------------- top level

def test_definitions_imports_constants_and_the_main_guard_are_not_side_effects():
    source = textwrap.dedent("""\
        \"\"\"Constants only.\"\"\"
        import numpy as np

        LEARNING_RATE = 0.01
        LAYERS = (2, 5, 3, 1)
        EYE = np.array([[1.0, 0.0], [0.0, 1.0]])
        ACTIVATE = lambda z: np.maximum(0, z)


        def train(X, Y):
            \"\"\"Return trained params for inputs X and labels Y.\"\"\"
            return {"W1": X @ Y.T}


        if __name__ == "__main__":
            print(train(EYE, EYE))
        """)
    criterion = _criterion(estimate_quality(source, ["train"]), TOP_LEVEL)
    assert criterion.points == criterion.max_points and criterion.evidence == []


# ------------------------------------------------------- broken and hostile

def test_an_unparsable_file_gets_zero_and_names_the_syntax_error():
    source = "import numpy as np\n\ndef train(X, Y)\n    return X\n"
    estimate = estimate_quality(source, LAB_FUNCTIONS)
    assert estimate.points == 0
    assert all(c.points == 0 for c in estimate.criteria)
    assert estimate.criteria[0].evidence[0].startswith("could not parse the file: SyntaxError: ")
    assert estimate.criteria[0].evidence[0].endswith("(line 3)")


def test_a_partly_broken_file_is_estimated_from_the_parts_that_parse():
    broken = GOOD.replace("def compute_cost(AL, Y):", "def compute_cost(AL, Y)")
    first = _line_of(broken, "def compute_cost(AL, Y)")
    estimate = estimate_quality(broken, LAB_FUNCTIONS)
    assert estimate.points >= 7
    assert any(e.startswith(f"could not parse lines {first}-") and f"(line {first})" in e
               for e in _criterion(estimate, DOCSTRINGS).evidence)
    assert "`compute_cost` could not be parsed, so it earns no docstring credit" in \
        _criterion(estimate, DOCSTRINGS).evidence


HOSTILE = {
    "empty": "",
    "only comments": "# nothing here\n",
    "null byte": "def f():\n    return 1\x00\n",
    "bom and crlf": "\ufeffdef train(X, Y):\r\n    \"\"\"Return X.\"\"\"\r\n    return X\r\n",
    "form feed and tabs": "def train(X, Y):\n\f\tz = X\n\treturn z\n",
    "deep indentation": "def f(x):\n" + "".join(" " * (i + 1) + "if x:\n" for i in range(98)) + " " * 99 + "pass\n",
    "too deep indentation": "def f(x):\n" + "".join(" " * (i + 1) + "if x:\n" for i in range(150)) + " " * 151 + "pass\n",
    "deep parentheses": "def f(x):\n    return " + "(" * 1000 + "x" + ")" * 1000 + "\n",
    "deep expression": "def f(x):\n    return " + "+".join(["x"] * 5000) + "\n",
    "deep unary": "def f(x):\n    return " + "-" * 50000 + "x\n",
    "unterminated string": 'def f(x):\n    """never closed\n    return x\n',
    "bytes-like garbage": "".join(chr(i) for i in range(1, 300)),
    "tokenizer edge": "def f(x):\n    return x \\\n",
    "huge identifier": "def " + "a" * 100000 + "(x):\n    return x\n",
    "walrus and match": textwrap.dedent("""\
        def f(x):
            \"\"\"Return x's kind.\"\"\"
            if (n := len(x)) > 1:
                pass
            match x:
                case [first, *rest] if first:
                    return rest
                case _:
                    return n
        """),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sources_never_crash(name):
    estimate = estimate_quality(HOSTILE[name], ["f", "train"])
    assert 0 <= estimate.points <= estimate.max_points
    assert all(isinstance(e, str) and len(e) < 400 for c in estimate.criteria for e in c.evidence)


def test_a_10000_line_file_is_estimated():
    # How long it takes is measured by benchmarks/parse_bench.py, not asserted here.
    source = (GOOD + "\n") * (10000 // GOOD.count("\n") + 1)
    estimate = estimate_quality(source, LAB_FUNCTIONS)
    assert estimate.points > 0


def test_a_pathologically_dense_file_is_cut_and_says_so():
    source = "def f(x):\n" + "    x = x @ x.T + np.sum(x, axis=1) * 2 - x.mean()\n" * 20000
    estimate = estimate_quality(source, ["f"])
    assert any(e.startswith("the file is too long to analyse in full: only lines 1-")
               for e in _criterion(estimate, DOCSTRINGS).evidence)


# ------------------------------------------------------------------ output

@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_endings_do_not_change_the_estimate(newline):
    for source in (GOOD, SLOPPY):
        assert estimate_quality(source.replace("\n", newline), LAB_FUNCTIONS) == \
            estimate_quality(source, LAB_FUNCTIONS)


def test_the_estimate_does_not_depend_on_the_process_that_computes_it():
    # A replayed run (`grader grade --seed N`) or a regrade in another pool
    # process has another hash seed: evidence must not follow set order, e.g.
    # for the four unused names on one line.
    source = _add_unused_and_shadowing_names(SLOPPY).replace(
        "    m = Y.shape[1]\n", "    m = Y.shape[1]\n    first = second = third = fourth = m\n")
    script = ("import sys\nfrom grader.scoring.quality import estimate_quality\n"
              "print(repr(estimate_quality(sys.stdin.read(), sys.argv[1:])))")
    outputs = {subprocess.run([sys.executable, "-c", script, *LAB_FUNCTIONS], input=source, text=True,
                              capture_output=True, check=True, cwd=Path(__file__).parents[1],
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
               for seed in ("1", "2")}
    assert outputs == {repr(estimate_quality(source, LAB_FUNCTIONS))}


def test_points_are_rounded_to_halves_and_scale_with_max_points():
    for source in (GOOD, SLOPPY, _strip_comments(GOOD)):
        estimate = estimate_quality(source, LAB_FUNCTIONS, max_points=20)
        assert estimate.max_points == 20
        assert sum(c.max_points for c in estimate.criteria) == pytest.approx(20)
        assert all((c.points * 2).is_integer() for c in estimate.criteria)
        assert estimate.points == sum(c.points for c in estimate.criteria)
        assert estimate.fraction == pytest.approx(estimate.points / 20)
    assert estimate_quality(GOOD, LAB_FUNCTIONS, max_points=0).fraction == 0.0
    with pytest.raises(ValueError):
        estimate_quality(GOOD, LAB_FUNCTIONS, max_points=-1)


def test_evidence_is_capped_so_a_report_stays_readable():
    source = "".join(f"def helper_{i}(value):\n    return value\n\n" for i in range(100))
    for criterion in estimate_quality(source, []).criteria:
        assert len(criterion.evidence) <= 12
    docstrings = _criterion(estimate_quality(source, []), DOCSTRINGS).evidence
    assert docstrings[-1] == "... and 89 more like these"


def test_an_untouched_starter_earns_nothing_and_partial_work_earns_its_share():
    starter = '''
def linear_forward(A_prev, W, b):
    """Compute Z = W A_prev + b.

    Arguments: A_prev (n_prev, m), W (n, n_prev), b (n, 1). Returns: (Z, cache).
    """
    # Hint: use the @ operator.
    raise NotImplementedError


def linear_backward(dZ, cache):
    """Return (dA_prev, dW, db) for one linear layer given dZ and the cache."""
    raise NotImplementedError
'''
    required = ["linear_forward", "linear_backward"]
    assert estimate_quality(starter, required).points == 0.0
    half_done = starter.replace('''    # Hint: use the @ operator.
    raise NotImplementedError''', '''    # One matrix product per layer; b broadcasts over the m columns.
    Z = W @ A_prev + b
    return Z, (A_prev, W, b)''')
    estimate = estimate_quality(half_done, required)
    assert 0.0 < estimate.points <= 5.0
    assert "1 of 2 required functions are implemented" in estimate.criteria[0].evidence[0]


def test_a_notebooks_demo_cells_are_not_held_against_it():
    source = '''
def double(values):
    """Return every value times two.

    Arguments: values, a list of numbers. Returns: a new list.
    """
    return [2 * v for v in values]


print(double([1, 2]))
'''
    as_file = {c.name: c.points for c in estimate_quality(source, ["double"]).criteria}
    as_notebook = {c.name: c.points for c in estimate_quality(source, ["double"], notebook=True).criteria}
    assert as_file["Top-level code"] < as_notebook["Top-level code"] == 1.0
    assert {k: v for k, v in as_file.items() if k != "Top-level code"} == \
           {k: v for k, v in as_notebook.items() if k != "Top-level code"}


# ------------------------------------------------------------------ stubs

LAB_VERDICTS = Path(__file__).resolve().parent / "fixtures" / "lab" / "verdicts"


def _with_body(source: str, name: str, body: str) -> str:
    """`source` with the body of top-level function `name`, past its docstring, replaced by `body`."""
    pattern = rf'(def {name}\(.*?\n    """[\s\S]*?"""\n)[\s\S]*?(?=\n\n(?:def |if |\Z))'
    replaced, count = re.subn(pattern, lambda m: m.group(1) + body, source, count=1)
    assert count == 1, name
    return replaced


def _without_function(source: str, name: str) -> str:
    """`source` with top-level function `name` deleted."""
    replaced, count = re.subn(rf"\ndef {name}\([\s\S]*?(?=\n\n\n|\Z)", "", source, count=1)
    assert count == 1, name
    return replaced


@pytest.mark.parametrize("name", ["bug_stubs_return_zero", "bug_stubs_mixed"])
def test_a_file_of_documented_stubs_earns_no_quality_points(name):
    """Issue 10 §3: every function keeps its docstring over a body that does nothing (`return 0`, `pass`,
    `raise NotImplementedError`, `# TODO` + `return None`): nothing the student wrote, so 0 on every criterion."""
    estimate = estimate_quality((LAB_VERDICTS / f"{name}.py").read_text(encoding="utf-8"), LAB_FUNCTIONS)
    assert estimate.points == 0.0
    assert all(criterion.points == 0.0 for criterion in estimate.criteria)
    assert "0 of 8 required functions are implemented" in estimate.criteria[0].evidence[0]


# Stubs of every form beside real code: a helper and two required functions, and idle helpers whose
# flaws (no docstring, a one-letter name, a shadowed built-in, commented-out code, never called) are in
# bodies that do nothing.
STUB_HELPERS = '''

def q(list):
    # x = np.zeros(3)
    return None, [], -1


def helper_without_docstring(A):
    """"""
    ...
'''
MIXED_STUBS = {"relu": "    return 0\n", "train": "    # TODO\n    raise NotImplementedError('later')\n",
               "gradient_check": "    pass\n    return 0.0\n"}


def test_stub_functions_are_excluded_from_every_criterion_in_a_mixed_file():
    mixed = GOOD + STUB_HELPERS
    for name, body in MIXED_STUBS.items():
        mixed = _with_body(mixed, name, body)
    without = GOOD
    for name in MIXED_STUBS:
        without = _without_function(without, name)
    with_stubs, without_stubs = estimate_quality(mixed, LAB_FUNCTIONS), estimate_quality(without, LAB_FUNCTIONS)
    # Every criterion scores the rest of the file exactly as if the stubs were not there.
    assert _points(with_stubs) == _points(without_stubs)
    assert 0 < with_stubs.points < 10
    assert "6 of 8 required functions are implemented" in with_stubs.criteria[0].evidence[0]
    notes = [e for e in with_stubs.criteria[0].evidence if "do nothing yet" in e]
    assert notes == ["`relu`, `q`, `helper_without_docstring` do nothing yet (a stub body), so no criterion "
                     "judges them"]
    evidence = [e for c in with_stubs.criteria for e in c.evidence if e not in notes]
    for name in ("relu", "`q`", "helper_without_docstring", "x = np.zeros", "shadows"):
        assert not any(name in e for e in evidence), name
    for name in ("train", "gradient_check"):
        assert any(f"`{name}` is not implemented yet" in e for e in evidence)


@pytest.mark.parametrize("source", [
    GOOD,
    "\ufeff" + GOOD,                                      # a byte-order mark: the estimate reads without it
    GOOD.replace("def relu(Z):", "def relu(Z)", 1),       # a piece that does not parse
    GOOD.replace("\n", "\r\n"),                           # Windows line ends
    "x = 1\n" * 120_000,                                  # over the token budget: only a prefix is read
], ids=["plain", "bom", "syntax-error", "crlf", "too-long"])
def test_the_parse_a_grading_shares_with_the_load_plan_gives_the_same_estimate(source):
    # A grading parses the file once for the load plan and hands the pieces to the estimate; they are used
    # only when they are of exactly the lines the estimate reads, so the estimate is the same either way.
    from grader.source.pyparse import parse_pieces
    shared = estimate_quality(source, LAB_FUNCTIONS, pieces=parse_pieces(source))
    alone = estimate_quality(source, LAB_FUNCTIONS)
    assert shared == alone
    assert shared.criteria and [c.points for c in shared.criteria] == [c.points for c in alone.criteria]

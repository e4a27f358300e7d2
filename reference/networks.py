"""What every assignment's checks of the chapter's networks share (trusted side).

Random parameters and data in the chapter's conventions (column-major, ReLU
hidden layers, one sigmoid output), the student's own L-layer passes run end
to end, gradients rolled into one vector, and the source of the planted bug
a student's gradient check must flag.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from grader.checking import CheckFailure, describe_args, kind_of

_WEIGHT_KEY = re.compile(r"W\d+")


def random_params(layer_dims: list[int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-initialised ``W1, b1, ..., WL, bL`` with small random biases.

    Non-zero biases make a missing bias visible and keep ReLU inputs off the
    kink at 0, where a two-sided difference would see half the slope.
    """
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * np.sqrt(2.0 / layer_dims[l - 1])
        params[f"b{l}"] = rng.standard_normal((layer_dims[l], 1)) * 0.1
    return params


def random_data(n_x: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X of shape (n_x, m) and 0/1 labels Y of shape (1, m) with both classes when m > 1.

    X has standard deviation 0.5: with unit variance a deep net's sigmoid
    output sometimes saturates to 1 - 1e-6, and rounding then reads ~1e-5
    in a gradient check of correct code.
    """
    X = 0.5 * rng.standard_normal((n_x, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    return X, Y


def num_layers(params: Any) -> int:
    """The depth L of a params dict: how many ``W<l>`` keys it holds (the one rule every check uses)."""
    return sum(1 for key in params if isinstance(key, str) and _WEIGHT_KEY.fullmatch(key))


def layer_dims(params: dict) -> list[int]:
    """The layer sizes ``[n_x, n_1, ..., n_L]`` of a params dict."""
    L = num_layers(params)
    return [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]


def rolled(grads: dict, params: dict) -> np.ndarray:
    """The gradients ``grads["d" + key]`` of every parameter, in `params` order, as one float vector."""
    return np.concatenate([np.asarray(grads["d" + k], dtype=float).ravel() for k in params])


def student_forward(student: Any, X: np.ndarray, params: dict) -> tuple[Any, Any, str]:
    """The student's ``L_layer_forward(X, params)``: (AL, caches, the call as messages show it)."""
    call = f"L_layer_forward({describe_args(X=X)}, params for {layer_dims(params)})"
    value = student.L_layer_forward(X, params)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise CheckFailure(f"{call} returned {kind_of(value)}; expected (AL, caches).",
                           hint="End L_layer_forward with `return AL, caches`.")
    return value[0], value[1], call


def student_grads(student: Any, X: np.ndarray, Y: np.ndarray, params: dict) -> tuple[dict, str]:
    """The student's gradients from their own forward caches and backward: (grads, the backward call)."""
    AL, caches, _ = student_forward(student, X, params)
    call = f"L_layer_backward(AL, Y, caches) for {layer_dims(params)}, m={X.shape[1]}"
    grads = student.L_layer_backward(AL, Y, caches)
    if not isinstance(grads, dict):
        raise CheckFailure(f"{call} returned {kind_of(grads)}; expected a dict with dW1, db1, ...",
                           hint="Collect the gradients in a dict: grads['dW' + str(l)] = dW.")
    return grads, call


# Trusted source run inside the worker for one call (see Sandbox.call's `patch`):
# the student's own backward with every dW and db scaled by FACTOR, a bug any
# gradient check must flag. Scaling all of them, not one, keeps the bug visible
# even when a layer's gradient happens to be zero (dead ReLUs on a small batch).
_PLANTED_BUG = """
def make(original):
    def backward_with_planted_bug(*args, **kwargs):
        grads = dict(original(*args, **kwargs))
        for key in list(grads):
            if str(key).startswith(("dW", "db")):
                grads[key] = grads[key] * FACTOR
        return grads
    return backward_with_planted_bug
"""


def planted_bug_source(factor: float) -> str:
    """Patch source wrapping the student's backward so that every gradient is `factor` times too large.

    The chapter's relative difference is then (factor - 1) / (factor + 1)
    whatever the network.
    """
    return _PLANTED_BUG.replace("FACTOR", repr(float(factor)))


def layer_case_ids(cases: list[tuple[int, int, int]]) -> list[str]:
    """pytest ids ``n_prev=3,n=4,m=5`` for (n_prev, n, m) cases of one layer."""
    return [f"n_prev={a},n={b},m={c}" for a, b, c in cases]


def network_case_ids(cases: list[tuple[list[int], int]]) -> list[str]:
    """pytest ids ``2-5-3-1,m=7`` for (layer_dims, m) cases of a network."""
    return [f"{'-'.join(map(str, dims))},m={m}" for dims, m in cases]

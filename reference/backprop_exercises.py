"""Reference solutions of Section C, "Debug This!" and the interview question.

C1 is `leaky_relu_backward`, C4 `check_shapes`, "Debug This!" the fixed
`backward` (next to the chapter's `buggy_backward`, which the handout prints
as is), the interview question `softmax_cross_entropy_backward` (with its
helper `softmax`). C2 and C3 reuse the lab's any-depth network and gradient
check, imported rather than copied so that there is one reference for them.
"""

from __future__ import annotations

import numpy as np

from reference.backprop_lab import L_layer_backward, L_layer_forward, gradient_check

__all__ = [
    "leaky_relu_backward", "check_shapes", "buggy_backward", "backward", "softmax",
    "softmax_cross_entropy_backward", "L_layer_forward", "L_layer_backward", "gradient_check",
]


def leaky_relu_backward(dA, Z, alpha=0.01):
    """C1: backward through a leaky ReLU: ``dZ = dA`` where ``Z > 0``, else ``alpha * dA``."""
    # The local derivative is 1 for z > 0 and alpha otherwise; multiply it into the upstream gradient.
    # BEGIN SOLUTION
    return np.where(Z > 0, dA, alpha * dA)
    # END SOLUTION


def check_shapes(params, grads):
    """C4: check that every gradient ``grads["d" + k]`` has ``params[k]``'s shape.

    Returns None when all match. Otherwise raises `AssertionError` whose
    message names the key and both shapes; a missing gradient raises
    `AssertionError` naming the missing key.
    """
    # For each parameter key k, look up grads["d" + k] and compare the shapes.
    # BEGIN SOLUTION
    # An explicit raise rather than an `assert` statement: `python -O` strips asserts.
    for key, value in params.items():
        grad_key = "d" + key
        expected = np.shape(value)
        if grad_key not in grads:
            raise AssertionError(f"missing gradient {grad_key!r} for parameter {key!r} of shape {expected}")
        got = np.shape(grads[grad_key])
        if got != expected:
            raise AssertionError(f"gradient {grad_key!r} has shape {got} but parameter {key!r} has shape {expected}")
    return None
    # END SOLUTION


def buggy_backward(X, Y, params, cache):
    """The chapter's "Debug This!" function, printed as is: it has three bugs."""
    m = X.shape[0]
    W1, W2 = params["W1"], params["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    Z1 = cache["Z1"]

    dZ2 = A2 - Y
    dW2 = (1 / m) * dZ2 @ A1
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = W2.T @ dZ2
    dZ1 = dA1 * (Z1 > 0)
    dW1 = (1 / m) * dZ1 @ X.T
    db1 = (1 / m) * np.sum(dZ1, axis=0, keepdims=True)

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def backward(X, Y, params, cache):
    """The fixed "Debug This!" backward pass of a 2-layer network.

    ReLU hidden layer, sigmoid output, cross-entropy cost; ``params`` has
    ``W1, b1, W2, b2`` and ``cache`` has ``A1, A2, Z1``. Returns
    ``{"dW1", "db1", "dW2", "db2"}``, each of its parameter's shape.
    """
    # BEGIN SOLUTION
    W2 = params["W2"]
    A1, A2, Z1 = cache["A1"], cache["A2"], cache["Z1"]
    # Bug 1 fixed: m is the number of samples, the columns of X.
    m = X.shape[1]

    dZ2 = A2 - Y
    # Bug 2 fixed: dW2 = dZ2 A1^T, (1, m) @ (m, n_h) -> W2's shape (1, n_h).
    dW2 = (1 / m) * dZ2 @ A1.T
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)

    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    dW1 = (1 / m) * dZ1 @ X.T
    # Bug 3 fixed: sum over the samples (axis 1), giving b1's shape (n_h, 1).
    db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    # END SOLUTION


def softmax(z):
    """Column-wise softmax of logits ``z`` of shape ``(C, m)``, stable for large logits."""
    # Subtracting each column's max leaves the softmax unchanged but keeps exp from overflowing.
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
    # END SOLUTION


def softmax_cross_entropy_backward(z, y_onehot):
    """Gradient of the mean softmax cross-entropy with respect to the logits: ``(softmax(z) - y) / m``."""
    # m is the number of samples, the columns of z.
    # BEGIN SOLUTION
    m = np.shape(z)[1]
    return (softmax(z) - y_onehot) / m
    # END SOLUTION

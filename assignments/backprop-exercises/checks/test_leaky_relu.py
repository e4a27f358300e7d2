"""C1: leaky_relu_backward(dA, Z, alpha=0.01) returns dA where Z > 0 and alpha * dA elsewhere.

Z always holds positive, negative and exactly-zero entries: the chapter takes
the derivative at 0 as alpha (``z > 0`` is false there). dA is random, so a
function that ignores it cannot pass. A wrong answer is matched against the
usual mistakes to give a precise hint.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import describe_args, expect_array, expect_unchanged

# (n, m): a square block, a single sample, a single unit, a wide batch.
SHAPES = [(4, 6), (3, 1), (1, 5), (7, 9)]


def _inputs(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """dA, and Z with both signs, at least one exact zero and, from five entries on, values well beyond +-3."""
    dA = rng.standard_normal(shape)
    Z = rng.standard_normal(shape) * rng.uniform(1.0, 3.0)
    flat = Z.reshape(-1)
    # Place a positive, a negative and a zero entry whatever the shape's size, then a large value of each
    # sign: a derivative clipped at some magnitude (Z < 3) must show on every draw.
    flat[0] = abs(flat[0]) + 0.1
    if flat.size > 1:
        flat[1] = -abs(flat[1]) - 0.1
    if flat.size > 2:
        flat[2] = 0.0
    if flat.size > 4:
        flat[3], flat[4] = rng.uniform(4.0, 8.0), -rng.uniform(4.0, 8.0)
    return dA, Z


def _hint(got, dA: np.ndarray, Z: np.ndarray, alpha: float, alpha_passed: bool) -> str | None:
    """A hint naming the mistake when `got` matches a known wrong formula."""
    if not isinstance(got, np.ndarray) or got.shape != Z.shape:
        return None
    candidates = [
        (dA * (Z > 0), "This is ReLU's derivative: where Z <= 0 the gradient is alpha * dA, not 0."),
        (np.where(Z >= 0, dA, alpha * dA), "At Z == 0 the chapter takes the derivative as alpha "
                                           "(use Z > 0, not Z >= 0)."),
        (np.where(Z > 0, 1.0, alpha), "You return the local derivative only; multiply it by the upstream "
                                      "gradient dA."),
        (np.where(Z > 0, dA, alpha), "Where Z <= 0 the gradient is alpha * dA: multiply alpha by dA too."),
        (np.where(Z > 0, Z, alpha * Z), "This is the forward leaky ReLU of Z; the backward pass returns "
                                        "dA times its derivative."),
        (np.where(Z > 0, alpha * dA, dA), "The two cases are swapped: dA where Z > 0, alpha * dA elsewhere."),
    ]
    for wrong, hint in candidates:
        if np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            return hint
    positive = Z > 0
    if np.any(~positive) and np.allclose(got[positive], dA[positive]) and np.all(dA[~positive] != 0):
        ratio = got[~positive] / dA[~positive]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6):
            used = float(ratio.flat[0])
            if alpha_passed:
                return (f"Where Z <= 0 you multiply dA by {used:g}, but alpha={alpha:g} was passed: use the "
                        f"alpha argument instead of a fixed slope.")
            return (f"Where Z <= 0 you multiply dA by {used:g}; the default alpha is 0.01 "
                    f"(def leaky_relu_backward(dA, Z, alpha=0.01)).")
    return None


@pytest.mark.public
def test_leaky_relu_default_alpha(student, ref, rng):
    """leaky_relu_backward(dA, Z) uses alpha = 0.01 where Z <= 0 (Z has both signs and exact zeros)"""
    dA, Z = _inputs(rng, (4, 6))
    call = f"leaky_relu_backward({describe_args(dA=dA, Z=Z)})"
    got = student.leaky_relu_backward(dA, Z)
    expected = ref.leaky_relu_backward(dA, Z)
    expect_array(got, expected, name="dZ", call=call, hint=_hint(got, dA, Z, 0.01, False))


def test_leaky_relu_alpha_positional(student, ref, rng):
    """leaky_relu_backward(dA, Z, 0.2) uses the alpha passed as the third argument"""
    dA, Z = _inputs(rng, (5, 3))
    call = f"leaky_relu_backward({describe_args(dA=dA, Z=Z)}, 0.2)"
    got = student.leaky_relu_backward(dA, Z, 0.2)
    expected = ref.leaky_relu_backward(dA, Z, 0.2)
    expect_array(got, expected, name="dZ", call=call, hint=_hint(got, dA, Z, 0.2, True))


def test_leaky_relu_alpha_keyword(student, ref, rng):
    """leaky_relu_backward(dA, Z, alpha=0.3) accepts alpha by keyword"""
    dA, Z = _inputs(rng, (3, 4))
    call = f"leaky_relu_backward({describe_args(dA=dA, Z=Z)}, alpha=0.3)"
    got = student.leaky_relu_backward(dA, Z, alpha=0.3)
    expected = ref.leaky_relu_backward(dA, Z, alpha=0.3)
    expect_array(got, expected, name="dZ", call=call, hint=_hint(got, dA, Z, 0.3, True))


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{n}x{m}" for n, m in SHAPES])
def test_leaky_relu_preserves_shape(student, ref, rng, shape):
    """leaky_relu_backward returns dZ with the shape of Z, for any shape"""
    dA, Z = _inputs(rng, shape)
    call = f"leaky_relu_backward({describe_args(dA=dA, Z=Z)})"
    got = student.leaky_relu_backward(dA, Z)
    expected = ref.leaky_relu_backward(dA, Z)
    expect_array(got, expected, name="dZ", call=call, hint=_hint(got, dA, Z, 0.01, False))


def test_leaky_relu_leaves_inputs_unchanged(student, rng):
    """leaky_relu_backward does not modify dA or Z"""
    dA, Z = _inputs(rng, (4, 5))
    expect_unchanged(student, "leaky_relu_backward", dA=dA, Z=Z,
                     hint="Build a new array (np.where(Z > 0, dA, alpha * dA)) instead of writing into dA or Z: "
                          "the caller still needs them.")

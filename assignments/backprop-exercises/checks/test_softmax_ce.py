"""Interview question: a stable column-wise softmax, and dz = (softmax(z) - y_onehot) / m.

Logits have shape (C, m) with C != m, so normalising or averaging over the
wrong axis cannot pass; large logits (near +1000 and -1000) overflow a
softmax that does not subtract each column's maximum.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import describe_args, expect_array, record
from reference.stand_in import stand_in_patch

STABLE_HINT = ("exp(1000) overflows to inf, and after subtracting one max for the whole matrix the columns near "
               "-1000 underflow to 0 (0 / 0): subtract each column's own max first, "
               "e = np.exp(z - np.max(z, axis=0, keepdims=True)); the softmax is unchanged.")
# The stability check of softmax: when it fails, the backward pass is judged with the grader's softmax in place
# of the student's for large logits (the instability is charged once, there).
STABILITY_CHECK = "test_softmax_ce.py::test_softmax_is_stable_for_large_logits"


def _logits(rng: np.random.Generator, C: int, m: int, large: bool) -> np.ndarray:
    """(C, m) logits; `large` puts columns near +1000 and near -1000."""
    z = rng.standard_normal((C, m)) * 2.0
    if large:
        z[:, ::2] += 1000.0
        z[:, 1::2] -= 1000.0
    return z


def _one_hot(rng: np.random.Generator, C: int, m: int) -> np.ndarray:
    y = np.zeros((C, m))
    y[rng.integers(0, C, size=m), np.arange(m)] = 1.0
    return y


def _softmax_hint(got, z: np.ndarray) -> str | None:
    """A hint when `got` is a softmax over the wrong axis or of the whole matrix."""
    if not isinstance(got, np.ndarray) or got.shape != z.shape or not np.all(np.isfinite(got)):
        return None
    shifted = np.exp(z - z.max())
    if np.allclose(got, shifted / shifted.sum(axis=1, keepdims=True)):
        return "Each row sums to 1: the softmax is column-wise, normalise over axis=0 (the C classes of a sample)."
    if np.allclose(got, shifted / shifted.sum()):
        return "The whole matrix sums to 1: normalise each column (axis=0, keepdims=True) on its own."
    return None


def _backward_hint(got, z: np.ndarray, y: np.ndarray, ref) -> str | None:
    """A hint when `got` matches a usual mistake in dz."""
    if not isinstance(got, np.ndarray) or got.shape != z.shape or not np.all(np.isfinite(got)):
        return None
    C, m = z.shape
    p = ref.softmax(z)
    candidates = [
        (p - y, "Divide by m, the number of samples (the cost is a mean over the columns)."),
        ((p - y) / C, "m is the number of samples, the columns of z: m = z.shape[1] (you divided by z.shape[0])."),
        ((y - p) / m, "The sign is flipped: dz = (softmax(z) - y_onehot) / m."),
        (p / m, "Subtract the one-hot labels: dz = (softmax(z) - y_onehot) / m."),
    ]
    for wrong, hint in candidates:
        if np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            return hint
    return None


@pytest.mark.public
def test_softmax_is_column_wise(student, ref, rng):
    """softmax(z) normalises each column of (C, m) logits (C != m) and matches the reference"""
    z = _logits(rng, 4, 6, large=False)
    call = f"softmax({describe_args(z=z)})"
    got = student.softmax(z)
    expect_array(got, ref.softmax(z), name="the softmax", call=call, hint=_softmax_hint(got, z))


def test_softmax_is_stable_for_large_logits(student, ref, rng):
    """softmax(z) stays finite and sums to 1 per column for logits near 1000 and -1000"""
    z = _logits(rng, 3, 6, large=True)
    call = f"softmax({describe_args(z=z)}) with logits near +1000 and -1000"
    got = student.softmax(z)
    expect_array(got, ref.softmax(z), name="the softmax", call=call,
                 hint=_softmax_hint(got, z) or STABLE_HINT)


@pytest.mark.public
def test_softmax_cross_entropy_backward(student, ref, rng):
    """softmax_cross_entropy_backward(z, y_onehot) returns (softmax(z) - y_onehot) / m, with m != C"""
    C, m = 3, 5
    z, y = _logits(rng, C, m, large=False), _one_hot(rng, C, m)
    call = f"softmax_cross_entropy_backward({describe_args(z=z, y_onehot=y)})"
    got = student.softmax_cross_entropy_backward(z, y)
    expect_array(got, ref.softmax_cross_entropy_backward(z, y), name="dz", call=call,
                 hint=_backward_hint(got, z, y, ref))


def test_softmax_cross_entropy_backward_large_logits(student, ref, rng, earlier, request):
    """softmax_cross_entropy_backward stays finite and right for logits near 1000 and -1000"""
    C, m = 4, 7
    z, y = _logits(rng, C, m, large=True), _one_hot(rng, C, m)
    call = f"softmax_cross_entropy_backward({describe_args(z=z, y_onehot=y)}) with logits near +1000 and -1000"
    # A backward pass built on the student's own softmax inherits its instability, which the softmax's own
    # check charges: then the grader's stable softmax stands in for theirs in this call.
    patch = stand_in_patch(student, ref, ("softmax",), functions=("softmax",)) \
        if earlier.failed(STABILITY_CHECK) else None
    if patch:
        record(request, with_grader_softmax=True)
    got = student.run("softmax_cross_entropy_backward", z, y, patch=patch).value
    expect_array(got, ref.softmax_cross_entropy_backward(z, y), name="dz", call=call,
                 hint=_backward_hint(got, z, y, ref) or STABLE_HINT)

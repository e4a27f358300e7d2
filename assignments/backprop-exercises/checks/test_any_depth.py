"""C3: L_layer_forward and L_layer_backward work for any layer_dims, against the lab's reference.

Two fixed architectures from the exercise ([3, 1] and [7, 6, 5, 4, 3, 1]), a
wide one with many examples, and one random architecture per depth 1..6
whose widths (1-9) and batch size are drawn per run, so code written for
particular sizes cannot pass. Forward and backward are judged apart, each
bug where it lives: the backward pass gets caches the grader builds from
correct values in the student's own layout (learnt from their forward pass,
or the chapter's ((A_prev, W, b), Z) when it does not run; reference/caches.py).
"""

from __future__ import annotations

import pytest

from grader.checking import CheckFailure, StudentCodeError, expect_array, expect_entries, kind_of, record
from reference.caches import backward_on_correct_caches

FIXED = [([3, 1], 5), ([7, 6, 5, 4, 3, 1], 8), ([12, 32, 33, 1], 64)]
FIXED_IDS = ["3-1", "7-6-5-4-3-1", "12-32-33-1,m=64"]


def _random_architecture(rng, assignment, request, depth: int) -> tuple[list[int], int]:
    max_width = int(assignment.setting("max_random_width"))
    # The input width and depth - 1 hidden widths, then the one sigmoid output unit.
    dims = [int(w) for w in rng.integers(1, max_width + 1, size=depth)] + [1]
    m = int(rng.integers(2, 10))
    record(request, layer_dims=dims, m=m)
    return dims, m


def _check_forward(student, ex, rng, dims: list[int], m: int) -> None:
    """The student's AL against the reference's."""
    params, X, _ = ex.network(dims, m, rng, backward_bugs=False)
    try:
        AL, _caches, call = ex.forward(student, X, params)
    except StudentCodeError as error:
        raise StudentCodeError(error.message, hint=_depth_hint(error.message, len(dims) - 1), details=error.details)
    expected_AL, _ = ex.lab.L_layer_forward(X, params)
    expect_array(AL, expected_AL, name="AL", call=call,
                 hint="Loop over l = 1 .. L with L read from params (L = len(params) // 2): ReLU for the hidden "
                      "layers, sigmoid for the last; add each layer's bias.")


def _check_backward(student, ex, layouts, rng, request, dims: list[int], m: int) -> None:
    """Every layer's gradients of the student's backward pass, on correct caches in their layout."""
    params, X, Y = ex.network(dims, m, rng)
    try:
        judged, AL = backward_on_correct_caches(student, layouts, X, Y, params)
    except StudentCodeError as error:
        raise StudentCodeError(error.message, hint=_depth_hint(error.message, len(dims) - 1), details=error.details)
    record(request, caches=judged.caches)
    grads, backward_call = judged.value, judged.call
    if not isinstance(grads, dict):
        raise CheckFailure(f"{backward_call} returned {kind_of(grads)}; expected a dict with dW1, db1, ...")
    _, ref_caches = ex.lab.L_layer_forward(X, params)
    expected = ex.lab.L_layer_backward(AL, Y, ref_caches)
    keys = [f"{p}{l}" for l in range(1, len(dims)) for p in ("dW", "db")]
    missing = [k for k in keys if k not in grads]
    if missing:
        raise CheckFailure(f"{backward_call} returned no {', '.join(missing)} (keys: {sorted(map(str, grads))}).",
                           hint="Loop over every layer from l = L down to 1 and store grads['dW' + str(l)] and "
                                "grads['db' + str(l)]; read L from the caches (L = len(caches)).")
    expect_entries(grads, expected, keys, call=backward_call, lead=f"Wrong gradients for {dims}:",
                   hint="The last layer starts from dZ = AL - Y; every layer below multiplies "
                        "W[l+1].T @ dZ[l+1] by relu'(Z[l]) from its own cache.")


def _depth_hint(message: str, depth: int) -> str:
    """A hint for an exception raised inside the student's pass on a network of `depth` layers."""
    if "KeyError" in message or "IndexError" in message:
        return (f"This network has {depth} layer(s): read the depth from params (L = len(params) // 2) or from "
                f"the caches instead of assuming a fixed number of layers.")
    return "Make sure the loops run over every layer, from the first to the last, whatever the depth."


@pytest.mark.public
@pytest.mark.parametrize("dims, m", FIXED, ids=FIXED_IDS)
def test_forward_fixed_architecture(student, ex, rng, dims, m):
    """L_layer_forward gives the reference AL on the exercise's networks"""
    _check_forward(student, ex, rng, dims, m)


@pytest.mark.public
@pytest.mark.parametrize("dims, m", FIXED, ids=FIXED_IDS)
def test_backward_fixed_architecture(student, ex, layouts, rng, request, dims, m):
    """L_layer_backward gives the reference gradients on the exercise's networks"""
    _check_backward(student, ex, layouts, rng, request, dims, m)


@pytest.mark.parametrize("depth", range(1, 7), ids=[f"depth={d}" for d in range(1, 7)])
def test_forward_random_architecture(student, ex, rng, assignment, request, depth):
    """L_layer_forward gives the reference AL on a random architecture"""
    _check_forward(student, ex, rng, *_random_architecture(rng, assignment, request, depth))


@pytest.mark.parametrize("depth", range(1, 7), ids=[f"depth={d}" for d in range(1, 7)])
def test_backward_random_architecture(student, ex, layouts, rng, assignment, request, depth):
    """L_layer_backward gives the reference gradients on a random architecture"""
    _check_backward(student, ex, layouts, rng, request, *_random_architecture(rng, assignment, request, depth))

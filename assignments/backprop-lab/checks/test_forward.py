"""Forward pass (20 points): values and shapes of linear_forward and L_layer_forward, proper caching.

Proper caching is judged on the caches themselves: they must hold A_prev, W,
b and Z of every layer, in any layout (reference/caches.py learns it), so a
backward bug cannot fail it. Only caches the grader cannot look into or lay
out again (e.g. objects it cannot copy) are judged through the student's own
backward pass, as before.
"""

from __future__ import annotations

import numbers

import numpy as np
import pytest

from grader.checking import (CheckFailure, StudentCodeError, describe_args, expect_array, expect_entries,
                             expect_unchanged, kind_of, record, safe_hint)
from reference import diagnose
from reference.caches import missing
from reference.networks import layer_case_ids, network_case_ids

# (n_prev, n, m): n_x != m everywhere, m = 1, a single input feature, a square W, a wide layer and many examples.
LINEAR_CASES = [(3, 4, 5), (5, 2, 1), (1, 3, 7), (6, 6, 2), (33, 32, 65)]
# (layer_dims, m): the chapter's network, a single layer, m = 1, deeper than the chapter's, wide with many examples.
NETWORKS = [([2, 5, 3, 1], 7), ([4, 1], 3), ([5, 4, 3, 1], 1), ([3, 6, 5, 4, 2, 1], 9), ([3, 32, 16, 1], 64)]


@pytest.mark.public
@pytest.mark.parametrize("n_prev, n, m", LINEAR_CASES, ids=layer_case_ids(LINEAR_CASES))
def test_linear_forward_values(student, ref, lab, rng, n_prev, n, m):
    """linear_forward returns Z = W A_prev + b with shape (n, m)"""
    A = rng.standard_normal((n_prev, m))
    W = rng.standard_normal((n, n_prev))
    b = rng.standard_normal((n, 1))
    call = f"linear_forward({describe_args(A_prev=A, W=W, b=b)})"
    Z, _cache = lab.unpack(student.linear_forward(A, W, b), 2, call, "(Z, cache)")
    expected, _ = ref.linear_forward(A, W, b)
    hint = None
    if isinstance(Z, np.ndarray) and Z.shape == expected.shape and np.allclose(Z, W @ A):
        hint = "Z is missing the bias: Z = W @ A_prev + b (b broadcasts over the m columns)."
    expect_array(Z, expected, name="Z", call=call, hint=lambda: hint or lab.array_hint("Z", Z, expected, m))


@pytest.mark.parametrize("n_prev, n, m", LINEAR_CASES[:1], ids=layer_case_ids(LINEAR_CASES[:1]))
def test_linear_forward_leaves_inputs_unchanged(student, rng, n_prev, n, m):
    """linear_forward does not modify A_prev, W or b"""
    expect_unchanged(student, "linear_forward", A_prev=rng.standard_normal((n_prev, m)),
                     W=rng.standard_normal((n, n_prev)), b=rng.standard_normal((n, 1)))

@pytest.mark.public
@pytest.mark.parametrize("dims, m", NETWORKS, ids=network_case_ids(NETWORKS))
def test_L_layer_forward_values(student, ref, lab, rng, dims, m):
    """L_layer_forward computes AL with ReLU hidden layers and a sigmoid output, for any depth"""
    params, X, _ = lab.network(dims, m, rng, backward_bugs=False)
    AL, _caches, call = lab.forward(student, X, params)
    expected, _ = ref.L_layer_forward(X, params)
    expect_array(AL, expected, name="AL", call=call,
                 hint=lambda: ((safe_hint(diagnose.diagnose_forward, AL, X, params) if isinstance(AL, np.ndarray) else None)
                               or lab.array_hint("AL", AL, expected, m)))


@pytest.mark.parametrize("dims, m", NETWORKS[:1], ids=network_case_ids(NETWORKS[:1]))
def test_L_layer_forward_leaves_inputs_unchanged(student, lab, rng, dims, m):
    """L_layer_forward does not modify X or params"""
    params, X, _ = lab.network(dims, m, rng, backward_bugs=False)
    expect_unchanged(student, "L_layer_forward", X=X, params=params)

def test_caches_hold_what_backward_needs(student, ref, lab, layouts, earlier, rng, request):
    """The caches from L_layer_forward hold what the backward pass needs: A_prev, W, b and Z of every layer"""
    layout = layouts.network
    if layout.source == "chapter":  # the forward pass did not run on the equal-widths network
        raise StudentCodeError(f"Your caches could not be checked: {layout.reason}.")
    if layout.source == "yours":
        record(request, layout="learnt from your L_layer_forward")
        problems = missing(layout)
        if problems:
            raise CheckFailure(f"Your L_layer_forward's caches lack what the backward pass needs: "
                               f"{'; '.join(problems)}.",
                               hint="Keep in each layer's cache its input A_prev, its W and b (the linear cache) "
                                    "and its pre-activation Z: the backward pass needs A_prev and W for dW and "
                                    "dA_prev, and Z for the activation's derivative.")
        return
    # Caches the grader cannot look into (or lay out again): judged through your own backward pass.
    record(request, layout=f"judged through your own L_layer_backward: {layout.reason}")
    params, X, Y = lab.network([2, 5, 3, 1], 6, rng)
    grads, call = lab.grads(student, X, Y, params)
    AL, caches = ref.L_layer_forward(X, params)
    expected = ref.L_layer_backward(AL, Y, caches)
    keys = sorted(k for k in expected if k.startswith(("dW", "db")))
    blame = lab.blame(earlier, "L_layer_backward", "linear_backward",
                      why="these caches could only be checked through it")
    missing_keys = [k for k in keys if k not in grads]
    if missing_keys:
        raise CheckFailure(f"{call} returned no {', '.join(missing_keys)}.",
                           hint=blame or "Caching is checked through your backward pass: it must return dW and db "
                                         "for every layer.")
    expect_entries(grads, expected, keys, call=call, lead="With your own caches, wrong gradients:",
                   hint=blame or "If your backward pass is right on its own, check what each cache holds: "
                                 "layer l needs A[l-1], W[l], b[l] and Z[l].")


@pytest.mark.public
@pytest.mark.parametrize("m", [1, 7], ids=["m=1", "m=7"])
def test_compute_cost_values(student, ref, lab, rng, m):
    """compute_cost returns the mean binary cross-entropy as one float"""
    AL = rng.uniform(0.05, 0.95, size=(1, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    call = f"compute_cost({describe_args(AL=AL, Y=Y)})"
    got = student.compute_cost(AL, Y)
    value = got.reshape(())[()] if isinstance(got, np.ndarray) and got.size == 1 else got
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise CheckFailure(f"{call} returned {kind_of(got)}; expected one float.",
                           hint=safe_hint(diagnose.diagnose_cost, got, AL, Y) or
                           "Average the per-example losses into one number (np.sum(...) / m, or float(...)).")
    expected = ref.compute_cost(AL, Y)
    if not np.isclose(float(value), expected, rtol=1e-6, atol=1e-9):
        raise CheckFailure(f"{call} returned {float(value):.6g}; expected {expected:.6g}.",
                           hint=safe_hint(diagnose.diagnose_cost, got, AL, Y))

"""Backward pass (30 points): linear_backward, and L_layer_backward's gradients for every layer."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import CheckFailure, describe_args, expect_array, expect_entries, expect_unchanged, safe_hint
from reference import diagnose
from reference.networks import layer_case_ids, network_case_ids

# (n_prev, n, m): non-square W and n_prev != m expose missing transposes; m = 1 and m > 1.
LINEAR_CASES = [(3, 4, 5), (4, 2, 1), (2, 3, 6)]
# The chapter's network, a single layer, five layers, and m = 1.
NETWORKS = [([2, 5, 3, 1], 10), ([3, 1], 4), ([6, 5, 4, 3, 2, 1], 8), ([2, 5, 3, 1], 1)]


@pytest.mark.public
@pytest.mark.parametrize("n_prev, n, m", LINEAR_CASES, ids=layer_case_ids(LINEAR_CASES))
def test_linear_backward_values(student, ref, lab, rng, n_prev, n, m):
    """linear_backward returns dA_prev = W.T dZ, dW = dZ A_prev.T / m, db = sum(dZ, axis=1) / m"""
    A = rng.standard_normal((n_prev, m))
    W = rng.standard_normal((n, n_prev))
    b = rng.standard_normal((n, 1))
    dZ = rng.standard_normal((n, m))
    forward_call = f"linear_forward({describe_args(A_prev=A, W=W, b=b)})"
    _, cache = lab.unpack(student.linear_forward(A, W, b), 2, forward_call, "(Z, cache)")
    call = f"linear_backward({describe_args(dZ=dZ)}, cache) with {describe_args(A_prev=A, W=W)}"
    got = lab.unpack(student.linear_backward(dZ, cache), 3, call, "(dA_prev, dW, db)")
    expected = ref.linear_backward(dZ, ((A, W, b)))
    for name, value, want in zip(("dA_prev", "dW", "db"), got, expected):
        expect_array(value, want, name=name, call=call,
                     hint=lambda: (safe_hint(diagnose.diagnose_linear_backward, got, dZ, A, W, b)
                                   or lab.array_hint(name, value, want, m)))


@pytest.mark.public
@pytest.mark.parametrize("dims, m", NETWORKS, ids=network_case_ids(NETWORKS))
def test_L_layer_backward_gradients(student, ref, lab, rng, dims, m):
    """L_layer_backward returns dW and db of the right shape and value for every layer"""
    params = lab.params(dims, rng)
    X, Y = lab.data(dims[0], m, rng)
    grads, call = lab.grads(student, X, Y, params)
    AL, caches = ref.L_layer_forward(X, params)
    expected = ref.L_layer_backward(AL, Y, caches)
    keys = sorted((k for k in expected if k.startswith(("dW", "db"))), key=lambda k: (int(k[2:]), k))
    missing = [k for k in keys if k not in grads]
    def hint():  # a diagnosis runs many reference variants: only once something is wrong
        return safe_hint(diagnose.diagnose_grads, grads, X, Y, params)

    if missing:
        raise CheckFailure(f"{call} returned gradients without {', '.join(missing)} "
                           f"(it returned keys {sorted(map(str, grads))}).",
                           hint=hint() or "Loop over every layer, l = L down to 1, and store grads['dW' + str(l)] "
                                        "and grads['db' + str(l)].")
    expect_entries(grads, expected, keys, call=call, lead="Wrong gradients:",
                   hint=lambda key, first: (hint() or first.hint
                                            or lab.array_hint(key, grads[key], expected[key], m)))


def test_L_layer_backward_leaves_inputs_unchanged(student, lab, rng):
    """L_layer_backward does not modify AL or Y"""
    params = lab.params([3, 4, 1], rng)
    X, Y = lab.data(3, 5, rng)
    AL, caches, _ = lab.forward(student, X, params)
    if not isinstance(AL, np.ndarray):
        raise CheckFailure("L_layer_forward did not return an array AL, so this could not be checked.")
    expect_unchanged(student, "L_layer_backward", AL=AL, Y=Y, caches=caches, unchecked=("caches",))

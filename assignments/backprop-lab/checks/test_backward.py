"""Backward pass (30 points): linear_backward, and L_layer_backward's gradients for every layer.

The backward pass is judged on caches the grader builds from correct values
in the student's own cache layout (learnt from their forward pass; the
chapter's ((A_prev, W, b), Z) when their forward never runs): a forward bug
costs nothing here (reference/caches.py). And it must be backprop: a
"backward pass" that differentiates the cost numerically runs thousands of
forward passes, which the timing check sees.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from grader.checking import (CheckFailure, StudentCodeTimeout, describe_args, expect_array, expect_entries,
                             expect_unchanged, kind_of, record, safe_hint)
from reference import diagnose
from reference.caches import backward_on_correct_caches, build_network, linear_backward_on_correct_cache
from reference.networks import layer_case_ids, network_case_ids

# (n_prev, n, m): non-square W and n_prev != m expose missing transposes; m = 1, m > 1, and a wide layer
# with many examples.
LINEAR_CASES = [(3, 4, 5), (4, 2, 1), (2, 3, 6), (33, 32, 65)]
# The chapter's network, a single layer, five layers, m = 1, and wide layers with many examples.
NETWORKS = [([2, 5, 3, 1], 10), ([3, 1], 4), ([6, 5, 4, 3, 2, 1], 8), ([2, 5, 3, 1], 1), ([4, 32, 33, 1], 65)]

# The timing check: on this network finite differences (two forward passes per parameter: 49,922 here) cost
# tens of thousands of backprop passes; backprop costs a few forward passes, even written with loops. The
# network is wide enough that a forward pass's own work, not the sandbox's round trip, sets its time, so a
# loaded machine cannot bring finite differences near the limit (they run into the call's time limit first).
TIMING_NETWORK = ([64, 128, 128, 1], 16)
TIMING_LIMIT = 100      # the backward pass may take at most this many times one forward pass
FORWARD_RUNS = 9        # the forward pass is timed this often (the fastest counts)
BACKWARD_RUNS = 3       # the backward pass at most this often while it looks too slow (the fastest counts)
RETRY_BELOW = 1.0       # seconds: only a backward pass faster than this is timed again (a burst of load, not
                        # finite differences, can explain it)


@pytest.mark.public
@pytest.mark.parametrize("n_prev, n, m", LINEAR_CASES, ids=layer_case_ids(LINEAR_CASES))
def test_linear_backward_values(student, ref, lab, layouts, rng, request, n_prev, n, m):
    """linear_backward returns dA_prev = W.T dZ, dW = dZ A_prev.T / m, db = sum(dZ, axis=1) / m"""
    A = rng.standard_normal((n_prev, m))
    W = rng.standard_normal((n, n_prev))
    b = rng.standard_normal((n, 1))
    dZ = rng.standard_normal((n, m))
    call = f"linear_backward({describe_args(dZ=dZ)}, cache) with {describe_args(A_prev=A, W=W)}"
    judged = linear_backward_on_correct_cache(student, layouts, dZ, A, W, b, call)
    record(request, caches=judged.caches)
    got = lab.unpack(judged.value, 3, call, "(dA_prev, dW, db)")
    expected = ref.linear_backward(dZ, ((A, W, b)))
    for name, value, want in zip(("dA_prev", "dW", "db"), got, expected):
        expect_array(value, want, name=name, call=call,
                     hint=lambda: (safe_hint(diagnose.diagnose_linear_backward, got, dZ, A, W, b)
                                   or lab.array_hint(name, value, want, m)))


def _gradients(student, layouts, lab, rng, dims, m, request):
    """The network's inputs and the student's gradients on correct caches in their layout."""
    params, X, Y = lab.network(dims, m, rng)
    judged, _ = backward_on_correct_caches(student, layouts, X, Y, params)
    record(request, caches=judged.caches)
    if not isinstance(judged.value, dict):
        raise CheckFailure(f"{judged.call} returned {kind_of(judged.value)}; expected a dict with dW1, db1, ...",
                           hint="Collect the gradients in a dict: grads['dW' + str(l)] = dW.")
    return params, X, Y, judged.value, judged.call


@pytest.mark.public
@pytest.mark.parametrize("dims, m", NETWORKS, ids=network_case_ids(NETWORKS))
def test_L_layer_backward_gradients(student, ref, lab, layouts, rng, request, dims, m):
    """L_layer_backward returns dW and db of the right shape and value for every layer"""
    params, X, Y, grads, call = _gradients(student, layouts, lab, rng, dims, m, request)
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


def test_L_layer_backward_is_backprop(student, lab, layouts, rng, request):
    """L_layer_backward is backpropagation: it costs a few forward passes, not one or two per parameter"""
    dims, m = TIMING_NETWORK
    params, X, Y = lab.network(dims, m, rng, backward_bugs=False)  # timed, not judged
    count = sum(v.size for v in params.values())
    forward_seconds, whose = _forward_seconds(student, X, params)
    try:
        judged, _ = backward_on_correct_caches(student, layouts, X, Y, params)
    except StudentCodeTimeout as timeout:
        raise StudentCodeTimeout(f"{timeout.message} {_forward_words(dims, m, forward_seconds)}",
                                 hint=_timing_hint(count)) from None
    # Which gradients are right is the other checks' business; this one needs a result that is gradients at all
    # (a stub that returns at once is no backprop pass either).
    if not (isinstance(judged.value, dict)
            and any(str(k).startswith("dW") and isinstance(v, np.ndarray) for k, v in judged.value.items())):
        raise CheckFailure(f"{judged.call} returned {kind_of(judged.value)}, not a dict of gradients, so its cost "
                           f"cannot be compared with a backprop pass.")
    backward = [judged.seconds]
    while TIMING_LIMIT * forward_seconds < min(backward) < RETRY_BELOW and len(backward) < BACKWARD_RUNS:
        start = time.perf_counter()  # a loaded machine only ever slows a run down: the fastest counts
        try:
            student.run("L_layer_backward", *judged.arguments)
        except StudentCodeTimeout as timeout:
            raise StudentCodeTimeout(f"{timeout.message} {_forward_words(dims, m, forward_seconds)}",
                                     hint=_timing_hint(count)) from None
        backward.append(time.perf_counter() - start)
    ratio = min(backward) / forward_seconds
    record(request, forward_seconds=forward_seconds, backward_seconds=min(backward), ratio=ratio,
           parameters=count, layer_dims=dims, m=m)
    if ratio > TIMING_LIMIT:
        raise CheckFailure(
            f"On a {dims} network with m = {m} ({count:,} parameters) your L_layer_backward took "
            f"{min(backward):.3g} s, {ratio:,.0f} times as long as {whose} ({forward_seconds * 1e3:.2g} ms); "
            f"a backprop pass costs a few forward passes, so more than {TIMING_LIMIT} times is not backprop.",
            hint=_timing_hint(count))


# A forward pass run in the worker when the student's own does not run (only the backward half was handed in).
_CHAPTER_FORWARD = """
def drive(module, X, params):
    import numpy as np
    L = len([k for k in params if k.startswith("W")])
    A, caches = X, []
    for l in range(1, L + 1):
        Z = params["W%d" % l] @ A + params["b%d" % l]
        caches.append(((A, params["W%d" % l], params["b%d" % l]), Z))
        A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(Z, 0)
    return A, caches
"""


def _forward_seconds(student, X, params) -> tuple[float, str]:
    """The wall time of one forward pass, the student's own if it runs, as the grader measures it.

    The fastest of several runs counts, as for the backward pass: a loaded
    machine only ever slows a run down, and a median of a few runs caught in
    a burst of load would make a forward pass look ten times dearer.
    """
    def chapter():
        return student.drive(_CHAPTER_FORWARD, X, params, what="a forward pass")

    def own():
        return student.run("L_layer_forward", X, params)

    try:
        own()  # warm: a fresh worker loads the submission on its first call
        run, whose = own, "your L_layer_forward"
    except CheckFailure:
        chapter()
        run, whose = chapter, "a forward pass (the chapter's: yours did not run)"
    times = []
    for _ in range(FORWARD_RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), whose


def _forward_words(dims: list[int], m: int, forward_seconds: float) -> str:
    return (f"On this {dims} network with m = {m} a forward pass takes {forward_seconds * 1e3:.2g} ms: a "
            f"backprop pass would take a few times that.")


def _timing_hint(count: int) -> str:
    return (f"Finite differences (perturbing each of the {count:,} parameters and running the forward pass "
            f"twice) cost about {2 * count:,} forward passes: that is a gradient check, not backpropagation. "
            f"Compute the gradients with the chain rule, layer by layer from dZ[L] = A[L] - Y down to layer 1.")


def test_L_layer_backward_leaves_inputs_unchanged(student, lab, layouts, rng):
    """L_layer_backward does not modify AL or Y"""
    params, X, Y = lab.network([3, 4, 1], 5, rng, backward_bugs=False)
    layout = layouts.network
    if layout.source == "own":
        AL, caches, _ = lab.forward(student, X, params)
        if not isinstance(AL, np.ndarray):
            raise CheckFailure("L_layer_forward did not return an array AL, so this could not be checked.")
    else:
        AL, caches = build_network(student, layout, X, params)
    expect_unchanged(student, "L_layer_backward", AL=AL, Y=Y, caches=caches, unchecked=("caches",))


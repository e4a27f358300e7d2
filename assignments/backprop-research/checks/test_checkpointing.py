"""R1: gradient checkpointing on a 16-layer network: the same gradients, measurably less memory.

Correctness: checkpointed_gradients against the lab reference's plain
backprop, for a segment size that divides 16 and one that does not.

Memory: peaks are traced inside the worker (tracemalloc, which sees NumPy's
array buffers) while the call runs, on a wide batch where activations
dominate. Checkpointing passes when its peak is at most `memory_ratio` of
plain backprop's on the same input. Plain backprop is measured twice: the
student's own L_layer_forward + L_layer_backward when the submission has
them and they are right, and the chapter's formulas run as trusted driver
source; the smaller peak is the baseline, so a wasteful plain pass cannot
lower the bar. The report shows the peaks, the time each took and the extra
forward work checkpointing implies (2L - ceil(L/k) layer evaluations instead
of L).
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import CheckFailure, NotGraded, expect_entries, kind_of, record

MB = 2**20

# Trusted driver: plain backprop by the chapter's formulas, caching every layer's input and Z.
REFERENCE_PLAIN = '''
import numpy as np


def drive(module, X, Y, params):
    L = len([k for k in params if str(k).startswith("W")])
    A, caches = X, []
    for l in range(1, L + 1):
        Z = params["W%d" % l] @ A + params["b%d" % l]
        caches.append((A, Z))
        A = 1.0 / (1.0 + np.exp(-Z)) if l == L else np.maximum(Z, 0)
    m = X.shape[1]
    dZ, grads = A - Y, {}
    for l in range(L, 0, -1):
        A_prev, _ = caches[l - 1]
        grads["dW%d" % l] = dZ @ A_prev.T / m
        grads["db%d" % l] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dZ = (params["W%d" % l].T @ dZ) * (caches[l - 2][1] > 0)
    return grads
'''

# Trusted driver: the student's own plain forward and backward passes, one after the other.
STUDENT_PLAIN = '''
def drive(module, X, Y, params, forward, backward):
    AL, caches = getattr(module, forward)(X, params)
    grads = getattr(module, backward)(AL, Y, caches)
    return {k: grads[k] for k in grads if str(k).startswith(("dW", "db"))}
'''


def _network(nets, rng, layers: int, width: int, m: int) -> tuple[list[int], dict, np.ndarray, np.ndarray]:
    dims = [width] * layers + [1]
    params = nets.params(dims, rng)
    X, Y = nets.data(dims[0], m, rng)
    return dims, params, X, Y


def _wrong_gradients(got, expected: dict, call: str) -> CheckFailure | None:
    """The failure describing how `got` differs from the plain gradients, or None when they agree."""
    if not isinstance(got, dict):
        return CheckFailure(f"{call} returned {kind_of(got)}; expected a dict with dW1, db1, ..., dW16, db16.",
                            hint="Return the gradients in the same dict format as L_layer_backward.")
    keys = sorted(expected, key=lambda k: (int(k[2:]), k))
    missing = [k for k in keys if k not in got]
    if missing:
        return CheckFailure(f"{call} returned no {', '.join(missing)}.",
                            hint="Every layer needs its dW and db, including the layers inside each segment.")
    try:
        expect_entries(got, expected, keys, call=call, lead=f"{call}: wrong",
                       hint="Within a segment, recompute the activations from the segment's checkpoint with the "
                            "same forward formulas, then backpropagate through the segment from its top; the "
                            "gradient leaving a segment (dA at its checkpoint) is the input of the segment below.")
    except CheckFailure as failure:
        return failure
    return None


@pytest.mark.public
@pytest.mark.parametrize("segment", [4, 3], ids=["segment_size=4", "segment_size=3"])
def test_checkpointed_gradients_match_plain_backprop(student, nets, rng, assignment, request, segment):
    """checkpointed_gradients gives plain backprop's gradients on a 16-layer network"""
    layers = int(assignment.setting("checkpoint_layers"))
    # Wide enough that 16 ReLU layers rarely go dead, which would zero the lower gradients and hide bugs.
    width = int(rng.integers(6, 11))
    dims, params, X, Y = _network(nets, rng, layers, width, m=8)
    call = f"checkpointed_gradients(X {X.shape}, Y, params for {layers} layers of width {width}, {segment})"
    record(request, layer_dims=dims)
    got = student.checkpointed_gradients(X, Y, params, segment)
    failure = _wrong_gradients(got, nets.plain_gradients(X, Y, params), call)
    if failure is not None:
        raise failure


def test_checkpointing_saves_memory(student, nets, rng, assignment, request):
    """checkpointed_gradients peaks at well under plain backprop's memory on a wide batch (16 layers)"""
    layers = int(assignment.setting("checkpoint_layers"))
    segment = int(assignment.setting("checkpoint_segment"))
    ratio_bar = float(assignment.setting("memory_ratio"))
    _, params, X, Y = _network(nets, rng, layers, int(assignment.setting("memory_width")),
                               int(assignment.setting("memory_batch")))
    expected = nets.plain_gradients(X, Y, params)
    call = f"checkpointed_gradients(X {X.shape}, Y, params for {layers} layers, {segment})"
    checkpointed = student.run("checkpointed_gradients", X, Y, params, segment, measure=True)
    if _wrong_gradients(checkpointed.value, expected, call) is not None:
        raise NotGraded(f"Not graded until {call} returns plain backprop's gradients on this wide batch (see the "
                        f"checks above): memory only counts for a correct result.")
    baselines = {"reference_plain": student.drive(REFERENCE_PLAIN, X, Y, params, measure=True,
                                                  what="plain backprop (the chapter's formulas)")}
    own = _student_plain(student, X, Y, params, expected)
    if own is not None:
        baselines["your_plain"] = own
    if not all(isinstance(r.peak_bytes, int) and r.peak_bytes > 0
               for r in (checkpointed, *baselines.values())):
        raise CheckFailure("The memory of the calls could not be measured in the worker, so this could not be "
                           "checked.")
    baseline_name = min(baselines, key=lambda name: baselines[name].peak_bytes)
    baseline = baselines[baseline_name]
    ratio = checkpointed.peak_bytes / baseline.peak_bytes
    extra = nets.research.forward_layer_evaluations(layers, segment)
    record(request, checkpointed_peak_mb=round(checkpointed.peak_bytes / MB, 2),
           **{f"{name}_peak_mb": round(r.peak_bytes / MB, 2) for name, r in baselines.items()},
           baseline=baseline_name, memory_ratio=round(ratio, 3), memory_ratio_bar=ratio_bar,
           checkpointed_seconds=round(checkpointed.seconds, 4),
           **{f"{name}_seconds": round(r.seconds, 4) for name, r in baselines.items()},
           forward_layer_evaluations={"plain": layers, "checkpointed": extra},
           extra_forward_work=f"{extra - layers} more layer evaluations ({extra} instead of {layers})")
    if ratio > ratio_bar:
        which = "your own plain backprop" if baseline_name == "your_plain" else "plain backprop"
        raise CheckFailure(
            f"{call} peaked at {checkpointed.peak_bytes / MB:.1f} MB; {which} peaks at "
            f"{baseline.peak_bytes / MB:.1f} MB on the same input ({ratio:.0%}); checkpointing must stay at or "
            f"below {ratio_bar:.0%}.",
            hint="Keep only every segment_size-th activation in the forward pass (not a cache per layer), and in "
                 "the backward pass recompute one segment at a time from its checkpoint, dropping it before "
                 "moving to the segment below.")


def _student_plain(student, X, Y, params, expected: dict):
    """The student's own plain forward + backward, measured, or None when absent or not right."""
    if not (student.has("L_layer_forward") and student.has("L_layer_backward")):
        return None
    try:
        result = student.drive(STUDENT_PLAIN, X, Y, params, student.resolve("L_layer_forward"),
                               student.resolve("L_layer_backward"), measure=True,
                               what="your L_layer_forward and L_layer_backward")
    except CheckFailure:
        return None
    if _wrong_gradients(result.value, expected, "L_layer_backward") is not None:
        return None
    return result

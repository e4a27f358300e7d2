"""Debug This!: the fixed backward(X, Y, params, cache) of the chapter's 2-layer network.

Each of the three bugs is graded on its own, on inputs where the other two
bugs are harmless, by the output only that bug changes:

1. ``m = X.shape[0]``: n_x != m and n_h == m (so an unfixed bug 2 still
   runs); db2, which only m affects.
2. ``dZ2 @ A1`` without the transpose: n_x == m (bug 1 harmless) and
   n_h != m, where the missing transpose cannot even be multiplied; dW2.
3. ``np.sum(dZ1, axis=0)``: n_x == m and n_h == m, so bugs 1 and 2 are
   harmless and the wrong axis shows as db1 of shape (1, m) instead of
   (n_h, 1); when the call also runs with n_h != m (bug 2 fixed), db1 is
   checked there too.

A fourth check guards the outputs no bug touches (dW1, and db2 where m is
harmless): a bug introduced while fixing the others loses its credit there.
Its credit follows the bugs fixed (k of 3 gives k/3 of it), so with the
rubric's equal weights the item is worth k/3 when nothing else broke.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import (
    CheckFailure,
    NotGraded,
    StudentCodeError,
    expect_array,
    kind_of,
    partial_credit,
    record,
    wrong_entries,
)
from reference.networks import draw_network
from reference.backprop_lab import sigmoid

KEYS = ("dW1", "db1", "dW2", "db2")


def _case(rng: np.random.Generator, n_x: int, n_h: int, m: int) -> dict:
    """A 2-layer network's inputs and its forward cache (A1, A2, Z1)."""
    # No dead hidden unit, so every bug shows in the gradients it touches (reference/networks.py).
    params, X, Y = draw_network([n_x, n_h, 1], m, rng)
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.maximum(Z1, 0)
    A2 = sigmoid(params["W2"] @ A1 + params["b2"])
    cache = {"A1": A1, "A2": A2, "Z1": Z1}
    return {"X": X, "Y": Y, "params": params, "cache": cache, "n_x": n_x, "n_h": n_h, "m": m,
            "call": f"backward(X, Y, params, cache) with n_x={n_x}, n_h={n_h}, m={m}"}


def _run(student, ref, case: dict) -> tuple[dict, dict]:
    """The student's gradients (checked to be a dict with the four keys) and the reference's."""
    got = student.backward(case["X"], case["Y"], case["params"], case["cache"])
    if not isinstance(got, dict) or any(k not in got for k in KEYS):
        raise CheckFailure(f"{case['call']} returned {kind_of(got)}; expected a dict with dW1, db1, dW2, db2.",
                           hint='End backward with `return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}`.')
    return got, ref.backward(case["X"], case["Y"], case["params"], case["cache"])


def _distinct(rng: np.random.Generator, avoid: int, low: int = 2, high: int = 9) -> int:
    """A size in [low, high] different from `avoid`."""
    return int(rng.choice([v for v in range(low, high + 1) if v != avoid]))


def _bug1(student, ref, rng) -> None:
    m = int(rng.integers(4, 8))
    case = _case(rng, _distinct(rng, m), m, m)
    got, expected = _run(student, ref, case)
    hint = "m is the number of samples, the columns of X: m = X.shape[1]."
    db2 = got["db2"]
    if isinstance(db2, np.ndarray) and db2.shape == expected["db2"].shape and expected["db2"].item() != 0:
        ratio = float(db2.item() / expected["db2"].item())
        if np.isclose(ratio, case["m"] / case["n_x"], rtol=1e-6):
            hint = (f"db2 is off by the factor m / n_x = {case['m']}/{case['n_x']}: m is still the number of "
                    f"features. Use m = X.shape[1].")
    expect_array(db2, expected["db2"], name="db2", call=case["call"] + " (bug 1: m)", hint=hint)


def _bug2(student, ref, rng) -> None:
    m = int(rng.integers(4, 8))
    case = _case(rng, m, _distinct(rng, m), m)
    hint = "dW2 = (1/m) * dZ2 @ A1.T: (1, m) @ (m, n_h) gives W2's shape (1, n_h)."
    try:
        got, expected = _run(student, ref, case)
    except StudentCodeError as error:
        if "exception" not in error.details:
            raise  # not an exception from the student's code (e.g. no `backward` at all)
        raise CheckFailure(f"{error.message}\nWith n_h != m the unfixed product dZ2 @ A1 cannot be computed: "
                           f"if the line above is the dW2 line, bug 2 is not fixed.",
                           hint=hint, details=error.details) from None
    expect_array(got["dW2"], expected["dW2"], name="dW2", call=case["call"] + " (bug 2: dW2)", hint=hint)


def _bug3(student, ref, rng, request=None) -> None:
    hint = "db1 = (1/m) * np.sum(dZ1, axis=1, keepdims=True): sum over the samples, giving b1's shape (n_h, 1)."
    m = int(rng.integers(4, 8))
    wide = _case(rng, m, _distinct(rng, m), m)
    try:
        got, expected = _run(student, ref, wide)
    except CheckFailure:
        # Most likely bug 2, graded on its own: judge bug 3 where bug 2 cannot crash.
        if request is not None:
            record(request, note="the n_h != m case raised, so db1 was checked with n_h == m only")
    else:
        expect_array(got["db1"], expected["db1"], name="db1", call=wide["call"] + " (bug 3: db1)", hint=hint)
    square = _case(rng, m, m, m)
    got, expected = _run(student, ref, square)
    expect_array(got["db1"], expected["db1"], name="db1", call=square["call"] + " (bug 3: db1)", hint=hint)


PROBES = {1: _bug1, 2: _bug2, 3: _bug3}


@pytest.mark.public
def test_bug1_m_is_the_number_of_samples(student, ref, rng):
    """Bug 1 fixed: m = X.shape[1], the number of samples (db2 with n_x != m)"""
    _bug1(student, ref, rng)


@pytest.mark.public
def test_bug2_dW2_uses_A1_transposed(student, ref, rng):
    """Bug 2 fixed: dW2 = (1/m) dZ2 @ A1.T (dW2 with n_h != m)"""
    _bug2(student, ref, rng)


@pytest.mark.public
def test_bug3_db1_sums_over_samples(student, ref, rng, request):
    """Bug 3 fixed: db1 sums dZ1 over axis 1 and has shape (n_h, 1)"""
    _bug3(student, ref, rng, request)


def test_no_new_bugs(student, ref, rng, request):
    """The outputs no bug touches (dW1, db2) are still right, so fixing the bugs broke nothing else"""
    student.resolve("backward")
    fixed = []
    for number, probe in PROBES.items():
        try:
            probe(student, ref, rng)
            fixed.append(number)
        except CheckFailure:
            pass
    record(request, bugs_fixed=fixed)
    if not fixed:
        raise NotGraded("Not graded until at least one of the three bugs is fixed: this check's credit follows "
                        "the bugs you fixed.")
    m = int(rng.integers(4, 8))
    case = _case(rng, m, m, m)  # square: none of the three bugs changes dW1 or db2 here
    got, expected = _run(student, ref, case)
    wrong = wrong_entries(got, expected, ("dW1", "db2"), call=case["call"])
    if wrong:
        key, first = wrong[0]
        raise CheckFailure(f"{' and '.join(k for k, _ in wrong)} {'is' if len(wrong) == 1 else 'are'} wrong, "
                           f"although none of the three bugs affects {'it' if len(wrong) == 1 else 'them'} on "
                           f"this input: a new bug. {first.message}",
                           hint="Compare with the printed function: dW1 = (1/m) dZ1 @ X.T with dZ1 = (W2.T @ dZ2) "
                                "* (Z1 > 0), and db2 = (1/m) np.sum(dZ2, axis=1, keepdims=True).",
                           details={**first.details, "wrong_keys": [k for k, _ in wrong]})
    partial_credit(request, len(fixed) / len(PROBES))

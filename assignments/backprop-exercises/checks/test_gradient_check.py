"""C2: gradient checking on a [5, 4, 3, 1] network.

The student's backprop gradients are compared with two-sided numerical
gradients computed here, on the trusted side; then the student's own
gradient_check must pass their correct code and flag a planted bug (their
backward with every dW and db doubled, swapped in inside the sandbox for one
call: the relative difference is then 1/3 whatever the network). Inputs have
no hidden pre-activation within reach of the ReLU kink, and the output is
not saturated, so correct code stays well below 1e-7; no hidden unit is dead
and pre-activations reach well beyond +-3, so every gradient bug shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import CheckFailure, call_and_changes, record, relative_difference
from reference.networks import draw_numerical_case, planted_bug_source, rolled

DIMS = [5, 4, 3, 1]
M = 7  # != n_x, so a transposed gradient cannot pass by shape

# The student's own backward with every gradient doubled (relative difference 1/3).
PLANTED_BUG = planted_bug_source(2.0)


@pytest.fixture(scope="module")
def tolerance(assignment) -> float:
    """The chapter's bar for a correct gradient: relative difference below 1e-7."""
    return float(assignment.setting("gradient_tolerance"))


@pytest.fixture(scope="module")
def case(student, ex, module_rng, tolerance) -> dict:
    """Inputs, numerical gradients, the student's gradients and how far apart they are.

    One case for every check of this file: each gradient_check check tests
    the student's function on the very network the first check found their
    backprop right on, and the reference work runs once per submission.
    """
    # No dead unit, no pre-activation near the kink, large pre-activations (reference/networks.py).
    params, X, Y, numerical = draw_numerical_case(DIMS, M, module_rng)
    grads, call = ex.grads(student, X, Y, params)
    table, overall = [], float("inf")
    usable = all(("d" + k) in grads and isinstance(grads["d" + k], np.ndarray)
                 and grads["d" + k].shape == params[k].shape for k in params)
    if usable:
        for k in params:
            table.append({"parameter": k,
                          "relative_difference": relative_difference(np.asarray(grads["d" + k], dtype=float),
                                                                     numerical["d" + k])})
        overall = relative_difference(rolled(grads, params), rolled(numerical, params))
    return {"params": params, "X": X, "Y": Y, "grads": grads, "call": call, "table": table,
            "overall": overall, "usable": usable, "correct": usable and overall < tolerance}


# A gradient check can only be tested on correct code.
requires_correct_backprop = pytest.mark.requires(
    "test_backprop_agrees_with_numerical_gradients", why="a gradient check can only be tested on correct code")


@pytest.mark.public
def test_backprop_agrees_with_numerical_gradients(case, ex, tolerance, earlier, request):
    """Your backprop gradients agree with two-sided numerical gradients on a [5, 4, 3, 1] network (< 1e-7)"""
    record(request, gradient_table=case["table"], overall_relative_difference=case["overall"])
    blame = ex.blame(earlier, "L_layer_backward", "L_layer_forward")
    if not case["usable"]:
        expected = {"d" + k: v.shape for k, v in case["params"].items()}
        got = {str(k): getattr(v, "shape", type(v).__name__) for k, v in case["grads"].items()}
        raise CheckFailure(f"{case['call']} did not return an array of its parameter's shape for every parameter: "
                           f"expected {expected}, got {got}.",
                           hint=blame or "grads must hold dW1, db1, dW2, db2, dW3, db3, each of its parameter's shape.")
    if case["overall"] >= tolerance:
        worst = max(case["table"], key=lambda row: row["relative_difference"])
        raise CheckFailure(
            f"The relative difference between your backprop gradients and numerical gradients on [5, 4, 3, 1] is "
            f"{case['overall']:.3g}; the chapter asks for < {tolerance:g}. The worst parameter is "
            f"{worst['parameter']} ({worst['relative_difference']:.3g}).",
            hint=blame or "Above 1e-3 there is a bug: start with the layer of the worst parameter. Check the factor "
                          "1/m, the transposes, and which layer's Z the ReLU derivative uses.")


@requires_correct_backprop
def test_gradient_check_passes_correct_code(case, student, ex, tolerance, request):
    """Your gradient_check passes your correct backprop on [5, 4, 3, 1] (returns < 1e-7)"""
    call = "gradient_check(X, Y, params) on a [5, 4, 3, 1] network"
    returned, changed = call_and_changes(student, "gradient_check", X=case["X"], Y=case["Y"],
                                         params=case["params"], unchecked=("X", "Y"))
    value = ex.number(returned, call,
                      hint="Return the relative difference ||grad - gradapprox|| / (||grad|| + ||gradapprox||).")
    record(request, returned=value)
    if changed:
        # Parameters left nudged make the reading hover around 1e-7 whatever the draw: judged on that, not on it.
        raise CheckFailure(f"After {call}, params {', '.join(changed['params'])} differ from what was passed in "
                           f"(it returned {value:.3g}).",
                           hint="Put each parameter back after computing J(theta + eps) and J(theta - eps), or "
                                "perturb a copy: otherwise every later gradient is computed at the wrong point.")
    if not value < tolerance:
        expected = ex.lab.gradient_check(case["X"], case["Y"], case["params"])
        raise CheckFailure(f"{call} returned {value:.3g} although your backprop is correct; the reference "
                           f"gradient check gives {expected:.3g} on the same input (< {tolerance:g}).",
                           hint="Use the two-sided difference (J(theta + eps) - J(theta - eps)) / (2 eps) with "
                                "eps = 1e-7, restore each parameter after perturbing it, and divide the norm of "
                                "the difference by the sum of the norms.")


@requires_correct_backprop
def test_gradient_check_flags_a_planted_bug(case, student, ex, assignment, request):
    """Your gradient_check flags a backward pass with a planted bug on [5, 4, 3, 1] (returns > 1e-3)"""
    threshold = float(assignment.setting("planted_bug_threshold"))
    backward = student.resolve("L_layer_backward")
    call = "gradient_check(X, Y, params) on [5, 4, 3, 1] with every gradient doubled in your backward pass"
    value = ex.number(student.run("gradient_check", case["X"], case["Y"], case["params"],
                                  patch={backward: PLANTED_BUG}).value, call)
    record(request, returned=value)
    if not value > threshold:
        raise CheckFailure(f"{call} returned {value:.3g}; a gradient check must report more than {threshold:g} "
                           f"for this bug (the chapter's relative difference is 1/3 here).",
                           hint="Compare against the gradients your L_layer_backward returns (call it, do not "
                                "recompute them another way), and return the relative difference.")

"""Gradient check (20 points): backprop agrees with numerical gradients, and gradient_check works.

The student's gradient_check is tested on their own (correct) code, on their
code with a planted bug (a term added to compute_cost for that call only,
inside the sandbox: numerical gradients see it, their backward pass does
not, and the grader's own numerical gradients say exactly what the check
must report; see reference/planted.py), with a larger epsilon that tells
two-sided from one-sided differences, and for restoring the parameters it
perturbs. When the student's compute_cost fails its own checks, the
grader's stands in for it in all of these calls (a cost bug is charged
once, in the Forward pass). A gradient_check that does not differentiate
compute_cost numerically (e.g. one comparing the backward pass with a saved
copy of it) fails the planted bug, and its other checks are not graded.
"""

from __future__ import annotations

import numbers

import numpy as np
import pytest

from grader.checking import CheckFailure, NotGraded, call_and_changes, record, relative_difference, safe_hint
from reference import diagnose
from reference.mutants import gradient_check_variant
from reference.networks import draw_numerical_case, rolled
from reference.planted import PlantedCost, consistent_on_all, planted_cost, second_planted_cost
from reference.stand_in import stand_in_patch

DIMS = [2, 5, 3, 1]
M = 5


@pytest.fixture(scope="module")
def tolerance(assignment):
    return float(assignment.setting("gradient_tolerance"))


@pytest.fixture(scope="module")
def case(student, ref, lab, module_rng, tolerance):
    """Inputs, the numerical gradients, and the student's backprop gradients (checked against them).

    One case for every check of this file: each gradient_check check tests
    the student's function on the very network the first check found their
    backprop right on, and the reference work runs once per submission.
    """
    # No dead unit, no pre-activation near the kink, large pre-activations: a dW bug always shows here.
    params, X, Y, numerical = draw_numerical_case(DIMS, M, module_rng)
    grads, call = lab.grads(student, X, Y, params)
    table, overall, shapes_ok = [], float("inf"), all(("d" + k) in grads for k in params)
    if shapes_ok:
        try:
            for k in params:
                # The shape first: a float copy of a huge wrong answer would cost eight times its size.
                if np.shape(grads["d" + k]) != params[k].shape:
                    raise ValueError
                got = np.asarray(grads["d" + k], dtype=float)
                table.append({"parameter": k, "backprop_norm": float(np.linalg.norm(got)),
                              "numerical_norm": float(np.linalg.norm(numerical["d" + k])),
                              "relative_difference": relative_difference(got, numerical["d" + k])})
            overall = relative_difference(rolled(grads, params), rolled(numerical, params))
        except (ValueError, TypeError):
            shapes_ok = False
    return {"params": params, "X": X, "Y": Y, "numerical": numerical, "grads": grads, "call": call,
            "table": table, "overall": overall, "shapes_ok": shapes_ok,
            "correct": shapes_ok and overall < tolerance, "seed": int(module_rng.integers(2**31))}


def _cost_patch(case, student, ref, lab, earlier) -> dict:
    """The grader's compute_cost in place of the student's for their gradient_check's calls, when theirs fails its
    own checks (empty otherwise): a cost bug is the Forward pass's to charge, not every gradient_check check's."""
    if "cost_patch" not in case:
        blame = lab.blame(earlier, "compute_cost", why="your gradient_check differentiates it")
        case["cost_patch"] = stand_in_patch(student, ref, ("compute_cost",)) if blame else {}
    return case["cost_patch"]


def _number(value, call: str) -> float:
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise CheckFailure(f"{call} returned {type(value).__name__}; expected one float (the relative difference).",
                       hint="Return the relative difference ||grad - gradapprox|| / (||grad|| + ||gradapprox||).")


# The student's gradient_check can only be tested on correct code: it differentiates compute_cost numerically
# and compares with their backprop. A compute_cost that fails its own checks (charged in the Forward pass) is
# replaced by the grader's for these calls (`_cost_patch`); a wrong backprop cannot be replaced, since it is
# what a gradient check exists to test.
requires_correct_code = pytest.mark.requires(
    "test_backprop_agrees_with_numerical_gradients",
    why="your gradient_check compares your backprop with numerical gradients, so it can only be tested once "
        "your backprop is right")


@pytest.mark.public
def test_backprop_agrees_with_numerical_gradients(case, lab, tolerance, earlier, request):
    """Your backprop gradients agree with two-sided numerical gradients on a [2, 5, 3, 1] network (< 1e-7)"""
    record(request, gradient_table=case["table"], overall_relative_difference=case["overall"])
    # The chapter's criterion runs your forward and backward passes end to end: when one of them fails its
    # own checks, fixing it comes first.
    blame = lab.blame(earlier, "L_layer_backward", "linear_backward", "L_layer_forward", "linear_forward")

    def hint(fallback):
        found = safe_hint(diagnose.diagnose_grads, case["grads"], case["X"], case["Y"], case["params"])
        return " ".join(h for h in (blame, found or fallback) if h) or None

    if not case["shapes_ok"]:
        raise CheckFailure(f"{case['call']} did not return a gradient of the right shape for every parameter "
                           f"(keys {sorted(map(str, case['grads']))}).", hint=hint(None))
    if case["overall"] >= tolerance:
        worst = max(case["table"], key=lambda row: row["relative_difference"])
        raise CheckFailure(
            f"The relative difference between your backprop gradients and numerical gradients is "
            f"{case['overall']:.3g}; the chapter asks for < {tolerance:g}. The worst parameter is "
            f"{worst['parameter']} ({worst['relative_difference']:.3g}).",
            hint=hint("Above 1e-3 there is a bug; look at the layer of the worst parameter first."))


@pytest.fixture
def cost_patch(case, student, ref, lab, earlier, request) -> dict:
    """`_cost_patch`, recorded in the check's details when it is used."""
    patch = _cost_patch(case, student, ref, lab, earlier)
    if patch:
        record(request, with_grader_compute_cost=True)
    return patch


@requires_correct_code
def test_gradient_check_passes_correct_code(case, student, ref, tolerance, assignment, cost_patch, request):
    """Your gradient_check passes your correct backprop (returns < 1e-7)"""
    _numerical_first(case, student, assignment, cost_patch)
    call = "gradient_check(X, Y, params) on a [2, 5, 3, 1] network"
    returned, changed = _on_correct_code(case, student, cost_patch)
    value = _number(returned, call)
    record(request, returned=value)
    if not value < tolerance and changed and _drifted(value, case, 1e-7):
        # Parameters left nudged shift every later numerical gradient a little: that is the restoring check's
        # business (charged there once); the reading is what a correct check that does not restore gives.
        record(request, note="read with parameters left nudged: judged by the restoring check")
        return
    if not value < tolerance:
        expected = ref.gradient_check(case["X"], case["Y"], case["params"])
        raise CheckFailure(f"{call} returned {value:.3g} although your backprop is correct; the reference "
                           f"gradient check gives {expected:.3g} on the same input (< {tolerance:g}).",
                           hint="Use the two-sided difference (J(theta + eps) - J(theta - eps)) / (2 eps), "
                                "restore each parameter after perturbing it, and divide the norm of the "
                                "difference by the sum of the norms.")


def _once(case: dict, key: str, call):
    """`call()`'s result, computed once per submission for the checks that judge the same call.

    A failure of the call (an exception, a timeout) is kept too, and becomes
    each of those checks' failure.
    """
    if key not in case:
        try:
            case[key] = call()
        except CheckFailure as failure:
            case[key] = failure
    kept = case[key]
    if isinstance(kept, CheckFailure):
        raise type(kept)(kept.message, hint=kept.hint, details=kept.details)
    return kept


def _with_planted_bug(case, student, assignment, cost_patch: dict) -> tuple[object, PlantedCost]:
    """What the student's gradient_check returns with the planted cost bug swapped in, and the bug.

    Two checks judge this one call (does it flag the bug; is it the chapter's
    relative difference), and it gates the others (`_numerical_first`).
    """
    return _planted_calls(case, student, assignment, cost_patch)[0]


def _planted_source(bug: PlantedCost, cost_patch: dict) -> str | list[str]:
    """The planted bug's patch, wrapping the grader's compute_cost when that stands in for the student's
    (`cost_patch`: the worker applies a list of patches in turn), else the student's own."""
    return [*cost_patch.values(), bug.source] if cost_patch else bug.source


def _planted_calls(case, student, assignment, cost_patch: dict) -> list[tuple[object, PlantedCost]]:
    """The student's gradient_check on two planted cost bugs of the case (each called once per submission).

    The second bug's readings differ several-fold from the first's: a real
    check reports both by one rule, while a "check" that only notices that
    something was swapped in (and answers a constant) cannot match both.
    """
    if "planted_costs" not in case:
        threshold = float(assignment.setting("planted_bug_threshold"))
        rng = np.random.default_rng(case["seed"])
        first = planted_cost(case["X"], case["Y"], case["params"], case["numerical"], case["grads"], rng, threshold)
        second = second_planted_cost(first, case["X"], case["Y"], case["params"], case["numerical"], case["grads"],
                                     rng, threshold)
        case["planted_costs"] = [first, second]

    def call(bug):
        cost = student.resolve("compute_cost")
        return student.run("gradient_check", case["X"], case["Y"], case["params"],
                           patch={cost: _planted_source(bug, cost_patch)}).value

    first, second = case["planted_costs"]
    return [(_once(case, "planted", lambda: call(first)), first),
            (_once(case, "planted-second", lambda: call(second)), second)]


def _consistent(case, student, assignment, cost_patch: dict) -> bool:
    """Whether both planted-bug calls returned numbers that read the two bugs by one rule."""
    try:
        calls = _planted_calls(case, student, assignment, cost_patch)
    except CheckFailure:
        return False
    if not all(_is_real(value) for value, _ in calls):
        return False
    return consistent_on_all([float(_number(value, "")) for value, _ in calls], [bug for _, bug in calls])


def _numerical_first(case, student, assignment, cost_patch: dict) -> None:
    """NotGraded unless the student's gradient_check reported the planted bugs as numerical gradients see them.

    A check that does not differentiate compute_cost numerically is charged
    once, on the planted-bug checks; nothing else can be judged on it.
    """
    if not _consistent(case, student, assignment, cost_patch):
        raise NotGraded("Not graded until your gradient_check flags the planted bug (\u201cYour gradient_check "
                        "flags a planted bug\u201d): a gradient check that does not differentiate compute_cost "
                        "numerically cannot be judged on anything else.")


def _shown(value) -> str:
    return f"{float(_number(value, '')):.4g}" if _is_real(value) else "no number"


def _is_real(value) -> bool:
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _on_correct_code(case, student, cost_patch: dict) -> tuple[object, dict]:
    """What the student's gradient_check returns on their correct code, and the params it changed in place.

    Two checks judge this one call (does it pass correct code; does it
    restore the parameters it perturbs).
    """
    return _once(case, "plain", lambda: call_and_changes(student, "gradient_check", X=case["X"], Y=case["Y"],
                                                         params=case["params"], unchecked=("X", "Y"),
                                                         patch=cost_patch or None, rounding=True))


@requires_correct_code
def test_gradient_check_flags_a_planted_bug(case, student, assignment, cost_patch, request):
    """Your gradient_check flags a planted bug: a cost your backward pass does not know (returns > 1e-3)"""
    threshold = float(assignment.setting("planted_bug_threshold"))
    returned, planted = _with_planted_bug(case, student, assignment, cost_patch)
    call = ("gradient_check(X, Y, params) with a term added to your compute_cost for this call (numerical "
            "gradients see it, your backward pass does not)")
    value = _number(returned, call)
    record(request, returned=value, expected=planted.relative)
    hint = ("Differentiate compute_cost(L_layer_forward(X, params)[0], Y) numerically, calling your own "
            "compute_cost (do not recompute the cost another way), and compare with the gradients your "
            "L_layer_backward returns.")
    if not value > threshold:
        raise CheckFailure(f"{call} returned {value:.3g}; a gradient check must report more than {threshold:g} "
                           f"for this bug (numerical gradients give {planted.relative:.3g}).", hint=hint)
    if not _consistent(case, student, assignment, cost_patch):
        (_, first), (other, second) = _planted_calls(case, student, assignment, cost_patch)
        raise CheckFailure(f"{call} returned {value:.4g}, and {_shown(other)} for a second planted term; comparing "
                           f"your backprop with numerical gradients of compute_cost gives {first.relative:.4g} and "
                           f"{second.relative:.4g}. Your gradient_check does not seem to compare with numerical "
                           f"gradients of compute_cost.", hint=hint)


@requires_correct_code
def test_gradient_check_returns_the_relative_difference(case, student, assignment, cost_patch, request):
    """Your gradient_check returns ||grad - gradapprox|| / (||grad|| + ||gradapprox||)"""
    for returned, planted in _planted_calls(case, student, assignment, cost_patch):  # both, so no constant passes
        value = _number(returned, "gradient_check(X, Y, params)")
        expected = planted.relative
        record(request, returned=value, expected=expected)
        if not np.isclose(value, expected, rtol=0.05):
            hint = ("You return the norm of the difference without dividing by ||grad|| + ||gradapprox||."
                    if np.isclose(value, planted.absolute, rtol=0.05) else
                    "Roll every dW and db into one vector, and every numerical gradient into another in the same "
                    "order, then return ||grad - gradapprox|| / (||grad|| + ||gradapprox||).")
            raise CheckFailure(f"With a planted bug in compute_cost your gradient_check returned {value:.4g}; the "
                               f"chapter's relative difference on this input is {expected:.4g}.", hint=hint)


@requires_correct_code
def test_gradient_check_uses_two_sided_differences(case, student, ref, assignment, cost_patch, request):
    """Your gradient_check uses the two-sided difference (accurate to O(eps^2))"""
    _numerical_first(case, student, assignment, cost_patch)
    eps = 1e-4  # large enough that a one-sided difference's O(eps) error shows, small enough for two-sided
    call = f"gradient_check(X, Y, params, {eps:g})"
    value = _number(student.run("gradient_check", case["X"], case["Y"], case["params"], eps,
                                patch=cost_patch or None).value, call)
    two_sided = ref.gradient_check(case["X"], case["Y"], case["params"], eps)
    # Correct code reads within a few times the reference (at most about 4e-9 on these networks); one-sided
    # differences read at least 3e-6: the floor sits between them with a wide margin either way.
    limit = max(2e-7, 10 * two_sided)
    record(request, returned=value, two_sided_reference=two_sided)
    if not value < limit and _on_correct_code(case, student, cost_patch)[1] and _drifted(value, case, eps):
        record(request, note="two-sided with parameters left nudged: judged by the restoring check")
        return
    if not value < limit:
        one_sided = gradient_check_variant(case["X"], case["Y"], case["params"], eps, "one_sided_differences")
        other = student.run("gradient_check", case["X"], case["Y"], case["params"], 10 * eps,
                            patch=cost_patch or None).value
        if _is_real(other) and np.isclose(float(_number(other, call)), value, rtol=1e-9, atol=0):
            # The same reading for another epsilon: the argument is not used (one-sided differences would
            # read ten times more).
            hint = (f"Your gradient_check returned {value:.4g} for epsilon = {eps:g} and for {10 * eps:g}: it does "
                    f"not use its epsilon argument. Perturb each parameter by the epsilon it is given.")
        elif 0.3 < value / max(one_sided, 1e-300) < 3:
            hint = ("Your values match one-sided differences (J(theta + eps) - J(theta)) / eps, whose error is "
                    "O(eps); use (J(theta + eps) - J(theta - eps)) / (2 eps), whose error is O(eps^2).")
        else:
            hint = ("With epsilon = 1e-4 a correct two-sided gradient check still agrees to about 1e-8; make sure "
                    "you use the epsilon argument and the two-sided difference.")
        raise CheckFailure(f"{call} returned {value:.3g} on correct code; a two-sided check returns {two_sided:.3g} "
                           f"with this epsilon.", hint=hint)


@requires_correct_code
def test_gradient_check_restores_parameters(case, student, assignment, cost_patch):
    """Your gradient_check leaves params as it found them"""
    _numerical_first(case, student, assignment, cost_patch)
    changed = _on_correct_code(case, student, cost_patch)[1]
    if changed:
        raise CheckFailure(f"After gradient_check, params {', '.join(changed['params'])} differ from what was "
                           f"passed in.",
                           hint="Perturb a copy (theta_plus = np.copy(theta)), or put the original value back "
                                "after computing J(theta + eps) and J(theta - eps); otherwise every later "
                                "component is computed at the wrong point, and the caller's params change.")


def _drifted(value: float, case: dict, eps: float) -> bool:
    """Whether `value` is what a correct two-sided check that leaves each parameter nudged reads (within 3x)."""
    drifted = gradient_check_variant(case["X"], case["Y"], case["params"], eps, "params_not_restored")
    return drifted > 0 and 1 / 3 < value / drifted < 3

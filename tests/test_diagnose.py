"""The mutants and the diagnoses they feed: a known bug's output gets that bug's hint, right output gets none."""

from __future__ import annotations

import numpy as np
import pytest

from reference import diagnose
from reference import mutants
from reference.mutants import BUGS

# What each bug's hint must talk about: the chapter formula or fact a student needs.
HINT_MENTIONS = {
    "missing_1_over_m": "(1/m)",
    "extra_factor_m": "exactly once",
    "m_from_features": "shape[1]",
    "db_wrong_axis": "axis=1",
    "db_missing_keepdims": "keepdims=True",
    "dW_missing_transpose": "dZ @ A_prev.T",
    "dA_prev_missing_transpose": "W.T @ dZ",
    "dZ_sign_flipped": "A[L] - Y",
    "sigmoid_derivative_twice": "a(1 - a)",
    "relu_mask_wrong_layer": "own Z",
    "relu_backward_wrong": "(Z > 0)",
    "last_layer_skipped": "layer L",
    "first_layer_skipped": "l = 1",
    "missing_bias": "+ b[l]",
    "wrong_activation_hidden": "np.maximum(0, Z[l])",
    "wrong_activation_output": "1 / (1 + np.exp(-Z[L]))",
    "activations_swapped": "other way round",
    "sigmoid_wrong_sign": "np.exp(-z)",
    "cost_wrong_sign": "minus",
    "cost_missing_mean": "(1/m)",
    "cost_missing_term": "(1 - Y) log(1 - A[L])",
    "cost_not_scalar": "float",
}

REQUIRED_IDS = {"missing_1_over_m", "extra_factor_m", "db_wrong_axis", "dW_missing_transpose",
                "dA_prev_missing_transpose", "relu_mask_wrong_layer", "sigmoid_derivative_twice",
                "wrong_activation_hidden", "wrong_activation_output", "cost_wrong_sign", "missing_bias",
                "last_layer_skipped", "dZ_sign_flipped", "one_sided_differences", "params_not_restored",
                "cost_missing_mean", "relu_backward_wrong"}


def network(dims, m, seed=0):
    """(X, Y, params) with non-zero biases, both classes in Y, and Z[L] of both signs (every bug visible)."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.5
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    Y[0, :2] = 0.0, 1.0
    ZL = mutants.forward_variant(X, params)[1][f"Z{len(dims) - 1}"]
    assert (ZL > 0).any() and (ZL < 0).any(), "test inputs must give Z[L] of both signs"
    return X, Y, params


def bug_of(flag):
    return mutants.split_flag(flag)[0]


def check_hint(diagnosis, flag):
    assert diagnosis is not None, f"{flag} was not recognised"
    assert diagnosis.bug_id == bug_of(flag)
    assert HINT_MENTIONS[diagnosis.bug_id] in diagnosis.hint
    assert diagnosis.evidence


# ---------------------------------------------------------------- the mutants themselves


def test_required_bugs_exist_with_hints():
    assert REQUIRED_IDS <= set(BUGS)
    for bug in BUGS.values():
        assert bug.hint and bug.title and bug.visible_when and bug.affects


def test_correct_gradients_agree_with_numerical_gradients():
    """bug=None is the chapter's backprop: every mutant is measured against it."""
    X, Y, params = network([2, 5, 3, 1], 6)
    grads = mutants.grads_variant(X, Y, params)
    eps = 1e-6
    for key, value in params.items():
        for index in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][index] += eps
            minus[key][index] -= eps
            numerical = (mutants.cost_variant(mutants.forward_variant(X, plus)[0], Y)
                         - mutants.cost_variant(mutants.forward_variant(X, minus)[0], Y)) / (2 * eps)
            assert abs(numerical - grads["d" + key][index]) < 1e-7


def test_flags_are_validated():
    with pytest.raises(ValueError, match="unknown bug"):
        mutants.grads_variant(*network([2, 5, 3, 1], 7), bug="no_such_bug")
    with pytest.raises(ValueError, match="does not change"):
        mutants.cost_variant(np.full((1, 3), 0.5), np.ones((1, 3)), bug="db_wrong_axis")
    with pytest.raises(ValueError, match="no array variant"):
        mutants.split_flag("one_sided_differences")
    assert mutants.split_flag("db_wrong_axis") == ("db_wrong_axis", "axis0")


# ---------------------------------------------------------------- linear_backward


def linear_inputs(n_prev, n, m, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, m)), rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)),
            rng.standard_normal((n, 1)))


# (n_prev, n, m) exposing each bug; the default has n_x != m, non-square W and m > 1.
LINEAR_SHAPES = {"dW_missing_transpose:no_transpose": (5, 4, 5),
                 "dA_prev_missing_transpose:no_transpose": (4, 4, 5)}


@pytest.mark.parametrize("flag", mutants.flags(mutants.LINEAR_BACKWARD))
def test_linear_backward_bug_is_recognised(flag):
    dZ, A_prev, W, b = linear_inputs(*LINEAR_SHAPES.get(flag, (3, 4, 5)))
    got = mutants.linear_backward_variant(dZ, A_prev, W, b, flag)
    check_hint(diagnose.diagnose_linear_backward(got, dZ, A_prev, W, b), flag)


def test_linear_backward_evidence_names_the_factor():
    dZ, A_prev, W, b = linear_inputs(3, 4, 5)
    got = mutants.linear_backward_variant(dZ, A_prev, W, b, "missing_1_over_m:dW")
    diagnosis = diagnose.diagnose_linear_backward(got, dZ, A_prev, W, b)
    assert diagnosis.evidence.startswith("your dW equals the expected value times m = 5")
    assert diagnosis.evidence.endswith("; dA_prev and db are right")


def test_linear_backward_right_or_random_or_malformed_gives_none():
    dZ, A_prev, W, b = linear_inputs(3, 4, 5)
    correct = mutants.linear_backward_variant(dZ, A_prev, W, b)
    assert diagnose.diagnose_linear_backward(correct, dZ, A_prev, W, b) is None
    rng = np.random.default_rng(9)
    random = tuple(rng.standard_normal(np.shape(x)) for x in correct)
    assert diagnose.diagnose_linear_backward(random, dZ, A_prev, W, b) is None
    assert diagnose.diagnose_linear_backward("oops", dZ, A_prev, W, b) is None
    assert diagnose.diagnose_linear_backward((None, "x", 3), dZ, A_prev, W, b) is None


def test_linear_backward_bug_in_one_output_needs_the_others_right():
    dZ, A_prev, W, b = linear_inputs(3, 4, 5)
    dA_prev, dW, db = mutants.linear_backward_variant(dZ, A_prev, W, b, "missing_1_over_m:both")
    assert diagnose.diagnose_linear_backward((dA_prev * 2, dW, db), dZ, A_prev, W, b) is None
    # An output the student did not return does not block the match.
    diagnosis = diagnose.diagnose_linear_backward((None, dW, db), dZ, A_prev, W, b)
    assert diagnosis.bug_id == "missing_1_over_m"


# ---------------------------------------------------------------- L-layer gradients


# Networks that make each bug shape-valid and visible: widths that broadcast for the
# wrong-layer masks, m == n_prev where a missing transpose only then runs.
GRAD_NETWORKS = {"relu_mask_wrong_layer:Z_next": ([3, 3, 3, 1], 6, 0),
                 "relu_mask_wrong_layer:A_prev": ([3, 3, 3, 1], 6, 0),
                 "dA_prev_missing_transpose:transposed_product": ([4, 4, 1], 4, 2),
                 "dW_missing_transpose:no_transpose": ([4, 4, 4, 1], 4, 0)}
# W @ dZ needs the output layer's W (1, n_{L-1}) to be square, so the bug can only
# show as an exception (see the exception tests) on any network with more than one unit.
UNREACHABLE = {"dA_prev_missing_transpose:no_transpose"}


@pytest.mark.parametrize("flag", [f for f in mutants.flags(mutants.GRADS) if f not in UNREACHABLE])
def test_gradient_bug_is_recognised(flag):
    dims, m, seed = GRAD_NETWORKS.get(flag, ([2, 5, 3, 1], 7, 0))
    X, Y, params = network(dims, m, seed)
    got = mutants.grads_variant(X, Y, params, flag)
    check_hint(diagnose.diagnose_grads(got, X, Y, params), flag)


def test_unreachable_gradient_bug_raises_instead():
    X, Y, params = network([2, 5, 3, 1], 7)
    with pytest.raises(ValueError):
        mutants.grads_variant(X, Y, params, "dA_prev_missing_transpose:no_transpose")


def test_gradient_evidence_says_the_factor_and_what_is_right():
    X, Y, params = network([2, 5, 3, 1], 7)
    diagnosis = diagnose.diagnose_grads(mutants.grads_variant(X, Y, params, "missing_1_over_m:dW"), X, Y, params)
    assert "dW1, dW2 and dW3 equals the expected value times m = 7" in diagnosis.evidence
    assert "db1, db2 and db3 are right" in diagnosis.evidence
    skipped = mutants.grads_variant(X, Y, params, "first_layer_skipped:missing")
    assert set(skipped) == {"dW2", "db2", "dW3", "db3"}
    assert "dW2..db3 are right" in diagnose.diagnose_grads(skipped, X, Y, params).evidence


def test_extra_keys_and_right_gradients_give_none():
    X, Y, params = network([2, 5, 3, 1], 7)
    grads = mutants.grads_variant(X, Y, params)
    grads.update(dA1=np.ones((5, 7)), dZ3=np.zeros((1, 7)))
    assert diagnose.diagnose_grads(grads, X, Y, params) is None
    assert diagnose.diagnose_grads(["not", "a", "dict"], X, Y, params) is None


def test_one_wrong_layer_is_localised():
    X, Y, params = network([2, 5, 3, 1], 7)
    grads = mutants.grads_variant(X, Y, params)
    rng = np.random.default_rng(3)
    grads["dW1"] = rng.standard_normal(grads["dW1"].shape)
    grads["db1"] = rng.standard_normal(grads["db1"].shape)
    diagnosis = diagnose.diagnose_grads(grads, X, Y, params)
    assert diagnosis.bug_id == "localised"
    assert diagnosis.evidence.startswith("dW1 and db1 are wrong; dW2..db3 are right")
    assert "from layer 2 back to layer 1" in diagnosis.hint and "(Z[1] > 0)" in diagnosis.hint


def test_one_wrong_dW_points_at_its_formula_with_the_generic_relation():
    X, Y, params = network([2, 5, 3, 1], 7)
    grads = mutants.grads_variant(X, Y, params)
    grads["dW2"] = grads["dW2"] * 2.5
    diagnosis = diagnose.diagnose_grads(grads, X, Y, params)
    assert diagnosis.bug_id == "localised"
    assert "Only dW2" in diagnosis.hint and "A[1].T" in diagnosis.hint
    assert "dW2 equals the expected value times 2.5" in diagnosis.evidence


def test_wrong_output_layer_is_localised():
    X, Y, params = network([2, 5, 3, 1], 7)
    rng = np.random.default_rng(4)
    grads = {k: rng.standard_normal(v.shape) for k, v in mutants.grads_variant(X, Y, params).items()}
    diagnosis = diagnose.diagnose_grads(grads, X, Y, params)
    assert diagnosis.bug_id == "localised"
    assert "output layer" in diagnosis.hint and "dZ[3] = A[3] - Y" in diagnosis.hint


# ---------------------------------------------------------------- forward and cost


@pytest.mark.parametrize("flag", mutants.flags(mutants.FORWARD))
def test_forward_bug_is_recognised(flag):
    X, Y, params = network([2, 5, 3, 1], 12)
    AL = mutants.forward_variant(X, params, flag)[0]
    check_hint(diagnose.diagnose_forward(AL, X, params), flag)


def test_forward_right_or_random_gives_none():
    X, Y, params = network([2, 5, 3, 1], 12)
    AL = mutants.forward_variant(X, params)[0]
    assert diagnose.diagnose_forward(AL, X, params) is None
    assert diagnose.diagnose_forward(np.random.default_rng(1).random(AL.shape), X, params) is None
    assert diagnose.diagnose_forward(None, X, params) is None


@pytest.mark.parametrize("flag", mutants.flags(mutants.COST))
def test_cost_bug_is_recognised_without_revealing_the_cost(flag):
    X, Y, params = network([2, 5, 3, 1], 7)
    AL = mutants.forward_variant(X, params)[0]
    diagnosis = diagnose.diagnose_cost(mutants.cost_variant(AL, Y, flag), AL, Y)
    check_hint(diagnosis, flag)
    correct = mutants.cost_variant(AL, Y)
    for digits in (f"{correct:.2f}", f"{correct:.3g}"):
        assert digits not in diagnosis.hint + diagnosis.evidence


def test_cost_as_an_array_is_not_scalar():
    X, Y, params = network([2, 5, 3, 1], 7)
    AL = mutants.forward_variant(X, params)[0]
    correct = mutants.cost_variant(AL, Y)
    boxed = diagnose.diagnose_cost(np.array([[correct]]), AL, Y)
    assert boxed.bug_id == "cost_not_scalar" and "(1, 1)" in boxed.evidence
    per_example = -(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / 7
    unsummed = diagnose.diagnose_cost(per_example, AL, Y)
    assert unsummed.bug_id == "cost_not_scalar" and "one value per example" in unsummed.evidence
    assert diagnose.diagnose_cost(correct, AL, Y) is None
    assert diagnose.diagnose_cost(np.float32(correct), AL, Y) is None
    assert diagnose.diagnose_cost(correct + 0.123, AL, Y) is None
    assert diagnose.diagnose_cost("0.5", AL, Y) is None


# ---------------------------------------------------------------- exceptions, as NumPy raises them


def raised(expression):
    """(type name, message) of what running `expression` raises."""
    try:
        expression()
    except Exception as exc:  # the point is to capture NumPy's and Python's real messages
        return type(exc).__name__, str(exc)
    raise AssertionError("expected the expression to raise")


def test_matmul_errors_in_linear_backward_tell_dW_from_dA_prev():
    dZ, A_prev, W, _ = linear_inputs(3, 4, 5)
    shapes = {"arg0": list(dZ.shape)}
    for expression, bug_id in ((lambda: dZ @ A_prev, "dW_missing_transpose"),
                               (lambda: np.dot(dZ, A_prev), "dW_missing_transpose"),
                               (lambda: W @ dZ, "dA_prev_missing_transpose")):
        kind, message = raised(expression)
        diagnosis = diagnose.diagnose_exception("linear_backward", kind, message, shapes)
        assert diagnosis.bug_id == bug_id
        assert HINT_MENTIONS[bug_id] in diagnosis.hint
    kind, message = raised(lambda: W @ dZ)
    assert diagnose.diagnose_exception("L_layer_backward", kind, message, {}).bug_id == "missing_transpose"


def test_broadcast_errors_in_backward():
    rng = np.random.default_rng(0)
    dA1, Z1, Z2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.standard_normal((3, 4))
    kind, message = raised(lambda: dA1.T * (Z1 > 0))  # dA_prev = dZ.T @ W, then the mask
    assert "(4,5) (5,4)" in message
    transposed = diagnose.diagnose_exception("L_layer_backward", kind, message, {})
    assert transposed.bug_id == "dA_prev_missing_transpose"
    kind, message = raised(lambda: dA1 * (Z2 > 0))  # the mask of layer 2 applied to layer 1
    assert diagnose.diagnose_exception("L_layer_backward", kind, message, {}).bug_id == "relu_mask_wrong_layer"
    dZ, A_prev, _, _ = linear_inputs(3, 4, 5)
    kind, message = raised(lambda: dZ * A_prev.T)
    elementwise = diagnose.diagnose_exception("linear_backward", kind, message, {"arg0": [4, 5]})
    assert elementwise.bug_id == "elementwise_instead_of_matmul" and "@" in elementwise.hint


def test_forward_shape_errors():
    _, A_prev, W, _ = linear_inputs(3, 4, 5)
    kind, message = raised(lambda: W * A_prev)
    assert diagnose.diagnose_exception("linear_forward", kind, message, {}).bug_id == "elementwise_instead_of_matmul"
    kind, message = raised(lambda: A_prev @ W)
    order = diagnose.diagnose_exception("linear_forward", kind, message, {"arg0": [3, 5], "arg1": [4, 3]})
    assert order.bug_id == "forward_product_order" and "W[l] @ A[l-1] + b[l]" in order.hint


def test_key_index_name_and_type_errors():
    params = {"W1": 1, "b1": 1, "W2": 1, "b2": 1}
    cases = [
        ("L_layer_backward", lambda: params["W3"], "layer_index_off_by_one", "len(params) // 2"),
        ("L_layer_forward", lambda: params["W0"], "layer_index_off_by_one", "W1..WL"),
        ("gradient_check", lambda: {"dW2": 1}["dW1"], "first_layer_skipped", "l = 1"),
        ("gradient_check", lambda: {"dW1": 1}["db2"], "gradient_key_missing", "grads['db' + str(l)]"),
        ("L_layer_backward", lambda: {}["dA2"], "dA_key_mismatch", "dA_prev"),
        ("L_layer_backward", lambda: [1, 2][2], "layer_index_off_by_one", "caches[l - 1]"),
        ("linear_forward", lambda: eval("np.zeros(3)", {}), "missing_import", "import numpy as np"),
        ("L_layer_forward", lambda: eval("sigmoid(1)", {}), "undefined_name", "`sigmoid` is not defined"),
        ("L_layer_forward", lambda: exec("Z, cache = None", {}), "missing_return", "return"),
        ("linear_backward", lambda: exec("A_prev, W, b = (1, 2)", {}), "cache_format", "unpack"),
    ]
    for function, expression, bug_id, mention in cases:
        kind, message = raised(expression)
        diagnosis = diagnose.diagnose_exception(function, kind, message, {})
        assert diagnosis is not None and diagnosis.bug_id == bug_id, (function, message)
        assert mention in diagnosis.hint, (bug_id, diagnosis.hint)


def test_axis_error_with_a_qualified_type_name():
    try:
        np.sum(np.ones(3), axis=1)
    except Exception as exc:
        qualified = f"{type(exc).__module__}.{type(exc).__name__}"
        diagnosis = diagnose.diagnose_exception("linear_backward", qualified, str(exc), {"arg0": [3]})
    assert diagnosis.bug_id == "flattened_array" and "keepdims=True" in diagnosis.hint


def test_unrelated_exceptions_give_none():
    kind, message = raised(lambda: 1 / 0)
    assert diagnose.diagnose_exception("linear_forward", kind, message, {}) is None
    kind, message = raised(lambda: {}["learning_rate"])
    assert diagnose.diagnose_exception("train", kind, message, {}) is None
    assert diagnose.diagnose_exception("train", "RuntimeError", "", {}) is None


# ---------------------------------------------------------------- generic fallback


def test_diagnose_array_generic_relations():
    rng = np.random.default_rng(5)
    dW = rng.standard_normal((4, 3))
    db = rng.standard_normal((4, 1))
    cases = [
        ("dW2", dW.T, "is the transpose of the expected value", "A[l-1].T"),
        ("dW2", rng.standard_normal((3, 4)), "transposed shape (3, 4) instead of (4, 3)", ".T"),
        ("dW2", dW * 6, "times m = 6", "Divide by m"),
        ("dW2", dW / 6, "divided by m = 6", "only once"),
        ("dW2", -dW, "sign flipped", "A[L] - Y"),
        ("dW2", np.zeros_like(dW), "is all zeros", "(1/m) dZ[l] @ A[l-1].T"),
        ("dW2", np.where(dW > 0, np.nan, dW), "NaN or inf", "log(0)"),
        ("dW2", dW * 2.5, "times 2.5", "constant factor"),
        ("db1", rng.standard_normal((1, 6)), "one value per example", "axis=1"),
        ("db1", np.float64(0.3), "single number", "axis=1"),
        ("db1", db.ravel(), "shape (4,) instead of (4, 1)", "keepdims=True"),
        ("db1", db.T, "is the transpose of the expected value", "column of shape (n_l, 1)"),
    ]
    for name, got, relation, advice in cases:
        expected = db if name == "db1" else dW
        text = diagnose.diagnose_array(name, got, expected, m=6)
        assert text is not None and text.startswith(f"Your {name} "), (name, relation)
        assert relation in text and advice in text, text
    assert diagnose.diagnose_array("dW2", dW, dW, m=6) is None
    assert diagnose.diagnose_array("dW2", rng.standard_normal((4, 3)), dW, m=6) is None
    assert diagnose.diagnose_array("dW2", "abc", dW, m=6) is None
    assert diagnose.diagnose_array("cost", 1.7, 0.7, m=6) is None  # a lone number is a multiple of any other


def test_a_huge_wrong_gradient_is_judged_by_its_shape_without_float_copies():
    """A 48 MB uint8 "dW1" cost the grading process 760 MB: each mutant compared a float copy of it."""
    import tracemalloc
    X, Y, params = network([2, 5, 3, 1], 7)
    got = mutants.grads_variant(X, Y, params, "missing_1_over_m:dW")
    got["dW1"] = np.ones(16 * 2**20, dtype=np.uint8)
    tracemalloc.start()
    try:
        diagnosis = diagnose.diagnose_grads(got, X, Y, params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.0f} MB allocated while diagnosing"
    assert diagnosis is None or "dW1" in diagnosis.evidence

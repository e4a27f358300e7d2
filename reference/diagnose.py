"""Turn a student's wrong output into a targeted hint by testing known bug patterns.

Trusted side only: every function here receives the student's outputs as
plain values (arrays, floats, dicts) and recomputes what each known bug
("mutant", `reference.mutants`) would have produced on the same inputs. It
never runs student code.

Matching rule. A mutant matches when every output the bug changes on these
inputs agrees with the student's (same shape, ``np.allclose`` with
``rtol=1e-5, atol=1e-8``: loose enough for float32 work, far tighter than any
bug's effect) and every output it leaves alone agrees with the correct one
wherever the student returned it. A mutant that changes nothing on these
inputs (``missing_1_over_m`` with m = 1) or that is not shape-valid on them
(a missing transpose on a non-square W) is skipped. The first match in
`reference.mutants.BUGS` order wins; each `Bug.visible_when` says which
inputs tell a bug apart, and choosing such inputs is the caller's job.

A `Diagnosis` carries a bug id from `BUGS`, except ``"localised"``: the
fallback of `diagnose_grads` that names the layer where a wrong gradient
first appears when no known bug matches. `diagnose_array` is the generic
fallback for one array (transposed, off by m, sign, zeros, NaN, a factor).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from reference import mutants
from reference.mutants import BUGS

# Loose enough for a student's float32 work, far tighter than any bug's effect.
RTOL = 1e-5
ATOL = 1e-8

# An output the student (or a mutant) did not return at all.
_MISSING = object()

_LINEAR_NAMES = ("dA_prev", "dW", "db")


@dataclass
class Diagnosis:
    """A recognised bug: its id, the student-facing hint, and the short evidence that points to it."""

    bug_id: str
    hint: str
    evidence: str = ""

    def __str__(self) -> str:
        """The hint as a check shows it, with its evidence."""
        return f"{self.hint} ({self.evidence})" if self.evidence else self.hint


# ---------------------------------------------------------------- comparisons


def _as_array(value: Any, like: np.ndarray | None = None) -> np.ndarray | None:
    """`value` as a float array (None when it is not numbers). Given `like` (the expected array), a numeric
    value of another shape comes back as it is: only its shape is compared then, and a float copy of a huge
    wrong answer (a 48 MB uint8 "gradient") would cost the grading process eight times its size per mutant."""
    if value is None or value is _MISSING or isinstance(value, (str, bytes, dict)):
        return None
    if like is not None and isinstance(value, np.ndarray) and value.dtype.kind in "biuf" \
            and value.shape != like.shape:
        return value
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _agrees(got: Any, want: Any) -> bool:
    """Same shape and allclose (RTOL, ATOL); two missing outputs agree."""
    if got is _MISSING or want is _MISSING:
        return got is want
    b = _as_array(want)
    a = _as_array(got, like=b)
    if a is None or b is None or a.shape != b.shape or not np.all(np.isfinite(b)):
        return False
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _affected_if_match(got: dict, mutant: dict, correct: dict) -> list[str] | None:
    """The outputs the mutant changes, if the student's outputs match it; None otherwise."""
    affected = []
    for key, right in correct.items():
        want = mutant.get(key, _MISSING)
        student = got.get(key, _MISSING)
        if not _agrees(want, right):
            if not _agrees(student, want):
                return None
            affected.append(key)
        elif student is not _MISSING and not _agrees(student, right):
            return None
    return affected or None


def _first_match(function: str, compute: Callable[[str | None], dict], got: dict,
                 correct: dict) -> tuple[str, list[str]] | None:
    """The first flag (in priority order) whose mutant matches `got`, with the outputs it changes."""
    for flag in mutants.flags(function):
        try:
            with np.errstate(all="ignore"):
                mutant = compute(flag)
        except (ValueError, IndexError, KeyError, FloatingPointError):
            continue  # the bug is not shape-valid on these inputs, so it cannot be what the student did
        affected = _affected_if_match(got, mutant, correct)
        if affected:
            return flag, affected
    return None


def _known_bug(function: str, compute: Callable[[str | None], dict], got: dict, correct: dict, m: int | None,
               what: str = "the values computed with") -> Diagnosis | None:
    """The diagnosis of the first known bug of `function` whose mutant matches `got`, with its evidence."""
    match = _first_match(function, compute, got, correct)
    if match is None:
        return None
    flag, affected = match
    bug_id, _ = mutants.split_flag(flag)
    return Diagnosis(bug_id, BUGS[bug_id].hint, _evidence(got, correct, affected, flag, m, what))


# ---------------------------------------------------------------- relations


def _classify(got: Any, expected: Any, m: int | None) -> tuple[str, str] | None:
    """How one output relates to its expected value: (kind, predicate), e.g.
    ("times_m", "equals the expected value times m = 7"); None when no simple relation holds."""
    if got is _MISSING:
        return "missing", "is missing"
    e = _as_array(expected)
    a = _as_array(got, like=e)
    if a is None or e is None:
        return None
    if a.shape != e.shape:
        return _classify_shape(a, e, m)
    if not np.all(np.isfinite(a)):
        return "nonfinite", "contains NaN or inf"
    if not np.any(e) or np.allclose(a, e, rtol=RTOL, atol=ATOL):
        return None
    if not np.any(a):
        return "zeros", "is all zeros"
    if np.allclose(a, -e, rtol=RTOL, atol=ATOL):
        return "sign", "equals the expected value with its sign flipped"
    factor = float(np.sum(a * e) / np.sum(e * e))
    if not np.allclose(a, factor * e, rtol=RTOL, atol=ATOL):
        return None
    if m and m > 1:
        for kind, value, words in (("times_m", m, f"times m = {m}"), ("over_m", 1 / m, f"divided by m = {m}"),
                                   ("times_m2", m * m, f"times m^2 = {m * m}"),
                                   ("over_m2", 1 / (m * m), f"divided by m^2 = {m * m}")):
            if math.isclose(factor, value, rel_tol=1e-6):
                return kind, f"equals the expected value {words}"
    if e.size == 1:
        return None  # any number is a multiple of a single number: a factor says nothing here
    return "factor", f"equals the expected value times {factor:.3g}"


def _classify_shape(a: np.ndarray, e: np.ndarray, m: int | None) -> tuple[str, str]:
    got, want = tuple(a.shape), tuple(e.shape)
    if e.ndim == 2 and want[1] == 1 and want[0] > 1:
        # A column vector like b: the ways a sum over dZ goes wrong.
        if got == (1, m) or (m is None and a.ndim == 2 and got[0] == 1):
            return "db_axis0", f"has shape {got} instead of {want}: one value per example, not per unit"
        if a.size == 1:
            return "db_all", f"is a single number instead of shape {want}"
        if got == (want[0],):
            return "db_keepdims", f"has shape {got} instead of {want}"
    if a.ndim == 2 and got == want[::-1]:
        if np.allclose(a, e.T, rtol=RTOL, atol=ATOL):
            return "transposed", "is the transpose of the expected value"
        return "transposed_shape", f"has the transposed shape {got} instead of {want}"
    return "shape", f"has shape {got} instead of {want}"


# Relations precise enough to be the evidence for a matched bug by themselves.
_SIMPLE_KINDS = {"missing", "db_axis0", "db_all", "db_keepdims", "transposed", "transposed_shape", "zeros",
                 "sign", "times_m", "over_m", "times_m2", "over_m2"}


def _key_order(key: str) -> tuple[int, int]:
    digits = re.search(r"(\d+)$", key)
    return (int(digits.group(1)) if digits else 0, 0 if key.startswith("dW") else 1)


def _names(keys: list[str], canonical: list[str]) -> str:
    """``dW1``, ``dW1 and db1``, ``dW1, db1 and dW2``, or a run ``dW2..db3`` of canonical order."""
    keys = sorted(keys, key=canonical.index) if all(k in canonical for k in keys) else list(keys)
    if len(keys) >= 3 and all(k in canonical for k in keys):
        first = canonical.index(keys[0])
        if keys == canonical[first:first + len(keys)]:
            return f"{keys[0]}..{keys[-1]}"
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"


def _evidence(got: dict, correct: dict, affected: list[str], flag: str, m: int | None,
              what: str = "the values computed with") -> str:
    """``your dW2 equals the expected value times m = 7``, or ``your dW1 and db1 match <bug>``."""
    bug_id, variant = mutants.split_flag(flag)
    canonical = list(correct)
    relations = [_classify(got.get(k, _MISSING), correct[k], m) for k in affected]
    subject = _names(affected, canonical)
    if all(r is not None and r[0] in _SIMPLE_KINDS for r in relations) and len({r[1] for r in relations}) == 1:
        text = f"your {subject} {relations[0][1]}" if len(affected) == 1 else f"each of your {subject} {relations[0][1]}"
    else:
        verb = "matches" if len(affected) == 1 else "match"
        text = f"your {subject} {verb} {what} {BUGS[bug_id].describe(variant)}"
    right = [k for k in canonical if k not in affected and got.get(k, _MISSING) is not _MISSING]
    if right and len(canonical) > 1:
        text += f"; {_names(right, canonical)} {'is' if len(right) == 1 else 'are'} right"
    return text


# ---------------------------------------------------------------- mutant matchers


def diagnose_linear_backward(got: Any, dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray,
                             b: np.ndarray) -> Diagnosis | None:
    """The known bug that explains the student's ``(dA_prev, dW, db)`` for these inputs, or None.

    `got` is what the student's linear_backward returned; any element may
    have a wrong shape or be a non-array (None counts as not returned).
    Inputs that expose the bugs: m > 1 (scale bugs), n_prev != m (m taken
    from the features, transposed dA_prev), n != n_prev (transposed dW),
    n > 1 (db summed over everything).
    """
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None
    student = {name: (_MISSING if value is None else value) for name, value in zip(_LINEAR_NAMES, got)}

    def compute(flag):
        return dict(zip(_LINEAR_NAMES, mutants.linear_backward_variant(dZ, A_prev, W, b, flag)))

    return _known_bug(mutants.LINEAR_BACKWARD, compute, student, compute(None), A_prev.shape[1])


def diagnose_forward(got_AL: Any, X: np.ndarray, params: dict) -> Diagnosis | None:
    """The known forward-pass bug that explains the student's AL, or None.

    Non-zero biases expose a missing bias; at least 2 layers expose the
    hidden activation bugs; n_{L-1} == 1 is needed for a skipped output
    layer to give AL the right shape (otherwise the shape already says it).
    """
    student = {"AL": _MISSING if got_AL is None else got_AL}

    def compute(flag):
        return {"AL": mutants.forward_variant(X, params, flag)[0]}

    return _known_bug(mutants.FORWARD, compute, student, compute(None), X.shape[1], what="AL computed with")


def diagnose_grads(got_grads: Any, X: np.ndarray, Y: np.ndarray, params: dict) -> Diagnosis | None:
    """The known bug behind the student's gradients, else the layer where they first go wrong; None if right.

    Only the ``dW<l>``/``db<l>`` keys of `got_grads` are read (extra keys are
    allowed). Inputs that expose the bugs: m > 1, n_x != m, at least 3
    layers of different widths, non-zero biases, Y with both classes (see
    each bug's ``visible_when``).
    """
    if not isinstance(got_grads, dict):
        return None
    L = mutants.depth(params)
    canonical = [f"d{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]
    student = {key: got_grads[key] for key in canonical if key in got_grads and got_grads[key] is not None}

    def compute(flag):
        return mutants.grads_variant(X, Y, params, flag)

    reference_grads = compute(None)
    correct = {key: reference_grads[key] for key in canonical}
    return (_known_bug(mutants.GRADS, compute, student, correct, Y.shape[1])
            or _localise(student, correct, L, Y.shape[1]))


def _localise(student: dict, correct: dict, L: int, m: int) -> Diagnosis | None:
    """Name the first layer (in backward order) whose gradients are wrong, and the step that computes it."""
    canonical = list(correct)
    missing = [k for k in canonical if k not in student]
    wrong = [k for k in canonical if k in student and not _agrees(student[k], correct[k])]
    bad = set(missing) | set(wrong)
    if not bad:
        return None
    top = max(_key_order(k)[0] for k in bad)
    dW_bad, db_bad = f"dW{top}" in bad, f"db{top}" in bad
    below_right = all(_key_order(k)[0] >= top for k in bad)
    if dW_bad and not db_bad and below_right:
        hint = (f"Only dW{top} is off: dW[{top}] = (1/m) dZ[{top}] @ A[{top - 1}].T needs the input of layer {top} "
                f"(A[{top - 1}]{', i.e. X' if top == 1 else ''}) from the cache, transposed.")
    elif db_bad and not dW_bad and below_right:
        hint = (f"Only db{top} is off: db[{top}] = (1/m) np.sum(dZ[{top}], axis=1, keepdims=True), "
                f"the shape of b{top}.")
    elif top == L:
        hint = (f"The output layer's gradients are already wrong: dZ[{L}] = A[{L}] - Y, then "
                f"dW[{L}] = (1/m) dZ[{L}] @ A[{L - 1}].T and db[{L}] = (1/m) np.sum(dZ[{L}], axis=1, keepdims=True).")
    else:
        hint = (f"The layers above {top} are right, so the bug is in the step that goes from layer {top + 1} back "
                f"to layer {top}: dA[{top}] = W[{top + 1}].T @ dZ[{top + 1}], then the ReLU mask "
                f"dZ[{top}] = dA[{top}] * (Z[{top}] > 0) with layer {top}'s own Z.")
    parts = []
    if wrong:
        parts.append(f"{_names(wrong, canonical)} {'is' if len(wrong) == 1 else 'are'} wrong")
    if missing:
        parts.append(f"{_names(missing, canonical)} {'is' if len(missing) == 1 else 'are'} missing")
    right = [k for k in canonical if k not in bad]
    if right:
        parts.append(f"{_names(right, canonical)} {'is' if len(right) == 1 else 'are'} right")
    first = f"dW{top}" if dW_bad else f"db{top}"
    relation = _classify(student.get(first, _MISSING), correct[first], m)
    if relation is not None and relation[0] not in ("missing", "nonfinite"):
        parts.append(f"{first} {relation[1]}")
    return Diagnosis("localised", hint, "; ".join(parts))


def diagnose_cost(got: Any, AL: np.ndarray, Y: np.ndarray) -> Diagnosis | None:
    """The known cost bug that explains the student's cost, or None.

    A right value returned as an array (shape (1, 1), or one loss per
    example) is ``cost_not_scalar``. m > 1 exposes a missing mean; Y with
    both classes exposes a missing term.
    """
    if got is None or isinstance(got, (bool, str, bytes)):
        return None
    value = _as_array(got, like=np.empty(()))
    if value is None:
        return None
    with np.errstate(all="ignore"):
        correct = mutants.cost_variant(AL, Y)
    not_scalar = BUGS["cost_not_scalar"].hint
    if value.ndim > 0 and value.size != 1:
        per_example = " (one value per example: sum over them)" if value.size == Y.shape[1] else ""
        return Diagnosis("cost_not_scalar", not_scalar, f"your cost has shape {value.shape}{per_example}")
    if value.ndim > 0 and math.isclose(value.item(), correct, rel_tol=RTOL, abs_tol=ATOL):
        return Diagnosis("cost_not_scalar", not_scalar, f"your cost is an array of shape {value.shape}; "
                                                        f"its value is right")
    return _known_bug(mutants.COST, lambda flag: {"cost": np.asarray(mutants.cost_variant(AL, Y, flag))},
                      {"cost": value.reshape(())}, {"cost": np.asarray(correct)}, Y.shape[1],
                      what="the cost computed with")


# ---------------------------------------------------------------- exceptions


def _diagnosis(bug_id: str, evidence: str, lead: str = "") -> Diagnosis:
    return Diagnosis(bug_id, f"{lead}{BUGS[bug_id].hint}", evidence)


def _shape_of(arg_shapes: dict, *names: str) -> tuple | None:
    for name in names:
        value = arg_shapes.get(name)
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
            return tuple(value)
    return None


def exception_hint(function_name: str, exc_type_name: str, message: str, arg_shapes: dict[str, tuple]) -> str | None:
    """The assignment hook ``exception_hint``: the hint for an exception the student's function raised, or None."""
    diagnosis = diagnose_exception(function_name, exc_type_name, message, arg_shapes)
    return diagnosis.hint if diagnosis else None


def diagnose_exception(function_name: str, exc_type_name: str, message: str,
                       arg_shapes: dict[str, tuple]) -> Diagnosis | None:
    """The likely bug behind an exception the student's function raised, or None.

    `exc_type_name` may be qualified (``numpy.exceptions.AxisError``);
    `message` is ``str(exception)``; `arg_shapes` maps argument names (or
    ``arg0``, ``arg1``, ... in call order) to the shapes of the array
    arguments, used to tell a missing transpose in dW from one in dA_prev.
    """
    kind = exc_type_name.rsplit(".", 1)[-1]
    message = message or ""
    function = function_name or ""
    backward = "backward" in function
    forward = "forward" in function
    where = f"{kind} in {function}"

    if kind == "NameError":
        name = re.search(r"name '([^']+)' is not defined", message)
        if name and name.group(1) in ("np", "numpy"):
            return _diagnosis("missing_import", f"{where}: `{name.group(1)}` is not defined")
        if name:
            return _diagnosis("undefined_name", f"{where}: `{name.group(1)}` is not defined",
                              lead=f"`{name.group(1)}` is not defined. ")
        return None
    if kind == "AxisError" or "out of bounds for array of dimension 1" in message:
        return _diagnosis("flattened_array", f"{where}: {message}")
    if kind == "KeyError":
        return _key_error(message.strip().strip("'\""), where)
    if kind == "IndexError" and re.search(r"(list|tuple) index out of range", message) and (backward or forward):
        return _diagnosis("layer_index_off_by_one", f"{where}: an index past the end of the caches")
    if kind == "TypeError" and "NoneType" in message:
        return _diagnosis("missing_return", f"{where}: {message}")
    if kind == "ValueError" and re.search(r"(not enough|too many) values to unpack", message) and backward:
        return _diagnosis("cache_format", f"{where}: {message}")
    if kind == "ValueError":
        sizes = _matmul_sizes(message)
        if sizes is not None:
            return _matmul_error(function, backward, forward, sizes, arg_shapes or {}, where)
        shapes = _broadcast_shapes(message)
        if shapes is not None:
            return _broadcast_error(function, backward, forward, shapes, where)
    return None


def _key_error(key: str, where: str) -> Diagnosis | None:
    parsed = re.fullmatch(r"(dW|db|dA|W|b)(\d+)", key)
    if parsed is None:
        return None
    prefix, layer = parsed.group(1), int(parsed.group(2))
    if prefix in ("W", "b"):
        return _diagnosis("layer_index_off_by_one", f"{where}: params has no key '{key}'")
    if prefix == "dA":
        return _diagnosis("dA_key_mismatch", f"{where}: no '{key}' was stored")
    if layer == 1:
        return _diagnosis("first_layer_skipped", f"{where}: grads has no '{key}'")
    return _diagnosis("gradient_key_missing", f"{where}: grads has no '{key}'")


def _matmul_sizes(message: str) -> tuple[int, int] | None:
    """(operand 1's leading size, operand 0's trailing size) of a failed matmul or np.dot."""
    found = re.search(r"size (\d+) is different from (\d+)", message)
    if found and "matmul" in message:
        return int(found.group(1)), int(found.group(2))
    found = re.search(r"shapes \(([\d, ]*)\) and \(([\d, ]*)\) not aligned", message)
    if found:
        left = [int(s) for s in found.group(1).split(",") if s.strip()]
        right = [int(s) for s in found.group(2).split(",") if s.strip()]
        if left and right:
            return right[0], left[-1]
    return None


def _matmul_error(function, backward, forward, sizes, arg_shapes, where) -> Diagnosis | None:
    inner_right, inner_left = sizes
    evidence = f"{where}: a matrix product's inner sizes differ ({inner_left} vs {inner_right})"
    if forward:
        return _diagnosis("forward_product_order", evidence)
    if not backward:
        return None
    dZ = _shape_of(arg_shapes, "dZ", "arg0") if function == "linear_backward" else None
    if dZ is not None and len(dZ) == 2:
        n, m = dZ
        # W @ dZ fails with dZ (n, m) on the right; dZ @ A_prev fails with dZ's m on the left.
        if inner_right == n and inner_left != m:
            return _diagnosis("dA_prev_missing_transpose", evidence)
        if inner_left == m and inner_right != n:
            return _diagnosis("dW_missing_transpose", evidence)
    return _diagnosis("missing_transpose", evidence)


def _broadcast_shapes(message: str) -> list[tuple[int, ...]] | None:
    found = re.search(r"could not be broadcast together with shapes (.*)", message)
    if not found:
        return None
    shapes = [tuple(int(s) for s in group.split(",") if s.strip())
              for group in re.findall(r"\(([\d,\s]*)\)", found.group(1))]
    return shapes if len(shapes) == 2 else None


def _broadcast_error(function, backward, forward, shapes, where) -> Diagnosis | None:
    s, t = shapes
    evidence = f"{where}: elementwise operation on shapes {s} and {t}"
    if len(s) != 2 or len(t) != 2:
        return None
    chained = s[1] == t[0] or t[1] == s[0]
    if function == "linear_backward" or (forward and chained):
        return _diagnosis("elementwise_instead_of_matmul", evidence)
    if not backward:
        return None
    if s == t[::-1]:
        return _diagnosis("dA_prev_missing_transpose", evidence)
    if s[1] == t[1] and s[0] != t[0]:
        return _diagnosis("relu_mask_wrong_layer", evidence)
    if chained:
        return _diagnosis("elementwise_instead_of_matmul", evidence)
    return None


# ---------------------------------------------------------------- generic fallback

_FORMULAS = {
    "dW": "dW[l] = (1/m) dZ[l] @ A[l-1].T",
    "db": "db[l] = (1/m) np.sum(dZ[l], axis=1, keepdims=True)",
    "dA": "dA[l-1] = W[l].T @ dZ[l]",
    "dZ": "dZ[L] = A[L] - Y and dZ[l] = dA[l] * g'(Z[l])",
    "Z": "Z[l] = W[l] @ A[l-1] + b[l]",
    "A": "A[l] = g(Z[l]), ReLU in hidden layers and a sigmoid at the output",
    "J": "J = -(1/m) sum(Y log A[L] + (1 - Y) log(1 - A[L]))",
}


def _formula(name: str) -> str | None:
    base = re.sub(r"\d+$", "", name)
    if base in ("cost", "J"):
        return _FORMULAS["J"]
    if base.startswith("dA"):
        return _FORMULAS["dA"]
    if base in ("AL", "A_prev") or base.startswith("A"):
        return _FORMULAS["A"]
    return _FORMULAS.get(base)


def diagnose_array(name: str, got: Any, expected: Any, *, m: int | None = None) -> str | None:
    """A generic hint for one wrong array when no known bug matched, or None.

    Recognises: NaN/inf, a transposed result or shape, db summed over the
    wrong axis / everything / without keepdims, all zeros, a flipped sign,
    an extra factor of m, 1/m, m^2 or 1/m^2 (m given), or another constant
    factor (reported). The hint names the chapter's formula for `name`.
    """
    relation = _classify(got, expected, m)
    if relation is None or relation[0] == "missing":
        return None
    kind, predicate = relation
    formula = _formula(name)
    use = f" Use {formula}." if formula else ""
    # A transposed db is a row where b's column shape is wanted, not a matrix product in the wrong order.
    product_advice = (f" Keep db a column of shape (n_l, 1), like b.{use}" if name.startswith("db")
                      else f" Check the order of the matrix product and its .T.{use}")
    advice = {
        "nonfinite": " Look for log(0) (A[L] exactly 0 or 1), a division by zero, or an overflowing np.exp; "
                     "the chapter's sigmoid 1 / (1 + np.exp(-z)) and a small learning rate keep values finite.",
        "db_axis0": " Sum over the examples with axis=1: db = (1/m) np.sum(dZ, axis=1, keepdims=True).",
        "db_all": " np.sum without an axis adds up every element; sum over axis=1 with keepdims=True.",
        "db_keepdims": " Add keepdims=True so the sum keeps the column shape (n_l, 1).",
        "transposed": product_advice,
        "transposed_shape": product_advice,
        "shape": f" Check the shapes of the factors.{use}" if formula else None,
        "zeros": f" It is never computed or gets overwritten with zeros.{use}",
        "sign": " Check the order of a subtraction: dZ[L] = A[L] - Y, prediction minus label." + use,
        "times_m": f" Divide by m.{use}",
        "over_m": f" Divide by m only once.{use}",
        "times_m2": f" Divide by m instead of multiplying.{use}",
        "over_m2": f" Divide by m only once.{use}",
        "factor": f" A constant factor is off (a stray 2, 0.5, 1/m or a derivative applied twice).{use}",
    }[kind]
    if advice is None:
        return None
    return f"Your {name} {predicate}.{advice}"

"""C4: check_shapes(params, grads) is silent on matching shapes and raises a helpful AssertionError otherwise.

The layer sizes are drawn per run (distinct numbers, so each shape is
recognisable in a message). A mismatch must raise AssertionError whose
message names the gradient's key and both shapes; a bare ``assert`` without a
message earns half of such a check. Printing instead of raising fails: the
caller would carry on with a wrong gradient.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from grader.checking import CheckFailure, kind_of, partial_credit, record

# What an AssertionError with an incomplete message earns: it stops the caller, but does not say why.
INCOMPLETE_MESSAGE_CREDIT = 0.5


def _network(rng: np.random.Generator) -> tuple[dict, dict]:
    """params and matching grads of a 2-layer network whose sizes are three distinct numbers in 2..9."""
    n_x, n_h, n_y = (int(v) for v in rng.choice(np.arange(2, 10), size=3, replace=False))
    shapes = {"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    grads = {"d" + k: rng.standard_normal(s) for k, s in shapes.items()}
    return params, grads


def _mentions_shape(message: str, shape: tuple) -> bool:
    """Whether `message` shows `shape` as (a, b), a x b, [a, b] or, for one dimension, (a,) or [a]."""
    if len(shape) == 2:
        a, b = shape
        return re.search(rf"(?<!\d){a}\s*(,|x|×|\*|by)\s*{b}(?!\d)", message) is not None
    if len(shape) == 1:
        return re.search(rf"[(\[]\s*{shape[0]}\s*,?\s*[)\]]", message) is not None
    return str(shape) in message


def _mentions_key(message: str, key: str) -> bool:
    """Whether `message` names the gradient key (dW1) or its parameter (W1)."""
    return re.search(rf"(?<![A-Za-z0-9_])d?{re.escape(key[1:])}(?![0-9])", message) is not None


def _printed(output: str) -> str:
    text = output.strip()
    return f" It printed {text[:200]!r} instead." if text else ""


@pytest.mark.public
def test_check_shapes_silent_on_matching_shapes(student, ex, rng):
    """check_shapes(params, grads) returns None without raising when every gradient has its parameter's shape"""
    params, grads = _network(rng)
    call = "check_shapes(params, grads) with every grads['d' + k] of params[k]'s shape"
    answer = ex.call_catching(student, "check_shapes", params, grads)
    if answer.raised:
        raise CheckFailure(f"{call} raised {answer.type_name}: {answer.message}",
                           hint="Raise only when a shape differs: compare grads['d' + key].shape with "
                                "params[key].shape for each key of params.")
    if answer.value is not None:
        raise CheckFailure(f"{call} returned {kind_of(answer.value)}; expected None (nothing to report).",
                           hint="When every shape matches, just let the function end (it returns None).")


def test_check_shapes_ignores_extra_gradient_keys(student, ex, rng):
    """check_shapes ignores extra entries in grads (such as dA1) that have no parameter"""
    params, grads = _network(rng)
    grads = dict(grads, dA1=rng.standard_normal((3, 7)), dA0=rng.standard_normal((2, 7)))
    call = "check_shapes(params, grads) with matching shapes and extra keys dA0, dA1 in grads"
    answer = ex.call_catching(student, "check_shapes", params, grads)
    if answer.raised:
        raise CheckFailure(f"{call} raised {answer.type_name}: {answer.message}",
                           hint="A backward pass may return more than dW and db (the lab allows extra keys): "
                                "loop over the keys of params and look up grads['d' + key].")
    if answer.value is not None:
        raise CheckFailure(f"{call} returned {kind_of(answer.value)}; expected None.")


@pytest.mark.parametrize("broken", ["dW1_transposed", "db2_flattened"])
def test_check_shapes_raises_on_mismatch(student, ex, rng, request, broken):
    """check_shapes raises AssertionError naming the key and both shapes when a gradient's shape is wrong"""
    params, grads = _network(rng)
    key = broken.split("_")[0]
    grads[key] = grads[key].T.copy() if broken.endswith("transposed") else grads[key].reshape(-1)
    wrong, right = grads[key].shape, params[key[1:]].shape
    call = f"check_shapes(params, grads) with grads['{key}'] of shape {wrong} for {key[1:]} of shape {right}"
    answer = ex.call_catching(student, "check_shapes", params, grads)
    if not answer.raised:
        raise CheckFailure(f"{call} returned {kind_of(answer.value)}; it must raise AssertionError."
                           + _printed(answer.output),
                           hint=f"raise AssertionError(f\"{key} has shape {{grads['{key}'].shape}} but "
                                f"{key[1:]} has shape {{params['{key[1:]}'].shape}}\"), or use "
                                f"`assert cond, message`.")
    if answer.type_name != "AssertionError":
        raise CheckFailure(f"{call} raised {answer.type_name}: {answer.message}; expected AssertionError.",
                           hint="The exercise asks for an AssertionError: `assert got == expected, message` "
                                "or `raise AssertionError(message)`.")
    # An AssertionError without a message reaches us as just its type name.
    message = "" if answer.message.strip() in ("", "AssertionError") else answer.message
    missing = []
    if not _mentions_key(message, key):
        missing.append(f"the key ({key})")
    if not (_mentions_shape(message, wrong) and _mentions_shape(message, right)):
        missing.append(f"both shapes ({wrong} and {right})")
    record(request, assertion_message=message[:500])
    if missing:
        partial_credit(request, INCOMPLETE_MESSAGE_CREDIT)
        shown = f"the message {message!r}" if message else "no message"
        raise CheckFailure(f"{call} raised AssertionError with {shown}, which does not name "
                           f"{' or '.join(missing)}: half credit.",
                           hint=f"Give the assertion a message: assert g.shape == p.shape, "
                                f"f\"{{grad_key}}: shape {{g.shape}} != {{p.shape}}\".")


def test_check_shapes_missing_gradient(student, ex, rng):
    """check_shapes raises AssertionError or KeyError when a parameter has no gradient"""
    params, grads = _network(rng)
    del grads["db2"]
    call = "check_shapes(params, grads) with no 'db2' in grads"
    answer = ex.call_catching(student, "check_shapes", params, grads)
    if not answer.raised:
        raise CheckFailure(f"{call} returned {kind_of(answer.value)}; it must raise AssertionError (or KeyError)."
                           + _printed(answer.output),
                           hint="Look up grads['d' + key] for every key of params: a missing gradient must stop "
                                "the caller too.")
    if answer.type_name not in ("AssertionError", "KeyError"):
        raise CheckFailure(f"{call} raised {answer.type_name}: {answer.message}; expected AssertionError or "
                           f"KeyError.",
                           hint="Check `'d' + key in grads` and raise AssertionError naming the missing key.")

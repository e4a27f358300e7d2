"""Comparisons that fail with data: shapes, the worst entry, tolerances from the dtype, and a lazy hint."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from grader.checking.failures import CheckFailure


def describe_args(**arrays: Any) -> str:
    """``A_prev (3, 5), W (4, 3)``: the shapes of a call's arguments, for messages."""
    parts = []
    for name, value in arrays.items():
        parts.append(f"{name} {tuple(np.shape(value))}" if isinstance(value, np.ndarray) else f"{name}={value!r}")
    return ", ".join(parts)


def tolerances(got: np.ndarray) -> tuple[float, float]:
    """(rtol, atol) for comparing a student's array: float32 work gets float32 tolerances."""
    if got.dtype == np.float32 or got.dtype == np.float16:
        return 1e-3, 1e-5
    return 1e-5, 1e-8


def as_array(value: Any, *, name: str, call: str) -> np.ndarray:
    """The student's value as a float array, or a CheckFailure saying what it was instead."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return value
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, bool):
        return np.asarray(value, dtype=float)
    raise CheckFailure(f"{call} returned {name} as {kind_of(value)}; expected a NumPy array.",
                       details={"call": call, "name": name, "got_type": kind_of(value)})


def expect_array(got: Any, expected: np.ndarray, *, name: str, call: str,
                 hint: str | Callable[[], str | None] | None = None,
                 rtol: float | None = None, atol: float | None = None) -> None:
    """Fail with shapes, the worst element and a hint unless `got` matches `expected`.

    `hint` may be a function that returns the hint: a diagnosis runs many
    variants of the reference, worth doing only once the values are wrong.
    """
    arr = as_array(got, name=name, call=call)
    details: dict[str, Any] = {"call": call, "name": name, "expected_shape": list(expected.shape),
                               "got_shape": list(arr.shape)}
    if arr.shape != expected.shape:
        transposed = arr.shape == expected.shape[::-1] and arr.ndim == 2
        raise CheckFailure(
            f"{call} returned {name} with shape {arr.shape}; expected shape {expected.shape}"
            + (" (the transpose)." if transposed else "."),
            hint=hint_text(hint), details=details)
    default_rtol, default_atol = tolerances(arr)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise CheckFailure(f"{call} returned {name} with {bad} NaN or infinite value(s).",
                           hint=hint_text(hint) or "NaN usually comes from log(0) or an overflow in exp; check the "
                                        "activations and the cost.", details=details)
    close = np.isclose(arr, expected, rtol=rtol, atol=atol)
    if np.all(close):
        return
    diff = np.abs(arr.astype(float) - expected)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    worst_index = list(int(i) for i in worst)
    details.update({"wrong_entries": int(np.sum(~close)), "entries": int(arr.size),
                    "max_abs_diff": float(diff.max()), "worst_index": worst_index,
                    "expected_at_worst": float(expected[worst]), "got_at_worst": float(arr[worst]),
                    "expected_preview": _preview(expected), "got_preview": _preview(arr)})
    raise CheckFailure(
        f"{call} returned {name} with the right shape {arr.shape} but wrong values: "
        f"{int(np.sum(~close))} of {arr.size} entries differ (tolerance rtol={rtol:g}, atol={atol:g}); "
        f"the largest difference is at {tuple(worst_index)}: expected {float(expected[worst]):.6g}, "
        f"got {float(arr[worst]):.6g}.",
        hint=hint_text(hint), details=details)


def wrong_entries(got: dict, expected: dict, keys: Iterable[str], *, call: str) -> list[tuple[str, CheckFailure]]:
    """``(key, failure)`` for each of `keys` whose entry of `got` `expect_array` rejects, in `keys` order."""
    wrong = []
    for key in keys:
        try:
            expect_array(got[key], expected[key], name=key, call=call)
        except CheckFailure as failure:
            wrong.append((key, failure))
    return wrong


def expect_entries(got: dict, expected: dict, keys: list[str], *, call: str, lead: str,
                   hint: str | Callable[[str, CheckFailure], str | None] | None = None) -> None:
    """Fail once for every entry of `got` (e.g. gradients by key) that differs from `expected`.

    The message is ``{lead} {wrong keys} (right: {the others}). First problem:
    {what expect_array said about the first wrong key}``. `hint` may be a
    function of that first key and its failure; its details are passed on,
    with ``wrong_keys`` added.
    """
    wrong = wrong_entries(got, expected, keys, call=call)
    if not wrong:
        return
    key, first = wrong[0]
    names = [k for k, _ in wrong]
    right = ", ".join(k for k in keys if k not in names) or "none"
    raise CheckFailure(f"{lead} {', '.join(names)} (right: {right}). First problem: {first.message}",
                       hint=hint(key, first) if callable(hint) else hint,
                       details={**first.details, "wrong_keys": names})


def hint_text(hint: str | Callable[[], str | None] | None) -> str | None:
    """The hint itself, computing it first when it was given as a function."""
    return hint() if callable(hint) else hint


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The chapter's ||a - b|| / (||a|| + ||b||) (0 when both are zero)."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom else 0.0


def _preview(arr: np.ndarray, limit: int = 12) -> list:
    flat = np.asarray(arr, dtype=float).ravel()[:limit]
    return [round(float(x), 6) for x in flat]


def kind_of(value: Any) -> str:
    """A short description of a student's value for messages ("a tuple of 3 items")."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} items"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:8]}"
    kind = getattr(value, "kind", None)
    if kind:
        return f"a {kind} object"
    return f"a {type(value).__name__}"


def safe_hint(function: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """The hint ``function(*args, **kwargs)`` gives (its ``str``), or None when it has none or fails.

    Hints are a bonus: a diagnosis that raises must never turn a failed
    check into a grader error, so any exception here means "no hint".
    """
    try:
        result = function(*args, **kwargs)
    except Exception:  # noqa: BLE001
        return None
    return None if result is None else str(result)

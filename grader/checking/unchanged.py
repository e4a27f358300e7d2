"""One invariance check for every "leaves its inputs unchanged" check (after scikit-learn's estimator checks).

What a function did to its inputs is read from memory the trusted side owns,
never taken from the worker's word (issue 11: student code that hooked the
worker's replies passed while mutating its inputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.failures import CheckFailure
from grader.checking.student import StudentCode
from grader.sandbox import Handle, SandboxError, SharedHandle

DEFAULT_HINT = ("Never write into an input (e.g. `X *= ...`, `X[...] = ...` or `params[key] = ...`): the caller "
                "still needs it. Work on a copy, or build new arrays and a new dict.")


def changed_inputs(student: StudentCode, function: str, *, unchecked: tuple[str, ...] = (),
                   **inputs: Any) -> dict[str, list[str]]:
    """Call ``function(*inputs.values())`` on copies it may change; the inputs it changed in place.

    Returns ``{input name: the keys that changed}`` (for a dict: keys
    modified, added or removed; for an array an empty list), in call order.

    Arrays and dicts of arrays go into memory the trusted side owns
    (`Sandbox.put_shared`): the student's function receives (and can modify)
    real arrays over it, and what it wrote is read back from that memory, not
    from the worker, whose replies the student's code can shape. Only a
    dict's own entries (a key added, removed or rebound to a new array) are
    known from the worker alone: a change it reports counts, its "unchanged"
    proves nothing about the arrays. Inputs named in `unchecked` (e.g. caches
    from the student's own forward pass) and sandbox handles are passed as
    they are and not compared.
    """
    return call_and_changes(student, function, unchecked=unchecked, **inputs)[1]


def call_and_changes(student: StudentCode, function: str, *, unchecked: tuple[str, ...] = (),
                     patch: dict | None = None, rounding: bool = False,
                     **inputs: Any) -> tuple[Any, dict[str, list[str]]]:
    """`changed_inputs`, and what the call returned: for checks that judge one call both ways. `patch` swaps
    trusted functions in for the call, as `StudentCode.run`'s does; with `rounding`, float arrays that differ
    by floating-point rounding only (`ROUNDING`) count as unchanged (a value nudged and put back in place,
    x + eps - 2 eps + eps, may come back one unit in the last place off)."""
    checked = [name for name, value in inputs.items() if name not in unchecked and not isinstance(value, Handle)]
    refs = {name: _stored(student, value) if name in checked else value for name, value in inputs.items()}
    value = student.run(function, *refs.values(), patch=patch).value
    changed = {}
    for name in checked:
        keys = _changes_seen(student, refs[name], inputs[name], rounding)
        if keys is not None:
            changed[name] = keys
    return value, changed


def _shareable(value: Any) -> bool:
    """Whether `value` can live in shared memory: a numeric array, or a non-empty dict of str -> numeric array."""
    def numeric(array: Any) -> bool:
        return isinstance(array, np.ndarray) and array.dtype.kind in "biufc" and array.dtype.fields is None
    if isinstance(value, dict):
        return bool(value) and all(type(k) is str and numeric(v) for k, v in value.items())
    return numeric(value)


def _stored(student: StudentCode, value: Any) -> Any:
    """A copy of `value` in the worker: in trusted shared memory when it can be, else as a plain handle."""
    if _shareable(value):
        try:
            return student.put_shared(_copy(value))
        except OSError:  # no sealable shared memory on this system: the worker's word is all there is
            pass
    return student.put(_copy(value))


def _changes_seen(student: StudentCode, ref: Any, before: Any, rounding: bool = False) -> list[str] | None:
    """What changed of `before` behind `ref`: array contents from shared memory, dict entries as the worker says."""
    if not isinstance(ref, SharedHandle):
        return _changes(student.get(ref), before, rounding)
    trusted = _changes(student.read_shared(ref), before, rounding)
    if not isinstance(before, dict):
        return trusted
    try:
        reported = _changes(student.get(ref), before, rounding)
    except (CheckFailure, SandboxError):
        reported = None  # the worker would not say: the shared memory still did
    if trusted is None and reported is None:
        return None
    return sorted(set(trusted or []) | set(reported or []), key=str)


def expect_unchanged(student: StudentCode, function: str, *, hint: str | None = None,
                     unchecked: tuple[str, ...] = (), **inputs: Any) -> None:
    """Fail, naming every input the call changed, unless ``function(*inputs.values())`` leaves them all as given."""
    changed = changed_inputs(student, function, unchecked=unchecked, **inputs)
    if changed:
        names = ", ".join(f"{name} (keys {', '.join(keys)})" if keys else name for name, keys in changed.items())
        raise CheckFailure(f"{function} changed {'its input' if len(changed) == 1 else 'its inputs'} {names} "
                           f"in place.", hint=hint or DEFAULT_HINT, details={"changed_inputs": changed})


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value.copy() if isinstance(value, np.ndarray) else value


# Differences that floating-point rounding of a correct put-back makes (relative, and absolute near zero); a
# parameter left nudged by a gradient check's epsilon (1e-7 and up) is far outside them.
ROUNDING = (1e-12, 1e-18)


def _changes(after: Any, before: Any, rounding: bool = False) -> list[str] | None:
    """None when `after` (read back from the worker) still equals `before`; else the dict keys that differ."""
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return ["all"]
        keys = sorted((set(after) ^ set(before)) | {k for k in set(after) & set(before)
                                                    if _changes(after[k], before[k], rounding) is not None}, key=str)
        return [str(k) for k in keys] or None
    if isinstance(before, np.ndarray):
        same = isinstance(after, np.ndarray) and after.shape == before.shape and (
            bool(np.array_equal(after, before)) or (rounding and _rounded(after, before)))
        return None if same else []
    return None if bool(after == before) else []


def _rounded(after: np.ndarray, before: np.ndarray) -> bool:
    """Whether two float arrays differ by rounding only (`ROUNDING`)."""
    if after.dtype.kind != "f" or before.dtype.kind != "f":
        return False
    with np.errstate(all="ignore"):
        return bool(np.allclose(after, before, rtol=ROUNDING[0], atol=ROUNDING[1]))

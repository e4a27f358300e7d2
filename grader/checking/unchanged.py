"""One invariance check for every "leaves its inputs unchanged" check (after scikit-learn's estimator checks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.failures import CheckFailure
from grader.checking.student import StudentCode
from grader.sandbox import Handle

DEFAULT_HINT = ("Never write into an input (e.g. `X *= ...`, `X[...] = ...` or `params[key] = ...`): the caller "
                "still needs it. Work on a copy, or build new arrays and a new dict.")


def changed_inputs(student: StudentCode, function: str, *, unchecked: tuple[str, ...] = (),
                   **inputs: Any) -> dict[str, list[str]]:
    """Call ``function(*inputs.values())`` on copies stored in the worker; the inputs it changed in place.

    Returns ``{input name: the keys that changed}`` (for a dict: keys
    modified, added or removed; for an array an empty list), in call order.

    Arrays and dicts of arrays are stored in the worker first, so the
    student's function receives (and can modify) the very objects it is
    given. Inputs named in `unchecked` (e.g. caches from the student's own
    forward pass) and sandbox handles are passed as they are and not
    compared.
    """
    return call_and_changes(student, function, unchecked=unchecked, **inputs)[1]


def call_and_changes(student: StudentCode, function: str, *, unchecked: tuple[str, ...] = (),
                     **inputs: Any) -> tuple[Any, dict[str, list[str]]]:
    """`changed_inputs`, and what the call returned: for checks that judge one call both ways."""
    checked = [name for name, value in inputs.items() if name not in unchecked and not isinstance(value, Handle)]
    refs = {name: student.put(_copy(value)) if name in checked else value for name, value in inputs.items()}
    value = student.call(function, *refs.values())
    changed = {}
    for name in checked:
        keys = _changes(student.get(refs[name]), inputs[name])
        if keys is not None:
            changed[name] = keys
    return value, changed


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


def _changes(after: Any, before: Any) -> list[str] | None:
    """None when `after` (read back from the worker) still equals `before`; else the dict keys that differ."""
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return ["all"]
        keys = sorted((set(after) ^ set(before)) | {k for k in set(after) & set(before)
                                                    if _changes(after[k], before[k]) is not None}, key=str)
        return [str(k) for k in keys] or None
    if isinstance(before, np.ndarray):
        same = isinstance(after, np.ndarray) and after.shape == before.shape and bool(np.array_equal(after, before))
        return None if same else []
    return None if bool(after == before) else []

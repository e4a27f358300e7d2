"""What assignment checks use: the student's code behind the sandbox, and comparisons that fail with data.

A check is a pytest function in ``assignments/<name>/checks/``. Its docstring's
first line is what the student reads as the check's title. It receives the
fixtures ``student`` (a `StudentCode`), ``rng`` (a generator seeded from the
run's unpredictable seed and the check's id), ``module_rng`` (the same, from
the check file's id, for module-scoped fixtures whose inputs every check of
the file shares), ``assignment`` and ``seed``.

Failures are data: a check raises `CheckFailure` (or lets a helper here raise
it) with a student-facing message, an optional hint and JSON-able details;
the runner turns it into a `CheckOutcome`. Rendering happens elsewhere.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from grader.outcomes import ERROR, FAILED, SKIPPED, TIMEOUT
from grader.sandbox import (CallResult, CallTimeout, MissingName, Sandbox, SandboxError, StaleHandle,
                            StudentException, WorkerDied)


class CheckFailure(AssertionError):
    """A check did not pass; carries what the student needs to know."""

    status = FAILED

    def __init__(self, message: str, *, hint: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}


class CheckError(CheckFailure):
    """The student's code raised, crashed or is missing."""

    status = ERROR


class CheckTimeout(CheckFailure):
    """The student's code ran out of time."""

    status = TIMEOUT


class NotGraded(CheckFailure):
    """A prerequisite failed, so this check cannot say anything (zero points, visible reason)."""

    status = SKIPPED


# ---------------------------------------------------------------- student code


class StudentCode:
    """The student's functions, called through the sandbox, with the assignment's aliases.

    ``student.linear_forward(A, W, b)`` returns the student's return value.
    Any way the call can go wrong becomes a `CheckFailure` subclass whose
    message names the function and says what happened.
    """

    def __init__(self, sandbox: Sandbox, aliases: dict[str, list[str]] | None = None,
                 exception_hint: Any = None, not_loaded: dict[str, str] | None = None) -> None:
        self.sandbox = sandbox
        self.aliases = aliases or {}
        self._exception_hint = exception_hint  # (function, type, message, shapes) -> hint or None
        self._not_loaded = not_loaded or {}    # name -> why its definition was not loaded

    def resolve(self, name: str) -> str:
        """The name the submission actually uses for `name` (itself or an accepted alias)."""
        for candidate in [name, *self.aliases.get(name, [])]:
            if self.sandbox.has(candidate):
                return candidate
        also = self.aliases.get(name)
        alias_note = f" (or {', '.join(f'`{a}`' for a in also)})" if also else ""
        for candidate in [name, *self.aliases.get(name, [])]:
            if candidate in self._not_loaded:
                raise CheckError(f"`{candidate}` could not be loaded, so this could not be checked: "
                                 f"{self._not_loaded[candidate]}.",
                                 hint="Fix the line Python points at; the rest of your file was graded.")
        raise CheckError(f"Your submission does not define `{name}`{alias_note}, so this could not be checked.",
                         hint=f"Define `{name}` at the top level of your file with the signature the "
                              f"assignment gives; check its spelling.")

    def has(self, name: str) -> bool:
        """Whether the submission defines `name` or one of its aliases."""
        try:
            self.resolve(name)
            return True
        except CheckFailure:
            return False

    def run(self, name: str, *args: Any, timeout: float | None = None, patch: dict | None = None,
            measure: bool = False, figure: bool = False, **kwargs: Any) -> CallResult:
        """Call the student's `name` and return the full `CallResult`."""
        actual = self.resolve(name)
        try:
            return self.sandbox.call(actual, args, kwargs, timeout=timeout, patch=patch, measure=measure,
                                     figure=figure)
        except SandboxError as exc:
            raise self._failure(actual, exc, args) from None

    def run_allowing_raise(self, name: str, *args: Any, timeout: float | None = None,
                           **kwargs: Any) -> CallResult | StudentException:
        """Like `run`, but an exception the student's code raises is returned, not a failure.

        For checks whose expected behaviour is to raise (e.g. check_shapes);
        timeouts and crashes still fail with the usual messages.
        """
        actual = self.resolve(name)
        try:
            return self.sandbox.call(actual, args, kwargs, timeout=timeout)
        except StudentException as exc:
            return exc
        except SandboxError as exc:
            raise self._failure(actual, exc, args) from None

    def drive(self, source: str, *args: Any, timeout: float | None = None, measure: bool = False,
              what: str = "the check's driver") -> CallResult:
        """Run trusted driver source (defining ``drive(module, *args)``) against the submission."""
        try:
            return self.sandbox.drive(source, args, timeout=timeout, measure=measure)
        except SandboxError as exc:
            raise self._failure(what, exc, args) from None

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's `name` and return its value."""
        return self.run(name, *args, **kwargs).value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def put(self, value: Any) -> Any:
        """Store `value` in the worker; returns a handle whose later state `get` reads."""
        return self.sandbox.put(value)

    def get(self, ref: Any) -> Any:
        """Read back a handle's current value."""
        return self.sandbox.get(ref)

    def _failure(self, name: str, exc: SandboxError, args: tuple) -> CheckFailure:
        if isinstance(exc, CallTimeout):
            return CheckTimeout(f"`{name}` did not finish: {exc.reason}.",
                                hint="Look for a loop that never ends, or far more iterations than needed.")
        if isinstance(exc, MissingName):
            return CheckError(f"Your submission does not define `{name}`.")
        if isinstance(exc, StaleHandle):
            return CheckError(f"`{name}` could not be called: {exc.reason}.")
        if isinstance(exc, WorkerDied):
            return CheckError(f"`{name}` did not return: {exc.reason}.",
                              hint="A crash like this usually comes from os._exit, a C extension, "
                                   "or running out of memory.")
        if isinstance(exc, StudentException) and exc.type_name == "NotImplementedError":
            return CheckError(f"`{name}` is not implemented yet (it raises NotImplementedError).",
                              hint="Replace `raise NotImplementedError` in the starter with your code.")
        if isinstance(exc, StudentException):
            hint = None
            if self._exception_hint is not None:
                shapes = {f"arg{i}": list(np.shape(a)) for i, a in enumerate(args) if isinstance(a, np.ndarray)}
                hint = self._exception_hint(name, exc.type_name, exc.message, shapes)
            where = f"\n{exc.traceback}" if exc.traceback else ""
            return CheckError(f"`{name}` raised {exc.type_name}: {exc.message}{where}", hint=hint,
                              details={"exception": exc.type_name})
        return CheckError(f"`{name}` could not be run: {exc.reason}")


# ---------------------------------------------------------------- comparisons


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


def record(request: Any, **details: Any) -> None:
    """Attach JSON-able details to the running check's outcome (gradient tables, images, timings)."""
    node = request.node
    existing = getattr(node, "grading_details", {})
    existing.update(details)
    node.grading_details = existing


def partial_credit(request: Any, fraction: float) -> None:
    """Give the running check a share of its credit (for checks graded in steps)."""
    request.node.grading_fraction = float(fraction)


def status_of(exc: BaseException) -> str:
    """The outcome status an exception raised inside a check stands for."""
    if isinstance(exc, CheckFailure):
        return exc.status
    return ERROR

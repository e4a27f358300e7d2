"""The student's functions as a check sees them: calls through the sandbox, every way one can fail named."""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import numpy as np

from grader.checking.budget import Budget, BudgetedConfig
from grader.checking.compare import safe_hint
from grader.checking.failures import BudgetExhausted, CheckFailure, StudentCodeError, StudentCodeTimeout
from grader.sandbox import (
    CallResult,
    CallTimeout,
    MissingName,
    Sandbox,
    SandboxError,
    StaleHandle,
    StudentException,
    WorkerDied,
)
from grader.source.ownership import Origins


class StudentCode:
    """The student's functions, called through the sandbox, with the assignment's aliases.

    ``student.linear_forward(A, W, b)`` returns the student's return value.
    Any way the call can go wrong becomes a `CheckFailure` subclass whose
    message names the function and says what happened.
    """

    def __init__(self, sandbox: Sandbox, aliases: dict[str, list[str]] | None = None,
                 exception_hint: Any = None, not_loaded: dict[str, str] | None = None,
                 origins: Origins | None = None, budget: Budget | None = None) -> None:
        self.sandbox = sandbox
        self.aliases = aliases or {}
        self._exception_hint = exception_hint  # (function, type, message, shapes) -> hint or None
        self._not_loaded = not_loaded or {}    # name -> why its definition was not loaded
        # The submission's own top-level names (grader.source.ownership): a function the checks call earns
        # credit only if the student wrote it. None: every name the worker holds counts (no source known).
        self._origins = origins
        # The wall-clock budget of all checks; the sandbox's own time limits shrink with it.
        self.budget = budget
        if budget is not None:
            sandbox.config = BudgetedConfig(sandbox.config, budget)

    @property
    def infrastructure_failure(self) -> str | None:
        """Why the sandbox's shared machinery failed under this submission (None when it did not)."""
        return getattr(self.sandbox, "infrastructure_failure", None)

    def resolve(self, name: str) -> str:
        """The name the submission actually uses for `name` (itself or an accepted alias).

        Only a name the submission defines itself counts: one it merely
        imports (from a course helper module or a package) fails with a
        message saying where it comes from.
        """
        candidates = [name, *self.aliases.get(name, [])]
        present = [c for c in candidates if self.sandbox.has(c)]
        own = [c for c in present if self._origins is None or self._origins.is_own(c)]
        if own:
            return own[0]
        also = self.aliases.get(name)
        alias_note = f" (or {', '.join(f'`{a}`' for a in also)})" if also else ""
        for candidate in candidates:
            if candidate in self._not_loaded:
                raise StudentCodeError(f"`{candidate}` could not be loaded, so this could not be checked: "
                                 f"{self._not_loaded[candidate]}.",
                                 hint="Fix the line Python points at; the rest of your file was graded.")
        if present:
            raise StudentCodeError(f"{self._origins.origin(present[0])}; the assignment asks you to write "
                                   f"`{name}`{alias_note} yourself, so it earns no credit here.",
                                   hint=f"Define `{name}` in your own file. Helpers from a course module may "
                                        f"still be used inside your own functions.",
                                   details={"not_own": present[0]})
        raise StudentCodeError(f"Your submission does not define `{name}`{alias_note}, so this could not be checked.",
                         hint=f"Define `{name}` at the top level of your file with the signature the "
                              f"assignment gives; check its spelling.")

    def has(self, name: str) -> bool:
        """Whether the submission defines `name` or one of its aliases."""
        try:
            with self._budgeted(name):
                self.resolve(name)
            return True
        except BudgetExhausted:
            raise
        except CheckFailure:
            return False

    def run(self, name: str, *args: Any, timeout: float | None = None, patch: dict | None = None,
            measure: bool = False, figure: bool = False, **kwargs: Any) -> CallResult:
        """Call the student's `name` and return the full `CallResult`."""
        with self._budgeted(name):
            actual = self.resolve(name)
            try:
                return self.sandbox.call(actual, args, kwargs, timeout=self._clamped(timeout), patch=patch,
                                         measure=measure, figure=figure)
            except SandboxError as exc:
                raise self._failure(actual, exc, args) from None

    def run_allowing_raise(self, name: str, *args: Any, timeout: float | None = None,
                           **kwargs: Any) -> CallResult | StudentException:
        """Like `run`, but an exception the student's code raises is returned, not a failure.

        For checks whose expected behaviour is to raise (e.g. check_shapes);
        timeouts and crashes still fail with the usual messages.
        """
        with self._budgeted(name):
            actual = self.resolve(name)
            try:
                return self.sandbox.call(actual, args, kwargs, timeout=self._clamped(timeout))
            except StudentException as exc:
                return exc
            except SandboxError as exc:
                raise self._failure(actual, exc, args) from None

    def drive(self, source: str, *args: Any, timeout: float | None = None, measure: bool = False,
              what: str = "the check's driver") -> CallResult:
        """Run trusted driver source (defining ``drive(module, *args)``) against the submission."""
        with self._budgeted(what):
            try:
                return self.sandbox.drive(source, args, timeout=self._clamped(timeout), measure=measure)
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
        with self._budgeted("a transfer", count=False):
            return self.sandbox.put(value)

    def get(self, ref: Any) -> Any:
        """Read back a handle's current value (the worker's word: see `grader.checking.unchanged`)."""
        with self._budgeted("a transfer", count=False):
            return self.sandbox.get(ref)

    def put_shared(self, value: Any) -> Any:
        """Put arrays (or a dict of them) in memory the trusted side owns; `read_shared` reads them back itself."""
        with self._budgeted("a transfer", count=False):
            return self.sandbox.put_shared(value)

    def read_shared(self, ref: Any) -> Any:
        """The current contents of `put_shared` arrays, read from the trusted side's memory (not the worker's word)."""
        return self.sandbox.read_shared(ref)

    def _clamped(self, timeout: float | None) -> float | None:
        """A call's own timeout cut to what is left of the budget (None: the sandbox's, already cut)."""
        return timeout if timeout is None or self.budget is None else self.budget.clamp(timeout)

    @contextlib.contextmanager
    def _budgeted(self, what: str, *, count: bool = True) -> Iterator[None]:
        """Run one use of the sandbox under the budget: none starts after it, one it stopped says so."""
        if self.budget is None:
            yield
            return
        if self.budget.exhausted():
            raise self.budget.not_started()
        started = time.monotonic()
        # Whether the budget already cut the sandbox's limits when this use began (judged now, not after it: a
        # 60 s training that times out by its own limit leaves little of the budget, and is still its own timeout).
        cut_at_start = self._cut()
        try:
            yield
        except (CallTimeout, StudentCodeTimeout):
            if count:
                self.budget.record(what, time.monotonic() - started)
                count = False
            # A timeout once the deadline has passed, or under limits the budget had cut, is the budget's doing
            # (a load cut short even fails again at once on every later call, before the deadline itself).
            if self.budget.exhausted() or cut_at_start:
                raise self.budget.stopped(what) from None
            raise
        finally:
            if count:
                self.budget.record(what, time.monotonic() - started)

    def _cut(self) -> bool:
        config = self.sandbox.config
        return isinstance(config, BudgetedConfig) and config.cutting()

    def _failure(self, name: str, exc: SandboxError, args: tuple) -> CheckFailure:
        if isinstance(exc, CallTimeout):
            return StudentCodeTimeout(f"`{name}` did not finish: {exc.reason}.",
                                hint="Look for a loop that never ends, or far more iterations than needed.")
        if isinstance(exc, MissingName):
            return StudentCodeError(f"Your submission does not define `{name}`.")
        if isinstance(exc, StaleHandle):
            return StudentCodeError(f"`{name}` could not be called: {exc.reason}.")
        if isinstance(exc, WorkerDied):
            return StudentCodeError(f"`{name}` did not return: {exc.reason}.",
                              hint="A crash like this usually comes from os._exit, a C extension, "
                                   "or running out of memory.")
        if isinstance(exc, StudentException) and exc.type_name == "NotImplementedError":
            return StudentCodeError(f"`{name}` is not implemented yet (it raises NotImplementedError).",
                              hint="Replace `raise NotImplementedError` in the starter with your code.")
        if isinstance(exc, StudentException):
            hint = None
            if self._exception_hint is not None:
                shapes = {f"arg{i}": list(np.shape(a)) for i, a in enumerate(args) if isinstance(a, np.ndarray)}
                hint = safe_hint(self._exception_hint, name, exc.type_name, exc.message, shapes)
            where = f"\n{exc.traceback}" if exc.traceback else ""
            return StudentCodeError(f"`{name}` raised {exc.type_name}: {exc.message}{where}", hint=hint,
                              details={"exception": exc.type_name})
        return StudentCodeError(f"`{name}` could not be run: {exc.reason}")

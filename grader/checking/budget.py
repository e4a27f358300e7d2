"""The wall-clock budget of one submission's checks: no call reaches past it, no check starts after it.

Each call into the sandbox is bounded on its own (``call_timeout``, the
training budget), but a submission can stay just under every bound many
times: a function that sleeps 9.5 s per call, class bodies that each sleep
at load. The budget (``[limits] submission_seconds`` of assignment.toml,
300 s by default) bounds the sum. `StudentCode` clamps every call's timeout
to what is left, the sandbox's own time limits (its loading and retries
included) are read through `BudgetedConfig` so they shrink as the deadline
nears, and once the budget is used up the call that was running and every
check after it fail with status "budget" (`BudgetExhausted`) and a message
naming where the time went.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from typing import Any, Callable

from grader.checking.failures import BudgetExhausted

# The shortest timeout handed to the sandbox once the budget is (nearly) gone:
# long enough to be a timeout rather than an error in the select loop.
MIN_TIMEOUT = 0.05
_SHOWN_FUNCTIONS = 3


class Budget:
    """`seconds` of wall-clock time for all checks of one submission, from now."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self._clock = clock
        self.deadline = clock() + self.seconds
        self.spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # what -> [calls, seconds]
        self._pending: BudgetExhausted | None = None

    def remaining(self) -> float:
        """Seconds left (negative once the deadline has passed)."""
        return self.deadline - self._clock()

    def exhausted(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def clamp(self, timeout: float) -> float:
        """`timeout`, or what is left of the budget when that is less (never below MIN_TIMEOUT)."""
        return max(MIN_TIMEOUT, min(float(timeout), self.remaining()))

    def record(self, what: str, seconds: float) -> None:
        """Count `seconds` spent in one call of `what` (for the message when the budget runs out)."""
        entry = self.spent[what]
        entry[0] += 1
        entry[1] += seconds

    def stopped(self, what: str) -> BudgetExhausted:
        """The failure of the call to `what` that was running when the budget ran out (or that the budget's cut
        of its time limit stopped); from now on the budget counts as spent."""
        self.deadline = min(self.deadline, self._clock())
        return self._raised(BudgetExhausted(f"`{what}` was stopped: this submission's time budget ran out "
                                            f"({self.seconds:g} s of wall-clock time for all of its checks).",
                                            hint=self._hint(), details=self._details()))

    def not_started(self) -> BudgetExhausted:
        """The failure of a check that starts after the budget ran out."""
        return self._raised(BudgetExhausted(f"Not run: this submission used up its time budget ({self.seconds:g} s "
                                            "of wall-clock time for all of its checks) before this check started.",
                                            hint=self._hint(), details=self._details()))

    def _raised(self, failure: BudgetExhausted) -> BudgetExhausted:
        # Kept until `claim` takes it: the check it happened in reports it even when that check caught it.
        if self._pending is None:
            self._pending = failure
        return failure

    def claim(self) -> BudgetExhausted | None:
        """The first budget failure raised since the last claim, once (the runner gives it to the check it
        happened in, whatever that check made of it)."""
        pending, self._pending = self._pending, None
        return pending

    def _hint(self) -> str:
        heaviest = sorted(self.spent.items(), key=lambda pair: -pair[1][1])[:_SHOWN_FUNCTIONS]
        where = "; ".join(f"`{what}`: {int(calls)} call{'s' if calls != 1 else ''}, {seconds:.1f} s"
                          for what, (calls, seconds) in heaviest)
        return ("Most of the time went to " + where + ". " if where else "") + \
            ("Look for code that is slow on every call: a sleep, a loop far longer than needed, or slow work "
             "at the top level of your file (it runs when the file is loaded).")

    def _details(self) -> dict[str, Any]:
        return {"budget_seconds": self.seconds,
                "time_by_function": {what: {"calls": int(calls), "seconds": round(seconds, 3)}
                                     for what, (calls, seconds) in self.spent.items()}}


class BudgetedConfig:
    """A sandbox configuration whose time limits never reach past the budget's deadline.

    The sandbox reads ``config.limits`` whenever it needs a limit (for each
    load attempt, each call without its own timeout); this view hands it
    the configured limits with ``call_timeout`` and ``load_timeout`` cut to
    what is left. Everything else is the wrapped configuration's.
    """

    def __init__(self, config: Any, budget: Budget) -> None:
        self._config = config
        self._budget = budget

    @property
    def limits(self) -> Any:
        """The configured limits, their time limits cut to the budget's remaining seconds."""
        limits = self._config.limits
        left = self._budget.remaining()
        if left >= limits.call_timeout and left >= limits.load_timeout:
            return limits
        return dataclasses.replace(limits, call_timeout=self._budget.clamp(limits.call_timeout),
                                   load_timeout=self._budget.clamp(limits.load_timeout))

    def cutting(self) -> bool:
        """Whether the budget cuts a time limit now (what is left is less than a call or a load may take)."""
        limits = self._config.limits
        return self._budget.remaining() < max(limits.call_timeout, limits.load_timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)

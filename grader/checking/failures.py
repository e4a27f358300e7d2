"""What a check raises when it does not pass: failures as data, with the student-facing message and hint.

The checking runner turns each into a `CheckOutcome` whose status is the
class's `status`; rendering happens elsewhere.
"""

from __future__ import annotations

from grader.model import BUDGET, ERROR, FAILED, SKIPPED, TIMEOUT


class CheckFailure(AssertionError):
    """A check did not pass; carries what the student needs to know."""

    status = FAILED

    def __init__(self, message: str, *, hint: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}


class StudentCodeError(CheckFailure):
    """The student's code raised, crashed or is missing (a fact about their code, not a fault of the grader)."""

    status = ERROR


class StudentCodeTimeout(CheckFailure):
    """The student's code ran out of time."""

    status = TIMEOUT


class BudgetExhausted(CheckFailure):
    """The submission's time budget for all checks ran out during or before this check (grader.checking.budget)."""

    status = BUDGET


class NotGraded(CheckFailure):
    """A prerequisite failed, so this check cannot say anything (zero points, visible reason)."""

    status = SKIPPED


"""The data that flows from checks to the rubric engine and the reports.

Failures are data: a check produces a `CheckOutcome`; rendering (terminal,
results.json, HTML) happens elsewhere and never changes a verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Every status a check can end in. Only "passed" ever earns credit by itself;
# the others are zero unless the check reported a partial `fraction`.
PASSED = "passed"
FAILED = "failed"      # the student's code ran and gave a wrong answer
ERROR = "error"        # the student's code raised, or the worker crashed
TIMEOUT = "timeout"    # the student's code ran out of its time budget
SKIPPED = "skipped"    # not graded because a prerequisite failed, or the check skipped itself
NOT_RUN = "not_run"    # the check could not even be collected (fail closed: zero)

STATUSES = (PASSED, FAILED, ERROR, TIMEOUT, SKIPPED, NOT_RUN)


@dataclass
class CheckOutcome:
    """The verdict of one check on one submission.

    `check_id` is stable (pytest-like, e.g. ``test_forward.py::test_linear_forward[m=1]``)
    and is what rubric selectors match. `title` and `message` are what the
    student reads. `fraction` is the share of the check's credit earned
    (1.0 for passed, 0.0 otherwise, unless the check grants partial credit).
    `details` holds JSON-able data for reports (expected/got shapes, values,
    gradient-check tables, images as base64 PNG under ``details["images"]``).
    """

    check_id: str
    title: str
    status: str
    message: str = ""
    hint: str | None = None
    public: bool = False
    fraction: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}; expected one of {STATUSES}")
        if self.fraction is None:
            self.fraction = 1.0 if self.status == PASSED else 0.0
        # Fail closed: NaN or out-of-range partial credit is no credit.
        if not (0.0 <= self.fraction <= 1.0):
            self.fraction = 0.0

    @property
    def passed(self) -> bool:
        """True when the check passed outright."""
        return self.status == PASSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this outcome."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckOutcome":
        """Rebuild an outcome from `to_dict` output."""
        return cls(**data)

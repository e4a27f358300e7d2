"""The grader's data: check outcomes, item and grade results, overrides, and the states of a graded row.

This module is the leaf of the package: it imports nothing from the grader,
so that everything else (the rubric engine, the reports, the batch, a
database schema for the course server) can be written against it. Failures
are data here; rendering happens elsewhere and never changes a verdict.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """How one check ended. Only PASSED earns credit by itself; the others are zero unless partial.

    A `str` enum: ``Status.PASSED == "passed"``, and JSON writes the plain word.
    """

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    NOT_RUN = "not_run"
    BUDGET = "budget"

    @property
    def reason(self) -> str:
        """What this status means, in one line."""
        return _STATUS_REASONS[self]

    def __str__(self) -> str:
        return self.value


_STATUS_REASONS = {
    Status.PASSED: "the check passed",
    Status.FAILED: "the student's code ran and gave a wrong answer",
    Status.ERROR: "the student's code raised, crashed or is missing",
    Status.TIMEOUT: "the student's code ran out of its time budget",
    Status.SKIPPED: "not graded because a prerequisite failed, or the check skipped itself",
    Status.NOT_RUN: "the check could not even be collected (fail closed: zero)",
    Status.BUDGET: "the submission used up its time budget for all checks before or during this check",
}

# The plain words, for code that compares with strings read back from JSON.
PASSED, FAILED, ERROR, TIMEOUT, SKIPPED, NOT_RUN, BUDGET = (s.value for s in Status)
STATUSES = tuple(s.value for s in Status)


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
        try:
            self.status = Status(self.status).value
        except ValueError:
            raise ValueError(f"unknown check status {self.status!r}; expected one of {STATUSES}") from None
        if self.fraction is None:
            self.fraction = 1.0 if self.status == PASSED else 0.0
        # Fail closed: NaN or out-of-range partial credit is no credit.
        if not (0.0 <= self.fraction <= 1.0):
            self.fraction = 0.0

    @property
    def passed(self) -> bool:
        """True when the check passed outright."""
        return self.status == PASSED

    def earned(self) -> float:
        """The credit share this check earned; anything but a finite fraction of a graded check is 0."""
        if self.status not in (PASSED, FAILED):
            return 0.0
        fraction = self.fraction
        if not isinstance(fraction, (int, float)) or not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
            return 0.0
        return float(fraction)

    def earned_full_credit(self) -> bool:
        """True when the check passed and earned all of its credit (what reports mark as passed)."""
        return self.status == PASSED and self.earned() >= 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this outcome."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckOutcome":
        """Rebuild an outcome from `to_dict` output."""
        return cls(**data)


@dataclass(frozen=True)
class Override:
    """An instructor's score for one rubric item of one student, with the comment the student reads."""

    points: float
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this override."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Override":
        """Rebuild an override from `to_dict` output."""
        return cls(points=float(data["points"]), comment=str(data.get("comment", "")))


@dataclass
class ItemResult:
    """The score of one rubric item and what it came from.

    `score` is what counts (the override's points when there is one);
    `automatic_score` is what the checks or the estimate gave. `notes` are
    student-facing reasons beyond the checks' own messages (a check that did
    not run, the quality evidence). `source` is the rubric item's source
    ("quality") for an item not fed by checks, else None.
    """

    id: str
    title: str
    score: float
    max_score: float
    status: str
    outcomes: list[CheckOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    override: Override | None = None
    automatic_score: float = 0.0
    visibility: str = "visible"
    description: str = ""
    source: str | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-able record of this item; its checks are named by id (the outcomes are stored once, beside)."""
        return {
            "id": self.id, "title": self.title, "score": self.score, "max_score": self.max_score,
            "status": self.status, "automatic_score": self.automatic_score, "notes": list(self.notes),
            "override": self.override.to_dict() if self.override else None, "visibility": self.visibility,
            "description": self.description, "source": self.source,
            "checks": [o.check_id for o in self.outcomes],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], outcomes: dict[str, CheckOutcome]) -> "ItemResult":
        """Rebuild an item from `to_record` output, taking its checks from `outcomes` (by check id)."""
        override = record.get("override")
        return cls(
            id=record["id"], title=record["title"], score=float(record["score"]),
            max_score=float(record["max_score"]), status=record["status"],
            outcomes=[outcomes[c] for c in record.get("checks", []) if c in outcomes],
            notes=list(record.get("notes", [])), override=Override.from_dict(override) if override else None,
            automatic_score=float(record.get("automatic_score", record["score"])),
            visibility=record.get("visibility", "visible"), description=record.get("description", ""),
            source=record.get("source"))


@dataclass
class GradeResult:
    """A graded submission: the total, each item, every check outcome, and run metadata."""

    assignment: str
    score: float
    max_score: float
    items: list[ItemResult]
    outcomes: list[CheckOutcome]
    metadata: dict[str, Any] = field(default_factory=dict)

    def item(self, item_id: str) -> ItemResult:
        """The result of item `item_id`."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} in the result (items: {', '.join(i.id for i in self.items)})")


class RowState(str, enum.Enum):
    """What a class's row (one student of a batch, one submission on a server) holds."""

    GRADED = "graded"              # a score from the checks (low or high)
    BROKEN = "broken"              # the submission could not be read or graded: 0 with the student's reason
    GRADER_ERROR = "grader error"  # a fault of ours: no score; graded again by the next run
    NOT_GRADED = "not graded"      # no result yet

    def __str__(self) -> str:
        return self.value

    def with_reason(self, reason: str) -> str:
        """The status text a gradebook shows: ``"broken: why"`` (the plain word when there is no reason)."""
        return f"{self.value}: {reason}" if reason else self.value

    @classmethod
    def of(cls, status: str) -> "RowState":
        """The state a status text (``"broken: why"``) starts with; unknown words read as NOT_GRADED."""
        word = str(status).split(":", 1)[0].strip()
        try:
            return cls(word)
        except ValueError:
            return cls.NOT_GRADED

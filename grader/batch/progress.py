"""What a batch shows while it runs and says when it ends: the progress bar and the summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.model import RowState
from grader.text import printable

GRADEBOOK_NAME, INDEX_NAME = "gradebook.csv", "index.html"


@dataclass
class BatchSummary:
    """What a batch run did, for the command line's last lines.

    `graded` counts the work done by this run (students graded or recorded as
    broken or failed); `broken`, `errors` and `pending` describe the whole
    gradebook afterwards, whichever run graded each student.
    """

    outdir: Path
    assignment: str
    seed: int
    total: int = 0
    graded: int = 0
    skipped: int = 0
    broken: int = 0
    errors: int = 0
    pending: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    unknown_override_students: list[str] = field(default_factory=list)

    def lines(self, resume_command: str = "the same command") -> list[str]:
        """The summary as the user reads it, with what to do next."""
        out = [f"{self.total} students: graded {self.graded} in {self.seconds:.1f} s, skipped {self.skipped} "
               f"unchanged since the last run{' (--force regrades them)' if self.skipped else ''}; "
               f"in the gradebook: {self.broken} broken, {self.errors} grader errors"]
        out.append(f"seed {self.seed} (replay one student: grader grade SUBMISSION -a {self.assignment} "
                   f"--seed {self.seed})")
        out.append(f"gradebook: {self.outdir / GRADEBOOK_NAME}; class summary: {self.outdir / INDEX_NAME}")
        if self.unknown_override_students:
            out.append(f"warning: the overrides name students who are not in the class folder: "
                       f"{', '.join(self.unknown_override_students)} (check the ids)")
        if self.errors:
            out.append(f"{self.errors} students could not be graded because of a grader error (status in "
                       f"gradebook.csv); run {resume_command} again to retry them")
        if self.interrupted:
            out.append(f"interrupted: {self.total - self.pending} of {self.total} students have results in "
                       f"{self.outdir}; run {resume_command} again to grade the other {self.pending} "
                       "(students already graded are skipped)")
        return out


class Progress:
    """The tqdm bar on stderr: students done of all, failures so far, time left."""

    def __init__(self, summary: BatchSummary, enabled: bool | None) -> None:
        from tqdm import tqdm
        self.summary = summary
        self.broken = self.errors = 0
        self.bar = tqdm(total=summary.total, initial=summary.skipped, desc="grading", unit="student",
                        file=sys.stderr, disable=None if enabled is None else not enabled, dynamic_ncols=True)
        self._postfix()

    def advance(self, status: str) -> None:
        """One more student done, with this status."""
        state = RowState.of(status)
        self.broken += state is RowState.BROKEN
        self.errors += state is RowState.GRADER_ERROR
        self.summary.graded += 1
        self._postfix()
        self.bar.update(1)

    def note(self, text: str) -> None:
        """A line above the bar (made printable: it can quote a student's id or exception message)."""
        self.bar.write(printable(text), file=sys.stderr)

    def close(self) -> None:
        """Leave the bar's last state on screen."""
        self.bar.close()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(f"broken {self.broken}, grader errors {self.errors}", refresh=False)

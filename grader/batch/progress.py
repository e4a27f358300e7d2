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
    rescored: int = 0              # results whose manual points changed, re-scored without running code
    kept: int = 0                  # students left as they were (`grader regrade` grades one student)
    overrides_origin: str = ""     # where this run's manual points came from (grader.batch.overrides)
    earlier_outputs: list[str] = field(default_factory=list)   # the grader's own folders in the class folder
    replays: list[tuple[str, str, int]] = field(default_factory=list)  # (student, entry, seed) graded now

    def lines(self, resume_command: str = "the same command") -> list[str]:
        """The summary as the user reads it, with what to do next."""
        done = f"graded {self.graded} in {self.seconds:.1f} s"
        if self.rescored:
            done += f", re-scored {self.rescored} with changed manual points (their code was not run again)"
        if self.kept:
            done += f", kept {self.kept} as they were"
        if self.skipped:
            done += f", skipped {self.skipped} unchanged since the last run (--force regrades them)"
        out = [f"{self.total} students: {done}; in the gradebook: {self.broken} broken, {self.errors} grader errors"]
        if self.overrides_origin:
            out.append(self.overrides_origin)
        if self.earlier_outputs:
            out.append(f"left out of the class: {', '.join(self.earlier_outputs)} (an earlier output folder of the "
                       "grader, not a student)")
        out.extend(self.replay_lines())
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

    def replay_lines(self, shown: int = 5) -> list[str]:
        """How to replay a student graded by this run: each student has a seed of their own."""
        from shlex import quote
        out = [f"seeds: each student's own, derived from the batch's seed {self.seed} and the student id "
               "(kept for reruns)"]
        # A name with control characters is not echoed to the terminal; its report gives the command.
        printable = [r for r in self.replays if r[0].isprintable() and r[1].isprintable()]
        for student, entry, seed in printable[:shown]:
            out.append(f"replay {student}: grader grade {quote(entry)} -a {quote(self.assignment)} --seed {seed}")
        if len(self.replays) > len(printable[:shown]):
            out.append(f"... and {len(self.replays) - len(printable[:shown])} more: each student's results.json and report give "
                       "their seed and replay command")
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

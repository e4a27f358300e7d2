"""The grader's one error hierarchy, and the one place that says what each kind of error means.

Three kinds, by whose problem it is:

- `ConfigurationError`: what an instructor gave (an assignment, a rubric, an
  overrides file, a course file, a command-line option) cannot be used. Nothing
  is graded with it: the command stops with the message (exit status 2).
- `SubmissionError`: a student's submission cannot be read. That student is
  graded "broken" with the reason; nobody else is affected.
- `GraderFault`: a fault of ours (a bug, shared machinery that failed). No
  score is recorded for the student it hit; the batch or the server grades
  them again, and the instructor sees it.

The command line, the batch and the course server all map errors with
`row_state`, `should_regrade` and `exit_status` below, never one exception
class at a time.
It imports only `grader.model`, the other leaf.
"""

from __future__ import annotations

from grader.model import RowState


class GraderError(Exception):
    """Every error the grader raises on purpose; its message is written for a person."""


class ConfigurationError(GraderError):
    """An instructor's input (assignment, rubric, overrides, course, options) that cannot be used."""


class UsageError(ConfigurationError):
    """A command-line mistake: the message says what to fix."""


class SubmissionError(GraderError):
    """A student's submission that cannot be read; the message is shown to the student."""


class GraderFault(GraderError):
    """A fault of the grader or of shared machinery, not of the student: grade again, never score it."""


# Exit statuses of the command line (spec/INTERFACES.md): 0 whenever grading
# ran, whatever the scores; 2 for a usage or configuration error; 1 for a
# failure of the grader itself; 130 after Ctrl-C.
EXIT_OK, EXIT_FAULT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_status(exc: BaseException) -> int:
    """The command line's exit status for an error that ended a command."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE
    return EXIT_FAULT


# How often a grading that hit a fault of ours is run again before the fault is
# recorded (visibly, as "grader error", never as a score).
MAX_REGRADES = 2


def should_regrade(exc: BaseException, regrades_done: int) -> bool:
    """Whether a grading that ended with `exc` is run again now (after `regrades_done` regrades).

    Only faults of ours are: shared machinery that failed (a zygote gone, a
    pool process that died) may well work the next time. A submission that
    cannot be read is the student's; an unusable configuration fails every
    time; Ctrl-C stops.
    """
    if isinstance(exc, (SubmissionError, ConfigurationError, KeyboardInterrupt)) or not isinstance(exc, Exception):
        return False
    return regrades_done < MAX_REGRADES


def row_state(exc: BaseException) -> RowState:
    """What a student's row records when grading them ended with `exc`.

    A submission that cannot be read is the student's ("broken", zero with
    the reason); anything else that escapes grading is ours ("grader
    error": no score, retried by the next run).
    """
    if isinstance(exc, SubmissionError):
        return RowState.BROKEN
    return RowState.GRADER_ERROR

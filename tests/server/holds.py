"""A work unit that waits while a test holds a submission, so a browser can watch each state in turn.

It runs in the grading processes (imported there by name) in place of the
batch's work unit. A submission is held while the file
``COURSE/holds/<sha256>`` exists (the store keeps a file at
``COURSE/store/<ab>/<sha256><ext>``, so the course folder is known from the
path); the test creates that file before the upload and removes it to let
the grading finish. Any other submission is graded at once, for real.
"""

from __future__ import annotations

import time
from pathlib import Path

from grader.batch.workunit import grade_student

# A hold the test forgot (it failed midway) ends on its own, well within the quiz's time budget.
LONGEST_HOLD = 25.0


def hold_file(course_folder: Path, sha256: str) -> Path:
    """The file whose existence holds the grading of the submission with this SHA-256."""
    return Path(course_folder) / "holds" / sha256


def held(path, assignment_id, seed, support_dirs=(), overrides=None, *, student=None):
    """Grade `path` for real once its hold file is gone."""
    stored = Path(path)
    hold = hold_file(stored.parents[2], stored.stem)
    deadline = time.monotonic() + LONGEST_HOLD
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return grade_student(path, assignment_id, seed, support_dirs, overrides, student=student)

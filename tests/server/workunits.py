"""Work units for the server's fault tests: they misbehave as the submission's marker comment says.

They run in the grading processes (imported there by name), in place of the
batch's work unit: ``#RAISE`` raises (a grader bug), ``#EXIT`` kills the
process, ``#SLEEP`` never ends, ``#FLAKY:<dir>`` fails on its first run only,
``#SLOW`` takes a second; any other file is graded for real.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.batch.workunit import grade_student


def misbehaving(path, assignment_id, seed, support_dirs=(), overrides=None, *, student=None):
    """Grade `path`, unless its marker says to fail in one of the ways infrastructure fails."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if "#RAISE" in text:
        raise RuntimeError("simulated grader bug")
    if "#EXIT" in text:
        os._exit(3)
    if "#SLEEP" in text:
        time.sleep(3600)
    if "#FLAKY:" in text:
        marker = Path(text.split("#FLAKY:", 1)[1].split()[0]) / f"tried-{Path(path).name}"
        if not marker.exists():
            marker.touch()
            raise RuntimeError("simulated one-off fault")
    if "#SLOW" in text:
        time.sleep(1.0)
    return grade_student(path, assignment_id, seed, support_dirs, overrides, student=student)

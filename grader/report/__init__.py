"""Renderings of a graded result: terminal summary, Gradescope results.json, HTML.

Each module only renders a `grader.rubric.GradeResult`; none of them changes
a score or a verdict.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.outcomes import PASSED, CheckOutcome


def format_points(value: float) -> str:
    """Points as people write them: at most two decimals, no trailing zeros ("7.5", "14.29", "20")."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def status_label(outcome: CheckOutcome) -> str:
    """How a check that did not earn full credit is labelled: its status, or "partial credit 40%"."""
    return outcome.status if outcome.status != PASSED else f"partial credit {outcome.fraction:.0%}"


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a part.

    The temporary file lives in the same folder (``os.replace`` is atomic
    only within one file system), is flushed to disk before the rename, and
    is made readable by all: results and reports are meant to be shared.
    The folder is created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it owner-only
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise

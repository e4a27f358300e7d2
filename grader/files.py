"""Writing the grader's output files: whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.text import valid_text


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a part.

    The temporary file lives in the same folder (``os.replace`` is atomic
    only within one file system), is flushed to disk before the rename, and
    is made readable by all: results and reports are meant to be shared.
    The folder is created when missing. A lone surrogate (from a student's
    exception message or a file name that is not UTF-8) is written as
    U+FFFD: one student's text must never stop the writer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(valid_text(text))
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

"""Writing the grader's output files: whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

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
    with temporary_file(path.parent, prefix=f".{path.name}.", suffix=".tmp") as (handle, temp_name):
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(valid_text(text))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it owner-only
        os.replace(temp_name, path)


@contextlib.contextmanager
def temporary_file(folder: str | os.PathLike, *, prefix: str | None = None,
                   suffix: str | None = None) -> Iterator[tuple[int, str]]:
    """A new owner-only file in `folder`, as (open descriptor, name), removed if the block raises.

    The block puts it in place (``os.replace``) or removes it itself when it
    succeeds; a failure at any point (a full disk, a file over its limit,
    Ctrl-C) leaves no temporary file behind.
    """
    handle, temp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        yield handle, temp_name
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise

"""The batch's own record in its output folder: what a rerun, `grader regrade` and a later batch need to know.

``OUTDIR/grader-batch.json`` (written by every batch before it grades
anyone) names the class folder, the assignment, the batch's seed, the support
folders and settings. It does three jobs:

- it marks the folder as the grader's own output, so that a later batch of
  a class folder that holds it leaves it out (`is_grader_output`);
- a rerun keeps the batch's seed, so each student keeps the seed of their own
  that `student_seed` derives from it and their id;
- `grader regrade OUTDIR STUDENT` grades one student again exactly as the
  batch would, from this record alone.

`created_folders` removes the output folders a failed invocation created,
so that a mistyped option or a missing class folder leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from grader.batch.progress import GRADEBOOK_NAME, INDEX_NAME
from grader.files import write_text_atomic

RECORD_NAME = "grader-batch.json"
_KIND = "backprop-grader batch output"


def student_seed(batch_seed: int, student_id: str) -> int:
    """The seed of one student: derived from the batch's seed and the student id (31 bits, like a fresh seed).

    A hash, so that two students' seeds are unrelated and a student cannot
    predict their own from a classmate's, and stable, so that a student keeps
    their seed across reruns of the same batch.
    """
    digest = hashlib.sha256(f"{int(batch_seed)}:{student_id}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def write_record(outdir: Path, *, source: str | os.PathLike, assignment: str, seed: int,
                 support_dirs: tuple[str, ...] = (), settings: dict[str, Any] | None = None) -> Path:
    """Write OUTDIR/grader-batch.json atomically; returns its path."""
    record = {"kind": _KIND, "source": str(Path(source).resolve()), "assignment": assignment, "seed": int(seed),
              "support": list(support_dirs), "settings": dict(settings or {})}
    path = outdir / RECORD_NAME
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def read_record(outdir: str | os.PathLike) -> dict[str, Any] | None:
    """The record of the batch that wrote `outdir` (None when there is none or it is not the grader's)."""
    try:
        record = json.loads(Path(outdir, RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("kind") != _KIND:
        return None
    if not isinstance(record.get("seed"), int) or not isinstance(record.get("assignment"), str):
        return None
    return record


def is_grader_output(folder: str | os.PathLike) -> bool:
    """Whether `folder` is a batch's output folder: it has the record, or (written before there was one)
    both gradebook.csv and index.html."""
    folder = Path(folder)
    try:
        if (folder / RECORD_NAME).is_file():
            return True
        return (folder / GRADEBOOK_NAME).is_file() and (folder / INDEX_NAME).is_file()
    except OSError:
        return False


def earlier_outputs(source: str | os.PathLike) -> list[Path]:
    """The sub-folders of the class folder `source` that are the grader's own output folders (sorted)."""
    try:
        entries = sorted(os.scandir(source), key=lambda e: e.name)
    except OSError:
        return []  # not a folder (a class zip), or unreadable: discovery says so
    return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and is_grader_output(e.path)]


@contextlib.contextmanager
def created_folders(folder: Path) -> Iterator[None]:
    """Make `folder` (and missing parents); if the block raises, remove the ones made here that are still empty."""
    missing = []
    current = folder.absolute()
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for made in missing:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()  # only an empty folder: anything written into it stays
        raise

"""Submitted files stored by content: ``DIR/store/ab/<sha256><ext>``, synced to disk before anyone is told.

The student's file name never becomes a path: a stored file is named by its
SHA-256 and one of three extensions chosen from a fixed list (the grader
reads a submission's kind from its extension). Writing goes to a temporary
file in the same file system, is flushed and fsynced, renamed into place,
and the folder is fsynced too, so a receipt is only sent for bytes that a
crash cannot take back. Storing the same bytes twice keeps one file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from grader.files import temporary_file

EXTENSIONS = (".py", ".ipynb", ".zip")
CHUNK = 1 << 16


class StoreError(Exception):
    """A file that cannot be stored: a kind the grader does not take, or larger than the cap."""


class TooLarge(StoreError):
    """The upload exceeded the size cap (nothing of it was kept)."""


@dataclass(frozen=True)
class Stored:
    """A stored file: its content hash, its kind and size, and where it is."""

    sha256: str
    ext: str
    size: int
    path: Path


def extension_of(filename: str) -> str:
    """The kind of an uploaded file from its name (".py", ".ipynb", ".zip"); StoreError for anything else."""
    lower = (filename or "").strip().lower()
    for ext in EXTENSIONS:
        if lower.endswith(ext):
            return ext
    raise StoreError(f"{display_name(filename)!r}: hand in a .py file, a .ipynb notebook or a .zip holding one "
                     "of them")


def display_name(filename: str, limit: int = 120) -> str:
    """The student's file name made safe to show and store as text (never used as a path)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(filename or ""))
    text = text.replace("/", "_").replace("\\", "_")
    return (text[:limit - 3] + "...") if len(text) > limit else (text or "submission")


class FileStore:
    """The content-addressed store under one folder."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, sha256: str, ext: str) -> Path:
        """Where the file with this hash and kind lives (whether or not it exists)."""
        if ext not in EXTENSIONS or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise StoreError(f"not a stored file: {sha256!r}{ext!r}")
        return self.root / sha256[:2] / f"{sha256}{ext}"

    def put(self, chunks: Iterable[bytes], ext: str, *, limit: int) -> Stored:
        """Store the bytes of `chunks` (at most `limit` of them, TooLarge otherwise); returns the stored file."""
        if ext not in EXTENSIONS:
            raise StoreError(f"unsupported kind {ext!r}")
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with temporary_file(tmp_dir, suffix=".part") as (handle, temp_name):
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"the file is larger than {limit // 1024} KiB")
                    digest.update(chunk)
                    out.write(chunk)
                sha = digest.hexdigest()
                target = self.path(sha, ext)
                if target.is_file() and target.stat().st_size == size:
                    # The same bytes are already stored (and were synced when they were): keep that copy.
                    os.unlink(temp_name)
                    return Stored(sha, ext, size, target)
                out.flush()
                os.fsync(out.fileno())
            target.parent.mkdir(exist_ok=True)
            os.chmod(temp_name, 0o600)
            os.replace(temp_name, target)
            _fsync_dir(target.parent)
            return Stored(sha, ext, size, target)

    def put_file(self, stream: BinaryIO, ext: str, *, limit: int) -> Stored:
        """Store what `stream` holds (read in chunks)."""
        return self.put(iter(lambda: stream.read(CHUNK), b""), ext, limit=limit)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

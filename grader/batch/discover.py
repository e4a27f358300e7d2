"""Find the students of a batch: one per entry of a folder, or of a .zip of the class.

Each entry of the class folder is one student (``spec/INTERFACES.md``): a
``.py``, a ``.ipynb``, a ``.zip``, or a sub-folder holding one such file. The
student id is the entry's name without its extension. Hidden entries,
``__MACOSX``, ``.ipynb_checkpoints`` and ``__pycache__`` are not students.

Discovery only lists: it never opens a submission (grading does, and reports
an unreadable one as that student's problem). An entry that cannot be a
submission (a ``.pdf``) or whose id collides with another entry's is still a
student, with a `problem` saying why it cannot be graded, so that nobody
silently drops out of the gradebook.

A class ``.zip`` is unpacked into a private folder the caller owns (see
`discovered`), never next to the archive: entries with absolute paths,
``..`` components or symlinks make the whole archive refused, and the number
of entries and the unpacked bytes are capped while reading (the sizes in the
archive's header are not trusted).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from grader.errors import ConfigurationError
from grader.source.submission import SUBMISSION_SUFFIXES, is_ignored, student_id

# Caps for a class archive. A student's own submission is capped again when it
# is loaded (10 MB of code, 50 MB for a student's zip); these only stop an
# archive from filling the disk or taking forever before grading starts.
MAX_CLASS_ENTRIES = 50_000
MAX_CLASS_ENTRY_BYTES = 64 * 2**20
MAX_CLASS_BYTES = 4 * 2**30

_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")


class DiscoveryError(ConfigurationError):
    """The class folder or archive cannot be used at all; the message says what to fix."""


@dataclass(frozen=True)
class Student:
    """One student of the batch.

    `path` is the submission entry (file or folder); `kind` is "py",
    "ipynb", "zip", "folder" or "other"; `problem` is empty for an entry to
    grade, else the reason it cannot be graded (shown to the student and
    the instructor).
    """

    id: str
    path: Path
    kind: str
    problem: str = ""


@contextlib.contextmanager
def discovered(source: str | os.PathLike, *, unpack_parent: str | os.PathLike | None = None,
               exclude: Iterable[str | os.PathLike] = ()) -> Iterator[list[Student]]:
    """The students of `source` (a folder or a class .zip), valid inside the `with` block.

    A class zip is unpacked into a fresh private folder (mode 0700) under
    `unpack_parent` (default: the system's temp folder), removed when the
    block ends. `exclude` lists paths that are not students even when they
    sit in the folder (the output folder, the overrides file).
    """
    source = Path(source)
    if _is_class_zip(source):
        if unpack_parent is not None:
            Path(unpack_parent).mkdir(parents=True, exist_ok=True)
        unpack_dir = tempfile.mkdtemp(prefix=".class-zip-", dir=unpack_parent)
        try:
            yield discover(source, unpack_dir=unpack_dir, exclude=exclude)
        finally:
            shutil.rmtree(unpack_dir, ignore_errors=True)
    else:
        yield discover(source, exclude=exclude)


def discover(source: str | os.PathLike, *, unpack_dir: str | os.PathLike | None = None,
             exclude: Iterable[str | os.PathLike] = ()) -> list[Student]:
    """The students of `source`, sorted by id.

    `source` is a folder, or a class .zip that is unpacked into `unpack_dir`
    (an empty folder the caller owns and removes). Raises DiscoveryError
    when `source` is neither, or the archive is refused.
    """
    source = Path(source)
    if _is_class_zip(source):
        if unpack_dir is None:
            raise ValueError("a class zip needs an unpack_dir (use discovered() to get a temporary one)")
        root = unpack_class_zip(source, Path(unpack_dir))
        # A class zip often wraps everything in one folder ("submissions/"): its entries are the students.
        inner = [e for e in os.scandir(root) if not is_ignored(e.name)]
        if len(inner) == 1 and inner[0].is_dir(follow_symlinks=False):
            root = Path(inner[0].path)
        return _students_in(root, excluded=set())
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise DiscoveryError(f"{source}: no such folder; give the folder (or .zip) of submissions") from None
    except OSError as exc:
        raise DiscoveryError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DiscoveryError(f"{source}: not a folder or a .zip file; give the folder (or .zip) of submissions, "
                             "one entry per student")
    excluded = {os.path.realpath(p) for p in exclude}
    return _students_in(source, excluded=excluded)


def _is_class_zip(source: Path) -> bool:
    return source.suffix.lower() == ".zip" and source.is_file()


def _students_in(root: Path, *, excluded: set[str]) -> list[Student]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DiscoveryError(f"{root}: cannot be listed ({exc.strerror or exc})") from None
    by_id: dict[str, list[Student]] = defaultdict(list)
    for entry in entries:
        if is_ignored(entry.name) or os.path.realpath(entry.path) in excluded:
            continue
        student = _student_of(entry)
        by_id[student.id.casefold()].append(student)
    students = []
    for group in by_id.values():
        if len(group) == 1:
            students.append(group[0])
            continue
        # Two entries that would share an output folder (also on a case-insensitive
        # file system): grading either one would hide the other, so neither is graded.
        names = ", ".join(s.path.name for s in group)
        for identity in dict.fromkeys(s.id for s in group):
            first = next(s for s in group if s.id == identity)
            problem = (f"{len(group)} submissions map to the student id {identity!r} ({names}); "
                       "keep exactly one entry per student in the class folder and grade again")
            students.append(Student(identity, first.path, first.kind, problem))
    return sorted(students, key=lambda s: s.id)


def _student_of(entry: os.DirEntry) -> Student:
    path = Path(entry.path)
    is_dir = entry.is_dir()
    identity = student_id(path, is_dir=is_dir)
    if is_dir:
        return Student(identity, path, "folder")
    suffix = path.name[len(identity):]
    if suffix.lower() in SUBMISSION_SUFFIXES:
        return Student(identity, path, suffix.lower().lstrip("."))
    what = f"a {suffix!r} file" if suffix else "a file without an extension"
    return Student(identity, path, "other",
                   f"{entry.name} is {what}; a submission is a .py file, a .ipynb notebook, a .zip, "
                   "or a folder holding exactly one .py or .ipynb file")


# ---------------------------------------------------------------- class archive


def unpack_class_zip(archive_path: Path, dest: Path, *, max_entries: int = MAX_CLASS_ENTRIES,
                     max_entry_bytes: int = MAX_CLASS_ENTRY_BYTES, max_bytes: int = MAX_CLASS_BYTES) -> Path:
    """Unpack the class archive into the empty folder `dest` and return `dest`.

    Only folders and regular files are created, all inside `dest`; ignored
    names (hidden, ``__MACOSX``...) are skipped. Raises DiscoveryError for a
    damaged or encrypted archive, an unsafe entry (absolute path, ``..``,
    symlink, a name given twice) or one past the caps.
    """
    label = str(archive_path)
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DiscoveryError(f"{label}: not a readable zip archive ({exc}); give the class folder, or a "
                             ".zip of it") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise DiscoveryError(f"{label}: holds {len(infos)} entries, more than the {max_entries} a class "
                                 "archive may hold")
        total = 0
        for info in infos:
            parts = _safe_parts(info, label)
            if not parts or any(is_ignored(part) for part in parts):
                continue
            target = dest.joinpath(*parts)
            if info.is_dir():
                _make_dirs(dest, parts, label, info.filename)
                continue
            _make_dirs(dest, parts[:-1], label, info.filename)
            total += _extract_file(archive, info, target, label, max_entry_bytes, max_bytes, total)
    return dest


def _safe_parts(info: zipfile.ZipInfo, label: str) -> list[str]:
    """The entry's path components, or DiscoveryError when it could land outside the unpack folder."""
    name = info.filename.replace("\\", "/")  # archives made on Windows may use backslashes
    if name.startswith("/") or _DRIVE.match(name):
        raise DiscoveryError(f"{label}: refused: the entry {info.filename!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise DiscoveryError(f"{label}: refused: the entry {info.filename!r} climbs out of the archive with '..'")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DiscoveryError(f"{label}: refused: the entry {info.filename!r} is a symbolic link; a class archive "
                             "holds only files and folders")
    return parts


def _make_dirs(dest: Path, parts: list[str], label: str, entry: str) -> None:
    current = dest
    for part in parts:
        current = current / part
        try:
            os.mkdir(current, 0o700)
        except FileExistsError:
            if not current.is_dir() or current.is_symlink():
                raise DiscoveryError(f"{label}: refused: the entry {entry!r} is both a file and a folder "
                                     "in the archive") from None


def _extract_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str,
                  max_entry_bytes: int, max_bytes: int, total: int) -> int:
    """Copy one entry to `target` (a new file), counting the bytes actually unpacked; returns them."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise DiscoveryError(f"{label}: refused: the archive holds {info.filename!r} more than once") from None
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                if written > max_entry_bytes:
                    raise DiscoveryError(f"{label}: refused: the entry {info.filename!r} unpacks to more than "
                                         f"{max_entry_bytes / 2**20:g} MB")
                if total + written > max_bytes:
                    raise DiscoveryError(f"{label}: refused: the archive unpacks to more than "
                                         f"{max_bytes / 2**20:g} MB")
                out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError,
            ValueError) as exc:
        # RuntimeError: an encrypted entry; NotImplementedError: an unknown compression method.
        raise DiscoveryError(f"{label}: the entry {info.filename!r} cannot be unpacked ({exc}); re-create the "
                             "archive without encryption, with standard (deflate) compression") from None
    return written

"""Find the students of a batch: one per entry of a folder, or of a .zip of the class.

Each entry of the class folder is one student (``spec/INTERFACES.md``): a
``.py``, a ``.ipynb``, a ``.zip``, or a sub-folder holding one such file. The
student id is the entry's name without its extension. Hidden entries,
``__MACOSX``, ``.ipynb_checkpoints`` and ``__pycache__`` are not students.

Discovery only lists: it never opens a submission (grading does, and reports
an unreadable one as that student's problem). An entry that cannot be a
submission (a ``.pdf``), whose id collides with another entry's, or that is a
symbolic link leading out of the class folder is still a student, with a
`problem` saying why it cannot be graded, so that nobody silently drops out
of the gradebook. A name is never a reason to stop the class: a name that is
not UTF-8, too long, full of control characters or that of the batch's own
output file gets a safe output folder (grader.batch.names) that the
gradebook row names.

A class ``.zip`` is unpacked into a private folder the caller owns (see
`discovered` and grader.batch.class_zip), never next to the archive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from grader.batch.class_zip import (MAX_CLASS_BYTES, MAX_CLASS_ENTRIES, MAX_CLASS_ENTRY_BYTES, ArchiveEntry,
                                    DiscoveryError, unpack_class_zip)
from grader.batch.names import readable, safe_name, unusable
from grader.batch.overrides import KEPT_NAME
from grader.batch.progress import GRADEBOOK_NAME, INDEX_NAME
from grader.batch.record import RECORD_NAME
from grader.source.submission import SUBMISSION_SUFFIXES, is_ignored, student_id

__all__ = ["MAX_CLASS_BYTES", "MAX_CLASS_ENTRIES", "MAX_CLASS_ENTRY_BYTES", "DiscoveryError", "OUTPUT_NAMES",
           "Student", "discover", "discovered", "unpack_class_zip"]

# The batch's own output files: a student folder of one of these names (in any case) would collide with them.
OUTPUT_NAMES = frozenset({GRADEBOOK_NAME, INDEX_NAME, KEPT_NAME, RECORD_NAME})


@dataclass(frozen=True)
class Student:
    """One student of the batch.

    `id` is the student id as people read it (the entry's name without its
    extension, `readable`); `path` is the submission entry (file or folder);
    `kind` is "py", "ipynb", "zip", "folder" or "other"; `problem` is empty
    for an entry to grade, else the reason it cannot be graded (shown to the
    student and the instructor). `folder` is the student's output folder in
    OUTDIR: the id itself, or a safe name when the id cannot be one, and
    then `renamed` says why. `entry` is the entry's name as handed in (readable).
    """

    id: str
    path: Path
    kind: str
    problem: str = ""
    folder: str = ""
    renamed: str = ""
    entry: str = ""

    def __post_init__(self) -> None:
        if not self.folder:
            object.__setattr__(self, "folder", self.id)
        if not self.entry:
            object.__setattr__(self, "entry", readable(self.path.name))


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
    when `source` is neither, or the archive is refused as a whole.
    """
    source = Path(source)
    if _is_class_zip(source):
        if unpack_dir is None:
            raise ValueError("a class zip needs an unpack_dir (use discovered() to get a temporary one)")
        return _students(unpack_class_zip(source, Path(unpack_dir)))
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
    return _students(_folder_entries(source, excluded))


def _is_class_zip(source: Path) -> bool:
    return source.suffix.lower() == ".zip" and source.is_file()


def _folder_entries(root: Path, excluded: set[str]) -> list[ArchiveEntry]:
    """The class folder's entries; a symbolic link that leads out of the folder is one with a problem."""
    try:
        scanned = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DiscoveryError(f"{root}: cannot be listed ({exc.strerror or exc})") from None
    inside = os.path.realpath(root)
    entries = []
    for entry in scanned:
        target = os.path.realpath(entry.path)
        if is_ignored(entry.name) or target in excluded:
            continue
        problem = ""
        if entry.is_symlink() and os.path.commonpath([inside, target]) != inside:
            # A link to the grader's reference solution would otherwise be graded as this student's work.
            problem = (f"{readable(entry.name)} is a symbolic link to a place outside the class folder; the class "
                       "folder must hold the submissions themselves (copy the file in instead of linking to it)")
        try:
            is_dir = entry.is_dir() and not problem
        except OSError:
            is_dir = False
        entries.append(ArchiveEntry(entry.name, Path(entry.path), is_dir, problem))
    return entries


def _students(entries: list[ArchiveEntry]) -> list[Student]:
    """One student per entry: ids, problems, clashing ids, and a usable output folder for each."""
    by_id: dict[str, list[Student]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.name):
        student = _student_of(entry)
        by_id[student.id.casefold()].append(student)
    students = []
    for group in by_id.values():
        if len(group) == 1:
            students.append(group[0])
            continue
        # Two entries that would share an output folder (also on a case-insensitive
        # file system): grading either one would hide the other, so neither is graded.
        names = ", ".join(s.entry for s in group)
        for identity in dict.fromkeys(s.id for s in group):
            first = next(s for s in group if s.id == identity)
            problem = (f"{len(group)} submissions map to the student id {identity!r} ({names}); "
                       "keep exactly one entry per student in the class folder and grade again")
            students.append(Student(identity, first.path, first.kind, problem, folder=first.folder,
                                    renamed=first.renamed, entry=first.entry))
    return sorted(_unique_folders(students), key=lambda s: s.id)


def _student_of(entry: ArchiveEntry) -> Student:
    raw = student_id(entry.name, is_dir=entry.is_dir)
    identity = readable(raw)
    why = unusable(raw, OUTPUT_NAMES)
    folder = safe_name(raw) if why else identity
    common = {"folder": folder, "renamed": why, "entry": readable(entry.name)}
    if entry.problem:
        return Student(identity, entry.path, "folder" if entry.is_dir else "other", entry.problem, **common)
    if entry.is_dir:
        return Student(identity, entry.path, "folder", **common)
    suffix = entry.name[len(raw):]
    if suffix.lower() in SUBMISSION_SUFFIXES:
        return Student(identity, entry.path, suffix.lower().lstrip("."), **common)
    what = f"a {readable(suffix)!r} file" if suffix else "a file without an extension"
    return Student(identity, entry.path, "other",
                   f"{readable(entry.name)} is {what}; a submission is a .py file, a .ipynb notebook, a .zip, "
                   "or a folder holding exactly one .py or .ipynb file", **common)


def _unique_folders(students: list[Student]) -> list[Student]:
    """Students whose output folders differ also on a case-insensitive file system (a safe name can meet an id)."""
    taken = {s.folder.casefold() for s in students if not s.renamed}
    out = []
    for student in students:
        if student.renamed:
            folder = student.folder
            while folder.casefold() in taken:
                folder = safe_name(folder)
            taken.add(folder.casefold())
            student = Student(student.id, student.path, student.kind, student.problem, folder=folder,
                              renamed=student.renamed, entry=student.entry)
        out.append(student)
    return out



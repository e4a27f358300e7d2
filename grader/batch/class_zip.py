"""Unpack a class .zip into a private folder: one student per top-level entry, a problem kept per student.

The archive as a whole is refused (DiscoveryError) only for what endangers
the machine or cannot be a class: a damaged or encrypted central directory,
entries with absolute paths, ``..`` components or symbolic links, more
entries or more unpacked bytes than the caps (counted while reading: the
sizes in the archive's header are not trusted). Everything else is the
problem of the one student whose entry it is: a name too long for the file
system, a name given twice, a name that is both a file and a folder, an entry
over the per-entry cap, an entry that does not decompress. A student's own
name never stops unpacking: a top-level name that cannot be a file name as it
is (too long, control characters) is unpacked under a safe name
(grader.batch.names), and an entry whose name the archive marks as UTF-8 but
is not is read as the old zip encoding (cp437) instead of failing the archive.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.batch.names import readable, safe_name, unusable
from grader.errors import ConfigurationError
from grader.source.submission import is_ignored
from grader.source.zipnames import Utf8FlagsCleared

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
class ArchiveEntry:
    """One entry of a class (folder or archive): its name as handed in, its place on disk, a problem."""

    name: str
    path: Path
    is_dir: bool
    problem: str = ""


@dataclass
class _Unpacking:
    """One student's top-level entry while the archive is unpacked."""

    disk_name: str
    is_dir: bool
    problem: str = ""
    files: set[str] = field(default_factory=set)


class _EntryProblem(Exception):
    """An entry that cannot be unpacked: the problem of the student it belongs to."""


def unpack_class_zip(archive_path: Path, dest: Path, *, max_entries: int = MAX_CLASS_ENTRIES,
                     max_entry_bytes: int = MAX_CLASS_ENTRY_BYTES,
                     max_bytes: int = MAX_CLASS_BYTES) -> list[ArchiveEntry]:
    """Unpack the class archive into the empty folder `dest`; one `ArchiveEntry` per student entry.

    Only folders and regular files are created, all inside `dest`; ignored
    names (hidden, ``__MACOSX``...) are skipped; a single top-level folder
    that wraps everything ("submissions/") is looked into. Raises
    DiscoveryError when the archive as a whole is refused (see the module).
    """
    label = str(archive_path)
    with _open_archive(archive_path, label) as archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise DiscoveryError(f"{label}: holds {len(infos)} entries, more than the {max_entries} a class "
                                 "archive may hold")
        members = []
        for info in infos:
            parts = _safe_parts(info, label)
            if parts and not any(is_ignored(part) for part in parts):
                members.append((parts, info))
        members = _without_wrapper(members)
        students = _plan(members)
        total = 0
        for parts, info in members:
            student = students[parts[0]]
            if student.problem:
                continue
            target = dest.joinpath(student.disk_name, *parts[1:])
            try:
                if info.is_dir():
                    _make_dirs(dest, [student.disk_name, *parts[1:]])
                    continue
                _make_dirs(dest, [student.disk_name, *parts[1:-1]] if len(parts) > 1 else [])
                total += _extract_file(archive, info, target, label, max_entry_bytes, max_bytes, total)
            except _EntryProblem as exc:
                student.problem = f"the class archive's entry {readable(info.filename)!r} {exc}"
    return [ArchiveEntry(name, dest / s.disk_name, s.is_dir, s.problem) for name, s in students.items()]


def _safe_parts(info: zipfile.ZipInfo, label: str) -> list[str]:
    """The entry's path components, or DiscoveryError when it could land outside the unpack folder."""
    name = info.filename.replace("\\", "/")  # archives made on Windows may use backslashes
    if name.startswith("/") or _DRIVE.match(name):
        raise DiscoveryError(f"{label}: refused: the entry {readable(info.filename)!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise DiscoveryError(f"{label}: refused: the entry {readable(info.filename)!r} climbs out of the archive "
                             "with '..'")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DiscoveryError(f"{label}: refused: the entry {readable(info.filename)!r} is a symbolic link; a class "
                             "archive holds only files and folders")
    return parts


def _without_wrapper(members: list[tuple[list[str], zipfile.ZipInfo]]) -> list[tuple[list[str], zipfile.ZipInfo]]:
    """The members below a single top-level folder that holds everything ("submissions/"), else all of them."""
    tops = {parts[0] for parts, _ in members}
    if len(tops) != 1 or not any(len(parts) > 1 or info.is_dir() for parts, info in members):
        return members
    return [(parts[1:], info) for parts, info in members if len(parts) > 1]


def _plan(members: list[tuple[list[str], zipfile.ZipInfo]]) -> dict[str, _Unpacking]:
    """Each top-level name: whether it is a folder, and the name it is unpacked under (a safe one if needed)."""
    folders = {parts[0] for parts, info in members if len(parts) > 1 or info.is_dir()}
    students = {}
    for parts, _ in members:
        name = parts[0]
        if name in students:
            continue
        is_dir = name in folders
        disk_name = name
        if unusable(name):
            stem, suffix = os.path.splitext(name)
            disk_name = safe_name(name) if is_dir or not stem else safe_name(stem, suffix)
        students[name] = _Unpacking(disk_name, is_dir)
    return students


def _make_dirs(dest: Path, parts: list[str]) -> None:
    current = dest
    for part in parts:
        current = current / part
        try:
            os.mkdir(current, 0o700)
        except FileExistsError:
            if not current.is_dir() or current.is_symlink():
                raise _EntryProblem("is both a file and a folder in the archive") from None
        except OSError as exc:
            raise _EntryProblem(f"cannot be unpacked ({exc.strerror or exc})") from None


def _extract_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str,
                  max_entry_bytes: int, max_bytes: int, total: int) -> int:
    """Copy one entry to `target` (a new file), counting the bytes actually unpacked; returns them.

    Going past `max_bytes` for the whole archive (`total` so far) refuses the
    archive; past `max_entry_bytes` only refuses this entry's student.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise _EntryProblem("is in the archive more than once (or is both a file and a folder)") from None
    except OSError as exc:
        raise _EntryProblem(f"cannot be unpacked ({exc.strerror or exc})") from None
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                if total + written > max_bytes:
                    raise DiscoveryError(f"{label}: refused: the archive unpacks to more than "
                                         f"{max_bytes / 2**20:g} MB")
                if written > max_entry_bytes:
                    raise _EntryProblem(f"unpacks to more than {max_entry_bytes / 2**20:g} MB")
                out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError, ValueError,
            UnicodeDecodeError, OSError) as exc:
        # RuntimeError: an encrypted entry; NotImplementedError: an unknown compression method.
        raise _EntryProblem(f"cannot be unpacked ({type(exc).__name__}: {exc}); the archive may be damaged "
                            "or use encryption or an unusual compression") from None
    return written


# ---------------------------------------------------------------- names marked UTF-8 that are not


def _open_archive(path: Path, label: str) -> zipfile.ZipFile:
    """The archive, readable even when an entry's name is marked UTF-8 and is not (zipfile fails on the whole)."""
    try:
        try:
            return zipfile.ZipFile(path)
        except UnicodeDecodeError:
            return zipfile.ZipFile(Utf8FlagsCleared(path))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
        raise DiscoveryError(f"{label}: not a readable zip archive ({exc}); give the class folder, or a "
                             ".zip of it") from None

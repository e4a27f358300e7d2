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

import io
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.batch.names import readable, safe_name, unusable
from grader.errors import ConfigurationError
from grader.source.submission import is_ignored

# Caps for a class archive. A student's own submission is capped again when it
# is loaded (10 MB of code, 50 MB for a student's zip); these only stop an
# archive from filling the disk or taking forever before grading starts.
MAX_CLASS_ENTRIES = 50_000
MAX_CLASS_ENTRY_BYTES = 64 * 2**20
MAX_CLASS_BYTES = 4 * 2**30

_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
_UTF8_NAME_FLAG = 0x0800


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
            return zipfile.ZipFile(_Utf8FlagsCleared(path))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
        raise DiscoveryError(f"{label}: not a readable zip archive ({exc}); give the class folder, or a "
                             ".zip of it") from None


class _Utf8FlagsCleared(io.RawIOBase):
    """The archive's bytes, with the UTF-8 flag cleared on the entries whose names are not UTF-8.

    zipfile then reads those names in the zip's historical encoding (cp437,
    where every byte is a character) and the rest as they are.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed with this object, which zipfile closes)
        self.name = str(path)
        try:
            self._patches = _flag_patches(self._file)
        except BaseException:
            self._file.close()
            raise

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        start = self._file.tell()
        data = self._file.read(size)
        hits = [at for at in self._patches if start <= at < start + len(data)]
        if not hits:
            return data
        patched = bytearray(data)
        for at in hits:
            patched[at - start] = self._patches[at]
        return bytes(patched)

    def close(self) -> None:
        self._file.close()
        super().close()


def _flag_patches(stream: io.BufferedReader) -> dict[int, int]:
    """{file offset: new byte} clearing the UTF-8 flag of every entry whose name is not UTF-8 (central + local)."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    tail_size = min(size, 22 + 65_535)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return {}
    end_at = size - tail_size + at
    entries, cd_size, cd_offset = struct.unpack("<10xHLL", tail[at:at + 20])
    if 0xFFFFFFFF in (cd_size, cd_offset) or entries == 0xFFFF:
        stream.seek(end_at - 20 - 56)  # the ZIP64 end record, just before its locator
        record = stream.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            return {}
        cd_size, cd_offset = struct.unpack("<40xQQ", record)
        end_at -= 20 + 56
    base = end_at - cd_size - cd_offset  # bytes before the archive (a self-extractor's stub)
    stream.seek(base + cd_offset)
    directory = stream.read(cd_size)
    patches, i = {}, 0
    while i + 46 <= len(directory) and directory[i:i + 4] == b"PK\x01\x02":
        flags, = struct.unpack_from("<H", directory, i + 8)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", directory, i + 28)
        local, = struct.unpack_from("<L", directory, i + 42)
        name = directory[i + 46:i + 46 + name_len]
        if flags & _UTF8_NAME_FLAG and not _is_utf8(name):
            patches[base + cd_offset + i + 9] = directory[i + 9] & ~(_UTF8_NAME_FLAG >> 8)
            if local != 0xFFFFFFFF:
                stream.seek(base + local + 7)
                byte = stream.read(1)
                if byte:
                    patches[base + local + 7] = byte[0] & ~(_UTF8_NAME_FLAG >> 8)
        i += 46 + name_len + extra_len + comment_len
    return patches


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False

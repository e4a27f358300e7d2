"""Zip entry names marked UTF-8 that are not: read them in the zip's old encoding instead of refusing the archive.

Python's zipfile fails on the whole archive when one entry's name carries
the UTF-8 flag but is not UTF-8 (some zip tools set it for any name). The
class archive (grader.batch.class_zip) and a student's own zip
(grader.source.submission) both open such an archive with the flag cleared
on exactly those entries, so zipfile reads their names as cp437, where every
byte is a character, and the rest as they are.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

_UTF8_NAME_FLAG = 0x0800


def zip_from_bytes(data: bytes) -> zipfile.ZipFile:
    """The archive held in `data`; names marked UTF-8 that are not are read as cp437 (zipfile's own errors pass)."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError:
        patched = bytearray(data)
        for at, byte in flag_patches(io.BytesIO(data)).items():
            patched[at] = byte
        return zipfile.ZipFile(io.BytesIO(bytes(patched)))


class Utf8FlagsCleared(io.RawIOBase):
    """The archive's bytes, with the UTF-8 flag cleared on the entries whose names are not UTF-8.

    zipfile then reads those names in the zip's historical encoding (cp437,
    where every byte is a character) and the rest as they are.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed with this object, which zipfile closes)
        self.name = str(path)
        try:
            self._patches = flag_patches(self._file)
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


def flag_patches(stream: io.BufferedReader) -> dict[int, int]:
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

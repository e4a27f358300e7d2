"""Names a batch can use for a student whatever the entry is called (``spec/INTERFACES.md``, "Submissions in a batch").

An entry's name comes from a student (a file name, a zip entry name). It may
not be UTF-8, may be longer than a file name may be, may hold control
characters, or may be the name of one of the batch's own output files
(``Index.HTML.py`` against ``index.html``). None of that may stop the class:
the student id shown to people is the name made `readable`, and a name that
cannot serve as a folder as it is gets a `safe_name` instead (deterministic,
so that a rerun finds the same folder), which the gradebook row states.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# A student's output folder (and a class zip's unpacked entry) stays well below
# the 255 bytes a file name may have on Linux file systems.
MAX_NAME_BYTES = 200
_SLUG_CHARS = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def raw_bytes(name: str) -> bytes:
    """The bytes of a name as the file system holds them (a non-UTF-8 name arrives with surrogate escapes)."""
    if not _has_surrogates(name):
        return name.encode("utf-8")
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file system gave (from elsewhere): keep its code unit
        return name.encode("utf-8", "surrogatepass")


def readable(name: str) -> str:
    """`name` as people can read it anywhere: bytes that are not UTF-8 and control characters as escapes.

    ``b"caf\\xe9"`` becomes ``caf\\xe9`` and an ESC becomes ``\\x1b``: the id
    stays distinct and says what the name really holds, but can reach a
    terminal, a CSV or JSON as it is.
    """
    if _has_surrogates(name):
        name = raw_bytes(name).decode("utf-8", "backslashreplace")
    if not any(_needs_escape(ch) for ch in name):
        return name
    return "".join(ch.encode("unicode_escape").decode("ascii") if _needs_escape(ch) else ch for ch in name)


def unusable(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """Why `name` cannot be a folder or file name of the grader's as it is ("" when it can).

    `reserved` holds names (lower-cased) of the batch's own outputs.
    """
    if _has_surrogates(name):
        return "the name is not valid UTF-8"
    if readable(name) != name:
        return "the name holds control characters"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    if name.casefold() in reserved:
        return f"the name is that of the batch's own {name.casefold()}"
    if name in ("", ".", "..") or "/" in name or "\0" in name or name.startswith("."):
        return "the name cannot be a folder name"
    return ""


def safe_name(name: str, suffix: str = "") -> str:
    """A name for `name` that is always usable: its safe characters, cut short, a digest of the full name, `suffix`.

    The digest is of the name's bytes, so two names never share a safe name
    and a rerun gives the same one.
    """
    slug = _UNSAFE.sub("_", unicodedata.normalize("NFKD", readable(name))).strip("._-")[:_SLUG_CHARS] or "student"
    return f"{slug}~{hashlib.sha256(raw_bytes(name)).hexdigest()[:10]}{suffix}"


def _has_surrogates(name: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in name)


def _needs_escape(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI


"""Turn a submission on disk into Python source text (trusted side).

A submission is a ``.py`` file, a ``.ipynb`` notebook, a ``.zip`` or a folder
holding exactly one such file. Everything here only reads: files are opened
read-only, zips are read in memory and never extracted, symlinks inside a
folder are not followed out of it. Every problem with a submission becomes a
`SubmissionError` whose text tells the student what was expected, what was
found and what to do.

Notebooks are read with nbformat (version 4). Their code cells are joined
into one source, each cell after a ``# %% cell N`` line, where N counts every
cell from the top of the notebook (Markdown cells included).
IPython-only lines are never run: line magics (``%matplotlib inline``),
shell commands (``!pip install ...``), help requests (``np.zeros?``) and
``x = !cmd`` forms become comments (or ``pass`` inside an indented block) on
the same line, so line numbers inside a cell do not move. A cell that starts
with a ``%%`` cell magic is commented out whole, except ``%%time``,
``%%timeit`` and ``%%capture``, whose body is Python and is kept without the
magic line. The submission's `notes` list what was removed.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import json
import os
import re
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from grader.errors import SubmissionError
from grader.source.pyparse import logical_line_starts

CODE_SUFFIXES = (".py", ".ipynb")
MAX_ENTRIES = 2000  # files in a zip or folder submission
PYTHON_BODY_CELL_MAGICS = frozenset({"%%time", "%%timeit", "%%capture"})

_READ_CHUNK = 1 << 16
# Read-only, and a named pipe must not block the grader.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_MAX_LISTED = 5
_HELP_PREFIX = re.compile(r"\s*\?")
# What a submission file can be (a folder holds one .py or .ipynb).
SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")
# Entries that are never a submission, in a student's folder or zip and in a class folder.
IGNORED_NAMES = frozenset({"__MACOSX", ".ipynb_checkpoints", "__pycache__"})
_CODING_LINE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.M)
_MAGIC_ASSIGNMENT = re.compile(r"\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")


def student_id(path: str | os.PathLike, *, is_dir: bool | None = None) -> str:
    """The student id of a submission entry: the one rule for a batch, `grader grade` and the server.

    A folder's id is its whole name (``alice.v2`` stays ``alice.v2``); a file's
    is its name without the extension (``alice.v2.py`` is ``alice.v2``, and
    so is ``alice.v2.pdf``, which a batch then reports as unsupported).
    `is_dir` saves a look at the file system when the caller knows.
    """
    path = Path(path)
    if is_dir if is_dir is not None else path.is_dir():
        return path.name
    stem, _ = os.path.splitext(path.name)
    return stem or path.name


def is_ignored(name: str) -> bool:
    """Whether a folder or archive entry name is never a submission (hidden files, OS and Jupyter clutter)."""
    return name.startswith(".") or name in IGNORED_NAMES


class CellSpan(NamedTuple):
    """Where a notebook cell's code sits in the joined source (1-based, inclusive lines)."""

    number: int
    first_line: int
    last_line: int


@dataclass
class Submission:
    """One submission as Python source, with where it came from.

    `filename` is the code file's path inside the submission (its name for a
    plain file); `kind` is "py" or "ipynb"; `sha256` is the digest
    `content_hash` gives for the same path; `notes` say what was changed on
    the way (removed magics, encoding); `cells` locate each notebook cell.
    """

    source: str
    filename: str
    kind: str
    sha256: str
    notes: list[str] = field(default_factory=list)
    cells: list[CellSpan] = field(default_factory=list, repr=False)

    def origin(self, lineno: int) -> str:
        """Where line `lineno` of `source` was written: "line 12", or "cell 4, line 3" in a notebook."""
        if self.kind != "ipynb" or not self.cells:
            return f"line {lineno}"
        k = bisect.bisect_right([c.first_line for c in self.cells], lineno) - 1
        if k >= 0 and lineno <= self.cells[k].last_line:
            cell = self.cells[k]
            return f"cell {cell.number}, line {lineno - cell.first_line + 1}"
        if k + 1 < len(self.cells):
            # The separator lines before a cell belong to that cell.
            return f"cell {self.cells[k + 1].number}"
        return f"line {lineno}"


@dataclass
class _Limits:
    max_bytes: int
    max_unpacked_bytes: int
    max_entries: int


def load_submission(path: str | os.PathLike, *, max_bytes: int = 10 * 2**20,
                    max_unpacked_bytes: int = 50 * 2**20, max_entries: int = MAX_ENTRIES) -> Submission:
    """Read the submission at `path` (.py, .ipynb, .zip or folder) as Python source.

    `max_bytes` caps the code file and `max_unpacked_bytes` a zip archive
    and what it unpacks to; `max_entries` caps the files in a zip or folder.
    Raises SubmissionError, and no other exception, for any bad submission.
    """
    label = os.fspath(path)
    limits = _Limits(max_bytes, max_unpacked_bytes, max_entries)
    try:
        return _load(Path(path), label, limits)
    except SubmissionError:
        raise
    except Exception as exc:
        raise SubmissionError(f"{label}: the submission could not be read ({type(exc).__name__}: {exc}); "
                              "check that it is a .py, .ipynb or .zip file that opens normally") from exc


def content_hash(path: str | os.PathLike) -> str:
    """The sha256 `load_submission(path)` reports, computed without parsing anything.

    A plain file or zip hashes its bytes; a folder hashes the names and bytes
    of its candidate code files. Raises SubmissionError only when the path
    cannot be read.
    """
    label = os.fspath(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            listing = _list_folder(Path(path), label, max_entries=MAX_ENTRIES, strict=False)
            digest = _folder_digest()
            for rel in listing.candidates:
                digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
                _hash_file(Path(path, rel), digest, label)
            return digest.hexdigest()
        digest = hashlib.sha256()
        _hash_file(Path(path), digest, label)
        return digest.hexdigest()
    except SubmissionError:
        raise
    except FileNotFoundError:
        raise SubmissionError(f"{label}: no such file or folder") from None
    except OSError as exc:
        raise SubmissionError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:
        raise SubmissionError(f"{label}: cannot be read ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------- containers

def _load(path: Path, label: str, limits: _Limits) -> Submission:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SubmissionError(f"{label}: no such file or folder; check the path") from None
    except OSError as exc:
        raise SubmissionError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        return _load_folder(path, label, limits)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        data = _read_file(path, label, limits.max_unpacked_bytes)
        return _load_zip(data, label, limits)
    if suffix not in CODE_SUFFIXES:
        raise SubmissionError(f"{label}: unsupported file type {suffix or '(no extension)'!r}; submit a .py "
                              "file, a .ipynb notebook, or a .zip or folder holding exactly one of them")
    data = _read_file(path, label, limits.max_bytes)
    return _from_bytes(data, path.name, label, hashlib.sha256(data).hexdigest())


@dataclass
class _Listing:
    candidates: list[str]
    nested_zips: list[str]
    outside_links: list[str]


def _list_folder(root: Path, label: str, *, max_entries: int, strict: bool) -> _Listing:
    """The folder's candidate code files (relative POSIX paths), skipping ignored names.

    With `strict`, more than `max_entries` files is an error; otherwise the
    listing stops there.
    """
    listing = _Listing([], [], [])
    real_root = os.path.realpath(root)
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        for name in sorted(filenames):
            if is_ignored(name):
                continue
            seen += 1
            if seen > max_entries:
                if strict:
                    raise SubmissionError(f"{label}: the folder holds more than {max_entries} files; "
                                          "submit a folder with just your .py or .ipynb file")
                return listing
            full = os.path.join(dirpath, name)
            rel = Path(os.path.relpath(full, root)).as_posix()
            suffix = os.path.splitext(name)[1].lower()
            if suffix not in CODE_SUFFIXES + (".zip",):
                continue
            if os.path.islink(full):
                target = os.path.realpath(full)
                if os.path.commonpath([real_root, target]) != real_root:
                    listing.outside_links.append(rel)
                    continue
            try:
                if not stat.S_ISREG(os.stat(full).st_mode):
                    continue
            except OSError:
                continue
            (listing.nested_zips if suffix == ".zip" else listing.candidates).append(rel)
    return listing


def _folder_digest() -> "hashlib._Hash":
    return hashlib.sha256(b"grader folder submission\0")


def _load_folder(root: Path, label: str, limits: _Limits) -> Submission:
    listing = _list_folder(root, label, max_entries=limits.max_entries, strict=True)
    rel = _only_candidate(listing.candidates, listing.nested_zips, listing.outside_links, label, "folder")
    inner_label = f"{label} ({rel})"
    data = _read_file(Path(os.path.realpath(root / rel)), inner_label, limits.max_bytes)
    digest = _folder_digest()
    digest.update(rel.encode("utf-8", "surrogateescape") + b"\0" + data)
    submission = _from_bytes(data, rel, inner_label, digest.hexdigest())
    if listing.nested_zips:
        submission.notes.append(f"did not open {', '.join(listing.nested_zips)}: a zip inside a submission "
                                "is never opened")
    return submission


def _only_candidate(candidates: list[str], nested: list[str], outside: list[str], label: str, what: str) -> str:
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        listed = ", ".join(candidates)
        raise SubmissionError(f"{label}: the {what} holds {len(candidates)} code files ({listed}); it must hold "
                              "exactly one .py or .ipynb file. Remove the others and submit again")
    found = ""
    if nested:
        found += f"; {', '.join(nested)} is a zip inside the {what}, which is not opened"
    if outside:
        found += f"; {', '.join(outside)} links to a file outside the {what}, which is not read"
    raise SubmissionError(f"{label}: the {what} holds no .py or .ipynb file{found}. "
                          f"Put your code file itself in the {what}")


def _open_regular(path: Path, label: str) -> tuple[io.BufferedReader, int]:
    """`path` opened read-only, and its size; SubmissionError unless it is a
    regular file. OSError from opening it is the caller's to word."""
    handle = open(os.open(path, _READ_FLAGS), "rb", closefd=True)
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise SubmissionError(f"{label}: is not a regular file; submit a .py, .ipynb or .zip file")
    return handle, info.st_size


def _read_file(path: Path, label: str, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` of them, opened read-only."""
    try:
        handle, size = _open_regular(path, label)
    except FileNotFoundError:
        raise SubmissionError(f"{label}: no such file or folder; check the path") from None
    except OSError as exc:
        raise SubmissionError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        if size > limit:
            raise _too_large(label, size, limit)
        # The size can change after fstat; count what is actually read.
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(label, len(data), limit)
    return data


def _hash_file(path: Path, digest: "hashlib._Hash", label: str) -> None:
    handle, _ = _open_regular(path, label)
    with handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)


def _too_large(label: str, size: int, limit: int) -> SubmissionError:
    hint = ("clear the notebook's outputs (Jupyter: Edit > Clear All Outputs) and save it again"
            if label.lower().rstrip(")").endswith(".ipynb") else "submit only your code")
    return SubmissionError(f"{label}: is {_size(size)}, more than the {_size(limit)} limit; {hint}")


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    if n >= 2**10:
        return f"{n / 2**10:.1f} KB"
    return f"{n} bytes"


def _load_zip(data: bytes, label: str, limits: _Limits) -> Submission:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise SubmissionError(f"{label}: is not a valid zip archive ({exc}); create it again with your "
                              "system's 'compress' or 'zip' command") from None
    if len(entries) > limits.max_entries:
        raise SubmissionError(f"{label}: the zip holds {len(entries)} entries, more than {limits.max_entries}; "
                              "zip only your .py or .ipynb file")
    declared = sum(e.file_size for e in entries)
    if declared > limits.max_unpacked_bytes:
        raise SubmissionError(f"{label}: the zip unpacks to {_size(declared)}, more than the "
                              f"{_size(limits.max_unpacked_bytes)} limit; zip only your .py or .ipynb file")
    candidates, nested, by_name = [], [], {}
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        _check_entry(entry, name, label)
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if entry.is_dir() or not parts or any(is_ignored(p) for p in parts):
            continue
        suffix = os.path.splitext(parts[-1])[1].lower()
        rel = "/".join(parts)
        if suffix in CODE_SUFFIXES:
            candidates.append(rel)
            by_name[rel] = entry
        elif suffix == ".zip":
            nested.append(rel)
    rel = _only_candidate(sorted(candidates), sorted(nested), [], label, "zip")
    inner_label = f"{label} ({rel})"
    payload = _read_entry(archive, by_name[rel], inner_label, min(limits.max_bytes, limits.max_unpacked_bytes))
    submission = _from_bytes(payload, rel, inner_label, hashlib.sha256(data).hexdigest())
    if nested:
        submission.notes.append(f"did not open {', '.join(sorted(nested))}: a zip inside a submission is "
                                "never opened")
    return submission


def _check_entry(entry: zipfile.ZipInfo, name: str, label: str) -> None:
    """Refuse entries that would be unsafe to unpack, even though nothing is unpacked to disk."""
    redo = "create the zip again from the folder that holds your code"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise SubmissionError(f"{label}: entry {entry.filename!r} has an absolute path; a submission zip may "
                              f"only hold paths relative to itself; {redo}")
    if ".." in name.split("/"):
        raise SubmissionError(f"{label}: entry {entry.filename!r} has a '..' path component, which points "
                              f"outside the zip; {redo}")
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise SubmissionError(f"{label}: entry {entry.filename!r} is a symbolic link; a submission zip may "
                              f"only hold regular files; {redo}")
    if entry.flag_bits & 0x1:
        raise SubmissionError(f"{label}: entry {entry.filename!r} is encrypted (password-protected); "
                              "submit a zip without a password")


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, label: str, limit: int) -> bytes:
    if entry.file_size > limit:
        raise _too_large(label, entry.file_size, limit)
    chunks, total = [], 0
    try:
        with archive.open(entry) as handle:
            # Count the bytes that come out: a header can understate them.
            while chunk := handle.read(_READ_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise SubmissionError(f"{label}: unpacks to more than the {_size(limit)} limit "
                                          f"(its header says {_size(entry.file_size)}); zip only your code file")
                chunks.append(chunk)
    except SubmissionError:
        raise
    except Exception as exc:
        raise SubmissionError(f"{label}: this zip entry is damaged and cannot be unpacked ({exc}); create the "
                              "zip again") from None
    return b"".join(chunks)


# ---------------------------------------------------------------- text

def _from_bytes(data: bytes, name: str, label: str, sha256: str) -> Submission:
    kind = "ipynb" if name.lower().endswith(".ipynb") else "py"
    if not data:
        raise SubmissionError(f"{label}: the file is empty; save your work and submit the saved file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SubmissionError(f"{label}: the file is saved as UTF-16 text; save it as UTF-8 and submit again")
    if b"\0" in data:
        raise SubmissionError(f"{label}: the file contains NUL bytes, so it is a binary file, not "
                              f"{'a notebook' if kind == 'ipynb' else 'Python source'}; submit the .py or "
                              ".ipynb file itself")
    text = _decode(data, label)
    if not text.strip():
        raise SubmissionError(f"{label}: the file holds only whitespace; save your work and submit the saved file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind == "py":
        return Submission(text, name, kind, sha256)
    source, cells, notes = _notebook_source(text, label)
    return Submission(source, name, kind, sha256, notes, cells)


def _decode(data: bytes, label: str) -> str:
    """UTF-8 text (a BOM is accepted and dropped); anything else is refused with where it fails."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        declared = ""
        match = _CODING_LINE.search(b"\n".join(data.split(b"\n", 2)[:2]))
        if match:
            declared = f"; its coding line declares {match.group(1).decode('ascii')}, but the grader reads UTF-8 only"
        raise SubmissionError(f"{label}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, "
                              f"column {column} cannot be decoded{declared}); save it with UTF-8 encoding "
                              "and submit again") from None


def _notebook_source(text: str, label: str) -> tuple[str, list[CellSpan], list[str]]:
    """The joined code of a notebook's code cells, where each cell sits, and notes on what was removed."""
    notebook = _read_notebook(text, label)
    lines: list[str] = []
    cells: list[CellSpan] = []
    removed: dict[str, list[str]] = {}
    for number, cell in enumerate(notebook.cells, 1):
        if cell.get("cell_type") != "code":
            continue
        code = cell.get("source", "")
        code = "".join(code) if isinstance(code, list) else str(code)
        if not code.strip():
            continue
        cell_lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if cell_lines[-1] == "":
            cell_lines.pop()
        for kind, where, shown in _strip_ipython(cell_lines):
            removed.setdefault(kind, []).append(f"cell {number}, line {where}: {shown}")
        if lines:
            lines.append("")
        lines.append(f"# %% cell {number}")
        cells.append(CellSpan(number, len(lines) + 1, len(lines) + len(cell_lines)))
        lines.extend(cell_lines)
    if not cells:
        raise SubmissionError(f"{label}: the notebook has no code: its code cells are empty or it has none; "
                              "write your functions in code cells and save the notebook")
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        raise SubmissionError(f"{label}: the notebook's code cells hold only IPython magics or shell commands, "
                              "no Python code; write your functions in code cells and save the notebook")
    notes = [_removal_note(kind, places) for kind, places in removed.items()]
    return "\n".join(lines) + "\n", cells, notes


def _read_notebook(text: str, label: str):
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{label}: the notebook is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                              f"{exc.msg}. Open it in Jupyter and save it again, or submit a .py file") from None
    except RecursionError:
        raise SubmissionError(f"{label}: the notebook's JSON is nested too deeply to be a Jupyter notebook") from None
    if not isinstance(raw, dict):
        raise SubmissionError(f"{label}: the notebook's JSON is a {type(raw).__name__}, not an object, so it is "
                              "not a Jupyter notebook; submit the .ipynb file Jupyter saved")
    import nbformat  # deferred: only notebooks need it, and it is slow to import

    try:
        with warnings.catch_warnings():
            # nbformat warns about missing cell ids and similar harmless things.
            warnings.simplefilter("ignore")
            notebook = nbformat.reader.reads(text)
            notebook = nbformat.convert(notebook, 4)
            nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", None) or getattr(exc, "path", []) or [])
        message = getattr(exc, "message", None) or str(exc).split("\n")[0]
        message = message if len(message) <= 200 else message[:197] + "..."
        raise SubmissionError(f"{label}: the notebook does not follow the Jupyter notebook format "
                              f"({message}{f' at {where}' if where else ''}); open it in Jupyter and save it "
                              "again, or submit a .py file") from None
    except Exception as exc:
        raise SubmissionError(f"{label}: nbformat cannot read the notebook ({type(exc).__name__}: {exc}); "
                              "open it in Jupyter and save it again, or submit a .py file") from None
    metadata = notebook.get("metadata", {})
    language = (metadata.get("kernelspec", {}).get("language") or metadata.get("language_info", {}).get("name")
                or "python")
    if not str(language).lower().startswith("python"):
        raise SubmissionError(f"{label}: the notebook's kernel is {language}, not Python; write the lab in a "
                              "Python notebook")
    return notebook


def _is_ipython_line(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith(("%", "!")) or _HELP_PREFIX.match(line) or _MAGIC_ASSIGNMENT.match(line):
        return True
    # `?` is never Python outside strings and comments: `np.zeros?` is a help request.
    if any(q in stripped for q in "'\""):
        return False
    return stripped.split("#", 1)[0].rstrip().endswith("?")


def _strip_ipython(lines: list[str]) -> list[tuple[str, int, str]]:
    """Comment out the IPython-only lines of one cell in place; return (kind, line in cell, text) of each."""
    removed = []
    first = next(i for i, line in enumerate(lines) if line.strip())
    magic = lines[first].strip().split()[0] if lines[first].startswith("%%") else None
    if magic is not None and magic not in PYTHON_BODY_CELL_MAGICS:
        removed.append(("cell-magic cell", first + 1, _shown(lines[first])))
        lines[:] = [f"# {line}" if line.strip() else line for line in lines]
        return removed
    starts = logical_line_starts([line + "\n" for line in lines], opaque=_is_ipython_line)
    continued = False
    for i, line in enumerate(lines):
        if continued or (starts[i] and _is_ipython_line(line)):
            if not continued:
                removed.append((_ipython_kind(line), i + 1, _shown(line)))
            continued = line.rstrip().endswith("\\")
            indent = line[:len(line) - len(line.lstrip())]
            # An indented line may be a block's only statement: `pass` keeps the block valid.
            lines[i] = f"{indent}pass  # {line.strip()}" if indent else f"# {line}"
    return removed


def _ipython_kind(line: str) -> str:
    stripped = line.strip()
    if _MAGIC_ASSIGNMENT.match(line):
        stripped = stripped.split("=", 1)[1].strip()
    if stripped.startswith("!"):
        return "shell command"
    if stripped.startswith("%"):
        return "IPython magic"
    return "help request"


def _shown(line: str) -> str:
    text = line.strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _removal_note(kind: str, places: list[str]) -> str:
    count = len(places)
    shown = "; ".join(places[:_MAX_LISTED])
    if count > _MAX_LISTED:
        shown += f"; and {count - _MAX_LISTED} more"
    return f"removed {count} {kind}{'s' if count != 1 else ''} ({shown}); IPython-only code is not run when grading"

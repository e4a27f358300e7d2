"""Turning a submission on disk into source text: formats, bad input, and never touching the files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.source.loadplan import plan_load
from grader.source.submission import SubmissionError, content_hash, load_submission

GOOD = "import numpy as np\n\n\ndef relu(Z):\n    return np.maximum(0, Z)\n"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and modification time."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def write_zip(path: Path, entries: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def notebook(*cells: tuple[str, str], language: str = "python") -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": language}
    for kind, text in cells:
        nb.cells.append(nbformat.v4.new_code_cell(text) if kind == "code" else nbformat.v4.new_markdown_cell(text))
    return nbformat.writes(nb)


def error_of(path, **limits) -> str:
    with pytest.raises(SubmissionError) as info:
        load_submission(path, **limits)
    return str(info.value)


# ---------------------------------------------------------------- plain files

def test_python_file_loads_with_its_hash(tmp_path):
    path = tmp_path / "lab.py"
    path.write_bytes(GOOD.encode())
    sub = load_submission(path)
    assert (sub.source, sub.filename, sub.kind, sub.notes) == (GOOD, "lab.py", "py", [])
    assert sub.sha256 == hashlib.sha256(GOOD.encode()).hexdigest() == content_hash(path)
    assert sub.origin(4) == "line 4"


def test_utf8_bom_and_windows_line_endings_are_accepted(tmp_path):
    path = tmp_path / "lab.py"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert load_submission(path).source == GOOD


@pytest.mark.parametrize("data, expected", [
    (b"", "lab.py: the file is empty; save your work and submit the saved file"),
    (b"  \n\t\n", "lab.py: the file holds only whitespace; save your work and submit the saved file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "lab.py: the file contains NUL bytes, so it is a binary file, "
                                             "not Python source; submit the .py or .ipynb file itself"),
    ("x = 1\n".encode("utf-16"), "lab.py: the file is saved as UTF-16 text; save it as UTF-8 and submit again"),
    ("x = 1\n# écrit par Hélène\n".encode("latin-1"),
     "lab.py: the file is not UTF-8 text (byte 0xe9 at line 2, column 3 cannot be decoded); "
     "save it with UTF-8 encoding and submit again"),
])
def test_unreadable_python_files_get_a_clear_message(tmp_path, data, expected):
    path = tmp_path / "lab.py"
    path.write_bytes(data)
    assert error_of(path) == f"{tmp_path}{os.sep}{expected}"


def test_a_latin1_coding_line_is_named_in_the_error(tmp_path):
    path = tmp_path / "lab.py"
    path.write_bytes("# -*- coding: latin-1 -*-\n# écrit\nx = 1\n".encode("latin-1"))
    assert "its coding line declares latin-1, but the grader reads UTF-8 only" in error_of(path)


def test_missing_path_unsupported_type_and_too_large(tmp_path):
    assert error_of(tmp_path / "nope.py") == f"{tmp_path / 'nope.py'}: no such file or folder; check the path"
    (tmp_path / "lab.pdf").write_bytes(b"%PDF-1.4")
    assert "unsupported file type '.pdf'; submit a .py file, a .ipynb notebook" in error_of(tmp_path / "lab.pdf")
    (tmp_path / "big.py").write_text("x = 1\n" * 400)
    assert error_of(tmp_path / "big.py", max_bytes=1000).endswith(
        "big.py: is 2.3 KB, more than the 1000 bytes limit; submit only your code")
    (tmp_path / "big.ipynb").write_text(notebook(("code", "x = 1\n" * 400)))
    assert "clear the notebook's outputs" in error_of(tmp_path / "big.ipynb", max_bytes=1000)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "lab.py")
    assert "is not a regular file" in error_of(tmp_path / "lab.py")
    folder = tmp_path / "alice"
    folder.mkdir()
    os.mkfifo(folder / "lab.py")
    assert "holds no .py or .ipynb file" in error_of(folder)


# ---------------------------------------------------------------- notebooks

MAGIC_CELL = "%matplotlib inline\nimport numpy as np\n!pip install scikit-learn\nnp.zeros?\n"
DEF_CELL = ("%%time\ndef relu(Z):\n    if Z is None:\n        %time warm_up()\n"
            "    return np.maximum(0, Z)  # why?\nfiles = !ls")


def test_notebook_magics_are_removed_in_place_and_reported(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_text(notebook(("markdown", "# Lab"), ("code", MAGIC_CELL), ("code", "%%bash\necho hi"),
                             ("code", "   "), ("code", DEF_CELL)))
    sub = load_submission(path)
    assert (sub.filename, sub.kind) == ("lab.ipynb", "ipynb")
    assert sub.source == (
        "# %% cell 2\n"
        "# %matplotlib inline\nimport numpy as np\n# !pip install scikit-learn\n# np.zeros?\n"
        "\n# %% cell 3\n"
        "# %%bash\n# echo hi\n"
        "\n# %% cell 5\n"
        "# %%time\ndef relu(Z):\n    if Z is None:\n        pass  # %time warm_up()\n"
        "    return np.maximum(0, Z)  # why?\n# files = !ls\n")
    assert sub.notes == [
        "removed 3 IPython magics (cell 2, line 1: %matplotlib inline; cell 5, line 1: %%time; "
        "cell 5, line 4: %time warm_up()); IPython-only code is not run when grading",
        "removed 2 shell commands (cell 2, line 3: !pip install scikit-learn; cell 5, line 6: files = !ls); "
        "IPython-only code is not run when grading",
        "removed 1 help request (cell 2, line 4: np.zeros?); IPython-only code is not run when grading",
        "removed 1 cell-magic cell (cell 3, line 1: %%bash); IPython-only code is not run when grading",
    ]
    lines = sub.source.split("\n")
    # Line numbers inside each cell did not move: line 5 of cell 5 is still the return.
    return_line = lines.index("    return np.maximum(0, Z)  # why?") + 1
    assert sub.origin(return_line) == "cell 5, line 5"
    assert sub.origin(3) == "cell 2, line 2" and sub.origin(1) == "cell 2"
    plan = plan_load(sub.source, sub.filename)
    assert [(sub.origin(s.lineno), s.action) for s in plan] == [("cell 2, line 2", "run"), ("cell 5, line 2", "run")]
    assert sub.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == content_hash(path)


def test_magic_characters_inside_strings_and_brackets_are_left_alone(tmp_path):
    cell = 's = """\n!important\n%notmagic\n"""\nx = (1\n     % 2)\n'
    path = tmp_path / "lab.ipynb"
    path.write_text(notebook(("code", cell)))
    sub = load_submission(path)
    assert sub.source == "# %% cell 1\n" + cell and sub.notes == []


def test_notebook_json_errors_give_line_and_column(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_text('{\n  "cells": [\n    {"cell_type": "code" "source": "x"}\n  ]\n}\n')
    assert error_of(path) == (f"{path}: the notebook is not valid JSON (line 3, column 26): Expecting ',' "
                              "delimiter. Open it in Jupyter and save it again, or submit a .py file")


@pytest.mark.parametrize("content, expected", [
    ("[]", "the notebook's JSON is a list, not an object, so it is not a Jupyter notebook"),
    ('{"cells": 5, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}', "nbformat cannot read the notebook"),
    ('{"nbformat": 4, "nbformat_minor": 4, "metadata": {}}', "does not follow the Jupyter notebook format"),
    ('{"nbformat": 9, "cells": []}', "Unsupported nbformat version 9"),
    ('{"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [{"cell_type": "code", "source": "x", '
     '"metadata": {}}]}', "does not follow the Jupyter notebook format ('outputs' is a required property"),
    ('{"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": []}', "the notebook has no code"),
    ("[" * 100000, "nested too deeply"),
])
def test_malformed_notebooks_raise_submission_errors_only(tmp_path, content, expected):
    path = tmp_path / "lab.ipynb"
    path.write_text(content)
    assert expected in error_of(path)


def test_notebooks_without_python_code(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_text(notebook(("markdown", "def f(): pass"), ("code", "  \n")))
    assert "the notebook has no code" in error_of(path)
    path.write_text(notebook(("code", "%matplotlib inline\n!ls")))
    assert "hold only IPython magics or shell commands, no Python code" in error_of(path)
    path.write_text(notebook(("code", "x <- 1"), language="R"))
    assert "the notebook's kernel is R, not Python" in error_of(path)


# ---------------------------------------------------------------- folders

def test_folder_with_one_code_file_ignores_clutter(tmp_path):
    folder = tmp_path / "alice"
    for name in ("__MACOSX/._lab.py", ".ipynb_checkpoints/lab-checkpoint.ipynb", "__pycache__/lab.py",
                 ".hidden.py", "README.md"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("junk")
    (folder / "src").mkdir()
    (folder / "src" / "lab.py").write_text(GOOD)
    sub = load_submission(folder)
    assert (sub.source, sub.filename, sub.kind) == (GOOD, "src/lab.py", "py")
    assert sub.sha256 == content_hash(folder)


def test_folder_with_several_or_no_code_files(tmp_path):
    folder = tmp_path / "bob"
    folder.mkdir()
    assert error_of(folder).endswith("the folder holds no .py or .ipynb file. Put your code file itself in the folder")
    (folder / "lab.py").write_text(GOOD)
    (folder / "lab_old.py").write_text(GOOD)
    assert error_of(folder) == (f"{folder}: the folder holds 2 code files (lab.py, lab_old.py); it must hold "
                                "exactly one .py or .ipynb file. Remove the others and submit again")
    content_hash(folder)  # still hashable, so a batch can tell when the student fixed it


def test_links_out_of_a_folder_are_not_followed(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("ANSWER = 42\n")
    folder = tmp_path / "eve"
    folder.mkdir()
    (folder / "lab.py").symlink_to(secret)
    assert "lab.py links to a file outside the folder, which is not read" in error_of(folder)
    (folder / "real").mkdir()
    (folder / "real" / "code.py").write_text(GOOD)
    (folder / "lab.py").unlink()
    (folder / "lab.py").symlink_to(folder / "real" / "code.py")
    # A link that stays inside the folder is one more candidate, not an escape.
    assert "holds 2 code files (lab.py, real/code.py)" in error_of(folder)


def test_folder_with_too_many_files(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(5):
        (folder / f"data{i}.csv").write_text("1")
    assert "holds more than 3 files" in error_of(folder, max_entries=3)


# ---------------------------------------------------------------- zips

def test_zip_with_one_notebook_loads_in_memory(tmp_path):
    archive = write_zip(tmp_path / "carol.zip", {
        "carol/lab.ipynb": notebook(("code", GOOD)), "__MACOSX/carol/._lab.ipynb": b"\x00\x05",
        "carol/.DS_Store": b"\x00", "carol/data.csv": "1,2\n", "carol/old.zip": b"PK"})
    sub = load_submission(archive)
    assert (sub.filename, sub.kind) == ("carol/lab.ipynb", "ipynb")
    assert sub.source == "# %% cell 1\n" + GOOD
    assert sub.notes == ["did not open carol/old.zip: a zip inside a submission is never opened"]
    assert sub.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest() == content_hash(archive)


@pytest.mark.parametrize("name, expected", [
    ("../evil.py", "entry '../evil.py' has a '..' path component, which points outside the zip"),
    ("lab/../../evil.py", "has a '..' path component"),
    ("/etc/lab.py", "entry '/etc/lab.py' has an absolute path"),
    ("C:/Users/lab.py", "has an absolute path"),
    ("..\\evil.py", "has a '..' path component"),
])
def test_zip_slip_and_absolute_entries_are_refused(tmp_path, name, expected):
    archive = write_zip(tmp_path / "x.zip", {"lab.py": GOOD, name: "x = 1\n"})
    assert expected in error_of(archive)


def test_symlink_and_encrypted_entries_are_refused(tmp_path):
    info = zipfile.ZipInfo("lab.py")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as archive:
        archive.writestr(info, "/etc/passwd")
    assert "entry 'lab.py' is a symbolic link" in error_of(tmp_path / "link.zip")

    data = bytearray(write_zip(tmp_path / "plain.zip", {"lab.py": GOOD}).read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_offset
        data[at] |= 0x1
    (tmp_path / "locked.zip").write_bytes(bytes(data))
    assert "entry 'lab.py' is encrypted (password-protected)" in error_of(tmp_path / "locked.zip")


def test_zip_bomb_is_refused_by_declared_size(tmp_path):
    archive = write_zip(tmp_path / "bomb.zip", {"lab.py": GOOD, "data.bin": b"\0" * (3 * 2**20)})
    assert archive.stat().st_size < 20_000
    assert "the zip unpacks to 3.0 MB, more than the 1.0 MB limit" in error_of(archive, max_unpacked_bytes=2**20)
    assert "lab.py): is 2.0 MB, more than the 1.0 MB limit" in error_of(
        write_zip(tmp_path / "big.zip", {"lab.py": "x = 1\n" * (2**20 // 3)}), max_bytes=2**20)


def test_zip_whose_header_understates_the_size_is_refused(tmp_path):
    real = ("x = 1\n" * 100_000).encode()
    data = bytearray(write_zip(tmp_path / "liar.zip", {"lab.py": real}).read_bytes())
    # Rewrite the uncompressed size in the local header and the central directory to 60 bytes.
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + size_offset
        data[at:at + 4] = struct.pack("<I", 60)
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("lab.py").file_size == 60
    message = error_of(tmp_path / "liar.zip", max_bytes=1000)
    assert "liar.zip (lab.py): this zip entry is damaged and cannot be unpacked" in message


def test_zip_problems_name_what_to_do(tmp_path):
    (tmp_path / "fake.zip").write_text("not a zip")
    assert "fake.zip: is not a valid zip archive" in error_of(tmp_path / "fake.zip")
    only_nested = write_zip(tmp_path / "nested.zip", {"inner.zip": write_zip(tmp_path / "i.zip", {"lab.py": GOOD})
                                                      .read_bytes()})
    assert "inner.zip is a zip inside the zip, which is not opened" in error_of(only_nested)
    two = write_zip(tmp_path / "two.zip", {"a.py": GOOD, "b/lab.ipynb": notebook(("code", GOOD))})
    assert "the zip holds 2 code files (a.py, b/lab.ipynb)" in error_of(two)
    many = write_zip(tmp_path / "many.zip", {f"f{i}.txt": "x" for i in range(5)})
    assert "the zip holds 5 entries, more than 3" in error_of(many, max_entries=3)
    bad_inside = write_zip(tmp_path / "bin.zip", {"lab.py": b"\x00\x01binary"})
    assert error_of(bad_inside).startswith(f"{tmp_path / 'bin.zip'} (lab.py): the file contains NUL bytes")


# ---------------------------------------------------------------- never touching, hashing

def test_loading_leaves_every_input_unchanged(tmp_path):
    inputs = tmp_path / "inputs"
    folder = inputs / "folder"
    folder.mkdir(parents=True)
    (folder / "lab.ipynb").write_text(notebook(("code", MAGIC_CELL), ("code", DEF_CELL)))
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "lab-checkpoint.ipynb").write_text("{}")
    write_zip(inputs / "sub.zip", {"lab.py": GOOD, "__MACOSX/._lab.py": b"\0"})
    write_zip(inputs / "slip.zip", {"../evil.py": GOOD})
    (inputs / "lab.py").write_text(GOOD)
    (inputs / "bad.ipynb").write_text("{")
    for entry in list(inputs.iterdir()):
        os.utime(entry, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(inputs)
    for entry in sorted(inputs.iterdir()):
        try:
            load_submission(entry)
        except SubmissionError:
            pass
        content_hash(entry)
    assert snapshot(inputs) == before
    assert sorted(p.name for p in inputs.iterdir()) == ["bad.ipynb", "folder", "lab.py", "slip.zip", "sub.zip"]


def test_content_hash_follows_the_code_and_only_fails_on_unreadable_paths(tmp_path):
    folder = tmp_path / "dan"
    folder.mkdir()
    (folder / "lab.py").write_text(GOOD)
    (folder / "notes.txt").write_text("v1")
    first = content_hash(folder)
    (folder / "notes.txt").write_text("v2")
    assert content_hash(folder) == first == load_submission(folder).sha256
    (folder / "lab.py").write_text(GOOD + "x = 1\n")
    assert content_hash(folder) != first
    (tmp_path / "report.pdf").write_bytes(b"%PDF")
    assert content_hash(tmp_path / "report.pdf") == hashlib.sha256(b"%PDF").hexdigest()
    with pytest.raises(SubmissionError, match="no such file or folder"):
        content_hash(tmp_path / "missing.py")


def test_a_folder_and_the_same_file_alone_hash_differently(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "lab.py").write_text(GOOD)
    assert content_hash(folder) != content_hash(folder / "lab.py")
    renamed = tmp_path / "g"
    renamed.mkdir()
    (renamed / "other.py").write_text(GOOD)
    assert content_hash(renamed) != content_hash(folder)


def test_notebook_source_is_json_round_trip_safe(tmp_path):
    # Cells stored as lists of lines, as Jupyter writes them, join back to the same code.
    raw = json.loads(notebook(("code", GOOD)))
    raw["cells"][0]["source"] = GOOD.splitlines(keepends=True)
    path = tmp_path / "lab.ipynb"
    path.write_text(json.dumps(raw))
    assert load_submission(path).source == "# %% cell 1\n" + GOOD


def test_more_code_than_the_grader_parses_is_refused_with_the_sizes(tmp_path):
    """8.5 MB of definitions once cost the grading process 1.5 GB of syntax tree: the source is capped first."""
    from grader.source.submission import MAX_SOURCE_CHARS
    body = "".join(f"def f{i}(a, b):\n    return a + b * {i}\n" for i in range(40_000))
    assert len(body) > MAX_SOURCE_CHARS
    big = tmp_path / "lab.py"
    big.write_text(body)
    with pytest.raises(SubmissionError, match=r"holds 1\.\d MB of Python code, more than the 1\.0 MB the grader reads"):
        load_submission(big)
    fits = tmp_path / "fits.py"
    fits.write_text(body[:MAX_SOURCE_CHARS // 2])
    assert load_submission(fits).source.startswith("def f0")


def test_a_zip_whose_entry_name_is_marked_utf8_but_is_not_still_opens(tmp_path):
    """Some zip tools mark every name UTF-8; zipfile then refused the whole archive ("'utf-8' codec can't
    decode"). The name is read in the old zip encoding instead, as for a class archive."""
    data = write_zip(tmp_path / "good.zip", {"lab.py": GOOD, "é_notes.txt": "mine\n"}).read_bytes()
    assert data.count("é_notes.txt".encode()) == 2  # local header and central directory, flagged UTF-8
    broken = data.replace("é_notes.txt".encode(), b"\xe9\xe9_notes.txt")
    (tmp_path / "latin.zip").write_bytes(broken)
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(tmp_path / "latin.zip")
    assert load_submission(tmp_path / "latin.zip").source == GOOD

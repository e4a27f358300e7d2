"""A student's name or entry never stops the class (issue 11): odd names get a safe folder, bad entries a reason.

Built as class folders and class zips holding what students hand in: a file
name that is not UTF-8, a 315-character entry name, names of the batch's own
outputs (``Index.HTML.py``), escape sequences in a name, a symbolic link to
the grader's reference solution, an entry name the archive marks UTF-8 and
is not. Each affects its own student's row only; the rest of the class is
graded, and the gradebook row of a renamed student names its folder.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch.discover import discover, discovered
from grader.batch.names import MAX_NAME_BYTES
from grader.cli import main

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "backprop_lab.py"
TINY = b"x = 1\n"  # graded in a moment: every check fails for want of functions
LONG = "a" * 312  # with ".py": a 315-character entry name
ESCAPES = "\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07mallory"
FORBIDDEN = ["\x1b", "\x07", "\r", "\x9b", "\ud800", "\udce9"]


def _class_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "alice.py").write_bytes(TINY)
    os.mkdir(os.path.join(os.fsencode(folder), b"caf\xe9"))  # a folder whose name is not UTF-8
    open(os.path.join(os.fsencode(folder), b"caf\xe9", b"lab.py"), "wb").write(TINY)
    (folder / "Index.HTML.py").write_bytes(TINY)
    (folder / "gradebook.CSV.ipynb").write_bytes(b"{}")
    (folder / f"{ESCAPES}.py").write_bytes(TINY)
    (folder / ("b" * 240 + ".py")).write_bytes(TINY)  # fits the file system, too long for an output folder
    (folder / "linked.py").symlink_to(REFERENCE)  # the reference solution: was graded 100
    (folder / "inside.py").symlink_to(folder / "alice.py")  # a link that stays in the class folder is fine
    return folder


def _class_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("submissions/alice.py", TINY)
        archive.writestr(f"submissions/{LONG}.py", TINY)
        archive.writestr("submissions/Index.HTML.py", TINY)
        archive.writestr(f"submissions/{ESCAPES}.py", TINY)
        archive.writestr(f"submissions/carol/{'c' * 300}.py", TINY)  # too long for the disk: carol's problem
        archive.writestr("submissions/dave.py", TINY)
        archive.writestr("submissions/dave.py/lab.py", TINY)  # both a file and a folder: dave's problem
        archive.writestr("submissions/b\u00e9a.py", TINY)
    data = path.read_bytes()
    # A name the archive marks as UTF-8 that is not (zipfile used to fail on the whole archive).
    path.write_bytes(data.replace("b\u00e9a.py".encode(), b"b\xff\xfea.py"))
    return path


def test_odd_names_in_a_class_folder_get_safe_folders_and_a_link_outside_is_refused(tmp_path):
    students = {s.id: s for s in discover(_class_folder(tmp_path / "class"))}
    assert students["alice"].folder == "alice" and not students["alice"].renamed
    assert students["caf\\xe9"].renamed == "the name is not valid UTF-8"
    assert students["Index.HTML"].renamed.startswith("the name is that of the batch's own index.html")
    assert students["gradebook.CSV"].renamed.startswith("the name is that of the batch's own gradebook.csv")
    escaped = next(s for s in students.values() if "mallory" in s.id)
    assert escaped.renamed == "the name holds control characters" and "\x1b" not in escaped.id
    assert students["b" * 240].renamed.startswith(f"the name is longer than {MAX_NAME_BYTES} bytes")
    assert "symbolic link to a place outside the class folder" in students["linked"].problem
    assert not students["inside"].problem
    folders = [s.folder for s in students.values()]
    assert len({f.casefold() for f in folders}) == len(folders)
    for folder in folders:
        folder.encode("utf-8")
        assert len(folder.encode()) <= MAX_NAME_BYTES and all(ch.isprintable() for ch in folder)


def test_odd_entries_in_a_class_zip_cost_only_their_own_student(tmp_path):
    with discovered(_class_zip(tmp_path / "class.zip")) as found:
        students = {s.id: s for s in found}
        assert students["alice"].path.read_bytes() == TINY and not students["alice"].problem
        assert students[LONG].path.read_bytes() == TINY and not students[LONG].problem
        assert students[LONG].renamed.startswith("the name is longer")
        assert students["Index.HTML"].renamed and not students["Index.HTML"].problem
        assert "cannot be unpacked" in students["carol"].problem
        assert "both a file and a folder" in students["dave.py"].problem
        odd = [s for s in students.values() if s.id.startswith("b") and s.id.endswith("a")]
        assert len(odd) == 1 and odd[0].path.read_bytes() == TINY and not odd[0].problem


def _gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


def _clean(text: str) -> bool:
    return not any(bad in text for bad in FORBIDDEN)


@pytest.fixture(scope="module")
def batch_of_odd_names(tmp_path_factory):
    """One batch over a class folder with every odd name, plus the hostile exception message."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "attacks"))
    from make_attacks import write_attacks
    root = tmp_path_factory.mktemp("names")
    folder = _class_folder(root / "class")
    write_attacks(folder, ["exception_surrogate"])
    out = root / "out"
    return folder, out


def test_a_batch_grades_every_student_whatever_their_names_and_messages(batch_of_odd_names, capfd):
    folder, out = batch_of_odd_names
    status = main(["batch", str(folder), "-a", "backprop-lab", "-o", str(out), "-j", "2", "--seed", "3"])
    printed = capfd.readouterr()
    assert status == 0, printed.err
    assert _clean(printed.out) and _clean(printed.err)
    rows = _gradebook(out)
    assert len(rows) == 9
    text = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert _clean(text)
    for student in ("alice", "inside", "Index.HTML", "caf\\xe9", "b" * 240):
        assert rows[student]["status"].startswith("graded"), rows[student]
    assert rows["exception_surrogate"]["status"] == "graded"
    assert rows["linked"]["status"].startswith("broken: ") and float(rows["linked"]["score"]) == 0
    assert "symbolic link" in rows["linked"]["status"]
    index = (out / "index.html").read_text(encoding="utf-8")
    for student in ("Index.HTML", "caf\\xe9", "gradebook.CSV"):
        status = rows[student]["status"]
        assert "results in the folder " in status
        folder_name = status.split("results in the folder ", 1)[1].split(" ", 1)[0]
        results = json.loads((out / folder_name / "results.json").read_text(encoding="utf-8"))
        assert results["extra_data"]["batch"]["student"] == student
        assert (out / folder_name / "report.html").is_file()
        assert f'href="{folder_name}/report.html"' in index
    # Nothing in OUTDIR has a name that is not UTF-8, and the batch's own files are files.
    assert all(_clean(os.fsdecode(name)) for name in os.listdir(os.fsencode(out)))
    assert (out / "index.html").is_file() and (out / "gradebook.csv").is_file()


def test_a_class_zip_with_odd_entries_is_graded_for_everyone_else(tmp_path, capfd):
    out = tmp_path / "out"
    status = main(["batch", str(_class_zip(tmp_path / "class.zip")), "-a", "backprop-lab", "-o", str(out),
                   "-j", "2", "--seed", "3"])
    printed = capfd.readouterr()
    assert status == 0, printed.err
    assert _clean(printed.out) and _clean(printed.err)
    rows = _gradebook(out)
    assert len(rows) == 7
    assert rows["alice"]["status"] == "graded"
    assert rows[LONG]["status"].startswith("graded: results in the folder ")
    assert rows["carol"]["status"].startswith("broken: ") and rows["dave.py"]["status"].startswith("broken: ")
    assert _clean((out / "gradebook.csv").read_text(encoding="utf-8"))

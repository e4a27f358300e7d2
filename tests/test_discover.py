"""Finding the students of a batch: folder entries, class archives, and the entries that cannot be graded."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.batch.discover import DiscoveryError, discover, discovered, unpack_class_zip


def _class_folder(root: Path) -> Path:
    folder = root / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("x = 1\n")
    (folder / "bob.ipynb").write_text("{}")
    with zipfile.ZipFile(folder / "carol.zip", "w") as archive:
        archive.writestr("lab.py", "x = 1\n")
    (folder / "dave").mkdir()
    (folder / "dave" / "lab.py").write_text("x = 1\n")
    (folder / "erin.submitted.py").write_text("x = 1\n")
    # Not students: hidden files, OS and Jupyter clutter.
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._alice.py").write_bytes(b"\0")
    (folder / ".ipynb_checkpoints").mkdir()
    return folder


def _ids(students) -> list[str]:
    return [s.id for s in students]


def test_each_entry_is_a_student_named_without_its_extension(tmp_path):
    students = discover(_class_folder(tmp_path))
    assert [(s.id, s.kind, s.problem) for s in students] == [
        ("alice", "py", ""), ("bob", "ipynb", ""), ("carol", "zip", ""), ("dave", "folder", ""),
        ("erin.submitted", "py", "")]
    assert students[3].path == tmp_path / "class" / "dave"


def test_an_unsupported_file_is_a_student_with_a_clear_problem(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "frank.pdf").write_bytes(b"%PDF")
    (folder / "grace").write_text("no extension")
    frank, grace = discover(folder)
    assert (frank.id, frank.kind) == ("frank", "other")
    assert "frank.pdf is a '.pdf' file" in frank.problem and ".py" in frank.problem
    assert grace.id == "grace" and "without an extension" in grace.problem


def test_two_entries_with_one_id_are_both_reported_not_graded(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("x = 1\n")
    (folder / "alice.ipynb").write_text("{}")
    (folder / "Bob.py").write_text("x = 1\n")
    (folder / "bob").mkdir()
    (folder / "zoe.py").write_text("x = 1\n")
    students = {s.id: s for s in discover(folder)}
    assert sorted(students) == ["Bob", "alice", "bob", "zoe"]
    assert "2 submissions map to the student id 'alice' (alice.ipynb, alice.py)" in students["alice"].problem
    # Ids differing only in case would share an output folder on macOS or Windows.
    assert students["Bob"].problem and students["bob"].problem
    assert students["zoe"].problem == ""


def test_excluded_paths_are_not_students(tmp_path):
    folder = _class_folder(tmp_path)
    (folder / "results").mkdir()
    (folder / "overrides.csv").write_text("student,item,points,comment\n")
    students = discover(folder, exclude=[folder / "results", folder / "overrides.csv"])
    assert "results" not in _ids(students) and "overrides" not in _ids(students)


def test_a_missing_folder_or_a_plain_file_is_refused(tmp_path):
    with pytest.raises(DiscoveryError, match="no such folder"):
        discover(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DiscoveryError, match="not a folder or a .zip"):
        discover(tmp_path / "notes.txt")


# ---------------------------------------------------------------- class archives


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_a_class_zip_gives_the_same_students_as_its_folder(tmp_path):
    archive = _zip(tmp_path / "class.zip", {
        "alice.py": b"x = 1\n", "bob.ipynb": b"{}", "dave/lab.py": b"x = 1\n", "__MACOSX/._alice.py": b"\0",
        ".hidden.py": b"x"})
    with discovered(archive) as students:
        assert [(s.id, s.kind) for s in students] == [("alice", "py"), ("bob", "ipynb"), ("dave", "folder")]
        assert students[0].path.read_bytes() == b"x = 1\n"
        unpacked = students[0].path.parent
        assert stat.S_IMODE(os.stat(unpacked).st_mode) == 0o700  # private
    assert not unpacked.exists()  # removed after the block
    assert sorted(os.listdir(tmp_path)) == ["class.zip"]  # nothing next to the archive


def test_entries_under_one_top_level_folder_are_the_students(tmp_path):
    archive = _zip(tmp_path / "class.zip", {"submissions/alice.py": b"x = 1\n", "submissions/bob/lab.py": b"y\n",
                                             "__MACOSX/submissions/._alice.py": b"\0"})
    with discovered(archive) as students:
        assert [(s.id, s.kind) for s in students] == [("alice", "py"), ("bob", "folder")]


def test_a_class_zip_can_be_unpacked_under_a_chosen_folder(tmp_path):
    archive = _zip(tmp_path / "class.zip", {"alice.py": b"x = 1\n"})
    with discovered(archive, unpack_parent=tmp_path / "out") as students:
        assert students[0].path.is_relative_to(tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("name, message", [
    ("../evil.py", "climbs out"),
    ("ok/../../evil.py", "climbs out"),
    ("/etc/evil.py", "absolute path"),
    ("C:/evil.py", "absolute path"),
    ("..\\evil.py", "climbs out"),
])
def test_entries_that_could_escape_are_refused(tmp_path, name, message):
    archive = _zip(tmp_path / "class.zip", {"alice.py": b"x\n", name: b"x\n"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DiscoveryError, match=message):
        unpack_class_zip(archive, dest)
    assert sorted(os.listdir(tmp_path)) == ["class.zip", "dest"]
    assert not (tmp_path / "evil.py").exists()


def test_symlink_entries_are_refused(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:
        link = zipfile.ZipInfo("alice.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        out.writestr(link, "/etc/passwd")
    with pytest.raises(DiscoveryError, match="symbolic link"):
        with discovered(archive):
            pass


def test_size_and_count_caps_count_the_bytes_actually_unpacked(tmp_path):
    archive = _zip(tmp_path / "class.zip", {"alice.py": b"0" * 5000, "bob.py": b"1" * 5000})
    dest = tmp_path / "dest"
    dest.mkdir()
    # One entry over the per-entry cap is its student's problem; the class is still unpacked.
    entries = unpack_class_zip(archive, dest, max_entry_bytes=4096)
    assert all("unpacks to more than" in e.problem for e in entries) and len(entries) == 2
    for name in os.listdir(dest):
        os.unlink(dest / name)
    with pytest.raises(DiscoveryError, match="the archive unpacks to more than"):
        unpack_class_zip(archive, dest, max_bytes=8000)
    with pytest.raises(DiscoveryError, match="holds 2 entries"):
        unpack_class_zip(archive, tmp_path, max_entries=1)


def test_a_damaged_archive_is_refused_and_a_repeated_entry_is_its_students_problem(tmp_path):
    (tmp_path / "class.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DiscoveryError, match="not a readable zip archive"):
        with discovered(tmp_path / "class.zip"):
            pass
    # A name given twice is the problem of the student it names, not of the class.
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("alice.py", "a")
        archive.writestr("alice.py", "b")
        archive.writestr("bob.py", "b")
    with discovered(twice) as students:
        assert [(s.id, "more than once" in s.problem) for s in students] == [("alice", True), ("bob", False)]

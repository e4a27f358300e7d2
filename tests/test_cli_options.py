"""The command line meets a person halfway: -a from the handout's file name, suggestions for mistyped options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.cli import assignment_from_name, main
from grader.errors import UsageError

LAB = Path(__file__).parent / "fixtures" / "lab"


@pytest.mark.parametrize("name, expected", [
    ("backprop-lab.py", "backprop-lab"),           # the handout's file, as `grader assign` writes it
    ("backprop-lab.ipynb", "backprop-lab"),
    ("Backprop-Lab (2).py", "backprop-lab"),       # a browser's second download
    ("backprop-lab_ada.py", "backprop-lab"),
    ("backprop-exercises.py", "backprop-exercises"),
])
def test_the_assignment_defaults_from_the_file_name(name, expected):
    assert assignment_from_name(Path(name)) == expected


@pytest.mark.parametrize("name", ["lab.py", "backprop-labs.py", "my-backprop-lab.py"])
def test_a_file_name_that_names_no_assignment_asks_for_one(name):
    with pytest.raises(UsageError, match=r"Give -a ASSIGNMENT \(one of: .*backprop-lab"):
        assignment_from_name(Path(name))


def test_check_without_a_grades_the_handout_file_for_its_assignment(tmp_path, capsys):
    handout = tmp_path / "backprop-lab.py"
    shutil.copy(LAB / "broken_binary.py", handout)
    assert main(["check", str(handout)]) == 0
    assert "could not be read" in capsys.readouterr().out
    assert main(["check", str(LAB / "broken_binary.py")]) == 2
    assert "Give -a ASSIGNMENT" in capsys.readouterr().err


@pytest.mark.parametrize("argv, typo, suggestion", [
    (["batch", "class", "-a", "backprop-lab", "-o", "out", "--overides", "x.csv"], "--overides", "--overrides"),
    (["grade", "x.py", "--sed", "3"], "--sed", "--seed"),
    (["batch", "class", "-a", "backprop-lab", "-o", "out", "--froce"], "--froce", "--force"),
])
def test_a_mistyped_option_suggests_the_right_one(argv, typo, suggestion, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"did you mean {suggestion} (not {typo})?" in err
    assert f"usage: grader {argv[0]}" in err  # the command's own usage
    assert list(tmp_path.iterdir()) == []

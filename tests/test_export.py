"""Exports: the Gradescope autograder bundle, run as Gradescope runs it in a fake /autograder, and LMS CSVs.

The bundle's setup.sh installs its wheel into a venv offline (the test's
options reuse this Python's packages), then ``run_autograder`` grades
``/autograder/submission`` with that venv, exactly the files Gradescope runs,
with AUTOGRADER_ROOT pointing at a temporary folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.authoring import new_assignment
from grader.batch.lms import lms_table, write_lms_csv
from grader.cli import main
from grader.config import locations
from grader.errors import ConfigurationError
from grader.export import gradescope_run
from grader.export.gradescope import write_bundle

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")


@pytest.fixture(autouse=True)
def no_local_assignments(monkeypatch):
    monkeypatch.delenv(locations.ENV_VAR, raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", locations.ENV_VAR)}
    env.update(extra)
    return env


def test_the_bundle_of_a_bundled_assignment_holds_the_scripts_and_the_wheel(tmp_path, capsys):
    assert main(["export", "gradescope", "backprop-lab", "-o", str(tmp_path / "lab.zip")]) == 0
    assert "Zip file upload" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "lab.zip") as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        run = archive.read("run_autograder").decode()
        with zipfile.ZipFile(io.BytesIO(archive.read(next(n for n in names if n.endswith(".whl"))))) as wheel:
            in_wheel = set(wheel.namelist())
    assert names[:2] == ["setup.sh", "run_autograder"] and len(names) == 3
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "--assignment backprop-lab" in run and "--assignments" not in run
    assert {"grader/_bundled/assignments/backprop-lab/checks/conftest.py", "grader/_bundled/rubrics/backprop-lab.toml",
            "reference/backprop_lab.py", "grader/export/gradescope_run.py"} <= in_wheel
    assert not [n for n in in_wheel if "__pycache__" in n or "/demo/" in n]


def test_a_bad_bundle_request_writes_nothing(tmp_path, capsys):
    with pytest.raises(ConfigurationError, match="unknown assignment 'nope'"):
        write_bundle("nope", tmp_path / "b.zip")
    assert main(["export", "gradescope", "backprop-quiz", "-o", str(tmp_path / "b.tar")]) == 2
    assert "the bundle is a .zip file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_run_autograder_grades_the_submission_in_a_fake_autograder_tree(tmp_path, capsys):
    course = tmp_path / "course"
    new_assignment("sig", course)
    assert main(["export", "gradescope", "sig", "--assignments", str(course), "-o", str(tmp_path / "sig.zip")]) == 0
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(tmp_path / "sig.zip") as archive:
        archive.extractall(source)
        for info in archive.infolist():
            os.chmod(source / info.filename, info.external_attr >> 16)
    assert (source / "assignments" / "sig" / "reference.py").is_file()
    # Gradescope's image build: setup.sh, here offline with this Python's packages.
    setup = subprocess.run(["bash", str(source / "setup.sh")], cwd=source, capture_output=True, text=True, timeout=600,
                           env=_env(GRADER_VENV_OPTIONS="--system-site-packages --without-pip",
                                    GRADER_PIP=f"{sys.executable} -m pip --python {source / 'venv' / 'bin' / 'python'}",
                                    GRADER_PIP_OPTIONS="--no-deps --no-index --no-compile --quiet"))
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "setup.sh: grader" in setup.stdout
    shutil.copy2(source / "run_autograder", root / "run_autograder")

    def grade(files: dict[str, str]) -> tuple[dict, str]:
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        (root / "submission").mkdir()
        for name, text in files.items():
            (root / "submission" / name).write_text(text)
        proc = subprocess.run([str(root / "run_autograder")], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600, env=_env(AUTOGRADER_ROOT=str(root)))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads((root / "results" / "results.json").read_text()), proc.stdout

    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada Lovelace"}]}))
    results, out = grade({"sig.py": (course / "sig" / "reference.py").read_text()})
    assert (results["score"], results["max_score"]) >= (8, 10)
    assert [t["tags"][0] for t in results["tests"]] == ["sigmoid_backward", "quality"]
    assert results["tests"][0]["score"] == 8 and results["tests"][0]["status"] == "passed"
    assert "Sandbox protections this container allowed:" in out
    assert results["extra_data"]["gradescope"]["sandbox_protections"]
    assert gradescope_run.student_name(root) == "Ada Lovelace"

    bug = (course / "sig" / "fixtures" / "bug_missing_one_minus_s.py").read_text()
    results, _ = grade({"sig.py": bug, "notes.txt": "my notes"})
    assert results["tests"][0]["score"] < 8
    assert "the (1 - s) factor is missing" in results["tests"][0]["output"]

    results, _ = grade({})
    assert results["score"] == 0 and results["tests"][0]["score"] == 0 and results["extra_data"]["submission_error"]


def test_a_grader_fault_still_writes_results_for_gradescope(tmp_path, monkeypatch, capsys):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "lab.py").write_text("x = 1\n")

    def broken(*args, **kwargs):
        raise RuntimeError("a fault of the grader")

    monkeypatch.setattr(gradescope_run, "grade_submission", broken)
    results = gradescope_run.run(tmp_path, "backprop-quiz")
    written = json.loads((tmp_path / "results" / "results.json").read_text())
    assert written == results and results["score"] == 0
    assert "autograder failed" in json.dumps(results)
    assert "off:" in capsys.readouterr().out


# ------------------------------------------------------------------ LMS


GRADEBOOK = """student,score,max_score,forward,backward,gradient_check,training,quality,status
ada,99,100,20,30,20,20,9,graded
bob,31.142857,100,10,11.142857,0,10,0,graded
=cmd,0,100,0,0,0,0,0,"broken: the file is empty"
eve,,100,,,,,,"grader error: TimeoutError"
"""


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text().splitlines()))


def test_lms_exports_map_the_gradebook_columns(tmp_path, capsys):
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK)
    assert main(["export", "lms", str(tmp_path), "-o", str(tmp_path / "generic.csv")]) == 0
    assert _csv(tmp_path / "generic.csv") == [
        ["student_id", "score", "max_score", "final", "status"],
        ["ada", "99", "100", "99", "graded"],
        ["bob", "31.14", "100", "31.14", "graded"],
        ["'=cmd", "0", "100", "0", "broken: the file is empty"],
        ["eve", "", "100", "", "grader error: TimeoutError"]]
    write_lms_csv(tmp_path, tmp_path / "canvas.csv", "canvas", title="Backprop lab")
    assert _csv(tmp_path / "canvas.csv")[:3] == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop lab"],
        ["Points Possible", "", "", "", "", "100"],
        ["ada", "", "", "ada", "", "99"]]
    assert _csv(tmp_path / "canvas.csv")[-1] == ["eve", "", "", "eve", "", ""]
    rows = [{"student": "ada", "score": 99.0, "max_score": 100.0, "status": "graded"}]
    assert lms_table(rows, "canvas", canvas_id="sis_user_id")[2] == ["ada", "", "ada", "", "", 99.0]
    write_lms_csv(tmp_path, tmp_path / "moodle.csv", "moodle")
    assert _csv(tmp_path / "moodle.csv") == [
        ["student_id", "grade", "feedback"], ["ada", "99", "99 / 100 points"], ["bob", "31.14", "31.14 / 100 points"],
        ["'=cmd", "0", "0 / 100 points; broken: the file is empty"], ["eve", "", "grader error: TimeoutError"]]


def test_lms_export_without_a_gradebook_says_what_to_run(tmp_path, capsys):
    assert main(["export", "lms", str(tmp_path / "nothing"), "-o", str(tmp_path / "g.csv")]) == 2
    assert "run `grader batch`" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()

"""`grader batch`: a class graded on a process pool or a Dask cluster, resumed, interrupted, and failing per student.

Submissions are kept cheap: correct_classic.py (trains in about a second),
one notebook, and files that cannot be read (binary), which are graded in
milliseconds but still go through a pool process like any other student.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader import __version__
from grader.batch import store
from grader.batch import run_batch
from grader.batch.record import student_seed
from grader.batch.workunit import grade_student
from grader.cli import main

LAB = Path(__file__).parent / "fixtures" / "lab"
SEED = 20240611
ITEMS = ["forward", "backward", "gradient_check", "training", "quality"]


# ---------------------------------------------------------------- work units (importable by pool processes)


def must_not_run(*args, **kwargs):
    """A work unit for runs that should grade nobody."""
    raise AssertionError("a student whose results are current was graded again")


def fails_for_boom(path, *args, **kwargs):
    """The real work unit, except that it fails like a grader bug for the student "boom"."""
    if Path(path).stem == "boom":
        raise RuntimeError("planted failure in the grader")
    return grade_student(path, *args, **kwargs)


def dies_for_boom(path, *args, **kwargs):
    """The real work unit, except that the process dies while grading "boom"."""
    if Path(path).stem == "boom":
        os._exit(7)
    return grade_student(path, *args, **kwargs)


def interrupted_at_c(path, *args, **kwargs):
    """The real work unit, except that Ctrl-C reaches it while grading student "c".

    "d" is already queued in the pool process behind "c"; it is made slow so that
    it is still running, not finished, when the batch stops (however loaded the machine).
    """
    if Path(path).stem == "c":
        raise KeyboardInterrupt
    if Path(path).stem == "d":
        time.sleep(30)
    return grade_student(path, *args, **kwargs)


# ---------------------------------------------------------------- helpers


def _binary(folder: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.py").write_bytes(b"\x7fELF\0\0" + name.encode())


def _snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file's bytes and every entry's mtime under `folder`."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            state[str(path.relative_to(folder))] = (path.read_bytes() if path.is_file() else None,
                                                    path.stat().st_mtime_ns)
    return state


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text(encoding="utf-8"))


def _gradebook(out: Path) -> tuple[list[str], dict[str, dict]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
    return reader.fieldnames, {row["student"]: row for row in rows}


def _mtimes(out: Path, students) -> dict[str, int]:
    return {s: (out / s / "results.json").stat().st_mtime_ns for s in students}


def _assert_no_partial_files(out: Path) -> None:
    """Only complete outputs: no temporary files anywhere, and every results.json is whole JSON."""
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            assert not name.endswith(".tmp") and not name.startswith("."), Path(dirpath, name)
            if name == "results.json":
                data = json.loads(Path(dirpath, name).read_text(encoding="utf-8"))
                assert {"score", "max_score", "tests", "extra_data"} <= set(data)


# ---------------------------------------------------------------- a mixed class on the local pool


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """alice.py, bob.ipynb, carol.zip (one .py), dave/ (a buggy lab.py) and eve.py (binary), graded with -j 2."""
    root = tmp_path_factory.mktemp("mixed")
    folder = root / "class"
    folder.mkdir()
    shutil.copy(LAB / "correct_classic.py", folder / "alice.py")
    shutil.copy(LAB / "correct_notebook.ipynb", folder / "bob.ipynb")
    with zipfile.ZipFile(folder / "carol.zip", "w") as archive:
        archive.write(LAB / "correct_classic.py", "lab.py")
    (folder / "dave").mkdir()
    shutil.copy(LAB / "bug_db_wrong_axis.py", folder / "dave" / "lab.py")
    shutil.copy(LAB / "broken_binary.py", folder / "eve.py")
    before = _snapshot(folder)
    summary = run_batch(folder, "backprop-lab", root / "out", jobs=2, seed=SEED, progress=False)
    return SimpleNamespace(root=root, folder=folder, out=root / "out", summary=summary, before=before)


def test_every_kind_of_submission_is_graded_and_a_broken_one_says_why(mixed):
    summary = mixed.summary
    assert (summary.total, summary.graded, summary.skipped, summary.broken, summary.errors) == (5, 5, 0, 1, 0)
    assert not summary.interrupted
    scores = {s: _results(mixed.out, s)["score"] for s in ["alice", "bob", "carol", "dave", "eve"]}
    assert scores["alice"] >= 90 and scores["bob"] >= 90
    assert scores["carol"] == scores["alice"]  # the same file, zipped: a verdict depends on the code, not the seed
    assert 0 < scores["dave"] < scores["alice"]  # db summed over the wrong axis
    eve = _results(mixed.out, "eve")
    assert eve["score"] == 0
    assert eve["extra_data"]["batch"]["status"].startswith("broken: ")
    assert "binary file" in eve["extra_data"]["batch"]["status"]
    for student in scores:
        data = _results(mixed.out, student)
        # A seed of their own, derived from the batch's and the student id, recorded for replay.
        assert data["extra_data"]["seed"] == student_seed(SEED, student)
        assert data["extra_data"]["batch"]["grader_version"] == __version__
        assert student in (mixed.out / student / "report.html").read_text(encoding="utf-8")
    index = (mixed.out / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{s}/report.html"' in index for s in scores)


def test_the_class_folder_is_left_exactly_as_it_was(mixed):
    assert _snapshot(mixed.folder) == mixed.before


def test_outputs_are_complete_files_only(mixed):
    _assert_no_partial_files(mixed.out)
    assert sorted(os.listdir(mixed.out)) == ["alice", "bob", "carol", "dave", "eve", "gradebook.csv",
                                             "grader-batch.json", "index.html"]
    assert sorted(os.listdir(mixed.out / "dave")) == ["report.html", "results.json"]


def test_the_gradebook_has_one_row_per_student_matching_results_json(mixed):
    header, rows = _gradebook(mixed.out)
    assert header == ["student", "score", "max_score", *ITEMS, "status", "manual"]
    assert list(rows) == ["alice", "bob", "carol", "dave", "eve"]
    for student, row in rows.items():
        data = _results(mixed.out, student)
        # Two decimals: what the rubric resolves (results.json keeps four).
        assert float(row["score"]) == round(data["score"], 2) and float(row["max_score"]) == data["max_score"] == 100
        by_item = {test["tags"][0]: round(test["score"], 2) for test in data["tests"]}
        assert {item: float(row[item]) for item in ITEMS} == by_item
        assert row["status"] == data["extra_data"]["batch"]["status"][:300]
    assert rows["alice"]["status"] == "graded" and rows["eve"]["status"].startswith("broken: ")


def test_a_rerun_skips_what_is_unchanged_and_regrades_only_what_changed(mixed, tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(mixed.folder, folder)
    shutil.copytree(mixed.out, out)
    students = ["alice", "bob", "carol", "dave", "eve"]

    again = run_batch(folder, "backprop-lab", out, jobs=2, progress=False, work=must_not_run)
    assert (again.skipped, again.graded, again.errors) == (5, 0, 0)
    before = _mtimes(out, students)

    with open(folder / "dave" / "lab.py", "a", encoding="utf-8") as stream:
        stream.write("\n# resubmitted after the deadline\n")
    third = run_batch(folder, "backprop-lab", out, jobs=2, progress=False)
    assert (third.skipped, third.graded) == (4, 1)
    after = _mtimes(out, students)
    assert [s for s in students if after[s] != before[s]] == ["dave"]

    # A change to a student's manual points re-scores that student's result only, without grading anyone.
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,item,points,comment\nalice,quality,10,Checked by hand\n"
                         "nobody,quality,1,\n", encoding="utf-8")
    fourth = run_batch(folder, "backprop-lab", out, jobs=2, progress=False, overrides_file=overrides,
                       work=must_not_run)
    assert (fourth.skipped, fourth.graded, fourth.rescored) == (4, 0, 1)
    latest = _mtimes(out, students)
    assert [s for s in students if latest[s] != after[s]] == ["alice"]
    assert fourth.unknown_override_students == ["nobody"]
    alice = _results(out, "alice")
    quality = next(t for t in alice["tests"] if t["tags"][0] == "quality")
    assert quality["score"] == 10 and "Checked by hand" in quality["output"]
    _, rows = _gradebook(out)
    assert rows["alice"]["quality"] == "10" and float(rows["alice"]["score"]) == round(alice["score"], 2)


def test_the_dask_cluster_gives_the_same_scores_as_the_local_pool(mixed, tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = tmp_path / "class"
    folder.mkdir()
    for entry in ["alice.py", "dave", "eve.py"]:
        source = mixed.folder / entry
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / entry)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        summary = run_batch(folder, "backprop-lab", tmp_path / "out", scheduler=cluster.scheduler_address,
                            seed=SEED, progress=False)
    assert (summary.graded, summary.errors) == (3, 0)
    _, local = _gradebook(mixed.out)
    _, remote = _gradebook(tmp_path / "out")
    for student in ["alice", "dave", "eve"]:
        # Everything but the status's file path (a broken file's message names where it was read).
        assert {**remote[student], "status": ""} == {**local[student], "status": ""}
        assert remote[student]["status"].split(":")[0] == local[student]["status"].split(":")[0]
        assert _results(tmp_path / "out", student)["extra_data"]["seed"] == student_seed(SEED, student)


# ---------------------------------------------------------------- a class zip, through the command line


def test_a_class_zip_is_graded_without_unpacking_anything_outside_a_private_folder(tmp_path, monkeypatch, capsys):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(LAB / "correct_classic.py", "export/alice.py")
        out.write(LAB / "broken_binary.py", "export/bob/lab.py")
        out.writestr("export/carl.py", "x = 1\n")
        out.writestr("export/carl.ipynb", "{}")
        out.writestr("__MACOSX/export/._alice.py", b"\0\0")
    before = {"class.zip": (archive.read_bytes(), archive.stat().st_mtime_ns)}

    code = main(["batch", str(archive), "-a", "backprop-lab", "-o", str(tmp_path / "out"), "-j", "1"])

    assert code == 0
    stdout = capsys.readouterr().out
    assert "3 students: graded 3" in stdout and "gradebook.csv" in stdout
    _, rows = _gradebook(tmp_path / "out")
    assert list(rows) == ["alice", "bob", "carl"]
    assert float(rows["alice"]["score"]) >= 90 and rows["bob"]["status"].startswith("broken: ")
    # Two entries for one student: neither is graded, and both are named in the reason.
    assert rows["carl"]["status"].startswith("broken: 2 submissions map to the student id 'carl' (carl.ipynb, carl.py)")
    assert _results(tmp_path / "out", "carl")["score"] == 0
    assert os.listdir(system_tmp) == []  # the private unpack folder is gone
    assert sorted(os.listdir(tmp_path)) == ["class.zip", "out", "system-tmp"]  # nothing unpacked next to it
    assert {"class.zip": (archive.read_bytes(), archive.stat().st_mtime_ns)} == before
    _assert_no_partial_files(tmp_path / "out")


def test_usage_errors_exit_2_with_a_message(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["batch", str(tmp_path / "missing"), "-a", "backprop-lab", "-o", out]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "class").mkdir()
    bad = tmp_path / "overrides.csv"
    bad.write_text("student,item,points,comment\nalice,nonsense,3,\n", encoding="utf-8")
    assert main(["batch", str(tmp_path / "class"), "-a", "backprop-lab", "-o", out, "--overrides", str(bad)]) == 2
    assert "unknown item 'nonsense'" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "class"), "-a", "no-such-lab", "-o", out]) == 2
    assert "no-such-lab" in capsys.readouterr().err
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../alice.py", "x = 1\n")
    assert main(["batch", str(evil), "-a", "backprop-lab", "-o", out]) == 2
    assert "refused" in capsys.readouterr().err and not (tmp_path / "alice.py").exists()
    assert main(["batch", str(tmp_path / "class"), "-a", "backprop-lab", "-o", str(tmp_path / "class")]) == 2
    assert "cannot be the class folder" in capsys.readouterr().err


# ---------------------------------------------------------------- interruption and failures


def test_ctrl_c_keeps_finished_students_and_the_next_run_resumes(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    _binary(folder, "a", "b", "c", "d")
    real_finish = store.ResultWriter.finish
    stored = []

    def finish_then_interrupt(self, task, outcome):
        real_finish(self, task, outcome)
        stored.append(task.student.id)
        if len(stored) == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C after two students

    monkeypatch.setattr(store.ResultWriter, "finish", finish_then_interrupt)
    code = main(["batch", str(folder), "-a", "backprop-lab", "-o", str(out), "-j", "2"])
    assert code == 130
    err = capsys.readouterr().err
    assert "interrupted: 2 of 4 students have results" in err
    assert f"grader batch {folder} -a backprop-lab -o {out} -j 2" in err  # how to resume
    assert sorted(p.name for p in out.iterdir() if (p / "results.json").exists()) == sorted(stored)
    _assert_no_partial_files(out)
    _, rows = _gradebook(out)
    assert [s for s, row in rows.items() if row["status"].startswith("not graded")] == sorted(
        set("abcd") - set(stored))

    monkeypatch.setattr(store.ResultWriter, "finish", real_finish)
    resumed = run_batch(folder, "backprop-lab", out, jobs=2, progress=False)
    assert (resumed.skipped, resumed.graded, resumed.pending, resumed.interrupted) == (2, 2, 0, False)
    _, rows = _gradebook(out)
    assert all(row["status"].startswith("broken: ") for row in rows.values())


def test_ctrl_c_reaching_a_work_unit_stops_the_batch(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    _binary(folder, "a", "b", "c", "d")
    summary = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, work=interrupted_at_c)
    assert summary.interrupted and summary.pending == 2
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["a", "b"]
    resumed = run_batch(folder, "backprop-lab", out, jobs=1, progress=False)
    assert (resumed.skipped, resumed.graded) == (2, 2)
    forced = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, force=True)
    assert (forced.skipped, forced.graded) == (0, 4)


def test_a_grader_error_is_recorded_for_that_student_and_retried_next_run(tmp_path, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    (folder / "ann.py").write_text('"""Defines nothing the lab asks for."""\nx = 1\n', encoding="utf-8")
    _binary(folder, "boom", "cid")
    summary = run_batch(folder, "backprop-lab", out, jobs=2, progress=True, work=fails_for_boom)
    assert (summary.graded, summary.errors, summary.broken) == (3, 1, 1)
    err = capsys.readouterr().err
    assert "boom: grader error: RuntimeError: planted failure in the grader" in err
    assert "3/3" in err and "grader errors 1" in err  # the progress bar
    boom = _results(out, "boom")
    assert boom["extra_data"]["batch"]["status"] == "grader error: RuntimeError: planted failure in the grader"
    assert "planted failure" in boom["extra_data"]["batch"]["traceback"]
    assert "not a problem of your code" in boom["output"]
    _, rows = _gradebook(out)
    assert rows["boom"]["score"] == "" and rows["boom"]["status"].startswith("grader error: ")
    assert rows["ann"]["status"] == "graded" and rows["ann"]["score"] != ""

    retried = run_batch(folder, "backprop-lab", out, jobs=2, progress=False)
    assert (retried.skipped, retried.graded, retried.errors) == (2, 1, 0)
    assert _results(out, "boom")["extra_data"]["batch"]["status"].startswith("broken: ")


def test_a_pool_process_that_dies_costs_only_its_own_student(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    _binary(folder, "boom", "cid", "dee")
    summary = run_batch(folder, "backprop-lab", out, jobs=2, progress=False, work=dies_for_boom)
    assert (summary.graded, summary.errors) == (3, 1)
    status = _results(out, "boom")["extra_data"]["batch"]["status"]
    assert status.startswith("grader error: ") and "died" in status
    for student in ["cid", "dee"]:
        assert _results(out, student)["extra_data"]["batch"]["status"].startswith("broken: ")
    _assert_no_partial_files(out)

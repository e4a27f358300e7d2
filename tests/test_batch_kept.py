"""A batch never loses or silently changes what an instructor did: kept overrides, seeds, regrade, own folders.

One real grading (correct_classic.py) gives a result with check outcomes to
re-score; the other students are binary files, graded in milliseconds.
Later runs use a work unit that fails if anyone is graded again.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from grader.batch import run_batch
from grader.batch.record import RECORD_NAME, read_record, student_seed
from grader.cli import main

LAB = Path(__file__).parent / "fixtures" / "lab"
ITEMS = ["forward", "backward", "gradient_check", "training", "quality"]


def must_not_run(*args, **kwargs):
    """A work unit for runs that may re-score but must not grade anybody."""
    raise AssertionError("a student was graded again")


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text(encoding="utf-8"))


def _without_batch_record(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    del data["extra_data"]["batch"]
    return data


def _automatic(data: dict) -> dict:
    """Everything the grading produced, as opposed to what the instructor's points decide."""
    extra = data["extra_data"]
    return {"checks": json.dumps(extra["checks"], sort_keys=True), "seed": extra["seed"],
            "sha": extra["submission_sha256"], "execution_time": data["execution_time"], "output": data["output"],
            "automatic": {r["id"]: r["automatic_score"] for r in extra["rubric_items"]},
            "notes": {r["id"]: r["notes"] for r in extra["rubric_items"]}}


def _gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


def _binary(folder: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.py").write_bytes(b"\x7fELF\0\0" + name.encode())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """alice.py (a correct lab) and eve.py (binary), graded once without overrides."""
    root = tmp_path_factory.mktemp("kept")
    folder = root / "class"
    folder.mkdir()
    shutil.copy(LAB / "correct_classic.py", folder / "alice.py")
    _binary(folder, "eve")
    run_batch(folder, "backprop-lab", root / "out", jobs=1, progress=False)
    return root


def test_overrides_are_kept_and_changing_them_never_regrades_the_code(graded, tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(graded / "class", folder)
    shutil.copytree(graded / "out", out)
    original = _results(out, "alice")

    manual = tmp_path / "manual.csv"
    manual.write_text("student,item,points,comment\nalice,quality,3,Read by hand: no docstrings\n"
                      "eve,forward,5,The printout shows a forward pass\n", encoding="utf-8")
    applied = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, overrides_file=manual,
                        work=must_not_run)
    assert (applied.graded, applied.rescored, applied.skipped) == (0, 2, 0)
    assert (out / "overrides.csv").read_text(encoding="utf-8") == manual.read_text(encoding="utf-8")
    alice = _results(out, "alice")
    assert _automatic(alice) == _automatic(original)  # the evidence is untouched
    quality = next(t for t in alice["tests"] if t["tags"][0] == "quality")
    assert quality["score"] == 3 and "override" in quality["tags"] and "Read by hand" in quality["output"]
    assert alice["score"] == pytest.approx(original["score"] - original["tests"][4]["score"] + 3)
    assert _results(out, "eve")["score"] == 5
    assert "Read by hand: no docstrings" in (out / "alice" / "report.html").read_text(encoding="utf-8")

    # A rerun without --overrides applies the kept copy: the manual points stay (they used to be dropped).
    manual.unlink()
    rerun = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, work=must_not_run)
    assert (rerun.graded, rerun.rescored, rerun.skipped) == (0, 0, 2)
    assert "kept from an earlier run" in rerun.overrides_origin
    assert _results(out, "alice") == alice and _results(out, "eve")["score"] == 5
    rows = _gradebook(out)
    assert rows["alice"]["quality"] == "3" and rows["alice"]["manual"] == "quality"
    assert rows["eve"]["manual"] == "forward" and rows["eve"]["score"] == "5"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("set by the instructor") >= 2

    # A new file replaces the kept overrides as a whole: alice's manual point is gone, exactly as graded.
    only_eve = tmp_path / "only-eve.csv"
    only_eve.write_text("student,item,points,comment\neve,forward,4,\n", encoding="utf-8")
    replaced = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, overrides_file=only_eve,
                         work=must_not_run)
    assert (replaced.graded, replaced.rescored) == (0, 2)
    assert _without_batch_record(_results(out, "alice")) == _without_batch_record(original)
    assert _results(out, "eve")["score"] == 4

    # `--overrides none` removes them.
    code = main(["batch", str(folder), "-a", "backprop-lab", "-o", str(out), "-j", "1", "--overrides", "none"])
    assert code == 0 and not (out / "overrides.csv").exists()
    assert _results(out, "eve")["score"] == 0 and _gradebook(out)["eve"]["manual"] == ""


def test_a_kept_overrides_file_that_no_longer_fits_is_a_usage_error(graded, tmp_path, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(graded / "class", folder)
    shutil.copytree(graded / "out", out)
    (out / "overrides.csv").write_text("student,item,points,comment\nalice,nonsense,1,\n", encoding="utf-8")
    assert main(["batch", str(folder), "-a", "backprop-lab", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown item 'nonsense'" in err and "--overrides none" in err


def test_each_student_keeps_a_seed_of_their_own_and_regrade_grades_one(tmp_path, capsys):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    _binary(folder, "ann", "ben", "cid")
    assert main(["batch", str(folder), "-a", "backprop-lab", "-o", str(out), "-j", "1"]) == 0
    printed = capsys.readouterr().out
    batch_seed = read_record(out)["seed"]
    seeds = {s: _results(out, s)["extra_data"]["seed"] for s in ["ann", "ben", "cid"]}
    assert seeds == {s: student_seed(batch_seed, s) for s in seeds} and len(set(seeds.values())) == 3
    # The replay lines name the seeds that were used, one student at a time.
    for student, seed in seeds.items():
        assert f"replay {student}: grader grade {folder / student}.py -a backprop-lab --seed {seed}" in printed

    forced = run_batch(folder, "backprop-lab", out, jobs=1, progress=False, force=True)
    assert forced.graded == 3
    assert {s: _results(out, s)["extra_data"]["seed"] for s in seeds} == seeds  # kept across reruns

    before = {s: (out / s / "results.json").read_bytes() for s in seeds}
    (folder / "ben.py").write_text("def f(:\n", encoding="utf-8")  # ben hands in a new (broken) file
    assert main(["regrade", str(out), "ben"]) == 0
    printed = capsys.readouterr().out
    assert "graded 1" in printed and "kept 2 as they were" in printed
    after = {s: (out / s / "results.json").read_bytes() for s in seeds}
    assert [s for s in seeds if after[s] != before[s]] == ["ben"]
    assert _results(out, "ben")["extra_data"]["seed"] == seeds["ben"]
    assert "binary" not in _gradebook(out)["ben"]["status"]  # the gradebook was rebuilt with ben's new result

    assert main(["regrade", str(out), "bem"]) == 2
    assert "no student 'bem'" in (err := capsys.readouterr().err) and "did you mean ben" in err
    assert main(["regrade", str(tmp_path), "ben"]) == 2
    assert RECORD_NAME in capsys.readouterr().err


def test_an_earlier_output_folder_inside_the_class_folder_is_not_a_student(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    _binary(folder, "ann")
    run_batch(folder, "backprop-lab", folder / "graded", jobs=1, progress=False)
    # One written before batches left a record: its gradebook and index give it away.
    legacy = folder / "old-results"
    legacy.mkdir()
    (legacy / "gradebook.csv").write_text("student\n", encoding="utf-8")
    (legacy / "index.html").write_text("<html></html>", encoding="utf-8")

    again = run_batch(folder, "backprop-lab", folder / "graded", jobs=1, progress=False)
    elsewhere = run_batch(folder, "backprop-lab", tmp_path / "out", jobs=1, progress=False)
    for summary, out in [(again, folder / "graded"), (elsewhere, tmp_path / "out")]:
        assert summary.total == 1 and list(_gradebook(out)) == ["ann"]
    assert elsewhere.earlier_outputs == ["graded", "old-results"]
    assert any("left out of the class: graded, old-results" in line for line in elsewhere.lines())


def test_failed_invocations_leave_no_output_folder_behind(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    bad = tmp_path / "bad.csv"
    bad.write_text("student,item,points,comment\nann,nonsense,1,\n", encoding="utf-8")
    attempts = [
        ["batch", str(tmp_path / "missing"), "-a", "backprop-lab", "-o", str(tmp_path / "a" / "out")],
        ["batch", str(tmp_path / "class"), "-a", "backprop-lab", "-o", str(tmp_path / "b"), "--overrides", str(bad)],
        ["batch", str(tmp_path / "class"), "-a", "no-such-lab", "-o", str(tmp_path / "c")],
    ]
    for argv in attempts:
        assert main(argv) == 2
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "class"]

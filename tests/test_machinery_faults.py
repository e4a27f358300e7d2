"""A failure of shared machinery is never a score (issue 11): the grading stops, the batch grades again.

The sandbox's zygote is shared by every student a grading process (or a
local batch) grades. When it fails under a student (killed, its connection
reset), what the checks saw says nothing about that student's code: the
grading raises GraderFault instead of scoring, the batch grades the student
again (at most twice), then records a visible grader error, and a rerun
never keeps such a row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest

from grader.batch import run_batch
from grader.batch.workunit import grade_student
from grader.checking.student import StudentCode
from grader.errors import MAX_REGRADES, GraderFault, row_state, should_regrade
from grader.grading import grade
from grader.model import RowState
from grader.sandbox import shared_zygote
from grader.sandbox.zygote_client import Zygote

LAB = Path(__file__).parent / "fixtures" / "lab"
CORRECT = (LAB / "correct_classic.py").read_text(encoding="utf-8")
SLOW_TRAIN = CORRECT + '''

_train_for_real = train


def train(X, Y, *args, **kwargs):
    import time
    time.sleep(2)
    return _train_for_real(X, Y, *args, **kwargs)
'''


# ---------------------------------------------------------------- the policy, in one place


def test_only_faults_of_ours_are_regraded_and_at_most_twice():
    from grader.errors import ConfigurationError, SubmissionError
    assert should_regrade(GraderFault("zygote gone"), 0) and should_regrade(RuntimeError("bug"), 1)
    assert not should_regrade(GraderFault("zygote gone"), MAX_REGRADES)
    assert not should_regrade(SubmissionError("not UTF-8"), 0)
    assert not should_regrade(ConfigurationError("bad rubric"), 0)
    assert not should_regrade(KeyboardInterrupt(), 0)
    assert row_state(GraderFault("x")) is RowState.GRADER_ERROR


# ---------------------------------------------------------------- one grading


def _refuse_spawns(monkeypatch):
    def spawn(self, *args, **kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")
    monkeypatch.setattr(Zygote, "spawn", spawn)


def test_a_zygote_connection_reset_is_a_grader_fault_not_a_score(tmp_path, monkeypatch):
    path = tmp_path / "student.py"
    path.write_text(CORRECT, encoding="utf-8")
    _refuse_spawns(monkeypatch)
    with pytest.raises(GraderFault, match="shared machinery failed"):
        grade(path, "backprop-lab", seed=1)


def test_a_zygote_killed_while_a_student_trains_is_a_grader_fault_not_a_score(tmp_path, monkeypatch):
    """The issue's case: the shared zygote died under a correct classmate, who was recorded at 80."""
    path = tmp_path / "student.py"
    path.write_text(SLOW_TRAIN, encoding="utf-8")
    original = StudentCode.run

    def run(self, name, *args, **kwargs):
        if name == "train":  # kill the zygote half a second into the student's two-second train
            zygote = self.sandbox.zygote
            threading.Timer(0.5, os.kill, (zygote.pid, signal.SIGKILL)).start()
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(StudentCode, "run", run)
    with pytest.raises(GraderFault, match="shared machinery failed"):
        grade(path, "backprop-lab", seed=1, settings={"train_timeout": 30.0})
    shared_zygote(("matplotlib.pyplot",)).close()  # a fresh one for the tests that follow


# ---------------------------------------------------------------- the batch (work units run in pool processes)


def _attempts_file(path: str) -> Path:
    return Path(tempfile.gettempdir()) / f"grader-test-attempts-{hashlib.sha256(path.encode()).hexdigest()[:16]}"


def _count_attempt(path: str) -> int:
    marker = _attempts_file(path)
    with open(marker, "a", encoding="utf-8") as stream:
        stream.write("x")
    return marker.stat().st_size


def _graded_with_spawns_refused(path, *args, **kwargs):
    original = Zygote.spawn

    def spawn(self, *spawn_args, **spawn_kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")
    Zygote.spawn = spawn
    try:
        return grade_student(path, *args, **kwargs)
    finally:
        Zygote.spawn = original


def zygote_fails_once_for_victim(path, *args, **kwargs):
    """The real work unit, except that the zygote's connection is reset under "victim"'s first grading."""
    if Path(path).stem == "victim" and _count_attempt(path) == 1:
        return _graded_with_spawns_refused(path, *args, **kwargs)
    return grade_student(path, *args, **kwargs)


def zygote_always_fails_for_victim(path, *args, **kwargs):
    """The real work unit, except that the zygote's connection is reset under every grading of "victim"."""
    if Path(path).stem == "victim":
        _count_attempt(path)
        return _graded_with_spawns_refused(path, *args, **kwargs)
    return grade_student(path, *args, **kwargs)


def _class(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "victim.py").write_text(CORRECT, encoding="utf-8")
    (folder / "other.py").write_text("x = 1\n", encoding="utf-8")
    _attempts_file(str(folder / "victim.py")).unlink(missing_ok=True)
    return folder


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


def test_a_student_hit_by_a_machinery_failure_is_graded_again_and_scored_on_their_code(tmp_path):
    folder = _class(tmp_path)
    out = tmp_path / "out"
    run_batch(folder, "backprop-lab", out, jobs=2, seed=4, progress=False, work=zygote_fails_once_for_victim)
    assert _attempts_file(str(folder / "victim.py")).stat().st_size == 2
    rows = _rows(out)
    assert rows["victim"]["status"] == "graded"
    for item in ("forward", "backward", "gradient_check", "training"):
        assert float(rows["victim"][item]) == {"forward": 20, "backward": 30}.get(item, 20), rows["victim"]
    record = json.loads((out / "victim" / "results.json").read_text(encoding="utf-8"))["extra_data"]["batch"]
    assert record["regrades"] == 1
    assert rows["other"]["status"] == "graded"


def test_a_machinery_failure_that_persists_is_a_visible_grader_error_that_a_rerun_regrades(tmp_path):
    folder = _class(tmp_path)
    out = tmp_path / "out"
    summary = run_batch(folder, "backprop-lab", out, jobs=2, seed=4, progress=False,
                        work=zygote_always_fails_for_victim)
    assert _attempts_file(str(folder / "victim.py")).stat().st_size == 1 + MAX_REGRADES
    rows = _rows(out)
    assert rows["victim"]["status"].startswith("grader error: GraderFault: the grader's shared machinery failed")
    assert rows["victim"]["score"] == "" and summary.errors == 1
    assert rows["other"]["status"] == "graded"
    # The next run keeps nothing of that row: the student is graded, the classmate is skipped.
    again = run_batch(folder, "backprop-lab", out, jobs=1, seed=4, progress=False)
    assert again.skipped == 1 and _rows(out)["victim"]["status"] == "graded"

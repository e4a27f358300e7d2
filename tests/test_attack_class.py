"""`grader batch` on a class of attackers and three correct classmates (issue 11's "done when").

One batch, through the real command line (``python -m grader batch`` in a
subprocess under a child-subreaper launcher, tests/attack_class.py), on a
folder holding every attack the repo knows for backprop-lab and three correct
classmates in different styles. It must exit 0, give the classmates every
point their code earns when graded alone, give every attacker a gradebook row,
leave no process behind and no file over 5 MB.

The training budget is cut to 10 s (a local copy of the lab, ``--assignments``)
so that the endless training loops cost 10 s each, not 60 s; a correct train()
takes well under a second of CPU. Left out here, kept in
benchmarks/attack_class.py (each is covered on its own elsewhere):

- ``sleeps_per_call``: 9.5 s per linear_forward call, so it runs into the
  submission's whole 300 s wall-clock budget (tests/test_budget.py, with a
  budget cut to seconds);
- ``slow_class_bodies``: six 10 s load timeouts, about a minute before its
  first check (tests/test_budget.py);
- ``defs_8mb``: about 70 s of loading 280,000 definitions (the memory benchmark
  grades it; tests/test_trusted_bounds.py covers the class listing it once held
  up for minutes; ``expression_9mb``, kept here, is the other file too big to
  compare).
"""

from __future__ import annotations

import os
import secrets

import pytest

from grader.scoring.quality import estimate_quality
from grader.config.assignment import load_assignment
from tests.attack_class import LAB, build_attack_class, run_batch_subprocess

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux only")

LEFT_OUT = ("sleeps_per_call", "slow_class_bodies", "defs_8mb")
FIVE_MB = 5 * 2**20
CORRECTNESS = ("forward", "backward", "gradient_check", "training")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The attack class, built and graded once."""
    work = tmp_path_factory.mktemp("attack-class")
    marker = "ac" + secrets.token_hex(4)
    made = build_attack_class(work / "class", marker, leave_out=LEFT_OUT)
    run = run_batch_subprocess(made.folder, work / "out", work, marker=marker, settings={"train_timeout": 10},
                               jobs=2, timeout=1200)
    return made, run


def test_the_batch_exits_0(batch):
    _, run = batch
    assert run.returncode == 0, run.stderr[-3000:]


def test_the_classmates_get_every_point_their_code_earns(batch):
    """Every check passes; the only points a classmate may miss are the code-quality estimate's, which reads
    the text alone (correct_dictcache.py earns all 10 of them, so 100 of 100)."""
    made, run = batch
    rows = {row["student"]: row for row in run.gradebook()}
    results = run.results()
    required = load_assignment("backprop-lab").required_functions
    for student, fixture in made.classmates.items():
        row, data = rows[student], results[student]
        assert row["status"] == "graded", row
        maxima = {item["id"]: item["max_score"] for item in data["extra_data"]["rubric_items"]}
        for item in CORRECTNESS:
            assert float(row[item]) == maxima[item], (student, item, row)
        failed = [c for c in data["extra_data"]["checks"] if c["status"] != "passed"]
        assert failed == [], (student, failed)
        quality = estimate_quality((LAB / fixture).read_text(encoding="utf-8"), required).points
        assert float(row["quality"]) == quality, (student, row)
        assert float(row["score"]) == float(row["max_score"]) - (maxima["quality"] - quality)
    assert float(rows["classmate_dictcache"]["score"]) == float(rows["classmate_dictcache"]["max_score"])


def test_every_attacker_has_a_row(batch):
    made, run = batch
    rows = {row["student"]: row for row in run.gradebook()}
    assert len(rows) == len(made.entries())
    for name in made.attackers:
        if isinstance(name, str) and name.isascii() and name.isidentifier():  # the plain names, by name
            assert name in rows or name.rsplit(".", 1)[0] in rows, name
        elif isinstance(name, str) and name.endswith(".zip"):
            assert name[:-4] in rows, name
    assert all(row["status"] for row in rows.values())


def test_no_process_is_left_behind(batch):
    _, run = batch
    assert run.leftovers == []
    assert run.marked == []


def test_no_file_over_5_mb(batch):
    _, run = batch
    assert run.largest_out_file[0] <= FIVE_MB, run.largest_out_file
    assert run.largest_tmp_file_left[0] <= FIVE_MB, run.largest_tmp_file_left


def test_no_payload_ran_on_the_trusted_side(batch):
    made, _ = batch
    assert not made.pwned.exists()

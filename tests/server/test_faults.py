"""Faults of ours: retried at most twice, shown to the instructor, never charged; kill -9 loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from grader.server import db, queue, rules
from grader.server.app import create_app
from grader.server.course import open_course
from grader.server.grading import Grader
from tests.server.helpers import QUIZ_OK, Student, free_port, live_server, make_course
from tests.server.workunits import misbehaving

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faulty")
    tokens = make_course(folder)
    course = open_course(folder)
    # The lab's budget is 3 s, so the hung work unit (handed in to the lab) is stopped quickly; real
    # gradings (the quiz) keep a budget no loaded machine reaches.
    app = create_app(course, grader=Grader(2, work=misbehaving),
                     budget=lambda assignment: 3.0 if assignment == "backprop-lab" else 120.0)
    with live_server(app) as base:
        yield {who: Student(base, token) for who, token in tokens.items()}, course, folder
    course.close()


def _quiz(marker: str) -> bytes:
    return QUIZ_OK.read_bytes() + f"\n{marker}\n".encode()


def _submit(client, data: bytes, name="answers.py", assignment="backprop-quiz"):
    response = client.http.post("/api/submissions", params={"assignment": assignment, "filename": name},
                                content=data)
    assert response.status_code == 201, response.text
    return response.json()


def test_faults_of_ours_are_retried_then_shown_and_never_charged(faulty, tmp_path):
    clients, course, _ = faulty
    good = clients["alice"].wait(_submit(clients["alice"], QUIZ_OK.read_bytes())["id"])
    assert good["status"] == "graded"
    left_before = clients["alice"].http.get("/api/assignments/backprop-quiz/preview").json()["submissions_left"]
    bad = {who: _submit(clients[who], _quiz(marker), assignment=assignment) for who, marker, assignment in
           (("alice", "#RAISE", "backprop-quiz"), ("bob", "#EXIT", "backprop-quiz"),
            ("carol", "#SLEEP", "backprop-lab"), ("dave", f"#FLAKY:{tmp_path}", "backprop-quiz"))}
    done = {who: clients[who].wait(s["id"], timeout=180) for who, s in bad.items()}
    assert done["dave"]["status"] == "graded"  # failed once, passed on the retry
    for who in ("alice", "bob", "carol"):
        assert done[who]["status"] == "error", who
        assert "not a problem of your code" in done[who]["message"]
    with course.engine.connect() as conn:
        jobs = {r.student_id: r for r in conn.execute(sa.select(db.jobs).where(
            db.jobs.c.submission_id.in_([s["id"] for s in bad.values()])))}
        events = [e.detail for e in conn.execute(sa.select(db.events).where(db.events.c.kind == "grader fault"))]
        results = conn.execute(sa.select(sa.func.count()).select_from(db.results).where(
            db.results.c.submission_id == bad["dave"]["id"])).scalar_one()
    assert {who: jobs[who].attempts for who in jobs} == {"alice": 3, "bob": 3, "carol": 3, "dave": 2}
    assert "simulated grader bug" in jobs["alice"].last_error
    assert "died" in jobs["bob"].last_error and "time budget" in jobs["carol"].last_error
    assert results == 1
    assert any("given up" in e for e in events)
    # The failed submission costs no submission and leaves the earlier score counting.
    preview = clients["alice"].http.get("/api/assignments/backprop-quiz/preview").json()
    assert preview["submissions_left"] == left_before
    with course.engine.connect() as conn:
        counted = rules.standing(conn, course.config, "alice", full=True).counted["backprop-quiz"]
    assert counted.submission.id == good["id"] and counted.failed == 1
    # The grading slots were replaced: a normal submission after all that is graded.
    assert clients["bob"].wait(_submit(clients["bob"], QUIZ_OK.read_bytes())["id"])["status"] == "graded"


def _engine_with_job(tmp_path):
    make_course(tmp_path)
    course = open_course(tmp_path)
    stored = course.store.put([b"X = 1\n"], ".py", limit=100)
    from grader.server.intake import receive
    receipt = receive(course, "alice", "backprop-quiz", "a.py", stored)
    return course, receipt


def _outcome():
    return {"status": "graded", "results": {"score": 1.0, "max_score": 2.0}, "public_results": {"score": 0.0,
            "max_score": 0.0}, "report_html": "", "public_html": "", "summary": "", "public_summary": ""}


SCORES = {"score": 1.0, "max_score": 2.0, "public_score": 0.0, "public_max": 0.0}


def test_a_result_after_its_lease_expired_is_discarded(tmp_path):
    course, receipt = _engine_with_job(tmp_path)
    [first] = queue.claim(course.engine, 1, now=1000.0, lease_seconds=30)
    assert not queue.complete(course.engine, first, _outcome(), SCORES, now=1031.0)  # lease over
    assert queue.expire_leases(course.engine, now=1031.0) == 1
    [second] = queue.claim(course.engine, 1, now=1032.0, lease_seconds=30)
    assert second.job_id == first.job_id and second.attempt == 2
    assert not queue.complete(course.engine, first, _outcome(), SCORES, now=1033.0)  # the old lease is gone
    assert queue.complete(course.engine, second, _outcome(), SCORES, now=1034.0)
    assert not queue.complete(course.engine, second, _outcome(), SCORES, now=1035.0)  # recorded once only
    with course.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.results)).scalar_one() == 1
        assert rules.rows(conn)[0].state == "graded"
    course.close()


def test_leases_are_renewed_while_grading_and_lost_once_expired(tmp_path):
    course, _ = _engine_with_job(tmp_path)
    [ticket] = queue.claim(course.engine, 1, now=1000.0, lease_seconds=10)
    assert queue.renew(course.engine, [ticket], now=1008.0, lease_seconds=10) == []
    assert queue.complete(course.engine, ticket, _outcome(), SCORES, now=1015.0)  # renewed until 1018
    course.close()


def test_students_go_before_regrades_and_one_job_per_student_is_in_flight(tmp_path):
    make_course(tmp_path)
    course = open_course(tmp_path)
    from grader.server.intake import receive, regrade
    ids = []
    for who, content in (("alice", b"A = 1\n"), ("alice", b"A = 2\n"), ("bob", b"B = 1\n")):
        ids.append(receive(course, who, "backprop-quiz", "a.py", course.store.put([content], ".py", limit=100))
                   .submission_id)
    # Regrades of earlier work queued before a new submission still go after it.
    with course.engine.begin() as conn:
        conn.execute(db.jobs.update().values(state=db.GRADED))
    assert regrade(course, ids) == 3
    fresh = receive(course, "carol", "backprop-quiz", "c.py", course.store.put([b"C = 1\n"], ".py", limit=100))
    claimed = queue.claim(course.engine, 10)
    assert claimed[0].submission_id == fresh.submission_id
    assert sorted((t.student_id for t in claimed)) == ["alice", "bob", "carol"]  # alice's second waits
    assert queue.claim(course.engine, 10) == []
    course.close()


def test_kill_9_mid_burst_then_restart_grades_every_acknowledged_submission_once(tmp_path):
    tokens = make_course(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "tests.server.serve_for_test", str(tmp_path), str(port)]

    def start():
        process = subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return process
            except httpx.HTTPError:
                time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the server did not start")

    server = start()
    try:
        ids = []
        for i, who in enumerate(("alice", "bob", "carol", "dave") * 2):
            client = Student(f"http://127.0.0.1:{port}", tokens[who])
            ids.append(_submit(client, _quiz(f"#SLOW {i}"))["id"])
        course = open_course(tmp_path)
        deadline = time.monotonic() + 60
        while True:  # wait until something is being graded, then kill everything at once
            with course.engine.connect() as conn:
                states = [r.state for r in rules.rows(conn)]
            if "grading" in states and "graded" in states or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        server = start()
        client = Student(f"http://127.0.0.1:{port}", tokens["alice"])
        deadline = time.monotonic() + 120
        while True:
            with course.engine.connect() as conn:
                rows = rules.rows(conn)
                per_submission = dict(conn.execute(sa.select(db.results.c.submission_id, sa.func.count())
                                                   .group_by(db.results.c.submission_id)).all())
                attempts = [r.attempts for r in conn.execute(sa.select(db.jobs.c.attempts))]
                expired = conn.execute(sa.select(sa.func.count()).select_from(db.events).where(
                    db.events.c.kind == "lease expired")).scalar_one()
            if all(r.state == "graded" for r in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(r.id for r in rows) == sorted(ids)
        assert all(r.state == "graded" for r in rows), [r.state for r in rows]
        assert all(per_submission.get(i) == 1 for i in ids), per_submission
        # Every grading that ran again did so because its lease expired (the kill interrupted at least one).
        assert sum(a - 1 for a in attempts) == expired >= 1, (attempts, expired)
        assert client.http.get("/healthz").status_code == 200
        course.close()
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def test_with_a_scheduler_the_dask_cluster_grades(tmp_path):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        tokens = make_course(tmp_path)
        course = open_course(tmp_path)
        with live_server(create_app(course, workers=2, scheduler=cluster.scheduler_address)) as base:
            student = Student(base, tokens["alice"])
            done = student.wait(_submit(student, QUIZ_OK.read_bytes())["id"])
        course.close()
        assert done["status"] == "graded"
    finally:
        cluster.close()

"""The long poll: a submission's status asked for with its ETag is answered when it changes, not polled for.

Polling twice a second cost the server milliseconds of CPU per request, and
at a deadline hundreds of students watch their pages at once: that was the
grading's CPU (benchmarks/server_bench.py, the evening). The pages, `grader
submit` and the benchmark now send the ETag they hold with ``?wait=N``.
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx
import pytest

from grader.server.app import create_app
from grader.server.course import open_course
from tests.server.helpers import QUIZ_BUG, QUIZ_OK, live_server, make_course
from tests.server.test_admin import _instructor

# A held request that is not woken runs to its wait; these bounds are far below it and far above a wakeup.
WAIT = 25
WOKEN_WITHIN = 15


def _held(client: httpx.Client, submission_id: int, etag: str, wait: float = WAIT) -> httpx.Response:
    return client.get(f"/api/submissions/{submission_id}", params={"wait": wait},
                      headers={"If-None-Match": etag}, timeout=WOKEN_WITHIN)


def test_a_held_request_answers_as_soon_as_the_grading_moves_on(live):
    student = live["alice"]
    receipt = student.submit(QUIZ_OK, "backprop-quiz")
    assert receipt.status_code == 201
    first = student.http.get(f"/api/submissions/{receipt.json()['id']}")
    etag, seen = first.headers["etag"], [first.json()["status"]]
    while seen[-1] != "graded":
        # Each answer comes when the state changes (queued -> grading -> graded), long before the wait ends;
        # without the dispatcher's notice this request would time out on the client's side.
        answer = _held(student.http, receipt.json()["id"], etag)
        assert answer.status_code == 200 and answer.headers["etag"] != etag
        etag = answer.headers["etag"]
        seen.append(answer.json()["status"])
    assert seen[-1] == "graded" and len(seen) <= 4, seen


def test_an_unchanged_submission_is_a_304_with_its_etag(live):
    student = live["bob"]
    sub = student.submit(QUIZ_OK, "backprop-quiz").json()
    graded = student.wait(sub["id"])
    current = student.http.get(f"/api/submissions/{sub['id']}")
    etag = current.headers["etag"]
    assert current.json() == graded
    # Conditional, without a wait: at once. With a short wait: once it is over. A stale ETag: the state.
    assert student.http.get(f"/api/submissions/{sub['id']}", headers={"If-None-Match": etag}).status_code == 304
    unchanged = _held(student.http, sub["id"], etag, wait=0.5)
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag and unchanged.content == b""
    stale = _held(student.http, sub["id"], '"not-this-one", "nor-this"')
    assert stale.status_code == 200 and stale.json()["status"] == "graded"
    for bad in ("soon", "-1", "nan", "inf"):
        refused = student.http.get(f"/api/submissions/{sub['id']}", params={"wait": bad})
        assert refused.status_code == 400 and "wait must be" in refused.json()["message"], bad
    # Another student's submission stays a 404, held or not.
    assert _held(live["carol"].http, sub["id"], etag).status_code == 404


def test_an_instructors_override_wakes_the_students_held_request(live):
    student = live["frank"]
    sub = student.submit(QUIZ_BUG, "backprop-quiz").json()
    student.wait(sub["id"])
    etag = student.http.get(f"/api/submissions/{sub['id']}").headers["etag"]
    answers: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: answers.append(_held(student.http, sub["id"], etag)))
    holder.start()
    time.sleep(0.5)  # the request is held now
    prof, csrf = _instructor(live)
    assert prof.post("/instructor/overrides", data={"csrf": csrf, "student": "frank", "assignment": "backprop-quiz",
                                                    "item": "b1", "points": "10"}).status_code == 303
    holder.join(timeout=WOKEN_WITHIN + 5)
    assert answers and answers[0].status_code == 200
    assert answers[0].json()["regrading"] or answers[0].json()["manual"]
    live["prof"].wait(sub["id"])


def test_a_held_request_does_not_hold_up_the_servers_stop(tmp_path):
    tokens = make_course(tmp_path / "course")
    course = open_course(tmp_path / "course")
    try:
        app = create_app(course, workers=1, grade=False)
        answers: list[int] = []
        with live_server(app) as base:
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=60)
            sub = client.post("/api/submissions", params={"assignment": "backprop-quiz", "filename": "q.py"},
                              content=QUIZ_OK.read_bytes()).json()
            etag = client.get(f"/api/submissions/{sub['id']}").headers["etag"]
            holder = threading.Thread(target=lambda: answers.append(client.get(
                f"/api/submissions/{sub['id']}", params={"wait": WAIT}, headers={"If-None-Match": etag}).status_code))
            holder.start()
            time.sleep(0.5)
            stopping = time.monotonic()
        # uvicorn lets requests in flight finish before it stops: the held one ends when the stop is asked.
        assert time.monotonic() - stopping < WOKEN_WITHIN
        holder.join(timeout=5)
        assert answers == [304]
    finally:
        course.close()


@pytest.mark.parametrize("wait", [0, 3])
def test_the_client_follows_a_grading_with_the_long_poll(live, wait, tmp_path, monkeypatch):
    """`grader submit` waits with the long poll and still prints the graded summary."""
    from grader.server import client as submit_client
    monkeypatch.setattr(submit_client, "WAIT_SECONDS", wait)
    parser = argparse.ArgumentParser()
    submit_client.add_arguments(parser)
    args = parser.parse_args([str(QUIZ_OK), "-a", "backprop-quiz", "--yes"])
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GRADER_SERVER", live.base)
    monkeypatch.setenv("GRADER_TOKEN", live.tokens["dave"])
    result = submit_client.submit(args)
    assert result["status"] == "graded" and result["score"] is not None

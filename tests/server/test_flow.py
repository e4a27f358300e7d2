"""A student hands in through the API and the pages: receipt at once, then graded; rules shown and enforced."""

from __future__ import annotations

import re

import httpx

from tests.server.helpers import LAB_BUG, QUIZ_BUG, QUIZ_OK


def test_upload_answers_with_a_receipt_then_grades(live):
    response = live["alice"].submit(QUIZ_OK, "backprop-quiz")
    assert response.status_code == 201
    receipt = response.json()
    import hashlib
    assert receipt["sha256"] == hashlib.sha256(QUIZ_OK.read_bytes()).hexdigest()
    assert receipt["status"] in ("queued", "grading", "graded") and receipt["received_at"]
    done = live["alice"].wait(receipt["id"])
    assert done["status"] == "graded"
    # The quiz has no public check: before release the student sees that, not the hidden score.
    assert done["feedback"] == "public" and done["score"] == 0
    assert "no public checks" in done["summary"]
    # The stored file is named by its hash, never by the student's file name.
    assert (live.folder / "store" / receipt["sha256"][:2] / f"{receipt['sha256']}.py").is_file()


def test_the_same_file_gets_the_same_score_alone_or_in_a_burst(live):
    first = live["bob"].submit(QUIZ_BUG, "backprop-quiz").json()
    live["bob"].wait(first["id"])
    burst = [live[s].submit(QUIZ_BUG, "backprop-quiz").json() for s in ("bob", "carol", "dave", "carol")]
    results = [_full_score(live, s["id"]) for s in [first, *burst]]
    assert len(set(results)) == 1 and 0 < results[0] < 60


def _full_score(live, submission_id):
    """The full (hidden checks included) score, once graded: what the instructor sees."""
    assert live["prof"].wait(submission_id)["status"] == "graded"
    from grader.server import rules
    with live.course.engine.connect() as conn:
        return rules.rows(conn, submission_id=submission_id)[0].score


def test_preview_shows_what_will_be_enforced(live):
    preview = live["alice"].http.get("/api/assignments/backprop-exercises/preview").json()
    assert preview["allowed"] and preview["needs_confirmation"]
    assert preview["days_late"] == 2 and preview["late_days"] == 2 and preview["penalty"] == 0
    closed = live["alice"].http.get("/api/assignments/backprop-research/preview").json()
    assert not closed["allowed"] and closed["reason"] == "closed"


def test_late_submission_needs_the_confirmation_the_preview_asked_for(live):
    refused = live["dave"].submit(QUIZ_OK, "backprop-exercises")
    assert refused.status_code == 409 and refused.json()["error"] == "needs_confirmation"
    accepted = live["dave"].submit(QUIZ_OK, "backprop-exercises", confirm_late_days=2)
    assert accepted.status_code == 201 and accepted.json()["late_days"] == 2
    closed = live["dave"].submit(QUIZ_OK, "backprop-research")
    assert closed.status_code == 409 and closed.json()["error"] == "closed"


def test_pages_show_assignments_history_and_the_counted_submission(live):
    live["carol"].wait(live["carol"].submit(QUIZ_OK, "backprop-quiz").json()["id"])
    browser = httpx.Client(base_url=live.base, follow_redirects=False)
    signin = browser.get(f"/signin/{live.tokens['carol']}")
    assert signin.status_code == 303 and signin.headers["location"] == "/"
    home = browser.get("/")
    assert home.status_code == 200 and 'id="assignment-backprop-quiz"' in home.text
    page = browser.get("/assignments/backprop-quiz")
    assert 'id="upload-form"' in page.text and 'id="history"' in page.text
    assert "counts" in page.text
    # The plain form (no script) posts the file with the CSRF token and lands on the submission's page.
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    posted = browser.post("/assignments/backprop-quiz/submit", data={"csrf": csrf},
                          files={"file": ("answers.py", QUIZ_OK.read_bytes(), "text/x-python")})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/submissions/")
    submission = browser.get(posted.headers["location"])
    assert 'id="sha256"' in submission.text and 'id="status"' in submission.text


def test_release_shows_the_full_report_and_score(live):
    lab = live["alice"].submit(LAB_BUG, "backprop-lab").json()
    before = live["alice"].wait(lab["id"])
    assert before["feedback"] == "public" and 0 < before["score"] < before["max_score"]
    public_report = live["alice"].http.get(before["report_url"]).text
    assert "Before grades are released" in public_report
    prof = httpx.Client(base_url=live.base, follow_redirects=False)
    prof.get(f"/signin/{live.tokens['prof']}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', prof.get("/instructor").text).group(1)
    try:
        assert prof.post("/instructor/release", data={"csrf": csrf, "assignment": "backprop-lab"}).status_code == 303
        after = live["alice"].http.get(f"/api/submissions/{lab['id']}").json()
        assert after["feedback"] == "full" and after["score"] != before["score"]
        assert "Before grades are released" not in live["alice"].http.get(after["report_url"]).text
    finally:
        prof.post("/instructor/release", data={"csrf": csrf, "assignment": "backprop-lab", "release": "0"})

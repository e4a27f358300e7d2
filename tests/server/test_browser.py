"""The course server in a real browser, at 1280 and 390 px: a student hands in and watches it graded; the
instructor follows, overrides and exports; axe-core finds no WCAG 2.1 A/AA violation on any page.

Playwright drives Debian's Chromium (tests/browser_support.py). The server is
a real one on a port of its own (tests/server/helpers.py), grading the quiz
(well under a second) for real; its work unit (tests/server/holds.py) waits
while the test holds a submission, so each state the page shows (queued,
grading, graded) is there to be seen, whatever the machine's load. Nothing
waits a fixed time: every step waits for the state it needs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from pathlib import Path

import pytest

from tests.browser_support import axe_violations, chromium, require_chromium, shots_dir

playwright_api = require_chromium()

from grader.config.assignment import load_assignment  # noqa: E402
from grader.server.app import create_app  # noqa: E402
from grader.server.course import open_course  # noqa: E402
from grader.server.grading import Grader  # noqa: E402
from tests.server.helpers import QUIZ_BUG, QUIZ_OK, Student, live_server, make_course  # noqa: E402
from tests.server.holds import held, hold_file  # noqa: E402

expect = playwright_api.expect
WIDTHS = [1280, 390]
WAIT_MS = 60_000           # the longest any one step may take on a loaded machine (a failure, not a pause)
STUDENT_ZONE = "America/New_York"  # the students' browsers; the course runs on Europe/Berlin
QUIZ = "backprop-quiz"


class Course:
    """The running server: its address, folder, sign-in tokens and API clients."""

    def __init__(self, base: str, folder: Path, tokens: dict[str, str]) -> None:
        self.base, self.folder, self.tokens = base, folder, tokens
        self.api = {who: Student(base, token) for who, token in tokens.items()}

    def hold(self, data: bytes) -> Path:
        """Hold the grading of the submission with these bytes until the returned file is removed."""
        path = hold_file(self.folder, hashlib.sha256(data).hexdigest())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path


@pytest.fixture(scope="module", autouse=True)
def patient_expect():
    """Every expectation waits up to WAIT_MS for its state (Playwright's default is 5 s)."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=None)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-course")
    tokens = make_course(folder)
    opened = open_course(folder)
    grader = Grader(2, work=held, preload=load_assignment(QUIZ).preload)
    with live_server(create_app(opened, grader=grader, rate=(1000, 0.01))) as base:
        yield Course(base, folder, tokens)
    opened.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def _signed_in(browser, course: Course, who: str, width: int, *, bypass_csp: bool = False):
    """A new browser window of `width` px, signed in with `who`'s personal link.

    The pages' own Content-Security-Policy holds (so the flows run under it),
    except where axe-core is injected (`bypass_csp`).
    """
    context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id=STUDENT_ZONE,
                                  accept_downloads=True, bypass_csp=bypass_csp)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(f"{course.base}/signin/{course.tokens[who]}")
    return page


def _answers(source: Path, tag: str, folder: Path) -> Path:
    """A copy of a quiz answer file that differs in a comment only: the same score, a hash of its own."""
    path = folder / f"answers_{tag}.py"
    path.write_text(source.read_text(encoding="utf-8") + f"\n# {tag}\n", encoding="utf-8")
    return path


def _wait_api(client: Student, submission_id: int, state: str) -> dict:
    """The submission once the server says it is in `state` (polled; fails after WAIT_MS)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        data = client.http.get(f"/api/submissions/{submission_id}").json()
        if data["status"] == state and not data.get("regrading"):
            return data
        assert time.monotonic() < deadline, f"submission {submission_id} still {data['status']}"
        time.sleep(0.05)


def _fits(page, width: int) -> None:
    """Nothing makes the page scroll sideways (wide tables scroll in their own box)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# Each width has its own students, so the two runs do not see each other's submissions.
ROLES = {1280: ("alice", "carol"), 390: ("bob", "dave")}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_student_hands_in_watches_it_graded_and_the_instructor_follows(course, browser, width, tmp_path):
    student, other = ROLES[width]
    shots = shots_dir(tmp_path)
    first = _answers(QUIZ_BUG, f"{student}_first", tmp_path)
    second = _answers(QUIZ_OK, f"{student}_second", tmp_path)
    holds = [course.hold(first.read_bytes()), course.hold(second.read_bytes())]
    try:
        prof = _signed_in(browser, course, "prof", width)
        assert prof.url.endswith("/instructor")
        cell = prof.locator(f"#cell-{student}-{QUIZ}")
        expect(cell).to_have_text("–")

        # An earlier submission is being graded (held): the next one of the same student waits its turn.
        earlier = course.api[student].submit(first, QUIZ).json()
        _wait_api(course.api[student], earlier["id"], "grading")

        page = _signed_in(browser, course, student, width)
        assert page.url == f"{course.base}/"
        page.get_by_role("link", name=f"Hand in or see your submissions for {QUIZ}").click()
        page.wait_for_url(f"**/assignments/{QUIZ}")
        expect(page.locator("#submissions-left")).to_contain_text("19 of 20")
        page.evaluate("window.notReloaded = true")  # gone if the page reloads
        page.set_input_files("#file", str(second))
        page.locator("#submit").click()

        # The receipt, at once: when and the file's SHA-256; then the live status.
        receipt = page.locator("#receipt")
        expect(receipt).to_be_visible()
        expect(receipt.locator("#sha256")).to_have_text(hashlib.sha256(second.read_bytes()).hexdigest())
        expect(receipt.locator("#received")).to_contain_text(re.compile(r"\d{1,2}:\d\d"))
        status = receipt.locator("#status")
        expect(status).to_have_text("queued")
        expect(receipt.locator("#queue")).to_contain_text("Position 1 in the queue")
        expect(page.locator("#submissions-left")).to_contain_text("18 of 20")  # the preview follows, too
        submission_id = int(receipt.locator("#submission").get_attribute("data-id"))
        expect(page.locator(f"#submission-row-{submission_id}")).to_contain_text("queued")
        if width == 1280:
            page.screenshot(path=str(shots / "server-receipt-queued-1280.png"), full_page=True)
        expect(cell).to_contain_text("2 pending")  # the instructor's dashboard, live

        holds[0].unlink()  # the earlier one finishes; this one is graded next (and held there)
        expect(status).to_have_text("grading")
        holds[1].unlink()
        expect(status).to_have_text("graded")
        expect(receipt.locator("#score")).to_contain_text("shown when grades are released")
        expect(page.locator(f"#submission-row-{submission_id}")).to_contain_text("graded")
        assert page.evaluate("window.notReloaded") is True
        page.screenshot(path=str(shots / f"server-receipt-graded-{width}.png"), full_page=True)
        _fits(page, width)

        # The report opens from the receipt.
        receipt.locator("#report-link").click()
        page.wait_for_url(f"**/submissions/{submission_id}/report")
        expect(page.locator("body")).to_contain_text("Before grades are released")
        report_url = page.url
        _fits(page, width)
        page.get_by_role("link", name=f"Submission {submission_id} on the course site").click()
        page.wait_for_url(f"**/submissions/{submission_id}")
        expect(page.locator("#status")).to_have_text("graded")

        # Another student gets the same 404 as for a submission that does not exist.
        stranger = _signed_in(browser, course, other, width)
        for url in (report_url, f"{course.base}/submissions/{submission_id}"):
            response = stranger.goto(url)
            assert response.status == 404
            expect(stranger.locator("h1")).to_contain_text("Not found")
        stranger.context.close()

        # The instructor's dashboard has the new score (the full one: the quiz's 60 points).
        expect(cell).to_have_text("60")
        prof.locator(f"#student-row-{student} a").click()
        prof.wait_for_url(f"**/instructor/students/{student}")
        prof.locator(f"#override-{QUIZ} summary").click()
        prof.select_option(f"#override-item-{QUIZ}", "b1")
        prof.fill(f"#override-points-{QUIZ}", "4")
        prof.fill(f"#override-comment-{QUIZ}", "b1 checked by hand")
        prof.locator(f"#override-save-{QUIZ}").click()
        prof.wait_for_url(f"**/instructor/students/{student}")
        # Regraded with the override; the student's page follows without a reload.
        expect(prof.locator(f"#submission-row-{submission_id}")).to_contain_text("manual")
        expect(prof.locator(f"#submission-row-{earlier['id']}")).to_contain_text("manual")
        expect(prof.locator(f"#standing-{QUIZ} .overrides")).to_contain_text("b1 checked by hand")
        prof.goto(f"{course.base}/instructor")
        expect(cell).to_contain_text("manual")
        final = float(cell.inner_text().split()[0])
        assert final < 60  # b1 is worth 10 and the correct answers had all of it
        if width == 1280:
            prof.screenshot(path=str(shots / "server-dashboard-1280.png"), full_page=True)
        _fits(prof, width)

        # The gradebook export: the LMS columns first, the student's row manual, every student listed.
        with prof.expect_download() as download:
            prof.locator(f"#gradebook-{QUIZ}").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(rows[0])[:4] == ["student_id", "score", "late_penalty", "final"]
        mine = next(r for r in rows if r["student_id"] == student)
        assert mine["manual"] == "manual" and float(mine["final"]) == final and mine["status"] == "graded"
        assert int(mine["submission"]) in (submission_id, earlier["id"])
        assert {r["student_id"] for r in rows} >= {"alice", "bob", "carol", "dave", "erin", "frank"}
        assert next(r for r in rows if r["student_id"] == "frank")["status"] == "no submission"

        # The student's history says so, too.
        page.goto(f"{course.base}/assignments/{QUIZ}")
        expect(page.locator(f"#submission-row-{submission_id}")).to_contain_text("manual")
        prof.context.close()
        page.context.close()
    finally:
        for hold in holds:
            hold.unlink(missing_ok=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_shows_what_will_be_enforced_and_a_late_hand_in_needs_a_tick(course, browser, width, tmp_path):
    student = {1280: "erin", 390: "frank"}[width]
    page = _signed_in(browser, course, student, width)
    page.goto(f"{course.base}/assignments/backprop-exercises")  # due 30 hours ago: 2 days late
    due = page.locator("#due")
    expect(due).to_contain_text(re.compile(r"CES?T"))                       # the course's zone
    expect(due).to_contain_text(re.compile(r"Your time \(America/New York\): .* (EST|EDT)"))
    expect(due).to_contain_text("ago")
    expect(page.locator("#submissions-left")).to_contain_text("20 of 20 in any 24 hours")
    expect(page.locator("#late-days-left")).to_contain_text("3 of 3")
    expect(page.locator("#late-cost")).to_contain_text("2 days late")
    expect(page.locator("#late-cost")).to_contain_text("it will use 2 late days")
    page.screenshot(path=str(shots_dir(tmp_path) / f"server-assignment-late-{width}.png"), full_page=True)
    _fits(page, width)

    answers = _answers(QUIZ_OK, f"{student}_late", tmp_path)
    page.set_input_files("#file", str(answers))
    page.locator("#submit").click()  # not ticked: the browser asks for the tick, nothing is sent
    assert page.evaluate("document.getElementById('confirm').validity.valueMissing")
    assert page.locator("#receipt").is_hidden()
    assert course.api[student].http.get("/api/submissions").json()["submissions"] == []

    page.locator("#confirm").check()
    page.locator("#submit").click()
    receipt = page.locator("#receipt")
    expect(receipt.locator("#late")).to_contain_text("2 late days")
    expect(receipt.locator("#status")).to_have_text("graded")
    expect(page.locator("#late-days-left")).to_contain_text("1 of 3")  # the preview, refreshed in place
    expect(page.locator("#submissions-left")).to_contain_text("19 of 20")
    # The window resets 24 hours after the submission, in the course's time and in the student's.
    expect(page.locator("#submissions-left")).to_contain_text("frees up")
    expect(page.locator("#submissions-left .local-time")).to_contain_text("Your time")
    page.context.close()


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """A graded quiz submission of carol's (the pages below show a history, a receipt and a report)."""
    folder = tmp_path_factory.mktemp("graded")
    answers = _answers(QUIZ_BUG, "axe", folder)
    submitted = course.api["carol"].submit(answers, QUIZ).json()
    return course.api["carol"].wait(submitted["id"])


PAGES = {  # name -> (who, path)
    "assignments": ("carol", "/"),
    "assignment": ("carol", f"/assignments/{QUIZ}"),
    "assignment with a receipt": ("carol", f"/assignments/{QUIZ}"),
    "late assignment": ("carol", "/assignments/backprop-exercises"),
    "closed assignment": ("carol", "/assignments/backprop-research"),
    "submission": ("carol", "/submissions/{id}"),
    "report": ("carol", "/submissions/{id}/report"),
    "not found": ("carol", "/submissions/999999"),
    "dashboard": ("prof", "/instructor"),
    "instructor's student": ("prof", "/instructor/students/carol"),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_no_wcag_violation_and_nothing_scrolls_sideways(course, browser, graded, name, width, tmp_path):
    who, path = PAGES[name]
    page = _signed_in(browser, course, who, width, bypass_csp=True)
    page.goto(course.base + path.format(id=graded["id"]))
    if name == "instructor's student":
        page.locator("details summary").first.click()  # the override form too
    if name == "assignment with a receipt":
        page.set_input_files("#file", str(_answers(QUIZ_OK, f"axe_{width}", tmp_path)))
        page.locator("#submit").click()
        expect(page.locator("#receipt #status")).to_have_text("graded")
    assert axe_violations(page) == []
    _fits(page, width)
    page.context.close()


def test_releasing_grades_asks_first_and_the_dashboard_says_what_students_see(course, browser):
    prof = _signed_in(browser, course, "prof", 1280)
    row = prof.locator("#assignment-row-backprop-research")
    expect(row.locator(".released-state")).to_contain_text("Not released")
    questions, posts = [], []
    prof.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    prof.once("dialog", lambda dialog: answer(dialog, False))
    row.locator("#release-backprop-research").click()
    assert "hidden checks included" in questions[-1]
    prof.once("dialog", lambda dialog: answer(dialog, True))
    row.locator("#release-backprop-research").click()
    expect(prof.locator("#assignment-row-backprop-research .released-state")).to_contain_text("Released")
    assert [url for url in posts if url.endswith("/instructor/release")] == [f"{course.base}/instructor/release"]
    prof.once("dialog", lambda dialog: answer(dialog, True))
    prof.locator("#unrelease-backprop-research").click()
    expect(prof.locator("#assignment-row-backprop-research .released-state")).to_contain_text("Not released")
    assert len(questions) == 3
    prof.context.close()

"""Helpers of the course server's tests: a course folder, a live server in a thread, a student's HTTP client."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import uvicorn

from grader.server.accounts import Person, import_roster
from grader.server.app import serving
from grader.server.course import open_course

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QUIZ_OK = FIXTURES / "quiz" / "correct_literal.py"
QUIZ_BUG = FIXTURES / "quiz" / "bug_b1_swapped.py"
LAB_BUG = FIXTURES / "lab" / "bug_missing_1_over_m.py"
STUDENTS = ("alice", "bob", "carol", "dave", "erin", "frank")
INSTRUCTOR = "prof"


def toml_time(value: datetime) -> str:
    """An aware time as a TOML offset date-time."""
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def write_course(folder: Path, *, late_days: int = 3, per_day: int = 20) -> None:
    """A course.toml: the quiz and the lab open, the exercises past due (late work), the research closed."""
    now = datetime.now(timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.toml").write_text(f"""
title = "Test course"
timezone = "Europe/Berlin"
late_days = {late_days}

[defaults]
submissions_per_day = {per_day}
counts = "best"
late_penalty = "10%"

[assignments.backprop-quiz]
opens = {toml_time(now - timedelta(hours=1))}
due = {toml_time(now + timedelta(days=7))}

[assignments.backprop-lab]
opens = {toml_time(now - timedelta(hours=1))}
due = {toml_time(now + timedelta(days=7))}

[assignments.backprop-exercises]
opens = {toml_time(now - timedelta(days=3))}
due = {toml_time(now - timedelta(hours=30))}
hard_close = {toml_time(now + timedelta(days=5))}

[assignments.backprop-research]
opens = {toml_time(now - timedelta(days=9))}
due = {toml_time(now - timedelta(days=8))}
hard_close = {toml_time(now - timedelta(days=7))}
""", encoding="utf-8")


def make_course(folder: Path, **kwargs) -> dict[str, str]:
    """A course with STUDENTS and INSTRUCTOR; returns {id: token}."""
    write_course(folder, **kwargs)
    course = open_course(folder)
    try:
        people = [Person(s, s.title(), f"{s}@example.edu") for s in STUDENTS]
        people.append(Person(INSTRUCTOR, "Prof", "prof@example.edu", "instructor"))
        import_roster(course.engine, people, "http://testserver", course.links_path)
    finally:
        course.close()
    import csv
    with open(course.links_path, encoding="utf-8") as handle:
        return {row["id"]: row["token"] for row in csv.DictReader(handle)}


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app):
    """Run `app` on uvicorn in a thread of this process; yields its base URL."""
    port = free_port()
    server = serving(app, uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                         lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


class Student:
    """An HTTP client signed in with a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def submit(self, path: Path, assignment: str, **params) -> httpx.Response:
        """Upload `path` to the API."""
        return self.http.post("/api/submissions", params={"assignment": assignment, "filename": path.name, **params},
                              content=path.read_bytes())

    def wait(self, submission_id: int, timeout: float = 120) -> dict:
        """The submission once it is graded or failed."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.http.get(f"/api/submissions/{submission_id}").json()
            if data["status"] in ("graded", "error") and not data.get("regrading"):
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"submission {submission_id} still {data['status']} after {timeout} s")
            time.sleep(0.1)

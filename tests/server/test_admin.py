"""Course administration: init, database versions, roster and links.csv, status, instructors' actions, exports."""

from __future__ import annotations

import csv
import io
import json
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from grader.server import db
from grader.server.accounts import RosterError, read_roster
from grader.server.course import open_course
from tests.server.helpers import QUIZ_BUG, QUIZ_OK

REPO = Path(__file__).resolve().parents[2]


def _grader(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_init_roster_status_from_the_command_line(tmp_path):
    folder = tmp_path / "course"
    assert _grader("course", "init", folder).returncode == 0
    again = _grader("course", "init", folder)
    assert again.returncode == 2 and "already exists" in again.stderr
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\nada,Ada L,ada@x.edu\nalan,Alan T,alan@x.edu\n")
    done = _grader("course", "roster", folder, roster, "--url", "https://grader.example.edu")
    assert done.returncode == 0, done.stderr
    links = folder / "links.csv"
    assert stat.S_IMODE(links.stat().st_mode) == 0o600
    rows = list(csv.DictReader(links.open()))
    assert list(rows[0]) == ["id", "name", "email", "link", "token"]
    assert rows[0]["link"] == f"https://grader.example.edu/signin/{rows[0]['token']}"
    # The database keeps hashes only.
    assert rows[0]["token"].encode() not in (folder / "course.db").read_bytes()
    # A second import keeps everyone's token and adds the newcomer's.
    roster.write_text("id,name,email\nada,Ada Lovelace,ada@x.edu\ngrace,Grace H,g@x.edu\n")
    assert _grader("course", "roster", folder, roster).returncode == 0
    again = {r["id"]: r["token"] for r in csv.DictReader(links.open())}
    assert again["ada"] == rows[0]["token"] and set(again) == {"ada", "alan", "grace"}
    status = _grader("course", "status", folder, "--json")
    assert status.returncode == 0 and json.loads(status.stdout) == []
    revoked = _grader("course", "revoke", folder, "ada", "--reissue")
    assert revoked.returncode == 0
    assert {r["id"]: r["token"] for r in csv.DictReader(links.open())}["ada"] != rows[0]["token"]


@pytest.mark.parametrize("text, expected", [
    ("id,name\nx,y\n", "missing column(s) email"),
    ("id,name,email\nada,A,a\nADA,B,b\n", "line 3: id 'ADA' repeats line 2"),
    ("id,name,email\n../x,A,a\n", "line 2: id '../x'"),
    ("id,name,email,role\nada,A,a,admin\n", "line 2: role 'admin'"),
    ("id,name,email\n", "no rows"),
])
def test_roster_mistakes_name_the_line(tmp_path, text, expected):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(RosterError, match=re.escape(expected)):
        read_roster(path)


def test_the_schema_upgrades_itself_and_a_newer_database_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = db.open_database(url)
    with engine.begin() as conn:
        conn.execute(db.users.insert().values(id="ada", name="Ada", email="", role="student", created_at=0.0))
        assert db.current_version(conn) == db.SCHEMA_VERSION
    engine.dispose()
    # A later grader adds a migration: opening the old course applies it and keeps the data.
    upgrade = db.Migration(db.SCHEMA_VERSION + 1, "a note column",
                           lambda conn: conn.execute(sa.text("ALTER TABLE users ADD COLUMN note TEXT")))
    engine = db.open_database(url, db.MIGRATIONS + (upgrade,))
    with engine.connect() as conn:
        assert db.current_version(conn) == db.SCHEMA_VERSION + 1
        assert conn.execute(sa.text("SELECT id, note FROM users")).all() == [("ada", None)]
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
    engine.dispose()
    # This grader does not know that version: it refuses instead of guessing.
    with pytest.raises(db.DatabaseError, match="newer than this grader"):
        db.open_database(url)


def _instructor(live):
    browser = httpx.Client(base_url=live.base, follow_redirects=False)
    browser.get(f"/signin/{live.tokens['prof']}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/instructor").text).group(1)
    return browser, csrf


def test_override_is_stored_regraded_and_shown_as_manual(live):
    sub = live["erin"].submit(QUIZ_BUG, "backprop-quiz").json()
    live["erin"].wait(sub["id"])
    prof, csrf = _instructor(live)
    posted = prof.post("/instructor/overrides", data={"csrf": csrf, "student": "erin", "assignment": "backprop-quiz",
                                                      "item": "b1", "points": "10", "comment": "checked by hand"})
    assert posted.status_code == 303
    live["prof"].wait(sub["id"])
    with live.course.engine.connect() as conn:
        manual = conn.execute(sa.select(db.results.c.manual).where(db.results.c.submission_id == sub["id"])
                              .order_by(db.results.c.id.desc())).scalars().first()
    assert manual == 1
    page = prof.get("/instructor/students/erin").text
    assert "manual" in page and "checked by hand" in page
    gradebook = list(csv.DictReader(io.StringIO(prof.get("/instructor/gradebook.csv?assignment=backprop-quiz").text)))
    row = next(r for r in gradebook if r["student_id"] == "erin")
    assert row["manual"] == "manual"
    assert list(gradebook[0])[:4] == ["student_id", "score", "late_penalty", "final"]
    bad = prof.post("/instructor/overrides", data={"csrf": csrf, "student": "erin", "assignment": "backprop-quiz",
                                                   "item": "b1", "points": "11"})
    assert bad.status_code == 400


def test_an_extension_changes_what_the_student_is_shown_and_charged(live):
    prof, csrf = _instructor(live)
    before = live["frank"].http.get("/api/assignments/backprop-exercises/preview").json()
    assert before["days_late"] > 0
    posted = prof.post("/instructor/extensions", data={"csrf": csrf, "student": "frank", "assignment":
                                                       "backprop-exercises", "due": "2099-01-01T12:00"})
    assert posted.status_code == 303
    after = live["frank"].http.get("/api/assignments/backprop-exercises/preview").json()
    assert after["extended"] and after["days_late"] == 0 and not after["needs_confirmation"]
    other = live["alice"].http.get("/api/assignments/backprop-exercises/preview").json()
    assert not other["extended"]


def test_regrade_all_keeps_scores_and_queues_behind_students(live):
    sub = live["frank"].submit(QUIZ_OK, "backprop-quiz").json()
    live["frank"].wait(sub["id"])
    prof, csrf = _instructor(live)
    assert prof.post("/instructor/regrade", data={"csrf": csrf, "student": "frank", "assignment": "backprop-quiz"}
                     ).status_code == 303
    with live.course.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(sa.select(db.jobs.c.kind).where(db.jobs.c.submission_id == sub["id"]))]
    assert kinds[0] == "submit" and kinds[1] == "regrade"
    again = live["prof"].wait(sub["id"])
    assert again["status"] == "graded"
    with live.course.engine.connect() as conn:
        scores = conn.execute(sa.select(db.results.c.score)
                              .where(db.results.c.submission_id == sub["id"])).scalars().all()
    assert len(scores) >= 2 and len(set(scores)) == 1


def test_the_counted_zip_is_a_class_that_grader_batch_grades(live, tmp_path):
    live["alice"].wait(live["alice"].submit(QUIZ_OK, "backprop-quiz").json()["id"])
    prof, _ = _instructor(live)
    response = prof.get("/instructor/counted.zip?assignment=backprop-quiz")
    assert response.status_code == 200
    archive = tmp_path / "class.zip"
    archive.write_bytes(response.content)
    names = zipfile.ZipFile(archive).namelist()
    assert "alice.py" in names and all("/" not in n for n in names)
    out = tmp_path / "out"
    done = _grader("batch", archive, "-a", "backprop-quiz", "-o", out)
    assert done.returncode == 0, done.stderr
    graded = {r["student"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert {n.rsplit(".", 1)[0] for n in names} == graded


def test_course_status_json_lists_every_submission(live):
    from grader.server.cli import course_status
    rows = course_status(live.course)
    assert rows and set(rows[0]) == {"id", "student", "assignment", "sha256", "state", "score"}
    assert {r["state"] for r in rows} <= {"queued", "grading", "graded", "error"}


def test_the_dashboard_shows_the_class_live(live):
    prof, _ = _instructor(live)
    data = prof.get("/instructor/api/dashboard").json()
    assert {"queue", "assignments", "students", "events"} <= set(data)
    assert {s["id"] for s in data["students"]} >= {"alice", "bob", "carol", "dave"}
    page = prof.get("/instructor").text
    assert 'id="cell-alice-backprop-quiz"' in page and 'data-live="/instructor"' in page


def test_the_demo_course_has_the_demo_class_handed_in_and_two_links():
    import shutil
    from grader.demo import class_spec
    from grader.server.demo import make_demo
    folder, links = make_demo("127.0.0.1", 8123)
    try:
        assert links["student"].startswith("http://127.0.0.1:8123/signin/")
        assert links["instructor"].startswith("http://127.0.0.1:8123/signin/")
        course = open_course(folder)
        from grader.server.cli import course_status
        rows = course_status(course)
        course.close()
        assert {r["student"] for r in rows} == set(class_spec()["students"])
        assert {r["state"] for r in rows} == {"queued"}
    finally:
        shutil.rmtree(folder)

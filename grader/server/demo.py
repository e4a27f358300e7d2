"""`grader serve --demo`: a throwaway course with the demo class, for trying the server in one command.

The course folder is a temporary one; the roster is the demo class of
`grader demo` (assignments/backprop-lab/demo-class.toml) plus one instructor,
and each student has already handed in their fixture submission, so the
dashboard fills up as the server grades them.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from grader.demo import ASSIGNMENT, FIXTURES, class_spec
from grader.server.accounts import Person, import_roster
from grader.server.course import init_course, open_course
from grader.server.intake import receive
from grader.server.store import extension_of

INSTRUCTOR = "instructor"


def make_demo(host: str, port: int) -> tuple[Path, dict[str, str]]:
    """Create the demo course; returns its folder and the links {"student": ..., "instructor": ...}."""
    folder = Path(tempfile.mkdtemp(prefix="grader-demo-course-"))
    init_course(folder)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    students = class_spec().get("students", {})
    people = [Person(sid, sid.replace("_", " ").title(), f"{sid}@example.edu") for sid in students]
    people.append(Person(INSTRUCTOR, "Course Instructor", "instructor@example.edu", "instructor"))
    course = open_course(folder)
    try:
        import_roster(course.engine, people, base, course.links_path)
        for sid, entry in students.items():
            source = FIXTURES / entry["file"]
            stored = course.store.put([source.read_bytes()], extension_of(source.name), limit=10 * 2**20)
            receive(course, sid, ASSIGNMENT, source.name, stored, via="demo")
    finally:
        course.close()
    with open(folder / "links.csv", encoding="utf-8", newline="") as handle:
        links = {row["id"]: row["link"] for row in csv.DictReader(handle)}
    return folder, {"student": links[next(iter(students))], "instructor": links[INSTRUCTOR]}

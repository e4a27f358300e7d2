"""What an instructor takes away: the gradebook CSV and a zip of every counted submission.

The gradebook has one row per student of the roster and what counts for
them (full scores, whatever students see before release): the LMS columns
``student_id, score, late_penalty, final`` first, then the details. The zip
holds each student's counted submission as ``<student_id><ext>``, the layout
`grader batch` reads, so the class can be regraded offline.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Iterator

import sqlalchemy as sa

from grader.server import db, rules
from grader.server.course import Course

GRADEBOOK_COLUMNS = ("student_id", "score", "late_penalty", "final", "max_score", "name", "email", "assignment",
                     "late_days", "days_late", "submission", "submitted_at", "sha256", "manual", "status")


def _students(conn) -> list[sa.Row]:
    return list(conn.execute(sa.select(db.users).where(db.users.c.role == "student").order_by(db.users.c.id)))


def _class(course: Course, assignment: str) -> Iterator[tuple[sa.Row, rules.Standing]]:
    """Each student of the roster with their standing (full scores), in id order."""
    with course.engine.connect() as conn:
        users = _students(conn)
        standings = rules.class_standing(conn, course.config, [u.id for u in users])
    for user in users:
        yield user, standings[user.id]


def gradebook_rows(course: Course, assignment: str) -> list[dict]:
    """One dict per student: what counts for `assignment` and what lateness cost."""
    out = []
    for user, standing in _class(course, assignment):
        counted, chosen = standing.counted[assignment], standing.chosen(assignment)
        status = ("graded" if chosen else "grading" if counted.pending else
                  "grader error" if counted.failed else "no submission")
        out.append({
            "student_id": user.id, "name": user.name, "email": user.email, "assignment": assignment,
            "score": counted.raw_score, "late_penalty": counted.penalty_points if chosen else None,
            "final": counted.final_score, "max_score": counted.max_score, "late_days": counted.late_days,
            "days_late": counted.days_late, "submission": chosen.id if chosen else None,
            "submitted_at": rules.utc(chosen.received_at).isoformat(timespec="seconds") if chosen else "",
            "sha256": chosen.sha256 if chosen else "", "manual": "manual" if chosen and chosen.manual else "",
            "status": (chosen.status or status) if chosen else status, "explanation": counted.explanation,
        })
    return out


def gradebook_csv(course: Course, assignment: str) -> str:
    """The gradebook of one assignment as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=GRADEBOOK_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in gradebook_rows(course, assignment):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def counted_zip(course: Course, assignment: str) -> bytes:
    """A zip of every student's counted submission of `assignment`, one ``<student_id><ext>`` entry each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for user, standing in _class(course, assignment):
            row = standing.chosen(assignment)
            if row is None:
                continue
            # Ids are checked at roster import (letters, digits, . _ @ + -): safe as entry names.
            info = zipfile.ZipInfo(f"{user.id}{row.ext}", date_time=rules.utc(row.received_at).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, course.store.path(row.sha256, row.ext).read_bytes())
    return buffer.getvalue()

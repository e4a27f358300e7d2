"""Receiving a submission: check the rules, store the file, record it and its job, then give the receipt.

Order matters for "nothing acknowledged is ever lost": the file is stored
and fsynced first, then the submission and its job are inserted in one
transaction whose commit is synced (db.py); only then does the caller send
the receipt. The rule check (policy.decide) and the insert happen under one
lock per student, so two uploads at once cannot both take the last
submission of the day.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from grader.server import db, queue, rules
from grader.server.course import Course
from grader.server.grading import seed_for
from grader.server.store import Stored

_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


class Refused(Exception):
    """The course's rules refuse this submission now; `reason` is policy's code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Receipt:
    """What the student gets at once: the submission's id, the time it was received and its SHA-256."""

    submission_id: int
    job_id: int
    sha256: str
    received_at: float
    size: int
    late_days: int
    penalty: float


def _lock(student_id: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS[student_id]


def receive(course: Course, student_id: str, assignment: str, filename: str, stored: Stored, *,
            confirmed_late_days: int = 0, confirmed_penalty: float = 0.0, via: str = "web",
            now: float | None = None) -> Receipt:
    """Record a stored upload as a submission with its grading job; Refused when the rules say no."""
    with _lock(student_id):
        now = time.time() if now is None else now
        with course.engine.begin() as conn:
            decision = rules.decide(conn, course.config, student_id, assignment, rules.utc(now),
                                    confirmed_late_days=confirmed_late_days, confirmed_penalty=confirmed_penalty)
            if not decision.accepted:
                raise Refused(decision.reason or "refused", decision.message)
            submission_id = conn.execute(db.submissions.insert().values(
                student_id=student_id, assignment=assignment, sha256=stored.sha256, ext=stored.ext,
                filename=filename, size=stored.size, received_at=now, days_late=decision.days_late,
                late_days=decision.late_days, penalty_days=decision.penalty_days, penalty=decision.penalty,
                via=via)).inserted_primary_key[0]
            job_id = queue.add_job(conn, submission_id, student_id, assignment, "submit",
                                   seed_for(course.key, stored.sha256, assignment), now)
    return Receipt(submission_id, job_id, stored.sha256, now, stored.size, decision.late_days, decision.penalty)


def regrade(course: Course, submission_ids: Iterable[int], *, kind: str = "regrade", actor: str = "",
            now: float | None = None) -> int:
    """Queue a regrade of each submission (skipping those with one already queued); returns how many."""
    now = time.time() if now is None else now
    count = 0
    with course.engine.begin() as conn:
        for submission_id in submission_ids:
            sub = conn.execute(sa.select(db.submissions).where(db.submissions.c.id == submission_id)).first()
            if sub is None:
                continue
            pending = conn.execute(sa.select(db.jobs.c.id).where(
                db.jobs.c.submission_id == submission_id, db.jobs.c.state == db.QUEUED)).first()
            if pending is not None:
                continue
            queue.add_job(conn, submission_id, sub.student_id, sub.assignment, kind,
                          seed_for(course.key, sub.sha256, sub.assignment), now)
            count += 1
        if count:
            conn.execute(db.events.insert().values(at=now, kind=kind, actor=actor,
                                                   detail=f"{count} submission(s) queued for grading again"))
    return count

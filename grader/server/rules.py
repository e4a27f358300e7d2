"""The course's rules applied to what the database holds: history in, policy's answers out.

grader/server/policy.py decides (what a submission would meet, what is
enforced at the receipt, which submission counts); this module only reads
the rows it needs and hands them over, so the page's preview, `grader
submit`'s preview and the check at the receipt are one computation.

A student's view uses the scores they may see: before release the public
checks' score, after release (or with ``feedback = "full"``) the full one;
the instructor's gradebook always uses the full score.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from grader.server import db, policy
from grader.server.course_config import CourseConfig, Extension

PUBLIC, FULL = "public", "full"


def utc(seconds: float) -> datetime:
    """An epoch time from the database as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, timezone.utc)


@dataclass
class Row:
    """One submission as the pages and the policy need it: the row, its state and its latest result."""

    id: int
    student_id: str
    assignment: str
    sha256: str
    ext: str
    filename: str
    size: int
    received_at: float
    days_late: int
    late_days: int
    penalty_days: int
    penalty: float
    state: str                       # queued, grading, graded or error (policy.STATES)
    result_id: int | None = None
    status: str | None = None        # the work unit's status ("graded", "broken: ...")
    score: float | None = None
    max_score: float | None = None
    public_score: float | None = None
    public_max: float | None = None
    manual: bool = False
    job_state: str | None = None     # the latest job's state (a regrade may be queued over a graded result)
    last_error: str | None = None

    def to_policy(self, basis: str) -> policy.Submission:
        """This submission as the policy reads it, scored on `basis` (public or full)."""
        score, top = (self.public_score, self.public_max) if basis == PUBLIC else (self.score, self.max_score)
        return policy.Submission(self.id, utc(self.received_at), self.state, score, top, late_days=self.late_days,
                                 penalty_days=self.penalty_days, penalty=self.penalty)


def rows(conn: Connection, *, student_id: str | None = None, assignment: str | None = None,
         submission_id: int | None = None) -> list[Row]:
    """Submissions (oldest first) with their state and latest result, filtered as asked."""
    s = db.submissions
    query = sa.select(s).order_by(s.c.id)
    if student_id is not None:
        query = query.where(s.c.student_id == student_id)
    if assignment is not None:
        query = query.where(s.c.assignment == assignment)
    if submission_id is not None:
        query = query.where(s.c.id == submission_id)
    found = {r.id: r for r in conn.execute(query)}
    if not found:
        return []
    ids = list(found)
    latest_job: dict[int, sa.Row] = {}
    for job in conn.execute(sa.select(db.jobs.c.submission_id, db.jobs.c.id, db.jobs.c.state, db.jobs.c.last_error)
                            .where(db.jobs.c.submission_id.in_(ids)).order_by(db.jobs.c.id)):
        latest_job[job.submission_id] = job
    r = db.results
    latest_result: dict[int, sa.Row] = {}
    for result in conn.execute(sa.select(r.c.id, r.c.submission_id, r.c.status, r.c.score, r.c.max_score,
                                         r.c.public_score, r.c.public_max, r.c.manual)
                               .where(r.c.submission_id.in_(ids)).order_by(r.c.id)):
        latest_result[result.submission_id] = result
    out = []
    for sid, sub in found.items():
        job, result = latest_job.get(sid), latest_result.get(sid)
        state = db.GRADED if result is not None else (job.state if job is not None else db.QUEUED)
        row = Row(sub.id, sub.student_id, sub.assignment, sub.sha256, sub.ext, sub.filename, sub.size,
                  sub.received_at, sub.days_late, sub.late_days, sub.penalty_days, sub.penalty, state,
                  job_state=job.state if job else None, last_error=job.last_error if job else None)
        if result is not None:
            row.result_id, row.status, row.manual = result.id, result.status, bool(result.manual)
            row.score, row.max_score = result.score, result.max_score
            row.public_score, row.public_max = result.public_score, result.public_max
        out.append(row)
    return out


def extensions(conn: Connection, student_id: str | None = None) -> list[Extension]:
    """The instructors' extensions stored in the database (course.toml's are in the config)."""
    e = db.extensions
    query = sa.select(e) if student_id is None else sa.select(e).where(e.c.student_id == student_id)
    return [Extension(x.student_id, x.assignment, utc(x.due), utc(x.hard_close) if x.hard_close else None, x.reason)
            for x in conn.execute(query)]


def released(conn: Connection, config: CourseConfig, assignment: str) -> bool:
    """Whether grades of `assignment` are released (course.toml or the instructor's button)."""
    if config.assignment(assignment).released:
        return True
    return conn.execute(sa.select(db.releases.c.assignment).where(db.releases.c.assignment == assignment)).first() \
        is not None


def feedback(conn: Connection, config: CourseConfig, assignment: str) -> policy.Feedback:
    """What students see of `assignment`'s reports now."""
    return policy.feedback(config, assignment, released(conn, config, assignment))


def basis(conn: Connection, config: CourseConfig, assignment: str) -> str:
    """The scores a student's view of `assignment` uses: public before release, else full."""
    return PUBLIC if feedback(conn, config, assignment).level == PUBLIC else FULL


def _by_assignment(config: CourseConfig, history: Iterable[Row], bases: dict[str, str]) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for row in history:
        if row.assignment in bases:
            grouped[row.assignment].append(row.to_policy(bases[row.assignment]))
    return {a: grouped.get(a, []) for a in config.assignment_ids}


@dataclass
class Standing:
    """A student's situation in the course: per assignment what counts, and the late days used."""

    counted: dict[str, policy.Counted]
    late_days: policy.LateDayUsage
    history: dict[str, list[Row]]

    def chosen(self, assignment: str) -> Row | None:
        """The row of the submission that counts for `assignment` (None without a graded one)."""
        counted = self.counted[assignment].submission
        return next((r for r in self.history.get(assignment, []) if counted and r.id == counted.id), None)


def standing(conn: Connection, config: CourseConfig, student_id: str, *, full: bool = False) -> Standing:
    """Which submission counts for each assignment, and the late-day balance (the student's view unless `full`)."""
    history = rows(conn, student_id=student_id)
    bases = {a: FULL if full else basis(conn, config, a) for a in config.assignment_ids}
    grouped = _by_assignment(config, history, bases)
    ext = extensions(conn, student_id)
    counted = {a: policy.counted(config, a, student_id, subs, ext) for a, subs in grouped.items()}
    usage = policy.late_days_used(config, student_id, grouped, ext)
    by_assignment: dict[str, list[Row]] = defaultdict(list)
    for row in history:
        by_assignment[row.assignment].append(row)
    return Standing(counted, usage, dict(by_assignment))


def class_standing(conn: Connection, config: CourseConfig, student_ids: Iterable[str]) -> dict[str, Standing]:
    """Every listed student's standing on full scores (the instructor's view), from one read of the tables."""
    history: dict[str, list[Row]] = defaultdict(list)
    for row in rows(conn):
        history[row.student_id].append(row)
    ext: dict[str, list[Extension]] = defaultdict(list)
    for extension in extensions(conn):
        ext[extension.student].append(extension)
    bases = {a: FULL for a in config.assignment_ids}
    out = {}
    for student_id in student_ids:
        mine = history.get(student_id, [])
        grouped = _by_assignment(config, mine, bases)
        counted = {a: policy.counted(config, a, student_id, subs, ext[student_id]) for a, subs in grouped.items()}
        by_assignment: dict[str, list[Row]] = defaultdict(list)
        for row in mine:
            by_assignment[row.assignment].append(row)
        out[student_id] = Standing(counted, policy.late_days_used(config, student_id, grouped, ext[student_id]),
                                   dict(by_assignment))
    return out


def preview(conn: Connection, config: CourseConfig, student_id: str, assignment: str, now: datetime,
            student_tz: str | None = None) -> policy.Preview:
    """What a submission by the student now would meet (the same computation `decide` enforces)."""
    args = _policy_args(conn, config, student_id, assignment)
    return policy.preview(config, assignment, student_id, now, *args, student_tz=student_tz)


def decide(conn: Connection, config: CourseConfig, student_id: str, assignment: str, now: datetime, *,
           confirmed_late_days: int, confirmed_penalty: float) -> policy.Decision:
    """The decision at the receipt: accepted with its late cost, or refused with the reason."""
    args = _policy_args(conn, config, student_id, assignment)
    return policy.decide(config, assignment, student_id, now, *args, confirmed_late_days=confirmed_late_days,
                         confirmed_penalty=confirmed_penalty)


def _policy_args(conn: Connection, config: CourseConfig, student_id: str, assignment: str) -> tuple:
    history = rows(conn, student_id=student_id)
    bases = {a: basis(conn, config, a) for a in config.assignment_ids}
    grouped = _by_assignment(config, history, bases)
    ext = extensions(conn, student_id)
    usage = policy.late_days_used(config, student_id, grouped, ext)
    return grouped.get(assignment, []), usage.elsewhere(assignment), ext

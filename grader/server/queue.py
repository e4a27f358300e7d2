"""The durable job queue: rows in the course database, claimed with leases.

A job is ``queued`` until a dispatcher claims it: it becomes ``grading`` with
a fresh lease token and ``lease_until`` (LEASE_SECONDS ahead, renewed while
the grading runs). It ends ``graded`` (exactly one result row, written in the
same transaction) or, after MAX_ATTEMPTS infrastructure faults, ``error``
(shown to the instructor; never charged to the student). A result is
recorded only while its lease is still held and unexpired: a result that
arrives after its lease expired, or after the job was claimed again, is
discarded. A server that stopped (even with ``kill -9``) leaves leases that
expire; `expire_leases` puts those jobs back in the queue (or in ``error``
once out of attempts), so nothing acknowledged is ever lost.

Order: interactive submissions first, then instructors' overrides, then
regrades; oldest first within each; never two jobs in flight for one student
and assignment.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from grader.server import db

LEASE_SECONDS = 30.0
MAX_ATTEMPTS = 3            # the first try and at most two retries
PRIORITY = {"submit": 0, "override": 1, "regrade": 2}
_CANDIDATES = 200


@dataclass(frozen=True)
class Ticket:
    """A claimed job: what to grade and the lease that must still hold when its result is recorded."""

    job_id: int
    submission_id: int
    lease: str
    attempt: int
    student_id: str
    assignment: str
    sha256: str
    ext: str
    seed: int
    overrides: dict


def add_job(conn: Connection, submission_id: int, student_id: str, assignment: str, kind: str, seed: int,
            now: float) -> int:
    """Queue a job for a submission (inside the caller's transaction); returns its id."""
    return conn.execute(db.jobs.insert().values(
        submission_id=submission_id, kind=kind, priority=PRIORITY[kind], state=db.QUEUED, attempts=0, seed=seed,
        queued_at=now, student_id=student_id, assignment=assignment)).inserted_primary_key[0]


def claim(engine: Engine, limit: int, *, now: float | None = None,
          lease_seconds: float = LEASE_SECONDS) -> list[Ticket]:
    """Lease up to `limit` queued jobs for `lease_seconds`, at most one per student and assignment in flight."""
    if limit <= 0:
        return []
    now = time.time() if now is None else now
    j, s = db.jobs, db.submissions
    tickets: list[Ticket] = []
    with engine.begin() as conn:
        busy = {(r.student_id, r.assignment) for r in conn.execute(
            sa.select(j.c.student_id, j.c.assignment).where(j.c.state == db.GRADING))}
        candidates = conn.execute(
            sa.select(j.c.id, j.c.submission_id, j.c.attempts, j.c.seed, j.c.student_id, j.c.assignment,
                      s.c.sha256, s.c.ext)
            .join(s, s.c.id == j.c.submission_id)
            .where(j.c.state == db.QUEUED).order_by(j.c.priority, j.c.id).limit(_CANDIDATES)).all()
        for job in candidates:
            if len(tickets) >= limit:
                break
            if (job.student_id, job.assignment) in busy:
                continue
            lease = secrets.token_hex(16)
            taken = conn.execute(j.update().where(j.c.id == job.id, j.c.state == db.QUEUED).values(
                state=db.GRADING, attempts=j.c.attempts + 1, lease_owner=lease,
                lease_until=now + lease_seconds, started_at=now)).rowcount
            if not taken:
                continue
            busy.add((job.student_id, job.assignment))
            tickets.append(Ticket(job.id, job.submission_id, lease, job.attempts + 1, job.student_id,
                                  job.assignment, job.sha256, job.ext, job.seed,
                                  overrides_for(conn, job.student_id, job.assignment)))
    return tickets


def overrides_for(conn: Connection, student_id: str, assignment: str) -> dict[str, dict]:
    """The instructor's overrides of one student and assignment, as the work unit takes them."""
    o = db.overrides
    return {r.item: {"points": r.points, "comment": r.comment} for r in conn.execute(
        sa.select(o.c.item, o.c.points, o.c.comment).where(o.c.student_id == student_id, o.c.assignment == assignment))}


def renew(engine: Engine, tickets: list[Ticket], *, now: float | None = None,
          lease_seconds: float = LEASE_SECONDS) -> list[int]:
    """Extend the leases still held; returns the job ids whose lease was lost (their results will be discarded)."""
    now = time.time() if now is None else now
    lost = []
    with engine.begin() as conn:
        for ticket in tickets:
            held = conn.execute(db.jobs.update().where(
                db.jobs.c.id == ticket.job_id, db.jobs.c.lease_owner == ticket.lease, db.jobs.c.state == db.GRADING,
                db.jobs.c.lease_until >= now).values(lease_until=now + lease_seconds)).rowcount
            if not held:
                lost.append(ticket.job_id)
    return lost


def _held(ticket: Ticket, now: float):
    j = db.jobs
    return sa.and_(j.c.id == ticket.job_id, j.c.lease_owner == ticket.lease, j.c.state == db.GRADING,
                   j.c.lease_until >= now)


def complete(engine: Engine, ticket: Ticket, outcome: dict, scores: dict, *, now: float | None = None) -> bool:
    """Record a job's result if its lease still holds; False when the result was discarded."""
    now = time.time() if now is None else now
    with engine.begin() as conn:
        done = conn.execute(db.jobs.update().where(_held(ticket, now)).values(
            state=db.GRADED, finished_at=now, lease_owner=None, lease_until=None, last_error=None)).rowcount
        if not done:
            conn.execute(db.events.insert().values(at=now, kind="late result discarded", detail=(
                f"job {ticket.job_id} (submission {ticket.submission_id}, {ticket.student_id}): its lease had "
                "expired or been taken over; the job's other attempt records the result")))
            return False
        conn.execute(db.results.insert().values(
            submission_id=ticket.submission_id, job_id=ticket.job_id, status=outcome["status"][:2000],
            manual=int(bool(outcome.get("manual"))), results_json=json.dumps(outcome["results"]),
            public_json=json.dumps(outcome["public_results"]), report_html=outcome["report_html"],
            public_html=outcome["public_html"], summary=outcome["summary"], public_summary=outcome["public_summary"],
            seconds=outcome.get("seconds"), created_at=now, **scores))
    return True


def fail(engine: Engine, ticket: Ticket, reason: str, *, now: float | None = None) -> str | None:
    """Record an infrastructure fault: back to the queue, or ``error`` after the last attempt.

    Returns the job's new state, or None when the lease was no longer held (someone else owns the job now).
    """
    now = time.time() if now is None else now
    state = db.QUEUED if ticket.attempt < MAX_ATTEMPTS else db.ERROR
    with engine.begin() as conn:
        changed = conn.execute(db.jobs.update().where(_held(ticket, now)).values(
            state=state, lease_owner=None, lease_until=None, last_error=reason[:2000],
            finished_at=now if state == db.ERROR else None)).rowcount
        if not changed:
            return None
        conn.execute(db.events.insert().values(at=now, kind="grader fault", detail=(
            f"job {ticket.job_id} (submission {ticket.submission_id}, {ticket.student_id}, {ticket.assignment}), "
            f"attempt {ticket.attempt} of {MAX_ATTEMPTS}: {reason}; "
            + ("queued again" if state == db.QUEUED else "given up: regrade it from the dashboard"))[:4000]))
    return state


def release(engine: Engine, tickets: list[Ticket]) -> int:
    """Give jobs back to the queue uncounted (this server is stopping: not the submission's fault)."""
    j = db.jobs
    released = 0
    with engine.begin() as conn:
        for ticket in tickets:
            released += conn.execute(j.update().where(j.c.id == ticket.job_id, j.c.lease_owner == ticket.lease,
                                                      j.c.state == db.GRADING).values(
                state=db.QUEUED, attempts=j.c.attempts - 1, lease_owner=None, lease_until=None)).rowcount
    return released


def expire_leases(engine: Engine, *, now: float | None = None) -> int:
    """Put jobs whose lease expired (their server stopped or stalled) back in the queue; returns how many."""
    now = time.time() if now is None else now
    j = db.jobs
    with engine.begin() as conn:
        expired = conn.execute(sa.select(j.c.id, j.c.attempts, j.c.submission_id, j.c.student_id).where(
            j.c.state == db.GRADING, j.c.lease_until < now)).all()
        for job in expired:
            state = db.QUEUED if job.attempts < MAX_ATTEMPTS else db.ERROR
            reason = "the grading's lease expired (the server stopped or stalled while grading it)"
            conn.execute(j.update().where(j.c.id == job.id, j.c.state == db.GRADING, j.c.lease_until < now).values(
                state=state, lease_owner=None, lease_until=None, last_error=reason,
                finished_at=now if state == db.ERROR else None))
            conn.execute(db.events.insert().values(at=now, kind="lease expired", detail=(
                f"job {job.id} (submission {job.submission_id}, {job.student_id}), attempt {job.attempts}: "
                + ("queued again" if state == db.QUEUED else "given up after the last attempt"))))
    return len(expired)


def position(conn: Connection, job_id: int) -> int | None:
    """How many jobs go before this queued job (0: it is next); None when it is not queued."""
    j = db.jobs
    job = conn.execute(sa.select(j.c.priority, j.c.state).where(j.c.id == job_id)).first()
    if job is None or job.state != db.QUEUED:
        return None
    ahead = conn.execute(sa.select(sa.func.count()).select_from(j).where(
        j.c.state == db.QUEUED, sa.or_(j.c.priority < job.priority,
                                       sa.and_(j.c.priority == job.priority, j.c.id < job_id)))).scalar_one()
    return int(ahead)


def average_seconds(conn: Connection, assignment: str, *, recent: int = 20) -> float | None:
    """The mean grading time of the last `recent` results of `assignment` (None before the first)."""
    r, s = db.results, db.submissions
    values = [row.seconds for row in conn.execute(
        sa.select(r.c.seconds).join(s, s.c.id == r.c.submission_id)
        .where(s.c.assignment == assignment, r.c.seconds.is_not(None)).order_by(r.c.id.desc()).limit(recent))]
    return sum(values) / len(values) if values else None


def counts(conn: Connection) -> dict[str, int]:
    """Jobs per state."""
    j = db.jobs
    return {row.state: int(row.n) for row in conn.execute(
        sa.select(j.c.state, sa.func.count().label("n")).group_by(j.c.state))}

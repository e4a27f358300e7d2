"""What every route shares: the server's state, who is asking, CSRF, pages, and a submission's view.

Who is asking: ``Authorization: Bearer TOKEN`` (the roster's token; no CSRF
needed, no cookie involved) or the signed session cookie a sign-in link set
(then every state-changing request must carry the session's CSRF token, as a
form field or an ``X-CSRF-Token`` header). A student reaches only their own
submissions: anything else is the same 404 as a submission that does not
exist, so ids reveal nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from grader.server import db, queue, rules
from grader.server.accounts import Account, account_for_session, authenticate
from grader.server.auth import SESSION_COOKIE, Session, Signer
from grader.server.changes import Changes
from grader.server.course import Course
from grader.server.middleware import RateLimiter
from grader.server.policy import format_time

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_WAIT = 5.0  # seconds per grading before the first result of an assignment gives a measured mean


@dataclass
class Server:
    """The state every request handler reads."""

    course: Course
    signer: Signer
    limiter: RateLimiter
    workers: int
    upload_limit: int
    wake: Callable[[], None] = lambda: None
    busy: Callable[[], int] = lambda: 0
    templates: jinja2.Environment = field(default_factory=lambda: environment())
    # The requests waiting for a submission to change (the long poll), and whether the server is stopping
    # (uvicorn's should_exit, set by whoever runs the app; held requests then end at once).
    changes: Changes = field(default_factory=Changes)
    stopping: Callable[[], bool] = lambda: False


def environment() -> jinja2.Environment:
    """The pages' Jinja2 environment (autoescaped: every name and message shown is someone's text)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = _points
    env.filters["clock"] = _clock
    return env


def _clock(iso_time: str, tz) -> str:
    """An ISO 8601 time as a table shows it on the course's clock: "Sun 6 Dec, 22:35 CET"."""
    from datetime import datetime
    local = datetime.fromisoformat(iso_time).astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


def _points(value: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def server(request: Request) -> Server:
    """The server state of the app handling `request`."""
    return request.app.state.server


@dataclass(frozen=True)
class Who:
    """The signed-in account of a request, and its browser session when a cookie signed it in."""

    account: Account
    session: Session | None

    @property
    def id(self) -> str:
        """The account's id."""
        return self.account.id


async def who(request: Request) -> Who | None:
    """The account behind `request` (bearer token first, then the session cookie), or None."""
    srv = server(request)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        account = await run_in_threadpool(authenticate, srv.course.engine, header[7:].strip())
        return Who(account, None) if account else None
    session = srv.signer.read_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    account = await run_in_threadpool(account_for_session, srv.course.engine, session.user_id, session.token_id)
    return Who(account, session) if account else None


async def require(request: Request, *, instructor: bool = False) -> Who:
    """The signed-in account; 401 when nobody is, 404 for a student on an instructor's route."""
    found = await who(request)
    if found is None:
        raise HTTPException(401, "Sign in with the personal link your instructor sent you.")
    if instructor and not found.account.is_instructor:
        raise HTTPException(404)
    return found


def check_csrf(request: Request, who_: Who, form_token: str | None = None) -> None:
    """Refuse (403) a cookie-authenticated state change without this session's CSRF token."""
    if who_.session is None:
        return  # a bearer token is not sent by browsers on their own: nothing to forge
    token = form_token or request.headers.get("x-csrf-token")
    if not server(request).signer.check_csrf(who_.session, token):
        raise HTTPException(403, "This form expired or did not come from this site; reload the page and try again.")


def page(request: Request, template: str, who_: Who | None, status: int = 200, **context: Any) -> HTMLResponse:
    """A page rendered from `template`, with what the layout needs."""
    srv = server(request)
    csrf = srv.signer.csrf_token(who_.session) if who_ and who_.session else ""
    html = srv.templates.get_template(template).render(
        course=srv.course.config, user=who_.account if who_ else None, csrf=csrf, **context)
    return HTMLResponse(html, status_code=status)


def time_text(seconds: float | None, course: Course) -> str:
    """An epoch time on the course's wall clock."""
    return format_time(rules.utc(seconds), course.config.tz) if seconds is not None else ""


def iso(seconds: float | None) -> str:
    """An epoch time as ISO 8601 UTC (for <time datetime> and the API)."""
    return rules.utc(seconds).isoformat(timespec="seconds") if seconds is not None else ""


def own_submission(conn, who_: Who, submission_id: int) -> rules.Row:
    """The submission if `who_` may see it (their own; an instructor: any), else 404."""
    found = rules.rows(conn, submission_id=submission_id)
    if not found or (found[0].student_id != who_.id and not who_.account.is_instructor):
        raise HTTPException(404)
    return found[0]


def submission_view(srv: Server, conn, row: rules.Row, *, full: bool = False) -> dict[str, Any]:
    """A submission as the pages and the API show it (the score on the student's basis unless `full`)."""
    course = srv.course
    level = "full" if full else rules.feedback(conn, course.config, row.assignment).level
    score, top = (row.score, row.max_score) if level == "full" else (row.public_score, row.public_max)
    view: dict[str, Any] = {
        "id": row.id, "assignment": row.assignment, "student": row.student_id, "sha256": row.sha256,
        "filename": row.filename, "size": row.size, "received_at": iso(row.received_at),
        "received_text": time_text(row.received_at, course), "status": row.state,
        "score": score, "max_score": top, "feedback": level, "result_status": row.status,
        "manual": row.manual, "days_late": row.days_late, "late_days": row.late_days, "penalty": row.penalty,
        "report_url": f"/submissions/{row.id}/report", "page_url": f"/submissions/{row.id}",
        "regrading": row.state == db.GRADED and row.job_state in (db.QUEUED, db.GRADING),
        "position": None, "wait_seconds": None, "summary": None, "message": _state_message(row),
    }
    if row.state == db.QUEUED or view["regrading"]:
        job = conn.execute(sa.select(db.jobs.c.id).where(db.jobs.c.submission_id == row.id)
                           .order_by(db.jobs.c.id.desc())).first()
        ahead = queue.position(conn, job.id) if job else None
        if ahead is not None:
            mean = queue.average_seconds(conn, row.assignment) or DEFAULT_WAIT
            view["position"] = ahead + 1
            # Jobs ahead share the slots; the busy ones finish on average halfway through.
            view["wait_seconds"] = round(mean * (ahead // max(1, srv.workers) + 1.5), 1)
    if row.result_id is not None:
        column = db.results.c.summary if level == "full" else db.results.c.public_summary
        view["summary"] = conn.execute(sa.select(column).where(db.results.c.id == row.result_id)).scalar_one()
    return view


def _state_message(row: rules.Row) -> str:
    if row.state == db.QUEUED:
        return "Received and waiting for a grading slot."
    if row.state == db.GRADING:
        return "Being graded now."
    if row.state == db.ERROR:
        return ("The grader failed on this submission; this is not a problem of your code. It does not count "
                "against your submissions or late days, and your instructor has been told.")
    if row.status and row.status.startswith("broken"):
        return "Graded, but the file could not be read: " + row.status.split(":", 1)[-1].strip()
    return "Graded."


def report_html(conn, row: rules.Row, level: str) -> str:
    """The stored report of a submission's latest result for a feedback level (full or public)."""
    column = db.results.c.report_html if level == "full" else db.results.c.public_html
    return conn.execute(sa.select(column).where(db.results.c.id == row.result_id)).scalar_one()


def json_error(status: int, reason: str, message: str, **more: Any) -> JSONResponse:
    """The API's error body: a code to branch on and a sentence to show."""
    return JSONResponse({"error": reason, "message": message, **more}, status_code=status)


def now() -> float:
    """The current time (seconds since the epoch); one place for tests to read the clock from."""
    return time.time()


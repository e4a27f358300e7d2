"""The student's pages: sign-in, the assignments, one assignment (preview, upload, history), a submission, its report.

Pages work without script (a plain form posts the file and the page shows
the receipt); /static/app.js adds drag and drop, an upload that answers in
place, live status without a reload, and local times.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from grader.server import rules
from grader.server.accounts import authenticate
from grader.server.api import UploadRefused, accept_upload, compute_preview
from grader.server.auth import SESSION_COOKIE, SESSION_SECONDS
from grader.server.middleware import REPORT_CSP
from grader.server.web import (Server, Who, check_csrf, iso, now, own_submission, page, report_html, require, server,
                               submission_view, time_text, who as who_of)

FORM_FIELDS_LIMIT = 20


async def signin(request: Request) -> Response:
    """A personal link: check its token, set the session cookie, go to the start page (the token leaves the URL)."""
    srv = server(request)
    account = await run_in_threadpool(authenticate, srv.course.engine, request.path_params["token"])
    if account is None:
        return page(request, "message.html.j2", None, status=404, title="Sign-in link not valid",
                    message="This sign-in link is not valid (mistyped, or replaced by a newer one). Ask your "
                            "instructor for your current link.")
    target = "/instructor" if account.is_instructor else "/"
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, srv.signer.session_cookie(account.id, account.token_id),
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict", secure=secure, path="/")
    return response


async def signout(request: Request) -> Response:
    who = await require(request)
    form = await request.form(max_fields=FORM_FIELDS_LIMIT, max_files=0)
    check_csrf(request, who, form.get("csrf"))
    response = RedirectResponse("/signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def signed_out(request: Request) -> Response:
    return page(request, "message.html.j2", None, title="Signed out",
                message="You are signed out. Use your personal link to sign in again.")


def _home_context(srv: Server, who: Who) -> dict:
    config = srv.course.config
    with srv.course.engine.connect() as conn:
        standing = rules.standing(conn, config, who.id)
        items = []
        for policy in config.assignments:
            preview = rules.preview(conn, config, who.id, policy.id, rules.utc(now()))
            counted = standing.counted[policy.id]
            items.append({"id": policy.id, "title": policy.title or policy.id, "preview": preview,
                          "due_iso": preview.due.isoformat(),
                          "due_text": time_text(preview.due.timestamp(), srv.course),
                          "due_in": relative(preview.due.timestamp() - preview.now.timestamp()),
                          "feedback": rules.feedback(conn, config, policy.id).level,
                          "counted": counted, "submissions": len(standing.history.get(policy.id, []))})
    return {"items": items, "late_days": standing.late_days}


async def home(request: Request) -> Response:
    found = await who_of(request)
    if found is None:
        return page(request, "message.html.j2", None, status=401, title="Sign in",
                    message="Sign in with the personal link your instructor sent you.")
    srv = server(request)
    return page(request, "home.html.j2", found, **await run_in_threadpool(_home_context, srv, found))


def _assignment_context(srv: Server, who: Who, assignment: str) -> dict:
    config = srv.course.config
    if assignment not in config.assignment_ids:
        raise HTTPException(404)
    preview = compute_preview(srv, who.id, assignment, None)
    with srv.course.engine.connect() as conn:
        standing = rules.standing(conn, config, who.id)
        counted = standing.counted[assignment]
        counted_id = counted.submission.id if counted.submission else None
        history = [dict(submission_view(srv, conn, row), counts=row.id == counted_id)
                   for row in reversed(standing.history.get(assignment, []))]
        feedback = rules.feedback(conn, config, assignment)
    policy = config.assignment(assignment)
    return {"assignment": policy, "title": policy.title or policy.id, "preview": preview,
            "due_iso": preview.due.isoformat(), "due_text": time_text(preview.due.timestamp(), srv.course),
            "due_in": relative(preview.due.timestamp() - preview.now.timestamp()),
            "close_text": time_text(preview.hard_close.timestamp(), srv.course) if preview.hard_close else "",
            "frees_text": time_text(preview.window_frees_at.timestamp(), srv.course) if preview.window_frees_at else "",
            "counted": counted, "history": history, "feedback": feedback, "upload_limit": srv.upload_limit}


def relative(seconds: float) -> str:
    """A time from now in words, to the minute: "in 2 days 3 h", "5 h 10 min ago"."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([f"{days} day{'' if days == 1 else 's'}"] if days else []) + ([f"{hours} h"] if hours else [])
    if not days:
        parts.append(f"{minutes} min")
    span = " ".join(parts)
    return f"in {span}" if seconds >= 0 else f"{span} ago"


async def assignment_page(request: Request) -> Response:
    srv, who = server(request), await require(request)
    context = await run_in_threadpool(_assignment_context, srv, who, request.path_params["assignment"])
    return page(request, "assignment.html.j2", who, refused=None, **context)


async def submit_form(request: Request) -> Response:
    """The upload form without script: store, then show the submission's page (or the refusal)."""
    srv, who = server(request), await require(request)
    assignment = request.path_params["assignment"]
    async with request.form(max_fields=FORM_FIELDS_LIMIT, max_files=1, max_part_size=srv.upload_limit) as form:
        check_csrf(request, who, form.get("csrf"))
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            refused = UploadRefused(400, "no_file", "Choose a file to hand in first.")
        else:
            try:
                days = int(form.get("confirm_late_days") or 0) if form.get("confirm") else 0
                penalty = float(form.get("confirm_penalty") or 0.0) if form.get("confirm") else 0.0
                stream = upload.file
                stream.seek(0)
                receipt = await accept_upload(srv, who, assignment, upload.filename,
                                              iter(lambda: stream.read(1 << 16), b""), confirmed_late_days=days,
                                              confirmed_penalty=penalty, via="web")
                return RedirectResponse(f"/submissions/{receipt.submission_id}", status_code=303)
            except UploadRefused as exc:
                refused = exc
            except ValueError:
                refused = UploadRefused(400, "bad_form", "The confirmation fields were not numbers.")
    context = await run_in_threadpool(_assignment_context, srv, who, assignment)
    return page(request, "assignment.html.j2", who, status=refused.status, refused=refused, **context)


def _submission_context(srv: Server, who: Who, submission_id: int) -> dict:
    with srv.course.engine.connect() as conn:
        row = own_submission(conn, who, submission_id)
        view = submission_view(srv, conn, row, full=who.account.is_instructor)
    policy = srv.course.config.assignment(row.assignment)
    return {"view": view, "title": policy.title or policy.id, "received_iso": iso(row.received_at),
            "received_text": time_text(row.received_at, srv.course)}


def _submission_id(request: Request) -> int:
    try:
        return int(request.path_params["submission"])
    except ValueError:
        raise HTTPException(404) from None


async def submission_page(request: Request) -> Response:
    srv, who = server(request), await require(request)
    context = await run_in_threadpool(_submission_context, srv, who, _submission_id(request))
    # The assignment page shows this page's facts as an upload's receipt (?receipt=1): summary folded there.
    return page(request, "submission.html.j2", who, summary_open="receipt" not in request.query_params, **context)


def _report(srv: Server, who: Who, submission_id: int) -> str | None:
    with srv.course.engine.connect() as conn:
        row = own_submission(conn, who, submission_id)
        if row.result_id is None:
            return None
        level = "full" if who.account.is_instructor else rules.feedback(conn, srv.course.config,
                                                                          row.assignment).level
        return report_html(conn, row, level)


async def report(request: Request) -> Response:
    """The self-contained report, under the report's own strict policy (no script at all)."""
    srv, who = server(request), await require(request)
    html = await run_in_threadpool(_report, srv, who, _submission_id(request))
    if html is None:
        return page(request, "message.html.j2", who, status=404, title="Not graded yet",
                    message="This submission has no report yet; its page shows the grading live.")
    return HTMLResponse(with_way_back(html, _submission_id(request)),
                        headers={"content-security-policy": REPORT_CSP})


def with_way_back(html: str, submission_id: int) -> str:
    """The stored report with a bar at its top leading back to the submission's page on this site.

    The report is a self-contained document (the same one `grader batch`
    writes), so the bar is added as it is served, styled inline (the report's
    policy allows inline style, and nothing else).
    """
    start = html.find("<body")
    at = html.find(">", start) + 1 if start >= 0 else 0
    bar = (f'<nav aria-label="Course" style="background:#23395d;padding:.5rem 1rem;font:600 16px/1.45 system-ui,'
           f'sans-serif"><a href="/submissions/{submission_id}" style="color:#fff">&larr; Submission '
           f'{submission_id} on the course site</a></nav>')
    return html[:at] + bar + html[at:]


ROUTES = [
    Route("/", home),
    Route("/signin/{token}", signin),
    Route("/signout", signout, methods=["POST"]),
    Route("/signed-out", signed_out),
    Route("/assignments/{assignment}", assignment_page),
    Route("/assignments/{assignment}/submit", submit_form, methods=["POST"]),
    Route("/submissions/{submission}", submission_page),
    Route("/submissions/{submission}/report", report),
]

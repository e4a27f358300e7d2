"""The JSON API (what `grader submit`, /submit.py and the pages' script use) and the upload path itself.

Every route takes ``Authorization: Bearer TOKEN`` or the session cookie.

- ``GET  /api/assignments``: the assignments offered, each with its preview.
- ``GET  /api/assignments/{id}/preview[?tz=Zone]``: what a submission now would meet.
- ``POST /api/submissions?assignment=ID&filename=NAME[&confirm_late_days=N&confirm_penalty=F]``:
  the body is the file; answers 201 with the receipt once the file and its row are on disk.
- ``GET  /api/submissions``: the caller's submissions; ``GET /api/submissions/{id}``: one of them, with an
  ``ETag``. With ``If-None-Match`` naming that ETag the answer is 304 while nothing changed; adding
  ``?wait=N`` (seconds, at most 25) holds the request until the submission changes or N seconds pass
  (the long poll the pages and ``grader submit`` use to follow a grading without asking twice a second).

Refusals are JSON ``{"error": code, "message": sentence}``: 400 (bad file),
404 (unknown), 409 (the course's rules: closed, over the limit, late days
not confirmed), 413 (too large), 429 (too many uploads in a short time).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from datetime import datetime
from typing import Any, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from grader.server import intake, rules
from grader.server.changes import MAX_WAIT_SECONDS
from grader.server.intake import Receipt, Refused
from grader.server.policy import Preview
from grader.server.store import StoreError, TooLarge, display_name, extension_of
from grader.server.web import Server, Who, check_csrf, iso, json_error, now, own_submission, require, server, \
    submission_view


def preview_json(p: Preview) -> dict[str, Any]:
    """A policy preview as JSON (times in ISO 8601)."""
    def t(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value is not None else None
    return {
        "assignment": p.assignment_id, "allowed": p.allowed, "reason": p.reason, "message": p.message,
        "opens": t(p.opens), "due": t(p.due), "hard_close": t(p.hard_close), "extended": p.extended,
        "due_course": t(p.due_course), "due_student": t(p.due_student), "student_timezone": p.student_timezone,
        "submissions_per_day": p.submissions_per_day, "submissions_left": p.submissions_left,
        "window_frees_at": t(p.window_frees_at), "late_days_budget": p.late_days_budget,
        "late_days_left": p.late_days_left, "days_late": p.days_late, "late_days": p.late_days,
        "penalty": p.penalty, "needs_confirmation": p.needs_confirmation, "counts": p.counts, "notes": list(p.notes),
    }


def _offered(srv: Server, assignment: str) -> bool:
    return assignment in srv.course.config.assignment_ids


def compute_preview(srv: Server, student_id: str, assignment: str, tz: str | None) -> Preview:
    """The policy's preview for a student now (in a worker thread: it reads the database)."""
    with srv.course.engine.connect() as conn:
        return rules.preview(conn, srv.course.config, student_id, assignment, rules.utc(now()), tz)


async def assignments(request: Request) -> Response:
    srv, who = server(request), await require(request)
    tz = request.query_params.get("tz")
    out = []
    for policy in srv.course.config.assignments:
        p = await run_in_threadpool(compute_preview, srv, who.id, policy.id, tz)
        out.append({"id": policy.id, "title": policy.title or policy.id, "preview": preview_json(p)})
    return JSONResponse({"assignments": out})


async def preview(request: Request) -> Response:
    srv, who = server(request), await require(request)
    assignment = request.path_params["assignment"]
    if not _offered(srv, assignment):
        return json_error(404, "unknown_assignment", f"{assignment!r} is not an assignment of this course "
                          f"(offered: {', '.join(srv.course.config.assignment_ids)})")
    p = await run_in_threadpool(compute_preview, srv, who.id, assignment, request.query_params.get("tz"))
    return JSONResponse(preview_json(p))


class UploadRefused(Exception):
    """An upload not taken: the HTTP status, the code and the sentence for the student."""

    def __init__(self, status: int, reason: str, message: str, **more: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.more = status, reason, message, more

    def response(self) -> JSONResponse:
        """The refusal as the API's JSON error."""
        return json_error(self.status, self.reason, self.message, **self.more)


async def accept_upload(srv: Server, who: Who, assignment: str, filename: str, chunks: Iterable[bytes], *,
                        confirmed_late_days: int, confirmed_penalty: float, via: str) -> Receipt:
    """Check, store and record one upload; UploadRefused says why not. The receipt means it is on disk."""
    if not _offered(srv, assignment):
        raise UploadRefused(404, "unknown_assignment", f"{assignment!r} is not an assignment of this course "
                            f"(offered: {', '.join(srv.course.config.assignment_ids)})")
    try:
        ext = extension_of(filename)
    except StoreError as exc:
        raise UploadRefused(400, "bad_file", str(exc)) from None
    wait = srv.limiter.allow(who.id)
    if wait:
        raise UploadRefused(429, "rate_limited", f"Too many uploads in a short time; try again in {wait:.0f} s.",
                            retry_after=round(wait, 1))
    try:
        stored = await run_in_threadpool(srv.course.store.put, chunks, ext, limit=srv.upload_limit)
    except TooLarge as exc:
        raise UploadRefused(413, "too_large", f"{exc}; a submission is one .py, .ipynb or .zip file.") from None
    if stored.size == 0:
        raise UploadRefused(400, "empty_file", f"{display_name(filename)!r} is empty; choose the file with your "
                            "code.")
    try:
        receipt = await run_in_threadpool(
            lambda: intake.receive(srv.course, who.id, assignment, display_name(filename), stored,
                                   confirmed_late_days=confirmed_late_days, confirmed_penalty=confirmed_penalty,
                                   via=via))
    except Refused as exc:
        raise UploadRefused(409, exc.reason, exc.message) from None
    srv.wake()
    return receipt


def _confirmations(params) -> tuple[int, float]:
    try:
        days = int(params.get("confirm_late_days") or 0)
        penalty = float(params.get("confirm_penalty") or 0.0)
    except ValueError:
        raise HTTPException(400, "confirm_late_days must be a whole number and confirm_penalty a fraction") from None
    return max(0, days), min(1.0, max(0.0, penalty))


async def create_submission(request: Request) -> Response:
    srv, who = server(request), await require(request)
    check_csrf(request, who)
    params = request.query_params
    days, penalty = _confirmations(params)
    chunks = [chunk async for chunk in request.stream()]  # the BodyLimit middleware stops this past the cap
    try:
        receipt = await accept_upload(srv, who, params.get("assignment", ""), params.get("filename", ""), chunks,
                                      confirmed_late_days=days, confirmed_penalty=penalty,
                                      via="web" if who.session else "api")
    except UploadRefused as refused:
        return refused.response()
    view = await run_in_threadpool(_view, srv, who, receipt.submission_id)
    return JSONResponse(receipt_json(receipt, view), status_code=201)


def receipt_json(receipt: Receipt, view: dict) -> dict[str, Any]:
    """The receipt as the API returns it: the submission's view plus when it was received and its hash."""
    return {**view, "received_at": iso(receipt.received_at), "sha256": receipt.sha256, "size": receipt.size}


def _view(srv: Server, who: Who, submission_id: int) -> dict:
    with srv.course.engine.connect() as conn:
        return submission_view(srv, conn, own_submission(conn, who, submission_id), full=who.account.is_instructor)


async def get_submission(request: Request) -> Response:
    srv, who = server(request), await require(request)
    try:
        submission_id = int(request.path_params["submission"])
    except ValueError:
        raise HTTPException(404) from None
    wait = _wait_seconds(request.query_params.get("wait"))
    known = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",") if tag.strip()}
    deadline = time.monotonic() + wait
    while True:
        # Watch before reading: a change between the read and the wait still wakes this request.
        with srv.changes.watch(submission_id) as changed:
            view = await run_in_threadpool(_view, srv, who, submission_id)
            tag = view_etag(view)
            if tag not in known:
                return JSONResponse(view, headers={"ETag": tag})
            left = deadline - time.monotonic()
            if left <= 0 or srv.changes.closed:
                return Response(status_code=304, headers={"ETag": tag})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=left)


def _wait_seconds(value: str | None) -> float:
    """The ``wait`` parameter in seconds (0 when absent), capped at MAX_WAIT_SECONDS; 400 when not a number."""
    if value is None:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not math.isfinite(seconds) or seconds < 0:
        raise HTTPException(400, "wait must be a number of seconds (0 or more)")
    return min(seconds, MAX_WAIT_SECONDS)


def view_etag(view: dict) -> str:
    """The ETag of a submission's view: it changes whenever anything the view shows does."""
    digest = hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _mine(srv: Server, who: Who) -> list[dict]:
    with srv.course.engine.connect() as conn:
        return [submission_view(srv, conn, row, full=who.account.is_instructor)
                for row in rules.rows(conn, student_id=who.id)]


async def list_submissions(request: Request) -> Response:
    srv, who = server(request), await require(request)
    return JSONResponse({"submissions": await run_in_threadpool(_mine, srv, who)})


async def client_source(request: Request) -> Response:
    """The one-file, standard-library-only client (no sign-in needed: it holds no secret)."""
    from grader.server import client
    from pathlib import Path
    return PlainTextResponse(Path(client.__file__).read_text(encoding="utf-8"),
                             media_type="text/x-python; charset=utf-8",
                             headers={"content-disposition": 'attachment; filename="submit.py"'})


ROUTES = [
    Route("/api/assignments", assignments),
    Route("/api/assignments/{assignment}/preview", preview),
    Route("/api/submissions", create_submission, methods=["POST"]),
    Route("/api/submissions", list_submissions),
    Route("/api/submissions/{submission}", get_submission),
    Route("/submit.py", client_source),
]

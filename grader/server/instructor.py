"""The instructor's pages: the live class dashboard, each student, regrades, extensions, overrides, release, exports.

Every route here answers 404 to anyone but an instructor (a student's token
learns nothing, not even that the route exists). Every action is a row in
the database (never a file a rerun forgets) and an event on the dashboard.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from grader.server import db, exports, intake, queue, rules
from grader.server.course_config import local_to_utc
from grader.server.web import Server, Who, check_csrf, iso, page, require, server, submission_view, time_text

FORM_FIELDS_LIMIT = 20
EVENTS_SHOWN = 30


def _dashboard(srv: Server) -> dict:
    config = srv.course.config
    with srv.course.engine.connect() as conn:
        users = list(conn.execute(sa.select(db.users).where(db.users.c.role == "student").order_by(db.users.c.id)))
        standings = rules.class_standing(conn, config, [u.id for u in users])
        counts = queue.counts(conn)
        events = [{"at": iso(e.at), "at_text": time_text(e.at, srv.course), "kind": e.kind, "detail": e.detail}
                  for e in conn.execute(sa.select(db.events).order_by(db.events.c.id.desc()).limit(EVENTS_SHOWN))]
        released = {a: rules.released(conn, config, a) for a in config.assignment_ids}
    assignments, students = [], []
    for policy in config.assignments:
        finals = [s.counted[policy.id].final_score for s in standings.values()
                  if s.counted[policy.id].final_score is not None]
        assignments.append({
            "id": policy.id, "title": policy.title or policy.id, "released": released[policy.id],
            "max": sum(item["points"] for item in _items(policy.id)),
            "submitted": sum(1 for s in standings.values() if s.history.get(policy.id)),
            "graded": len(finals), "mean": round(sum(finals) / len(finals), 2) if finals else None,
            "pending": sum(s.counted[policy.id].pending for s in standings.values()),
            "errors": sum(s.counted[policy.id].failed for s in standings.values()),
        })
    for user in users:
        standing = standings[user.id]
        cells = {}
        for policy in config.assignments:
            counted, chosen = standing.counted[policy.id], standing.chosen(policy.id)
            rows = standing.history.get(policy.id, [])
            cells[policy.id] = {
                "final": counted.final_score, "max": counted.max_score, "late_days": counted.late_days,
                "submissions": len(rows), "pending": counted.pending, "errors": counted.failed,
                "manual": bool(chosen and chosen.manual),
                "state": ("error" if counted.failed and counted.final_score is None else
                          "grading" if counted.pending else "graded" if chosen else "none"),
            }
        students.append({"id": user.id, "name": user.name, "cells": cells,
                         "late_days_left": standing.late_days.left})
    return {"queue": {state: counts.get(state, 0) for state in (db.QUEUED, db.GRADING, db.GRADED, db.ERROR)},
            "busy": srv.busy(), "workers": srv.workers, "assignments": assignments, "students": students,
            "events": events, "updated": iso(time.time())}


async def dashboard(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    return page(request, "instructor.html.j2", who, data=await run_in_threadpool(_dashboard, srv))


async def dashboard_json(request: Request) -> Response:
    srv = server(request)
    await require(request, instructor=True)
    return JSONResponse(await run_in_threadpool(_dashboard, srv))


def _student(srv: Server, student_id: str) -> dict:
    config = srv.course.config
    with srv.course.engine.connect() as conn:
        user = conn.execute(sa.select(db.users).where(db.users.c.id == student_id)).first()
        if user is None:
            raise HTTPException(404)
        standing = rules.class_standing(conn, config, [student_id])[student_id]
        per_assignment = []
        for policy in config.assignments:
            counted = standing.counted[policy.id]
            counted_id = counted.submission.id if counted.submission else None
            history = [dict(submission_view(srv, conn, row, full=True), counts=row.id == counted_id,
                            error=row.last_error if row.state == db.ERROR else None)
                       for row in reversed(standing.history.get(policy.id, []))]
            overrides = [dict(r._mapping) for r in conn.execute(sa.select(db.overrides).where(
                db.overrides.c.student_id == student_id, db.overrides.c.assignment == policy.id))]
            extension = conn.execute(sa.select(db.extensions).where(
                db.extensions.c.student_id == student_id, db.extensions.c.assignment == policy.id)).first()
            automatic = _automatic_scores(conn, standing.chosen(policy.id))
            items = [dict(item, automatic=automatic.get(item["id"])) for item in _items(policy.id)]
            per_assignment.append({"id": policy.id, "title": policy.title or policy.id, "counted": counted,
                                   "history": history, "overrides": overrides, "items": items,
                                   "extension": time_text(extension.due, srv.course) if extension else None,
                                   "due_text": time_text(policy.due.timestamp(), srv.course)})
    return {"student": user, "assignments": per_assignment, "late_days": standing.late_days}


def _automatic_scores(conn, row: rules.Row | None) -> dict[str, float]:
    """What the checks gave each rubric item of the submission that counts (before any override)."""
    if row is None or row.result_id is None:
        return {}
    text = conn.execute(sa.select(db.results.c.results_json).where(db.results.c.id == row.result_id)).scalar_one()
    try:
        records = json.loads(text)["extra_data"]["rubric_items"]
        return {str(r["id"]): float(r["automatic_score"]) for r in records}
    except (ValueError, KeyError, TypeError):
        return {}  # a result this grader did not write: the form still works, without the hint


def _items(assignment: str) -> list[dict]:
    from grader.config.assignment import load_assignment
    from grader.config.rubric import rubric_for
    rubric = rubric_for(load_assignment(assignment).rubric)
    return [{"id": item.id, "title": item.title, "points": item.points} for item in rubric.items]


async def student_page(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    context = await run_in_threadpool(_student, srv, request.path_params["student"])
    return page(request, "instructor_student.html.j2", who, **context)


async def _form(request: Request, who: Who):
    form = await request.form(max_fields=FORM_FIELDS_LIMIT, max_files=0)
    check_csrf(request, who, form.get("csrf"))
    return form


def _back(form, default: str = "/instructor") -> RedirectResponse:
    target = str(form.get("back") or default)
    if not target.startswith("/") or target.startswith("//"):
        target = default  # only paths of this site: no open redirect
    return RedirectResponse(target, status_code=303)


def _regrade(srv: Server, who: Who, form) -> int:
    with srv.course.engine.connect() as conn:
        s = db.submissions
        query = sa.select(s.c.id)
        if form.get("submission"):
            query = query.where(s.c.id == int(form["submission"]))
        else:
            if form.get("student"):
                query = query.where(s.c.student_id == str(form["student"]))
            if form.get("assignment"):
                query = query.where(s.c.assignment == str(form["assignment"]))
        ids = [r.id for r in conn.execute(query.order_by(s.c.id))]
    return intake.regrade(srv.course, ids, actor=who.id)


async def regrade(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    form = await _form(request, who)
    try:
        await run_in_threadpool(_regrade, srv, who, form)
    except ValueError:
        raise HTTPException(400, "submission must be a number") from None
    srv.wake()
    srv.changes.notify_all()
    return _back(form)


def _known(srv: Server, student_id: str, assignment: str) -> None:
    if assignment not in srv.course.config.assignment_ids:
        raise HTTPException(400, f"{assignment!r} is not an assignment of this course")
    with srv.course.engine.connect() as conn:
        if conn.execute(sa.select(db.users.c.id).where(db.users.c.id == student_id)).first() is None:
            raise HTTPException(400, f"no student {student_id!r}")


def _local_time(srv: Server, text: str, what: str) -> float:
    """A datetime-local field read on the course's wall clock."""
    try:
        local = datetime.fromisoformat(text)
        if local.tzinfo is None:
            return local_to_utc(local, srv.course.config.tz).timestamp()
        return local.timestamp()
    except ValueError as exc:
        raise HTTPException(400, f"{what}: {exc}") from None


def _extend(srv: Server, who: Who, form) -> None:
    student, assignment = str(form.get("student", "")), str(form.get("assignment", ""))
    _known(srv, student, assignment)
    now = time.time()
    with srv.course.engine.begin() as conn:
        e = db.extensions
        conn.execute(e.delete().where(e.c.student_id == student, e.c.assignment == assignment))
        if form.get("due"):
            due = _local_time(srv, str(form["due"]), "due")
            if due <= srv.course.config.assignment(assignment).due.timestamp():
                raise HTTPException(400, "an extension's due time must be after the assignment's due time")
            conn.execute(e.insert().values(student_id=student, assignment=assignment, due=due, hard_close=None,
                                           reason=str(form.get("reason", ""))[:500], created_at=now,
                                           created_by=who.id))
        conn.execute(db.events.insert().values(at=now, kind="extension", actor=who.id, detail=(
            f"{student}, {assignment}: " + (f"due {form['due']}" if form.get("due") else "extension removed"))))


async def extend(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    form = await _form(request, who)
    await run_in_threadpool(_extend, srv, who, form)
    srv.changes.notify_all()
    return _back(form)


def _override(srv: Server, who: Who, form) -> None:
    student, assignment = str(form.get("student", "")), str(form.get("assignment", ""))
    _known(srv, student, assignment)
    items = {i["id"]: i for i in _items(assignment)}
    item = str(form.get("item", ""))
    if item not in items:
        raise HTTPException(400, f"{item!r} is not an item of {assignment} (items: {', '.join(items)})")
    text = str(form.get("points", "")).strip()
    now = time.time()
    o = db.overrides
    with srv.course.engine.begin() as conn:
        conn.execute(o.delete().where(o.c.student_id == student, o.c.assignment == assignment, o.c.item == item))
        if text:
            try:
                points = float(text)
            except ValueError:
                raise HTTPException(400, f"points must be a number, found {text!r}") from None
            if not (math.isfinite(points) and 0 <= points <= items[item]["points"]):
                raise HTTPException(400, f"points must lie in [0, {items[item]['points']:g}] for {item}")
            conn.execute(o.insert().values(student_id=student, assignment=assignment, item=item, points=points,
                                           comment=str(form.get("comment", ""))[:2000], created_at=now,
                                           created_by=who.id))
        conn.execute(db.events.insert().values(at=now, kind="override", actor=who.id, detail=(
            f"{student}, {assignment}, {item}: " + (f"{text} points" if text else "override removed"))))
        ids = [r.id for r in conn.execute(sa.select(db.submissions.c.id).where(
            db.submissions.c.student_id == student, db.submissions.c.assignment == assignment))]
    # The override is applied by grading again with it (same seed: the automatic scores stay the same).
    intake.regrade(srv.course, ids, kind="override", actor=who.id)


async def override(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    form = await _form(request, who)
    await run_in_threadpool(_override, srv, who, form)
    srv.wake()
    srv.changes.notify_all()
    return _back(form)


def _release(srv: Server, who: Who, form) -> None:
    assignment = str(form.get("assignment", ""))
    if assignment not in srv.course.config.assignment_ids:
        raise HTTPException(400, f"{assignment!r} is not an assignment of this course")
    now = time.time()
    with srv.course.engine.begin() as conn:
        conn.execute(db.releases.delete().where(db.releases.c.assignment == assignment))
        if form.get("release") != "0":
            conn.execute(db.releases.insert().values(assignment=assignment, released_at=now, released_by=who.id))
        conn.execute(db.events.insert().values(at=now, kind="release", actor=who.id, detail=(
            f"{assignment}: " + ("grades released" if form.get("release") != "0" else "release withdrawn"))))


async def release(request: Request) -> Response:
    srv, who = server(request), await require(request, instructor=True)
    form = await _form(request, who)
    await run_in_threadpool(_release, srv, who, form)
    srv.changes.notify_all()
    return _back(form)


def _assignment_param(srv: Server, request: Request) -> str:
    assignment = request.query_params.get("assignment") or srv.course.config.assignment_ids[0]
    if assignment not in srv.course.config.assignment_ids:
        raise HTTPException(404)
    return assignment


async def _download(request: Request, make, media_type: str, name: str, ext: str) -> Response:
    """An export of one assignment (`?assignment=ID`) as the download NAME-ID.EXT."""
    srv = server(request)
    await require(request, instructor=True)
    assignment = _assignment_param(srv, request)
    data = await run_in_threadpool(make, srv.course, assignment)
    return Response(data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{name}-{assignment}.{ext}"'})


async def gradebook(request: Request) -> Response:
    return await _download(request, exports.gradebook_csv, "text/csv; charset=utf-8", "gradebook", "csv")


async def counted_zip(request: Request) -> Response:
    return await _download(request, exports.counted_zip, "application/zip", "counted", "zip")


ROUTES = [
    Route("/instructor", dashboard),
    Route("/instructor/api/dashboard", dashboard_json),
    Route("/instructor/students/{student}", student_page),
    Route("/instructor/regrade", regrade, methods=["POST"]),
    Route("/instructor/extensions", extend, methods=["POST"]),
    Route("/instructor/overrides", override, methods=["POST"]),
    Route("/instructor/release", release, methods=["POST"]),
    Route("/instructor/gradebook.csv", gradebook),
    Route("/instructor/counted.zip", counted_zip),
]

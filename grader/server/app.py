"""The course server's ASGI app: routes, middleware, and the grading that runs beside it.

`create_app` wires the pieces: the student's pages (pages.py), the JSON API
(api.py), the instructor's pages (instructor.py), static files, and the
middleware (body caps, security headers, access log). Its lifespan starts the
grader (local processes or a Dask cluster) and the dispatcher, and stops
them; jobs still running then are picked up again by the next start, since
their leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from grader.server import api, instructor, pages, queue
from grader.server.auth import Signer
from grader.server.changes import close_when
from grader.server.course import Course
from grader.server.dispatcher import Dispatcher
from grader.server.grading import Grader, time_budget, usable_cpus
from grader.server.middleware import AccessLog, BodyLimit, RateLimiter, SecurityHeaders, redact
from grader.server.web import Server, page

log = logging.getLogger("grader.server")
STATIC = Path(__file__).with_name("static")
UPLOAD_LIMIT = 10 * 2**20       # one submission file
FORM_LIMIT = 256 * 2**10        # any other request body
UPLOAD_PATHS = ("/api/submissions",)
RATE_BURST, RATE_PER_SECONDS = 10, 6.0   # uploads per student: 10 at once, then one every 6 s


def _preloads(course: Course) -> tuple[str, ...]:
    """The sandbox preload the server's zygote uses: the largest of the offered assignments' (they nest)."""
    from grader.config.assignment import AssignmentError, load_assignment
    best: tuple[str, ...] = ()
    for assignment_id in course.config.assignment_ids:
        try:
            preload = load_assignment(assignment_id).preload
        except AssignmentError:
            continue
        if len(preload) > len(best):
            best = preload
    return best


def create_app(course: Course, *, workers: int | None = None, scheduler: str | None = None,
               grader: Grader | None = None, budget: Callable[[str], float] = time_budget,
               upload_limit: int = UPLOAD_LIMIT, rate: tuple[int, float] = (RATE_BURST, RATE_PER_SECONDS),
               grade: bool = True, lease_seconds: float = queue.LEASE_SECONDS) -> Starlette:
    """The app for an opened course; `grade=False` serves pages without grading (nothing is lost: jobs wait)."""
    workers = workers or usable_cpus()
    grader = grader or Grader(workers, scheduler=scheduler, preload=_preloads(course))
    srv = Server(course=course, signer=Signer(course.key), limiter=RateLimiter(*rate), workers=grader.workers,
                 upload_limit=upload_limit)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        dispatcher, task = None, None
        # Held requests (the long poll) end as soon as the server is told to stop, not at the end of their wait.
        watcher = asyncio.create_task(close_when(srv.changes, lambda: srv.stopping()))
        if grade:
            await asyncio.to_thread(grader.start)
            dispatcher = Dispatcher(course.engine, grader, course.store, budget=budget,
                                    lease_seconds=lease_seconds, changed=srv.changes.notify)
            srv.wake, srv.busy = dispatcher.wake, (lambda: dispatcher.busy)
            task = asyncio.create_task(dispatcher.run())
            # Start the grading processes in the background: the first student does not wait for imports.
            warm = asyncio.create_task(asyncio.to_thread(grader.warm))
        try:
            yield
        finally:
            watcher.cancel()
            srv.changes.close()
            if dispatcher is not None:
                await dispatcher.stop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                with contextlib.suppress(Exception):
                    await warm
                await asyncio.to_thread(grader.close)

    routes = [*pages.ROUTES, *api.ROUTES, *instructor.ROUTES, Route("/healthz", _health),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.server = srv
    app.add_middleware(BodyLimit, limit_for=lambda path: upload_limit + FORM_LIMIT
                       if path in UPLOAD_PATHS or path.endswith("/submit") else FORM_LIMIT)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app


def serving(app: Starlette, config: uvicorn.Config) -> uvicorn.Server:
    """The uvicorn server that runs `app` (made by `create_app`; `config` names it): when it is told to stop, the
    requests the app holds (the long poll) end at once instead of at the end of their wait."""
    server = uvicorn.Server(config)
    app.state.server.stopping = lambda: server.should_exit
    return server


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: "Not found.", 401: "Sign in with your personal link.", 405: "Method not allowed."}
    message = exc.detail if exc.detail and exc.detail not in ("Not Found", "Unauthorized") else \
        messages.get(exc.status_code, "The request could not be served.")
    if request.url.path.startswith(("/api/", "/instructor/api/")) or \
            "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": "http_" + str(exc.status_code), "message": message},
                            status_code=exc.status_code)
    return page(request, "message.html.j2", None, status=exc.status_code, title=messages.get(exc.status_code,
                                                                                               "Error"),
                message=message)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error serving %s %s", request.method, redact(request.url.path))
    return PlainTextResponse("The server failed on this request; it was logged.", status_code=500)

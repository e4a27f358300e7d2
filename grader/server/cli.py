"""The course server's commands: `grader course init|roster|revoke|status`, `grader serve`, `grader submit`.

grader/cli.py adds these subcommands with `add_parsers` and hands their
parsed arguments to `run`; nothing here is imported until one is used,
except this module (which imports nothing heavy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

COMMANDS = ("course", "serve", "submit")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


class CommandError(Exception):
    """A usage error of a server command (exit 2 with the message)."""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add `course`, `serve` and `submit` to the `grader` command's subparsers."""
    course = sub.add_parser("course", help="create a course, import its roster, list its submissions")
    course_sub = course.add_subparsers(dest="course_command", required=True)
    init = course_sub.add_parser("init", help="write DIR/course.toml offering the bundled assignments")
    init.add_argument("dir", type=Path, help="the course folder (created if missing)")
    _database(init)
    roster = course_sub.add_parser("roster", help="import students (id,name,email); writes DIR/links.csv")
    roster.add_argument("dir", type=Path, help="the course folder")
    roster.add_argument("roster", type=Path, help="CSV with columns id,name,email (optionally role)")
    roster.add_argument("--instructors", action="store_true", help="every row is an instructor account")
    roster.add_argument("--url", help="the server's public address for the links (default: $GRADER_SERVER or "
                        f"http://{DEFAULT_HOST}:{DEFAULT_PORT})")
    _database(roster)
    revoke = course_sub.add_parser("revoke", help="revoke a person's token (their sessions end too)")
    revoke.add_argument("dir", type=Path, help="the course folder")
    revoke.add_argument("id", help="the student's or instructor's id")
    revoke.add_argument("--reissue", action="store_true", help="give them a new token (written to links.csv)")
    revoke.add_argument("--url", help="the server's public address for the new link")
    _database(revoke)
    status = course_sub.add_parser("status", help="every submission and its state")
    status.add_argument("dir", type=Path, help="the course folder")
    status.add_argument("--json", action="store_true", help="print JSON (the format is in INTERFACES.md)")
    _database(status)

    serve = sub.add_parser("serve", help="run the course server")
    serve.add_argument("dir", type=Path, nargs="?", help="the course folder")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--workers", type=int, metavar="N", help="grading processes (default: one per CPU)")
    serve.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster instead of locally")
    serve.add_argument("--demo", action="store_true", help="a throwaway course with the demo class")
    _database(serve)

    from grader.server import client
    submit = sub.add_parser("submit", help="hand a file in to the course server ($GRADER_SERVER, $GRADER_TOKEN)")
    client.add_arguments(submit)


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="URL", help="database URL (default: $GRADER_DATABASE_URL or "
                        "SQLite in DIR)")


def run(args: argparse.Namespace) -> int:
    """Run a server command; returns the exit status."""
    if args.command == "submit":
        from grader.server import client
        return client.run(args)
    from grader.server.accounts import RosterError
    from grader.server.course import CourseError
    from grader.server.db import DatabaseError
    try:
        if args.command == "serve":
            return _serve(args)
        return {"init": _init, "roster": _roster, "revoke": _revoke, "status": _status}[args.course_command](args)
    except (CommandError, CourseError, DatabaseError, RosterError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return 2


def _init(args: argparse.Namespace) -> int:
    from grader.server.course import init_course
    path = init_course(args.dir, url=args.database)
    print(f"wrote {path}; next: grader course roster {args.dir} roster.csv, then grader serve {args.dir}")
    return 0


def _base_url(args: argparse.Namespace) -> str:
    return args.url or os.environ.get("GRADER_SERVER") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def _roster(args: argparse.Namespace) -> int:
    from grader.server.accounts import import_roster, read_roster
    from grader.server.course import open_course
    people = read_roster(args.roster, role="instructor" if args.instructors else None)
    course = open_course(args.dir, url=args.database)
    try:
        new, updated = import_roster(course.engine, people, _base_url(args), course.links_path)
    finally:
        course.close()
    print(f"{new} new account(s), {updated} updated; sign-in links of the new ones in {course.links_path} "
          "(mode 0600: the only copy of their tokens; send each person their own link)")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from grader.server.accounts import revoke
    from grader.server.course import open_course
    course = open_course(args.dir, url=args.database)
    try:
        count = revoke(course.engine, args.id, reissue=args.reissue, base_url=_base_url(args),
                       links_path=course.links_path)
    finally:
        course.close()
    print(f"revoked {count} token(s) of {args.id}" + (f"; the new link is in {course.links_path}" if args.reissue
                                                      else ""))
    return 0


def course_status(course) -> list[dict]:
    """Every submission: id, student, assignment, sha256, state, score (the full score; None until graded)."""
    from grader.server import rules
    with course.engine.connect() as conn:
        return [{"id": r.id, "student": r.student_id, "assignment": r.assignment, "sha256": r.sha256,
                 "state": r.state, "score": r.score} for r in rules.rows(conn)]


def _status(args: argparse.Namespace) -> int:
    from grader.server.course import open_course
    course = open_course(args.dir, url=args.database)
    try:
        rows = course_status(course)
    finally:
        course.close()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        score = "-" if row["score"] is None else f"{row['score']:g}"
        print(f"{row['id']:>6}  {row['student']:<20} {row['assignment']:<20} {row['state']:<8} {score:>8}  "
              f"{row['sha256'][:12]}")
    print(f"{len(rows)} submission(s)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from grader.server.app import create_app, serving
    from grader.server.course import open_course
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers {args.workers}: at least 1")
    if args.demo:
        from grader.server.demo import make_demo
        folder, links = make_demo(args.host, args.port)
        print(f"Demo course in {folder} (deleted when the server stops).")
        print(f"Student:    {links['student']}")
        print(f"Instructor: {links['instructor']}", flush=True)
    elif args.dir is None:
        raise CommandError("grader serve DIR (a course folder from `grader course init DIR`), or grader serve --demo")
    else:
        folder = args.dir
    course = open_course(folder, url=None if args.demo else args.database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(course, workers=args.workers, scheduler=args.scheduler)
    # uvicorn stops on SIGTERM, then raises it again: exit through Python so the `finally` below runs.
    import signal
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # access_log=False: uvicorn's own access log would print sign-in links' tokens; ours redacts them.
    server = serving(app, uvicorn.Config(app, host=args.host, port=args.port, access_log=False, log_level="info"))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        course.close()
        if args.demo:
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
    if not server.started:
        raise CommandError(f"the server could not start on {args.host}:{args.port} (see uvicorn's message above)")
    return 0

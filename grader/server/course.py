"""A course folder: where its configuration, database, stored files, key and links live.

::

    DIR/course.toml   the calendar and rules (grader/server/course_config.py)
    DIR/course.db     the SQLite database (unless --database names another)
    DIR/store/        submitted files by SHA-256 (grader/server/store.py)
    DIR/links.csv     sign-in links, the only plain copy of each token (mode 0600)
    DIR/.secret_key   the key that signs session cookies and derives seeds (mode 0600)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import Engine

from grader.server import db
from grader.server.accounts import LINKS_NAME
from grader.server.auth import load_secret
from grader.server.course_config import FILENAME, CourseConfig, CourseConfigError, load_course
from grader.server.store import FileStore

DATABASE_ENV = "GRADER_DATABASE_URL"


class CourseError(Exception):
    """A course folder that cannot be used; the message says what to do."""


@dataclass
class Course:
    """An opened course: its folder, validated configuration, database engine, file store and key."""

    folder: Path
    config: CourseConfig
    engine: Engine
    store: FileStore
    key: bytes

    @property
    def links_path(self) -> Path:
        """DIR/links.csv."""
        return self.folder / LINKS_NAME

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def known_assignment(assignment_id: str) -> bool:
    """Whether the grader can load `assignment_id` (for course.toml's validation)."""
    from grader.config.assignment import AssignmentError, load_assignment
    try:
        load_assignment(assignment_id)
        return True
    except AssignmentError:
        return False


def database_url(folder: str | os.PathLike, url: str | None) -> str:
    """The database URL: --database, else GRADER_DATABASE_URL, else DIR/course.db."""
    return url or os.environ.get(DATABASE_ENV) or db.default_url(folder)


def init_course(folder: str | os.PathLike, *, now: datetime | None = None, url: str | None = None) -> Path:
    """Write DIR/course.toml offering the bundled assignments, create the database and key; returns the toml path."""
    from grader.config.assignment import available_assignments, load_assignment
    from grader.server.course_default import write_default_course
    folder = Path(folder)
    assignments = [(a, load_assignment(a).title) for a in available_assignments()]
    try:
        path = write_default_course(folder, assignments, now or datetime.now(timezone.utc))
    except CourseConfigError as exc:
        raise CourseError(str(exc)) from None
    open_course(folder, url=url).close()
    return path


def open_course(folder: str | os.PathLike, *, url: str | None = None) -> Course:
    """Open a course folder: validate course.toml, bring the database up to date, load the key."""
    folder = Path(folder)
    if not (folder / FILENAME).is_file():
        raise CourseError(f"{folder}: no {FILENAME}; create a course with `grader course init {folder}`")
    try:
        config = load_course(folder / FILENAME, known_assignment)
    except CourseConfigError as exc:
        raise CourseError(str(exc)) from None
    engine = db.open_database(database_url(folder, url))
    return Course(folder, config, engine, FileStore(folder / "store"), load_secret(folder))

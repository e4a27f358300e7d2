"""The course database: its tables, how to open it, and the migrations that upgrade it on start.

SQLAlchemy Core on SQLite by default (``DIR/course.db``, WAL mode, every
commit synced to disk before it returns, so a receipt is never sent for a row
a crash could lose), or any URL SQLAlchemy accepts (PostgreSQL for a
department-wide server). Times are UTC seconds since the epoch (floats); the
pages convert them to the course's and the student's time zone.

Versioning: the ``schema_version`` table holds one row, the version of the
schema the database has. `open_database` applies every migration newer than
that, in order, each in its own transaction, so a course created by an older
grader keeps working after an upgrade mid-term; a database newer than this
grader is refused with a message instead of being damaged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.engine import Connection, Engine

DB_NAME = "course.db"

metadata = sa.MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

users = Table(
    "users", metadata,
    Column("id", String(200), primary_key=True),          # the roster's id: the student's id everywhere
    Column("name", Text, nullable=False, default=""),
    Column("email", Text, nullable=False, default=""),
    Column("role", String(20), nullable=False),            # "student" or "instructor"
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", String(200), ForeignKey("users.id"), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),   # SHA-256 of the token; the token is never stored
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True),
    Column("student_id", String(200), ForeignKey("users.id"), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("ext", String(10), nullable=False),           # ".py", ".ipynb" or ".zip": the stored file's kind
    Column("filename", Text, nullable=False),            # the name the student gave, for display only
    Column("size", Integer, nullable=False),
    Column("received_at", Float, nullable=False),
    # What lateness costs this submission if it counts, as decided (and confirmed) at its receipt.
    Column("days_late", Integer, nullable=False, default=0),
    Column("late_days", Integer, nullable=False, default=0),
    Column("penalty_days", Integer, nullable=False, default=0),
    Column("penalty", Float, nullable=False, default=0.0),
    Column("via", String(20), nullable=False, default="web"),
)
Index("submissions_by_student", submissions.c.student_id, submissions.c.assignment)

# Job states. A submission's grading is one "submit" job; regrades and
# overrides add jobs. Only infrastructure faults end in "error".
QUEUED, GRADING, GRADED, ERROR = "queued", "grading", "graded", "error"
jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("kind", String(20), nullable=False),          # "submit", "override" or "regrade"
    Column("priority", Integer, nullable=False),         # lower runs first: students before regrades
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("seed", Integer, nullable=False),
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("lease_owner", String(100)),
    Column("lease_until", Float),
    Column("last_error", Text),
    # For the fairness rule (one job in flight per student and assignment) without a join.
    Column("student_id", String(200), nullable=False),
    Column("assignment", String(200), nullable=False),
)
Index("jobs_by_state", jobs.c.state, jobs.c.priority, jobs.c.id)
Index("jobs_by_submission", jobs.c.submission_id)

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, unique=True),  # one result per job, ever
    Column("status", Text, nullable=False),              # "graded" or "broken: why" (the work unit's status)
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("public_score", Float, nullable=False),
    Column("public_max", Float, nullable=False),
    Column("manual", Integer, nullable=False, default=0),  # 1 when an instructor's override shaped the score
    Column("results_json", Text, nullable=False),
    Column("public_json", Text, nullable=False),
    Column("report_html", Text, nullable=False),
    Column("public_html", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("public_summary", Text, nullable=False),
    Column("seconds", Float),
    Column("created_at", Float, nullable=False),
)
Index("results_by_submission", results.c.submission_id)

overrides = Table(
    "overrides", metadata,
    Column("id", Integer, primary_key=True),
    Column("student_id", String(200), ForeignKey("users.id"), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("item", String(200), nullable=False),
    Column("points", Float, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    sa.UniqueConstraint("student_id", "assignment", "item"),
)

extensions = Table(
    "extensions", metadata,
    Column("id", Integer, primary_key=True),
    Column("student_id", String(200), ForeignKey("users.id"), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("due", Float, nullable=False),                # the student's new due time
    Column("hard_close", Float),                         # None: the hard close moves as far as the due time
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    sa.UniqueConstraint("student_id", "assignment"),
)

releases = Table(
    "releases", metadata,
    Column("assignment", String(200), primary_key=True),
    Column("released_at", Float, nullable=False),
    Column("released_by", String(200), nullable=False),
)

# What the instructor must see: infrastructure faults, regrades, overrides, revocations.
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("kind", String(50), nullable=False),
    Column("actor", String(200), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
)


class DatabaseError(Exception):
    """The database cannot be used (newer than this grader, unreachable URL); the message says what to do."""


def _v1(conn: Connection) -> None:
    """The first schema: every table above as it was in version 1."""
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t.name != "schema_version"])


@dataclass(frozen=True)
class Migration:
    """One schema upgrade: the version it brings the database to, what it does, and how."""

    version: int
    description: str
    apply: Callable[[Connection], None]


# Append only: a released migration is never edited (databases in the field already ran it).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, tokens, submissions, jobs, results, overrides, extensions, releases, events", _v1),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def default_url(course_dir: str | os.PathLike) -> str:
    """The SQLite URL of a course folder's own database."""
    return f"sqlite:///{Path(course_dir).resolve() / DB_NAME}"


def open_database(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> Engine:
    """An engine for `url`, its schema brought up to date (SQLite in WAL mode with synchronous commits)."""
    sqlite = url.startswith("sqlite")
    kwargs = {"connect_args": {"timeout": 30, "check_same_thread": False}} if sqlite else {"pool_pre_ping": True}
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DatabaseError(f"--database {url!r}: {exc}") from None
    if sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine, migrations)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot open the database {engine.url!r}: {exc.orig}") from None
    if sqlite and engine.url.database:
        # Names, e-mail addresses and grades: readable by the course's owner only.
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(engine.url.database + suffix):
                os.chmod(engine.url.database + suffix, 0o600)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer. synchronous=FULL: a commit is on
    # disk when it returns (NORMAL would lose the last commits on power loss,
    # i.e. submissions whose receipt was already sent).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    row = conn.execute(sa.select(schema_version.c.version)).first()
    return int(row[0]) if row else 0


def migrate(engine: Engine, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations the database has not had yet; returns the versions applied."""
    applied = []
    with engine.begin() as conn:
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
    newest = migrations[-1].version if migrations else 0
    if version > newest:
        raise DatabaseError(f"the course database has schema version {version}, newer than this grader "
                            f"understands ({newest}); upgrade the grader (pip install -U backprop-grader)")
    for migration in migrations:
        if migration.version <= version:
            continue
        with engine.begin() as conn:
            # Re-read inside the transaction: another process may have just upgraded it.
            if current_version(conn) >= migration.version:
                continue
            migration.apply(conn)
            conn.execute(schema_version.delete())
            conn.execute(schema_version.insert().values(version=migration.version))
        applied.append(migration.version)
    return applied

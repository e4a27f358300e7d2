"""Accounts: importing a roster, the links.csv of sign-in links, checking and revoking tokens.

``grader course roster DIR ROSTER.csv`` reads ``id,name,email`` (an optional
``role`` column says ``student`` or ``instructor``), creates the accounts
that are new, gives each a token, and writes ``DIR/links.csv`` (columns
``id,name,email,link,token``, mode 0600): the only plain copy of each token.
Accounts already in the database keep their token (their row of links.csv is
kept as it was); a revoked token is replaced with ``grader course revoke DIR
ID --reissue``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from grader.server import db
from grader.server.auth import new_token, token_hash

LINKS_NAME = "links.csv"
LINK_COLUMNS = ("id", "name", "email", "link", "token")
ROLES = ("student", "instructor")
# Ids become folder names in the zip `grader batch` reads, so they must be safe as file names.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
MAX_ROSTER_BYTES = 10 * 2**20


class RosterError(Exception):
    """A roster that cannot be imported; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Person:
    """One roster row."""

    id: str
    name: str
    email: str
    role: str = "student"


@dataclass(frozen=True)
class Account:
    """A signed-in user: the id, the role and the token row that authenticated them."""

    id: str
    name: str
    role: str
    token_id: int

    @property
    def is_instructor(self) -> bool:
        """Whether this account may use the instructor's pages."""
        return self.role == "instructor"


def read_roster(path: str | os.PathLike, *, role: str | None = None) -> list[Person]:
    """The people of a roster CSV; `role` forces every row's role (``--instructors``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc})") from None
    if len(raw) > MAX_ROSTER_BYTES:
        raise RosterError(f"{path}: larger than {MAX_ROSTER_BYTES // 2**20} MiB; is this a roster?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"{path}: not UTF-8 text (byte {exc.start}); save the roster as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in ("id", "name", "email") if c not in columns]
    if missing:
        raise RosterError(f"{path}: line 1: missing column(s) {', '.join(missing)}; the header must be "
                          f"id,name,email (optionally role), found {','.join(reader.fieldnames or []) or 'nothing'}")
    people, seen = [], {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        person_id = row.get("id", "")
        if not ID_PATTERN.fullmatch(person_id):
            raise RosterError(f"{path}: line {line}: id {person_id!r} must be 1-100 letters, digits or . _ @ + - "
                              "(it names the student's folder in exports), starting with a letter or digit")
        if person_id.casefold() in seen:
            raise RosterError(f"{path}: line {line}: id {person_id!r} repeats line {seen[person_id.casefold()]} "
                              "(ids are compared without case)")
        seen[person_id.casefold()] = line
        person_role = role or row.get("role") or "student"
        if person_role not in ROLES:
            raise RosterError(f"{path}: line {line}: role {person_role!r} must be student or instructor")
        people.append(Person(person_id, row.get("name", ""), row.get("email", ""), person_role))
    if not people:
        raise RosterError(f"{path}: no rows after the header")
    return people


def import_roster(engine: Engine, people: list[Person], base_url: str, links_path: str | os.PathLike,
                  *, now: float | None = None) -> tuple[int, int]:
    """Create the accounts that are new, with tokens; write links.csv. Returns (new, updated)."""
    now = time.time() if now is None else now
    fresh: dict[str, str] = {}
    updated = 0
    with engine.begin() as conn:
        existing = {row.id.casefold(): row for row in conn.execute(sa.select(db.users))}
        for person in people:
            old = existing.get(person.id.casefold())
            if old is not None:
                if old.id != person.id:
                    raise RosterError(f"id {person.id!r} differs only in case from the existing account "
                                      f"{old.id!r}; use the same spelling")
                conn.execute(db.users.update().where(db.users.c.id == person.id)
                             .values(name=person.name, email=person.email, role=person.role))
                updated += 1
                continue
            conn.execute(db.users.insert().values(id=person.id, name=person.name, email=person.email,
                                                  role=person.role, created_at=now))
            fresh[person.id] = _issue(conn, person.id, now)
        # links.csv is written inside the transaction: if it cannot be written, no token exists that
        # nobody can read.
        by_id = {p.id: p for p in people}
        write_links(links_path, base_url, {pid: (by_id[pid], token) for pid, token in fresh.items()})
    return len(fresh), updated


def _issue(conn, user_id: str, now: float) -> str:
    token = new_token()
    conn.execute(db.tokens.insert().values(user_id=user_id, hash=token_hash(token), created_at=now))
    return token


def signin_link(base_url: str, token: str) -> str:
    """The personal sign-in link of a token."""
    return f"{base_url.rstrip('/')}/signin/{token}"


def write_links(path: str | os.PathLike, base_url: str, new: dict[str, tuple[Person, str]]) -> None:
    """Add (or replace) rows of links.csv for `new` ({id: (person, token)}), keeping the others; mode 0600."""
    path = Path(path)
    rows: dict[str, dict] = {}
    if path.exists():
        with path.open(encoding="utf-8", newline="") as old:
            for row in csv.DictReader(old):
                rows[row.get("id", "")] = row
    for person_id, (person, token) in new.items():
        rows[person_id] = {"id": person.id, "name": person.name, "email": person.email,
                           "link": signin_link(base_url, token), "token": token}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LINK_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".links.", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    os.chmod(path, 0o600)


def revoke(engine: Engine, user_id: str, *, reissue: bool, base_url: str, links_path: str | os.PathLike,
           now: float | None = None) -> int:
    """Revoke every token of `user_id` (their sessions end too); with `reissue`, a new one in links.csv.

    Returns the number of tokens revoked; RosterError when there is no such account.
    """
    now = time.time() if now is None else now
    with engine.begin() as conn:
        user = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).first()
        if user is None:
            raise RosterError(f"no account {user_id!r} (see links.csv for the ids)")
        count = conn.execute(db.tokens.update().where(db.tokens.c.user_id == user_id,
                                                     db.tokens.c.revoked_at.is_(None))
                             .values(revoked_at=now)).rowcount
        conn.execute(db.events.insert().values(at=now, kind="token revoked", actor="", detail=user_id))
        if reissue:
            token = _issue(conn, user_id, now)
            write_links(links_path, base_url, {user_id: (Person(user.id, user.name, user.email, user.role), token)})
    return count


def authenticate(engine: Engine, token: str | None) -> Account | None:
    """The account a bearer token signs in, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(db.users.c.id, db.users.c.name, db.users.c.role, db.tokens.c.id.label("token_id"))
            .join(db.tokens, db.tokens.c.user_id == db.users.c.id)
            .where(db.tokens.c.hash == token_hash(token), db.tokens.c.revoked_at.is_(None))).first()
    return Account(row.id, row.name, row.role, row.token_id) if row else None


def account_for_session(engine: Engine, user_id: str, token_id: int) -> Account | None:
    """The account of a session cookie, or None when its token was revoked since."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(db.users.c.id, db.users.c.name, db.users.c.role)
            .join(db.tokens, db.tokens.c.user_id == db.users.c.id)
            .where(db.tokens.c.id == token_id, db.users.c.id == user_id, db.tokens.c.revoked_at.is_(None))).first()
    return Account(row.id, row.name, row.role, token_id) if row else None

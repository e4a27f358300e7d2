"""Sign-in tokens, signed session cookies and CSRF tokens.

A token is 32 random bytes (URL-safe text); the database keeps only its
SHA-256 (a token has 256 bits of entropy, so a fast hash is enough: there is
nothing to brute-force), so a stolen database signs nobody in. A session
cookie is ``payload.signature``: the payload names the user and the token
that signed them in, and is HMAC-SHA256-signed with the course's secret key.
Revoking the token ends its sessions too (every request checks the token
row). Each session has a random nonce; its CSRF token is an HMAC of that
nonce, checked on every state-changing request a cookie authenticates.
Requests with ``Authorization: Bearer`` carry no ambient credential and need
no CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "grader_session"
SESSION_SECONDS = 14 * 24 * 3600
SECRET_NAME = ".secret_key"


def new_token() -> str:
    """A fresh sign-in token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database stores for `token`."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def load_secret(course_dir: str | os.PathLike) -> bytes:
    """The course's signing key (``DIR/.secret_key``, mode 0600), created on first use."""
    path = Path(course_dir) / SECRET_NAME
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, through which token, and the nonce its CSRF token is made from."""

    user_id: str
    token_id: int
    nonce: str
    expires: float


class Signer:
    """Signs and checks session cookies and CSRF tokens with the course's secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, data: bytes) -> str:
        mac = hmac.new(self._key, purpose.encode() + b"\0" + data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def session_cookie(self, user_id: str, token_id: int, *, now: float | None = None) -> str:
        """A new session's cookie value."""
        now = time.time() if now is None else now
        payload = json.dumps({"u": user_id, "t": token_id, "n": secrets.token_urlsafe(16),
                              "e": now + SESSION_SECONDS}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._mac('session', body.encode())}"

    def read_session(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie value stands for, or None (unsigned, tampered, malformed or expired)."""
        if not value or "." not in value or len(value) > 4096:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac("session", body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["u"]), int(data["t"]), str(data["n"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (time.time() if now is None else now):
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of a session (put in every form and sent back as a field or header)."""
        return self._mac("csrf", session.nonce.encode())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        """Whether `token` is this session's CSRF token."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

"""ASGI middleware of the course server: body caps, security headers, an access log without secrets.

- `BodyLimit` refuses a body larger than its route's cap: at once from its
  Content-Length (before reading a byte of it), or, for a body without one,
  as soon as the bytes received pass the cap, so a 1 GB upload is never
  buffered.
- `SecurityHeaders` gives every response a Content-Security-Policy (pages
  may load only the server's own script and style; a response may set a
  stricter one, as reports do), no sniffing, no referrer, no framing by
  other sites, and no caching of anything behind a sign-in.
- `AccessLog` writes one line per request with the path's secrets removed
  (sign-in links carry a token); query strings and headers are never logged.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Callable

log = logging.getLogger("grader.server.access")

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'")
# The reports are self-contained: inline style, images as data: URIs, no script at all.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'"
_SECRET_PATH = re.compile(r"^(/signin/)[^/?#]*")


class BodyTooLarge(Exception):
    """The request body passed its cap while streaming in."""


class _Http:
    """An ASGI middleware that only looks at HTTP requests (lifespan and others pass straight through)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        else:
            await self.http(scope, receive, send)

    async def http(self, scope, receive, send) -> None:
        """Handle one HTTP request."""
        raise NotImplementedError


class BodyLimit(_Http):
    """Caps request bodies: `limit_for(path)` bytes (413 with a JSON message when exceeded)."""

    def __init__(self, app, limit_for: Callable[[str], int]) -> None:
        super().__init__(app)
        self.limit_for = limit_for

    async def http(self, scope, receive, send) -> None:
        limit = self.limit_for(scope["path"])
        length = dict(scope.get("headers") or {}).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = limit + 1
            if declared > limit:
                await _too_large(send, limit)
                return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send, limit: int) -> None:
    body = (b'{"error": "too_large", "message": "The upload is larger than the server accepts (%d KiB); a '
            b'submission is one .py, .ipynb or .zip file of a few hundred KiB at most."}' % (limit // 1024))
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders(_Http):
    """Adds the security headers to every HTTP response that does not set them itself."""

    async def http(self, scope, receive, send) -> None:
        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                for name, value in ((b"content-security-policy", PAGE_CSP.encode()),
                                    (b"x-content-type-options", b"nosniff"),
                                    (b"referrer-policy", b"no-referrer"),
                                    (b"x-frame-options", b"SAMEORIGIN"),
                                    (b"cache-control", b"no-store")):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def redact(path: str) -> str:
    """A request path fit for a log: a sign-in link's token replaced."""
    return _SECRET_PATH.sub(r"\1[token]", path)


class AccessLog(_Http):
    """One log line per request: method, redacted path, status, milliseconds."""

    async def http(self, scope, receive, send) -> None:
        started = time.perf_counter()
        status = 500

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            log.info("%s %s %s %.0f ms", scope.get("method", "?"), redact(scope.get("path", "")), status,
                     (time.perf_counter() - started) * 1000)


class RateLimiter:
    """A token bucket per key: `burst` requests at once, then one per `per_seconds` (in memory)."""

    def __init__(self, burst: int, per_seconds: float) -> None:
        self.burst, self.per = burst, per_seconds
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, *, now: float | None = None) -> float:
        """0 when `key` may go ahead (and is charged), else the seconds until it may."""
        now = time.monotonic() if now is None else now
        tokens, since = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) / self.per)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) * self.per

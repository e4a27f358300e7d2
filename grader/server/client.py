#!/usr/bin/env python3
"""Hand in a file to the course server: `python submit.py FILE -a ASSIGNMENT [--json] [--no-wait] [--yes]`.

This one file needs only Python's standard library (the server serves it at
/submit.py), so nobody installs the grader, which carries the reference
solutions, to hand in. `grader submit` runs this same code.

The server and your token come from the environment, GRADER_SERVER (e.g.
https://grader.example.edu) and GRADER_TOKEN (the token of your sign-in
link), or from a file ~/.config/grader/submit.conf with the lines
``server = URL`` and ``token = TOKEN``.

It shows what the server will enforce (due time, submissions left, late
days), asks before a submission spends late days (``--yes`` agrees ahead),
uploads, prints the receipt (time and SHA-256), waits for the grading and
prints the self-check summary.

Exit status: 0 once the submission is accepted and graded, whatever the
score (or accepted, with --no-wait); 1 when the server refuses it (closed,
over a limit, late days not confirmed, a file it cannot take); 2 for usage
or connection errors, a token the server does not know, or a grading the
server could not finish (a fault of the server; your instructor sees it).
With --json, the last line printed is one JSON object: ``{"id", "sha256",
"status", "score", "max_score", "feedback", "report_url"}`` (or ``{"error",
"message"}`` when refused).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message

SERVER_ENV, TOKEN_ENV = "GRADER_SERVER", "GRADER_TOKEN"
EXTENSIONS = (".py", ".ipynb", ".zip")
ACCEPTED, REFUSED, USAGE = 0, 1, 2
JSON_FIELDS = ("id", "sha256", "status", "score", "max_score", "feedback", "report_url")
# How long the server may hold one status request while nothing changes (the long poll).
WAIT_SECONDS = 20


class Failure(Exception):
    """Stop with this exit status and message (and this JSON body with --json)."""

    def __init__(self, status: int, message: str, body: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.body = body or {"error": "usage" if status == USAGE else "refused", "message": message}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (shared by `grader submit` and the standalone submit.py)."""
    parser.add_argument("file", help="the file to hand in: a .py, .ipynb or .zip")
    parser.add_argument("-a", "--assignment", required=True, help="the assignment's id, as on the course's page")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--no-wait", action="store_true",
                        help="return after the receipt, without waiting for the grade")
    parser.add_argument("--yes", action="store_true", help="agree to spend late days (or take the late penalty) "
                        "without being asked")
    parser.add_argument("--server", help=f"the server's address (default: ${SERVER_ENV} or the config file)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the grade (default 900)")


def _config_file() -> dict[str, str]:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = os.path.join(base, "grader", "submit.conf")
    values: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and not key.strip().startswith("#"):
                    values[key.strip().lower()] = value.strip()
    except OSError:
        pass
    return values


def _local_zone() -> str | None:
    name = os.environ.get("TZ", "").lstrip(":")
    if "/" in name:
        return name
    try:
        target = os.readlink("/etc/localtime")
        return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
    except OSError:
        return None


class Server:
    """The course server at `base`, spoken to with the student's bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        """(HTTP status, JSON body) of one request; Failure(2) when the server cannot be reached."""
        status, data, _ = self.request(method, path, body)
        return status, data

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict, Message]:
        """(HTTP status, JSON body, response headers, read case-insensitively) of one request; Failure(2) when
        the server cannot be reached."""
        request = urllib.request.Request(self.base + path, data=body, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/octet-stream"} if body is not None else {}), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}"), response.headers
        except urllib.error.HTTPError as exc:  # 304 (the long poll's "unchanged") arrives here too
            try:
                data = json.loads(exc.read() or b"{}")
            except ValueError:
                data = {}
            return exc.code, data if isinstance(data, dict) else {}, exc.headers
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Failure(USAGE, f"cannot reach the course server at {self.base}: {reason}") from None


def _say(args, text: str) -> None:
    if not args.json:
        print(text, flush=True)


def _check(status: int, data: dict, what: str) -> dict:
    if status == 401:
        raise Failure(USAGE, f"the server does not know your token ({TOKEN_ENV}); use the token of your current "
                      "sign-in link")
    if 200 <= status < 300:
        return data
    message = data.get("message") or f"the server answered {status} to {what}"
    if status in (400, 404, 409, 413, 429):
        raise Failure(REFUSED, message, {"error": data.get("error", "refused"), "message": message})
    raise Failure(USAGE, message)


def submit(args: argparse.Namespace) -> dict:
    """Hand the file in and (unless --no-wait) wait for its grade; returns the submission's JSON."""
    config = _config_file()
    base = args.server or os.environ.get(SERVER_ENV) or config.get("server")
    token = os.environ.get(TOKEN_ENV) or config.get("token")
    if not base or not token:
        raise Failure(USAGE, f"set {SERVER_ENV} (the server's address) and {TOKEN_ENV} (your token), or write them "
                      "in ~/.config/grader/submit.conf as `server = URL` and `token = TOKEN`")
    if not base.startswith(("http://", "https://")):
        raise Failure(USAGE, f"{SERVER_ENV} must start with http:// or https://, found {base!r}")
    name = os.path.basename(args.file)
    if not name.lower().endswith(EXTENSIONS):
        raise Failure(USAGE, f"{args.file}: hand in a .py file, a .ipynb notebook or a .zip holding one of them")
    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Failure(USAGE, f"{args.file}: cannot read it ({exc.strerror or exc})") from None
    server = Server(base, token)
    assignment = urllib.parse.quote(args.assignment, safe="")
    zone = _local_zone()
    preview = _check(*server.call("GET", f"/api/assignments/{assignment}/preview"
                                  + (f"?tz={urllib.parse.quote(zone)}" if zone else "")), "the preview")
    _say(args, preview.get("message", ""))
    if not preview.get("allowed"):
        raise Failure(REFUSED, preview.get("message") or "the server does not accept this submission now",
                      {"error": preview.get("reason") or "refused", "message": preview.get("message", "")})
    params = {"assignment": args.assignment, "filename": name}
    if preview.get("needs_confirmation"):
        if not (args.yes or _ask("Hand it in at this cost? [y/N] ")):
            raise Failure(REFUSED, "not handed in: the late cost was not confirmed (run again with --yes to agree)",
                          {"error": "needs_confirmation", "message": preview.get("message", "")})
        params.update(confirm_late_days=str(preview.get("late_days", 0)),
                      confirm_penalty=str(preview.get("penalty", 0)))
    receipt = _check(*server.call("POST", "/api/submissions?" + urllib.parse.urlencode(params), data), "the upload")
    sha = hashlib.sha256(data).hexdigest()
    if receipt.get("sha256") != sha:
        raise Failure(USAGE, f"the server's receipt names SHA-256 {receipt.get('sha256')}, but the file's is {sha}")
    _say(args, f"Received {receipt.get('received_at')}: submission {receipt.get('id')}, SHA-256 {sha}")
    if receipt.get("position"):
        _say(args, f"Queue position {receipt['position']}, about {receipt.get('wait_seconds')} s")
    result = receipt
    if not args.no_wait:
        result = _wait(server, args, receipt)
    result = dict(result, report_url=server.base + str(result.get("report_url", "")))
    return result


def _ask(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _wait(server: Server, args: argparse.Namespace, receipt: dict) -> dict:
    deadline, state, etag, current = time.monotonic() + args.timeout, receipt.get("status"), None, {}
    while True:
        # The long poll: the server answers when the submission changes, or 304 after WAIT_SECONDS.
        asked = time.monotonic()
        status, data, headers = server.request("GET", f"/api/submissions/{receipt['id']}?wait={WAIT_SECONDS:g}",
                                               headers={"If-None-Match": etag} if etag else None)
        if status != 304:
            current = _check(status, data, "the status")
            etag = headers.get("ETag")
        if current.get("status") != state:
            state = current.get("status")
            _say(args, f"... {state}")
        if state == "graded":
            if current.get("summary"):
                _say(args, current["summary"])
            return current
        if state == "error":
            raise Failure(USAGE, current.get("message") or "the grader failed on this submission",
                          {"error": "grader_error", **{k: current.get(k) for k in JSON_FIELDS}})
        if time.monotonic() > deadline:
            raise Failure(USAGE, f"no grade after {args.timeout:g} s; the submission is kept and will be graded: "
                          f"see {server.base}{receipt.get('page_url', '')}")
        if status == 200:
            time.sleep(0.3)  # a new state: the next change is seconds away
        else:
            time.sleep(max(0.0, 1.0 - (time.monotonic() - asked)))  # a 304 that came back early: not a tight loop


def run(args: argparse.Namespace) -> int:
    """Run the command with parsed arguments; returns the exit status."""
    try:
        result = submit(args)
    except Failure as failure:
        if args.json:
            print(json.dumps(failure.body))
        else:
            print(f"submit: {failure.message}", file=sys.stderr)
        return failure.status
    if args.json:
        print(json.dumps({key: result.get(key) for key in JSON_FIELDS}))
    else:
        score = result.get("score")
        if score is not None:
            scope = " (public checks only until grades are released)" if result.get("feedback") == "public" else ""
            print(f"Score {score:g} / {result.get('max_score', 0):g}{scope}; report: {result['report_url']}")
        else:
            print(f"Status: {result.get('status')}; follow it at {result['report_url'].rsplit('/report', 1)[0]}")
    return ACCEPTED


def main(argv: list[str] | None = None) -> int:
    """The standalone client's entry point."""
    parser = argparse.ArgumentParser(prog="submit.py", description="Hand in a file to the course server.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The server's security rules, each tried against the live server (or a small app of its own)."""

from __future__ import annotations

import logging
import re
import socket
import time
from html.parser import HTMLParser
from urllib.parse import urlparse

import httpx
import pytest

from grader.server import api, instructor, pages
from grader.server.app import UPLOAD_LIMIT, create_app
from grader.server.course import open_course
from grader.server.middleware import REPORT_CSP
from tests.server.helpers import LAB_BUG, QUIZ_OK, live_server, make_course


@pytest.fixture(scope="module")
def alices(live):
    """Alice's graded lab submission (a report with images) and quiz submission."""
    lab = live["alice"].submit(LAB_BUG, "backprop-lab").json()
    quiz = live["alice"].submit(QUIZ_OK, "backprop-quiz").json()
    return [live["alice"].wait(lab["id"]), live["alice"].wait(quiz["id"])]


def _paths(routes, submission_id):
    for route in routes:
        if not hasattr(route, "methods"):
            continue
        path = route.path.replace("{submission}", str(submission_id)).replace("{assignment}", "backprop-quiz") \
            .replace("{student}", "alice").replace("{token}", "x")
        for method in sorted(route.methods - {"HEAD"}):
            yield method, path, route.path


def test_every_route_with_a_submission_is_404_for_another_student(live, alices):
    tried = 0
    for submission in alices:
        for method, path, template in _paths(pages.ROUTES + api.ROUTES, submission["id"]):
            if "{submission}" not in template:
                continue
            response = live["bob"].http.request(method, path)
            assert response.status_code == 404, (method, path, response.status_code)
            assert submission["sha256"] not in response.text
            tried += 1
            # The owner reaches the same route.
            assert live["alice"].http.request(method, path).status_code == 200, path
    assert tried >= 6
    mine = live["bob"].http.get("/api/submissions").json()["submissions"]
    assert all(s["student"] == "bob" for s in mine)


def test_student_tokens_cannot_reach_instructor_routes(live, alices):
    routes = list(_paths(instructor.ROUTES, alices[0]["id"]))
    assert len(routes) >= 9
    for method, path, _ in routes:
        assert live["bob"].http.request(method, path).status_code == 404, (method, path)
        assert httpx.request(method, live.base + path).status_code in (401, 404), (method, path)
    assert live["prof"].http.get("/instructor/gradebook.csv?assignment=backprop-lab").status_code == 200


def _raw_request(base: str, head: bytes, body_chunks=()) -> tuple[bytes, int]:
    """Send `head` then chunks until the server answers; returns (response start, body bytes sent)."""
    url = urlparse(base)
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        for chunk in body_chunks:
            try:
                answer = sock.recv(4096)
                if answer:
                    return answer, sent
            except socket.timeout:
                pass
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(30)
        return sock.recv(4096), sent


def test_a_1_gb_upload_is_refused_from_its_length_before_any_body_is_read(live):
    token = live.tokens["bob"]
    head = (f"POST /api/submissions?assignment=backprop-quiz&filename=big.py HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {2**30}\r\n\r\n").encode()
    answer, sent = _raw_request(live.base, head)
    assert answer.startswith(b"HTTP/1.1 413") and sent == 0


def test_an_endless_chunked_upload_is_cut_at_the_cap(live):
    token = live.tokens["bob"]
    head = (f"POST /api/submissions?assignment=backprop-quiz&filename=big.py HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"x" * 2**20
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    answer, sent = _raw_request(live.base, head, (chunk for _ in range(1024)))  # up to 1 GiB offered
    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < 4 * UPLOAD_LIMIT  # refused while streaming, nowhere near the 1 GiB offered


@pytest.mark.parametrize("name", ["../../../../tmp/escape-test.py", "/etc/cron.d/x.py", "a\\..\\b.py",
                                  "con\x00trol\n.py", ".." + "/" * 3 + "x.ipynb"])
def test_uploaded_names_never_become_paths(live, name, tmp_path):
    response = live["carol"].http.post("/api/submissions", params={"assignment": "backprop-quiz", "filename": name},
                                       content=b"EX1_GRADS = (1, 2, 3)\n")
    assert response.status_code == 201, response.text
    receipt = response.json()
    stored = list((live.folder / "store").rglob(f"{receipt['sha256']}*"))
    assert stored and all(p.name.startswith(receipt["sha256"]) for p in stored)
    assert "/" not in receipt["filename"] and "\x00" not in receipt["filename"] and "\n" not in receipt["filename"]
    from pathlib import Path
    assert not Path("/tmp/escape-test.py").exists()


def test_a_file_of_another_kind_is_refused_with_what_to_hand_in(live):
    response = live["carol"].http.post("/api/submissions", params={"assignment": "backprop-quiz",
                                                                   "filename": "notes.txt"}, content=b"x")
    assert response.status_code == 400 and ".py" in response.json()["message"]


def test_uploads_per_student_are_rate_limited(tmp_path):
    tokens = make_course(tmp_path)
    course = open_course(tmp_path)
    with live_server(create_app(course, grade=False, rate=(2, 3600))) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['alice']}"})
        codes = [client.post("/api/submissions", params={"assignment": "backprop-quiz", "filename": "a.py"},
                             content=b"X = 1\n").status_code for _ in range(3)]
        other = httpx.post(base + "/api/submissions", params={"assignment": "backprop-quiz", "filename": "a.py"},
                           content=b"X = 1\n", headers={"Authorization": f"Bearer {tokens['bob']}"}).status_code
    course.close()
    assert codes == [201, 201, 429] and other == 201  # one student's flood costs only that student


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.urls, self.styles = 0, [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.scripts += tag == "script"
        self.styles += tag == "style"
        for key in ("src", "href", "action", "data", "poster"):
            if attrs.get(key) and not attrs[key].startswith("#"):
                self.urls.append((tag, key, attrs[key]))
        if any(k.startswith("on") for k in attrs):
            self.scripts += 1


def test_reports_satisfy_their_content_security_policy(live, alices):
    for who in ("alice", "prof"):  # the public view and the full one
        response = live[who].http.get(alices[0]["report_url"])
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == REPORT_CSP
        assets = _Assets()
        assets.feed(response.text)
        # REPORT_CSP: no script at all, inline style only, images only as data: URIs.
        assert assets.scripts == 0
        assert all(value.startswith("data:image/") for tag, key, value in assets.urls if tag == "img"), assets.urls
        assert not [u for u in assets.urls if u[0] != "img" and u[1] != "href"]
        assert all(value.startswith(("#", "data:")) or not urlparse(value).scheme
                   for _, key, value in assets.urls if key == "href" and _ != "a"), assets.urls
    full = live["prof"].http.get(alices[0]["report_url"]).text
    assert "data:image/png;base64," in full


def test_pages_send_a_policy_that_allows_only_the_sites_own_script_and_style(live):
    response = live["alice"].http.get("/assignments/backprop-quiz")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assets = _Assets()
    assets.feed(response.text)
    assert all(not urlparse(u[2]).netloc for u in assets.urls), assets.urls  # nothing from another site
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_session_cookies_are_httponly_samesite_and_signed(live):
    browser = httpx.Client(base_url=live.base, follow_redirects=False)
    response = browser.get(f"/signin/{live.tokens['dave']}")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert live.tokens["dave"] not in cookie
    assert browser.get("/api/submissions").status_code == 200
    value = browser.cookies["grader_session"]
    forged = httpx.Client(base_url=live.base, cookies={"grader_session": value[:-2] + ("A" if value[-2] != "A" else "B")
                                                       + value[-1]})
    assert forged.get("/api/submissions").status_code == 401


def test_every_form_needs_the_csrf_token(live):
    student = httpx.Client(base_url=live.base, follow_redirects=False)
    student.get(f"/signin/{live.tokens['dave']}")
    assert student.post("/assignments/backprop-quiz/submit",
                        files={"file": ("a.py", b"X = 1\n")}).status_code == 403
    assert student.post("/api/submissions", params={"assignment": "backprop-quiz", "filename": "a.py"},
                        content=b"X = 1\n").status_code == 403
    assert student.post("/signout").status_code == 403
    prof = httpx.Client(base_url=live.base, follow_redirects=False)
    prof.get(f"/signin/{live.tokens['prof']}")
    for path in ("/instructor/regrade", "/instructor/extensions", "/instructor/overrides", "/instructor/release"):
        assert prof.post(path, data={"assignment": "backprop-quiz", "student": "dave"}).status_code == 403, path
    # With the token from the page, the same form goes through.
    csrf = re.search(r'name="csrf" value="([^"]+)"', student.get("/assignments/backprop-quiz").text).group(1)
    assert student.post("/signout", data={"csrf": csrf}).status_code == 303


def test_no_secret_appears_in_the_logs(live, caplog):
    caplog.set_level(logging.DEBUG)
    token = live.tokens["carol"]
    browser = httpx.Client(base_url=live.base, follow_redirects=False)
    browser.get(f"/signin/{token}")
    browser.get(f"/signin/{token}x")
    live["carol"].http.get("/api/submissions")
    cookie = browser.cookies["grader_session"]
    time.sleep(0.2)
    # The server's records (httpx's own client-side lines name the URL it was asked to fetch).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("grader", "uvicorn", "starlette")))
    assert "/signin/[token]" in text
    assert token not in text and cookie not in text and token[:20] not in text


def test_a_revoked_token_signs_nobody_in_and_ends_its_sessions(tmp_path):
    tokens = make_course(tmp_path)
    course = open_course(tmp_path)
    app = create_app(course, grade=False)
    from grader.server.accounts import revoke
    with live_server(app) as base:
        client = httpx.Client(base_url=base, follow_redirects=False)
        assert client.get(f"/signin/{tokens['bob']}").status_code == 303
        assert client.get("/api/submissions").status_code == 200
        revoke(course.engine, "bob", reissue=False, base_url="http://x", links_path=course.links_path)
        assert client.get("/api/submissions").status_code == 401
        assert client.get("/api/submissions", headers={"Authorization": f"Bearer {tokens['bob']}"}).status_code == 401
    course.close()

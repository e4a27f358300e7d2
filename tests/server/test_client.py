"""`grader submit` and the served /submit.py: the receipt, the summary, the JSON fields and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.helpers import QUIZ_OK, free_port

REPO = Path(__file__).resolve().parents[2]
JSON_FIELDS = {"id", "sha256", "status", "score", "max_score", "feedback", "report_url"}


def _run(command, live, token="alice", **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    environment.update({"GRADER_SERVER": live.base, "GRADER_TOKEN": live.tokens.get(token, token),
                        "HOME": "/nonexistent"})
    environment.update(env)
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def _grader(live, *args, **kwargs):
    return _run([sys.executable, "-m", "grader", "submit", *map(str, args)], live, **kwargs)


def test_submit_prints_the_receipt_and_the_summary_and_exits_0(live):
    done = _grader(live, QUIZ_OK, "-a", "backprop-quiz")
    assert done.returncode == 0, done.stderr
    assert "SHA-256" in done.stdout and "backprop-quiz" in done.stdout and "report:" in done.stdout


def test_submit_json_has_the_interface_fields(live):
    done = _grader(live, QUIZ_OK, "-a", "backprop-quiz", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(data) == JSON_FIELDS and data["status"] == "graded" and data["feedback"] == "public"
    assert data["report_url"].startswith(live.base + "/submissions/")
    import hashlib
    assert data["sha256"] == hashlib.sha256(QUIZ_OK.read_bytes()).hexdigest()


def test_no_wait_returns_after_the_receipt(live):
    done = _grader(live, QUIZ_OK, "-a", "backprop-quiz", "--json", "--no-wait")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] in ("queued", "grading", "graded")


@pytest.mark.parametrize("assignment, extra, reason", [
    ("backprop-research", [], "closed"),                       # past the hard close
    ("backprop-exercises", [], "needs_confirmation"),          # late: needs --yes without a terminal
    ("no-such-assignment", [], "unknown_assignment"),
])
def test_refusals_exit_1_with_the_reason(live, assignment, extra, reason):
    done = _grader(live, QUIZ_OK, "-a", assignment, "--json", *extra)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert json.loads(done.stdout.strip().splitlines()[-1])["error"] == reason


def test_yes_confirms_the_late_days_the_preview_shows(live):
    done = _grader(live, QUIZ_OK, "-a", "backprop-exercises", "--yes", token="bob")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "late day" in done.stdout


def test_usage_and_connection_errors_exit_2(live, tmp_path):
    assert _grader(live, QUIZ_OK, "-a", "backprop-quiz", GRADER_TOKEN="").returncode == 2
    assert _grader(live, QUIZ_OK, "-a", "backprop-quiz", token="not-a-token").returncode == 2
    assert _grader(live, tmp_path / "missing.py", "-a", "backprop-quiz").returncode == 2
    (tmp_path / "notes.txt").write_text("x")
    assert _grader(live, tmp_path / "notes.txt", "-a", "backprop-quiz").returncode == 2
    nobody = _grader(live, QUIZ_OK, "-a", "backprop-quiz", GRADER_SERVER=f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 2 and "cannot reach" in nobody.stderr


def test_the_served_client_needs_only_the_standard_library(live, tmp_path):
    import httpx
    response = httpx.get(live.base + "/submit.py")
    assert response.status_code == 200 and "GRADER_TOKEN" in response.text
    script = tmp_path / "submit.py"
    script.write_text(response.text)
    # -S: no site-packages at all (neither the grader nor any other package can be imported).
    done = _run([sys.executable, "-S", "-I", str(script), str(QUIZ_OK), "-a", "backprop-quiz", "--json"], live)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout.strip().splitlines()[-1])) == JSON_FIELDS

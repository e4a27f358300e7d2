"""The course server under the loads issue 13 names, measured from outside with httpx.

Run: python benchmarks/server_bench.py [--only idle,burst,kill,evening] [--evening-minutes 30]

Each scenario starts `grader serve` (a separate process, `--workers 2` by
default) on a fresh course of `backprop-lab` submissions and talks to it
over HTTP like students do:

- idle: one lab upload at a time on an idle server (after one warm-up):
  receipt p50 (request sent -> receipt received) and feedback p50 (request
  sent -> the status API says graded; polled every 50 ms).
- burst: 100 uploads from 50 students (2 each), sent concurrently within
  10 s: all acknowledged, none lost or duplicated, time from the first upload
  to the last grade, against `grader batch` on the same 100 files with the
  same number of processes; the server process's memory (RSS) before, at
  its peak and after.
- kill: the same burst, the server killed with SIGKILL (its whole process
  group) while grading, then restarted: every acknowledged submission ends
  with exactly one result.
- evening: `--students` (600) students submit once over `--evening-minutes`
  (30), half of them in the last sixth (5 of 30 minutes), each at a random
  moment: p50/p95/max wait from receipt to feedback. The mix is the demo
  class's submissions (correct ones in several styles, typical bugs, a
  notebook, a broken file) without the one whose training never ends (it
  holds a slot for the lab's whole 60 s training budget; see the README).
  With a shorter --evening-minutes the same arrivals are compressed.

Numbers go to stdout and, with --json PATH, to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LAB = ROOT / "tests" / "fixtures" / "lab"
CORRECT = LAB / "correct_classic.py"
ASSIGNMENT = "backprop-lab"
# The demo class's files minus the endless training loop (see the docstring).
MIX = ["correct_classic.py", "correct_dictcache.py", "correct_notebook.ipynb", "correct_float32.py",
       "correct_messy.py", "bug_missing_1_over_m.py", "bug_db_wrong_axis.py", "bug_dW_missing_transpose.py",
       "bug_sigmoid_derivative_twice.py", "bug_one_sided_differences.py", "bug_params_not_restored.py",
       "bug_missing_bias.py", "broken_binary.py", "bug_relu_mask_wrong_layer.py", "bug_uses_torch.py",
       "bug_untouched_starter.py"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Course:
    """A fresh course folder with `students` students, and its server process."""

    def __init__(self, students: int, workers: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="server-bench-"))
        self.workers, self.port = workers, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._grader("course", "init", self.folder)
        roster = self.folder / "roster.csv"
        roster.write_text("id,name,email\n" + "".join(f"s{i:03d},Student {i},s{i}@x.edu\n" for i in range(students)))
        self._grader("course", "roster", self.folder, roster, "--url", self.base)
        with open(self.folder / "links.csv", encoding="utf-8") as handle:
            self.tokens = {row["id"]: row["token"] for row in csv.DictReader(handle)}
        # The benchmark's students hand in as fast as the scenario says: no per-student rate limit
        # stands in the way (it allows 10 at once), and the 24-hour limit allows 20.

    def _grader(self, *args) -> None:
        subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT, check=True,
                       capture_output=True)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", str(self.folder), "--port", str(self.port),
             "--workers", str(self.workers)], cwd=ROOT, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "server.log", "ab"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def rss_kb(self) -> int:
        """The server process's resident memory (the main process, not its grading processes)."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return 0

    def results_per_submission(self) -> dict[int, int]:
        import sqlite3
        with sqlite3.connect(self.folder / "course.db") as conn:
            return dict(conn.execute("SELECT submission_id, COUNT(*) FROM results GROUP BY submission_id"))

    def grading_seconds(self, submission_id: int) -> float:
        """How long the work unit itself took for a submission (grade_student's own measure)."""
        import sqlite3
        with sqlite3.connect(self.folder / "course.db") as conn:
            return conn.execute("SELECT seconds FROM results WHERE submission_id = ?", (submission_id,)).fetchone()[0]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


async def upload(client: httpx.AsyncClient, token: str, path: Path) -> tuple[dict, float, float]:
    """(receipt, seconds to the receipt, perf_counter at the start)."""
    started = time.perf_counter()
    response = await client.post("/api/submissions", params={"assignment": ASSIGNMENT, "filename": path.name},
                                 content=path.read_bytes(), headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload refused: {response.status_code} {response.text[:300]}")
    return response.json(), elapsed, started


async def wait_graded(client: httpx.AsyncClient, token: str, submission_id: int, poll: float,
                      timeout: float = 1800, wait: float = 10) -> tuple[dict, float]:
    """The graded submission and the perf_counter when the API first said so.

    As a student's page does (grader/server/static/app.js): the long poll, i.e. the state asked for with the
    ETag last seen and ?wait=`wait` (the server answers when it changes, or 304 after `wait` seconds), and
    at least `poll` seconds between two questions."""
    deadline = time.perf_counter() + timeout
    etag = None
    while True:
        asked = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}", **({"If-None-Match": etag} if etag else {})}
        try:
            response = await client.get(f"/api/submissions/{submission_id}", params={"wait": wait},
                                        headers=headers)
        except httpx.TransportError:
            # A kept-alive connection the server closed as it was reused: polling is idempotent, ask again.
            await asyncio.sleep(poll)
            continue
        if response.status_code == 200:
            etag = response.headers.get("etag")
            data = response.json()
            if data["status"] in ("graded", "error"):
                return data, time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"submission {submission_id} not graded in {timeout} s")
        await asyncio.sleep(max(0.0, poll - (time.perf_counter() - asked)))


def idle(args) -> dict:
    course = Course(2, args.workers)
    try:
        course.start()
        time.sleep(args.settle)  # the grading processes start in the background

        async def run() -> tuple[list[float], list[float], list[float]]:
            receipts, feedback, grading = [], [], []
            async with httpx.AsyncClient(base_url=course.base, timeout=120) as client:
                for i in range(args.idle_uploads + 1):
                    receipt, took, started = await upload(client, course.tokens["s000"], CORRECT)
                    _, seen = await wait_graded(client, course.tokens["s000"], receipt["id"], 0.05)
                    if i:  # the first is the warm-up
                        receipts.append(took)
                        feedback.append(seen - started)
                        grading.append(course.grading_seconds(receipt["id"]))
            return receipts, feedback, grading
        receipts, feedback, grading = asyncio.run(run())
    finally:
        course.cleanup()
    return {"uploads": len(receipts), "receipt_p50_ms": round(statistics.median(receipts) * 1000, 1),
            "receipt_max_ms": round(max(receipts) * 1000, 1),
            "feedback_p50_s": round(statistics.median(feedback), 3), "feedback_max_s": round(max(feedback), 3),
            # The work unit's own time (grade_student in the grading process): the rest is the server's.
            "grading_p50_s": round(statistics.median(grading), 3),
            "server_overhead_p50_s": round(statistics.median(f - g for f, g in zip(feedback, grading)), 3)}


def burst_files(folder: Path, n: int) -> list[tuple[str, Path]]:
    """n uploads (2 per student) cycling through the mix; also written as a class folder for `grader batch`."""
    folder.mkdir(parents=True, exist_ok=True)
    uploads = []
    for i in range(n):
        source = LAB / MIX[i % len(MIX)]
        student = f"s{i // 2:03d}"
        target = folder / f"{student}_{i % 2}{source.suffix}"
        shutil.copyfile(source, target)
        uploads.append((student, target))
    return uploads


def burst(args, *, kill: bool = False) -> dict:
    course = Course(args.burst // 2, args.workers)
    files = burst_files(course.folder / "class", args.burst)
    out: dict = {}
    try:
        course.start()
        time.sleep(args.settle)
        rss = {"before_kb": course.rss_kb(), "peak_kb": 0}

        async def send_all() -> tuple[list[dict], float, float]:
            async with httpx.AsyncClient(base_url=course.base, timeout=120,
                                         limits=httpx.Limits(max_connections=100)) as client:
                # Spread over the first seconds like a deadline rush, not one instant.
                async def one(index: int, student: str, path: Path):
                    await asyncio.sleep(index * args.burst_spread / len(files))
                    return await upload(client, course.tokens[student], path)
                results = await asyncio.gather(*(one(i, s, p) for i, (s, p) in enumerate(files)))
            receipts = [r[0] for r in results]
            return receipts, min(r[2] for r in results), max(r[2] + r[1] for r in results)

        receipts, first_sent, last_ack = asyncio.run(send_all())
        ids = [r["id"] for r in receipts]
        out.update(acknowledged=len(receipts), distinct_ids=len(set(ids)),
                   acknowledged_within_s=round(last_ack - first_sent, 2))
        if kill:
            # Kill while grading: after a few results are in.
            while len(course.results_per_submission()) < max(3, args.burst // 10):
                time.sleep(0.05)
            out["results_before_kill"] = len(course.results_per_submission())
            course.kill()
            killed_at = time.perf_counter()
            course.start()
            out["restart_s"] = round(time.perf_counter() - killed_at, 2)
        while True:
            rss["peak_kb"] = max(rss["peak_kb"], course.rss_kb())
            done = course.results_per_submission()
            if all(done.get(i, 0) >= 1 for i in ids):
                break
            time.sleep(0.1)
        finished = time.perf_counter()
        out["graded_in_s"] = round(finished - first_sent, 2)
        time.sleep(1)
        done = course.results_per_submission()
        out["exactly_once"] = all(done.get(i) == 1 for i in ids) and set(done) == set(ids)
        rss["after_kb"] = course.rss_kb()
        out["server_rss_kb"] = rss
        course.stop()
        if not kill:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "grader", "batch", str(course.folder / "class"), "-a", ASSIGNMENT,
                            "-o", str(course.folder / "batch-out"), "-j", str(args.workers)], cwd=ROOT, check=True,
                           capture_output=True)
            out["batch_s"] = round(time.perf_counter() - started, 2)
            out["ratio_to_batch"] = round(out["graded_in_s"] / out["batch_s"], 3)
    finally:
        course.cleanup()
    return out


def evening(args) -> dict:
    rng = random.Random(13)
    course = Course(args.students, args.workers)
    span = args.evening_minutes * 60.0
    late = span / 6  # the last 5 of 30 minutes
    students = list(course.tokens)
    arrivals = sorted([rng.uniform(0, span - late) for _ in range(len(students) // 2)]
                      + [rng.uniform(span - late, span) for _ in range(len(students) - len(students) // 2)])
    rng.shuffle(students)
    plan = [(at, student, LAB / rng.choice(MIX)) for at, student in zip(arrivals, students)]
    try:
        course.start()
        time.sleep(args.settle)
        waits: list[float] = []
        receipt_times: list[float] = []

        async def run():
            async with httpx.AsyncClient(base_url=course.base, timeout=300,
                                         limits=httpx.Limits(max_connections=200)) as client:
                start = time.perf_counter()

                async def student(at: float, who: str, path: Path):
                    await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
                    receipt, took, _ = await upload(client, course.tokens[who], path)
                    acknowledged = time.perf_counter()
                    receipt_times.append(took)
                    # Students watch their page, which long-polls (at most one question per half second).
                    _, seen = await wait_graded(client, course.tokens[who], receipt["id"], 0.5)
                    waits.append(seen - acknowledged)
                await asyncio.gather(*(student(at, who, path) for at, who, path in plan))
        load_before = os.getloadavg()[1]
        asyncio.run(run())
        import sqlite3
        with sqlite3.connect(course.folder / "course.db") as conn:
            grading = [row[0] for row in conn.execute("SELECT seconds FROM results WHERE seconds IS NOT NULL")]
    finally:
        course.cleanup()
    return {"students": len(plan), "minutes": args.evening_minutes, "wait_p50_s": round(pct(waits, 50), 2),
            # What one grading took in the grading process, and how busy the machine was (other work included).
            "grading_p50_s": round(pct(grading, 50), 2), "grading_p95_s": round(pct(grading, 95), 2),
            "load_5min_before": round(load_before, 1), "load_5min_after": round(os.getloadavg()[1], 1),
            "wait_p95_s": round(pct(waits, 95), 2), "wait_max_s": round(max(waits), 2),
            "receipt_p95_ms": round(pct(receipt_times, 95) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="idle,burst,kill,evening", help="scenarios to run, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle-uploads", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100, help="uploads in the burst (2 per student)")
    parser.add_argument("--burst-spread", type=float, default=5.0, help="seconds the burst's uploads spread over")
    parser.add_argument("--students", type=int, default=600, help="students of the deadline evening")
    parser.add_argument("--evening-minutes", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to let the server warm up")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    scenarios = {"idle": idle, "burst": burst, "kill": lambda a: burst(a, kill=True), "evening": evening}
    figures = {"cpus": os.cpu_count(), "workers": args.workers}
    for name in args.only.split(","):
        started = time.perf_counter()
        figures[name] = scenarios[name](args)
        print(f"{name} ({time.perf_counter() - started:.0f} s): {json.dumps(figures[name])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

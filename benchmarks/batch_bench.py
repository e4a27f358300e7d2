"""A class of identical correct submissions through `grader batch`, against the students' own compute.

Run: python benchmarks/batch_bench.py [--students 24] [--jobs 2]

The batch grades N copies of tests/fixtures/lab/correct_classic.py with
`--jobs` pool processes, from a cold start (the pool processes and the batch's
sandbox zygote start inside the measured time, as they do for a real batch).
The floor it is compared with is the students' own compute done in this
process: for each student, train(X, Y) on make_moons(1000, noise=0.1) plus one
gradient check on a small network, divided by the number of jobs (the ideal
parallel time). Ratio = batch wall time / that floor; the goal is at most 1.5.
On a shared or throttled machine two processes rarely run twice as fast as
one, so the same compute is also timed in `--jobs` processes at once (the
measured parallel floor), and a second ratio is given against it. With
`--repeat` every measurement is taken that many times, alternating, and the
fastest is kept (noise only ever slows a run down).

Per student, the time in a pool process is split into: student code (the
sandbox's own measure of time inside the student's functions), the rest of
grading (checks, reference computations, pytest, quality estimate), and the
report (rendering report.html, including the grader's decision-boundary plot).

Peak memory per pool process is each process's VmHWM, reported by the work
unit itself and recorded in each results.json (extra_data.batch); the sandbox
processes that run student code are separate and not included.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The sandbox runs student code with single-threaded BLAS; the floor must too.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from concurrent.futures import ProcessPoolExecutor  # noqa: E402
import multiprocessing  # noqa: E402

from grader.batch import run_batch  # noqa: E402
from reference.moons import moons  # noqa: E402

SUBMISSION = ROOT / "tests" / "fixtures" / "lab" / "correct_classic.py"


def student_compute(n: int) -> float:
    """Seconds of the students' own work, run here: train on moons plus one gradient check, n times."""
    spec = importlib.util.spec_from_file_location("bench_student", SUBMISSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    total = 0.0
    for i in range(n):
        X, Y = moons(1000, 1000 + i)
        small_X, small_Y = X[:, :8], Y[:, :8]
        params = module.initialize_parameters_deep([2, 5, 3, 1], seed=i + 1)
        start = time.perf_counter()
        module.train(X, Y)
        module.gradient_check(small_X, small_Y, params)
        total += time.perf_counter() - start
    return total


def parallel_compute(n: int, jobs: int) -> float:
    """Wall seconds of the same student compute for n students spread over `jobs` processes at once."""
    shares = [n // jobs + (1 if k < n % jobs else 0) for k in range(jobs)]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(student_compute, [1] * jobs))  # start-up and imports are not student compute
        start = time.perf_counter()
        list(pool.map(student_compute, shares))
        return time.perf_counter() - start


def batch_once(n: int, jobs: int) -> tuple[float, list[dict], object]:
    """Grade n copies of the submission from a cold start; returns (wall seconds, results.json dicts, summary)."""
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        folder = work / "class"
        folder.mkdir()
        for i in range(n):
            shutil.copy(SUBMISSION, folder / f"student{i + 1:02d}.py")
        start = time.perf_counter()
        summary = run_batch(folder, "backprop-lab", work / "out", jobs=jobs, seed=1, progress=False)
        wall = time.perf_counter() - start
        records = [json.loads((work / "out" / f"student{i + 1:02d}" / "results.json").read_text())
                   for i in range(n)]
        return wall, records, summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Run the batch and the in-process floors; print the ratios, throughput and memory."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="take the fastest of this many measurements")
    args = parser.parse_args()
    n, jobs = args.students, args.jobs

    best = None
    computes, parallels = [], []
    for _ in range(args.repeat):
        run = batch_once(n, jobs)
        best = run if best is None or run[0] < best[0] else best
        computes.append(student_compute(n))
        parallels.append(parallel_compute(n, jobs))
    wall, records, summary = best
    compute, parallel = min(computes), min(parallels)
    floor = compute / jobs

    batch_info = [r["extra_data"]["batch"] for r in records]
    peak_by_worker: dict[int, int] = {}
    for info in batch_info:
        worker = info.get("worker")
        peak_by_worker[worker] = max(peak_by_worker.get(worker, 0), int(info.get("worker_peak_rss_kb", 0)))
    unit = statistics.median(i["seconds"] for i in batch_info)
    grading = statistics.median(r["execution_time"] for r in records)
    student = statistics.median(r["extra_data"]["student_seconds"] for r in records)
    scores = sorted({r["score"] for r in records})

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"batch: {n} students, -j {jobs}: {wall:.2f} s wall, {n / wall * 60:.1f} students per minute "
          f"({summary.graded} graded, {summary.errors} grader errors, scores {scores})")
    print(f"per student in a pool process (median): {unit:.2f} s = student code {student:.2f} s "
          f"+ rest of grading {grading - student:.2f} s + report {unit - grading:.2f} s")
    overhead = wall - sum(i["seconds"] for i in batch_info) / jobs
    slowest = {}
    for info in batch_info:
        slowest[info.get("worker")] = max(slowest.get(info.get("worker"), 0.0), info["seconds"])
    cold = statistics.mean(slowest.values()) - unit
    print(f"batch layer: {overhead:.2f} s of the wall time is outside work units (pool start-up, handing out "
          f"work, writing files); each pool process's first student takes {cold:.2f} s longer than the median "
          "(it waits for the batch's sandbox zygote to finish starting, first imports and caches)")
    print(f"student compute in-process: {compute / n:.2f} s per student; ideal on {jobs} cores: {floor:.2f} s; "
          f"measured in {jobs} processes at once: {parallel:.2f} s")
    print(f"ratio batch / ideal floor: {wall / floor:.2f} (goal <= 1.5); "
          f"batch / measured parallel floor: {wall / parallel:.2f}")
    student_only = sum(r["extra_data"]["student_seconds"] for r in records) / jobs
    print(f"the student code the checks run (train, plot, forward/backward cases, their gradient_check), "
          f"alone on {jobs} cores: {student_only:.2f} s = {student_only / floor:.2f} x the floor, before any "
          "grader work")
    for worker, peak in sorted(peak_by_worker.items()):
        print(f"pool process {worker}: peak RSS {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

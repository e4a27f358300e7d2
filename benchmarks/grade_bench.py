"""End-to-end grading of one correct lab submission: wall time, student compute, grader overhead.

Run: python benchmarks/grade_bench.py [--n 10] [--submission PATH]

The first run in a process pays the zygote's start (a new interpreter that
imports NumPy and matplotlib); the numbers that matter for a class are the
warm runs after it, which is what a batch worker does for every student
after its first. Student compute is the time spent inside the student's
functions as measured in the worker (mostly `train`); overhead is the rest:
loading the file, starting the sandboxed worker, pytest, the reference
computations, comparisons, diagnosis, the quality estimate and the rubric.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.grading import grade  # noqa: E402


def main() -> None:
    """Grade the submission n times in one process and print the split of the time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10, help="warm runs to measure")
    parser.add_argument("--submission", type=Path, default=ROOT / "tests/fixtures/lab/correct_classic.py")
    args = parser.parse_args()

    start = time.perf_counter()
    first = grade(args.submission, "backprop-lab", seed=0)
    cold = time.perf_counter() - start

    walls, student, overhead = [], [], []
    for i in range(args.n):
        start = time.perf_counter()
        run = grade(args.submission, "backprop-lab", seed=i + 1)
        wall = time.perf_counter() - start
        walls.append(wall)
        student.append(run.student_seconds)
        overhead.append(wall - run.student_seconds)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"submission: {args.submission.name}, score {first.result.score:g}/{first.result.max_score:g}")
    print(f"first run in a fresh process (starts the zygote): {cold:.2f} s")
    print(f"warm runs (n={args.n}): wall median {statistics.median(walls):.3f} s, "
          f"student compute median {statistics.median(student):.3f} s, "
          f"grader overhead median {statistics.median(overhead):.3f} s "
          f"(min {min(overhead):.3f}, max {max(overhead):.3f})")


if __name__ == "__main__":
    main()

"""The same class graded by two or more versions of the grader, in alternating rounds.

Run: python benchmarks/batch_ab.py [--rounds 5] [--students 24] [--jobs 2] DIR [DIR ...]

Each DIR is a checkout of this repository at some commit (e.g. made with
`git worktree add /tmp/old 312bbdc`). In every round each DIR grades N copies of
tests/fixtures/lab/correct_classic.py with its own `grader.batch.run_batch`,
in a fresh process, one DIR after the other; the rounds alternate so that a
machine whose speed drifts (a shared VM's does, by up to 30% within an hour)
slows every version alike. Printed per run: the batch's wall time and the CPU
time the whole machine spent meanwhile (user + system from /proc/stat, so the
pool processes, the sandbox and its workers are all counted; run it on an
otherwise idle machine). The summary gives each version's median and its
ratio to the first DIR's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _machine_cpu_seconds() -> float:
    """User + nice + system time of all CPUs since boot (Linux /proc/stat), in seconds."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def one_batch(root: Path, students: int, jobs: int) -> dict:
    """Grade the class with the grader in `root` (this process imports it from there); wall and CPU seconds."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from grader.batch import run_batch

    work = Path(tempfile.mkdtemp(prefix="batch-ab-"))
    try:
        folder = work / "class"
        folder.mkdir()
        for i in range(students):
            shutil.copy(root / "tests" / "fixtures" / "lab" / "correct_classic.py", folder / f"student{i + 1:02d}.py")
        cpu, start = _machine_cpu_seconds(), time.perf_counter()
        summary = run_batch(folder, "backprop-lab", work / "out", jobs=jobs, seed=1, progress=False)
        return {"wall": time.perf_counter() - start, "cpu": _machine_cpu_seconds() - cpu,
                "graded": summary.graded, "errors": summary.errors,
                "grader": str(Path(sys.modules["grader"].__file__).resolve().parents[1])}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Alternate the versions for --rounds rounds; print every run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*", type=Path, help="checkouts of the grader to compare (the first is the base)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: run one batch from this checkout
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_batch(args.one.resolve(), args.students, args.jobs)))
        return
    if not args.dirs:
        parser.error("give at least one checkout of the grader")
    dirs = [d.resolve() for d in args.dirs]
    for d in dirs:
        if not (d / "grader" / "batch").exists() and not (d / "grader" / "batch.py").exists():
            parser.error(f"{d} is not a checkout of this grader (no grader/batch)")
    runs: dict[Path, list[dict]] = {d: [] for d in dirs}
    for round_number in range(1, args.rounds + 1):
        for d in dirs:
            env = {**os.environ, "PYTHONPATH": str(d)}
            done = subprocess.run([sys.executable, __file__, "--one", str(d), "--students", str(args.students),
                                   "--jobs", str(args.jobs)], env=env, cwd=d, capture_output=True, text=True)
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                sys.exit(f"{d}: the batch failed (exit code {done.returncode}):\n{done.stderr[-2000:]}")
            run = json.loads(lines[-1])
            if Path(run["grader"]) != d:
                sys.exit(f"{d}: the batch ran the grader in {run['grader']} instead (is {d} a full checkout?)")
            runs[d].append(run)
            print(f"round {round_number} {d}: {run['wall']:.2f} s wall, {run['cpu']:.2f} s machine CPU "
                  f"({run['graded']} graded, {run['errors']} grader errors)", flush=True)
    base_wall = statistics.median(r["wall"] for r in runs[dirs[0]])
    base_cpu = statistics.median(r["cpu"] for r in runs[dirs[0]])
    for d in dirs:
        wall = statistics.median(r["wall"] for r in runs[d])
        cpu = statistics.median(r["cpu"] for r in runs[d])
        print(f"{d}: median {wall:.2f} s wall ({wall / base_wall:.2f}x), {cpu:.2f} s CPU ({cpu / base_cpu:.2f}x)")


if __name__ == "__main__":
    main()

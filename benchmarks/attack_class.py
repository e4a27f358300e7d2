"""`grader batch` on the attack class (issue 11's "done when"): status, time, marks, leftovers, file sizes.

Run: python benchmarks/attack_class.py [--settings train_timeout=10 ...] [--leave-out NAME ...] [-j 2]

Builds the class of tests/attack_class.py (every attack the repo knows for
backprop-lab plus three correct classmates) in a temporary folder and runs
``python -m grader batch FOLDER -a backprop-lab -o OUT -j JOBS`` as a
subprocess, under a launcher that is a child subreaper (every process the
batch leaves behind becomes its child). Reports: the exit status and wall
time; each classmate's score; one line per attacker (name shown safely);
processes left behind after a grace period; the largest file in OUT and in
the batch's TMPDIR (sampled every 0.5 s while it ran: the sandbox's host-side
folders live there); the pool processes' peak RSS from results.json
(``extra_data.batch.worker_peak_rss_kb``) and the largest RSS of any process
of the batch's tree (the launcher's RUSAGE_CHILDREN).

--settings replace entries of the lab's [settings] (``grader batch`` has no
such option: a local copy of the assignment is passed with --assignments).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.text import one_line  # noqa: E402
from tests.attack_class import build_attack_class, parse_settings, run_batch_subprocess  # noqa: E402

FIVE_MB = 5 * 2**20


def _mb(size: int) -> str:
    return f"{size / 2**20:.2f} MB"


def main() -> None:
    """Build the attack class, grade it with the real CLI, print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="*", default=[], metavar="KEY=VALUE",
                        help="replace [settings] of backprop-lab (e.g. train_timeout=10)")
    parser.add_argument("--leave-out", nargs="*", default=[], metavar="NAME", help="attacks to leave out")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args()
    settings = parse_settings(args.settings)
    marker = "ac" + secrets.token_hex(4)
    work = Path(tempfile.mkdtemp(prefix="attack-class-"))
    made = build_attack_class(work / "class", marker, leave_out=tuple(args.leave_out))
    print(f"class: {len(made.entries())} entries ({len(made.classmates)} classmates); "
          f"settings: {settings or 'the lab defaults'}; jobs: {args.jobs}; marker: {marker}", flush=True)
    run = run_batch_subprocess(made.folder, work / "out", work, marker=marker, settings=settings, jobs=args.jobs)
    print(f"exit status {run.returncode}, wall time {run.seconds:.1f} s")
    if run.returncode != 0:
        print("stderr (last 2000 characters, made printable):", one_line(run.stderr[-2000:]))
    rows = {row["student"]: row for row in run.gradebook()}
    results = run.results()
    print(f"gradebook rows: {len(rows)} for {len(made.entries())} entries")
    for student in made.classmates:
        row = rows.get(student, {})
        print(f"  classmate {student:22s} {row.get('score', '-'):>6s}/{row.get('max_score', '-')}  "
              f"{one_line(row.get('status', 'NO ROW'))}")
    for student, row in sorted(rows.items()):
        if student in made.classmates:
            continue
        seconds = results.get(student, {}).get("extra_data", {}).get("batch", {}).get("seconds")
        took = f"{seconds:6.1f} s" if isinstance(seconds, (int, float)) else "     - "
        print(f"  attacker  {one_line(student)[:40]:40s} {row['score'] or '-':>6s}  {took}  "
              f"{one_line(row['status'])[:110]}")
    leftovers = run.leftovers + [p for p in run.marked if p["pid"] not in {q["pid"] for q in run.leftovers}]
    print(f"processes left behind after the command returned (5 s grace): {len(leftovers)}")
    for process in leftovers:
        print(f"  pid {process['pid']} ({process['state']}) {one_line(process['name'])}: "
              f"{one_line(process['cmdline'])[:120]}")
    print(f"most processes under the batch at once: {run.most_processes}")
    size, path = run.largest_out_file
    print(f"largest file in OUT: {_mb(size)} {one_line(os.path.relpath(path, run.out)) if path else ''}"
          f"{'  OVER 5 MB' if size > FIVE_MB else ''}")
    size, path = run.largest_tmp_file
    print(f"largest file seen in the batch's TMPDIR: {_mb(size)} {one_line(os.path.relpath(path, work)) if path else ''}")
    peaks = [(r.get("extra_data", {}).get("batch", {}).get("worker_peak_rss_kb") or 0, s) for s, r in results.items()]
    if peaks:
        peak, student = max(peaks)
        print(f"grading (pool) process peak RSS: {peak / 1024:.0f} MB (reported after {one_line(student)})")
    print(f"largest RSS of any process of the batch's tree: {run.children_peak_rss_kb / 1024:.0f} MB")
    print(f"pickle payload ran on the trusted side: {'YES' if made.pwned.exists() else 'no'}")
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    if args.keep:
        print(f"kept: {work}")
    else:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

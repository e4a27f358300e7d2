"""Memory of the trusted grading process on hostile submissions (issue 11): is it under the cap?

Run: python benchmarks/memory_bench.py [--only NAME ...] [--cap-mb 512]

Each attack of tests/fixtures/attacks/ (a correct backprop-lab submission
with one attack appended) and, for comparison, the correct submission itself
is graded with ``grader grade FILE -a backprop-lab --json ...`` in a fresh
subprocess. That subprocess reports its own peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss``, read just before it exits): the
grading process only, not the zygote or the workers, which are separate
processes with limits of their own. The table shows that peak against the
cap, the wall time, the results.json size, and the score.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAP_MB = 512


def _child(submission: str, out_json: str, report: str) -> None:
    """Grade `submission` in this process (as ``python -m grader grade`` would), then write this
    process's peak RSS to `report`."""
    import runpy
    code = None
    sys.argv = ["grader", "grade", submission, "-a", "backprop-lab", "--json", out_json, "--no-color"]
    try:
        runpy.run_module("grader", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    finally:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
        Path(report).write_text(json.dumps({"peak_kb": peak_kb, "exit": code}))


def _measure(name: str, path: Path, workdir: Path) -> dict:
    out_json, report = workdir / f"{name}.results.json", workdir / f"{name}.peak.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", str(path), str(out_json), str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    row = {"name": name, "seconds": seconds, "source_mb": path.stat().st_size / 2**20}
    if report.exists():
        row.update(json.loads(report.read_text()))
    else:
        row["error"] = (done.stderr or done.stdout)[-300:]
    if out_json.exists():
        row["json_mb"] = out_json.stat().st_size / 2**20
        try:
            result = json.loads(out_json.read_text())
            row["score"] = f"{result.get('score', '?')}/{result.get('max_score', '?')}"
        except ValueError:
            row["score"] = "unreadable"
    return row


def main() -> None:
    """Grade every attack in a subprocess and print the grading process's peak memory."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="attack names to run (default: all, and the correct file)")
    parser.add_argument("--cap-mb", type=float, default=CAP_MB, help="the stated cap (default 512)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "attacks"))
    from make_attacks import attack_names, write_attacks

    names = args.only or attack_names()
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        workdir = Path(tmp)
        files = {"correct_classic": ROOT / "tests" / "fixtures" / "lab" / "correct_classic.py"} \
            if not args.only else {}
        files.update(write_attacks(workdir / "attacks", names))
        rows = []
        for name, path in files.items():
            row = _measure(name, path, workdir)
            rows.append(row)
            peak = row.get("peak_kb", 0) / 1024
            verdict = "ok" if peak and peak <= args.cap_mb else "OVER" if peak else "?"
            print(f"{name:24s} peak {peak:7.0f} MB  {verdict:4s}  {row['seconds']:6.1f} s  "
                  f"results.json {row.get('json_mb', 0):6.2f} MB  score {row.get('score', '-')}"
                  + (f"  error: {row['error']}" if "error" in row else ""), flush=True)
    over = [r["name"] for r in rows if r.get("peak_kb", 0) / 1024 > args.cap_mb]
    print(f"cap {args.cap_mb:g} MB: " + ("all under" if not over else f"over: {', '.join(over)}"))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()

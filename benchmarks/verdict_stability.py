"""Verdict stability: is every rubric item's verdict on every fixture the same whatever the seed?

Run: python benchmarks/verdict_stability.py [--seeds 100] [-j 2] [--assignment ID] [--fixture GLOB]
                                            [--json PATH] [--seed-base 0]

Issue 10: "A verdict depends on the code, not on the seed." This grades every
fixture of every assignment (tests/fixtures/<assignment>/*.py|*.ipynb and
tests/fixtures/<assignment>/verdicts/*.py: the correct styles and every bug
pattern) on N seeds and reports, for each fixture and rubric item, whether the
item's verdict (its status, passed or failed, and its score) is identical on
all of them, listing the seeds where it differs from the most common one.

The seeds are drawn from --seed-base (the same run twice grades the same
seeds); a fixture's verdicts manifest may add seeds known to have exposed a
problem (`seeds = [...]`), which are graded on top of the N.

Fixtures that only test a timeout (a train() that never returns) are graded
with a short training budget, listed in SHORT_BUDGET and printed at the start.
Support folders (`support = [...]` in a verdicts manifest) are passed as the
grader's --support.

Progress goes to stderr, the per-item table to stdout, and --json PATH writes
a summary (every verdict with its seeds, errors, timings, and the projected
time of a run with --project seeds).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import fnmatch
import json
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- the one place that knows the grading API


def grade_items(path: str, assignment: str, seed: int, settings: dict | None = None,
                support: tuple[str, ...] = ()) -> dict[str, tuple[str, float]]:
    """Grade one submission; {rubric item id: (status, score)}.

    The only call into the grader: retarget this when the grading API moves
    (grader.grading.grade).
    """
    from grader.grading import grade
    run = grade(path, assignment, seed=seed, settings=settings or None, support_dirs=tuple(support))
    return {item.id: (item.status, float(item.score)) for item in run.result.items}


# ---------------------------------------------------------------- fixtures

FIXTURES = ROOT / "tests" / "fixtures"
# Assignment id -> its fixture folder under tests/fixtures.
FOLDERS = {"backprop-lab": "lab", "backprop-exercises": "exercises", "backprop-research": "research",
           "backprop-quiz": "quiz"}
# Files in a fixture folder that are not submissions.
NOT_SUBMISSIONS = {"make_bugs.py", "make_notebook.py"}
SUBMISSION_SUFFIXES = {".py", ".ipynb"}
# Fixtures whose only point is a timeout: graded with a short budget (the verdict is "timed out" either way).
SHORT_BUDGET = {"lab/bug_infinite_loop_in_train.py": {"train_timeout": 2}}


@dataclass
class Fixture:
    """One submission to grade on every seed, and how."""

    name: str                      # "<folder>/<path below it>", e.g. "lab/verdicts/correct_cache_class.py"
    path: Path
    assignment: str
    settings: dict = field(default_factory=dict)
    support: tuple[str, ...] = ()
    extra_seeds: tuple[int, ...] = ()


def _verdict_manifest(folder: Path) -> dict[str, dict]:
    """file name -> its table in folder/MANIFEST.toml (empty when there is none)."""
    path = folder / "MANIFEST.toml"
    if not path.exists():
        return {}
    return {entry["file"]: entry for entry in tomllib.loads(path.read_text(encoding="utf-8")).values()}


def discover(assignments: list[str] | None = None, pattern: str | list[str] = "*") -> list[Fixture]:
    """Every fixture of the chosen assignments whose name matches the glob `pattern` (or one of a list of
    globs), in a stable order."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    found = []
    for assignment, folder_name in FOLDERS.items():
        if assignments and assignment not in assignments:
            continue
        for folder in (FIXTURES / folder_name, FIXTURES / folder_name / "verdicts"):
            if not folder.is_dir():
                continue
            manifest = _verdict_manifest(folder) if folder.name == "verdicts" else {}
            for path in sorted(folder.iterdir()):
                if not path.is_file() or path.suffix not in SUBMISSION_SUFFIXES or path.name in NOT_SUBMISSIONS:
                    continue
                name = path.relative_to(FIXTURES).as_posix()
                if not any(fnmatch.fnmatch(name, p) for p in patterns):
                    continue
                entry = manifest.get(path.name, {})
                support = tuple(str((folder / s).resolve()) for s in entry.get("support", []))
                found.append(Fixture(name, path, assignment, dict(SHORT_BUDGET.get(name, {})), support,
                                     tuple(int(s) for s in entry.get("seeds", []))))
    return found


def draw_seeds(n: int, base: int) -> list[int]:
    """n distinct grading seeds (31-bit, like the grader's own), the same for the same base."""
    rng = np.random.default_rng(base)
    seeds: list[int] = []
    while len(seeds) < n:
        seed = int(rng.integers(0, 2**31))
        if seed not in seeds:
            seeds.append(seed)
    return seeds


# ---------------------------------------------------------------- grading in parallel


def _init_worker() -> None:
    """Pool process set-up: Ctrl-C is the parent's; stop this process's sandbox zygote when it exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from grader.sandbox import close_shared_zygotes
    except ImportError:  # the sandbox moved: the zygote then ends with the process anyway
        return
    multiprocessing.util.Finalize(None, close_shared_zygotes, exitpriority=10)


def _grade_task(fixture: Fixture, seed: int) -> tuple[str, int, dict | None, str | None, float]:
    """(fixture name, seed, {item: (status, score)} or None, the error if grading raised, seconds)."""
    start = time.perf_counter()
    try:
        items = grade_items(str(fixture.path), fixture.assignment, seed, fixture.settings, fixture.support)
        return fixture.name, seed, items, None, time.perf_counter() - start
    except Exception:  # a grader bug: recorded as this seed's verdict, never the end of the run
        return fixture.name, seed, None, traceback.format_exc(limit=5), time.perf_counter() - start


def grade_all(fixtures: list[Fixture], seeds: list[int], jobs: int, progress=None, *,
              seed_major: bool = False) -> list[tuple]:
    """Grade every fixture on `seeds` (plus its own extra seeds) in `jobs` processes; the task results.

    `seed_major` grades every fixture on one seed before the next seed, so that a run stopped early (see
    --checkpoint) has compared every fixture on the same first seeds."""
    tasks = [(fixture, seed) for fixture in fixtures
             for seed in dict.fromkeys([*seeds, *fixture.extra_seeds])]
    if seed_major:
        order = {seed: i for i, seed in enumerate(seeds)}
        tasks.sort(key=lambda task: order.get(task[1], -1))  # listed extra seeds first: known to have exposed bugs
    if jobs <= 1:
        results = []
        for fixture, seed in tasks:
            results.append(_grade_task(fixture, seed))
            if progress:
                progress(results[-1], len(results), len(tasks))
        return results
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    results = []
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker) as pool:
        futures = [pool.submit(_grade_task, fixture, seed) for fixture, seed in tasks]
        for future in concurrent.futures.as_completed(futures):
            results.append(future.result())
            if progress:
                progress(results[-1], len(results), len(tasks))
    return results


# ---------------------------------------------------------------- comparing verdicts


def verdict_label(status: str, score: float) -> str:
    """An item's verdict as one comparable string, e.g. "failed 17.1429"."""
    return f"{status} {round(score, 4):g}"


def compare(results: list[tuple]) -> dict[str, dict]:
    """Per fixture: per item, {verdict label: [seeds]} and whether it is stable; errors by seed; mean seconds.

    An item is stable when every seed gave the same verdict; `differs` lists the
    seeds whose verdict is not the most common one.
    """
    by_fixture: dict[str, dict] = {}
    for name, seed, items, error, seconds in results:
        entry = by_fixture.setdefault(name, {"items": collections.defaultdict(dict), "errors": {}, "seeds": [],
                                             "seconds": []})
        entry["seeds"].append(seed)
        entry["seconds"].append(seconds)
        if error is not None:
            entry["errors"][seed] = error
            continue
        for item, (status, score) in items.items():
            entry["items"][item].setdefault(verdict_label(status, score), []).append(seed)
    summary = {}
    for name, entry in sorted(by_fixture.items()):
        items = {}
        for item, verdicts in entry["items"].items():
            verdicts = {label: sorted(seeds) for label, seeds in verdicts.items()}
            common = max(verdicts, key=lambda label: len(verdicts[label]))
            differs = sorted(s for label, seeds in verdicts.items() if label != common for s in seeds)
            stable = len(verdicts) == 1 and not entry["errors"]
            items[item] = {"stable": stable, "verdict": common, "verdicts": verdicts, "differs": differs}
        summary[name] = {"seeds": sorted(entry["seeds"]), "items": items,
                         "mean_seconds": round(sum(entry["seconds"]) / len(entry["seconds"]), 2),
                         "errors": {str(k): v for k, v in entry["errors"].items()},
                         "stable": all(i["stable"] for i in items.values()) and not entry["errors"]}
    return summary


def render(summary: dict[str, dict], limit: int = 12) -> str:
    """The per-fixture, per-item table: stable verdicts on one line, unstable ones with their seeds."""
    lines = []
    for name, entry in summary.items():
        flag = "stable" if entry["stable"] else "UNSTABLE"
        lines.append(f"{name}  ({len(entry['seeds'])} seeds)  {flag}")
        for item, result in entry["items"].items():
            if result["stable"]:
                lines.append(f"    {item:<22} {result['verdict']}")
                continue
            parts = []
            for label, seeds in sorted(result["verdicts"].items(), key=lambda kv: -len(kv[1])):
                shown = "" if label == result["verdict"] else ": seeds " + ", ".join(map(str, seeds[:limit])) + (
                    " ..." if len(seeds) > limit else "")
                parts.append(f"{len(seeds)}x {label}{shown}")
            lines.append(f"  ! {item:<22} " + "; ".join(parts))
        for seed, error in entry["errors"].items():
            lines.append(f"  ! grading raised on seed {seed}: {error.strip().splitlines()[-1]}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Grade, compare, print; exit 0 when every verdict is stable, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds per fixture (default 100)")
    parser.add_argument("--seed-base", type=int, default=0, help="draws the seeds (default 0)")
    parser.add_argument("--assignment", action="append", choices=sorted(FOLDERS),
                        help="only this assignment (repeatable; default: all)")
    parser.add_argument("--fixture", action="append",
                        help="glob over fixture names like lab/verdicts/bug_*.py (repeatable; default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="grading processes")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--seed-major", action="store_true",
                        help="grade every fixture on a seed before the next seed (a run stopped early is even)")
    parser.add_argument("--checkpoint", type=int, default=0, metavar="N",
                        help="with --json, also write the summary of what is done every N gradings")
    parser.add_argument("--project", type=int, default=100,
                        help="also print how long a run with this many seeds would take (default 100)")
    args = parser.parse_args(argv)

    fixtures = discover(args.assignment, args.fixture or "*")
    if not fixtures:
        parser.error(f"no fixture matches {' or '.join(args.fixture or ['*'])}")
    seeds = draw_seeds(args.seeds, args.seed_base)
    for name, settings in SHORT_BUDGET.items():
        if any(f.name == name for f in fixtures):
            print(f"short budget (only tests a timeout): {name} with {settings}", file=sys.stderr)
    extra = {f.name: f.extra_seeds for f in fixtures if f.extra_seeds}
    for name, more in extra.items():
        print(f"extra seeds from the manifest: {name}: {', '.join(map(str, more))}", file=sys.stderr)
    print(f"{len(fixtures)} fixtures x {len(seeds)} seeds, -j {args.jobs}", file=sys.stderr)

    started = time.perf_counter()

    done_so_far: list[tuple] = []

    def progress(result, done, total):
        name, seed, _items, error, seconds = result
        mark = "  raised" if error else ""
        print(f"[{done}/{total}] {name} seed={seed} {seconds:.1f} s{mark}", file=sys.stderr, flush=True)
        done_so_far.append(result)
        if args.json and args.checkpoint and done % args.checkpoint == 0:
            partial = compare(done_so_far)
            counts = sorted(len(entry["seeds"]) for entry in partial.values())
            args.json.with_suffix(".partial.json").write_text(json.dumps({
                "done": done, "total": total, "elapsed_seconds": round(time.perf_counter() - started, 1),
                "seeds_per_fixture_min": counts[0] if counts else 0,
                "unstable": [n for n, e in partial.items() if not e["stable"]], "fixtures": partial,
            }, indent=1), encoding="utf-8")

    results = grade_all(fixtures, seeds, args.jobs, progress, seed_major=args.seed_major)
    elapsed = time.perf_counter() - started
    summary = compare(results)
    print(render(summary))

    unstable = [name for name, entry in summary.items() if not entry["stable"]]
    grading_seconds = sum(r[4] for r in results)
    per_fixture_seed = elapsed / max(1, len(results))
    projected = per_fixture_seed * len(fixtures) * args.project
    print(f"\n{len(summary) - len(unstable)} of {len(summary)} fixtures stable on every seed; "
          f"{len(results)} gradings in {elapsed:.0f} s wall ({grading_seconds:.0f} s of grading, -j {args.jobs}); "
          f"{args.project} seeds would take about {projected / 60:.0f} min at -j {args.jobs}.")
    if unstable:
        print("unstable: " + ", ".join(unstable))
    if args.json:
        args.json.write_text(json.dumps({
            "seeds": seeds, "seed_base": args.seed_base, "jobs": args.jobs,
            "short_budget": SHORT_BUDGET, "extra_seeds": extra,
            "elapsed_seconds": round(elapsed, 1), "grading_seconds": round(grading_seconds, 1),
            "gradings": len(results), "projected_minutes": {str(args.project): round(projected / 60, 1)},
            "unstable": unstable, "fixtures": summary,
        }, indent=1), encoding="utf-8")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())

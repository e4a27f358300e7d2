"""Does every correct lab submission's train() learn the grader's training task, whatever the run draws?

The lab's training check (assignments/backprop-lab/checks/test_training.py)
hands train(X, Y) moons under an affine map with the labels swapped on one
side of a line, all drawn per run (reference.moons.draw_task), and asks for
more than 95% accuracy on a held-out set of the same task; a network under
the bar gets one more, independent task of the same run (a fixed
initialisation can stick in a poor local minimum on one task in about fifty).
A verdict must not depend on the seed: this script trains every correct
fixture (and the reference) on N runs' tasks, exactly as the check draws
them, and reports each one's lowest first-task accuracy, how often the
second task was needed, and every false fail (both tasks under the bar). It also runs the
pasted-weights attacks (a network fitted to plain moons, turned, shifted and
flipped by a search inside train) on the same tasks, to show they fail.

    python benchmarks/train_robustness.py --seeds 100 [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURES = sorted([*ROOT.glob("tests/fixtures/lab/correct_*.py"), *ROOT.glob("tests/fixtures/lab/correct_*.ipynb"),
                   *ROOT.glob("tests/fixtures/lab/verdicts/correct_*.py")]) + [ROOT / "reference" / "backprop_lab.py"]
ATTACKS = [ROOT / "tests" / "fixtures" / "attacks" / f"{name}.snippet" for name in ("train_pasted_rotation_search",)]
THRESHOLD = 0.95


def run_task(seed: int, attempt: int = 0) -> tuple:
    """The data of task `attempt` the training check draws for grading seed `seed` (its own draw, repeated here)."""
    import tomllib

    from reference.moons import draw_task
    settings = tomllib.loads((ROOT / "assignments" / "backprop-lab" / "assignment.toml").read_text())["settings"]
    rng = np.random.default_rng([seed, 1000 + attempt])
    train_seed, holdout_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    task = draw_task(rng, rotation_degrees=tuple(settings["moons_rotation_degrees"]),
                     stretch=tuple(settings["moons_stretch"]), shift=float(settings["moons_shift"]),
                     line_offset=float(settings["moons_line_offset"]))
    return (*task.sample(int(settings["train_samples"]), train_seed),
            *task.sample(int(settings["holdout_samples"]), holdout_seed))


def _train_function(path: Path):
    from grader.source.submission import load_submission
    source = load_submission(path).source if path.suffix != ".snippet" else \
        (ROOT / "tests/fixtures/lab/correct_classic.py").read_text() + "\n\n" + path.read_text()
    namespace = {"__name__": "submission"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, str(path), "exec"), namespace)  # our own fixtures, in this benchmark process
    return namespace["train"]


def accuracies(job: tuple[str, list[int]]) -> dict:
    """Held-out accuracy of one submission's train on each seed's task (and on the second task, when needed)."""
    import reference.backprop_lab as ref
    path, seeds = Path(job[0]), job[1]
    train = _train_function(path)
    out, second, started = {}, {}, time.perf_counter()

    def accuracy(seed: int, attempt: int) -> float:
        X, Y, X_test, Y_test = run_task(seed, attempt)
        with contextlib.redirect_stdout(io.StringIO()):
            params = train(X, Y)
        params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
        params = {k: v.reshape(-1, 1) if k.startswith("b") else v for k, v in params.items()}
        return float(np.mean(ref.predict(X_test, params) == Y_test))

    for seed in seeds:
        out[seed] = accuracy(seed, 0)
        if out[seed] <= THRESHOLD:
            second[seed] = accuracy(seed, 1)
    return {"submission": path.relative_to(ROOT).as_posix(), "accuracy": out, "second_task": second,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    """Train every correct fixture and each attack on --seeds tasks; print the lowest accuracies and false fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every accuracy here")
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = [(str(path), seeds) for path in [*FIXTURES, *ATTACKS]]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(accuracies, jobs))
    false_fails = 0
    for result in results:
        values = np.array(list(result["accuracy"].values()))
        attack = result["submission"].endswith(".snippet")
        passing = [seed for seed, acc in result["accuracy"].items()
                   if acc > THRESHOLD or result["second_task"].get(seed, 0.0) > THRESHOLD]
        failing = len(values) - len(passing)
        if not attack:
            false_fails += failing
        print(f"{result['submission']:58s} {'attack ' if attack else 'correct'} first task min {values.min():.3f} "
              f"median {np.median(values):.3f} max {values.max():.3f}, second task needed on "
              f"{len(result['second_task'])}; {'passed' if attack else 'failed'} on "
              f"{len(passing) if attack else failing} of {len(values)} seeds ({result['seconds']} s)")
    print(f"{len(FIXTURES)} correct submissions x {len(seeds)} seeds: {false_fails} false fails")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

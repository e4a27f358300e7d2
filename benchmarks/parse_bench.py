"""How long the trusted side takes to read a student's source: the load plan and the quality estimate.

    python benchmarks/parse_bench.py

Every input is one a student could hand in: ordinary files of growing size
(to show the time grows linearly), and the parsing attacks of issue 11 (an
unclosed bracket followed by thousands of bad lines, thousands of open
brackets, deep expressions). Prints the best of three runs of each.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.scoring.quality import estimate_quality  # noqa: E402
from grader.source.loadplan import plan_load  # noqa: E402

LAB = (Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lab" / "correct_classic.py").read_text()
BROKEN = LAB.replace("def compute_cost(AL, Y):", "def compute_cost(AL, Y)")


def inputs() -> dict[str, str]:
    """Name -> source."""
    cases = {}
    for copies in (1, 4, 16):
        cases[f"lab file x{copies} ({LAB.count(chr(10)) * copies} lines)"] = LAB * copies
        cases[f"broken lab file x{copies}"] = BROKEN * copies
    for lines in (2000, 8000):
        cases[f"unclosed bracket + {lines} bad lines"] = "x = (\n" + "".join(f"@@@ bad {i}\n" for i in range(lines))
        cases[f"{lines} open brackets"] = "".join(f"y{i} = [\n" for i in range(lines))
    cases["2,000-deep attribute chain"] = "X = a" + ".b" * 2000 + "\n"
    cases["20,000-term expression"] = "X = " + "+".join(["a"] * 20000) + "\n"
    return cases


def best(function, *args, repeat: int = 3) -> float:
    """The fastest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    print(f"{'input':<40} {'load plan':>10} {'quality':>10}")
    for name, source in inputs().items():
        plan = best(plan_load, source)
        quality = best(estimate_quality, source, ["linear_forward", "train"])
        print(f"{name:<40} {plan * 1000:>8.1f}ms {quality * 1000:>8.1f}ms")


if __name__ == "__main__":
    main()

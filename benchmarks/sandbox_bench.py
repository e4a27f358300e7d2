"""Sandbox speed: worker start-up from the warm zygote, and call round trips.

Run: python benchmarks/sandbox_bench.py [--n 200]

Reports medians (and p90) of:
- worker ready: fork from the warm zygote + namespaces + private tmpfs +
  cgroup + rlimits + uid drop + Landlock + seccomp + loading a 60-line
  submission, until it answers; once with no refused imports and once with
  backprop-lab's (whose Landlock rules open site-packages entry by entry to
  leave the refused packages out);
- round trip: one call with ten small arrays in and ten out, through the
  validated wire format.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.sandbox import Sandbox, SandboxConfig  # noqa: E402
from tests.sandbox_helpers import all_statements  # noqa: E402

SUBMISSION = "import numpy as np\n" + "\n".join(
    f"def f{i}(*arrays):\n    \"\"\"Return the arrays unchanged.\"\"\"\n    return arrays\n" for i in range(20))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    """Measure and print the sandbox's start-up and round-trip times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="samples per measurement")
    args = parser.parse_args()
    lab = SandboxConfig(refused_imports=("torch", "tensorflow", "jax", "autograd", "sklearn.neural_network", "keras"))
    ready_of = {}
    for label, config in (("no refused imports", SandboxConfig()), ("backprop-lab's refused imports", lab)):
        sandbox = Sandbox(SUBMISSION, all_statements(SUBMISSION), config=config)
        sandbox.ensure_loaded()  # warm the zygote (its own start-up is paid once per grading process)
        ready = ready_of[label] = []
        for _ in range(args.n):
            sandbox.close()
            start = time.perf_counter()
            sandbox.ensure_loaded()
            ready.append(time.perf_counter() - start)

    rng = np.random.default_rng(0)
    arrays = tuple(rng.standard_normal((4, 5)) for _ in range(10))
    trips = []
    for _ in range(args.n * 10):
        start = time.perf_counter()
        out = sandbox.call("f3", arrays)
        trips.append(time.perf_counter() - start)
    assert len(out.value) == 10 and np.array_equal(out.value[0], arrays[0])
    sandbox.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"kernel {platform.release()}")
    print(f"protections: {', '.join(sandbox.applied)}")
    for label, ready in ready_of.items():
        print(f"worker ready (fork + protections + load), {label}: median {statistics.median(ready) * 1e3:.2f} ms, "
              f"p90 {_pct(ready, 0.9) * 1e3:.2f} ms (n={len(ready)})")
    print(f"call round trip, 10 arrays in and out: median {statistics.median(trips) * 1e3:.3f} ms, "
          f"p90 {_pct(trips, 0.9) * 1e3:.3f} ms (n={len(trips)})")


if __name__ == "__main__":
    main()

"""How clearly the plot check's evidence separates honest figures from figures that do not draw their data.

The lab's plot check (assignments/backprop-lab/checks/test_training.py,
reference/figures.py) renders the student's figure three times and compares
pixels. This script renders every correct fixture's plot_decision_boundary
(and a few hand-written plotting styles and fakes, if given) on N runs' data
exactly as the check draws it, and prints the lowest shares of points found
and pixels explained (the check asks for 0.85 of each), the smallest
boundary change and the largest share of marks that appeared rather than
vanished (the check allows 0.1).

    python benchmarks/plot_evidence.py --seeds 30 [extra_plot_files.py ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_robustness import FIXTURES, run_task  # noqa: E402

PLOT_POINTS = 200


def render(plot, params, X, Y) -> np.ndarray:
    """The figure as the worker draws it (72 dpi, without text), checked as the trusted side checks it."""
    import matplotlib.pyplot as plt

    from grader.sandbox import rgb_pixels
    from grader.sandbox.pixels import draw_figure
    with contextlib.redirect_stdout(io.StringIO()):
        figure = plot(params, X, Y)
    pixels = rgb_pixels(draw_figure(figure)["pixels"])
    plt.close("all")
    return pixels


def evidence(path: Path, seeds: list[int]) -> list[tuple[float, float, int, float]]:
    """(points found, pixels explained, boundary pixels, new marks) of one plot function on each seed's data."""
    import matplotlib
    matplotlib.use("Agg")

    import reference.backprop_lab as ref
    from grader.source.submission import load_submission
    from reference.figures import boundary_pixels, plotted_data, point_evidence, shifted_params
    namespace = {"__name__": "submission"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(load_submission(path).source, str(path), "exec"), namespace)
    plot, out = namespace["plot_decision_boundary"], []
    for seed in seeds:
        X, Y, _, _ = run_task(seed)
        params = ref.train(X, Y, num_iterations=300)
        rng = np.random.default_rng([seed, 7])
        X, Y, keep = plotted_data(X, Y, params, ref.L_layer_forward, PLOT_POINTS, rng)  # as the check draws them
        removed = np.setdiff1d(np.arange(X.shape[1]), keep)
        full, subset = render(plot, params, X, Y), render(plot, params, X[:, keep], Y[:, keep])
        moved = render(plot, shifted_params(params, X, ref.L_layer_forward), X, Y)
        found = point_evidence(full, subset, X[:, removed])
        out.append((found.found, found.explained, boundary_pixels(full, moved), found.new_marks))
    return out


def main() -> None:
    """Print, per plot function, the weakest evidence over --seeds runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("extra", nargs="*", type=Path, help="more submissions (plotting styles, fakes)")
    args = parser.parse_args()
    for path in [*FIXTURES, *args.extra]:
        rows = np.array(evidence(path, list(range(args.seeds))))
        print(f"{path.name:36s} points found min {rows[:, 0].min():.2f}, pixels explained min "
              f"{rows[:, 1].min():.2f}, boundary pixels min {int(rows[:, 2].min())}, new marks max "
              f"{rows[:, 3].max():.2f} ({args.seeds} seeds)")


if __name__ == "__main__":
    main()

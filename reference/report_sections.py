"""The report sections of the chapter's assignments (their report_sections hooks), and the boundary picture.

`lab_sections` gives the lab's "Training and decision boundary" and
"Gradient check" sections; `gradient_sections` the exercises' gradient check.
Both read only what the checks recorded (plain data in results.json), with
the verdict bands taken from the assignment's settings.

The grader's own picture of a trained network's decision boundary: the student's figure shows what their plotting code draws; this one shows
what their returned params actually compute, drawn by trusted code, so an
instructor can compare the two at a glance. It reads plain arrays only
(never student code) and rasterises the picture with NumPy (tinted regions of
P(y=1), the 0.5 boundary in black, class-0 points as blue squares and class-1
points as red plus signs), which is fast enough to run for every student.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Mapping

import numpy as np

from grader.report.formats import number, percent, scientific, seconds, significant
from grader.report.sections import Cell, Figure, Section, Stat, Table, is_png
from reference.moons import MoonsTask, moons, rotated
from reference.networks import num_layers

# Grid size of the probability map: fine enough for a smooth contour at
# 400x300 px, coarse enough to render in a few milliseconds.
GRID_X, GRID_Y = 160, 120
# A returned network bigger than this is not something the lab asks for;
# evaluating it over the grid could take seconds and gigabytes, so we decline.
MAX_PARAMETERS = 2_000_000
# Rows of the grid evaluated at once, so that a wide hidden layer never holds
# more than about CHUNK_ELEMENTS floats in memory.
CHUNK_ELEMENTS = 4_000_000
WIDTH_PX, HEIGHT_PX, DPI = 400, 300, 100


def render_boundary_png(params: Mapping[str, Any] | None, X: Any = None, Y: Any = None) -> bytes | None:
    """PNG bytes (about 400x300 px) of the network's sigmoid output over the data, or None.

    `params` is the chapter's ``{"W1", "b1", ..., "WL", "bL"}`` as arrays or
    nested lists (ReLU hidden layers, one sigmoid output unit). `X` (2, m) and
    `Y` (1, m) are the points to show; without them a fixed moons sample
    (300 points, seed 0) is drawn. Returns None, without raising, when the
    params or data are malformed, non-finite or too large to draw.
    """
    layers = _layers(params)
    if layers is None:
        return None
    data = _data(X, Y)
    if data is None:
        return None
    X, Y = data
    # The server renders a student's full report and their public view one after the other, with the same
    # picture in both: drawing it once is enough.
    key = hashlib.sha256(b"".join(a.tobytes() + repr(a.shape).encode()
                                  for layer in layers for a in layer) + X.tobytes() + Y.tobytes()).digest()
    if key in _DRAWN:
        return _DRAWN[key]
    try:
        png = _draw(layers, X, Y)
    except (ValueError, TypeError, FloatingPointError, MemoryError, OverflowError):
        png = None
    _DRAWN.clear()  # one picture kept: the last one drawn
    _DRAWN[key] = png
    return png


_DRAWN: dict[bytes, bytes | None] = {}


def _layers(params: Any) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(W, b) per layer as float arrays when `params` is a well-formed 2-input, 1-output network."""
    if not isinstance(params, Mapping):
        return None
    count = num_layers(params)
    if count == 0 or set(params) != {f"{p}{l}" for l in range(1, count + 1) for p in "Wb"}:
        return None
    layers, n_prev, total = [], 2, 0
    for l in range(1, count + 1):
        try:
            W = np.asarray(params[f"W{l}"], dtype=float)
            b = np.asarray(params[f"b{l}"], dtype=float)
        except (ValueError, TypeError, OverflowError):
            return None  # ragged nested lists, strings, objects
        if W.ndim != 2 or W.shape[1] != n_prev or W.shape[0] == 0 or b.size != W.shape[0]:
            return None
        total += W.size + b.size
        if total > MAX_PARAMETERS or not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            return None
        layers.append((W, b.reshape(-1, 1)))
        n_prev = W.shape[0]
    return layers if n_prev == 1 else None


def _data(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The points to scatter: the given (X, Y) when well-formed, else None; moons when none given."""
    if X is None:
        return moons(300, 0)
    try:
        X = np.asarray(X, dtype=float)
        Y = np.zeros((1, X.shape[1])) if Y is None else np.asarray(Y, dtype=float).reshape(1, -1)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if X.ndim != 2 or X.shape[0] != 2 or X.shape[1] == 0 or Y.shape[1] != X.shape[1]:
        return None
    if not np.all(np.isfinite(X)):
        return None
    return X, Y


def _probabilities(layers: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> np.ndarray:
    """sigmoid(L-layer ReLU forward) of `grid` (2, n), evaluated in column chunks to bound memory."""
    widest = max(W.shape[0] for W, _ in layers)
    step = max(1, CHUNK_ELEMENTS // widest)
    out = np.empty(grid.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, grid.shape[1], step):
            A = grid[:, start:start + step]
            for W, b in layers[:-1]:
                A = np.maximum(W @ A + b, 0.0)
            W, b = layers[-1]
            Z = np.clip(W @ A + b, -500.0, 500.0)  # exp overflows beyond ~709; the sigmoid is flat there anyway
            out[start:start + step] = 1.0 / (1.0 + np.exp(-Z.ravel()))
    if not np.all(np.isfinite(out)):
        raise ValueError("the network's output is not finite on the plotting grid")
    return out


# Colours: class 0 blue, class 1 red (ColorBrewer RdBu ends), each point class also
# has its own marker shape (square, plus) so the picture survives grayscale print.
_BLUE, _RED = np.array([33, 102, 172]), np.array([178, 24, 43])
_TINT = 0.45  # how strongly a region is tinted at probability 0 or 1


def _draw(layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, Y: np.ndarray) -> bytes:
    """Rasterise P(y=1) over the data's box, the 0.5 boundary and the points; PNG bytes.

    Drawn pixel by pixel with NumPy rather than with matplotlib: it runs once
    per student in a batch, and a contour plot costs about 0.1 s where this
    costs under 20 ms (PNG encoding included).
    """
    from grader.sandbox.pixels import png_bytes

    pad = 0.5
    x_lo, x_hi = X[0].min() - pad, X[0].max() + pad
    y_lo, y_hi = X[1].min() - pad, X[1].max() + pad
    # Row 0 is the top of the picture, so y runs from high to low.
    xs = np.linspace(x_lo, x_hi, GRID_X)
    ys = np.linspace(y_hi, y_lo, GRID_Y)
    xx, yy = np.meshgrid(xs, ys)
    p = _probabilities(layers, np.vstack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    # Each grid cell's tint is computed once, then the cells are repeated up to the picture's size (nearest
    # neighbour): the same pixels as tinting the upsampled picture, for a sixth of the arithmetic.
    above = p >= 0.5
    strength = (_TINT * np.abs(2.0 * p - 1.0))[..., None]
    colour = np.where(above[..., None], _RED, _BLUE)
    tinted = (255.0 * (1.0 - strength) + colour * strength).astype(np.uint8)
    rows = np.minimum((np.arange(HEIGHT_PX) * GRID_Y) // HEIGHT_PX, GRID_Y - 1)
    cols = np.minimum((np.arange(WIDTH_PX) * GRID_X) // WIDTH_PX, GRID_X - 1)
    cells = np.ix_(rows, cols)
    image = tinted[cells]
    side = above[cells]
    edge = np.zeros_like(side)
    edge[:, 1:] |= side[:, 1:] != side[:, :-1]
    edge[1:, :] |= side[1:, :] != side[:-1, :]
    image[edge] = 0

    px = np.round((X[0] - x_lo) / (x_hi - x_lo) * (WIDTH_PX - 1)).astype(int)
    py = np.round((y_hi - X[1]) / (y_hi - y_lo) * (HEIGHT_PX - 1)).astype(int)
    labels = Y.ravel() > 0.5
    blue = ~labels
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            image[np.clip(py[blue] + dy, 0, HEIGHT_PX - 1), np.clip(px[blue] + dx, 0, WIDTH_PX - 1)] = _BLUE // 2
    for d in (-2, -1, 0, 1, 2):
        image[np.clip(py[labels] + d, 0, HEIGHT_PX - 1), np.clip(px[labels], 0, WIDTH_PX - 1)] = _RED // 2 + 60
        image[np.clip(py[labels], 0, HEIGHT_PX - 1), np.clip(px[labels] + d, 0, WIDTH_PX - 1)] = _RED // 2 + 60
    return png_bytes(image)


# ---------------------------------------------------------------- report sections

# A recorded figure larger than this is not a plot of the moons.
MAX_FIGURE_BYTES = 3 * 1024 * 1024


def lab_sections(checks: list[dict], settings: dict) -> list[Section]:
    """The lab's sections: training and its decision boundaries, then the gradient check table."""
    return [s for s in (training_section(checks), gradient_section(checks, settings)) if s is not None]


def gradient_sections(checks: list[dict], settings: dict) -> list[Section]:
    """The exercises' section: the gradient check table."""
    section = gradient_section(checks, settings)
    return [section] if section is not None else []


def _details_with(checks: list[dict], key: str) -> tuple[dict, dict] | tuple[None, None]:
    """The first check whose details hold `key`, with those details."""
    for check in checks:
        details = check.get("details") if isinstance(check, dict) else None
        if isinstance(details, dict) and details.get(key) not in (None, [], {}):
            return check, details
    return None, None


def _status_words(check: dict | None) -> str:
    status = str((check or {}).get("status", ""))
    return {"passed": "✓ passed", "failed": "✗ failed", "error": "⚠ error", "timeout": "◔ timed out",
            "skipped": "↷ not graded", "not_run": "∅ did not run"}.get(status, status or "unknown")


def _student_figure_alt(figure: dict | None, check: dict | None) -> str:
    """What the student's own figure shows, from what the figure check counted in it (differs per student)."""
    summary = (figure or {}).get("figure_summary")
    words = "Your plot_decision_boundary figure"
    if check is not None:
        words += f", whose check {_status_words(check).split(' ', 1)[-1]}"
    evidence = (figure or {}).get("figure_evidence")
    if isinstance(evidence, dict) and isinstance(evidence.get("points_found"), (int, float)):
        # The plot check's own pixel evidence (reference/figures.py), not the worker's word.
        words += f": {percent(evidence['points_found'])} of the data points checked appear where they belong"
    elif isinstance(summary, dict):
        parts = [f"{summary.get(key)} {label}" for key, label in
                 (("axes", "axes"), ("points", "plotted data points"), ("filled_regions", "filled regions"),
                  ("lines", "lines"), ("images", "images")) if isinstance(summary.get(key), int)]
        if parts:
            words += ": it holds " + ", ".join(parts)
    return words + "."


def _boundary_alt(accuracy: dict, degrees: float | None) -> str:
    """What the grader's drawing of the student's boundary shows, with this student's numbers."""
    words = "The grader's drawing of the decision boundary your trained network computes on the moons data"
    if degrees is not None:
        words += f" turned by {degrees:g} degrees"
    elif isinstance(accuracy.get("moons_task"), dict):
        words += " made like this run's data (turned, stretched, shifted, labels swapped beyond a line)"
    held_out = number(accuracy.get("accuracy"))
    if held_out is not None:
        words += f"; it classifies {percent(held_out)} of held-out points correctly"
        words += (", so the boundary separates the two moons" if held_out > 0.95
                  else ", so the boundary does not separate the two moons well")
    return words + "."


_PLOT_CHECK = "test_plot_decision_boundary"  # the plot check's id (checks/test_training.py)


def training_section(checks: list[dict]) -> Section | None:
    """Accuracy, training time and both decision-boundary pictures, when the training checks recorded them."""
    accuracy_check, accuracy = _details_with(checks, "accuracy")
    figure_check, figure = _details_with(checks, "images")
    params_check, params = _details_with(checks, "params")
    if accuracy_check is None and figure_check is None and params_check is None:
        return None
    accuracy = accuracy or {}
    degrees = number((params or accuracy).get("moons_rotation_degrees"))
    stats = [Stat("held-out accuracy", percent(accuracy.get("accuracy")), accuracy.get("accuracy")),
             Stat("training accuracy", percent(accuracy.get("train_accuracy")), accuracy.get("train_accuracy")),
             Stat("training time", seconds(accuracy.get("train_seconds")), accuracy.get("train_seconds"))]
    if degrees is not None:
        stats.append(Stat("moons rotated by", f"{degrees:g}°", degrees))
    stand_in = accuracy.get("with_grader_passes")
    if isinstance(stand_in, dict):
        # Training judged around the grader's passes because the student's own fail their checks (stand_in.py).
        stats.append(Stat("your train() with the grader's forward and backward passes",
                          percent(stand_in.get("accuracy")), stand_in.get("accuracy")))
    if accuracy_check is not None:
        stats.append(Stat("accuracy check", _status_words(accuracy_check)))
    _, plot_stand_in = _details_with(checks, "with_grader_forward")
    if (plot_stand_in or {}).get("with_grader_forward") is True:
        # Through the student's own failing forward pass the figure showed no boundary (or could not be drawn); the
        # plot check judged it again with the grader's forward pass in place of theirs (stand_in.py).
        stats.append(Stat("your plot judged with", "the grader's forward pass (yours fails its own checks)"))
    student_png, note = _recorded_png(((figure or {}).get("images") or {}).get("student_decision_boundary")
                                      if isinstance((figure or {}).get("images"), dict) else None)
    if not any(_PLOT_CHECK in str(check.get("check_id", "")) for check in checks if isinstance(check, dict)):
        # Only some checks ran or are shown (`grader check`, a course's feedback before grades are released).
        note = ("Your figure is judged by the plot check, which is not among the checks shown here; it appears "
                "with the full report.")
    figure_status = f" ({_status_words(figure_check)})" if figure_check else ""
    grader_png = None
    task = _recorded_task((params or accuracy).get("moons_task"))
    if params is not None and isinstance(params.get("params"), dict):
        sample = task.sample(300, 0) if task is not None else moons(300, 0)
        X = rotated(sample[0], degrees) if degrees is not None and task is None else sample[0]
        grader_png = render_boundary_png(params["params"], X, sample[1])
    turned = " made like this run's data" if task is not None else \
        " turned like this run's data" if degrees is not None else ""
    figures = [
        Figure(student_png, _student_figure_alt(figure, figure_check),
               f"Your figure: what plot_decision_boundary(params, X, Y) returned{figure_status}, as the plot check "
               "judges it: drawn at 72 dpi without its text, legends and axes (titles, labels, legends and ticks "
               "show neither the data nor the boundary).",
               missing=note or "No figure from your plot_decision_boundary."),
        Figure(grader_png, _boundary_alt(accuracy, degrees),
               "The grader's drawing: the probability your trained network gives to class 1 (red tint) or 0 "
               f"(blue tint), its 0.5 boundary in black, and a fixed moons sample{turned} (class 0 as squares, "
               "class 1 as plus signs).",
               missing=("Your trained params could not be drawn." if params is not None
                        else "train(X, Y) returned no usable params."), width=WIDTH_PX, height=HEIGHT_PX),
    ]
    return Section("training", "Training and decision boundary", stats=stats, figures=figures,
                   shows_details=("params", "accuracy", "train_accuracy", "train_seconds", "with_grader_passes",
                                  "with_grader_forward", "moons_rotation_degrees", "moons_task"))


def _recorded_task(data: Any) -> MoonsTask | None:
    """The run's training task as the accuracy check recorded it (None when absent or unreadable)."""
    try:
        return MoonsTask.from_dict(data) if isinstance(data, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _recorded_png(encoded: Any) -> tuple[bytes | None, str]:
    """The PNG bytes of a base64 figure a check recorded, or (None, why not)."""
    if not encoded:
        return None, "No figure was recorded."
    if not isinstance(encoded, str) or len(encoded) > MAX_FIGURE_BYTES * 4 // 3 + 4:
        return None, "The figure was too large to embed."
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, "The recorded figure was not valid base64."
    if not is_png(data):
        return None, "The recorded figure was not a PNG image."
    return data, ""


def _band(value: Any, correct_below: float, bug_above: float) -> tuple[str, str, str]:
    """(band, icon, words) of a relative difference under the chapter's verdict bands."""
    found = number(value)
    bug = ("bug", "✗", f"a bug (> {bug_above:g})")
    if found is None:
        return bug if isinstance(value, str) and value.strip().lower() in ("inf", "infinity") \
            else ("bug", "✗", "not computed")
    if found < correct_below:
        return "ok", "✓", f"correct (< {correct_below:g})"
    if found > bug_above:
        return bug
    return "suspicious", "?", f"suspicious ({correct_below:g} to {bug_above:g})"


def gradient_section(checks: list[dict], settings: dict) -> Section | None:
    """The per-parameter gradient-check table with each relative difference's verdict band."""
    _, details = _details_with(checks, "gradient_table")
    if details is None:
        return None
    correct_below = float(settings.get("gradient_tolerance", 1e-7))
    bug_above = float(settings.get("planted_bug_threshold", 1e-3))
    rows, bands = [], []
    table = details.get("gradient_table")
    for row in (table if isinstance(table, list) else [])[:200]:
        if not isinstance(row, dict):
            continue
        band, icon, words = _band(row.get("relative_difference"), correct_below, bug_above)
        rows.append([Cell(str(row.get("parameter"))[:100], row_header=True),
                     Cell(significant(row.get("backprop_norm")), repr(row.get("backprop_norm")), numeric=True),
                     Cell(significant(row.get("numerical_norm")), repr(row.get("numerical_norm")), numeric=True),
                     Cell(scientific(row.get("relative_difference")), repr(row.get("relative_difference")),
                          band=band, numeric=True),
                     Cell(words, band=band, icon=icon)])
        bands.append(band)
    overall = details.get("overall_relative_difference")
    band, icon, words = _band(overall, correct_below, bug_above)
    return Section(
        "gradcheck", "Gradient check",
        intro="Your backprop gradients compared with two-sided numerical gradients (ε = 1e-7), on the network "
              "the gradient check above names.",
        stats=[Stat("Overall relative difference:", f"{scientific(overall)} — {words}", repr(overall), band, icon)],
        legend=[("ok", f"✓ below {correct_below:g}: correct"),
                ("suspicious", f"? {correct_below:g} to {bug_above:g}: suspicious"),
                ("bug", f"✗ above {bug_above:g}: a bug")],
        table=Table(["Parameter", "‖backprop‖", "‖numerical‖", "Relative difference", "Verdict"], rows, bands,
                    empty="No per-parameter table: the gradients did not have their parameters' shapes."),
        shows_details=("gradient_table", "overall_relative_difference"))


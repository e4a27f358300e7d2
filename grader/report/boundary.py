"""The grader's own picture of a trained network's decision boundary.

The student's figure shows what their plotting code draws; this one shows
what their returned params actually compute, drawn by trusted code, so an
instructor can compare the two at a glance. It reads plain arrays only
(never student code) and rasterises the picture with NumPy (tinted regions of
P(y=1), the 0.5 boundary in black, class-0 points as blue squares and class-1
points as red plus signs), which is fast enough to run for every student.
"""

from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np

# Grid resolution of the probability map: fine enough for a smooth contour at
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
    try:
        return _draw(layers, X, Y)
    except (ValueError, TypeError, FloatingPointError, MemoryError, OverflowError):
        return None


def _layers(params: Any) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(W, b) per layer as float arrays when `params` is a well-formed 2-input, 1-output network."""
    if not isinstance(params, Mapping):
        return None
    count = sum(1 for key in params if isinstance(key, str) and key.startswith("W") and key[1:].isdigit())
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
        from reference.moons import moons
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
    costs a few milliseconds.
    """
    from PIL import Image

    pad = 0.5
    x_lo, x_hi = X[0].min() - pad, X[0].max() + pad
    y_lo, y_hi = X[1].min() - pad, X[1].max() + pad
    # Row 0 is the top of the picture, so y runs from high to low.
    xs = np.linspace(x_lo, x_hi, GRID_X)
    ys = np.linspace(y_hi, y_lo, GRID_Y)
    xx, yy = np.meshgrid(xs, ys)
    probability = _probabilities(layers, np.vstack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    # Upsample the grid to the picture by repetition (nearest neighbour).
    rows = np.minimum((np.arange(HEIGHT_PX) * GRID_Y) // HEIGHT_PX, GRID_Y - 1)
    cols = np.minimum((np.arange(WIDTH_PX) * GRID_X) // WIDTH_PX, GRID_X - 1)
    p = probability[np.ix_(rows, cols)]

    strength = (_TINT * np.abs(2.0 * p - 1.0))[..., None]
    colour = np.where((p >= 0.5)[..., None], _RED, _BLUE)
    image = (255.0 * (1.0 - strength) + colour * strength).astype(np.uint8)
    side = p >= 0.5
    edge = np.zeros_like(side)
    edge[:, 1:] |= side[:, 1:] != side[:, :-1]
    edge[1:, :] |= side[1:, :] != side[:-1, :]
    image[edge] = 0

    px = np.round((X[0] - x_lo) / (x_hi - x_lo) * (WIDTH_PX - 1)).astype(int)
    py = np.round((y_hi - X[1]) / (y_hi - y_lo) * (HEIGHT_PX - 1)).astype(int)
    labels = Y.ravel() > 0.5
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            blue = ~labels
            image[np.clip(py[blue] + dy, 0, HEIGHT_PX - 1), np.clip(px[blue] + dx, 0, WIDTH_PX - 1)] = _BLUE // 2
    for d in (-2, -1, 0, 1, 2):
        image[np.clip(py[labels] + d, 0, HEIGHT_PX - 1), np.clip(px[labels], 0, WIDTH_PX - 1)] = _RED // 2 + 60
        image[np.clip(py[labels], 0, HEIGHT_PX - 1), np.clip(px[labels] + d, 0, WIDTH_PX - 1)] = _RED // 2 + 60
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def is_png(data: Any) -> bool:
    """True when `data` starts with the PNG signature (used before embedding bytes as an image)."""
    return isinstance(data, (bytes, bytearray)) and bytes(data[:8]) == b"\x89PNG\r\n\x1a\n"


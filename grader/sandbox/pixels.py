"""A returned figure as pixels: drawn in the worker, checked and (for a report) encoded on the trusted side.

The worker draws the figure a student's function returned (`draw_figure`,
run in the worker) and sends a raw RGBA array; the trusted side checks its
type, shape and size (`rgb_pixels`) and judges the pixels itself. No image
format crosses: nothing shaped by the student's process reaches an image
decoder on the trusted side. The picture a report shows is those checked
pixels, encoded to PNG here (`png_bytes`).

The figure is drawn without text, legends and axis decorations (tick
marks and labels, titles, annotations): they show neither the data nor the
boundary, and drawing text is most of the time a figure takes to draw (at
72 dpi a usual plot draws in 25 ms without text, 80 ms with it). A legend
placed "best" also moves with the points drawn, which the plot check would
read as a change in the data.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

DPI = 72
MAX_PIXELS = 4_000_000             # 2000 x 2000: a 72-dpi matplotlib figure is about 460 x 345


def draw_figure(figure: Any) -> dict:
    """Run in the worker: {"is_figure", and "type" or "pixels"} for a value a student's function returned.

    ``pixels`` is the figure drawn at `DPI` without text, legends or axis
    decorations, or None when it is over `MAX_PIXELS` (checked before
    anything is drawn).
    """
    try:
        from matplotlib.axis import Axis
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.legend import Legend
        from matplotlib.text import Text
    except ImportError:  # no matplotlib: nothing can be a figure
        Figure = ()
    if not isinstance(figure, Figure):
        return {"is_figure": False, "type": type(figure).__name__[:80]}
    figure.set_dpi(DPI)
    _hide(figure, (Axis, Text, Legend))
    return {"is_figure": True, "pixels": _drawn(FigureCanvasAgg(figure))}


def _hide(artist: Any, hidden: tuple[type, ...]) -> None:
    """Hide every artist of the `hidden` types under `artist` (texts, axes, legends), and what they hold; every
    text a drawing adds belongs to an axis (tick labels, offsets) and is hidden with it.

    An axis is hidden without looking inside: asking it for its children
    makes its tick objects, which took most of the time (45 of 56 ms per figure)
    that `Artist.findobj` spent hiding the same artists.
    """
    stack, seen = [artist], {id(artist)}
    while stack:
        for child in stack.pop().get_children():
            if id(child) in seen:
                continue  # a student's artist may list itself among its children
            seen.add(id(child))
            if isinstance(child, hidden):
                child.set_visible(False)
            else:
                stack.append(child)


def _drawn(canvas: Any) -> np.ndarray | None:
    """The canvas's figure drawn, as a (height, width, 4) uint8 array; None when it is over the pixel cap."""
    width, height = canvas.get_width_height()
    if not (0 < width and 0 < height and width * height <= MAX_PIXELS):
        return None
    canvas.draw()
    return np.array(canvas.buffer_rgba(), dtype=np.uint8, copy=True)


def rgb_pixels(value: Any, *, max_pixels: int = MAX_PIXELS) -> np.ndarray | None:
    """The worker's RGBA array as RGB on white, shape (height, width, 3) uint8; None unless it is exactly that.

    Anything else (another type, dtype or shape, an empty or oversized
    image) is None: the plot check then says the figure could not be drawn.
    Transparency is composited onto white, as a viewer shows it.
    """
    if type(value) is not np.ndarray or value.dtype != np.uint8 or value.ndim != 3 or value.shape[2] != 4:
        return None
    height, width = value.shape[:2]
    if height == 0 or width == 0 or height * width > max_pixels:
        return None
    alpha = value[..., 3:4]
    if alpha.min() == 255:
        return np.ascontiguousarray(value[..., :3])
    a = alpha.astype(np.uint16)
    blended = (value[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return blended.astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """RGB pixels (checked ones from `rgb_pixels`, or a picture the grader drew) encoded as a PNG, for a
    report to embed."""
    from PIL import Image  # Pillow comes with matplotlib

    buffer = io.BytesIO()
    # Level 3, not Pillow's 6: half the time (a batch encodes two pictures per student) for files about a
    # fifth larger (a 432 x 324 figure 19 KB instead of 16 KB).
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()

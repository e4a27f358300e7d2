"""Decode a figure's PNG on the trusted side, with caps checked before any pixel is decompressed.

The worker renders a returned figure to PNG; those bytes are the only thing
the trusted side keeps of a figure (what the worker says about the figure is
the student's word). A plot check decodes them here and inspects the pixels
itself. The PNG header's width and height are read from the raw bytes and
checked against a pixel cap before Pillow sees the data, so a small file that
inflates to gigabytes (a decompression bomb) is refused unopened.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 4 * 2**20          # the worker drops larger renderings; the trusted side refuses them too
MAX_PIXELS = 4_000_000             # 2000 x 2000: a 72-dpi matplotlib figure is about 460 x 345


class ImageError(ValueError):
    """The bytes are not a PNG the grader will decode; the message says why (for the student)."""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, read from the raw bytes without decoding anything."""
    if not isinstance(data, (bytes, bytearray)) or not data.startswith(PNG_SIGNATURE):
        raise ImageError("the figure's image is not a PNG")
    if len(data) < 33 or data[12:16] != b"IHDR" or struct.unpack(">I", data[8:12])[0] != 13:
        raise ImageError("the figure's PNG has no valid header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decode_png(data: bytes, *, max_bytes: int = MAX_PNG_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The PNG's pixels as an RGB array of shape (height, width, 3), dtype uint8.

    Raises `ImageError` for anything over `max_bytes` or `max_pixels`, or not
    a well-formed PNG; transparency is composited onto white, as a viewer would.
    """
    if len(data) > max_bytes:
        raise ImageError(f"the figure's PNG is {len(data)} bytes; the limit is {max_bytes}")
    width, height = png_size(data)
    if width == 0 or height == 0 or width * height > max_pixels:
        raise ImageError(f"the figure is {width} x {height} pixels; the limit is {max_pixels} pixels")
    from PIL import Image  # Pillow comes with matplotlib

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                if image.size != (width, height):
                    raise ImageError("the figure's PNG header does not match its image")
                image.load()
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    rgba = image.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    rgb = Image.alpha_composite(background, rgba).convert("RGB")
                else:
                    rgb = image.convert("RGB")
                pixels = np.array(rgb, dtype=np.uint8)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            MemoryError, struct.error) as exc:
        raise ImageError(f"the figure's PNG could not be decoded ({type(exc).__name__})") from None
    if pixels.shape != (height, width, 3):
        raise ImageError("the figure's PNG decoded to an unexpected shape")
    return pixels

"""Plain-text helpers shared by every layer that shows text to a person."""

from __future__ import annotations


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line (runs of whitespace become one space), cut to `limit` characters with "..."."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."

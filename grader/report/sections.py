"""Extra sections of a student's HTML report that an assignment contributes through its report_sections hook.

The engine knows nothing of any assignment's pictures or tables: a hook
builds `Section`s from the recorded check outcomes (plain dicts) and the
assignment's settings, and the report renders them with one generic layout.
All text is plain text (the page escapes it); images are PNG bytes, checked
and embedded by the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stat:
    """One labelled value in the section's summary line ("held-out accuracy 97.3%").

    `value` is the exact number behind the text (a ``data-value`` attribute
    for scripts and tests); `band` styles it as "ok", "suspicious" or "bug";
    `icon` is a glyph shown before the text, hidden from screen readers.
    """

    label: str
    text: str
    value: Any = None
    band: str = ""
    icon: str = ""


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(data: Any) -> bool:
    """True when `data` is bytes starting with the PNG signature (checked before bytes are embedded as an image)."""
    return isinstance(data, (bytes, bytearray)) and bytes(data[:8]) == PNG_SIGNATURE


@dataclass
class Figure:
    """An image with its caption; `missing` is shown instead when `png` is None."""

    png: bytes | None
    alt: str
    caption: str
    missing: str = "No image."
    width: int | None = None
    height: int | None = None


@dataclass
class Cell:
    """One table cell: its text, the exact value behind it, a band, whether it heads its row."""

    text: str
    value: Any = None
    band: str = ""
    icon: str = ""
    numeric: bool = False
    row_header: bool = False


@dataclass
class Table:
    """A small table: column headings, rows of cells (each row may carry a band), and what to say when empty."""

    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    row_bands: list[str] = field(default_factory=list)
    empty: str = ""


@dataclass
class Section:
    """One report section: a heading, a paragraph, a summary line, a legend, figures and a table."""

    id: str
    title: str
    intro: str = ""
    stats: list[Stat] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)   # (band, words)
    figures: list[Figure] = field(default_factory=list)
    table: Table | None = None
    # Detail keys of checks this section shows, so the check cards do not repeat them.
    shows_details: tuple[str, ...] = ()

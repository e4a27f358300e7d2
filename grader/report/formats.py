"""How numbers read in the reports: points, percentages, seconds, scientific notation.

Every function takes any value (results.json may hold strings, null, NaN or
the string "inf") and returns display text; none raises.
"""

from __future__ import annotations

import math
from typing import Any

from grader.report import format_points


def number(value: Any) -> float | None:
    """`value` as a finite float, or None (JSON from elsewhere may hold strings, null, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def infinite(value: Any) -> bool:
    """True for an infinity, also as results.json stores it (the string "inf": JSON has no infinity)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isinf(value)


def points(value: Any) -> str:
    """A score as people write it: 20, 17.5, 16.67 (two decimals at most); an em dash when missing."""
    found = number(value)
    if found is None:
        return "—"
    text = format_points(found)
    return "0" if text == "-0" else text


def scientific(value: Any) -> str:
    """1.23e-09; an infinity as ∞; a dash when missing."""
    found = number(value)
    if found is None:
        return "∞" if infinite(value) else "—"
    return f"{found:.2e}"


def significant(value: Any) -> str:
    """Six significant digits; an infinity as ∞; a dash when missing."""
    found = number(value)
    if found is None:
        return "∞" if infinite(value) else "—"
    return f"{found:.6g}"


def percent(value: Any) -> str:
    """A share as a percentage with up to two decimals, rounded down.

    Rounded down so that an accuracy just under a bar (0.94996 against 95%)
    never reads as reaching it.
    """
    found = number(value)
    if found is None:
        return "—"
    floored = math.floor(found * 10_000 + 1e-6) / 100  # the 1e-6 absorbs float noise such as 0.29 * 10000
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


def seconds(value: Any) -> str:
    """3.25 s, or 12.5 s above ten seconds; a dash when missing."""
    found = number(value)
    return "—" if found is None else (f"{found:.2f} s" if found < 10 else f"{found:.1f} s")

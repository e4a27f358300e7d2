"""Renderings of a graded result: terminal summary, Gradescope results.json, HTML.

Each module only renders a `grader.model.GradeResult` (or the results.json
dict made from one); none of them changes a score or a verdict.
"""

from __future__ import annotations

from grader.model import PASSED, CheckOutcome


def format_points(value: float) -> str:
    """Points as people write them: at most two decimals, no trailing zeros ("7.5", "14.29", "20")."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def status_label(outcome: CheckOutcome) -> str:
    """How a check that did not earn full credit is labelled: its status, or "partial credit 40%"."""
    return outcome.status if outcome.status != PASSED else f"partial credit {outcome.fraction:.0%}"

"""What a running check may attach to its own outcome: details for the reports, partial credit."""

from __future__ import annotations

from typing import Any


def record(request: Any, **details: Any) -> None:
    """Attach JSON-able details to the running check's outcome (gradient tables, images, timings)."""
    node = request.node
    existing = getattr(node, "grading_details", {})
    existing.update(details)
    node.grading_details = existing


def partial_credit(request: Any, fraction: float) -> None:
    """Give the running check a share of its credit (for checks graded in steps)."""
    request.node.grading_fraction = float(fraction)

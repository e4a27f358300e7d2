"""What a running check may attach to its own outcome: details for the reports, partial credit."""

from __future__ import annotations

import json
from typing import Any

# What one check may record, as results.json writes it (indented JSON): a value that would take the check's
# details past this is left out with a note. Details can hold what student code returned (a trained network
# of 200,000 units made a 40 MB results.json); the largest legitimate one is a figure (3 MB of PNG, 4 as base64).
MAX_DETAILS_BYTES = 4 * 2**20 + 2**16


def record(request: Any, **details: Any) -> None:
    """Attach JSON-able details to the running check's outcome (gradient tables, images, timings); a value
    that would take the check's details past MAX_DETAILS_BYTES is replaced by a note saying so."""
    node = request.node
    existing = getattr(node, "grading_details", {})
    used = getattr(node, "grading_details_bytes", 0)
    for key, value in details.items():
        size = len(json.dumps(value, indent=2, default=str))
        if used + size > MAX_DETAILS_BYTES:
            value = (f"(left out: {size / 2**20:.1f} MB as JSON, more than the "
                     f"{MAX_DETAILS_BYTES / 2**20:.0f} MB a check may record)")
            size = len(value)
        existing[key] = value
        used += size
    node.grading_details = existing
    node.grading_details_bytes = used


def partial_credit(request: Any, fraction: float) -> None:
    """Give the running check a share of its credit (for checks graded in steps)."""
    request.node.grading_fraction = float(fraction)

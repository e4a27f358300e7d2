"""Renderings of a graded result: terminal summary, Gradescope results.json, HTML.

Each module only renders a `grader.rubric.GradeResult`; none of them changes
a score or a verdict.
"""


def format_points(value: float) -> str:
    """Points as people write them: at most two decimals, no trailing zeros ("7.5", "14.29", "20")."""
    return f"{value:.2f}".rstrip("0").rstrip(".")

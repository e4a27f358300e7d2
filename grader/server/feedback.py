"""The feedback policy applied to a graded result: what a student may see before grades are released.

Before release a student sees the public checks only (the ones `grader
check` runs) and a score that counts only them, saying so. `public_view`
re-scores the stored check outcomes with the assignment's rubric restricted
to the public checks: an item none of whose checks is public is left out
(its points are decided by hidden checks), an item with some public checks is
scored on those alone, and the code-quality estimate (read from the source,
no hidden input) keeps its score. Hidden checks' titles, messages and details
and the run's seed never appear in the public view.

Both views are rendered where the grading ran (`render_views`), so the
server process only stores and serves text.
"""

from __future__ import annotations

from typing import Any

from grader.config.rubric import Rubric, rubric_for
from grader.model import GradeResult
from grader.scoring.stored import rescore as stored_rescore

PUBLIC, FULL = "public", "full"
# extra_data keys the public view drops: the seed (hidden inputs are drawn from it) and the batch record.
_HIDDEN_EXTRA = ("seed", "batch")


def rescore(results: dict, rubric: Rubric, *, public_only: bool) -> GradeResult:
    """The `GradeResult` of a stored results.json dict, re-scored on all its checks or on the public ones."""
    result = stored_rescore(results, rubric, public_only=public_only)
    extra = results.get("extra_data") or {}
    hidden = ("checks", "rubric_items", "metadata") + (_HIDDEN_EXTRA if public_only else ())
    result.metadata.update({k: v for k, v in extra.items() if k not in hidden})
    return result


def public_view(results: dict, rubric: Rubric) -> tuple[dict, GradeResult]:
    """The results.json dict a student may see before release, and its `GradeResult`."""
    from grader.report.results_json import to_results_json
    result = rescore(results, rubric, public_only=True)
    extra = results.get("extra_data") or {}
    hidden = [item.title for item in rubric.items if item.id not in {i.id for i in result.items}]
    note = (f"Before grades are released, this score counts the public checks only ({result.score:g} of "
            f"{result.max_score:g} points from them); hidden checks decide the grade. ")
    if hidden:
        note += f"Items graded by hidden checks only, not shown yet: {', '.join(hidden)}."
    kept = {k: v for k, v in extra.items() if k not in _HIDDEN_EXTRA + ("checks", "rubric_items", "metadata",
                                                                       "assignment", "grader_version")}
    kept.update({"feedback": PUBLIC, "hidden_items": hidden})
    output = "\n".join(part for part in (note.strip(), str(results.get("output") or "")) if part)
    data = to_results_json(result, execution_time=float(results.get("execution_time") or 0.0), output=output,
                           extra=kept)
    return data, result


def render_views(outcome: dict, assignment_id: str, student: str | None) -> dict:
    """Add the public view, both reports and both terminal summaries to a work unit's outcome (plain data)."""
    from grader.config.assignment import load_assignment
    from grader.outputs import render_report
    from grader.report.terminal import render_summary
    assignment = load_assignment(assignment_id)
    rubric = rubric_for(assignment.rubric)
    results = outcome["results"]
    public, public_result = public_view(results, rubric)
    full_result = rescore(results, rubric, public_only=False)
    outcome.update({
        "public_results": public,
        "public_html": render_report(public, assignment, student=student),
        "summary": render_summary(full_result, color=False),
        "public_summary": (render_summary(public_result, color=False, public_only=True) if public_result.items
                           else f"{assignment_id}: no public checks; your score and report appear when grades "
                                "are released."),
        "manual": any(item.override is not None for item in full_result.items),
    })
    return outcome


def scores(outcome: dict) -> dict[str, Any]:
    """The full and public scores of an outcome that went through `render_views`."""
    return {"score": float(outcome["results"]["score"]), "max_score": float(outcome["results"]["max_score"]),
            "public_score": float(outcome["public_results"]["score"]),
            "public_max": float(outcome["public_results"]["max_score"])}

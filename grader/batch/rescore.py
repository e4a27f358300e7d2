"""Apply changed manual points to a stored result without running the student's code again.

An override changes a grade, never the evidence: the check outcomes, the
quality estimate, the seed and every automatic score stay exactly as the
grading recorded them. The rubric is applied again to the stored outcomes
(`grader.scoring.rubric.apply_rubric`) with the new overrides, and the report
is rendered again from the new results (`grader.outputs.render_report`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.model import Override
from grader.outputs import RESULTS_NAME, Graded, render_report
from grader.report.results_json import RESERVED_EXTRA, to_results_json
from grader.scoring.stored import rescore as stored_rescore

BATCH_KEY = "batch"


class RescoreError(ValueError):
    """The stored result cannot be re-scored (missing or inconsistent fields): the student is graded again."""


def rescore(outdir: Path, student: str, assignment: Any, rubric: Any, overrides: dict[str, dict]) -> Graded:
    """The stored result of `student` in `outdir` with `overrides` (item -> {"points", "comment"}) applied.

    The returned results keep the stored ``extra_data["batch"]`` record; the
    caller stores them with a new one. Raises RescoreError when the stored
    file was not written by this grader's rubric engine, or when the rubric
    no longer gives the stored automatic scores (then only grading again can
    say what the score is).
    """
    path = outdir / student / RESULTS_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        extra = data["extra_data"]
        records = {record["id"]: record for record in extra["rubric_items"]}
        result = stored_rescore(data, rubric, overrides={item: Override.from_dict(o) for item, o in overrides.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RescoreError(f"{path}: cannot be re-scored ({type(exc).__name__}: {exc})") from None
    for item in result.items:
        stored = records.get(item.id, {}).get("automatic_score")
        if stored is None or abs(float(stored) - item.automatic_score) > 1e-9:
            raise RescoreError(f"{path}: item {item.id!r} would score {item.automatic_score:g} automatically, "
                               f"not the stored {stored}: the rubric changed since it was graded")
    kept = {key: value for key, value in extra.items() if key not in RESERVED_EXTRA}
    results = to_results_json(result, execution_time=float(data.get("execution_time") or 0.0),
                              output=str(data.get("output") or ""), extra=kept)
    status = str((extra.get(BATCH_KEY) or {}).get("status") or "graded")
    return Graded(results, render_report(results, assignment, student=student), status)

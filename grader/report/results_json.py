"""results.json in Gradescope's schema, written atomically, and read back into a `GradeResult`.

Layout (``spec/INTERFACES.md``): the top level holds ``score``, ``max_score``,
``execution_time``, ``output``, ``tests`` and ``extra_data``. ``tests`` has one
entry per rubric item, in rubric order, whose ``tags[0]`` is the item id.
``extra_data`` holds what Gradescope ignores and our gradebook and reports use:

- ``assignment``, ``grader_version``;
- ``checks``: every check outcome as a dict;
- ``rubric_items``: per item its scores, notes, override and the ids of its checks;
- ``metadata``: the grade's own metadata (collection errors, unassigned checks);
- and every key of the run's ``extra`` (seed, submission hash, ...).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from grader import __version__
from grader.files import write_text_atomic
from grader.model import CheckOutcome, GradeResult, ItemResult
from grader.report import format_points, status_label
from grader.text import valid_text

# extra_data keys this module owns; a run's `extra` may not replace them.
RESERVED_EXTRA = ("checks", "rubric_items", "metadata")


def to_results_json(result: GradeResult, *, execution_time: float, output: str = "",
                    extra: dict | None = None) -> dict[str, Any]:
    """The Gradescope results.json dict of `result`.

    `output` is the top-level text (loading notes, sandbox events); `extra`
    is merged into ``extra_data`` (seed, grader version, submission hash).
    Non-finite floats in check details become strings so the file stays
    valid JSON.
    """
    extra = dict(extra or {})
    clash = [key for key in RESERVED_EXTRA if key in extra]
    if clash:
        raise ValueError(f"extra data may not replace the reserved key(s) {', '.join(clash)}")
    extra_data = {"assignment": result.assignment, "grader_version": __version__}
    extra_data.update(extra)
    extra_data.update({
        "checks": [outcome.to_dict() for outcome in result.outcomes],
        "rubric_items": [item.to_record() for item in result.items],
        "metadata": dict(result.metadata),
    })
    data = {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(float(execution_time), 3),
        "output": output,
        "tests": [_test_entry(item) for item in result.items],
        "extra_data": extra_data,
    }
    return _jsonable(data)


def write_json_atomic(path: str | Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` atomically (see `grader.report.write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_results(path: str | Path) -> GradeResult:
    """Rebuild the `GradeResult` stored in a results.json written by `to_results_json`.

    The result's `metadata` is the stored metadata plus the run's extra data
    (seed, grader version, submission hash, ...) and the file's
    ``execution_time`` and ``output``, so a report needs nothing else.
    Raises `ValueError` naming the file when it was not written by this grader.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    extra = data.get("extra_data") if isinstance(data, dict) else None
    if not isinstance(extra, dict) or "rubric_items" not in extra or "checks" not in extra:
        raise ValueError(f"{path}: not a results.json written by this grader (no extra_data.rubric_items)")
    outcomes = [CheckOutcome.from_dict(o) for o in extra["checks"]]
    by_id = {o.check_id: o for o in outcomes}
    items = [ItemResult.from_record(record, by_id) for record in extra["rubric_items"]]
    metadata = dict(extra.get("metadata", {}))
    for key, value in extra.items():
        if key not in RESERVED_EXTRA:
            metadata.setdefault(key, value)
    metadata.setdefault("execution_time", data.get("execution_time"))
    metadata.setdefault("output", data.get("output", ""))
    return GradeResult(assignment=extra.get("assignment", ""), score=float(data["score"]),
                       max_score=float(data["max_score"]), items=items, outcomes=outcomes, metadata=metadata)


def _test_entry(item: ItemResult) -> dict[str, Any]:
    tags = [item.id]
    if item.override is not None:
        tags.append("override")
    return {
        "name": item.title,
        "score": item.score,
        "max_score": item.max_score,
        "status": "passed" if item.score == item.max_score else "failed",
        "output": item_output(item),
        "visibility": item.visibility,
        "tags": tags,
    }


def item_output(item: ItemResult) -> str:
    """The student-facing text of one item: what it checks, each failed check with its hint, notes, override."""
    lines = []
    if item.description:
        lines.append(f"What this checks: {item.description}")
    if item.override is not None:
        comment = f" Comment: {item.override.comment}" if item.override.comment else ""
        lines.append(f"Score set by your instructor: {format_points(item.score)} of {format_points(item.max_score)} "
                     f"(automatic score {format_points(item.automatic_score)}).{comment}")
    if item.outcomes:
        passed = {id(o) for o in item.outcomes if o.earned_full_credit()}
        lines.append(f"{len(passed)} of {len(item.outcomes)} checks passed.")
        for outcome in item.outcomes:
            lines.extend(_outcome_lines(outcome, id(outcome) in passed))
    if item.notes:
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in item.notes)
    return "\n".join(lines)


def _outcome_lines(outcome: CheckOutcome, passed: bool) -> list[str]:
    if passed:
        return [f"  [pass] {outcome.title}"]
    lines = [f"  [{status_label(outcome)}] {outcome.title}"]
    if outcome.message:
        lines.extend(f"      {line}" for line in outcome.message.splitlines())
    if outcome.hint:
        lines.append(f"      Hint: {outcome.hint}")
    return lines


def _jsonable(value: Any) -> Any:
    """`value` with tuples as lists, NumPy scalars and arrays as Python values, non-finite floats as strings.

    Strings (keys too) lose their lone surrogates (U+FFFD instead): a student's
    exception message can hold one, and UTF-8 cannot encode it.
    """
    if isinstance(value, dict):
        return {valid_text(str(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity, and Gradescope rejects files that use them.
        return value if math.isfinite(value) else str(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy arrays and scalars, without importing NumPy here
        return _jsonable(tolist())
    return valid_text(str(value))

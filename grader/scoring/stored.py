"""Scoring a result again from what results.json stored: new overrides or the public checks only, no code run.

A stored result keeps every check outcome and the code-quality estimate
(an item's automatic score and evidence), so applying the rubric again gives
the same automatic scores without running the student's code: the batch uses
it when an instructor changes manual points, the course server to show a
student the public checks' score before grades are released.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.config.rubric import Rubric, selector_matches
from grader.model import CheckOutcome, GradeResult, Override
from grader.scoring.rubric import apply_rubric

# The note an item gets when no quality estimate was given: not part of the stored evidence.
_NO_ESTIMATE = "the automatic code-quality"


def rescore(results: dict[str, Any], rubric: Rubric, *, overrides: dict[str, Override] | None = None,
            public_only: bool = False) -> GradeResult:
    """The rubric applied again to the outcomes a results.json dict stored.

    `overrides` replaces the stored manual points (None keeps them);
    `public_only` scores the public checks alone (see `public_rubric`).
    Raises KeyError, TypeError or ValueError when the dict was not written
    by this grader.
    """
    extra = results["extra_data"]
    outcomes = [CheckOutcome.from_dict(check) for check in extra["checks"]]
    records = {record["id"]: record for record in extra["rubric_items"]}
    if overrides is None:
        overrides = {item: Override.from_dict(record["override"]) for item, record in records.items()
                     if record.get("override")}
    if public_only:
        outcomes = [outcome for outcome in outcomes if outcome.public]
        rubric = public_rubric(rubric, outcomes)
        overrides = {item: o for item, o in overrides.items() if item in {i.id for i in rubric.items}}
    collection_errors = list((extra.get("metadata") or {}).get("collection_errors") or [])
    return apply_rubric(rubric, outcomes, quality=stored_quality(rubric, records), overrides=overrides,
                        collection_errors=collection_errors)


def stored_quality(rubric: Rubric, records: dict[str, dict]) -> tuple[float, list[str]] | None:
    """The quality estimate as the grading recorded it: (automatic score / points, its evidence)."""
    for item in rubric.items:
        if item.source == "quality" and item.id in records:
            record = records[item.id]
            notes = [str(note) for note in record.get("notes") or [] if not str(note).startswith(_NO_ESTIMATE)]
            return float(record["automatic_score"]) / float(item.points), notes
    return None


def public_rubric(rubric: Rubric, public: list[CheckOutcome]) -> Rubric:
    """`rubric` keeping, per item, only the selectors and weight groups that some public check matches.

    An item none of whose checks is public is left out (hidden checks decide
    its points); the code-quality item stays (it reads the source only).
    """
    items = []
    for item in rubric.items:
        if item.source == "quality":
            items.append(item)
            continue
        mine = [o.check_id for o in public if item.matches(o.check_id)]
        if not mine:
            continue
        checks = tuple(s for s in item.checks if any(selector_matches(s, c) for c in mine))
        weights = {k: w for k, w in item.weights.items() if any(selector_matches(k, c) for c in mine)}
        items.append(dataclasses.replace(item, checks=checks, weights=weights))
    return dataclasses.replace(rubric, items=tuple(items))

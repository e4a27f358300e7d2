"""Scoring: a rubric applied to a submission's check outcomes, its quality estimate and any overrides.

The credit rules (proportional, all-or-nothing, thresholds) and the selector
syntax are described in grader.config.rubric, where rubrics are loaded.
Grading fails closed: an item none of whose checks ran scores 0 with the
reason; a selector or weight group that matched no check counts as a failed
check; error, timeout, skipped and not-run checks, and NaN fractions, count 0.
"""

from __future__ import annotations

import math
from typing import Iterable

from grader.config.rubric import Rubric, RubricError, RubricItem, selector_matches, selectors_overlap
from grader.model import FAILED, PASSED, CheckOutcome, GradeResult, ItemResult, Override

# A weighted mean of exact fractions (thirds, say) can land a hair below a
# threshold it reaches on paper; this much slack keeps 1/3+1/3+1/3 at 1.
_THRESHOLD_SLACK = 1e-9
# Scores are stored to four decimals: exact enough for any gradebook, and free
# of float noise such as 19.999999999999996 that would turn "passed" into "failed".
_DECIMALS = 4


def apply_rubric(rubric: Rubric, outcomes: list[CheckOutcome], *, quality: tuple[float, list[str]] | None = None,
                 overrides: dict[str, Override] | None = None, collection_errors: Iterable[str] = ()) -> GradeResult:
    """Score `outcomes` with `rubric`.

    `quality` is the code-quality estimate ``(fraction, evidence)`` for an
    item with ``source = "quality"``; `overrides` maps item ids to the
    instructor's `Override`; `collection_errors` explain checks that never
    ran. Raises `RubricError` when a check feeds two items or an override
    names an unknown item or points outside the item's range; everything a
    submission can do ends in a score.
    """
    overrides = dict(overrides or {})
    collection_errors = list(collection_errors)
    _check_overrides(rubric, overrides)
    owned, unassigned = _assign(rubric, outcomes)
    items = []
    for item in rubric.items:
        if item.source == "quality":
            parts, notes = _quality_parts(quality)
        else:
            parts, notes = _check_parts(item, owned[item.id], collection_errors)
        automatic = round(item.points * _credit(item, parts), _DECIMALS)
        override = overrides.get(item.id)
        score = round(float(override.points), _DECIMALS) if override else automatic
        items.append(ItemResult(item.id, item.title, score, item.points,
                                PASSED if score == item.points else FAILED, owned[item.id], notes,
                                override, automatic, item.visibility, item.description, item.source))
    total = round(sum(i.score for i in items), _DECIMALS)
    metadata = {"title": rubric.title, "collection_errors": collection_errors, "unassigned_checks": unassigned}
    return GradeResult(rubric.assignment, total, rubric.max_score, items, list(outcomes), metadata)


def _check_overrides(rubric: Rubric, overrides: dict[str, Override]) -> None:
    points = {item.id: item.points for item in rubric.items}
    for item_id, override in overrides.items():
        if item_id not in points:
            raise RubricError(f"override of unknown item {item_id!r} for {rubric.assignment} "
                              f"(items: {', '.join(points)})")
        if not (math.isfinite(override.points) and 0 <= override.points <= points[item_id]):
            raise RubricError(f"override of item {item_id!r}: {override.points!r} points outside "
                              f"[0, {points[item_id]:g}]")


def _assign(rubric: Rubric, outcomes: list[CheckOutcome]) -> tuple[dict[str, list[CheckOutcome]], list[str]]:
    owned: dict[str, list[CheckOutcome]] = {item.id: [] for item in rubric.items}
    unassigned = []
    for outcome in outcomes:
        owners = [item for item in rubric.items if item.matches(outcome.check_id)]
        if len(owners) > 1:
            described = "; ".join(
                f"item {item.id!r} via {[s for s in item.checks if selector_matches(s, outcome.check_id)]}"
                for item in owners)
            raise RubricError(f"{rubric.path or rubric.assignment}: check {outcome.check_id!r} feeds two or more "
                              f"items ({described}); a check must feed exactly one")
        if owners:
            owned[owners[0].id].append(outcome)
        else:
            unassigned.append(outcome.check_id)
    return owned, unassigned


def _check_parts(item: RubricItem, outcomes: list[CheckOutcome],
                 collection_errors: list[str]) -> tuple[list[tuple[float, float]], list[str]]:
    """(weight, fraction) per check, plus a zero for every selector or weight group that ran nothing."""
    if not outcomes:
        reason = "; ".join(collection_errors) or "its checks were not collected"
        return [], [f"no check of this item ran: {reason}"]
    notes = []
    groups: dict[str, list[CheckOutcome]] = {key: [] for key in item.weights}
    parts = []
    for outcome in outcomes:
        keys = [key for key in item.weights if selector_matches(key, outcome.check_id)]
        if len(keys) > 1:
            raise RubricError(f"item {item.id!r}: check {outcome.check_id!r} matches weights keys "
                              f"{', '.join(map(repr, keys))}; at most one may match")
        if keys:
            groups[keys[0]].append(outcome)
        else:
            parts.append((1.0, outcome.earned()))
        fraction = outcome.fraction
        if isinstance(fraction, float) and math.isnan(fraction):
            notes.append(f"{outcome.title}: reported no valid credit (NaN), counted as 0")
    missing_keys = []
    for key, members in groups.items():
        if members:
            parts.extend((item.weights[key] / len(members), o.earned()) for o in members)
        else:
            missing_keys.append(key)
            parts.append((item.weights[key], 0.0))
            notes.append(f"no check matching {key!r} ran; its share counts as 0")
    for selector in item.checks:
        if any(selector_matches(selector, o.check_id) for o in outcomes):
            continue
        if any(selectors_overlap(selector, key) for key in missing_keys):
            continue  # already counted as a zero through its weight group
        parts.append((1.0, 0.0))
        notes.append(f"no check matching {selector!r} ran; counted as one failed check")
    return parts, notes


def _quality_parts(quality: tuple[float, list[str]] | None) -> tuple[list[tuple[float, float]], list[str]]:
    if quality is None:
        return [], ["the automatic code-quality estimate did not run"]
    fraction, evidence = quality
    notes = [str(e) for e in evidence]
    if not isinstance(fraction, (int, float)) or not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
        invalid = f"the code-quality estimate gave an invalid fraction ({fraction!r}), counted as 0"
        return [(1.0, 0.0)], [invalid] + notes
    return [(1.0, float(fraction))], notes


def _credit(item: RubricItem, parts: list[tuple[float, float]]) -> float:
    """The share of the item's points earned under its credit rule."""
    if not parts:
        return 0.0
    if item.credit == "all_or_nothing":
        return 1.0 if all(fraction >= 1.0 for _, fraction in parts) else 0.0
    total_weight = sum(weight for weight, _ in parts)
    mean = sum(weight * fraction for weight, fraction in parts) / total_weight
    if item.credit == "proportional":
        return min(1.0, mean)
    reached = [credit for minimum, credit in item.thresholds if mean >= minimum - _THRESHOLD_SLACK]
    return max(reached, default=0.0)

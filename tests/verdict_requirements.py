"""What a grading run must show for a fixture's `[verdict]` table (tests/fixtures/<assignment>/verdicts).

`violations(run, verdict)` lists, in words, every requirement of the table
the run does not meet; an empty list means the run gives the verdict issue 10
requires. The fields are documented in tests/fixtures/lab/verdicts/MANIFEST.toml.
"""

from __future__ import annotations

from typing import Any

_TOLERANCE = 1e-6


def _not_passed(outcome: Any) -> bool:
    return outcome.status != "passed" or (outcome.fraction is not None and outcome.fraction < 1)


def _texts(item: Any) -> list[str]:
    """What the student reads about an item's shortfalls: messages and hints of its checks that did not
    pass, and the item's notes (the quality estimate's evidence has no checks)."""
    texts = [f"{o.message} {o.hint or ''}" for o in item.outcomes if _not_passed(o)]
    return [t.lower() for t in texts + list(item.notes)]


def violations(run: Any, verdict: dict) -> list[str]:
    """The requirements of `verdict` that the grading run `run` (with `.result.items`, `.result.outcomes`) breaks."""
    items = {item.id: item for item in run.result.items}
    problems = []
    for item_id in verdict.get("lose", []):
        if items[item_id].score >= items[item_id].max_score - _TOLERANCE:
            problems.append(f"{item_id} must lose points, got full marks")
    for item_id in verdict.get("keep", []):
        item = items[item_id]
        if item.score < item.max_score - _TOLERANCE:
            problems.append(f"{item_id} must keep full marks, got {item.score:g}/{item.max_score:g}")
    for item_id in verdict.get("partial", []):
        item = items[item_id]
        if not _TOLERANCE < item.score < item.max_score - _TOLERANCE:
            problems.append(f"{item_id} must keep part of its points, got {item.score:g}/{item.max_score:g}")
    for item_id, score in verdict.get("score", {}).items():
        if abs(items[item_id].score - score) > _TOLERANCE:
            problems.append(f"{item_id} must score {score:g}, got {items[item_id].score:g}")
    for item_id, words in verdict.get("hint", {}).items():
        texts = _texts(items[item_id])
        missing = [w for w in words if not any(w.lower() in t for t in texts)]
        if missing:
            problems.append(f"{item_id}: no message or hint says {missing}")
    for item_id, words in verdict.get("not_hint", {}).items():
        said = [w for w in words if any(w.lower() in t for t in _texts(items[item_id]))]
        if said:
            problems.append(f"{item_id}: a message or hint says {said}")
    for field, must_pass in (("pass_checks", True), ("fail_checks", False)):
        for fragment in verdict.get(field, []):
            matching = [o for o in run.result.outcomes if fragment in o.check_id]
            if not matching:
                problems.append(f"no check matches {fragment!r}")
            wrong = [o.check_id for o in matching if _not_passed(o) == must_pass]
            if wrong:
                problems.append(f"{'must pass' if must_pass else 'must fail'}: {wrong}")
    return problems

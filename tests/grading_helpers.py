"""Assertions shared by the grading tests of the exercises, research and quiz assignments."""

from __future__ import annotations


def failures(run) -> str:
    """Every check of a grading run that did not earn full credit, one line each (for assertion messages)."""
    return "\n".join(f"{o.check_id}: {o.status} {o.fraction} {o.message[:300]} | {o.hint}"
                     for o in run.result.outcomes if o.status != "passed" or o.fraction < 1)


def assert_scores(run, fractions: dict[str, float]) -> None:
    """Each rubric item scored exactly `fractions[item]` of its points (items not named: full points)."""
    got = {item.id: item.score for item in run.result.items}
    expected = {item.id: round(item.max_score * fractions.get(item.id, 1.0), 4) for item in run.result.items}
    assert got == expected, failures(run)

"""What ``run_autograder`` runs inside Gradescope's container: grade one submission, write results.json.

``python -m grader.export.gradescope_run --root /autograder --assignment ID
[--assignments DIR]`` grades ``ROOT/submission`` (the files the student
uploaded: one .py or .ipynb, or a .zip or folder holding one) and writes
``ROOT/results/results.json``. The student's name for the report comes from
``ROOT/submission_metadata.json`` when Gradescope provides it. A fault of the
grader still writes a results.json (zero points and the reason, marked as
the grader's error), so Gradescope never shows an empty result. What the
sandbox could and could not turn on in this container is printed (the
autograder's output, which Gradescope shows to instructors) and kept in
results.json's ``extra_data``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from grader.config.assignment import load_assignment
from grader.config.locations import use_assignment_dirs
from grader.model import RowState
from grader.outputs import grade_submission, placeholder
from grader.report.results_json import write_json_atomic
from grader.sandbox import protections_off


def student_name(root: Path) -> str:
    """The submitter's name or email from Gradescope's submission_metadata.json, else "submission"."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8")).get("users") or []
        first = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
        return str(first.get("name") or first.get("email") or "submission")[:100]
    except (OSError, ValueError, AttributeError):
        return "submission"


def protection_lines(applied: list[str]) -> list[str]:
    """What the sandbox had in this container, in words: each protection on, then each one off."""
    off = protections_off(applied) if applied else ["the sandbox reported nothing (no student code ran)"]
    lines = [f"Sandbox protections this container allowed: {', '.join(applied) or 'none'}."]
    lines += [f"  off: {sentence}" for sentence in off] or ["  every protection is on."]
    return lines


def run(root: Path, assignment_id: str, assignments: Sequence[str] = ()) -> dict[str, Any]:
    """Grade ROOT/submission and write ROOT/results/results.json; returns the results written."""
    if assignments:
        use_assignment_dirs(list(assignments))
    assignment = load_assignment(assignment_id)
    submission, student = root / "submission", student_name(root)
    try:
        graded = grade_submission(submission, assignment, student=student)
        applied = list(graded.run.protections) if graded.run is not None else []
        results = graded.results
    except Exception as exc:  # noqa: BLE001 -- a fault of ours must still reach Gradescope as a result
        traceback.print_exc()
        applied = []
        results = placeholder(assignment, RowState.GRADER_ERROR, f"{type(exc).__name__}: {exc}",
                              message="The autograder failed while grading this submission; your instructor "
                                      "has been shown the error. Submit again later or ask them.",
                              seed=None, submission_file=str(submission), student=student).results
    results.setdefault("extra_data", {})["gradescope"] = {"sandbox_protections": applied,
                                                          "sandbox_protections_off": protections_off(applied)}
    print("\n".join(protection_lines(applied)))
    print(f"score {results.get('score')} / {results.get('max_score')}")
    write_json_atomic(root / "results" / "results.json", results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The command line run_autograder calls."""
    parser = argparse.ArgumentParser(prog="python -m grader.export.gradescope_run")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--assignments", action="append", default=[])
    args = parser.parse_args(argv)
    run(args.root, args.assignment, args.assignments)
    return 0


if __name__ == "__main__":
    sys.exit(main())

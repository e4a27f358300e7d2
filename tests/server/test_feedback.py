"""The feedback policy's public view: public checks only, a score counting only them, nothing hidden leaks."""

from __future__ import annotations

import json

from grader.model import CheckOutcome
from grader.report.results_json import to_results_json
from grader.config.rubric import rubric_for
from grader.scoring.rubric import apply_rubric
from grader.server.feedback import public_view, render_views, rescore

HIDDEN_TITLE = "hidden check with a secret expected value 0.123456"


def _results():
    rubric = rubric_for("backprop-lab")
    outcomes = [
        CheckOutcome("test_forward.py::test_public", "public forward check", "passed", public=True),
        CheckOutcome("test_forward.py::test_hidden", HIDDEN_TITLE, "failed", message="expected 0.123456", public=False),
        CheckOutcome("test_backward.py::test_hidden_only", "hidden backward check", "passed", public=False),
    ]
    result = apply_rubric(rubric, outcomes, quality=(0.5, ["docstrings: 1/2"]))
    return to_results_json(result, execution_time=1.0, extra={"seed": 424242, "submission_sha256": "ab" * 32}), rubric


def test_the_public_view_scores_public_checks_only_and_hides_the_rest():
    results, rubric = _results()
    public, result = public_view(results, rubric)
    items = {item.id: item for item in result.items}
    assert items["forward"].score == 20  # its one public check passed; the failed hidden one does not count yet
    assert "backward" not in items and "training" not in items  # decided by hidden checks only
    assert items["quality"].score == 5  # read from the source: nothing hidden
    assert public["score"] == 25 and public["max_score"] == 30
    text = json.dumps(public)
    assert HIDDEN_TITLE not in text and "0.123456" not in text and "424242" not in text
    assert "Backward pass" in public["extra_data"]["hidden_items"]
    assert "public checks only" in public["output"]


def test_rescoring_all_checks_gives_back_the_stored_score():
    results, rubric = _results()
    assert rescore(results, rubric, public_only=False).score == results["score"]


def test_both_reports_are_rendered_where_grading_ran():
    results, _ = _results()
    outcome = render_views({"results": results, "report_html": "<html></html>", "status": "graded"},
                           "backprop-lab", "ada")
    assert HIDDEN_TITLE not in outcome["public_html"] and "public forward check" in outcome["public_html"]
    assert HIDDEN_TITLE not in outcome["public_summary"] and HIDDEN_TITLE in outcome["summary"]

"""Trusted steps after grading stay bounded whatever a submission holds (found by tests/test_attack_class.py).

A check's recorded details go into results.json: a `train` returning 200,000
hidden units made the recorded params 40 MB. The class's similarity listing
compares every pair of submissions: an 8 MB file of definitions held the
batch in the comparison for minutes after every student was graded.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from grader.batch.similarity import MAX_TOKENS, normalised_tokens, similar_pairs
from grader.checking.context import MAX_DETAILS_BYTES, record


def _request():
    return SimpleNamespace(node=SimpleNamespace())


def test_a_huge_recorded_value_is_left_out_with_a_note_and_small_ones_are_kept():
    request = _request()
    huge = {"W1": np.ones((200_000, 2)).tolist(), "W2": np.ones((1, 200_000)).tolist()}
    record(request, accuracy=0.5, params=huge, train_seconds=0.1)
    details = request.node.grading_details
    assert details["accuracy"] == 0.5 and details["train_seconds"] == 0.1
    assert isinstance(details["params"], str) and details["params"].startswith("(left out: ")
    assert len(json.dumps(details, indent=2)) <= MAX_DETAILS_BYTES


def test_a_figure_sized_value_is_kept_but_not_two_of_them():
    request = _request()
    png = "A" * (4 * 2**20)  # a 3 MB PNG as base64
    record(request, images={"student_decision_boundary": png})
    record(request, more_images={"other": png})
    details = request.node.grading_details
    assert details["images"]["student_decision_boundary"] == png
    assert details["more_images"].startswith("(left out: ")


def _long_source(prefix: str, functions: int) -> str:
    return "".join(f"def {prefix}{i}(x):\n    return x + {i}\n" for i in range(functions))


def test_a_submission_with_more_tokens_than_the_limit_is_not_compared():
    functions = MAX_TOKENS // 12 + 10  # about 12 tokens per function: just over the limit
    first, second = _long_source("f", functions), _long_source("g", functions)
    assert normalised_tokens(first) == []
    pairs, total = similar_pairs({"a": first, "b": second}, {"a": "1", "b": "2"})
    assert pairs == [] and total == 0
    # Under the limit the same two files are near-identical (the names are set aside).
    shorter = functions // 2
    pairs, total = similar_pairs({"a": _long_source("f", shorter), "b": _long_source("g", shorter)},
                                 {"a": "1", "b": "2"})
    assert total == 1 and pairs[0].similarity >= 0.9

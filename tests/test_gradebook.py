"""gradebook.csv: scores as a person reads them, manual points named, one row per student."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader.batch.gradebook import read_row, write_gradebook


def _stored(out: Path, student: str, score: float, items: dict[str, float], overridden: tuple[str, ...] = ()) -> None:
    tests = [{"name": item, "score": points, "max_score": 30, "tags": [item, *(["override"] if item in overridden else [])]}
             for item, points in items.items()]
    (out / student).mkdir()
    (out / student / "results.json").write_text(json.dumps(
        {"score": score, "max_score": 100, "tests": tests, "extra_data": {"batch": {"status": "graded"}}}),
        encoding="utf-8")


@pytest.mark.parametrize("stored, shown", [(31.1429, "31.14"), (17.1429, "17.14"), (66.8333, "66.83"),
                                            (20.0, "20"), (11.25, "11.25"), (0.004, "0"), (99.995, "100"),
                                            (42.5, "42.5")])
def test_scores_are_rounded_to_two_decimals(tmp_path, stored, shown):
    _stored(tmp_path, "ada", stored, {"forward": stored})
    write_gradebook(tmp_path, [read_row(tmp_path, "ada")], ["forward"])
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as stream:
        row = next(csv.DictReader(stream))
    assert (row["score"], row["forward"]) == (shown, shown)


def test_the_manual_column_names_the_items_the_instructor_set(tmp_path):
    _stored(tmp_path, "ada", 50, {"forward": 20, "backward": 30}, overridden=("backward",))
    _stored(tmp_path, "bob", 50, {"forward": 20, "backward": 30})
    write_gradebook(tmp_path, [read_row(tmp_path, s) for s in ("bob", "ada")], ["forward", "backward"])
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    assert (rows["ada"]["manual"], rows["bob"]["manual"]) == ("backward", "")

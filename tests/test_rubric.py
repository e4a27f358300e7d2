"""The rubric engine: rubric files, their validation, credit arithmetic, fail-closed grading, overrides."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.model import CheckOutcome
from grader.config.overrides import OverrideError, load_overrides
from grader.config.rubric import Rubric, RubricError, load_rubric, rubric_for, selector_matches, selectors_overlap
from grader.model import ItemResult, Override
from grader.scoring.rubric import apply_rubric

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["backprop-lab", "backprop-exercises", "backprop-research", "backprop-quiz"]


def write_rubric(tmp_path: Path, items: str, top: str = 'assignment = "demo"\ntitle = "Demo"\n') -> Path:
    path = tmp_path / "demo.toml"
    path.write_text(top + textwrap.dedent(items), encoding="utf-8")
    return path


def outcome(check_id: str, status: str = "passed", **kwargs) -> CheckOutcome:
    return CheckOutcome(check_id, kwargs.pop("title", check_id), status, **kwargs)


def one_item(tmp_path: Path, body: str) -> Rubric:
    return load_rubric(write_rubric(tmp_path, '[[items]]\nid = "a"\ntitle = "A"\n' + textwrap.dedent(body)))


# ---------------------------------------------------------------- shipped rubrics


def test_lab_rubric_has_the_chapters_items_and_totals_100():
    rubric = rubric_for("backprop-lab")
    assert [(i.id, i.points) for i in rubric.items] == [
        ("forward", 20), ("backward", 30), ("gradient_check", 20), ("training", 20), ("quality", 10)]
    assert rubric.max_score == 100
    assert rubric.item("quality").source == "quality"


@pytest.mark.parametrize("assignment, ids", [
    ("backprop-exercises", ["leaky_relu_backward", "check_shapes", "any_depth", "gradient_check", "debug_this",
                            "softmax_ce"]),
    ("backprop-research", ["value_autograd", "checkpointing"]),
    ("backprop-quiz", ["ex1", "ex2", "b1", "b2", "b5", "exam"]),
])
def test_other_rubrics_use_the_interface_item_ids(assignment, ids):
    rubric = rubric_for(assignment)
    assert rubric.assignment == assignment
    assert [i.id for i in rubric.items] == ids


def test_unknown_assignment_names_the_known_rubrics():
    with pytest.raises(RubricError, match=r"no rubric for assignment 'nope'.*backprop-lab"):
        rubric_for("nope")


def _collected_check_ids(checks_dir: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(checks_dir), "--collect-only", "-q", "--rootdir", str(checks_dir),
         "-c", "/dev/null", "-p", "no:cacheprovider", "--import-mode=importlib", "-W", "ignore"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_lab_rubric_selectors_agree_with_the_lab_checks():
    checks_dir = REPO / "assignments" / "backprop-lab" / "checks"
    check_ids = _collected_check_ids(checks_dir)
    assert check_ids
    assert rubric_for("backprop-lab").validate_against(check_ids) == []


def test_validate_against_reports_every_kind_of_mismatch(tmp_path):
    rubric = load_rubric(write_rubric(tmp_path, """
        [[items]]
        id = "a"
        title = "A"
        points = 1
        checks = ["t.py::test_a*", "t.py::test_gone"]
        [items.weights]
        "t.py::test_a1*" = 1
        "t.py::test_a*x" = 1
        [[items]]
        id = "b"
        title = "B"
        points = 1
        checks = ["t.py::test_a1*"]
    """))
    problems = rubric.validate_against(["t.py::test_a1x", "t.py::test_orphan"])
    assert any("'t.py::test_gone' matches no collected check" in p for p in problems)
    assert any("check 't.py::test_a1x' feeds items 'a', 'b'" in p for p in problems)
    assert any("check 't.py::test_orphan' feeds no rubric item" in p for p in problems)
    assert len(problems) == 3


# ---------------------------------------------------------------- selectors


def test_selectors_treat_brackets_literally_so_parametrized_ids_match_exactly():
    check_id = "test_forward.py::test_linear_forward_values[n_x=3,m=1]"
    assert selector_matches(check_id, check_id)
    assert selector_matches("test_forward.py::*", check_id)
    assert selector_matches("*[n_x=?,m=1]", check_id)
    assert not selector_matches("test_forward.py::test_linear", check_id)  # whole id, not a prefix


def test_selector_overlap():
    assert selectors_overlap("*::test_bug1_*", "test_debug_this.py::*")
    assert selectors_overlap("t.py::test_q?", "*q1")
    assert not selectors_overlap("a.py::*", "b.py::*")


# ---------------------------------------------------------------- load-time validation


@pytest.mark.parametrize("body, message", [
    ('points = 1\nchecks = ["x"]\ncolour = "red"\n', "item 'a': unknown key(s) 'colour'"),
    ('points = 0\nchecks = ["x"]\n', "item 'a': `points` must be a positive number, found 0"),
    ('points = -2\nchecks = ["x"]\n', "item 'a': `points` must be a positive number, found -2"),
    ('points = "ten"\nchecks = ["x"]\n', "item 'a': `points` must be a positive number, found 'ten'"),
    ('points = 1\nchecks = ["x"]\ncredit = "generous"\n',
     "item 'a': `credit` must be one of proportional, all_or_nothing, thresholds, found 'generous'"),
    ('points = 1\nchecks = ["x"]\ncredit = "thresholds"\nthresholds = [[0.8, 1.0], [0.5, 0.5]]\n',
     "item 'a': `thresholds` are not sorted by min_fraction: [0.8, 1.0] comes before [0.5, 0.5]"),
    ('points = 1\nchecks = ["x"]\ncredit = "thresholds"\nthresholds = [[0.5, 1.5]]\n',
     "item 'a': `thresholds` entry [0.5, 1.5] has a value outside [0, 1]"),
    ('points = 1\nchecks = ["x"]\ncredit = "thresholds"\n',
     "item 'a': `thresholds` must be a non-empty list"),
    ('points = 1\nchecks = ["x"]\nthresholds = [[0.5, 0.5]]\n',
     "item 'a': `thresholds` is only used with credit = \"thresholds\""),
    ('points = 1\nchecks = []\n', "item 'a': `checks` is empty"),
    ('points = 1\n', "item 'a': `checks` is empty"),
    ('points = 1\nsource = "quality"\nchecks = ["x"]\n', "item 'a': `checks` must be empty for an item with source"),
    ('points = 1\nchecks = ["t.py::*"]\n[items.weights]\n"u.py::test_x" = 2\n',
     "item 'a': `weights` key 'u.py::test_x' matches no selector of the item ('t.py::*')"),
    ('points = 1\nchecks = ["t.py::*"]\n[items.weights]\n"t.py::test_x" = 0\n',
     "item 'a': `weights` key 't.py::test_x': weight must be a positive number, found 0"),
    ('points = 1\nchecks = ["x"]\nvisibility = "secret"\n', "item 'a': `visibility` must be one of"),
])
def test_invalid_items_are_refused_naming_file_item_and_field(tmp_path, body, message):
    with pytest.raises(RubricError) as excinfo:
        one_item(tmp_path, body)
    text = str(excinfo.value)
    assert text.startswith(str(tmp_path / "demo.toml") + ": ")
    assert message in text


def test_duplicate_item_ids_are_refused(tmp_path):
    path = write_rubric(tmp_path, """
        [[items]]
        id = "a"
        title = "A"
        points = 1
        checks = ["x"]
        [[items]]
        id = "a"
        title = "Again"
        points = 1
        checks = ["y"]
    """)
    with pytest.raises(RubricError, match=r"demo\.toml: item 'a' \(items\[1\]\): `id` duplicates items\[0\]"):
        load_rubric(path)


def test_unknown_top_level_key_and_bad_toml_are_refused(tmp_path):
    with pytest.raises(RubricError, match=r"demo\.toml: unknown key\(s\) 'points'"):
        load_rubric(write_rubric(tmp_path, "points = 3\n"))
    with pytest.raises(RubricError, match=r"demo\.toml: invalid TOML"):
        load_rubric(write_rubric(tmp_path, "[[items]\n"))
    with pytest.raises(RubricError, match=r"demo\.toml: needs at least one \[\[items\]\] table"):
        load_rubric(write_rubric(tmp_path, ""))


# ---------------------------------------------------------------- credit arithmetic


def test_proportional_credit_is_the_weighted_mean_with_group_weights(tmp_path):
    rubric = one_item(tmp_path, """
        points = 15
        checks = ["d.py::*"]
        [items.weights]
        "d.py::test_bug1_*" = 1
        "d.py::test_bug2_*" = 1
        "d.py::test_bug3_*" = 1
    """)
    outcomes = [outcome("d.py::test_bug1_m"), outcome("d.py::test_bug1_shapes", "failed"),
                outcome("d.py::test_bug2_t"), outcome("d.py::test_bug3_axis", "failed")]
    # bug1 earns half of its third, bug2 all of its third, bug3 nothing: 15 * (0.5 + 1) / 3.
    assert apply_rubric(rubric, outcomes).score == 7.5


def test_unweighted_checks_weigh_one_each_and_partial_fractions_count(tmp_path):
    rubric = one_item(tmp_path, 'points = 20\nchecks = ["t.py::*"]\n[items.weights]\n"t.py::heavy" = 3\n')
    outcomes = [outcome("t.py::heavy", "failed", fraction=0.5), outcome("t.py::x"), outcome("t.py::y", "failed")]
    # (3 * 0.5 + 1 + 0) / 5 of 20 points
    assert apply_rubric(rubric, outcomes).score == 10.0


def test_all_or_nothing_needs_every_check(tmp_path):
    rubric = one_item(tmp_path, 'points = 10\nchecks = ["t.py::*"]\ncredit = "all_or_nothing"\n')
    assert apply_rubric(rubric, [outcome("t.py::a"), outcome("t.py::b")]).score == 10
    assert apply_rubric(rubric, [outcome("t.py::a"), outcome("t.py::b", fraction=0.99)]).score == 0
    assert apply_rubric(rubric, [outcome("t.py::a"), outcome("t.py::b", "failed")]).score == 0


def test_thresholds_apply_to_the_proportional_fraction(tmp_path):
    rubric = one_item(tmp_path, """
        points = 20
        checks = ["t.py::*"]
        credit = "thresholds"
        thresholds = [[0.5, 0.5], [0.75, 0.8], [1.0, 1.0]]
    """)

    def score(passed: int, total: int = 4) -> float:
        return apply_rubric(rubric, [outcome(f"t.py::c{i}", "passed" if i < passed else "failed")
                              for i in range(total)]).score

    assert [score(n) for n in range(5)] == [0, 0, 10, 16, 20]
    # Three thirds are a whole, although 1/3 + 1/3 + 1/3 computed in floats may not be.
    assert score(3, total=3) == 20


def test_total_sums_items_and_status_follows_score(tmp_path):
    rubric = load_rubric(write_rubric(tmp_path, """
        [[items]]
        id = "a"
        title = "A"
        points = 3
        checks = ["a.py::*"]
        [[items]]
        id = "b"
        title = "B"
        points = 7
        checks = ["b.py::*"]
    """))
    result = apply_rubric(rubric, [outcome("a.py::x"), outcome("b.py::x"), outcome("b.py::y", "failed"),
                            outcome("b.py::z", "failed")])
    assert [(i.id, i.score, i.status) for i in result.items] == [("a", 3, "passed"), ("b", 2.3333, "failed")]
    assert (result.score, result.max_score) == (5.3333, 10)


def test_quality_item_takes_the_estimate_and_its_evidence():
    rubric = rubric_for("backprop-lab")
    result = apply_rubric(rubric, [], quality=(0.75, ["Docstrings: 2/3", "line 4: add a docstring to f"]))
    quality = result.item("quality")
    assert quality.score == 7.5
    assert quality.notes == ["Docstrings: 2/3", "line 4: add a docstring to f"]
    missing = apply_rubric(rubric, []).item("quality")
    assert missing.score == 0 and missing.notes == ["the automatic code-quality estimate did not run"]
    assert apply_rubric(rubric, [], quality=(math.nan, [])).item("quality").score == 0


# ---------------------------------------------------------------- fail closed


@pytest.mark.parametrize("status", ["error", "timeout", "skipped", "not_run"])
def test_checks_that_did_not_pass_or_fail_count_zero_even_with_a_fraction(tmp_path, status):
    rubric = one_item(tmp_path, 'points = 10\nchecks = ["t.py::*"]\n')
    broken = outcome("t.py::b", status, message="worker died")
    broken.fraction = 1.0  # a worker cannot smuggle credit through an errored check
    assert apply_rubric(rubric, [outcome("t.py::a"), broken]).score == 5


def test_nan_fraction_counts_zero_with_a_note(tmp_path):
    rubric = one_item(tmp_path, 'points = 10\nchecks = ["t.py::*"]\n')
    odd = outcome("t.py::b", title="odd check")
    odd.fraction = math.nan
    item = apply_rubric(rubric, [outcome("t.py::a"), odd]).item("a")
    assert item.score == 5
    assert item.notes == ["odd check: reported no valid credit (NaN), counted as 0"]


def test_item_without_any_check_scores_zero_and_says_why():
    result = apply_rubric(rubric_for("backprop-lab"), [], quality=(1.0, []),
                   collection_errors=["test_backward.py: SyntaxError in the checks"])
    backward = result.item("backward")
    assert backward.score == 0 and backward.status == "failed"
    assert backward.notes == ["no check of this item ran: test_backward.py: SyntaxError in the checks"]
    assert result.score == 10  # only the quality estimate
    assert result.metadata["collection_errors"] == ["test_backward.py: SyntaxError in the checks"]


def test_selector_or_weight_group_without_checks_counts_as_a_failure(tmp_path):
    rubric = one_item(tmp_path, 'points = 12\nchecks = ["a.py::*", "b.py::*"]\n')
    item = apply_rubric(rubric, [outcome("a.py::x"), outcome("a.py::y")]).item("a")
    assert item.score == 8  # two passes and one missing selector
    assert item.notes == ["no check matching 'b.py::*' ran; counted as one failed check"]
    quiz = apply_rubric(rubric_for("backprop-quiz"), [outcome(f"test_quiz.py::test_exam_q{i}") for i in (1, 2, 4)])
    assert quiz.item("exam").score == 7.5  # three quarters; q3 never ran


def test_a_check_feeding_two_items_is_a_rubric_error(tmp_path):
    rubric = load_rubric(write_rubric(tmp_path, """
        [[items]]
        id = "a"
        title = "A"
        points = 1
        checks = ["t.py::*"]
        [[items]]
        id = "b"
        title = "B"
        points = 1
        checks = ["t.py::test_b*"]
    """))
    with pytest.raises(RubricError, match=r"check 't\.py::test_b1' feeds two or more items "
                                          r"\(item 'a' via \['t\.py::\*'\]; item 'b' via \['t\.py::test_b\*'\]\)"):
        apply_rubric(rubric, [outcome("t.py::test_b1")])


def test_checks_no_item_claims_are_recorded_not_counted():
    result = apply_rubric(rubric_for("backprop-research"), [outcome("test_extra.py::test_bonus")])
    assert result.score == 0
    assert result.metadata["unassigned_checks"] == ["test_extra.py::test_bonus"]


# ---------------------------------------------------------------- overrides in grading


def test_override_replaces_the_score_and_keeps_the_automatic_one():
    rubric = rubric_for("backprop-lab")
    result = apply_rubric(rubric, [], quality=(0.5, []), overrides={"quality": Override(9, "Well organised.")})
    quality = result.item("quality")
    assert (quality.score, quality.automatic_score, quality.status) == (9, 5, "failed")
    assert quality.override.comment == "Well organised."
    assert apply_rubric(rubric, [], overrides={"forward": Override(20, "")}).item("forward").status == "passed"


def test_override_out_of_range_or_unknown_is_refused_at_grade_time():
    rubric = rubric_for("backprop-lab")
    with pytest.raises(RubricError, match=r"override of item 'quality': 11\.0 points outside \[0, 10\]"):
        apply_rubric(rubric, [], overrides={"quality": Override(11.0)})
    with pytest.raises(RubricError, match=r"override of unknown item 'style'"):
        apply_rubric(rubric, [], overrides={"style": Override(1.0)})


# ---------------------------------------------------------------- overrides file


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.csv"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_overrides_file_is_read_per_student_and_item(tmp_path):
    path = write_csv(tmp_path, """
        student,item,points,comment
        alice,quality,8,"Clear docstrings, long train()"

        alice,training,20,Plot checked by hand
        bob,quality,0,
    """)
    table = load_overrides(path, rubric_for("backprop-lab"))
    assert table == {
        "alice": {"quality": Override(8.0, "Clear docstrings, long train()"),
                  "training": Override(20.0, "Plot checked by hand")},
        "bob": {"quality": Override(0.0, "")},
    }


def test_overrides_columns_may_come_in_any_order(tmp_path):
    path = write_csv(tmp_path, "item,student,comment,points\nquality,carol,ok,4.5\n")
    assert load_overrides(path, rubric_for("backprop-lab")) == {"carol": {"quality": Override(4.5, "ok")}}


@pytest.mark.parametrize("rows, message", [
    ("alice,style,3,x\n", "line 2: unknown item 'style' for backprop-lab (items: forward, backward"),
    ("alice,quality,lots,x\n", "line 2: points 'lots' is not a number"),
    ("alice,quality,11,x\n", "line 2: points 11 outside [0, 10], the range of item 'quality'"),
    ("alice,quality,-1,x\n", "line 2: points -1 outside [0, 10]"),
    ("alice,quality,nan,x\n", "line 2: points nan outside [0, 10]"),
    ("alice,quality,3,x\nbob,quality,3,y\nalice,quality,4,z\n",
     "line 4: duplicate override of item 'quality' for student 'alice' (first given on line 2)"),
    (",quality,3,x\n", "line 2: empty student id"),
    ("alice,quality,3\n", "line 2: expected 4 fields (student,item,points,comment), found 3"),
])
def test_invalid_overrides_name_file_and_line(tmp_path, rows, message):
    path = write_csv(tmp_path, "student,item,points,comment\n" + rows)
    with pytest.raises(OverrideError) as excinfo:
        load_overrides(path, rubric_for("backprop-lab"))
    assert str(excinfo.value).startswith(f"{path}, line ")
    assert message in str(excinfo.value)


def test_overrides_header_and_missing_file_are_refused(tmp_path):
    rubric = rubric_for("backprop-lab")
    with pytest.raises(OverrideError, match=r"line 1: the header must name the columns student,item,points,comment"):
        load_overrides(write_csv(tmp_path, "student,item,score\n"), rubric)
    with pytest.raises(OverrideError, match=r"empty file"):
        load_overrides(write_csv(tmp_path, ""), rubric)
    with pytest.raises(OverrideError, match=r"missing\.csv: cannot read the overrides file"):
        load_overrides(tmp_path / "missing.csv", rubric)


# ---------------------------------------------------------------- serialisation


def test_item_results_round_trip_through_their_one_record_format():
    result = apply_rubric(rubric_for("backprop-lab"),
                          [outcome("test_forward.py::a", public=True), outcome("test_forward.py::b", "failed",
                                                                              message="m", hint="h")],
                          quality=(0.5, ["e"]), overrides={"training": Override(12.0, "c")})
    by_id = {o.check_id: o for o in result.outcomes}
    again = [ItemResult.from_record(item.to_record(), by_id) for item in result.items]
    assert again == result.items
    assert again[0].outcomes[0] is by_id["test_forward.py::a"]

"""backprop-quiz graded end to end: correct answers earn full marks, each typical mistake an exact score.

The quiz reads module-level names. Answers computed by calling the student's
own functions (``B5_NUMERICAL = (f(2.01) - f(1.99)) / 0.02``, as in the
reference) are loaded because the assignment lists them in ``required_names``,
which the runner passes to `plan_load`.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from grader.config.assignment import load_assignment
from grader.config.rubric import rubric_for
from grader.grading import grade
from tests.grading_helpers import assert_fragments, assert_scores

ASSIGNMENT = "backprop-quiz"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "quiz"
SEED = 20250611
ANSWER_NAMES = ["EX1_GRADS", "EX2_UPDATED", "B1_DF_DX", "B1_DF_DY", "B2_SHAPES", "B5_NUMERICAL",
                "B5_ANALYTICAL", "B5_ERROR", "EXAM_ANSWERS"]

CASES = {
    "bug_signs_and_step": (
        {"ex1": 0.0, "ex2": 0.0},
        [("test_ex1_grads", "Every sign is flipped"),
         ("test_ex2_updated", "A gradient step goes against the gradient")]),
    "bug_b1_swapped": (
        {"b1": 0.0},
        [("test_b1_df_dx", "returns the other partial derivative (B1_DF_DY's); swap them"),
         ("test_b1_df_dy", "B1_DF_DY is wrong at 5 of 5 points")]),
    "bug_b2_gradient_shapes": (
        {"b2": 12 / 15},
        [("test_b2_shapes[dW2]", "That is the transposed shape"),
         ("test_b2_shapes[db1]", "B2_SHAPES has no entry 'db1'")]),
    "bug_b5_one_sided": (
        {"b5": 1 / 3},
        [("test_b5_numerical", "That is the one-sided difference"),
         ("test_b5_error", "one-sided difference's error")]),
    "bug_exam_letters": (
        {"exam": 2 / 4},  # "c" and "D)" under key "3" are accepted
        [("test_exam_q2_", "expected one letter, \"A\" to \"D\""),
         ("test_exam_q4_", "A is not the right option")]),
    "bug_wrong_types": (
        {"ex1": 0.0, "ex2": 0.0, "b1": 1 / 2, "b2": 0.0, "b5": 2 / 3, "exam": 0.0},
        [("test_ex1_grads", "EX1_GRADS is '(-4, -4, 3)': not a tuple"),
         ("test_b1_df_dx", "expected a function of (x, y)"),
         ("test_b2_shapes[X]", "your file defines B2_SHAPES_BY_NAME: a typo?"),
         ("test_b5_numerical", "B5_NUMERICAL is '14.0001'; expected a number"),
         ("test_exam_q3_", "expected a dict such as")]),
    "bug_main_block": (
        {"b5": 0.0, "exam": 0.0},
        [("test_b5_analytical", "was not run when your file was loaded"),
         ("test_exam_q1_", "out of the `if __name__ == \"__main__\":` block")]),
    "bug_load_error": (
        {"ex2": 0.0},
        [("test_ex2_updated", "line 7 assigns it, but raised NameError: name 'w1' is not defined")]),
}


@functools.lru_cache(maxsize=None)
def _graded(name: str, seed: int = SEED):
    return grade(FIXTURES / f"{name}.py", ASSIGNMENT, seed=seed)


def test_required_names_list_every_answer():
    assert list(load_assignment(ASSIGNMENT).required_names) == ANSWER_NAMES


def test_reference_earns_full_marks():
    assert_scores(grade(REPO / "reference" / "backprop_quiz.py", ASSIGNMENT, seed=SEED), {})


@pytest.mark.parametrize("seed", [SEED, 1])
def test_answers_written_as_values_earn_full_marks(seed):
    assert_scores(_graded("correct_literal", seed), {})


def test_rubric_selectors_agree_with_the_checks():
    check_ids = [o.check_id for o in _graded("correct_literal").result.outcomes]
    assert rubric_for(ASSIGNMENT).validate_against(check_ids) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_typical_mistake_earns_its_exact_score(name):
    fractions, fragments = CASES[name]
    run = _graded(name)
    assert_scores(run, fractions)
    assert_fragments(run, fragments)


def test_messages_do_not_reveal_the_answers():
    run = _graded("bug_signs_and_step")
    text = " ".join(f"{o.message} {o.hint or ''}" for o in run.result.outcomes)
    assert "-4" not in text and "0.59" not in text


def test_every_fixture_is_covered():
    assert {p.stem for p in FIXTURES.glob("*.py")} == set(CASES) | {"correct_literal"}


# The exam questions' options exactly as the chapter lists them (../shared/spec/CHAPTER.md, "The exam
# questions' options, in the chapter's order"), and the position of the one it marks right.
CHAPTER_EXAM_OPTIONS = {
    1: (["-0.7", "0.7", "-0.3", "0.21"], 0),
    2: (["O(L^2)", "O(sum of n_l * n_{l-1} * m)", "O(L * n^2 * m^2)", "O(n^L)"], 1),
    3: (["A[l]", "A[l-1]", "Z[l+1]", "W[l+1]"], 1),
    4: (["O(eps)", "O(eps^2)", "O(eps^3)", "O(1/eps)"], 1),
}
LETTERS = "ABCD"


def _exam_submission(folder: Path, letters: dict[int, str]) -> Path:
    """correct_literal.py with its EXAM_ANSWERS replaced by `letters`."""
    source = (FIXTURES / "correct_literal.py").read_text(encoding="utf-8")
    answers = "EXAM_ANSWERS = {" + ", ".join(f"{q}: {letter!r}" for q, letter in letters.items()) + "}"
    replaced, count = re.subn(r"^EXAM_ANSWERS = .*$", answers, source, flags=re.M)
    assert count == 1
    path = folder / "exam.py"
    path.write_text(replaced, encoding="utf-8")
    return path


def _exam_verdicts(run) -> dict[int, bool]:
    return {q: next(o for o in run.result.outcomes if f"test_exam_q{q}_" in o.check_id).status == "passed"
            for q in CHAPTER_EXAM_OPTIONS}


def test_a_student_answering_from_the_book_is_right(tmp_path):
    """Issue 10 §5: the letter the chapter gives the right option is the right letter, whatever the handout did."""
    from_the_book = {q: LETTERS[right] for q, (_, right) in CHAPTER_EXAM_OPTIONS.items()}
    assert _exam_verdicts(grade(_exam_submission(tmp_path, from_the_book), ASSIGNMENT, seed=SEED)) == \
        {q: True for q in CHAPTER_EXAM_OPTIONS}


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_every_other_letter_of_the_book_is_wrong(tmp_path, shift):
    others = {q: LETTERS[(right + shift) % 4] for q, (_, right) in CHAPTER_EXAM_OPTIONS.items()}
    assert _exam_verdicts(grade(_exam_submission(tmp_path, others), ASSIGNMENT, seed=SEED)) == \
        {q: False for q in CHAPTER_EXAM_OPTIONS}


def test_the_examples_in_exam_messages_are_wrong_answers():
    """A student who copies a message's example must not get an exam question right by it."""
    right = {q: LETTERS[r] for q, (_, r) in CHAPTER_EXAM_OPTIONS.items()}
    texts = [f"{o.message} {o.hint or ''}" for name in ("bug_wrong_types", "bug_exam_letters")
             for o in _graded(name).result.outcomes if "test_exam_" in o.check_id]
    examples = [(int(q), letter) for text in texts for q, letter in re.findall(r'(\d): "([A-D])"', text)]
    assert examples and all(right[q] != letter for q, letter in examples)
    assert not any(f'e.g. "{letter}"' in text for text in texts for letter in set(right.values()))

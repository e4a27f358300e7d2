"""The engine's own contracts, on tiny assignments built here: declared prerequisites, hooks, settings, ids, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.checking.runner import run_checks
from grader.cli import main
from grader.config.assignment import AssignmentError, read_assignment
from grader.errors import (EXIT_FAULT, EXIT_INTERRUPTED, EXIT_USAGE, ConfigurationError, GraderFault,
                           SubmissionError, exit_status, row_state)
from grader.model import PASSED, SKIPPED, RowState, Status
from grader.source.submission import student_id

FIXTURES = Path(__file__).parent / "fixtures" / "lab"


def tiny_assignment(tmp_path: Path, checks: dict[str, str], toml: str = "", hooks: dict[str, str] | None = None):
    """An assignment folder with the given check files (and extra toml), read as the engine reads one."""
    folder = tmp_path / "tiny"
    (folder / "checks").mkdir(parents=True)
    for name, source in checks.items():
        (folder / "checks" / name).write_text(textwrap.dedent(source))
    for name, source in (hooks or {}).items():
        (folder / name).write_text(textwrap.dedent(source))
    (folder / "assignment.toml").write_text('id = "tiny"\ntitle = "Tiny"\n' + textwrap.dedent(toml))
    return read_assignment(folder)


CHECKS = {
    "test_a.py": '''
        import pytest

        def test_first():
            """The first check"""

        def test_second():
            """The second check"""
            assert False, "wrong"

        @pytest.mark.parametrize("n", [1, 2])
        def test_param(n):
            """A parametrized check"""
            assert n == 1

        @pytest.mark.requires("test_first")
        def test_after_first():
            """Runs after the first"""

        @pytest.mark.requires("test_first", "test_second", why="both are needed")
        def test_after_both():
            """Needs both"""

        @pytest.mark.requires("test_param")
        def test_after_every_parameter():
            """Needs every parametrization"""
        ''',
    "test_b.py": '''
        import pytest

        @pytest.mark.requires("test_a.py::test_first")
        def test_across_files():
            """Needs a check of another file"""

        @pytest.mark.requires("test_never_defined")
        def test_after_nothing():
            """Needs a check that does not exist"""
        ''',
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    assignment = tiny_assignment(tmp_path_factory.mktemp("runner"), CHECKS)
    found, errors = run_checks(assignment, student=None, seed=1)
    assert errors == []
    return {o.check_id: o for o in found}


def test_a_check_whose_prerequisites_passed_runs(outcomes):
    assert outcomes["test_a.py::test_after_first"].status == PASSED
    assert outcomes["test_b.py::test_across_files"].status == PASSED


def test_a_check_whose_prerequisite_failed_is_not_graded_and_says_which_and_why(outcomes):
    outcome = outcomes["test_a.py::test_after_both"]
    assert outcome.status == SKIPPED and outcome.earned() == 0
    assert outcome.message == "Not graded until this check passes: \u201cThe second check\u201d: both are needed."


def test_every_parametrization_of_a_prerequisite_must_pass(outcomes):
    outcome = outcomes["test_a.py::test_after_every_parameter"]
    assert outcome.status == SKIPPED and "\u201cA parametrized check\u201d" in outcome.message


def test_a_prerequisite_that_never_ran_fails_closed(outcomes):
    outcome = outcomes["test_b.py::test_after_nothing"]
    assert outcome.status == SKIPPED and "test_b.py::test_never_defined (it did not run)" in outcome.message


def test_statuses_carry_their_meaning():
    assert Status("timeout") is Status.TIMEOUT and Status.TIMEOUT == "timeout"
    assert "time budget" in Status.TIMEOUT.reason


# ---------------------------------------------------------------- hooks and settings


def test_a_hook_in_the_assignments_folder_is_called(tmp_path):
    assignment = tiny_assignment(tmp_path, {"test_x.py": "def test_x():\n    pass\n"},
                                 '[hooks]\nexception_hint = "hooks.py:hint"\n',
                                 {"hooks.py": "def hint(function, kind, message, shapes):\n"
                                              "    return f'{function} raised {kind}'\n"})
    assert assignment.hooks.exception_hint("f", "KeyError", "", {}) == "f raised KeyError"


@pytest.mark.parametrize("table, message", [
    ('[hooks]\nexception_hints = "hooks.py:hint"\n', r"unknown hook\(s\) exception_hints"),
    ('[hooks]\nexception_hint = "hooks.py"\n', r'exception_hint must be "module:function"'),
    ('[hooks]\nexception_hint = "hooks.py:nothing"\n', r"hooks.py has no function 'nothing'"),
    ('[hooks]\nexception_hint = "no_such_module_here:f"\n', r"cannot import no_such_module_here"),
    ('[hooks]\nexception_hint = "../outside.py:f"\n', r"is not a file of"),
])
def test_a_bad_hook_is_a_configuration_error_naming_the_file_and_hook(tmp_path, table, message):
    with pytest.raises(AssignmentError, match=message) as caught:
        tiny_assignment(tmp_path, {"test_x.py": "def test_x():\n    pass\n"}, table,
                        {"hooks.py": "def hint(*args):\n    return None\n"})
    assert "assignment.toml" in str(caught.value)


def test_settings_are_checked_by_the_hook_when_the_assignment_loads(tmp_path):
    toml = '[settings]\nbudget = -1\n[hooks]\ncheck_settings = "hooks.py:check"\n'
    hooks = {"hooks.py": "def check(settings):\n"
                         "    return [] if settings['budget'] > 0 else ['`budget` must be above 0']\n"}
    with pytest.raises(AssignmentError, match=r"\[settings\] `budget` must be above 0"):
        tiny_assignment(tmp_path, {"test_x.py": "def test_x():\n    pass\n"}, toml, hooks)


def test_replaced_settings_keep_their_kind_and_are_checked_again(tmp_path):
    toml = '[settings]\nbudget = 5\n[hooks]\ncheck_settings = "hooks.py:check"\n'
    hooks = {"hooks.py": "def check(settings):\n"
                         "    return [] if settings['budget'] > 0 else ['`budget` must be above 0']\n"}
    assignment = tiny_assignment(tmp_path, {"test_x.py": "def test_x():\n    pass\n"}, toml, hooks)
    assert assignment.with_settings({"budget": 2}).settings["budget"] == 2
    with pytest.raises(AssignmentError, match="must be a number like the file's 5"):
        assignment.with_settings({"budget": "2"})
    with pytest.raises(AssignmentError, match="has no `budgte` to replace"):
        assignment.with_settings({"budgte": 2})
    with pytest.raises(AssignmentError, match="`budget` must be above 0"):
        assignment.with_settings({"budget": 0})


# ---------------------------------------------------------------- student ids and errors


@pytest.mark.parametrize("name, is_dir, expected", [
    ("alice.py", False, "alice"), ("alice.v2.py", False, "alice.v2"), ("alice.v2", True, "alice.v2"),
    ("bob.ipynb", False, "bob"), ("carol.zip", False, "carol"), ("dave.pdf", False, "dave"), ("README", False, "README"),
])
def test_one_student_id_rule(name, is_dir, expected):
    assert student_id(Path("class") / name, is_dir=is_dir) == expected


def test_grade_looks_up_overrides_under_the_id_a_batch_gives_a_folder(tmp_path, capsys):
    # A folder `alice.v2` is student `alice.v2` in a batch; `grader grade --overrides` used to look up `alice`.
    folder = tmp_path / "alice.v2"
    folder.mkdir()
    (folder / "lab.py").write_text((FIXTURES / "bug_train_too_short.py").read_text())
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,item,points,comment\nalice.v2,training,20,Checked by hand\n")
    report = tmp_path / "results.json"
    assert main(["grade", str(folder), "-a", "backprop-lab", "--seed", "1", "--overrides", str(overrides),
                 "--json", str(report)]) == 0
    assert '"override"' in report.read_text() and "Checked by hand" in report.read_text()


def test_errors_map_to_exit_statuses_and_row_states_in_one_place():
    assert exit_status(ConfigurationError("x")) == EXIT_USAGE
    assert exit_status(GraderFault("x")) == EXIT_FAULT
    assert exit_status(KeyboardInterrupt()) == EXIT_INTERRUPTED
    assert row_state(SubmissionError("x")) is RowState.BROKEN
    assert row_state(GraderFault("x")) is RowState.GRADER_ERROR
    assert row_state(RuntimeError("a bug of ours")) is RowState.GRADER_ERROR


def test_a_configuration_error_is_exit_2_with_the_message(capsys):
    assert main(["grade", str(FIXTURES / "correct_classic.py"), "-a", "no-such-assignment"]) == EXIT_USAGE
    assert "grader: error: unknown assignment 'no-such-assignment'" in capsys.readouterr().err

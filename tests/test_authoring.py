"""An instructor's own assignment: `grader new`, `--assignments DIR` / GRADER_ASSIGNMENTS, and precise errors.

Every test works in a temporary folder with the command line as an
instructor types it; the environment variable is restored after each.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.authoring import new_assignment
from grader.cli import main
from grader.config import locations
from grader.config.assignment import load_assignment
from grader.errors import ConfigurationError
from grader.handout import HandoutError, starter_source

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def no_local_assignments(monkeypatch):
    """Each test starts without local folders (and the CLI's --assignments does not leak into the next)."""
    monkeypatch.delenv(locations.ENV_VAR, raising=False)


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """An instructor's course folder, the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _scores(path: Path) -> dict[str, tuple[float, float]]:
    results = json.loads(path.read_text())
    return {t["tags"][0]: (t["score"], t["max_score"]) for t in results["tests"]}


# ------------------------------------------------------------------ grader new NAME


def test_grader_new_writes_a_working_assignment_the_commands_accept_as_written(course, capsys):
    code, out, _ = _run(capsys, "new", "sig")
    assert code == 0 and "grader list --assignments ." in out
    folder = course / "sig"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "assignment.toml", "rubric.toml", "reference.py", "checks/conftest.py", "checks/test_public.py",
        "checks/test_hidden.py", "fixtures/bug_missing_one_minus_s.py"}

    code, out, _ = _run(capsys, "list", "--assignments", ".")
    assert code == 0 and "sig: sig: the backward pass of a sigmoid layer (10 points)" in out
    assert "backprop-lab" in out  # the bundled ones are still there

    code, out, _ = _run(capsys, "assign", "sig", "-o", "handout", "--assignments", ".")
    starter = (course / "handout" / "sig.py").read_text()
    assert code == 0 and "raise NotImplementedError" in starter and "activation" not in starter
    assert "def sigmoid(Z)" in starter  # listed in [starter] given
    readme = (course / "handout" / "README.md").read_text()
    assert "on a 3 x 4 example" in readme and "any shape" not in readme  # the public check only

    code, _, _ = _run(capsys, "grade", "sig/reference.py", "-a", "sig", "--assignments", ".", "--json", "ref.json")
    assert code == 0 and _scores(course / "ref.json")["sigmoid_backward"] == (8, 8)

    code, _, _ = _run(capsys, "grade", "handout/sig.py", "-a", "sig", "--assignments", ".", "--json", "start.json")
    assert code == 0 and _scores(course / "start.json")["sigmoid_backward"][0] == 0

    bug = "sig/fixtures/bug_missing_one_minus_s.py"
    code, out, _ = _run(capsys, "check", bug, "-a", "sig", "--assignments", ".")
    assert code == 0 and "the (1 - s) factor is missing" in out
    code, _, _ = _run(capsys, "grade", bug, "-a", "sig", "--assignments", ".", "--json", "bug.json")
    checks = {c["check_id"]: c["status"] for c in json.loads((course / "bug.json").read_text())["extra_data"]["checks"]}
    assert checks["test_hidden.py::test_sigmoid_backward_leaves_inputs_unchanged"] == "passed"
    assert {s for c, s in checks.items() if "leaves_inputs" not in c} == {"failed"}


def test_grader_new_never_overwrites_and_leaves_nothing_behind_when_it_fails(course, capsys):
    (course / "taken").mkdir()
    (course / "taken" / "notes.txt").write_text("mine")
    code, _, err = _run(capsys, "new", "taken")
    assert code == 2 and "already exists" in err and (course / "taken" / "notes.txt").read_text() == "mine"
    code, _, err = _run(capsys, "new", "copy", "--from", "no-such-assignment")
    assert code == 2 and "unknown assignment 'no-such-assignment'" in err
    code, _, err = _run(capsys, "new", "../escape")
    assert code == 2 and "cannot name an assignment" in err
    assert sorted(p.name for p in course.iterdir()) == ["taken"]


def test_the_environment_variable_names_the_folder_as_well(course, capsys, monkeypatch):
    new_assignment("envlab", course)
    code, out, _ = _run(capsys, "list")
    assert "envlab" not in out
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    code, out, _ = _run(capsys, "list")
    assert "envlab: envlab" in out


def test_a_missing_assignments_folder_is_an_error_not_a_silent_fallback(course, capsys):
    code, _, err = _run(capsys, "list", "--assignments", "nowhere")
    assert code == 2 and "--assignments nowhere: not a folder" in err


# ------------------------------------------------------------------ --from and precedence


def test_a_copy_of_the_lab_grades_with_its_own_reference_and_overrides_the_bundled_one(course, capsys, monkeypatch):
    copy = new_assignment("backprop-lab", course, source="backprop-lab")
    assert not (copy / "demo-class.toml").exists()
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    local = load_assignment("backprop-lab")
    assert local.folder == copy and local.reference_file == copy / "reference.py"
    assert local.rubric == str(copy / "rubric.toml")
    # The instructor changes the copy's reference: the checks now expect Z = W A_prev + b + 1.
    reference = copy / "reference.py"
    text = reference.read_text()
    assert "    Z = W @ A_prev + b\n" in text
    reference.write_text(text.replace("    Z = W @ A_prev + b\n", "    Z = W @ A_prev + b + 1.0\n"))
    code, _, _ = _run(capsys, "grade", str(FIXTURES / "lab" / "correct_classic.py"), "-a", "backprop-lab",
                      "--json", "local.json", "--seed", "3")
    scores = _scores(course / "local.json")
    assert code == 0 and scores["forward"][0] < scores["forward"][1]
    monkeypatch.delenv(locations.ENV_VAR)
    assert load_assignment("backprop-lab").folder == locations.bundled_assignments_dir() / "backprop-lab"


@pytest.mark.parametrize("source", ["backprop-exercises", "backprop-research", "backprop-quiz"])
def test_every_bundled_assignment_copies_into_one_that_loads_and_makes_a_handout(course, source, monkeypatch):
    copy = new_assignment("mine", course, source=source)
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    assignment, original = load_assignment("mine"), load_assignment(source)
    assert assignment.folder == copy and assignment.reference_file == copy / "reference.py"
    # Hooks named as dotted modules still come from the installed grader.
    assert assignment.hooks == original.hooks
    # The same starter code under the docstring (which names the assignment).
    assert starter_source(assignment).split('"""', 2)[2] == starter_source(original).split('"""', 2)[2]


# ------------------------------------------------------------------ validation at load


def _broken(course: Path, monkeypatch, edit) -> Path:
    folder = new_assignment("broken", course)
    edit(folder)
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    return folder


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("edit, message", [
    (lambda f: _replace(f / "assignment.toml", "refused_imports =", "refused_import ="),
     r"assignment\.toml: unknown key\(s\) refused_import \(did you mean refused_imports\?\)"),
    (lambda f: _replace(f / "assignment.toml", 'reference = "reference.py"', 'reference = "solution.py"'),
     r"assignment\.toml: `reference` file solution\.py is not a file of .*broken"),
    (lambda f: _replace(f / "assignment.toml", 'rubric = "rubric.toml"', 'rubric = "grading.toml"'),
     r"assignment\.toml: `rubric` file grading\.toml is not in .*broken"),
    (lambda f: _replace(f / "rubric.toml", 'assignment = "broken"', 'assignment = "other"'),
     r"rubric\.toml: `assignment` must be 'broken' .*found 'other'"),
    (lambda f: _replace(f / "rubric.toml", "points = 8", "points = -8"),
     r"rubric\.toml: item 'sigmoid_backward': `points` must be a positive number, found -8"),
    (lambda f: _replace(f / "assignment.toml", "call_timeout = 10", "call_timeout = 0"),
     r"assignment\.toml: limits\.call_timeout must be a positive number, found 0"),
    (lambda f: _replace(f / "assignment.toml", "[starter]\n", "[starter]\nreference_docstrings = true\n"),
     r"assignment\.toml: \[starter\] unknown key\(s\) reference_docstrings \(did you mean reference_docstring\?\)"),
    (lambda f: _replace(f / "assignment.toml", 'given = ["sigmoid"]', 'given = "sigmoid"'),
     r"assignment\.toml: \[starter\] `given` must be a list"),
    (lambda f: _replace(f / "assignment.toml", 'refused_imports = ["torch"', 'preload = ["no_such_module_xyz"]\n'
                        'refused_imports = ["torch"'),
     r"assignment\.toml: `preload` names no_such_module_xyz, which is not installed"),
    (lambda f: [p.rename(p.with_name("helpers_" + p.name[5:])) for p in (f / "checks").glob("test_*.py")],
     r"assignment\.toml: `checks` folder .*checks holds no check file"),
    (lambda f: _replace(f / "assignment.toml", 'id = "broken"', 'id = "broken2"'),
     r"assignment\.toml: `id` must be 'broken' \(the folder's name\), found 'broken2'"),
])
def test_a_mistake_in_the_configuration_names_the_file_and_the_key(course, monkeypatch, edit, message):
    _broken(course, monkeypatch, edit)
    with pytest.raises(ConfigurationError, match=message):
        load_assignment("broken")


def test_the_handout_refuses_a_helper_the_reference_does_not_list_as_given(course, monkeypatch):
    folder = _broken(course, monkeypatch, lambda f: None)
    with (folder / "reference.py").open("a") as handle:
        handle.write("\n\ndef make_inputs(rng):\n    \"\"\"Inputs for the checks.\"\"\"\n    return rng.random(3)\n")
    with pytest.raises(HandoutError, match=r"reference\.py:\d+: `make_inputs` has no solution region, so the "
                                           r"handout would give it to students whole; list it in .* \[starter\] given"):
        starter_source(load_assignment("broken"))
    _replace(folder / "assignment.toml", 'given = ["sigmoid"]', 'given = ["sigmoid", "make_inputs", "nothing"]')
    with pytest.raises(HandoutError, match=r"\[starter\] given lists nothing, which .*reference\.py does not define"):
        starter_source(load_assignment("broken"))
    _replace(folder / "assignment.toml", ', "nothing"]', "]")
    assert "def make_inputs(rng)" in starter_source(load_assignment("broken"))


def test_checks_import_from_their_conftest_and_from_other_modules_of_their_folder(course, capsys, monkeypatch):
    folder = new_assignment("helped", course)
    (folder / "checks" / "shapes_for_helped.py").write_text("SHAPES = [(2, 2)]\n")
    with (folder / "checks" / "test_hidden.py").open("a") as handle:
        handle.write("\n\nfrom shapes_for_helped import SHAPES\n\n\n"
                     "@pytest.mark.parametrize('shape', SHAPES)\n"
                     "def test_from_a_helper_module(student, reference, rng, shape):\n"
                     "    \"\"\"a check whose cases come from a helper module\"\"\"\n"
                     "    dA, Z = random_case(rng, shape)\n"
                     "    expect_array(student.sigmoid_backward(dA, Z), reference.sigmoid_backward(dA, Z), name='dZ',"
                     " call='sigmoid_backward')\n")
    code, _, _ = _run(capsys, "grade", "helped/reference.py", "-a", "helped", "--assignments", ".",
                      "--json", "r.json")
    checks = json.loads((course / "r.json").read_text())["extra_data"]["checks"]
    assert code == 0 and {c["check_id"]: c["status"] for c in checks}[
        "test_hidden.py::test_from_a_helper_module[shape0]"] == "passed"


def test_the_sandbox_hides_each_local_assignment_folder_but_not_the_rest_of_the_course(course, monkeypatch):
    new_assignment("hidden-one", course)
    (course / ".venv" / "lib").mkdir(parents=True)  # an instructor's venv beside their assignments
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    hidden = locations.hidden_paths()
    assert course / "hidden-one" in hidden
    assert course not in hidden and course / ".venv" not in hidden


# ------------------------------------------------------------------ a batch follows the assignment's changes


def test_a_batch_rerun_grades_again_when_the_assignment_changes_and_only_then(course, capsys, monkeypatch):
    from grader.batch import run_batch
    assert _run(capsys, "new", "sig")[0] == 0
    # A batch of a bundled assignment first: the pool's fork server starts before the local folder is chosen,
    # so its processes must be told where the assignment lives rather than inherit it.
    (course / "quiz").mkdir()
    shutil.copy(FIXTURES / "quiz" / "correct_literal.py", course / "quiz" / "ada.py")
    assert run_batch(course / "quiz", "backprop-quiz", course / "quiz-out", jobs=1, progress=False).graded == 1
    monkeypatch.setenv(locations.ENV_VAR, str(course))
    (course / "class").mkdir()
    (course / "class" / "ada.py").write_text((course / "sig" / "reference.py").read_text())
    (course / "class" / "bob.py").write_text((course / "sig" / "fixtures" / "bug_missing_one_minus_s.py").read_text())

    def batch() -> tuple[int, int]:
        summary = run_batch(course / "class", "sig", course / "out", jobs=1, progress=False)
        return summary.graded, summary.skipped

    assert batch() == (2, 0)
    assert batch() == (0, 2)
    # The instructor fixes a hidden check: every result was made by the old check, so everyone is graded again.
    hidden = course / "sig" / "checks" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# tolerance reviewed\n")
    assert batch() == (2, 0)
    assert batch() == (0, 2)
    # So does a change of the rubric.
    rubric = course / "sig" / "rubric.toml"
    rubric.write_text(rubric.read_text() + "\n")
    assert batch() == (2, 0)

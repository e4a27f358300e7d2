"""`grader assign`: the handout earns nothing as handed out and leaks no solution; the reference earns full marks.

Every assignment that has a reference module and checks is covered; the
lab always is. Each handout is written once per module into a temporary
folder and inspected the way a student (or a leak) would see it.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from grader.config.assignment import available_assignments, load_assignment
from grader.config.locations import bundled_assignments_dir
from grader.cli import main
from grader.handout import HandoutError, public_checks, solution_source, strip_solutions, write_handout
from grader.grading import grade

# A seed under which the references are known to pass every check: the
# exercises' numerical-gradient check reads 1.8e-7 on correct code for some
# seeds, which is a property of that check, not of the handout.
SEED = 0
LEAK_MIN_CHARS = 25
_REGION = re.compile(r"^[ \t]*# BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*# END SOLUTION[ \t]*$", re.M | re.S)
_REFERENCE_IMPORT = re.compile(r"^from reference\.(\w+) import", re.M)


def _reference_path(assignment_id: str) -> Path:
    return load_assignment(assignment_id).reference_file or Path("/nonexistent")


def _gradable() -> list[str]:
    """Assignments with a reference module and at least one check file."""
    found = []
    for assignment_id in available_assignments():
        assignment = load_assignment(assignment_id)
        if _reference_path(assignment_id).is_file() and any(assignment.checks_dir.glob("test_*.py")):
            found.append(assignment_id)
    return found


ASSIGNMENTS = _gradable()


@pytest.fixture(autouse=True)
def fresh_check_modules():
    """Forget imported check modules before each test.

    The runner imports check files by their base name, so after grading the
    exercises, `test_gradient_check` in sys.modules is the exercises' module
    and a later lab grading in the same process would run it (reported to the
    runner's owner); each test here must see its own assignment's checks.
    """
    checks_root = str(bundled_assignments_dir()) + os.sep
    for name in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", "")).startswith(checks_root)]:
        del sys.modules[name]


def test_the_lab_is_covered():
    assert "backprop-lab" in ASSIGNMENTS


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def handout(request, tmp_path_factory) -> tuple[str, Path]:
    """(assignment id, the folder `write_handout` filled)."""
    outdir = tmp_path_factory.mktemp("handout") / "nested" / "dir"
    write_handout(request.param, outdir)
    return request.param, outdir


def _top_level_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _notebook_code(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def _solution_lines(path: Path) -> set[str]:
    """The long lines inside the solution regions of `path` and of the reference modules it imports.

    A line the reference also prints outside its regions is given, not a
    solution: "Debug This!" shares its correct lines with `buggy_backward`.
    """
    text = path.read_text(encoding="utf-8")
    given = {line.strip() for line in _REGION.sub("", text).splitlines()}
    lines = {line.strip() for region in _REGION.findall(text) for line in region.splitlines()} - given
    for module in _REFERENCE_IMPORT.findall(text):
        lines |= _solution_lines(path.parent / f"{module}.py")
    return {line for line in lines if len(line) >= LEAK_MIN_CHARS}


def test_the_folder_holds_the_starter_pair_and_the_guide_only(handout):
    assignment_id, outdir = handout
    assert sorted(p.name for p in outdir.iterdir()) == sorted([f"{assignment_id}.py", f"{assignment_id}.ipynb",
                                                               "README.md"])


def test_starter_defines_every_name_the_student_must_provide(handout):
    assignment_id, outdir = handout
    source = (outdir / f"{assignment_id}.py").read_text()
    names = _top_level_names(source)
    for group in load_assignment(assignment_id).required_functions:
        assert set(group.split("|")) & names, f"{group} missing from the starter"
    public_reference_names = {n for n in _top_level_names(_reference_path(assignment_id).read_text())
                              if not n.startswith("_")}
    assert public_reference_names <= names
    assert _top_level_names(_notebook_code(outdir / f"{assignment_id}.ipynb")) == names


def test_starter_has_no_marker_and_no_reference_import(handout):
    assignment_id, outdir = handout
    for source in ((outdir / f"{assignment_id}.py").read_text(), _notebook_code(outdir / f"{assignment_id}.ipynb")):
        assert "BEGIN SOLUTION" not in source and "END SOLUTION" not in source
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("reference")
            elif isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "reference" for alias in node.names)


def test_no_solution_line_appears_anywhere_in_the_handout(handout):
    assignment_id, outdir = handout
    solution = _solution_lines(_reference_path(assignment_id))
    assert solution, "the reference has no solution region to leak"
    for path in outdir.iterdir():
        text = path.read_text()
        if path.suffix == ".ipynb":
            text += _notebook_code(path)  # JSON escapes quotes; compare against the cells' code too
        leaked = [line for line in solution if line in text]
        assert leaked == [], f"{path.name} contains solution lines"


def test_notebook_is_valid_nbformat_4_with_instructions_first(handout):
    assignment_id, outdir = handout
    notebook = nbformat.read(outdir / f"{assignment_id}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    first, *rest = notebook.cells
    assert first.cell_type == "markdown" and load_assignment(assignment_id).title in first.source
    assert f"grader check {assignment_id}.ipynb -a {assignment_id}" in first.source
    assert len(rest) > 3 and all(cell.cell_type == "code" for cell in rest)


def test_guide_says_how_to_self_check_and_lists_public_checks_only(handout):
    assignment_id, outdir = handout
    guide = (outdir / "README.md").read_text()
    assert f"grader check {assignment_id}.py -a {assignment_id}" in guide
    checks_dir = load_assignment(assignment_id).checks_dir
    public = {title for _, title in public_checks(checks_dir)}
    assert public or assignment_id != "backprop-lab"
    assert all(f"- {title}\n" in guide for title in public)
    every = {ast.get_docstring(node).splitlines()[0].strip()
             for path in checks_dir.glob("test_*.py") for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test") and ast.get_docstring(node)}
    hidden = every - public
    assert [title for title in hidden if title in guide] == []
    assert "def test_" not in guide and "import pytest" not in guide


def test_starter_earns_zero_on_every_item(handout):
    assignment_id, outdir = handout
    run = grade(outdir / f"{assignment_id}.py", assignment_id, seed=SEED)
    assert run.submission_error is None and run.load_problems == []
    assert {item.id: item.score for item in run.result.items} == {item.id: 0 for item in run.result.items}
    assert run.result.score == 0


def test_lab_notebook_starter_earns_zero_too(tmp_path):
    write_handout("backprop-lab", tmp_path)
    run = grade(tmp_path / "backprop-lab.ipynb", "backprop-lab", seed=SEED)
    assert run.submission_error is None
    assert [item.score for item in run.result.items] == [0] * len(run.result.items)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_reference_earns_full_marks(assignment_id, tmp_path):
    path = _reference_path(assignment_id)
    if _REFERENCE_IMPORT.search(path.read_text()):
        # A submission is one file: the reference's own imports from reference/ are inlined, solutions kept.
        path = tmp_path / f"{assignment_id}.py"
        path.write_text(solution_source(assignment_id))
    run = grade(path, assignment_id, seed=SEED)
    assert run.result.score == run.result.max_score
    if assignment_id == "backprop-lab":
        assert run.result.score == 100


def test_cli_writes_the_handout_and_refuses_to_overwrite_without_force(tmp_path, capsys):
    outdir = tmp_path / "handout"
    assert main(["assign", "backprop-lab", "-o", str(outdir)]) == 0
    starter = outdir / "backprop-lab.py"
    assert "wrote" in capsys.readouterr().out and starter.is_file()
    starter.write_text("# my work in progress\n")
    assert main(["assign", "backprop-lab", "-o", str(outdir)]) == 2
    err = capsys.readouterr().err
    assert "backprop-lab.py" in err and "--force" in err
    assert starter.read_text() == "# my work in progress\n"
    assert main(["assign", "backprop-lab", "-o", str(outdir), "--force"]) == 0
    assert "raise NotImplementedError" in starter.read_text()


def test_cli_unknown_assignment_is_a_clear_usage_error(tmp_path, capsys):
    assert main(["assign", "backprop-nope", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown assignment 'backprop-nope'" in err and "backprop-lab" in err
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------- the region rules themselves

SAMPLE = '''"""Sample."""
import math


class Node:
    def grad(self, x):
        """d/dx."""
        # The hint stays.
        # BEGIN SOLUTION
        def inner():
            return 2 * x
        return inner()
        # END SOLUTION


# Two answers and some working.
# BEGIN SOLUTION
_work = math.pi
ANSWER, OTHER = _work, 2


def SLOPE(x, y=1):
    return x * y
# END SOLUTION
'''


def test_a_function_region_becomes_raise_at_its_indentation_and_a_module_region_placeholders():
    starter = strip_solutions(SAMPLE)
    assert "        # The hint stays.\n        raise NotImplementedError\n" in starter
    assert "ANSWER = None\nOTHER = None\nSLOPE = None  # replace by a function: def SLOPE(x, y=1): ...\n" in starter
    assert "_work" not in starter and "inner" not in starter and "2 * x" not in starter
    ast.parse(starter)


@pytest.mark.parametrize("broken, where", [
    (SAMPLE.replace("        # END SOLUTION\n", "", 1), ":16: BEGIN SOLUTION inside the region opened at line 9"),
    (SAMPLE.replace("# BEGIN SOLUTION\n_work", "_work", 1), ":23: END SOLUTION without a BEGIN"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", ":2: BEGIN SOLUTION is never closed"),
    ('def f():\n    """Doc."""\n    # BEGIN SOLUTION\n    # END SOLUTION\n',
     ":3: the solution region holds no statement"),
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n  # END SOLUTION\n", ":4: END SOLUTION is indented differently"),
])
def test_unbalanced_or_empty_regions_are_reported_with_their_line(broken, where):
    with pytest.raises(HandoutError, match=re.escape(where)):
        strip_solutions(broken, "sample.py")


def test_public_checks_are_read_from_marks_without_importing(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import pytest\nimport does_not_exist  # never imported\n\n"
        "@pytest.mark.public\n@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_shown(n):\n    \"\"\"Shown title\n\n    More.\"\"\"\n\n"
        "def test_hidden():\n    \"\"\"Hidden title\"\"\"\n\n"
        "class TestGroup:\n    pytestmark = [pytest.mark.public]\n\n    def test_in_class(self):\n        pass\n")
    (tmp_path / "test_b.py").write_text("import pytest\npytestmark = pytest.mark.public\n\n"
                                        "def test_all():\n    \"\"\"Whole file public\"\"\"\n")
    assert public_checks(tmp_path) == [("test_a.py::test_shown", "Shown title"),
                                       ("test_a.py::TestGroup::test_in_class", "test_in_class"),
                                       ("test_b.py::test_all", "Whole file public")]


def _published_exam_options(text: str) -> dict[int, list[tuple[str, str]]]:
    """(letter, option) pairs of each exam question, in the order a handout text prints them."""
    blocks = re.findall(r"^Q(\d)\.(.*?)(?=^Q\d\.|\Z)", text, flags=re.M | re.S)
    return {int(q): re.findall(r"^\s+([A-D])\) (.+)$", block, flags=re.M) for q, block in blocks}


def test_the_quiz_handout_lists_each_exam_questions_options_as_the_chapter_does(tmp_path):
    """Issue 10 §5: option k of the chapter is option k of the handout, under the same letter."""
    from tests.test_quiz_grading import CHAPTER_EXAM_OPTIONS
    assert main(["assign", "backprop-quiz", "-o", str(tmp_path)]) == 0
    starter = ast.get_docstring(ast.parse((tmp_path / "backprop-quiz.py").read_text(encoding="utf-8")))
    notebook = "\n".join(cell.source for cell in nbformat.read(tmp_path / "backprop-quiz.ipynb", as_version=4).cells
                         if cell.cell_type == "markdown")
    for text in (starter, notebook):
        published = _published_exam_options(text)
        assert sorted(published) == sorted(CHAPTER_EXAM_OPTIONS)
        for question, (options, _) in CHAPTER_EXAM_OPTIONS.items():
            letters = [letter for letter, _ in published[question]]
            assert letters == list("ABCD"), (question, letters)
            # The handout may say more after the chapter's words ("A[l-1] (the previous layer's activation)").
            shown = [option.split(" (")[0] if not option.startswith("O(") else option
                     for _, option in published[question]]
            assert shown == options, (question, shown)

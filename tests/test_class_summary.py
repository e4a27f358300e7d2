"""What an instructor and a student read: reasons for every row, hints by mistake, similar pairs, broken files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from grader.batch import run_batch
from grader.batch.gradebook import load_notes
from grader.batch.similarity import normalised_tokens, similar_pairs
from grader.outputs import grade_submission
from grader.report.html import _frequent_failures, mistake_of

LAB = Path(__file__).parent / "fixtures" / "lab"


def test_a_broken_file_report_shows_no_instructor_path_and_does_not_claim_the_code_loaded(tmp_path):
    folder = tmp_path / "instructor-only" / "submissions"
    folder.mkdir(parents=True)
    shutil.copy(LAB / "broken_binary.py", folder / "ada.py")
    graded = grade_submission(folder / "ada.py", "backprop-lab", seed=1, student="ada")
    html = graded.report_html
    assert "instructor-only" not in html and "instructor-only" not in json.dumps(graded.results)
    assert "ada.py: the file contains NUL bytes" in html
    assert "Your submission could not be read" in html
    assert "loaded cleanly" not in html and "Your code was not loaded or run" in html


def test_a_graded_row_with_a_syntax_error_says_why_in_the_index(tmp_path):
    graded = grade_submission(LAB / "bug_syntax_error_in_one_function.py", "backprop-lab", seed=3)
    notes = load_notes(graded.results["extra_data"])
    assert any(re.match(r"line \d+: SyntaxError: .*, not loaded$", note) for note in notes)
    # Demo code left out on purpose is not a problem.
    assert not load_notes({"skipped_statements": [{"where": "line 9", "reason": "top-level call to train()"}]})


def test_hints_are_grouped_by_mistake_not_by_check():
    hint = ("dW and db are averages over the m examples: dW = (1/m) dZ @ A_prev.T. (each of your dW and db "
            "equals the expected value times m = {m})")
    layered = "The layers above {k} are right, so the bug is in the step from layer {j} back to layer {k}."
    checks = [{"check_id": f"c{m}", "title": f"check [m={m}]", "status": "failed", "hint": hint.format(m=m)}
              for m in (4, 5, 6, 8, 10)]
    checks += [{"check_id": f"l{k}", "title": f"layers [{k}]", "status": "failed",
                "hint": layered.format(k=k, j=k + 1)} for k in (2, 4)]
    rows = [{"student": "emmy", "results": {"extra_data": {"checks": checks}}},
            {"student": "kurt", "results": {"extra_data": {"checks": checks[:1]}}}]
    hints = _frequent_failures(rows)["hints"]
    assert [(h["students"], h["variants"]) for h in hints] == [(2, 0), (1, 1)]
    assert hints[0]["text"] == mistake_of(hint.format(m=4)) and "times m" not in hints[0]["text"]


def test_identical_and_near_identical_submissions_are_paired_and_different_ones_are_not():
    classic = (LAB / "correct_classic.py").read_text(encoding="utf-8")
    # The same code with other names, comments and docstrings: still near-identical.
    disguised = re.sub(r"\bparameters\b", "weights", classic)
    disguised = re.sub(r"#[^\n]*", "# my own words", disguised)
    sources = {"ada": classic, "bob": classic, "cy": disguised,
               "dee": (LAB / "correct_dictcache.py").read_text(encoding="utf-8"),
               "eve": (LAB / "correct_messy.py").read_text(encoding="utf-8")}
    hashes = {"ada": "h1", "bob": "h1", "cy": "h2", "dee": "h3", "eve": "h4"}
    pairs, total = similar_pairs(sources, hashes)
    found = {(p.first, p.second): p for p in pairs}
    assert found[("ada", "bob")].identical
    assert not found[("ada", "cy")].identical and found[("ada", "cy")].similarity >= 0.99
    assert not any("dee" in key or "eve" in key for key in found)
    assert total == len(pairs) == 3
    assert normalised_tokens("def f(:\n") == []  # does not tokenize: left out of the comparison


def test_a_batch_reads_each_file_once_for_the_comparison_and_finds_the_same_pairs(tmp_path, monkeypatch):
    """The batch reads each student's code as their result arrives; the comparison after the last student then
    reads nothing again (unless a student's file is another one by then) and pairs as if it read all at the end."""
    import grader.source.submission as submission_module
    from grader.batch.similarity import ClassCode
    from grader.config.assignment import load_assignment
    classic = (LAB / "correct_classic.py").read_text(encoding="utf-8")
    files = {"ada": classic, "bob": classic, "cy": re.sub(r"#[^\n]*", "# mine", classic),
             "dee": (LAB / "correct_messy.py").read_text(encoding="utf-8")}
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(text, encoding="utf-8")
    reads = []
    real = submission_module.load_submission
    monkeypatch.setattr(submission_module, "load_submission", lambda path: reads.append(str(path)) or real(path))
    code = ClassCode(load_assignment("backprop-lab"))
    for name in ("ada", "bob", "cy", "dee"):
        code.read(name, str(paths[name]))
    entries = {name: str(path) for name, path in paths.items()}
    assert len(reads) == 4
    pairs, total = code.pairs(entries)
    assert len(reads) == 4  # nothing read twice
    fresh, fresh_total = ClassCode(load_assignment("backprop-lab")).pairs(entries)
    assert (pairs, total) == (fresh, fresh_total)
    assert {(p.first, p.second) for p in pairs} == {("ada", "bob"), ("ada", "cy"), ("bob", "cy")}
    other = tmp_path / "bob2.py"
    other.write_text((LAB / "correct_messy.py").read_text(encoding="utf-8"), encoding="utf-8")
    reads.clear()
    pairs, _ = code.pairs({**entries, "bob": str(other)})  # bob's file is another one now: read again
    assert reads == [str(other)] and ("bob", "dee") in {(p.first, p.second) for p in pairs}


def test_the_class_index_lists_identical_submissions(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "ben"):
        shutil.copy(LAB / "bug_uses_torch.py", folder / f"{name}.py")
    (folder / "zed.py").write_bytes(b"\0binary")
    run_batch(folder, "backprop-lab", tmp_path / "out", jobs=1, progress=False,
              settings={"train_timeout": 5})
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    section = index[index.index('id="similar"'):]
    assert 'href="ann/report.html">ann</a></td><td><a href="ben/report.html">ben</a></td><td class="num">identical file' \
        in section
    assert ">zed<" not in section


def test_the_plots_alt_text_says_what_each_student_s_picture_shows():
    from reference.report_sections import training_section
    def checks(accuracy, points):
        return [{"check_id": "t", "status": "passed" if accuracy > 0.95 else "failed",
                 "details": {"accuracy": accuracy, "moons_rotation_degrees": 120.0, "params": None}},
                {"check_id": "p", "status": "passed",
                 "details": {"images": {"other": "not a png"}, "figure_summary": {"axes": 1, "points": points, "filled_regions": 1}}}]
    good = [f.alt for f in training_section(checks(0.99, 1000)).figures]
    poor = [f.alt for f in training_section(checks(0.61, 300)).figures]
    assert good[0] != poor[0] and good[1] != poor[1]
    assert "1000 plotted data points" in good[0] and "300 plotted data points" in poor[0]
    assert "99%" in good[1] and "separates the two moons" in good[1] and "does not separate" in poor[1]


def test_a_report_without_the_plot_check_says_where_the_figure_will_be_shown():
    """`grader check` and a course's feedback before release show the public checks only: the student's figure
    (judged by a hidden check) is not "not recorded", it comes with the full report."""
    from reference.report_sections import training_section
    accuracy = {"check_id": "test_training.py::test_train_reaches_the_accuracy_bar", "status": "passed",
                "details": {"accuracy": 0.99, "params": None}}
    public = training_section([accuracy]).figures[0]
    assert public.png is None and "not among the checks shown here" in public.missing
    # The plot check ran and failed before any figure was drawn: the figure is missing, not hidden.
    plot = {"check_id": "test_training.py::test_plot_decision_boundary_returns_a_figure", "status": "failed",
            "details": {}}
    full = training_section([accuracy, plot]).figures[0]
    assert full.png is None and "not among the checks shown here" not in full.missing

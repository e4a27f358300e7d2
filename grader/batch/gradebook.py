"""The class's gradebook.csv, built from the students' stored results.json files.

It is rebuilt from disk after every batch (and every resume) like the class
index (grader.batch.index), so both always
agree with what each student's results.json says, whichever run wrote it.
Columns of gradebook.csv (``spec/INTERFACES.md``): student, score, max_score,
one column per rubric item (its id), status, then ``manual``: the ids of the
items whose points the instructor set (overrides), space-separated. A student whose grading failed
(status "grader error: ...") or who has no result yet gets empty score cells:
an empty cell cannot be mistaken for a zero in a spreadsheet or an LMS import.
"""

from __future__ import annotations

import csv
import io
import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from grader.batch.progress import GRADEBOOK_NAME
from grader.files import write_text_atomic
from grader.model import RowState
from grader.outputs import RESULTS_NAME
from grader.text import one_line, printable

GRADED, BROKEN, GRADER_ERROR, NOT_GRADED = (state.value for state in RowState)
# Scores in the gradebook: hundredths of a point are what any rubric's points resolve (results.json keeps 4).
SCORE_DECIMALS = 2
# Spreadsheets run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class GradebookRow:
    """One student's line: scores as results.json records them, and the batch status."""

    student: str
    status: str
    score: float | None = None
    max_score: float | None = None
    items: dict[str, float] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)   # items whose points the instructor set
    notes: list[str] = field(default_factory=list)    # what went wrong while loading or running (the index's reason)
    sha256: str = ""                                  # of the graded submission (identical hand-ins)
    folder: str = ""  # the student's folder in OUTDIR (their id, unless the id cannot be a folder name)

    def __post_init__(self) -> None:
        self.folder = self.folder or self.student

    @property
    def kind(self) -> str:
        """The status without its reason: graded, broken, grader error or not graded."""
        return RowState.of(self.status).value

    @property
    def reason(self) -> str:
        """The status's reason (empty for a plain "graded")."""
        return self.status.split(":", 1)[1].strip() if ":" in self.status else ""


def read_row(outdir: str | os.PathLike, student: str, *, status: str | None = None,
             folder: str | None = None) -> GradebookRow:
    """The row of `student` from OUTDIR/<folder>/results.json (`folder` defaults to the student id).

    `status` replaces the stored one (the batch passes "not graded: ..." for
    a student whose stored result is out of date); a missing or unreadable
    file gives a row without scores whose status says so.
    """
    folder = folder or student
    path = Path(outdir, folder, RESULTS_NAME)
    if status is not None and status.startswith(NOT_GRADED):
        return GradebookRow(student, status, folder=folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tests = data["tests"]
        extra = data.get("extra_data") or {}
        stored = (extra.get("batch") or {}).get("status") or GRADED
        items = {str(t["tags"][0]): float(t["score"]) for t in tests if t.get("tags")}
        manual = [str(t["tags"][0]) for t in tests if t.get("tags") and "override" in t["tags"][1:]]
        row = GradebookRow(student, status or stored, float(data["score"]), float(data["max_score"]), items,
                           _slim_checks(extra.get("checks")), manual, load_notes(extra),
                           str(extra.get("submission_sha256") or ""), folder=folder)
    except FileNotFoundError:
        return GradebookRow(student, status or f"{NOT_GRADED}: no results yet; run the batch to grade", folder=folder)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        return GradebookRow(student, f"{NOT_GRADED}: {path} cannot be read ({type(exc).__name__}: {exc}); "
                                     "grade again with --force", folder=folder)
    if row.kind == GRADER_ERROR:
        # Not a grade: the score in the file is only the fail-closed placeholder.
        row.score = row.max_score = None
        row.items = {}
    return row


def write_gradebook(outdir: str | os.PathLike, rows: Iterable[GradebookRow], item_ids: list[str]) -> Path:
    """Write OUTDIR/gradebook.csv (rows sorted by student) atomically; returns its path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *item_ids, "status", "manual"])
    for row in sorted(rows, key=lambda r: r.student):
        writer.writerow([_text_cell(row.student), _number(row.score), _number(row.max_score),
                         *(_number(row.items.get(item)) for item in item_ids), _text_cell(one_line(row.status)),
                         " ".join(item for item in item_ids if item in row.manual)])
    path = Path(outdir, GRADEBOOK_NAME)
    write_text_atomic(path, buffer.getvalue())
    return path


def load_notes(extra: dict) -> list[str]:
    """One line per thing that went wrong while loading or running a graded submission (a syntax error that
    cost a function, a statement that failed, what the sandbox stopped), for the index's reason column."""
    notes = []
    for problem in _dicts(extra.get("load_problems")):
        notes.append(f"{problem.get('where')}: {problem.get('type')} while loading, skipped")
    for skipped in _dicts(extra.get("skipped_statements")):
        reason = str(skipped.get("reason") or "")
        if reason.split(":", 1)[0].endswith("Error"):  # SyntaxError, IndentationError...: not demo code left out
            notes.append(f"{skipped.get('where')}: {reason}, not loaded")
    notes.extend(str(event) for event in extra.get("sandbox_events") or [] if isinstance(event, str))
    return [one_line(note, 200) for note in notes[:20]]


def _dicts(value: Any) -> list[dict]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _slim_checks(checks: Any) -> list[dict]:
    """What the class index needs of each check (a results.json can be ~100 KB; a class has hundreds)."""
    if not isinstance(checks, list):
        return []
    keep = ("check_id", "title", "status", "hint")
    return [{k: c.get(k) for k in keep} for c in checks if isinstance(c, dict)]


def _number(value: float | None) -> str:
    """A score as a person reads it: 20, 31.14 (two decimals, what the rubric's points resolve; never 20.0)."""
    if value is None:
        return ""
    value = round(float(value), SCORE_DECIMALS) + 0.0  # + 0.0: no "-0"
    return str(int(value)) if value.is_integer() else f"{value:.{SCORE_DECIMALS}f}".rstrip("0")


def _text_cell(text: str) -> str:
    """A text cell: printable on one line, quoted when a spreadsheet could read it as a formula.

    A leading quote keeps a spreadsheet from running a file name such as
    "=cmd|..." as a formula. Spreadsheets also trim leading spaces (NBSP
    included) and read full-width and small forms ("\uff1d", "\ufe66") as the
    ASCII sign, so a cell starting with any space or with a character whose
    compatibility form is a formula sign is quoted too.
    """
    text = printable(text, multiline=False)
    first = text[:1]
    if first and (first.isspace() or unicodedata.category(first) in ("Zs", "Cf")
                  or unicodedata.normalize("NFKC", first).startswith(_FORMULA_START)):
        return "'" + text
    return text

"""Grades for a learning management system: the columns an LMS import expects, from a batch's gradebook.csv.

`grader export lms OUTDIR --format FORMAT -o FILE` reads OUTDIR/gradebook.csv
(columns student, score, max_score, the items, status: spec/INTERFACES.md)
and writes one of (docs/lms.md has the import steps):

- ``generic``: ``student_id, score, max_score, final, status``; final is the
  score in percent;
- ``canvas``: Canvas's gradebook import layout, ``Student, ID, SIS User ID,
  SIS Login ID, Section, <assignment column>`` and a ``Points Possible`` row;
  the student id goes into the column chosen with ``--canvas-id``;
- ``moodle``: ``student_id, grade, feedback`` for Moodle's CSV grade import,
  where student_id is mapped to a user field and grade to the grade item.

A student the grader could not grade (a grader error, no result yet) gets an
empty grade, never a zero: the LMS keeps whatever it had. Scores are written
with at most two decimals, as the rubric resolves them.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from grader.batch.progress import GRADEBOOK_NAME
from grader.errors import ConfigurationError
from grader.files import write_text_atomic
from grader.model import RowState

FORMATS = ("generic", "canvas", "moodle")
CANVAS_ID_COLUMNS = {"id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID"}
# Spreadsheets and some LMS importers run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class LmsExportError(ConfigurationError):
    """The gradebook cannot be read or the export cannot be written; the message names the file."""


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def _cell(value: object) -> str:
    """A cell an importer reads as text: numbers with at most two decimals, formula starts quoted away."""
    if isinstance(value, float):
        return f"{round(value, 2):g}" if abs(value) < 1e15 else f"{value:.2f}"
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def read_gradebook(outdir: str | os.PathLike) -> list[dict]:
    """The rows of OUTDIR/gradebook.csv: {student, score, max_score, status}, score None when not gradable."""
    path = Path(outdir) / GRADEBOOK_NAME
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"student", "score", "max_score", "status"} - set(reader.fieldnames or [])
            if missing:
                raise LmsExportError(f"{path}: not a gradebook of `grader batch`: no column(s) "
                                     f"{', '.join(sorted(missing))}")
            rows = []
            for row in reader:
                state = RowState.of(row["status"])
                gradable = state in (RowState.GRADED, RowState.BROKEN)
                rows.append({"student": row["student"], "status": row["status"],
                             "score": _number(row["score"]) if gradable else None,
                             "max_score": _number(row["max_score"])})
            return rows
    except OSError as exc:
        raise LmsExportError(f"{path}: cannot read the gradebook ({exc.strerror or exc}); run `grader batch` "
                             f"with -o {outdir} first") from None


def lms_table(rows: list[dict], fmt: str, *, title: str = "Grade", canvas_id: str = "sis_login_id") -> list[list]:
    """The export's rows (header first) in format `fmt`."""
    if fmt not in FORMATS:
        raise LmsExportError(f"unknown LMS format {fmt!r}; formats: {', '.join(FORMATS)}")
    if fmt == "generic":
        table = [["student_id", "score", "max_score", "final", "status"]]
        for row in rows:
            score, top = row["score"], row["max_score"]
            final = 100.0 * score / top if score is not None and top else None
            table.append([row["student"], score, top, final, row["status"]])
        return table
    if fmt == "moodle":
        table = [["student_id", "grade", "feedback"]]
        for row in rows:
            score, top = row["score"], row["max_score"]
            feedback = f"{_cell(score)} / {_cell(top)} points" if score is not None else ""
            if RowState.of(row["status"]) != RowState.GRADED:
                feedback = (feedback + "; " if feedback else "") + row["status"]
            table.append([row["student"], score, feedback])
        return table
    if canvas_id not in CANVAS_ID_COLUMNS:
        raise LmsExportError(f"unknown Canvas id column {canvas_id!r}; choose {', '.join(CANVAS_ID_COLUMNS)}")
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title]
    top = next((row["max_score"] for row in rows if row["max_score"]), None)
    table = [header, ["Points Possible", "", "", "", "", top]]
    where = header.index(CANVAS_ID_COLUMNS[canvas_id])
    for row in rows:
        line = [row["student"], "", "", "", "", row["score"]]
        line[where] = row["student"]
        table.append(line)
    return table


def write_lms_csv(outdir: str | os.PathLike, out: str | os.PathLike, fmt: str, *, title: str | None = None,
                  canvas_id: str = "sis_login_id") -> Path:
    """Write the export of OUTDIR's gradebook to `out` (atomically); returns its path."""
    rows = read_gradebook(outdir)
    table = lms_table(rows, fmt, title=title or Path(outdir).resolve().name, canvas_id=canvas_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in table:
        writer.writerow([_cell(value) for value in line])
    out = Path(out)
    write_text_atomic(out, buffer.getvalue())
    return out

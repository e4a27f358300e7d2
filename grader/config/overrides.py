"""An instructor's manual points: a CSV file that replaces rubric item scores.

The file has a header row and one row per (student, item) to override::

    student,item,points,comment
    alice,quality,8,"Clear docstrings; the training loop could be split up."
    bob,training,20,"Plot checked by hand: the boundary is there."

- ``student``: the student id exactly as the batch names it (the submission's
  file or folder name without its extension); no wildcards.
- ``item``: a rubric item id of the assignment (``grader list`` shows them).
- ``points``: the item's new score, a number from 0 to the item's points.
- ``comment``: what the student reads next to the overridden score (may be empty).

Columns may come in any order; blank rows are ignored. The automatic score
stays in the results for display; the override decides the grade.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from grader.config.rubric import Rubric
from grader.errors import ConfigurationError
from grader.model import Override

COLUMNS = ("student", "item", "points", "comment")


class OverrideError(ConfigurationError):
    """An overrides file that cannot be used; the message names the file and the line."""


def load_overrides(path: str | Path, rubric: Rubric) -> dict[str, dict[str, Override]]:
    """Read an overrides CSV for `rubric`: ``{student_id: {item_id: Override}}``.

    Raises `OverrideError` naming the file and line for a missing or extra
    column, an unknown item, points that are not a number or lie outside
    ``[0, item points]``, an empty student id, and a repeated (student, item).
    """
    path = Path(path)
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise OverrideError(f"{path}: cannot read the overrides file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise OverrideError(f"{path}: not a UTF-8 text file") from None
    reader = csv.reader(text.splitlines(keepends=True))
    header = _header(path, reader)
    points_of = {item.id: item.points for item in rubric.items}
    table: dict[str, dict[str, Override]] = {}
    first_line: dict[tuple[str, str], int] = {}
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            where = f"{path}, line {line}"
            if len(row) != len(header):
                raise OverrideError(f"{where}: expected {len(header)} fields ({','.join(header)}), found {len(row)}")
            fields = dict(zip(header, (cell.strip() for cell in row)))
            student, item_id = fields["student"], fields["item"]
            if not student:
                raise OverrideError(f"{where}: empty student id")
            if item_id not in points_of:
                raise OverrideError(f"{where}: unknown item {item_id!r} for {rubric.assignment} "
                                    f"(items: {', '.join(points_of)})")
            points = _points(where, fields["points"], item_id, points_of[item_id])
            key = (student, item_id)
            if key in first_line:
                raise OverrideError(f"{where}: duplicate override of item {item_id!r} for student {student!r} "
                                    f"(first given on line {first_line[key]})")
            first_line[key] = line
            table.setdefault(student, {})[item_id] = Override(points, fields["comment"])
    except csv.Error as exc:
        raise OverrideError(f"{path}, line {reader.line_num}: malformed CSV: {exc}") from None
    return table


def _header(path: Path, reader: Any) -> list[str]:
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise OverrideError(f"{path}: empty file; expected the header {','.join(COLUMNS)}") from None
    except csv.Error as exc:
        raise OverrideError(f"{path}, line 1: malformed CSV: {exc}") from None
    if sorted(header) != sorted(COLUMNS):
        raise OverrideError(f"{path}, line 1: the header must name the columns {','.join(COLUMNS)} "
                            f"(in any order), found {','.join(header)}")
    return header


def _points(where: str, text: str, item_id: str, maximum: float) -> float:
    try:
        points = float(text)
    except ValueError:
        raise OverrideError(f"{where}: points {text!r} is not a number") from None
    if not math.isfinite(points) or not 0 <= points <= maximum:
        raise OverrideError(f"{where}: points {text} outside [0, {maximum:g}], the range of item {item_id!r}")
    return points

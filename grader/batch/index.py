"""The class summary, index.html, from the gradebook's rows (rebuilt from disk after every batch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from grader.batch.gradebook import NOT_GRADED, GradebookRow
from grader.batch.progress import INDEX_NAME
from grader.report.html import write_class_index


def write_index(outdir: str | os.PathLike, rows: Iterable[GradebookRow], *, assignment: str,
                rubric_items: list[dict]) -> Path:
    """Write OUTDIR/index.html, the class summary, from the rows; returns its path.

    `rubric_items` are ``{"id", "title", "max_score"}`` in rubric order.
    Students without a result yet are left out: the page summarises grades.
    """
    index_rows = []
    for row in rows:
        if row.kind == NOT_GRADED:
            continue
        index_rows.append({"student": row.student, "folder": row.folder, "status": row.kind, "score": row.score,
                           "max_score": row.max_score, "items": row.items, "reason": row.reason,
                           "results": {"extra_data": {"checks": row.checks}}})
    path = Path(outdir, INDEX_NAME)
    write_class_index(path, index_rows, assignment=assignment, rubric_items=rubric_items)
    return path

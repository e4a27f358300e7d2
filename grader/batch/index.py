"""The class summary, index.html, from the gradebook's rows (rebuilt from disk after every batch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from grader.batch.gradebook import NOT_GRADED, GradebookRow
from grader.batch.progress import INDEX_NAME
from grader.batch.similarity import NEAR, Pair, groups_of
from grader.report.html import write_class_index


def write_index(outdir: str | os.PathLike, rows: Iterable[GradebookRow], *, assignment: str,
                rubric_items: list[dict], similar: tuple[list[Pair], int] = ([], 0)) -> Path:
    """Write OUTDIR/index.html, the class summary, from the rows; returns its path.

    `rubric_items` are ``{"id", "title", "max_score"}`` in rubric order.
    Students without a result yet are left out: the page summarises grades.
    `similar` is `grader.batch.similarity.ClassCode.pairs`'s (pairs, how many in all).
    """
    index_rows = []
    for row in rows:
        if row.kind == NOT_GRADED:
            continue
        index_rows.append({"student": row.student, "folder": row.folder, "status": row.kind, "score": row.score,
                           "max_score": row.max_score, "items": row.items, "reason": row.reason or "; ".join(row.notes),
                           "manual": row.manual, "sha256": row.sha256,
                           "results": {"extra_data": {"checks": row.checks}}})
    path = Path(outdir, INDEX_NAME)
    pairs, total = similar
    similarity = {"pairs": [{"first": p.first, "second": p.second, "similarity": p.similarity,
                             "identical": p.identical} for p in pairs],
                  "total": total, "groups": groups_of(pairs), "near": NEAR}
    write_class_index(path, index_rows, assignment=assignment, rubric_items=rubric_items, similarity=similarity)
    return path

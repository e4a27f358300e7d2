"""`grader regrade OUTDIR STUDENT`: grade one student of an earlier batch again, keeping everything else.

The batch's record (``OUTDIR/grader-batch.json``, grader.batch.record) says
where the class is, which assignment, seed, support folders and settings the
batch used, so the student is graded exactly as the batch would (their own
seed, the kept manual points), as with ``--force`` but for that student only;
gradebook.csv and index.html are then rebuilt from every stored result.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.batch import BatchError, BatchSummary, run_batch
from grader.batch.record import RECORD_NAME, read_record


def regrade_student(outdir: str | os.PathLike, student: str, *, jobs: int | None = 1,
                    progress: bool | None = None) -> BatchSummary:
    """Grade `student` of the batch that wrote `outdir` again; raises BatchError when that cannot be done."""
    outdir = Path(outdir)
    record = read_record(outdir)
    if record is None:
        raise BatchError(f"{outdir}: not the output folder of a batch (it has no {RECORD_NAME}); give the -o "
                         "OUTDIR of an earlier `grader batch`, or run that batch again")
    source = Path(str(record.get("source", "")))
    if not source.exists():
        raise BatchError(f"{source}: the class folder of this batch is gone; `grader regrade` grades the "
                         "submission from there")
    support = tuple(str(s) for s in record.get("support") or ())
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else None
    return run_batch(source, record["assignment"], outdir, jobs=jobs, seed=record["seed"], support_dirs=support,
                     settings=settings or None, progress=progress, only=[student])

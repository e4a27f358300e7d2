"""The instructor's manual points as a batch keeps them: a copy in the output folder, applied on every rerun.

``--overrides FILE`` is validated and copied to ``OUTDIR/overrides.csv``; a
rerun without the option applies that copy again, so manual points are never
dropped silently. A later ``--overrides FILE`` replaces the copy as a whole;
``--overrides none`` removes it. The copy is written only once the batch is
about to grade (`KeptOverrides.commit`), so a run that fails before that
changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import ConfigurationError
from grader.files import write_text_atomic

KEPT_NAME = "overrides.csv"
NONE = "none"  # `--overrides none`: remove the kept overrides


@dataclass
class KeptOverrides:
    """The overrides a run applies: ``{student: {item: {"points", "comment"}}}``, and where they came from."""

    table: dict[str, dict[str, dict]] = field(default_factory=dict)
    origin: str = ""          # a sentence for the summary: "kept from OUTDIR/overrides.csv", "removed", ""
    copy_from: Path | None = None   # a new file to keep
    remove: Path | None = None      # the kept copy to delete

    def commit(self, outdir: Path) -> None:
        """Make the output folder's copy match this run's overrides (copy the new file, or remove the copy)."""
        if self.copy_from is not None:
            # The text as validated (a spreadsheet's byte-order mark dropped), written atomically.
            write_text_atomic(outdir / KEPT_NAME, self.copy_from.read_text(encoding="utf-8-sig"))
        elif self.remove is not None:
            try:
                os.unlink(self.remove)
            except FileNotFoundError:
                pass


def kept_overrides(outdir: Path, given: str | os.PathLike | None, rubric: Any) -> KeptOverrides:
    """The overrides of this run of a batch into `outdir`.

    `given` is the ``--overrides`` value: a CSV file (replaces the kept copy),
    ``"none"`` (removes it) or None (apply the kept copy, if any). Raises
    ConfigurationError (from the overrides loader) naming the file and line
    when the file or the kept copy cannot be used.
    """
    kept = outdir / KEPT_NAME
    if given is not None and str(given) == NONE:
        origin = f"manual points removed ({kept} deleted)" if kept.is_file() else ""
        return KeptOverrides({}, origin, remove=kept)
    if given is not None:
        path = Path(given)
        table = _load(path, rubric)
        same = kept.exists() and _same_file(path, kept)
        origin = f"manual points from {path} ({_count(table)}), kept in {kept} for later runs"
        return KeptOverrides(table, origin, copy_from=None if same else path)
    if kept.is_file():
        try:
            table = _load(kept, rubric)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{exc} (the overrides kept from an earlier run: give --overrides FILE to "
                                     "replace them, or --overrides none to remove them)") from None
        return KeptOverrides(table, f"manual points kept from an earlier run: {kept} ({_count(table)}); "
                                    "--overrides none removes them")
    return KeptOverrides()


def _load(path: Path, rubric: Any) -> dict[str, dict[str, dict]]:
    from grader.config.overrides import load_overrides
    table = load_overrides(path, rubric)
    return {student: {item: o.to_dict() for item, o in items.items()} for student, items in table.items()}


def _count(table: dict) -> str:
    students = len(table)
    items = sum(len(items) for items in table.values())
    return f"{items} item{'s' if items != 1 else ''} of {students} student{'s' if students != 1 else ''}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


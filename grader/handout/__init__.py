"""The student handout: starter files derived from ``reference/``, and how to self-check.

`write_handout` (the ``grader assign`` command) writes three files:

- ``<assignment>.py``: the reference module with every solution region
  removed. A region is the lines between a ``# BEGIN SOLUTION`` and a
  ``# END SOLUTION`` marker line. Inside a function it becomes
  ``raise NotImplementedError`` (indented like the region); at module level
  it becomes ``NAME = None`` for each public name it assigns. Signatures,
  docstrings, the hint comments above the regions and the helpers without a
  region stay as they are. Names imported from another reference module
  (``from reference.backprop_lab import ...``) are inlined together with
  what they use from that module, their own regions removed too, because a
  submission is one file and the sandbox cannot import ``reference``.
- ``<assignment>.ipynb``: the same starter as an nbformat 4 notebook, a
  Markdown cell with the title and instructions, then one code cell per
  function or region.
- ``README.md``: how to run ``grader check`` and the titles of the public
  checks, read from the check files with `ast` (never imported). The checks
  themselves stay in the grader's installation: nothing hidden, no expected
  value and no reference body is copied into the handout.

The starter is made from the assignment's ``reference`` module (see
grader.config.assignment). Its ``[starter]`` table may set ``instructions``
(the student-facing text; default the assignment's description),
``reference_docstring`` (whether the reference module's docstring, minus its
first line, is published too; default true, which is how the quiz's exam
options reach the student) and ``given``: the names of the reference's
top-level functions and classes without a solution region that the handout
gives whole. Every other such function or class is refused with an error
naming it, so that a helper meant for the checks (an input generator, say)
never reaches students by default; the checks' own helpers belong in their
``conftest.py`` (docs/authoring.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from grader.config.assignment import load_assignment
from grader.files import write_text_atomic
from grader.handout.errors import HandoutError
from grader.handout.guide import checking_guide, public_checks
from grader.handout.solutions import strip_solutions
from grader.handout.sources import module_source
from grader.handout.starter import code_cells, solution_source, starter_config, starter_notebook, starter_source

__all__ = ["HandoutError", "checking_guide", "code_cells", "module_source", "public_checks", "solution_source",
           "starter_config", "starter_notebook", "starter_source", "strip_solutions", "write_handout"]


def write_handout(assignment_id: str, outdir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the starter .py and .ipynb and README.md into `outdir` (created if missing); returns the paths.

    Existing files are overwritten only with `force`. Everything is built
    before anything is written, so a failure leaves `outdir` as it was.
    """
    assignment = load_assignment(assignment_id)
    source = starter_source(assignment)
    contents = {f"{assignment.id}.py": source,
                f"{assignment.id}.ipynb": nbformat.writes(starter_notebook(assignment, source)) + "\n",
                "README.md": checking_guide(assignment)}
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise HandoutError(f"{outdir} exists and is not a folder")
    paths = [outdir / name for name in contents]
    existing = [p.name for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        raise HandoutError(f"{outdir} already has {', '.join(existing)}; use --force to overwrite")
    for path, text in zip(paths, contents.values()):
        write_text_atomic(path, text)
    return paths

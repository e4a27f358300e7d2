"""The `grader` command line: list, check, grade, batch, assign, demo (the work lives in their own modules)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from grader import __version__


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="a .py, .ipynb, .zip, or a folder holding one such file")
    parser.add_argument("-a", "--assignment", required=True, help="assignment id (see `grader list`)")
    parser.add_argument("--support", action="append", default=[], metavar="DIR",
                        help="a folder of course modules submissions may import (read-only in the sandbox)")
    parser.add_argument("--seed", type=int, help="replay a run: the seed recorded in its results.json")
    parser.add_argument("--no-color", action="store_true", help="plain text output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `grader` command."""
    parser = argparse.ArgumentParser(prog="grader", description="Grade the backpropagation chapter's labs "
                                     "and exercises; student code runs in a sandbox.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="the assignments, their rubric items and points")

    check = sub.add_parser("check", help="the student's self-check: public checks only")
    _add_common(check)

    grade = sub.add_parser("grade", help="grade one submission fully")
    _add_common(grade)
    grade.add_argument("--json", type=Path, metavar="PATH", help="write results.json (Gradescope schema) here")
    grade.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report here")
    grade.add_argument("--overrides", type=Path, metavar="FILE",
                       help="instructor's manual points (CSV: student,item,points,comment)")
    grade.add_argument("--student", help="the student id used to look up --overrides (default: as a batch "
                       "names it: a folder's name, a file's name without its extension)")

    batch = sub.add_parser("batch", help="grade every submission in a folder (or a .zip of them)")
    batch.add_argument("folder", type=Path, help="the class: one entry per student (.py, .ipynb, .zip or a "
                       "folder holding one), or a .zip of such a folder")
    batch.add_argument("-a", "--assignment", required=True, help="assignment id (see `grader list`)")
    batch.add_argument("-o", "--out", dest="outdir", type=Path, required=True, metavar="OUTDIR",
                       help="where gradebook.csv, index.html and one folder per student are written")
    batch.add_argument("-j", "--jobs", type=int, metavar="JOBS",
                       help="worker processes on this machine (default: one per CPU)")
    batch.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on an existing Dask cluster (e.g. tcp://host:8786) instead of locally")
    batch.add_argument("--force", action="store_true",
                       help="regrade every student, also those whose results are up to date")
    batch.add_argument("--overrides", type=Path, metavar="FILE",
                       help="instructor's manual points (CSV: student,item,points,comment)")
    batch.add_argument("--support", action="append", default=[], metavar="DIR",
                       help="a folder of course modules submissions may import (read-only in the sandbox)")
    batch.add_argument("--seed", type=int, help="replay a batch: the seed recorded in its results.json files")

    demo = sub.add_parser("demo", help="grade the bundled example class of backprop-lab (like `grader batch`)")
    demo.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="where the class's submissions, reports, index.html and gradebook.csv go")
    demo.add_argument("-j", "--jobs", type=int, metavar="JOBS", help="worker processes (default: one per CPU)")
    demo.add_argument("--force", action="store_true", help="regrade students whose results are current")

    assign = sub.add_parser("assign", help="write the student handout: starter .py and .ipynb, how to self-check")
    assign.add_argument("assignment", help="assignment id (see `grader list`)")
    assign.add_argument("-o", "--out", dest="outdir", type=Path, required=True, metavar="DIR",
                        help="where the handout is written (created if missing)")
    assign.add_argument("--force", action="store_true", help="overwrite handout files already in DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (grader.errors.exit_status says which)."""
    from grader.errors import ConfigurationError, GraderError, exit_status
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "batch":
            return _batch(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "assign":
            return _assign(args)
        return _grade(args, public_only=args.command == "check")
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return exit_status(exc)
    except BrokenPipeError:
        # `grader list | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except GraderError as exc:
        from grader.text import printable
        kind = "error" if isinstance(exc, ConfigurationError) else "internal error"
        print(f"grader: {kind}: {printable(str(exc))}", file=sys.stderr)
        return exit_status(exc)


def _list() -> int:
    from grader.config.assignment import available_assignments, load_assignment
    from grader.config.rubric import rubric_for
    for assignment_id in available_assignments():
        assignment = load_assignment(assignment_id)
        rubric = rubric_for(assignment.rubric)
        total = sum(item.points for item in rubric.items)
        print(f"{assignment_id}: {assignment.title} ({total:g} points)")
        for item in rubric.items:
            print(f"  {item.id:<20} {item.points:>5g}  {item.title}")
    return 0


def _grade(args: argparse.Namespace, *, public_only: bool) -> int:
    from grader.config.assignment import load_assignment
    from grader.errors import MAX_REGRADES, UsageError, should_regrade
    from grader.sandbox import announce_protections, shared_zygote

    assignment = load_assignment(args.assignment)
    # The sandbox's zygote imports NumPy and matplotlib on another core while the grader imports its own modules.
    shared_zygote(assignment.preload).start(wait=False)
    from grader.outputs import grade_submission
    from grader.report.results_json import write_json_atomic
    from grader.report.terminal import render_summary
    from grader.source.submission import student_id
    from grader.text import printable
    if not args.submission.exists():
        raise UsageError(f"{args.submission}: no such file or folder")
    for folder in args.support:
        if not Path(folder).is_dir():
            raise UsageError(f"--support {folder}: not a folder")
    student = getattr(args, "student", None) or student_id(args.submission)
    overrides = None
    if not public_only and args.overrides is not None:
        overrides = _overrides_for(args.overrides, assignment, student)
    regrades = 0
    while True:
        try:
            graded = grade_submission(args.submission, assignment, seed=args.seed, student=student,
                                      public_only=public_only, overrides=overrides,
                                      support_dirs=tuple(str(Path(f).resolve()) for f in args.support))
            break
        except Exception as exc:
            # A fault of ours (shared machinery that failed) is never a score: grade again, then say so.
            if not should_regrade(exc, regrades):
                raise
            regrades += 1
            print(f"grader: grading again ({regrades} of {MAX_REGRADES}) after a fault of the grader: "
                  f"{printable(str(exc))}", file=sys.stderr)
    run = graded.run
    # The files first: whatever the terminal does with the summary, the results are kept.
    if not public_only and args.json:
        write_json_atomic(args.json, graded.results)
    if not public_only and args.html:
        from grader.files import write_text_atomic
        write_text_atomic(args.html, graded.report_html)
    if run.protections:
        announce_protections(run.protections)
    color = sys.stdout.isatty() and not args.no_color
    print(render_summary(run.result, color=color, public_only=public_only))
    notes = run.notes()
    if notes:  # the worker's words (load problems, crashes): nothing in them may reach the terminal raw
        print(printable("\n".join(notes)))
    if not public_only:
        print(f"seed {run.seed} (replay with --seed {run.seed}); graded in {run.execution_time:.1f} s, "
              f"of which your code ran {run.student_seconds:.1f} s")
    return 0


def _batch(args: argparse.Namespace) -> int:
    import shlex
    from grader.batch import run_batch
    summary = run_batch(args.folder, args.assignment, args.outdir, jobs=args.jobs, scheduler=args.scheduler,
                        force=args.force, overrides_file=args.overrides, support_dirs=tuple(args.support),
                        seed=args.seed)
    # The command that resumes: the same one without --force (which would regrade everyone again).
    words = ["grader", "batch", str(args.folder), "-a", args.assignment, "-o", str(args.outdir)]
    words += ["-j", str(args.jobs)] if args.jobs else []
    words += ["--scheduler", args.scheduler] if args.scheduler else []
    words += ["--overrides", str(args.overrides)] if args.overrides else []
    words += [w for folder in args.support for w in ("--support", folder)]
    return _print_summary(summary, "`" + shlex.join(words) + "`")


def _demo(args: argparse.Namespace) -> int:
    from grader.demo import run_demo
    summary = run_demo(args.out, jobs=args.jobs, force=args.force)
    status = _print_summary(summary, f"`grader demo --out {args.out}`")
    if status:
        return status
    print(f"Open {Path(args.out) / 'index.html'} for the class summary; the students' submissions are in "
          f"{Path(args.out) / 'submissions'}.")
    return 0


def _print_summary(summary, resume_command: str) -> int:
    """Print a batch's summary; after Ctrl-C its last line (how to resume) goes to stderr. Returns the exit status."""
    from grader.text import printable
    lines = [printable(line) for line in summary.lines(resume_command=resume_command)]
    if not summary.interrupted:
        print("\n".join(lines))
        return 0
    print("\n".join(lines[:-1]))
    print(lines[-1], file=sys.stderr)
    return 130


def _assign(args: argparse.Namespace) -> int:
    from grader.handout import write_handout
    paths = write_handout(args.assignment, args.outdir, force=args.force)
    print("\n".join(f"wrote {path}" for path in paths))
    return 0


def _overrides_for(path: Path, assignment, student: str) -> dict:
    """The overrides of `student` (the student id a batch would give this submission) in the CSV at `path`."""
    from grader.config.overrides import load_overrides
    from grader.config.rubric import rubric_for
    return load_overrides(path, rubric_for(assignment.rubric)).get(student, {})


if __name__ == "__main__":
    raise SystemExit(main())

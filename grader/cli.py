"""The `grader` command line: list, check, grade, batch, assign, demo, new, export (the work lives in their own
modules)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

from grader import __version__


def _add_assignments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignments", action="append", default=[], metavar="DIR",
                        help="a folder of assignment folders (such as `grader new` writes), searched before the "
                             "bundled ones; repeatable; default: $GRADER_ASSIGNMENTS")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="a .py, .ipynb, .zip, or a folder holding one such file")
    parser.add_argument("-a", "--assignment", help="assignment id (see `grader list`); default: the one the "
                        "submission's file name starts with, as in the handout's backprop-lab.py")
    parser.add_argument("--support", action="append", default=[], metavar="DIR",
                        help="a folder of course modules submissions may import (read-only in the sandbox)")
    parser.add_argument("--seed", type=int, help="replay a run: the seed recorded in its results.json")
    parser.add_argument("--no-color", action="store_true", help="plain text output")
    _add_assignments(parser)


class _Parser(argparse.ArgumentParser):
    """argparse, except that an unknown option gets the closest known one as a suggestion (--overides)."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._command_parser(namespace)
            known = list(self._option_string_actions) + list(command._option_string_actions)
            command.error(_unrecognized(known, extras))  # with the command's own usage line
        return namespace

    def _command_parser(self, namespace: argparse.Namespace) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and getattr(namespace, "command", None) in action.choices:
                return action.choices[namespace.command]
        return self


def _unrecognized(known: list[str], extras: list[str]) -> str:
    """argparse's "unrecognized arguments" message, with "did you mean" for each option close to a known one."""
    import difflib
    message = f"unrecognized arguments: {' '.join(extras)}"
    for word in extras:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]} (not {word.split('=', 1)[0]})?"
    return message


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `grader` command."""
    parser = _Parser(prog="grader", description="Grade the backpropagation chapter's labs "
                                     "and exercises; student code runs in a sandbox.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_assignments(sub.add_parser("list", help="the assignments, their rubric items and points"))

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
    batch.add_argument("--overrides", metavar="FILE",
                       help="instructor's manual points (CSV: student,item,points,comment); kept in "
                       "OUTDIR/overrides.csv and applied on every rerun until another FILE replaces them "
                       "or `--overrides none` removes them")
    batch.add_argument("--support", action="append", default=[], metavar="DIR",
                       help="a folder of course modules submissions may import (read-only in the sandbox)")
    batch.add_argument("--seed", type=int, help="the batch's seed, from which each student's own derives "
                       "(default: the one OUTDIR/grader-batch.json keeps, else a fresh one)")
    _add_assignments(batch)

    regrade = sub.add_parser("regrade", help="grade one student of an earlier batch again, keeping everything else")
    regrade.add_argument("outdir", type=Path, metavar="OUTDIR", help="the output folder of the earlier batch")
    regrade.add_argument("student", help="the student id, as the gradebook names it")
    _add_assignments(regrade)

    demo = sub.add_parser("demo", help="grade the bundled example class of backprop-lab (like `grader batch`)")
    demo.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="where the class's submissions, reports, index.html and gradebook.csv go")
    demo.add_argument("-j", "--jobs", type=int, metavar="JOBS", help="worker processes (default: one per CPU)")
    demo.add_argument("--force", action="store_true", help="regrade students whose results are current")
    _add_assignments(demo)

    assign = sub.add_parser("assign", help="write the student handout: starter .py and .ipynb, how to self-check")
    assign.add_argument("assignment", help="assignment id (see `grader list`)")
    assign.add_argument("-o", "--out", dest="outdir", type=Path, required=True, metavar="DIR",
                        help="where the handout is written (created if missing)")
    assign.add_argument("--force", action="store_true", help="overwrite handout files already in DIR")
    _add_assignments(assign)

    new = sub.add_parser("new", help="write ./NAME/, a small working assignment to adapt (docs/authoring.md)")
    new.add_argument("name", metavar="NAME", help="the new assignment's id and folder name")
    new.add_argument("--from", dest="source", metavar="ASSIGNMENT",
                     help="copy this assignment (e.g. backprop-lab) instead of the small template")
    _add_assignments(new)

    export = sub.add_parser("export", help="for other systems: a Gradescope autograder, grades for an LMS")
    targets = export.add_subparsers(dest="target", required=True)
    gradescope = targets.add_parser("gradescope", help="a Gradescope autograder bundle (setup.sh, run_autograder, "
                                    "the grader's wheel) for one assignment")
    gradescope.add_argument("assignment", help="assignment id (see `grader list`)")
    gradescope.add_argument("-o", "--out", type=Path, required=True, metavar="BUNDLE.zip", help="the zip to write")
    _add_assignments(gradescope)
    lms = targets.add_parser("lms", help="a batch's grades as a CSV an LMS imports (docs/lms.md)")
    lms.add_argument("outdir", type=Path, metavar="OUTDIR", help="the folder `grader batch -o` wrote")
    lms.add_argument("--format", dest="fmt", choices=("generic", "canvas", "moodle"), default="generic",
                     help="the column layout (default: generic: student_id, score, max_score, final, status)")
    lms.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.csv", help="the CSV to write")
    lms.add_argument("--title", help="the grade column's name in Canvas (default: OUTDIR's name)")
    lms.add_argument("--canvas-id", choices=("id", "sis_user_id", "sis_login_id"), default="sis_login_id",
                     help="the Canvas column that receives the student id (default: sis_login_id)")

    from grader.server import cli as server_cli  # course, serve, submit: the course server's commands
    server_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (grader.errors.exit_status says which)."""
    from grader.errors import ConfigurationError, GraderError, exit_status
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "assignments", None):
            from grader.config.locations import use_assignment_dirs
            use_assignment_dirs(args.assignments)  # the environment carries it to the batch's processes
        if args.command == "list":
            return _list()
        if args.command == "batch":
            return _batch(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "regrade":
            return _regrade(args)
        if args.command == "assign":
            return _assign(args)
        if args.command == "new":
            return _new(args)
        if args.command == "export":
            return _export(args)
        if args.command in ("course", "serve", "submit"):
            from grader.server import cli as server_cli
            return server_cli.run(args)
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

    assignment = load_assignment(args.assignment or assignment_from_name(args.submission))
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
    from grader.batch import run_batch
    summary = run_batch(args.folder, args.assignment, args.outdir, jobs=args.jobs, scheduler=args.scheduler,
                        force=args.force, overrides_file=args.overrides, support_dirs=tuple(args.support),
                        seed=args.seed)
    # The command that resumes: the same one without --force (which would regrade everyone again).
    words = ["grader", "batch", str(args.folder), "-a", args.assignment, "-o", str(args.outdir)]
    words += ["-j", str(args.jobs)] if args.jobs else []
    words += ["--scheduler", args.scheduler] if args.scheduler else []
    # Manual points are kept in OUTDIR: the resume command needs no --overrides.
    words += [w for folder in args.support for w in ("--support", folder)]
    words += [w for folder in args.assignments for w in ("--assignments", folder)]
    return _print_summary(summary, "`" + shlex.join(words) + "`")


def _regrade(args: argparse.Namespace) -> int:
    from grader.batch.regrade import regrade_student
    summary = regrade_student(args.outdir, args.student)
    command = "`" + shlex.join(["grader", "regrade", str(args.outdir), args.student]) + "`"
    return _print_summary(summary, command)


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


def _new(args: argparse.Namespace) -> int:
    from grader.authoring import new_assignment, next_steps
    folder = new_assignment(args.name, ".", source=args.source)
    print("\n".join(next_steps(folder)))
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.target == "gradescope":
        from grader.export.gradescope import describe, write_bundle
        print("\n".join(describe(write_bundle(args.assignment, args.out), args.assignment)))
        return 0
    from grader.batch.lms import write_lms_csv
    path = write_lms_csv(args.outdir, args.out, args.fmt, title=args.title, canvas_id=args.canvas_id)
    print(f"wrote {path} ({args.fmt}; docs/lms.md says how to import it)")
    return 0


def assignment_from_name(submission: Path) -> str:
    """The assignment a submission's file name names (`backprop-lab.py`, `backprop-lab (2).ipynb`,
    `backprop-lab-ada.py`: the longest assignment id the name starts with); UsageError when none."""
    from grader.config.assignment import available_assignments
    from grader.errors import UsageError
    name = submission.name.lower()
    ids = sorted(available_assignments(), key=len, reverse=True)
    for assignment_id in ids:
        rest = name[len(assignment_id):]
        if name.startswith(assignment_id.lower()) and (not rest or not rest[0].isalnum()):
            return assignment_id
    raise UsageError(f"which assignment is {submission.name} for? Give -a ASSIGNMENT (one of: {', '.join(sorted(ids))}); "
                     "the file name names none of them")


def _overrides_for(path: Path, assignment, student: str) -> dict:
    """The overrides of `student` (the student id a batch would give this submission) in the CSV at `path`."""
    from grader.config.overrides import load_overrides
    from grader.config.rubric import rubric_for
    return load_overrides(path, rubric_for(assignment.rubric)).get(student, {})


if __name__ == "__main__":
    raise SystemExit(main())

"""Automatic estimate of the lab's "Code quality" rubric item.

The estimate reads the submission's source text only: `ast` for structure and
`tokenize` for comments. It never imports or runs the code, so it is safe on
the trusted side. An instructor can override it; every point it withholds
comes with student-facing evidence that names a line.

Criteria and their weights out of 10 (scaled when `max_points` differs). The
rubric names comments, docstrings and modularity, so they carry 8 of the 10:

- Docstrings, 3: every required function has a docstring that says what its
  arguments are and what it returns (a fifth of the credit goes to public
  helper functions having a docstring at all, when there are any). A missing
  required function, or one still a stub, earns nothing here.
- Comments, 2.5: meaningful comments in function bodies, about one every
  10 lines of code and at least one in every function of 10 or more lines.
  Commented-out code is not a comment and costs a little on its own.
- Modularity, 2.5: the required functions exist as separate top-level
  functions, none is longer than 40 lines of code, none nests blocks more than
  3 deep, no run of statements is copy-pasted, and every helper is used.
- Names, 1: no unused local variables, no names shadowing built-ins or
  imported modules, no single-letter names beyond the chapter's math notation.
- Top-level code, 1: importing the file runs only imports, definitions and
  constants (demo and training code belongs under ``if __name__ == "__main__":``).

A stub is a function whose body does nothing: past its docstring it only
passes, returns a constant or raises NotImplementedError. No criterion judges
a stub (its docstring, comments, length and names are not the student's
work), and a required function that is a stub counts as not implemented.

Each criterion's points are rounded to the nearest 0.5 and the total is their
sum. A file that does not parse is analysed chunk by chunk (top-level
statement by statement); a file of which nothing parses gets 0. Files longer
than about 10,000 lines of ordinary code are read up to that point only (the
evidence says so), which keeps any input well under a second.

The package: `parsing` reads the file (whole, or chunk by chunk), `facts`
gathers what the criteria need in one pass, `criteria` scores each criterion;
this module weighs and rounds them. Only the names defined here are its API.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

from grader.scoring.quality.criteria import (
    find_required,
    implemented_share,
    score_comments,
    score_docstrings,
    score_modularity,
    score_names,
    score_top_level,
)
from grader.scoring.quality.facts import Facts
from grader.scoring.quality.parsing import parse
from grader.source.pyparse import Parsed as PieceParse

DOCSTRINGS = "Docstrings"
COMMENTS = "Comments"
MODULARITY = "Modularity"
NAMES = "Names"
TOP_LEVEL = "Top-level code"

WEIGHTS = {DOCSTRINGS: 3.0, COMMENTS: 2.5, MODULARITY: 2.5, NAMES: 1.0, TOP_LEVEL: 1.0}

MAX_EVIDENCE = 12


@dataclass
class Criterion:
    """One part of the quality estimate: its score and the reasons for it.

    `evidence` is student-facing: each entry names a line or a function and
    says what to change.
    """

    name: str
    points: float
    max_points: float
    evidence: list[str] = field(default_factory=list)


@dataclass
class QualityEstimate:
    """The whole estimate: total points and the criteria they came from."""

    points: float
    max_points: float
    criteria: list[Criterion] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Share of `max_points` earned, 0.0 when `max_points` is 0."""
        return self.points / self.max_points if self.max_points > 0 else 0.0


def estimate_quality(source: str, required_functions: list[str],
                     max_points: float = 10.0, *, notebook: bool = False,
                     pieces: PieceParse | None = None) -> QualityEstimate:
    """Estimate the code-quality points of a submission from its source text.

    `required_functions` are the names the assignment requires at the top
    level; an entry may list aliases separated by "|" (``"L_layer_forward|
    L_model_forward"``). `max_points` scales the criterion weights.
    `notebook` says the source came from a notebook, whose cells run at the
    top level by design: its demo cells are not held against it. `pieces` is
    ``grader.source.pyparse.parse_pieces(source)`` if the caller has it (it
    is only read).

    Returns the total, and per criterion its points and the evidence behind
    them. Never runs the code and never raises on student input (only on a
    negative or infinite `max_points`).
    """
    if not isinstance(max_points, (int, float)) or not 0 <= max_points < math.inf:
        raise ValueError(f"max_points must be a finite number >= 0, got {max_points!r}")
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    if not isinstance(source, str):
        raise TypeError(f"source must be the submission's text, got {type(source).__name__}")
    groups = _required_groups(required_functions)
    # Student code may trigger SyntaxWarnings (invalid escapes, `is` with a
    # literal); they are not ours to print, nor to turn into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = parse(source, pieces)
        facts = Facts(parsed)
        if not facts.functions and not facts.top_defs:
            # Nothing to judge; say why, the syntax error first if there is one.
            reason = (f"could not parse the file: {parsed.error}" if parsed.error
                      else "the file defines no functions, so there is no code to judge")
            return _zero_estimate(max_points, [reason] + [n for n in parsed.notes if n.startswith("the file")])
        required = find_required(facts, groups)
        # Quality is judged on the code the student wrote: with k of n required
        # functions implemented, every criterion counts k/n (an untouched starter,
        # whose docstrings and comments are the handout's, earns nothing).
        share = implemented_share(required)
        # Notes on the file as a whole lead the first criterion's evidence.
        file_notes = [(0, note) for note in parsed.notes]
        if share < 1.0:
            done = sum(item.implemented for item in required)
            file_notes.append((0, f"{done} of {len(required)} required functions are implemented, so each "
                                  f"criterion counts {done}/{len(required)} of its points"))
        required_nodes = {item.node for item in required}
        idle = [f.name for f in facts.stubs if f.node not in required_nodes]
        if idle:
            shown = ", ".join(f"`{name[:60]}`" for name in idle[:6]) + (", ..." if len(idle) > 6 else "")
            file_notes.append((0, f"{shown} {'does' if len(idle) == 1 else 'do'} nothing yet (a stub body), so no "
                                  f"criterion judges {'it' if len(idle) == 1 else 'them'}"))
        docstrings, docstring_evidence = score_docstrings(facts, required)
        scored = [
            (DOCSTRINGS, (docstrings, file_notes + docstring_evidence)),
            (COMMENTS, score_comments(facts)),
            (MODULARITY, score_modularity(facts, required)),
            (NAMES, score_names(facts, required)),
            (TOP_LEVEL, (1.0, [(0, "a notebook runs its cells at the top level, so demo cells are fine")])
             if notebook else score_top_level(facts)),
        ]
    scale = max_points / sum(WEIGHTS.values())
    criteria = []
    for name, (fraction, evidence) in scored:
        top = WEIGHTS[name] * scale
        fraction = min(1.0, max(0.0, fraction)) * share
        points = top if fraction >= 1.0 else min(top, _round_half(fraction * top))
        criteria.append(Criterion(name, points, top, _render(evidence)))
    total = min(max_points, sum(c.points for c in criteria))
    return QualityEstimate(total, max_points, criteria)


def _required_groups(required_functions) -> list[tuple[str, ...]]:
    """Split "name|alias" entries into tuples, dropping blanks and repeats."""
    groups, seen = [], set()
    for entry in required_functions or ():
        group = tuple(part.strip() for part in str(entry).split("|") if part.strip())
        if group and group not in seen:
            seen.add(group)
            groups.append(group)
    return groups


def _round_half(value: float) -> float:
    """Round to the nearest 0.5, halves up (the small epsilon absorbs float noise)."""
    return math.floor(value * 2 + 0.5 + 1e-9) / 2


def _render(evidence: list[tuple[int, str]]) -> list[str]:
    """Order evidence by line and cap its length."""
    ordered = [text for _, _, text in sorted((line, k, text) for k, (line, text) in enumerate(evidence))]
    ordered = list(dict.fromkeys(ordered))  # the same finding may come from two checks
    if len(ordered) > MAX_EVIDENCE:
        extra = len(ordered) - MAX_EVIDENCE + 1
        ordered = ordered[:MAX_EVIDENCE - 1] + [f"... and {extra} more like these"]
    return ordered


def _zero_estimate(max_points: float, reasons: list[str]) -> QualityEstimate:
    """No credit on any criterion, for the same stated reasons."""
    scale = max_points / sum(WEIGHTS.values())
    criteria = [Criterion(name, 0.0, weight * scale, list(reasons)) for name, weight in WEIGHTS.items()]
    return QualityEstimate(0.0, max_points, criteria)

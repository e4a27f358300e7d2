"""Parsing a submission for the quality estimate: the shared piece-by-piece reading of
grader.source.pyparse (the load plan's too), so that one typo does not cost the
credit for the rest of the file. Only the first MAX_TOKENS (roughly counted)
are read, which keeps any input well under a second.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from grader.source.pyparse import PARSE_ERRORS, chunk_starts, normalise_newlines, parse_pieces, split_lines
from grader.source.pyparse import Parsed as PieceParse  # not this module's Parsed: the pieces it is read from

# About 10,000 lines of ordinary code; denser files are cut here so that the
# estimate stays well under a second. Comments and docstrings count as one
# token each, as they cost little to analyse.
MAX_TOKENS = 100_000
_ROUGH_TOKEN = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|#[^\r\n]*|\w+|[^\w\s]')

__all__ = ["PARSE_ERRORS", "Parsed", "Unit", "parse"]


@dataclass
class Unit:
    """A parsed piece of the file; its line 1 is file line `offset + 1`."""

    tree: ast.Module
    text: str
    offset: int


@dataclass
class Parsed:
    """The file's lines, the parts that parsed, notes on what did not, and
    the error of parsing the file as a whole (empty when it parsed)."""

    lines: list[str]
    units: list[Unit]
    notes: list[str]
    error: str = ""
    unparsed: list[tuple[int, int]] = field(default_factory=list)  # 1-based line ranges


def parse(source: str, pieces: PieceParse | None = None) -> Parsed:
    """Parse the whole file, or failing that piece by piece (grader.source.pyparse).
    Only the first MAX_TOKENS (roughly counted) are read, which bounds the time.
    `pieces` is ``parse_pieces(source)`` when the caller has it already: it is
    used (only read) if it parsed exactly the lines read here."""
    source = normalise_newlines(source.lstrip("\ufeff"))
    lines = split_lines(source)
    notes = []
    if len(_ROUGH_TOKEN.findall(source)) > MAX_TOKENS:
        lines = _first_lines_within_budget(lines)
        notes.append(f"the file is too long to analyse in full: only lines 1-{len(lines)} were read")
    parsed = pieces if pieces is not None and pieces.lines == lines else parse_pieces("".join(lines))
    units = [Unit(piece.tree, "".join(lines[piece.first - 1:piece.last]), piece.first - 1)
             for piece in parsed.pieces if piece.parsed]
    if not units:
        return Parsed(lines, [], notes, parsed.whole_error)
    failures = parsed.failures
    notes += [f"could not parse lines {piece.first}-{piece.last} ({piece.error} (line {piece.error_line})); "
              "this estimate covers the rest of the file" for piece in failures]
    return Parsed(lines, units, notes, parsed.whole_error, [(piece.first, piece.last) for piece in failures])


def _first_lines_within_budget(lines: list[str]) -> list[str]:
    """The longest prefix of `lines` holding at most MAX_TOKENS rough tokens,
    cut before a top-level statement when there is one to cut at, so that the
    last function read is whole."""
    count = 0
    for index, line in enumerate(lines):
        count += len(_ROUGH_TOKEN.findall(line))
        if count > MAX_TOKENS:
            starts = [start for start in chunk_starts(lines[:index]) if start > 0]
            return lines[:starts[-1] if starts else index]
    return lines

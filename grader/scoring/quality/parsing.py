"""Parsing a submission for the quality estimate: the whole file, or failing
that each top-level chunk on its own, so that one typo does not cost the
credit for the rest of the file. Only the first MAX_TOKENS (roughly counted)
are read, which keeps any input well under a second.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# About 10,000 lines of ordinary code; denser files are cut here so that the
# estimate stays well under a second. Comments and docstrings count as one
# token each, as they cost little to analyse.
MAX_TOKENS = 100_000
_ROUGH_TOKEN = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|#[^\r\n]*|\w+|[^\w\s]')

PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')
_LEFT_OPEN = re.compile(r"never closed|unterminated triple|expected an indented block|EOF")
_CHUNK_CONTINUATION = re.compile(r"(else|elif|except|finally)\b|[)\]}]")


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


def parse(source: str) -> Parsed:
    """Parse the whole file, or failing that each top-level chunk on its own.
    Only the first MAX_TOKENS (roughly counted) are read, which bounds the time."""
    source = source.lstrip("\ufeff")
    lines = _split_lines(source)
    notes = []
    if len(_ROUGH_TOKEN.findall(source)) > MAX_TOKENS:
        lines = _first_lines_within_budget(lines)
        source = "".join(lines)
        notes.append(f"the file is too long to analyse in full: only lines 1-{len(lines)} were read")
    try:
        return Parsed(lines, [Unit(ast.parse(source), source, 0)], notes)
    except PARSE_ERRORS as exc:
        whole_error = _describe_error(exc, source, 0)
    # One typo should not cost a student the credit for the rest of the file.
    units, failures = _parse_chunks(lines)
    if not units:
        return Parsed(lines, [], notes, whole_error)
    notes += [f"could not parse lines {first}-{last} ({error}); this estimate covers the rest of the file"
              for first, last, error in failures]
    return Parsed(lines, units, notes, whole_error, [(first, last) for first, last, _ in failures])


def _first_lines_within_budget(lines: list[str]) -> list[str]:
    """The longest prefix of `lines` holding at most MAX_TOKENS rough tokens,
    cut before a top-level statement when there is one to cut at, so that the
    last function read is whole."""
    count = 0
    for index, line in enumerate(lines):
        count += len(_ROUGH_TOKEN.findall(line))
        if count > MAX_TOKENS:
            starts = [start for start in _chunk_starts(lines[:index]) if start > 0]
            return lines[:starts[-1] if starts else index]
    return lines


def _split_lines(source: str) -> list[str]:
    """Split like Python's tokenizer does (only \\n, \\r\\n and \\r end a line)."""
    parts = re.split(r"(\r\n|\r|\n)", source)
    lines = [parts[k] + parts[k + 1] for k in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _describe_error(exc: BaseException, text: str, offset: int) -> str:
    """A one-line, student-facing description of why `text` did not parse."""
    if "\0" in text and isinstance(exc, (SyntaxError, ValueError)) and "null" in str(exc):
        line = len(_split_lines(text[:text.index("\0") + 1]))
        return f"SyntaxError at line {line + offset}: the file contains a null byte"
    if isinstance(exc, SyntaxError):
        message = (exc.msg or "invalid syntax")[:200]
        return f"SyntaxError at line {(exc.lineno or 1) + offset}: {message}"
    return f"{type(exc).__name__}: the code is nested too deeply to analyse"


def _parse_chunks(lines: list[str]) -> tuple[list[Unit], list[tuple[int, int, str]]]:
    """Parse top-level chunks one by one; a failing chunk may absorb a few
    following ones, which rescues e.g. a column-0 line inside a string."""
    starts = _chunk_starts(lines)
    bounds = starts + [len(lines)]
    units: list[Unit] = []
    failures: list[tuple[int, int, str]] = []
    index = 0
    while index < len(starts):
        first_error = ""
        end = index + 1
        while end <= min(index + 4, len(starts)):
            text = "".join(lines[starts[index]:bounds[end]])
            try:
                tree = ast.parse(text)
            except PARSE_ERRORS as exc:
                first_error = first_error or _describe_error(exc, text, starts[index])
                # Only something left open (a bracket, a string, a block) can be
                # completed by the chunks that follow.
                end = end + 1 if _LEFT_OPEN.search(str(exc)) else len(starts) + 1
                continue
            ast.increment_lineno(tree, starts[index])
            units.append(Unit(tree, text, starts[index]))
            index = end
            break
        else:
            first, last = starts[index] + 1, bounds[index + 1]
            if failures and failures[-1][1] == first - 1:
                failures[-1] = (failures[-1][0], last, failures[-1][2])
            else:
                failures.append((first, last, first_error))
            index += 1
    return units, failures


def _quote_state_after(line: str, open_quote: str) -> str:
    """Which triple quote is still open after `line` ("" for none). Rough on
    purpose: it only keeps chunks from starting inside a docstring."""
    if not open_quote and line.lstrip().startswith("#"):
        return ""
    for match in _TRIPLE_QUOTE.finditer(line):
        if not open_quote:
            open_quote = match.group()
        elif match.group() == open_quote:
            open_quote = ""
    return open_quote


def _chunk_starts(lines: list[str]) -> list[int]:
    """Indices of lines that begin a top-level statement (decorators stay
    with the definition they decorate, docstring lines with their string)."""
    starts: list[int] = []
    decorators_only = False
    open_quote = ""
    for index, line in enumerate(lines):
        in_string = bool(open_quote)
        open_quote = _quote_state_after(line, open_quote)
        # `else:`, `except:` or a closing bracket at column 0 continue the
        # statement above rather than start a new one.
        if in_string or not line or line[0] in " \t\f\r\n#" or _CHUNK_CONTINUATION.match(line):
            continue
        if not (starts and decorators_only):
            starts.append(index)
        decorators_only = line.startswith("@")
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return starts

"""Reading a student's Python source: the one chunked parser, the logical-line scan and the one name walker.

A submission that does not parse as a whole is still read piece by piece, so
that one typo does not cost the rest of the file: the load plan (which
statements the worker runs) and the code-quality estimate both read it
through `parse_pieces` and so agree on which lines did not parse.

Parsing is linear in the file's size, whatever the file holds: every line is
parsed a bounded number of times (the whole file once, its chunk once, and
in at most ``1 + 2 + ... + (1 + MAX_MERGE)`` windows of merged pieces), and
every walk over a tree uses an explicit stack, so a 2,000-deep expression is
no RecursionError.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
# A piece that fails with something left open (a bracket, a string, a block)
# may be completed by the pieces after it: up to this many are tried.
MAX_MERGE = 3

_CONTINUATION_KEYWORD = re.compile(r"(else|elif|except|finally)\b")
_TOP_TOKENS = re.compile(r"\"\"\"|'''|[\"'#\\()\[\]{}]")
_STRING_END = {quote: re.compile(r"\\.|" + re.escape(quote), re.S) for quote in ('"""', "'''", '"', "'")}
_DEFINITION_LINE = re.compile(r"(?:async\s+def|def|class|import)\s|from\s+[\w.]+\s+import\s")
_LEFT_OPEN = re.compile(r"never closed|unterminated|expected an indented block|unexpected EOF|EOF while")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LINE_IN_MESSAGE = re.compile(r"on line (\d+)")


@dataclass
class Piece:
    """A run of the file's lines: parsed (`tree`, with the file's line numbers) or not (`error`).

    `first` and `last` are 1-based and inclusive. For a piece that did not
    parse they span its code (blank and comment lines around it left out),
    `error_line` is the line Python points at and `error` says why, e.g.
    ``"SyntaxError: invalid syntax"``.
    """

    first: int
    last: int
    tree: ast.Module | None = None
    error: str = ""
    error_line: int = 0

    @property
    def parsed(self) -> bool:
        """Whether this piece parsed."""
        return self.tree is not None


@dataclass
class Parsed:
    """The file's lines, its pieces in line order, and why the whole file did not parse ("" when it did)."""

    lines: list[str]
    pieces: list[Piece]
    whole_error: str = ""

    @property
    def statements(self) -> list[ast.stmt]:
        """Every top-level statement that parsed, in line order."""
        return [node for piece in self.pieces if piece.tree is not None for node in piece.tree.body]

    @property
    def failures(self) -> list[Piece]:
        """The pieces that did not parse."""
        return [piece for piece in self.pieces if piece.tree is None]


def normalise_newlines(source: str) -> str:
    """`source` with every line ending as ``\\n`` (as Python's tokenizer reads ``\\r\\n`` and ``\\r``)."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(source: str) -> list[str]:
    """The lines of newline-normalised `source`, each with its ``\\n`` (the last may lack one).

    Unlike str.splitlines, form feeds and other characters Python's tokenizer
    does not treat as line ends do not split: line numbers must agree with it.
    """
    parts = source.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def parse(text: str, filename: str = "<submission>") -> ast.Module:
    """`ast.parse` without printing SyntaxWarnings of student code into the grader's output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, filename)


def parse_pieces(source: str, filename: str = "<submission>") -> Parsed:
    """Parse `source` whole, or failing that in top-level pieces; never raises on student code.

    The file is cut into lexical chunks (a chunk starts at an unindented
    line that begins a logical line, is not an else/elif/except/finally and
    does not follow a decorator). A chunk that does not parse is cut again at
    every unindented line that could start a statement, ignoring brackets (an
    unclosed bracket is the usual reason chunks ran together); each of those
    pieces is parsed on its own, one that fails with something left open
    together with up to MAX_MERGE pieces after it. Adjacent pieces that do
    not parse are reported as one, with the first error.
    """
    source = normalise_newlines(source)
    lines = split_lines(source)
    try:
        return Parsed(lines, [Piece(1, max(1, len(lines)), parse(source, filename))])
    except PARSE_ERRORS as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        whole_error = describe_error(exc) + where
    bounds = sorted(set([0] + chunk_starts(lines)))
    pieces: list[Piece] = []
    for first, stop in zip(bounds, bounds[1:] + [len(lines)]):
        for piece in _parse_chunk(lines, first, stop, filename):
            previous = pieces[-1] if pieces else None
            if previous is not None and not previous.parsed and not piece.parsed:
                previous.last = piece.last  # one unparsable run, reported once
            else:
                pieces.append(piece)
    return Parsed(lines, pieces, whole_error)


def describe_error(exc: BaseException, offset: int = 0) -> str:
    """A one-line, student-facing reason why a piece of code did not parse.

    `offset` is how many lines of the file come before the piece: a line
    number in Python's message ("... on line 3") is shifted to the file's.
    """
    if isinstance(exc, SyntaxError):
        message = (exc.msg or "invalid syntax")[:200]
        if offset:
            message = _LINE_IN_MESSAGE.sub(lambda m: f"on line {int(m.group(1)) + offset}", message)
        return f"{type(exc).__name__}: {message}"
    if isinstance(exc, ValueError):
        return f"this code contains a character Python cannot read ({str(exc)[:200]})"
    return "this code is nested too deeply for Python to read"


def _parse_region(lines: Sequence[str], first: int, stop: int, filename: str) -> Piece:
    """lines[first:stop] parsed, with the file's line numbers (a Piece with `error` when it does not parse)."""
    text = "".join(lines[first:stop])
    try:
        tree = parse(text, filename)
    except PARSE_ERRORS as exc:
        error_line = first + (exc.lineno or 1) if isinstance(exc, SyntaxError) and exc.lineno else first + 1
        lo, hi = _code_span(lines, first, stop)
        return Piece(lo, hi, None, describe_error(exc, first), min(max(error_line, lo), hi))
    ast.increment_lineno(tree, first)
    return Piece(first + 1, max(first + 1, stop), tree)


def _parse_chunk(lines: Sequence[str], first: int, stop: int, filename: str) -> list[Piece]:
    """The chunk lines[first:stop] as one parsed piece, or as the pieces it cuts into."""
    whole = _parse_region(lines, first, stop, filename)
    cuts = _statement_cuts(lines, first, stop)
    if whole.parsed or len(cuts) == 1:
        return [whole]
    bounds = cuts + [stop]
    pieces, index = [], 0
    while index < len(cuts):
        piece = _parse_region(lines, bounds[index], bounds[index + 1], filename)
        taken = 1
        if not piece.parsed and _LEFT_OPEN.search(piece.error):
            for extra in range(2, min(MAX_MERGE + 1, len(cuts) - index) + 1):
                merged = _parse_region(lines, bounds[index], bounds[index + extra], filename)
                if merged.parsed:
                    piece, taken = merged, extra
                    break
        pieces.append(piece)
        index += taken
    return pieces


def _statement_cuts(lines: Sequence[str], first: int, stop: int) -> list[int]:
    """0-based lines of lines[first:stop] where a top-level statement could begin, brackets ignored."""
    starts = logical_line_starts(lines[first:stop], brackets=False)
    cuts, after_decorator = [first], lines[first].startswith("@")
    for offset in range(1, stop - first):
        line = lines[first + offset]
        if not starts[offset] or not _is_code(line):
            continue
        if line[0] not in " \t\f)]}" and not _CONTINUATION_KEYWORD.match(line) and not after_decorator:
            cuts.append(first + offset)
        after_decorator = line.startswith("@")
    return cuts


def chunk_starts(lines: Sequence[str]) -> list[int]:
    """0-based lines where a top-level chunk begins (decorators stay with what they decorate)."""
    starts = logical_line_starts(lines)
    result = []
    after_decorator = False
    for i, line in enumerate(lines):
        if not starts[i] or not _is_code(line):
            continue
        if line[0] in " \t\f" or _CONTINUATION_KEYWORD.match(line):
            after_decorator = False
            continue
        if after_decorator:
            after_decorator = line.startswith("@")
            continue
        result.append(i)
        after_decorator = line.startswith("@")
    return result


def logical_line_starts(lines: Sequence[str], opaque: Callable[[str], bool] | None = None, *,
                        brackets: bool = True) -> list[bool]:
    """For each line, whether a new logical line of Python begins on it.

    A line does not begin one when it continues a triple-quoted string, a
    backslash-continued line or (with `brackets`) an open bracket. The scan
    is lexical and forgiving: unbalanced closers are ignored and an
    unterminated single-quoted string ends with its line. A line that
    begins a logical line and for which `opaque(line)` is true is not
    scanned (IPython's ``!cmd`` lines, whose quotes are not Python's).
    """
    starts = []
    depth = 0
    quote: str | None = None
    continued = False
    for line in lines:
        if depth and quote is None and _DEFINITION_LINE.match(line):
            # `def`, `class` and `import` cannot sit inside brackets: the
            # bracket before them was never closed, so stop counting it.
            depth, continued = 0, False
        begins = (depth == 0 or not brackets) and quote is None and not continued
        starts.append(begins)
        continued = False
        if begins and opaque is not None and opaque(line):
            continued = line.rstrip("\n").endswith("\\")
            continue
        pos, n = 0, len(line)
        while True:
            if quote is not None:
                pattern = _STRING_END[quote]
                match = pattern.search(line, pos)
                while match is not None and match.group(0)[0] == "\\":
                    pos = match.end()
                    match = pattern.search(line, pos)
                if match is None:
                    # A single-quoted string only goes on past a backslash-newline.
                    if len(quote) == 1 and not (pos == n and line.endswith("\\\n")):
                        quote = None
                    break
                quote, pos = None, match.end()
                continue
            match = _TOP_TOKENS.search(line, pos)
            if match is None:
                break
            token, pos = match.group(0), match.end()
            if token == "#":
                break
            if token == "\\":
                if line[pos:] in ("\n", ""):
                    continued = True
                    break
            elif token in "([{":
                depth += 1
            elif token in ")]}":
                depth = max(0, depth - 1)
            else:
                quote = token
    return starts


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _code_span(lines: Sequence[str], first: int, stop: int) -> tuple[int, int]:
    """1-based first and last code lines of lines[first:stop] (the whole range if none)."""
    code = [i for i in range(first, stop) if _is_code(lines[i])]
    if not code:
        return first + 1, max(first + 1, stop)
    return code[0] + 1, code[-1] + 1


# ---------------------------------------------------------------- names


def target_names(target: ast.AST) -> list[ast.Name]:
    """The plain names an assignment target binds (not attributes or items), in source order."""
    names, stack = [], [target]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.append(node)
        elif isinstance(node, (ast.Tuple, ast.List)):
            stack.extend(reversed(node.elts))
        elif isinstance(node, ast.Starred):
            stack.append(node.value)
    return names


def bound_names(node: ast.AST) -> list[str]:
    """The names a statement binds in its own scope when it runs, in source order, each once.

    Definitions bind their name (their bodies are their own scope), imports
    the name they introduce (``import a.b`` binds ``a``; ``*`` binds nothing
    known), and so do assignment targets, ``as`` names, ``except ... as``,
    ``:=`` and ``match`` captures. A comprehension's variable and a lambda's
    parameters are local to them.
    """
    found: list[tuple[int, int, str]] = []
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        where = (getattr(current, "lineno", 0), getattr(current, "col_offset", 0))
        if isinstance(current, _DEFINITIONS):
            found.append((*where, current.name))
            if current is not node:
                continue
            # The definition itself: its decorators and defaults run here, its body does not.
            stack.extend(current.decorator_list)
            if not isinstance(current, ast.ClassDef):
                stack.extend(d for d in [*current.args.defaults, *current.args.kw_defaults] if d is not None)
            else:
                stack.extend([*current.bases, *current.keywords])
            continue
        if isinstance(current, ast.Lambda):
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Store):
            found.append((*where, current.id))
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            found.extend((*where, alias.asname or alias.name.split(".")[0])
                         for alias in current.names if alias.name != "*")
        elif isinstance(current, ast.ExceptHandler) and current.name:
            found.append((*where, current.name))
        elif isinstance(current, (ast.MatchAs, ast.MatchStar)) and current.name:
            found.append((*where, current.name))
        elif isinstance(current, ast.MatchMapping) and current.rest:
            found.append((*where, current.rest))
        if isinstance(current, ast.comprehension):
            stack.extend([current.iter, *current.ifs])  # its own variable is local to it
            continue
        stack.extend(ast.iter_child_nodes(current))
    return list(dict.fromkeys(name for *_, name in sorted(found, key=lambda item: (item[0], item[1]))))


def names_bound_by(statements: Iterable[ast.stmt]) -> set[str]:
    """Every name the statements bind."""
    return {name for statement in statements for name in bound_names(statement)}

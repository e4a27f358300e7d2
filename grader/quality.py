"""Automatic estimate of the lab's "Code quality" rubric item.

The estimate reads the submission's source text only: `ast` for structure and
`tokenize` for comments. It never imports or runs the code, so it is safe on
the trusted side. An instructor can override it; every point it withholds
comes with student-facing evidence that names a line.

Criteria and their weights out of 10 (scaled when `max_points` differs). The
rubric names comments, docstrings and modularity, so they carry 8 of the 10:

- Docstrings, 3: every required function has a docstring that says what its
  arguments are and what it returns (a fifth of the credit goes to public
  helper functions when there are any). A missing required function earns
  nothing here.
- Comments, 2.5: meaningful comments in function bodies, about one every
  10 lines of code and at least one in every function of 8 or more lines.
  Commented-out code is not a comment and costs a little on its own.
- Modularity, 2.5: the required functions exist as separate top-level
  functions, none is longer than 40 lines of code, none nests blocks more than
  3 deep, no run of statements is copy-pasted, and every helper is used.
- Names, 1: no unused local variables, no names shadowing built-ins or
  imported modules, no single-letter names beyond the chapter's math notation.
- Top-level code, 1: importing the file runs only imports, definitions and
  constants (demo and training code belongs under ``if __name__ == "__main__":``).

Each criterion's points are rounded to the nearest 0.5 and the total is their
sum. A file that does not parse is analysed chunk by chunk (top-level
statement by statement); a file of which nothing parses gets 0.
"""

from __future__ import annotations

import ast
import bisect
import io
import math
import re
import tokenize
import warnings
from collections import deque
from dataclasses import dataclass, field

DOCSTRINGS = "Docstrings"
COMMENTS = "Comments"
MODULARITY = "Modularity"
NAMES = "Names"
TOP_LEVEL = "Top-level code"

WEIGHTS = {DOCSTRINGS: 3.0, COMMENTS: 2.5, MODULARITY: 2.5, NAMES: 1.0, TOP_LEVEL: 1.0}

MAX_FUNCTION_LINES = 40
MAX_NESTING = 3
COMMENT_EVERY = 10          # lines of function code per meaningful comment for full credit
COMMENTED_FUNCTION_LINES = 8  # functions at least this long need a comment of their own
REPEAT_WINDOW = 3           # consecutive statements that make a "repeated block"
REPEAT_MIN_NODES = 30       # ...and enough syntax in them that the repeat is not trivial
MATH_NAMES = frozenset("X Y Z W A b m L l i j k n x y z _".split())
MAX_EVIDENCE = 12

# Frozen rather than read from `builtins`, so the estimate cannot depend on
# what other code in the grader process added there.
BUILTIN_NAMES = frozenset(
    "abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr "
    "classmethod compile complex delattr dict dir divmod enumerate eval exec filter "
    "float format frozenset getattr globals hasattr hash hex id input int isinstance "
    "issubclass iter len list locals map max memoryview min next object oct open ord "
    "pow print property range repr reversed round set setattr slice sorted staticmethod "
    "str sum super tuple type vars zip".split()
)

# Calls that only build a value, so a module-level constant may use them.
CONSTANT_CALLS = frozenset(
    "array asarray default_rng dtype float32 float64 int32 int64 compile getLogger "
    "namedtuple TypeVar frozenset tuple dict list set range object Path partial field".split()
)

_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_BLOCK_TYPES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                ast.Try, ast.TryStar, ast.Match)
_LAYOUT_TOKENS = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER, tokenize.ENCODING}
_RETURN_WORDS = re.compile(r"(?i)\b(returns?|returned|returning|yields?|gives?|outputs?)\b|->|→")
_PRAGMA = re.compile(r"(?i)^(noqa|type:|pylint:|pragma|fmt:|mypy:|isort:|nosec|-\*-|!)")
_TASK_ONLY = re.compile(r"(?i)^(todo|fixme|xxx|hack)\b[\W_]*$")
_CODE_HINT = re.compile(r"[=(\[:]|^(return|import|from|pass|break|continue|raise|del|assert|yield)\b")
_CODE_KEYWORD_LINE = re.compile(r"^((else|try|finally)\s*:|(elif|except)\b.*:)\s*$")
_CHUNK_CONTINUATION = re.compile(r"(else|elif|except|finally)\b|[)\]}]")


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
                     max_points: float = 10.0) -> QualityEstimate:
    """Estimate the code-quality points of a submission from its source text.

    `required_functions` are the names the assignment requires at the top
    level; an entry may list aliases separated by "|" (``"L_layer_forward|
    L_model_forward"``). `max_points` scales the criterion weights. Never runs
    the code and never raises on student input.
    """
    if not isinstance(max_points, (int, float)) or not 0 <= max_points < math.inf:
        raise ValueError(f"max_points must be a finite number >= 0, got {max_points!r}")
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    required = _required_groups(required_functions)
    # Student code may trigger SyntaxWarnings (invalid escapes, `is` with a
    # literal); they are not ours to print, nor to turn into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = _parse(source)
        if not parsed.units:
            return _zero_estimate(max_points, f"could not parse the file: {parsed.fatal}")
        facts = _Facts(parsed)
        if not facts.functions and not facts.top_defs:
            return _zero_estimate(max_points, "the file defines no functions, so there is no code to judge")
        scored = [
            (DOCSTRINGS, _score_docstrings(facts, required)),
            (COMMENTS, _score_comments(facts)),
            (MODULARITY, _score_modularity(facts, required)),
            (NAMES, _score_names(facts, required)),
            (TOP_LEVEL, _score_top_level(facts)),
        ]
    scale = max_points / sum(WEIGHTS.values())
    criteria = []
    for name, (fraction, evidence) in scored:
        top = WEIGHTS[name] * scale
        fraction = min(1.0, max(0.0, fraction))
        points = top if fraction >= 1.0 else min(top, _round_half(fraction * top))
        if name == DOCSTRINGS:
            evidence = [(0, note) for note in parsed.notes] + evidence
        criteria.append(Criterion(name, points, top, _render(evidence)))
    total = min(max_points, sum(c.points for c in criteria))
    return QualityEstimate(total, max_points, criteria)


# ---------------------------------------------------------------- parsing

@dataclass
class _Unit:
    """A parsed piece of the file; its line 1 is file line `offset + 1`."""

    tree: ast.Module
    text: str
    offset: int


@dataclass
class _Parsed:
    """The file's lines, the parts that parsed, and what did not."""

    lines: list[str]
    units: list[_Unit]
    notes: list[str]
    fatal: str = ""


def _parse(source: str) -> _Parsed:
    """Parse the whole file, or failing that each top-level chunk on its own."""
    source = source.lstrip("\ufeff")
    lines = _split_lines(source)
    try:
        return _Parsed(lines, [_Unit(ast.parse(source), source, 0)], [])
    except _PARSE_ERRORS as exc:
        whole_error = _describe_error(exc, source, 0)
    units, failures = _parse_chunks(lines)
    if not units:
        return _Parsed(lines, [], [], whole_error)
    notes = [f"could not parse lines {first}-{last} ({error}); this estimate covers the rest of the file"
             for first, last, error in failures]
    return _Parsed(lines, units, notes)


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


def _parse_chunks(lines: list[str]) -> tuple[list[_Unit], list[tuple[int, int, str]]]:
    """Parse top-level chunks one by one; a failing chunk may absorb a few
    following ones, which rescues e.g. a column-0 line inside a string."""
    starts = _chunk_starts(lines)
    bounds = starts + [len(lines)]
    units: list[_Unit] = []
    failures: list[tuple[int, int, str]] = []
    index = 0
    while index < len(starts):
        first_error = ""
        for end in range(index + 1, min(index + 4, len(starts)) + 1):
            text = "".join(lines[starts[index]:bounds[end]])
            try:
                tree = ast.parse(text)
            except _PARSE_ERRORS as exc:
                first_error = first_error or _describe_error(exc, text, starts[index])
                continue
            ast.increment_lineno(tree, starts[index])
            units.append(_Unit(tree, text, starts[index]))
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


def _chunk_starts(lines: list[str]) -> list[int]:
    """Indices of lines that begin a top-level statement (decorators stay
    with the definition they decorate)."""
    starts: list[int] = []
    decorators_only = False
    for index, line in enumerate(lines):
        if not line or line[0] in " \t\f\r\n#" or _CHUNK_CONTINUATION.match(line):
            continue
        if not (starts and decorators_only):
            starts.append(index)
        decorators_only = line.startswith("@")
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return starts


# ------------------------------------------------------------------ facts

@dataclass
class _Function:
    """A function definition anywhere in the file."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    name: str
    top_level: bool
    length: int = 0


@dataclass
class _Comment:
    """A `#` comment and where it sits."""

    line: int
    text: str
    inline: bool


class _Facts:
    """Everything the criteria need, gathered once from the parsed units."""

    def __init__(self, parsed: _Parsed) -> None:
        self.lines = parsed.lines
        self.units = parsed.units
        self.functions: list[_Function] = []
        self.top_defs: dict[str, ast.AST] = {}   # module-level functions and classes
        self.imports: dict[str, tuple[int, bool]] = {}  # name -> (line, is a module)
        self.module_statements: list[ast.stmt] = []
        code_lines: set[int] = set()
        self.comments: list[_Comment] = []
        for unit in parsed.units:
            self.module_statements.extend(unit.tree.body)
            _scan_tokens(unit, code_lines, self.comments)
            self._collect_definitions(unit.tree)
        self._drop_docstring_lines(code_lines)
        self.code_lines = sorted(code_lines)
        self.functions.sort(key=lambda f: (f.node.lineno, f.node.col_offset))
        self._measure_lengths()

    def count_code_lines(self, first: int, last: int) -> int:
        """Lines of code (not blank, comment or docstring) in [first, last]."""
        return bisect.bisect_right(self.code_lines, last) - bisect.bisect_left(self.code_lines, first)

    def _collect_definitions(self, tree: ast.Module) -> None:
        # Explicit stack: student files may nest deeper than Python's recursion limit.
        stack: list[tuple[ast.stmt, str, bool]] = [(s, "", True) for s in reversed(tree.body)]
        while stack:
            stmt, prefix, module_level = stack.pop()
            if isinstance(stmt, _FUNCTION_TYPES + (ast.ClassDef,)):
                if isinstance(stmt, _FUNCTION_TYPES):
                    self.functions.append(_Function(stmt, prefix + stmt.name, module_level))
                if module_level:
                    self.top_defs[stmt.name] = stmt
                stack.extend((s, f"{prefix}{stmt.name}.", False) for s in reversed(stmt.body))
                continue
            if module_level and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    if alias.name != "*":
                        bound = alias.asname or alias.name.split(".")[0]
                        self.imports[bound] = (stmt.lineno, isinstance(stmt, ast.Import))
            for body in reversed(_child_bodies(stmt)):
                stack.extend((s, prefix, module_level) for s in reversed(body))

    def _drop_docstring_lines(self, code_lines: set[int]) -> None:
        owners = [unit.tree for unit in self.units] + [f.node for f in self.functions]
        owners += [n for unit in self.units for n in ast.walk(unit.tree) if isinstance(n, ast.ClassDef)]
        for owner in owners:
            first = owner.body[0] if owner.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                keep = getattr(owner, "lineno", 0)  # a one-line `def f(): "doc"` keeps its def line
                code_lines.difference_update(n for n in range(first.lineno, first.end_lineno + 1) if n != keep)

    def _measure_lengths(self) -> None:
        # A function's own length leaves out the functions nested inside it.
        for function in self.functions:
            node = function.node
            function.length = self.count_code_lines(node.lineno, node.end_lineno)
            for child in _nested_functions(node):
                function.length -= self.count_code_lines(child.lineno, child.end_lineno)


def _scan_tokens(unit: _Unit, code_lines: set[int], comments: list[_Comment]) -> None:
    """Record which lines hold code and where the comments are."""
    offset = unit.offset
    try:
        for token in tokenize.generate_tokens(io.StringIO(unit.text).readline):
            if token.type == tokenize.COMMENT:
                line = token.start[0] + offset
                comments.append(_Comment(line, token.string, line in code_lines))
            elif token.type not in _LAYOUT_TOKENS:
                code_lines.update(range(token.start[0] + offset, token.end[0] + offset + 1))
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # keep what was scanned; the text parsed, so this is an edge case


def _child_bodies(stmt: ast.AST) -> list[list[ast.stmt]]:
    """The statement lists directly inside a compound statement."""
    bodies = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
              if isinstance(getattr(stmt, name, None), list)]
    bodies += [handler.body for handler in getattr(stmt, "handlers", ())]
    bodies += [case.body for case in getattr(stmt, "cases", ())]
    return [body for body in bodies if body and isinstance(body[0], ast.stmt)]


def _scope_nodes(body: list[ast.stmt]):
    """Yield the nodes of one scope: nested definitions are yielded (their
    name is bound here) but not entered; lambdas and comprehensions are skipped."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPE_TYPES):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _nested_functions(node: ast.AST) -> list[ast.AST]:
    """Functions defined directly in `node`'s scope."""
    return [n for n in _scope_nodes(node.body) if isinstance(n, _FUNCTION_TYPES)]


def _parameters(node: ast.AST) -> list[ast.arg]:
    """All parameters of a function, in order."""
    args = node.args
    params = args.posonlyargs + args.args + ([args.vararg] if args.vararg else [])
    return params + args.kwonlyargs + ([args.kwarg] if args.kwarg else [])


# ------------------------------------------------------------- docstrings

def _score_docstrings(facts: _Facts, required: list[tuple[str, ...]]) -> tuple[float, list]:
    """Docstrings of the required functions and, with less weight, of helpers."""
    evidence: list[tuple[int, str]] = []
    required_names = {name for group in required for name in group}
    required_scores = []
    for group in required:
        node = _find_required(facts, group)
        if node is None:
            evidence.append((0, f"`{_short(group[0])}` is not defined, so it earns no docstring credit"))
            required_scores.append(0.0)
            continue
        score, problems = _docstring_quality(node, node.name)
        required_scores.append(score)
        evidence.extend((node.lineno, p) for p in problems)
    helpers = [f for f in facts.functions if f.top_level and f.node.name not in required_names
               and not f.node.name.startswith("_")]
    helper_scores = []
    for helper in helpers:
        score, problems = _docstring_quality(helper.node, helper.name, helper=True)
        helper_scores.append(score)
        evidence.extend((helper.node.lineno, p) for p in problems)
    if not required_scores:
        scores = helper_scores or [0.0]
        return sum(scores) / len(scores), evidence
    fraction = sum(required_scores) / len(required_scores)
    if helper_scores:
        fraction = 0.8 * fraction + 0.2 * sum(helper_scores) / len(helper_scores)
    return fraction, evidence


def _find_required(facts: _Facts, group: tuple[str, ...]) -> ast.AST | None:
    """The module-level definition of a required name (or one of its aliases)."""
    for name in group:
        if name in facts.top_defs:
            return facts.top_defs[name]
    return None


def _docstring_quality(node: ast.AST, name: str, helper: bool = False) -> tuple[float, list[str]]:
    """Score one docstring: present (half), names the arguments (a quarter),
    says what comes back (a quarter)."""
    line = node.lineno
    what = f"helper `{_short(name)}`" if helper else f"`{_short(name)}`"
    doc = ast.get_docstring(node) or ""
    if not doc.strip():
        return 0.0, [f"line {line}: {what} has no docstring"]
    if len(re.findall(r"\w+", doc)) < 4:
        return 0.25, [f"line {line}: the docstring of {what} is too short to say what it does"]
    if isinstance(node, ast.ClassDef):
        return 1.0, []
    problems = []
    params = [p.arg for p in _parameters(node) if p.arg not in ("self", "cls")]
    missing = [p for p in params if not re.search(rf"(?i)(?<!\w){re.escape(p)}(?!\w)", doc)]
    score = 0.5 + 0.25 * (1 - len(missing) / len(params) if params else 1.0)
    if missing:
        listed = ", ".join(f"`{_short(p)}`" for p in missing)
        problems.append(f"line {line}: the docstring of {what} does not say what {listed} "
                        f"{'is' if len(missing) == 1 else 'are'}")
    if _returns_value(node) and not _RETURN_WORDS.search(doc):
        problems.append(f"line {line}: the docstring of {what} does not say what it returns")
    else:
        score += 0.25
    return score, problems


def _returns_value(node: ast.AST) -> bool:
    """True when the function returns something other than None, or yields."""
    for child in _scope_nodes(node.body):
        if isinstance(child, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(child, ast.Return) and child.value is not None and not (
                isinstance(child.value, ast.Constant) and child.value.value is None):
            return True
    return False


# --------------------------------------------------------------- comments

def _score_comments(facts: _Facts) -> tuple[float, list]:
    """Density and spread of meaningful comments; commented-out code costs."""
    evidence: list[tuple[int, str]] = []
    kinds = [(c, _comment_kind(c)) for c in facts.comments]
    meaningful = sorted(c.line for c, kind in kinds if kind == "comment")
    outermost = _outermost_ranges(facts.functions)
    body_lines = sum(facts.count_code_lines(first, last) for first, last in outermost)
    in_bodies = sum(bisect.bisect_right(meaningful, last) - bisect.bisect_left(meaningful, first)
                    for first, last in outermost)
    density = min(1.0, in_bodies * COMMENT_EVERY / body_lines) if body_lines else 0.0
    if density < 1.0:
        evidence.append((0, f"{in_bodies} meaningful comment{'s' if in_bodies != 1 else ''} in "
                            f"{body_lines} lines of function code: aim for about one every "
                            f"{COMMENT_EVERY} lines, saying why the code does what it does"))
    long_functions = [f for f in facts.functions if f.length >= COMMENTED_FUNCTION_LINES]
    uncommented = [f for f in long_functions
                   if bisect.bisect_right(meaningful, f.node.end_lineno) == bisect.bisect_left(meaningful, f.node.lineno)]
    for function in uncommented:
        evidence.append((function.node.lineno, f"line {function.node.lineno}: `{_short(function.name)}` has "
                                               f"{function.length} lines of code and no comment"))
    coverage = 1 - len(uncommented) / len(long_functions) if long_functions else density
    blocks = _commented_code_blocks([c for c, kind in kinds if kind == "code"])
    for first, last, text in blocks:
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        evidence.append((first, f"{where}: `{_short(text)}` is commented-out code, not a comment: delete it"))
    return 0.5 * density + 0.5 * coverage - min(0.3, 0.1 * len(blocks)), evidence


def _outermost_ranges(functions: list[_Function]) -> list[tuple[int, int]]:
    """Line ranges of functions not nested in another function."""
    ranges: list[tuple[int, int]] = []
    for function in functions:  # sorted by first line
        first, last = function.node.lineno, function.node.end_lineno
        if ranges and first <= ranges[-1][1]:
            continue
        ranges.append((first, last))
    return ranges


def _comment_kind(comment: _Comment) -> str:
    """'comment' for an explanation, 'code' for commented-out code, else 'noise'."""
    body = comment.text.lstrip("#").strip()
    if not re.search(r"[^\W_]", body) or _PRAGMA.match(body) or _TASK_ONLY.match(body):
        return "noise"
    if not comment.inline and _looks_like_code(body):
        return "code"
    return "comment"


def _looks_like_code(text: str) -> bool:
    """True when a comment's text is a Python statement rather than prose."""
    if len(text) > 500 or not _CODE_HINT.search(text):
        return False
    if _CODE_KEYWORD_LINE.match(text):
        return True
    for candidate in (text, text + " pass") if text.endswith(":") else (text,):
        try:
            tree = ast.parse(candidate)
        except _PARSE_ERRORS:
            continue
        return any(_is_code_statement(stmt) for stmt in tree.body)
    return False


def _is_code_statement(stmt: ast.stmt) -> bool:
    """Statements prose does not look like. `x: y` is excluded because
    "shape: (n, m)" is a common way to write an explanation."""
    if isinstance(stmt, ast.Expr):
        call = stmt.value
        return isinstance(call, ast.Call) and (
            isinstance(call.func, ast.Attribute) or bool(call.keywords)
            or (isinstance(call.func, ast.Name) and call.func.id == "print"))
    return not isinstance(stmt, ast.AnnAssign)


def _commented_code_blocks(comments: list[_Comment]) -> list[tuple[int, int, str]]:
    """Group commented-out code lines on consecutive lines into blocks."""
    blocks: list[tuple[int, int, str]] = []
    for comment in sorted(comments, key=lambda c: c.line):
        if blocks and comment.line == blocks[-1][1] + 1:
            blocks[-1] = (blocks[-1][0], comment.line, blocks[-1][2])
        else:
            blocks.append((comment.line, comment.line, comment.text.strip()))
    return blocks


# ------------------------------------------------------------- modularity

def _score_modularity(facts: _Facts, required: list[tuple[str, ...]]) -> tuple[float, list]:
    """Required functions present, short, shallow, not copy-pasted; helpers used."""
    evidence: list[tuple[int, str]] = []
    missing = [group[0] for group in required if _find_required(facts, group) is None]
    evidence.extend((0, f"`{_short(name)}` is not defined as a separate top-level function")
                    for name in missing)
    present = 1 - len(missing) / len(required) if required else 1.0

    length_penalty = 0.0
    for function in facts.functions:
        if function.length > MAX_FUNCTION_LINES:
            length_penalty += min(1.0, 0.25 + (function.length - MAX_FUNCTION_LINES) / 60)
            evidence.append((function.node.lineno,
                             f"line {function.node.lineno}: `{_short(function.name)}` is {function.length} "
                             f"lines long (over {MAX_FUNCTION_LINES}): split it into helpers"))

    nesting_penalty = 0.0
    for function in facts.functions:
        depth, line = _max_nesting(function.node)
        if depth > MAX_NESTING:
            nesting_penalty += 0.5
            evidence.append((line, f"line {line}: `{_short(function.name)}` nests blocks {depth} deep "
                                   f"(over {MAX_NESTING}): move the inner steps into a helper or return early"))

    repeats = _repeated_blocks(facts.functions)
    for (name_a, a_first, a_last), (name_b, b_first, b_last) in repeats:
        evidence.append((a_first, f"lines {a_first}-{a_last} (`{_short(name_a)}`) and lines {b_first}-{b_last} "
                                  f"(`{_short(name_b)}`) repeat the same steps: move them into one helper"))

    unused = _unused_helpers(facts, {name for group in required for name in group})
    evidence.extend((node.lineno, f"line {node.lineno}: helper `{_short(node.name)}` is never used: "
                                  f"remove it or call it") for node in unused)

    fraction = (0.3 * present + 0.3 * max(0.0, 1 - length_penalty) + 0.15 * max(0.0, 1 - nesting_penalty)
                + 0.15 * max(0.0, 1 - 0.5 * len(repeats)) + 0.1 * max(0.0, 1 - 0.5 * len(unused)))
    return fraction, evidence


def _max_nesting(function: ast.AST) -> tuple[int, int]:
    """Deepest block nesting in a function's own body, and where it happens.
    An `elif` counts as the same depth as its `if`."""
    deepest, where = 0, function.lineno
    stack = [(stmt, 0) for stmt in function.body]
    while stack:
        stmt, depth = stack.pop()
        if isinstance(stmt, _FUNCTION_TYPES + (ast.ClassDef,)):
            continue
        if isinstance(stmt, _BLOCK_TYPES):
            depth += 1
            if depth > deepest:
                deepest, where = depth, stmt.lineno
        if isinstance(stmt, ast.If) and len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
            stack.append((stmt.orelse[0], depth - 1))
            stack.extend((child, depth) for child in stmt.body)
            continue
        for body in _child_bodies(stmt):
            stack.extend((child, depth) for child in body)
    return deepest, where


def _repeated_blocks(functions: list[_Function]) -> list[tuple[tuple, tuple]]:
    """Runs of REPEAT_WINDOW statements that appear twice, normalised so that
    renamed variables and changed constants still count as the same code."""
    first_seen: dict[tuple, tuple[str, int, int]] = {}
    pairs: dict[tuple, list[int]] = {}
    for function in functions:
        for body in _own_statement_lists(function.node):
            prints = [_fingerprint(stmt) for stmt in body]
            for start in range(len(body) - REPEAT_WINDOW + 1):
                window = prints[start:start + REPEAT_WINDOW]
                if sum(size for _, size in window) < REPEAT_MIN_NODES:
                    continue
                key = tuple(shape for shape, _ in window)
                here = (function.name, body[start].lineno, body[start + REPEAT_WINDOW - 1].end_lineno)
                seen = first_seen.setdefault(key, here)
                overlaps = seen[0] == here[0] and here[1] <= seen[2] and seen[1] <= here[2]
                if seen is here or overlaps:
                    continue
                span = pairs.setdefault((seen[0], here[0]), [seen[1], seen[2], here[1], here[2]])
                span[:] = [min(span[0], seen[1]), max(span[1], seen[2]),
                           min(span[2], here[1]), max(span[3], here[2])]
    return sorted(((a, s[0], s[1]), (b, s[2], s[3])) for (a, b), s in pairs.items())


def _own_statement_lists(function: ast.AST) -> list[list[ast.stmt]]:
    """Every statement list in a function's own body, at any block depth."""
    lists, stack = [], [function.body]
    while stack:
        body = stack.pop()
        lists.append(body)
        for stmt in body:
            if not isinstance(stmt, _FUNCTION_TYPES + (ast.ClassDef,)):
                stack.extend(_child_bodies(stmt))
    return lists


def _fingerprint(stmt: ast.stmt) -> tuple[str, int]:
    """A statement's shape (its header only for compound statements) and size."""
    parts = [type(stmt).__name__]
    queue: deque = deque()
    for name, value in ast.iter_fields(stmt):
        items = value if isinstance(value, list) else [value]
        if items and isinstance(items[0], (ast.stmt, ast.excepthandler, ast.match_case)):
            parts.append(f"{name}:{len(items)}")
        else:
            queue.extend(item for item in items if isinstance(item, ast.AST))
    while queue:
        node = queue.popleft()
        if isinstance(node, ast.expr_context):
            continue
        if isinstance(node, ast.Name):
            parts.append("n")
        elif isinstance(node, ast.Attribute):
            parts.append("." + node.attr)
        elif isinstance(node, ast.Constant):
            parts.append("c" + type(node.value).__name__)
        else:
            parts.append(type(node).__name__)
        queue.extend(ast.iter_child_nodes(node))
    return " ".join(parts), len(parts)


def _unused_helpers(facts: _Facts, required_names: set[str]) -> list[ast.AST]:
    """Module-level functions that nothing in the file refers to."""
    referenced = {node.id for unit in facts.units for node in ast.walk(unit.tree)
                  if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    referenced |= {node.attr for unit in facts.units for node in ast.walk(unit.tree)
                   if isinstance(node, ast.Attribute)}
    return [f.node for f in facts.functions
            if f.top_level and f.node.name not in required_names and f.node.name != "main"
            and f.node.name not in referenced]


# ------------------------------------------------------------------ names

def _score_names(facts: _Facts, required: list[tuple[str, ...]]) -> tuple[float, list]:
    """Unused locals, shadowed built-ins and imports, cryptic one-letter names."""
    evidence: list[tuple[int, str]] = []
    counts = {"unused": 0, "shadow": 0, "letter": 0}
    required_names = {name for group in required for name in group}

    def flag(kind: str, line: int, text: str) -> None:
        counts[kind] += 1
        evidence.append((line, f"line {line}: {text}"))

    for function in facts.functions:
        node = function.node
        bindings = [("parameter", p.arg, p.lineno) for p in _parameters(node)]
        bindings += _bindings(node.body)
        for name, line in _unused_locals(node, bindings):
            flag("unused", line, f"`{_short(name)}` is assigned but never used")
        _check_bindings(bindings, facts, required_names, flag, in_function=True)
    module_bindings = [("function" if isinstance(d, _FUNCTION_TYPES) else "class", d.name, d.lineno)
                       for d in facts.top_defs.values()]
    module_bindings += [b for b in _bindings(facts.module_statements) if b[0] not in ("function", "class")]
    _check_bindings(module_bindings, facts, required_names, flag, in_function=False)
    fraction = 1 - 0.25 * counts["unused"] - 0.25 * counts["shadow"] - 0.1 * counts["letter"]
    return fraction, evidence


def _bindings(body: list[ast.stmt]) -> list[tuple[str, str, int]]:
    """(kind, name, line) for each name bound in one scope."""
    found = []
    for node in _scope_nodes(body):
        if isinstance(node, _FUNCTION_TYPES):
            found.append(("function", node.name, node.lineno))
        elif isinstance(node, ast.ClassDef):
            found.append(("class", node.name, node.lineno))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                kind = "variable" if isinstance(target, ast.Name) else "unpacked"
                found.extend((kind, n.id, n.lineno) for n in _target_names(target))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            found.extend(("loop", n.id, n.lineno) for n in _target_names(node.target))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            found.extend(("with", n.id, n.lineno) for n in _target_names(node.optional_vars))
    return found


def _target_names(target: ast.AST) -> list[ast.Name]:
    """Plain names bound by an assignment target (not attributes or items)."""
    names, stack = [], [target]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.append(node)
        elif isinstance(node, (ast.Tuple, ast.List)):
            stack.extend(node.elts)
        elif isinstance(node, ast.Starred):
            stack.append(node.value)
    return names


def _unused_locals(function: ast.AST, bindings: list[tuple[str, str, int]]) -> list[tuple[str, int]]:
    """Local variables a function assigns and never reads (nested functions
    reading them count as reads). Unpacking and loop targets are exempt:
    the API often returns more than a caller needs."""
    loads = set()
    declared = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            loads.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
    if loads & {"locals", "vars", "eval", "exec"}:
        return []
    exempt = loads | declared | {p.arg for p in _parameters(function)}
    unused: dict[str, int] = {}
    for kind, name, line in bindings:
        if kind == "variable" and name not in exempt and not name.startswith("_"):
            unused.setdefault(name, line)
    return sorted(unused.items(), key=lambda item: item[1])


def _check_bindings(bindings, facts: _Facts, required_names: set[str], flag, in_function: bool) -> None:
    """Flag shadowing and cryptic single-letter names, once per name per scope."""
    seen = set()
    for kind, name, line in bindings:
        if name in seen or name in required_names:
            continue
        seen.add(name)
        label = f"{kind} `{_short(name)}`" if kind in ("parameter", "function", "class") else f"`{_short(name)}`"
        if name in BUILTIN_NAMES:
            flag("shadow", line, f"{label} shadows the built-in `{name}`")
        elif name in facts.imports and (in_function or facts.imports[name][0] != line):
            import_line, is_module = facts.imports[name]
            what = "the module" if is_module else "the name"
            flag("shadow", line, f"{label} shadows {what} imported on line {import_line}")
        elif len(name) == 1 and name not in MATH_NAMES:
            flag("letter", line, f"single-letter name `{name}` does not say what it holds")


# -------------------------------------------------------------- top level

def _score_top_level(facts: _Facts) -> tuple[float, list]:
    """Code that runs when the file is imported, other than definitions."""
    evidence: list[tuple[int, str]] = []
    fix = 'move it into a function or under `if __name__ == "__main__":`'
    stack = list(reversed(facts.module_statements))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass, ast.Global, ast.Nonlocal, ast.ClassDef)
                      + _FUNCTION_TYPES) or _is_main_guard(stmt):
            continue
        if isinstance(stmt, (ast.If, ast.Try, ast.TryStar)):
            for body in reversed(_child_bodies(stmt)):
                stack.extend(reversed(body))
            continue
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            keyword = {ast.AsyncFor: "for", ast.AsyncWith: "with"}.get(type(stmt), type(stmt).__name__.lower())
            evidence.append((stmt.lineno, f"line {stmt.lineno}: top-level `{keyword}` block runs when "
                                          f"the file is imported: {fix}"))
            continue
        call = _first_unsafe_call(stmt)
        if call is not None:
            evidence.append((stmt.lineno, f"line {stmt.lineno}: top-level call `{_snippet(facts.lines, call)}` "
                                          f"runs when the file is imported: {fix}"))
    return 1 - 0.25 * len(evidence), evidence


def _is_main_guard(stmt: ast.stmt) -> bool:
    """True for ``if __name__ == "__main__":``."""
    test = stmt.test if isinstance(stmt, ast.If) else None
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {type(side).__name__ + ":" + str(getattr(side, "id", getattr(side, "value", "")))
             for side in (test.left, test.comparators[0])}
    return sides == {"Name:__name__", "Constant:__main__"}


def _first_unsafe_call(stmt: ast.stmt) -> ast.Call | None:
    """The outermost call in a statement that does more than build a constant.
    Lambda bodies do not run at import, so they are skipped."""
    queue = deque([stmt])
    while queue:
        node = queue.popleft()
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in CONSTANT_CALLS:
                return node
        queue.extend(ast.iter_child_nodes(node))
    return None


# ---------------------------------------------------------------- helpers

def _required_groups(required_functions) -> list[tuple[str, ...]]:
    """Split "name|alias" entries into tuples, dropping blanks and repeats."""
    groups, seen = [], set()
    for entry in required_functions or ():
        group = tuple(part.strip() for part in str(entry).split("|") if part.strip())
        if group and group not in seen:
            seen.add(group)
            groups.append(group)
    return groups


def _snippet(lines: list[str], node: ast.AST, limit: int = 60) -> str:
    """The source text of `node` (first line only), shortened for a message."""
    try:
        raw = lines[node.lineno - 1].rstrip("\r\n").encode("utf-8")
        end = node.end_col_offset if node.end_lineno == node.lineno else len(raw)
        text = raw[node.col_offset:end].decode("utf-8", "replace").strip()
    except (IndexError, AttributeError, TypeError):
        return "..."
    if node.end_lineno != node.lineno:
        text += " ..."
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short(name: str, limit: int = 60) -> str:
    """A student-chosen name, cut to a length a report can show."""
    return name if len(name) <= limit else name[:limit - 3] + "..."


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


def _zero_estimate(max_points: float, reason: str) -> QualityEstimate:
    """No credit on any criterion, for the same stated reason."""
    scale = max_points / sum(WEIGHTS.values())
    criteria = [Criterion(name, 0.0, weight * scale, [reason]) for name, weight in WEIGHTS.items()]
    return QualityEstimate(0.0, max_points, criteria)

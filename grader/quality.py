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
  required function, or one still a starter stub (only `pass` or
  `raise NotImplementedError`), earns nothing here.
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

Each criterion's points are rounded to the nearest 0.5 and the total is their
sum. A file that does not parse is analysed chunk by chunk (top-level
statement by statement); a file of which nothing parses gets 0. Files longer
than about 10,000 lines of ordinary code are read up to that point only (the
evidence says so), which keeps any input well under a second.
"""

from __future__ import annotations

import ast
import bisect
import io
import keyword
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
COMMENTED_FUNCTION_LINES = 10  # functions at least this long need a comment of their own
REPEAT_WINDOW = 3           # consecutive statements that make a "repeated block"
REPEAT_MIN_TOKENS = 30      # ...and enough code in them that the repeat is not trivial
# The chapter's notation: data, layer quantities, sizes, indices and the
# worked examples' scalars (x, y, z, w, b; a for an activation).
MATH_NAMES = frozenset("X Y Z W A b m L l i j k n x y z a w _".split())
MAX_EVIDENCE = 12
# About 10,000 lines of ordinary code; denser files are cut here so that the
# estimate stays well under a second. Comments and docstrings count as one
# token each, as they cost little to analyse.
MAX_TOKENS = 100_000
_ROUGH_TOKEN = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|#[^\r\n]*|\w+|[^\w\s]')

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
    "namedtuple TypeVar frozenset tuple dict list set range object Path partial field "
    "split join strip dedent format sqrt log exp arange linspace zeros ones eye full finfo".split()
)

_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCK_TYPES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                ast.Try, ast.TryStar, ast.Match)
_LAYOUT_TOKENS = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER, tokenize.ENCODING}
# A summary that starts "The ..." or "A ..." names the value the function gives.
_RETURN_WORDS = re.compile(r"(?i)\b(returns?|returned|returning|yields?|gives?|outputs?)\b|->|→|^(the|an?)\b")
_PRAGMA = re.compile(r"(?i)^(noqa|type:|pylint:|pragma|fmt:|mypy:|isort:|nosec|-\*-|!)")
_TASK_ONLY = re.compile(r"(?i)^(todo|fixme|xxx|hack)\b[\W_]*$")
_CODE_HINT = re.compile(r"[=(\[:]|^(return|import|from|pass|break|continue|raise|del|assert|yield)\b")
_CODE_KEYWORD_LINE = re.compile(r"^((else|try|finally)\s*:|(elif|except)\b.*:)\s*$")
_DEF_LINE = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
_TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')
_LEFT_OPEN = re.compile(r"never closed|unterminated triple|expected an indented block|EOF")
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
                     max_points: float = 10.0, *, notebook: bool = False) -> QualityEstimate:
    """Estimate the code-quality points of a submission from its source text.

    `required_functions` are the names the assignment requires at the top
    level; an entry may list aliases separated by "|" (``"L_layer_forward|
    L_model_forward"``). `max_points` scales the criterion weights.
    `notebook` says the source came from a notebook, whose cells run at the
    top level by design: its demo cells are not held against it.

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
    required = _required_groups(required_functions)
    # Student code may trigger SyntaxWarnings (invalid escapes, `is` with a
    # literal); they are not ours to print, nor to turn into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = _parse(source)
        facts = _Facts(parsed)
        if not facts.functions and not facts.top_defs:
            # Nothing to judge; say why, the syntax error first if there is one.
            reason = (f"could not parse the file: {parsed.error}" if parsed.error
                      else "the file defines no functions, so there is no code to judge")
            return _zero_estimate(max_points, [reason] + [n for n in parsed.notes if n.startswith("the file")])
        scored = [
            (DOCSTRINGS, _score_docstrings(facts, required)),
            (COMMENTS, _score_comments(facts)),
            (MODULARITY, _score_modularity(facts, required)),
            (NAMES, _score_names(facts, required)),
            (TOP_LEVEL, (1.0, [(0, "a notebook runs its cells at the top level, so demo cells are fine")])
             if notebook else _score_top_level(facts)),
        ]
    scale = max_points / sum(WEIGHTS.values())
    # Quality is judged on the code the student wrote: with k of n required
    # functions implemented, every criterion counts k/n (an untouched starter,
    # whose docstrings and comments are the handout's, earns nothing).
    share = _implemented_share(facts, required)
    criteria = []
    for name, (fraction, evidence) in scored:
        top = WEIGHTS[name] * scale
        fraction = min(1.0, max(0.0, fraction)) * share
        if name == DOCSTRINGS and share < 1.0:
            done = round(share * len(required))
            evidence = [(0, f"{done} of {len(required)} required functions are implemented, so each criterion "
                            f"counts {done}/{len(required)} of its points")] + evidence
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
    """The file's lines, the parts that parsed, notes on what did not, and
    the error of parsing the file as a whole (empty when it parsed)."""

    lines: list[str]
    units: list[_Unit]
    notes: list[str]
    error: str = ""
    unparsed: list[tuple[int, int]] = field(default_factory=list)  # 1-based line ranges


def _parse(source: str) -> _Parsed:
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
        return _Parsed(lines, [_Unit(ast.parse(source), source, 0)], notes)
    except _PARSE_ERRORS as exc:
        whole_error = _describe_error(exc, source, 0)
    # One typo should not cost a student the credit for the rest of the file.
    units, failures = _parse_chunks(lines)
    if not units:
        return _Parsed(lines, [], notes, whole_error)
    notes += [f"could not parse lines {first}-{last} ({error}); this estimate covers the rest of the file"
              for first, last, error in failures]
    return _Parsed(lines, units, notes, whole_error, [(first, last) for first, last, _ in failures])


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
        end = index + 1
        while end <= min(index + 4, len(starts)):
            text = "".join(lines[starts[index]:bounds[end]])
            try:
                tree = ast.parse(text)
            except _PARSE_ERRORS as exc:
                first_error = first_error or _describe_error(exc, text, starts[index])
                # Only something left open (a bracket, a string, a block) can be
                # completed by the chunks that follow.
                end = end + 1 if _LEFT_OPEN.search(str(exc)) else len(starts) + 1
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


# ------------------------------------------------------------------ facts

@dataclass
class _Scope:
    """What one function body (or the module) binds and reads."""

    loads: set[str] = field(default_factory=set)  # names read here or in nested scopes
    bindings: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, name, line)
    declared: set[str] = field(default_factory=set)  # global / nonlocal
    nested: list[ast.AST] = field(default_factory=list)  # functions defined directly inside
    returns_value: bool = False


@dataclass
class _Function:
    """A function definition anywhere in the file."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    name: str
    top_level: bool
    parent: _Scope
    scope: _Scope = field(default_factory=_Scope)
    length: int = 0


@dataclass
class _Comment:
    """A `#` comment and where it sits."""

    line: int
    text: str
    inline: bool


class _Facts:
    """Everything the criteria need, gathered in one pass over the parsed units.

    One explicit-stack traversal: student files may nest deeper than Python's
    recursion limit, and huge files must stay fast.
    """

    def __init__(self, parsed: _Parsed) -> None:
        self.lines = parsed.lines
        self.units = parsed.units
        self.functions: list[_Function] = []
        self.classes: list[ast.ClassDef] = []
        self.top_defs: dict[str, ast.AST] = {}   # module-level functions and classes
        self.imports: dict[str, tuple[int, bool]] = {}  # name -> (line, is a module)
        self.module = _Scope()
        self.attributes: set[str] = set()
        self.module_statements: list[ast.stmt] = []
        self.comments: list[_Comment] = []
        # Functions whose definition is in a part that did not parse.
        self.unparsed_defs = {match.group(1) for first, last in parsed.unparsed
                              for match in _DEF_LINE.finditer("".join(parsed.lines[first - 1:last]))}
        self.shapes: dict[int, list[str]] = {}
        code_lines: set[int] = set()
        for unit in parsed.units:
            self.module_statements.extend(unit.tree.body)
            _scan_tokens(unit, code_lines, self.comments, self.shapes)
            self._traverse(unit.tree)
        # Functions were found parents first; fold each one's reads into its parent's.
        for function in reversed(self.functions):
            function.parent.loads |= function.scope.loads
        self.functions.sort(key=lambda f: (f.node.lineno, f.node.col_offset))
        self.by_node = {function.node: function for function in self.functions}
        self._drop_docstring_lines(code_lines)
        self.code_lines = sorted(code_lines)
        for function in self.functions:
            node = function.node
            function.length = self.count_code_lines(node.lineno, node.end_lineno) - sum(
                self.count_code_lines(child.lineno, child.end_lineno) for child in function.scope.nested)

    def count_code_lines(self, first: int, last: int) -> int:
        """Lines of code (not blank, comment or docstring) in [first, last]."""
        return bisect.bisect_right(self.code_lines, last) - bisect.bisect_left(self.code_lines, first)

    def _traverse(self, tree: ast.Module) -> None:
        # Statements go through this loop, expressions through _scan_expressions.
        # Each entry: statement, its scope, qualified-name prefix, whether it
        # is a module-level statement, whether assignments bind names here.
        stack = [(stmt, self.module, "", True, True) for stmt in reversed(tree.body)]
        while stack:
            node, scope, prefix, module_level, binds = stack.pop()
            kind = type(node)
            if kind in _FUNCTION_TYPES:
                inner = self._enter_function(node, scope, prefix, module_level, binds)
                stack.extend((stmt, inner, f"{prefix}{node.name}.", False, True) for stmt in reversed(node.body))
                continue
            if kind is ast.ClassDef:
                self.classes.append(node)
                self._define(node, scope, module_level, binds, "class")
                self._scan_expressions(node.decorator_list + node.bases + node.keywords, scope, binds)
                # A class body binds attributes, not variables of the enclosing scope.
                stack.extend((stmt, scope, f"{prefix}{node.name}.", False, False)
                             for stmt in reversed(node.body))
                continue
            if kind is ast.Return and node.value is not None:
                scope.returns_value |= not (isinstance(node.value, ast.Constant) and node.value.value is None)
            elif kind is ast.Global or kind is ast.Nonlocal:
                scope.declared.update(node.names)
            elif module_level and (kind is ast.Import or kind is ast.ImportFrom):
                self._record_imports(node)
            if binds:
                scope.bindings.extend(_bindings_of(node))
            statements, expressions = _split_children(node)
            self._scan_expressions(expressions, scope, binds)
            stack.extend((stmt, scope, prefix, module_level, binds) for stmt in reversed(statements))

    def _scan_expressions(self, roots: list, scope: _Scope, binds: bool) -> None:
        """Record the reads, attribute names, yields and walrus bindings of
        expression subtrees (which never contain statements)."""
        stack = [root for root in roots if root is not None]
        loads, attributes = scope.loads, self.attributes
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Name:
                if type(node.ctx) is not ast.Store:
                    loads.add(node.id)
                continue
            if kind is ast.Attribute:
                attributes.add(node.attr)
            elif kind is ast.Yield or kind is ast.YieldFrom:
                scope.returns_value = True
            elif kind is ast.NamedExpr and binds:
                scope.bindings.extend(_bindings_of(node))
            stack.extend(_children(node))

    def _enter_function(self, node: ast.AST, scope: _Scope, prefix: str, module_level: bool,
                        binds: bool) -> _Scope:
        """Record a function definition; return the scope of its body."""
        function = _Function(node, prefix + node.name, module_level, scope)
        self.functions.append(function)
        scope.nested.append(node)
        self._define(node, scope, module_level, binds, "function")
        function.scope.bindings.extend(("parameter", p.arg, p.lineno) for p in _parameters(node))
        # Decorators and defaults are evaluated in the enclosing scope.
        self._scan_expressions(node.decorator_list + node.args.defaults + node.args.kw_defaults, scope, binds)
        return function.scope

    def _record_imports(self, node: ast.Import | ast.ImportFrom) -> None:
        """Remember which names module-level imports bind, and whether each is a module."""
        for alias in node.names:
            if alias.name != "*":
                # `import numpy.linalg` binds `numpy`, not `numpy.linalg`.
                bound = alias.asname or alias.name.split(".")[0]
                self.imports[bound] = (node.lineno, isinstance(node, ast.Import))

    def _define(self, node: ast.AST, scope: _Scope, module_level: bool, binds: bool, kind: str) -> None:
        """Bind a function or class name in its scope, and at module level remember it."""
        if binds:
            scope.bindings.append((kind, node.name, node.lineno))
        if module_level:
            self.top_defs[node.name] = node

    def _drop_docstring_lines(self, code_lines: set[int]) -> None:
        owners = [unit.tree for unit in self.units] + [f.node for f in self.functions] + self.classes
        for owner in owners:
            first = owner.body[0] if owner.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                keep = getattr(owner, "lineno", 0)  # a one-line `def f(): "doc"` keeps its def line
                code_lines.difference_update(n for n in range(first.lineno, first.end_lineno + 1) if n != keep)


def _scan_tokens(unit: _Unit, code_lines: set[int], comments: list[_Comment],
                 shapes: dict[int, list[str]]) -> None:
    """Record which lines hold code, where the comments are, and each line's
    token shape: variable names and literals blanked out, so that copy-pasted
    code with renamed variables or changed constants still looks the same."""
    offset = unit.offset
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(unit.text, newline=None).readline):
            kind, text = token.type, token.string
            if kind == tokenize.COMMENT:
                line = token.start[0] + offset
                comments.append(_Comment(line, text, line in code_lines))
            elif kind not in _LAYOUT_TOKENS:
                first = token.start[0] + offset
                code_lines.update(range(first, token.end[0] + offset + 1))
                shapes.setdefault(first, []).append(_token_shape(kind, text, previous))
                previous = text
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # keep what was scanned; the text parsed, so this is an edge case


def _token_shape(kind: int, text: str, previous: str) -> str:
    """A token as copy-paste detection sees it: variables become "n" and
    literals "c"; keywords, operators and attribute names (after a ".") stay,
    since `np.sum` and `np.mean` are different steps."""
    if kind == tokenize.NAME and previous != "." and not keyword.iskeyword(text):
        return "n"
    if kind in (tokenize.NUMBER, tokenize.STRING):
        return "c"
    return text


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes, leaving out the Load/Store markers (cheaper than
    `ast.iter_child_nodes`, which matters on 10,000-line files)."""
    children = []
    for name in node._fields:
        if name == "ctx":
            continue
        value = getattr(node, name, None)
        if isinstance(value, list):
            children.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def _split_children(stmt: ast.stmt) -> tuple[list[ast.stmt], list[ast.AST]]:
    """A statement's nested statements (including those of `except` and
    `case` clauses) and its other, expression-like children."""
    statements: list[ast.stmt] = []
    expressions: list[ast.AST] = []
    for name in stmt._fields:
        value = getattr(stmt, name, None)
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, ast.stmt):
                statements.append(item)
            elif isinstance(item, (ast.excepthandler, ast.match_case)):
                statements.extend(item.body)
                expressions.extend(getattr(item, field) for field in ("type", "pattern", "guard")
                                   if getattr(item, field, None) is not None)
            elif isinstance(item, ast.AST):
                expressions.append(item)
    return statements, expressions


def _bindings_of(node: ast.AST) -> list[tuple[str, str, int]]:
    """(kind, name, line) for each plain name a statement or expression binds."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [("variable" if isinstance(target, ast.Name) else "unpacked", name.id, name.lineno)
                for target in targets for name in _target_names(target)]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [("loop", name.id, name.lineno) for name in _target_names(node.target)]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [("with", name.id, name.lineno) for item in node.items if item.optional_vars
                for name in _target_names(item.optional_vars)]
    return []


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


def _child_bodies(stmt: ast.AST) -> list[list[ast.stmt]]:
    """The statement lists directly inside a compound statement."""
    bodies = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
              if isinstance(getattr(stmt, name, None), list)]
    bodies += [handler.body for handler in getattr(stmt, "handlers", ())]
    bodies += [case.body for case in getattr(stmt, "cases", ())]
    return [body for body in bodies if body and isinstance(body[0], ast.stmt)]


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
            evidence.append((0, f"`{_short(group[0])}` {_why_missing(facts, group)}, so it earns no docstring credit"))
            required_scores.append(0.0)
            continue
        if _is_stub(node):
            # The docstring of an unimplemented function is the starter file's, not the student's.
            evidence.append((node.lineno, f"line {node.lineno}: `{_short(node.name)}` is not implemented yet, "
                                          f"so it earns no docstring credit"))
            required_scores.append(0.0)
            continue
        score, problems = _docstring_quality(facts, node, node.name)
        required_scores.append(score)
        evidence.extend((node.lineno, p) for p in problems)
    # Private helpers and pytest tests (whose name is their documentation) are not asked for one.
    helpers = [f for f in facts.functions if f.top_level and f.node.name not in required_names
               and not f.node.name.startswith(("_", "test"))]
    helper_scores = []
    for helper in helpers:
        score, problems = _docstring_quality(facts, helper.node, helper.name, helper=True)
        helper_scores.append(score)
        evidence.extend((helper.node.lineno, p) for p in problems)
    if not required_scores:
        scores = helper_scores or [0.0]
        return sum(scores) / len(scores), evidence
    fraction = sum(required_scores) / len(required_scores)
    if helper_scores:
        fraction = 0.8 * fraction + 0.2 * sum(helper_scores) / len(helper_scores)
    return fraction, evidence


def _implemented_share(facts: _Facts, required: list[tuple[str, ...]]) -> float:
    """The share of required functions that exist and are more than a starter stub."""
    if not required:
        return 1.0
    nodes = [_find_required(facts, group) for group in required]
    return sum(1 for node in nodes if node is not None and not _is_stub(node)) / len(required)


def _is_stub(node: ast.AST) -> bool:
    """True for a function whose body, past its docstring, only passes,
    raises NotImplementedError or returns None: a starter's placeholder."""
    if not isinstance(node, _FUNCTION_TYPES):
        return False
    for stmt in node.body:
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if isinstance(stmt, ast.Return) and (stmt.value is None or (
                isinstance(stmt.value, ast.Constant) and stmt.value.value is None)):
            continue
        raised = stmt.exc.func if isinstance(stmt, ast.Raise) and isinstance(stmt.exc, ast.Call) else \
            getattr(stmt, "exc", None)
        if isinstance(stmt, ast.Raise) and isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
            continue
        return False
    return True


def _why_missing(facts: _Facts, group: tuple[str, ...]) -> str:
    """'is not defined', or 'could not be parsed' when its definition is in a
    part of the file with a syntax error."""
    return "could not be parsed" if facts.unparsed_defs & set(group) else "is not defined"


def _find_required(facts: _Facts, group: tuple[str, ...]) -> ast.AST | None:
    """The module-level definition of a required name (or one of its aliases)."""
    for name in group:
        if name in facts.top_defs:
            return facts.top_defs[name]
    return None


def _docstring_quality(facts: _Facts, node: ast.AST, name: str,
                       helper: bool = False) -> tuple[float, list[str]]:
    """Score one docstring: present (half), names the arguments (a quarter),
    says what comes back (a quarter). Helpers and classes only need one that
    says something: small helpers are often fully described by one phrase."""
    line = node.lineno
    what = f"helper `{_short(name)}`" if helper else f"`{_short(name)}`"
    doc = ast.get_docstring(node) or ""
    if not doc.strip():
        return 0.0, [f"line {line}: {what} has no docstring"]
    if len(re.findall(r"\w+", doc)) < 4:
        return 0.25, [f"line {line}: the docstring of {what} is too short to say what it does"]
    if helper or isinstance(node, ast.ClassDef):
        return 1.0, []
    problems = []
    params = [p.arg for p in _parameters(node) if p.arg not in ("self", "cls")]
    # Case-insensitive: "a_prev: activations..." documents `A_prev` well enough.
    missing = [p for p in params if not re.search(rf"(?i)(?<!\w){re.escape(p)}(?!\w)", doc)]
    score = 0.5 + 0.25 * (1 - len(missing) / len(params) if params else 1.0)
    if missing:
        listed = ", ".join(f"`{_short(p, 30)}`" for p in missing[:6]) + (", ..." if len(missing) > 6 else "")
        problems.append(f"line {line}: the docstring of {what} does not say what {listed} "
                        f"{'is' if len(missing) == 1 else 'are'}")
    if facts.by_node[node].scope.returns_value and not _RETURN_WORDS.search(doc):
        problems.append(f"line {line}: the docstring of {what} does not say what it returns")
    else:
        score += 0.25
    return score, problems


# --------------------------------------------------------------- comments

def _score_comments(facts: _Facts) -> tuple[float, list]:
    """Density and spread of meaningful comments; commented-out code costs."""
    evidence: list[tuple[int, str]] = []
    kinds = [(c, _comment_kind(c)) for c in facts.comments]
    meaningful = sorted(c.line for c, kind in kinds if kind == "comment")
    # Nested functions lie inside their parent's range; count their lines once.
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
    # A commented-out block header ("for l in range(L):") only parses with a body.
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
    missing = [group for group in required if _find_required(facts, group) is None]
    for group in missing:
        why = _why_missing(facts, group)
        evidence.append((0, f"`{_short(group[0])}` {why}" + (" as a separate top-level function"
                                                               if why == "is not defined" else "")))
    stubs = [node for node in map(lambda group: _find_required(facts, group), required)
             if node is not None and _is_stub(node)]
    evidence.extend((node.lineno, f"line {node.lineno}: `{_short(node.name)}` is not implemented yet")
                    for node in stubs)
    present = 1 - (len(missing) + len(stubs)) / len(required) if required else 1.0

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

    repeats = _repeated_blocks(facts)
    for (name_a, a_first, a_last), (name_b, b_first, b_last) in repeats:
        if name_a == name_b:
            evidence.append((a_first, f"lines {a_first}-{max(a_last, b_last)} of `{_short(name_a)}` repeat "
                                      f"the same steps: use a loop or a helper"))
        else:
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


def _repeated_blocks(facts: _Facts) -> list[tuple[tuple, tuple]]:
    """Runs of REPEAT_WINDOW statements that appear twice, normalised so that
    renamed variables and changed constants still count as the same code.
    Returns ((function, first, last), (function, first, last)) pairs."""
    first_seen: dict[tuple, tuple[str, int, int]] = {}
    pairs: dict[tuple, list[int]] = {}
    windows = ((key, (function.name, first, last))
               for function in facts.functions
               for body in _own_statement_lists(function.node)
               for key, first, last in _windows(body, facts.shapes))
    for key, here in windows:
        seen = first_seen.setdefault(key, here)
        overlaps = seen[0] == here[0] and here[1] <= seen[2] and seen[1] <= here[2]
        if seen is here or overlaps:
            continue
        # Grow one line range per side, so a long copy is reported once.
        span = pairs.setdefault((seen[0], here[0]), [seen[1], seen[2], here[1], here[2]])
        span[:] = [min(span[0], seen[1]), max(span[1], seen[2]), min(span[2], here[1]), max(span[3], here[2])]
    return sorted(((a, s[0], s[1]), (b, s[2], s[3])) for (a, b), s in pairs.items())


def _windows(body: list[ast.stmt], shapes: dict[int, list[str]]) -> list[tuple[tuple, int, int]]:
    """(shape, first line, last line) of each run of REPEAT_WINDOW statements
    in one statement list that holds enough code to be worth reporting."""
    # Docstrings are not steps; two functions may well start alike.
    body = [stmt for stmt in body if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
    prints = [_fingerprint(stmt, shapes) for stmt in body]
    found = []
    for start in range(len(body) - REPEAT_WINDOW + 1):
        window = prints[start:start + REPEAT_WINDOW]
        if sum(size for _, size in window) >= REPEAT_MIN_TOKENS:
            found.append((tuple(shape for shape, _ in window),
                          body[start].lineno, body[start + REPEAT_WINDOW - 1].end_lineno))
    return found


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


def _fingerprint(stmt: ast.stmt, shapes: dict[int, list[str]]) -> tuple[str, int]:
    """A statement's token shape (its header only, for a compound statement)
    and how many tokens that is."""
    body = getattr(stmt, "body", None)
    compound = isinstance(body, list) and body and isinstance(body[0], ast.stmt)
    last = max(stmt.lineno, body[0].lineno - 1) if compound else stmt.end_lineno
    tokens = [token for line in range(stmt.lineno, last + 1) for token in shapes.get(line, ())]
    suffix = f" |{len(body)}" if compound else ""
    return " ".join(tokens) + suffix, len(tokens)


def _unused_helpers(facts: _Facts, required_names: set[str]) -> list[ast.AST]:
    """Module-level functions that nothing in the file refers to."""
    referenced = facts.module.loads | facts.attributes
    # `main` and pytest's `test_*` functions are called from outside the file.
    return [f.node for f in facts.functions
            if f.top_level and f.node.name not in required_names and f.node.name != "main"
            and not f.node.name.startswith("test") and f.node.name not in referenced]


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
        for name, line in _unused_locals(function.scope):
            flag("unused", line, f"`{_short(name)}` is assigned but never used")
        _check_bindings(function.scope.bindings, facts, required_names, flag, in_function=True)
    _check_bindings(facts.module.bindings, facts, required_names, flag, in_function=False)
    # One-letter names are a matter of taste next to the chapter's notation, so they cost less.
    fraction = 1 - 0.3 * counts["unused"] - 0.3 * counts["shadow"] - min(0.3, 0.1 * counts["letter"])
    return fraction, evidence


def _unused_locals(scope: _Scope) -> list[tuple[str, int]]:
    """Local variables a function assigns and never reads (nested functions
    reading them count as reads). Unpacking and loop targets are exempt:
    the API often returns more than a caller needs."""
    if scope.loads & {"locals", "vars", "eval", "exec"}:
        return []
    exempt = scope.loads | scope.declared
    unused: dict[str, int] = {}
    for kind, name, line in scope.bindings:
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
            block = {ast.AsyncFor: "for", ast.AsyncWith: "with"}.get(type(stmt), type(stmt).__name__.lower())
            evidence.append((stmt.lineno, f"line {stmt.lineno}: top-level `{block}` block runs when "
                                          f"the file is imported: {fix}"))
            continue
        call = _first_unsafe_call(stmt)
        if call is not None:
            evidence.append((stmt.lineno, f"line {stmt.lineno}: top-level call `{_snippet(facts.lines, call)}` "
                                          f"runs when the file is imported: {fix}"))
    return 1 - 0.3 * len(evidence), evidence


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
        queue.extend(_children(node))
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


def _zero_estimate(max_points: float, reasons: list[str]) -> QualityEstimate:
    """No credit on any criterion, for the same stated reasons."""
    scale = max_points / sum(WEIGHTS.values())
    criteria = [Criterion(name, 0.0, weight * scale, list(reasons)) for name, weight in WEIGHTS.items()]
    return QualityEstimate(0.0, max_points, criteria)

"""The five criteria of the quality estimate. Each `score_*` function takes
the file's `Facts` and returns the fraction of its points earned (before
clamping to [0, 1]) and its evidence as (line, text) pairs; line 0 is for
evidence about the file as a whole.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections import deque
from dataclasses import dataclass

from grader.scoring.quality.facts import (FUNCTION_TYPES, Comment, Facts, Function, Scope, children, is_stub,
                                          parameters)
from grader.scoring.quality.parsing import PARSE_ERRORS
from grader.source.loadplan import is_main_test

MAX_FUNCTION_LINES = 40
MAX_NESTING = 3
COMMENT_EVERY = 10          # lines of function code per meaningful comment for full credit
COMMENTED_FUNCTION_LINES = 10  # functions at least this long need a comment of their own
REPEAT_WINDOW = 3           # consecutive statements that make a "repeated block"
REPEAT_MIN_TOKENS = 30      # ...and enough code in them that the repeat is not trivial
# The chapter's notation: data, layer quantities, sizes, indices and the
# worked examples' scalars (x, y, z, w, b; a for an activation).
MATH_NAMES = frozenset("X Y Z W A b m L l i j k n x y z a w _".split())

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

# Top-level statements that only bind or declare names.
_DECLARATIONS = (ast.Import, ast.ImportFrom, ast.Pass, ast.Global, ast.Nonlocal, ast.ClassDef) + FUNCTION_TYPES
_BLOCK_TYPES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                ast.Try, ast.TryStar, ast.Match)
# A summary that starts "The ..." or "A ..." names the value the function gives.
_RETURN_WORDS = re.compile(r"(?i)\b(returns?|returned|returning|yields?|gives?|outputs?)\b|->|→|^(the|an?)\b")
_PRAGMA = re.compile(r"(?i)^(noqa|type:|pylint:|pragma|fmt:|mypy:|isort:|nosec|-\*-|!)")
_TASK_ONLY = re.compile(r"(?i)^(todo|fixme|xxx|hack)\b[\W_]*$")
_CODE_HINT = re.compile(r"[=(\[:]|^(return|import|from|pass|break|continue|raise|del|assert|yield)\b")
_CODE_KEYWORD_LINE = re.compile(r"^((else|try|finally)\s*:|(elif|except)\b.*:)\s*$")


# ------------------------------------------------------ required functions

@dataclass
class Required:
    """One required function as the file has it: the name with its aliases,
    its module-level definition (None when there is none), and whether that
    definition is still a starter stub."""

    group: tuple[str, ...]
    node: ast.AST | None
    stub: bool

    @property
    def implemented(self) -> bool:
        """Defined, and more than a starter stub."""
        return self.node is not None and not self.stub


def find_required(facts: Facts, groups: list[tuple[str, ...]]) -> list[Required]:
    """Look each required name (or one of its aliases) up among the module-level definitions."""
    required = []
    for group in groups:
        node = next((facts.top_defs[name] for name in group if name in facts.top_defs), None)
        required.append(Required(group, node, node is not None and is_stub(node)))
    return required


def implemented_share(required: list[Required]) -> float:
    """The share of required functions that are implemented (1.0 when none are required)."""
    return sum(item.implemented for item in required) / len(required) if required else 1.0


def _required_names(required: list[Required]) -> set[str]:
    """Every name and alias of the required functions."""
    return {name for item in required for name in item.group}


def _why_missing(facts: Facts, group: tuple[str, ...]) -> str:
    """'is not defined', or 'could not be parsed' when its definition is in a
    part of the file with a syntax error."""
    return "could not be parsed" if facts.unparsed_defs & set(group) else "is not defined"


# ------------------------------------------------------------- docstrings

def score_docstrings(facts: Facts, required: list[Required]) -> tuple[float, list]:
    """Docstrings of the required functions and, with less weight, of helpers."""
    evidence: list[tuple[int, str]] = []
    required_scores = []
    for item in required:
        node = item.node
        if node is None:
            evidence.append((0, f"`{_short(item.group[0])}` {_why_missing(facts, item.group)}, "
                                "so it earns no docstring credit"))
            required_scores.append(0.0)
        elif item.stub:
            # The docstring of an unimplemented function is the starter file's, not the student's.
            evidence.append((node.lineno, f"line {node.lineno}: `{_short(node.name)}` is not implemented yet, "
                                          f"so it earns no docstring credit"))
            required_scores.append(0.0)
        else:
            score, problems = _docstring_quality(facts, node, node.name)
            required_scores.append(score)
            evidence.extend((node.lineno, p) for p in problems)
    # Private helpers and pytest tests (whose name is their documentation) are not asked for one.
    required_names = _required_names(required)
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


def _docstring_quality(facts: Facts, node: ast.AST, name: str,
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
    params = [p.arg for p in parameters(node) if p.arg not in ("self", "cls")]
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

def score_comments(facts: Facts) -> tuple[float, list]:
    """Density and spread of meaningful comments; commented-out code costs."""
    evidence: list[tuple[int, str]] = []
    kinds = [(c, _comment_kind(c)) for c in facts.comments if not facts.in_stub(c.line)]
    meaningful = sorted(c.line for c, kind in kinds if kind == "comment")
    # Nested functions lie inside their parent's range; count their lines once.
    outermost = _outermost_ranges(facts.functions)
    body_lines = sum(facts.count_code_lines(first, last) for first, last in outermost)
    in_bodies = sum(bisect.bisect_right(meaningful, last) - bisect.bisect_left(meaningful, first)
                    for first, last in outermost)
    density = min(1.0, in_bodies * COMMENT_EVERY / body_lines) if body_lines else 0.0
    if not body_lines:
        evidence.append((0, "no implemented function holds code, so there is nothing to comment yet"))
    elif density < 1.0:
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


def _outermost_ranges(functions: list[Function]) -> list[tuple[int, int]]:
    """Line ranges of functions not nested in another function."""
    ranges: list[tuple[int, int]] = []
    for function in functions:  # sorted by first line
        first, last = function.node.lineno, function.node.end_lineno
        if ranges and first <= ranges[-1][1]:
            continue
        ranges.append((first, last))
    return ranges


def _comment_kind(comment: Comment) -> str:
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
        except PARSE_ERRORS:
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


def _commented_code_blocks(comments: list[Comment]) -> list[tuple[int, int, str]]:
    """Group commented-out code lines on consecutive lines into blocks."""
    blocks: list[tuple[int, int, str]] = []
    for comment in sorted(comments, key=lambda c: c.line):
        if blocks and comment.line == blocks[-1][1] + 1:
            blocks[-1] = (blocks[-1][0], comment.line, blocks[-1][2])
        else:
            blocks.append((comment.line, comment.line, comment.text.strip()))
    return blocks


# ------------------------------------------------------------- modularity

def score_modularity(facts: Facts, required: list[Required]) -> tuple[float, list]:
    """Required functions present, short, shallow, not copy-pasted; helpers used."""
    evidence: list[tuple[int, str]] = []
    for item in required:
        if item.node is None:
            why = _why_missing(facts, item.group)
            evidence.append((0, f"`{_short(item.group[0])}` {why}" + (" as a separate top-level function"
                                                                        if why == "is not defined" else "")))
        elif item.stub:
            line = item.node.lineno
            evidence.append((line, f"line {line}: `{_short(item.node.name)}` is not implemented yet"))
    present = implemented_share(required)

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

    unused = _unused_helpers(facts, _required_names(required))
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
        if isinstance(stmt, FUNCTION_TYPES + (ast.ClassDef,)):
            continue
        if isinstance(stmt, _BLOCK_TYPES):
            depth += 1
            if depth > deepest:
                deepest, where = depth, stmt.lineno
        if isinstance(stmt, ast.If) and len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
            stack.append((stmt.orelse[0], depth - 1))
            stack.extend((child, depth) for child in stmt.body)
            continue
        for body in child_bodies(stmt):
            stack.extend((child, depth) for child in body)
    return deepest, where


def _repeated_blocks(facts: Facts) -> list[tuple[tuple, tuple]]:
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
            if not isinstance(stmt, FUNCTION_TYPES + (ast.ClassDef,)):
                stack.extend(child_bodies(stmt))
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


def _unused_helpers(facts: Facts, required_names: set[str]) -> list[ast.AST]:
    """Module-level functions that nothing in the file refers to."""
    referenced = facts.module.loads | facts.attributes
    # `main` and pytest's `test_*` functions are called from outside the file.
    return [f.node for f in facts.functions
            if f.top_level and f.node.name not in required_names and f.node.name != "main"
            and not f.node.name.startswith("test") and f.node.name not in referenced]


# ------------------------------------------------------------------ names

def score_names(facts: Facts, required: list[Required]) -> tuple[float, list]:
    """Unused locals, shadowed built-ins and imports, cryptic one-letter names."""
    evidence: list[tuple[int, str]] = []
    counts = {"unused": 0, "shadow": 0, "letter": 0}
    required_names = _required_names(required)

    def flag(kind: str, line: int, text: str) -> None:
        counts[kind] += 1
        evidence.append((line, f"line {line}: {text}"))

    for function in facts.functions:
        for name, line in _unused_locals(function.scope):
            flag("unused", line, f"`{_short(name)}` is assigned but never used")
        _check_bindings(function.scope.bindings, facts, required_names, flag, in_function=True)
    stub_names = {(f.node.name, f.node.lineno) for f in facts.stubs}
    module_bindings = [b for b in facts.module.bindings if b[0] != "function" or (b[1], b[2]) not in stub_names]
    _check_bindings(module_bindings, facts, required_names, flag, in_function=False)
    # One-letter names are a matter of taste next to the chapter's notation, so they cost less.
    fraction = 1 - 0.3 * counts["unused"] - 0.3 * counts["shadow"] - min(0.3, 0.1 * counts["letter"])
    return fraction, evidence


def _unused_locals(scope: Scope) -> list[tuple[str, int]]:
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


def _check_bindings(bindings, facts: Facts, required_names: set[str], flag, in_function: bool) -> None:
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

def score_top_level(facts: Facts) -> tuple[float, list]:
    """Code that runs when the file is imported, other than definitions."""
    evidence: list[tuple[int, str]] = []
    fix = 'move it into a function or under `if __name__ == "__main__":`'
    stack = list(reversed(facts.module_statements))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, _DECLARATIONS) or (isinstance(stmt, ast.If) and is_main_test(stmt.test)):
            continue
        if isinstance(stmt, (ast.If, ast.Try, ast.TryStar)):
            for body in reversed(child_bodies(stmt)):
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
        queue.extend(children(node))
    return None

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


def child_bodies(stmt: ast.AST) -> list[list[ast.stmt]]:
    """The statement lists directly inside a compound statement."""
    bodies = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
              if isinstance(getattr(stmt, name, None), list)]
    bodies += [handler.body for handler in getattr(stmt, "handlers", ())]
    bodies += [case.body for case in getattr(stmt, "cases", ())]
    return [body for body in bodies if body and isinstance(body[0], ast.stmt)]

"""Which top-level statements of a submission the sandboxed worker runs at load.

The grader calls the student's functions itself, so loading a submission only
needs its definitions. The worker runs the submission one top-level statement
at a time (one bad line does not cost the rest), and only the statements this
plan marks "run"; each skipped statement carries the reason the student reads.

Load policy
-----------
Run:

- ``import`` and ``from ... import``;
- ``def``, ``async def`` and ``class`` statements, with their decorators (a
  class body runs as written);
- ``global``, ``pass``, and constant expressions such as docstrings and ``...``;
- assignments (``=``, annotated, augmented) and expression statements whose
  every part is simple: literals, names, attributes, subscripts and slices,
  tuples, lists, sets and dicts, comprehensions, arithmetic, comparison and
  boolean operators, conditional expressions, ``lambda`` (its body only runs
  when called), f-strings, ``:=``, and calls to the cheap functions listed in
  ``BUILTIN_CALLS``, ``LIBRARY_CALLS`` and ``MODULE_CALLS`` (``np.zeros``,
  ``np.random.seed``, ``dict``, ``math.sqrt``, ``matplotlib.use``, ...);
- ``if``, ``try`` and ``with`` statements whose conditions, context managers
  and exception types are simple and whose every inner statement is runnable
  by these rules, e.g. ``try: import torch`` / ``except ImportError: torch = None``.

Skip, with a reason:

- ``if __name__ == "__main__":`` blocks;
- expression statements that call anything else (``print(...)``,
  ``plt.show()``, ``train(X, Y)``, ``get_ipython().run_line_magic(...)``), and
  other bare expressions (a notebook's display of ``X.shape``);
- assignments whose value calls anything else (``params = train(X, Y)``,
  ``X, Y = make_moons(...)``);
- ``for`` and ``while`` loops, ``del``, ``assert``, ``raise``, ``return``,
  ``break``, ``continue``, ``nonlocal``, ``match`` and every other statement;
- (but an assignment whose name a function of the submission reads, and whose
  value calls nothing the submission defines, runs: ``_KEY = re.compile(...)``
  is a constant the functions need; ``params = train(X, Y)`` stays skipped);
- assignments and expressions that use a name set only by skipped statements
  (``W1 = params["W1"]`` after ``params = train(X, Y)`` was skipped), which
  could only fail with a NameError;
- code that does not parse: the rest of the file is still planned. The source
  is read piece by piece by grader.source.pyparse.parse_pieces (the same
  reading as the code-quality estimate's); a piece that does not parse is
  skipped with Python's SyntaxError message.

How a call is matched: by the dotted path it is written with. An entry with
one component (``zeros``) matches the last component, so it covers
``np.zeros``, ``numpy.zeros`` and a from-imported ``zeros``; an entry with two
(``random.seed``) matches the last two, covering ``np.random.seed`` and
``random.seed``. A module entry (``math``) matches any of its functions.
Builtins (``len``, ``range``, ``dict``, ...) only match when called by their
bare name. A method call such as ``np.array(x).reshape(2, 1)`` is simple when
its receiver is. A student function that reuses an allowed name runs under
the worker's load time limit like any other code.

Names an assignment must provide as module-level values (the quiz's answers)
can be passed as ``required_names``: the statements that bind them run even
when the policy would skip them, and so do the earlier statements they need,
except ``__main__`` blocks and code that does not parse.

Each run statement compiles on its own with the student's line numbers:
``compile("\\n" * (lineno - 1) + statement.source, filename, "exec")``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Sequence

from grader.source.pyparse import Parsed, bound_names, parse_pieces

RUN = "run"
SKIP = "skip"

# Builtins match only when called by their bare name: `obj.len()` is not `len`.
BUILTIN_CALLS = frozenset({
    "abs", "bool", "complex", "dict", "divmod", "enumerate", "float", "frozenset", "int", "isinstance",
    "len", "list", "max", "min", "object", "pow", "range", "repr", "reversed", "round", "set", "slice",
    "sorted", "str", "sum", "tuple", "zip",
})

# Matched against the last component(s) of the callee's dotted path.
LIBRARY_CALLS = frozenset({
    # numpy constructors, dtypes and cheap settings
    "array", "asarray", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
    "full_like", "arange", "linspace", "logspace", "eye", "identity", "diag", "float64", "float32",
    "float16", "int64", "int32", "int8", "uint8", "bool_", "dtype", "seterr", "set_printoptions", "errstate",
    "sqrt", "exp", "log", "log1p", "expm1", "tanh", "maximum", "minimum", "isclose", "allclose",
    "random.seed", "random.default_rng", "random.RandomState", "random.randn", "random.rand",
    "random.randint", "random.normal", "random.uniform", "random.standard_normal",
    # array and dict methods that copy or reshape
    "reshape", "astype", "copy", "ravel", "flatten", "transpose", "squeeze", "tolist", "item",
    "keys", "values", "items", "format",
    # standard library helpers
    "namedtuple", "collections.OrderedDict", "collections.defaultdict", "OrderedDict", "defaultdict",
    "TypeVar", "NewType", "NamedTuple", "TypedDict", "typing.cast", "dataclasses.field", "field",
    "functools.partial", "partial",
    "matplotlib.use", "warnings.filterwarnings", "warnings.simplefilter", "warnings.catch_warnings",
})

# Any function of these modules, e.g. math.sqrt or math.exp.
MODULE_CALLS = frozenset({"math"})

_LIBRARY_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
for _entry in LIBRARY_CALLS:
    _parts = tuple(_entry.split("."))
    _LIBRARY_BY_LAST.setdefault(_parts[-1], []).append(_parts)

_SIMPLE_NODES = (
    ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set,
    ast.Dict, ast.Starred, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue,
    ast.NamedExpr, ast.keyword, ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_ALWAYS_RUN = (ast.Import, ast.ImportFrom, ast.Global, ast.Pass) + _DEFINITIONS



@dataclass
class Statement:
    """One top-level statement of a submission and whether the worker runs it.

    `index` is the statement's position in the plan (0-based); `lineno` and
    `end_lineno` are 1-based lines of the planned source; `source` is the
    statement's exact text (from its first character, decorators included,
    to its last, trailing comment excluded); `action` is "run" or "skip";
    `reason` says why a statement is skipped and is empty when it runs.
    """

    index: int
    lineno: int
    end_lineno: int
    source: str
    action: str
    reason: str = ""


def plan_load(source: str, filename: str = "submission.py", *,
              required_names: Iterable[str] = (), parsed: Parsed | None = None) -> list[Statement]:
    """Plan which top-level statements of `source` the worker runs at load.

    Never raises on student code: a source that does not parse is planned
    chunk by chunk (see the module docstring). `filename` only names the
    source in messages. `required_names` are module-level names the
    assignment reads as values; the statements that bind them are run.
    `parsed` is ``parse_pieces(source)`` when the caller has it already
    (a grading parses once for the plan and the quality estimate); it is
    only read.
    """
    if parsed is None:
        parsed = parse_pieces(source, filename)
    lines = parsed.lines
    items = [(node, node.lineno, node.end_lineno, "") if piece.parsed else
             (None, piece.first, piece.last, f"{piece.error} (line {piece.error_line})")
             for piece in parsed.pieces for node in (piece.tree.body if piece.parsed else [None])]
    plan = []
    for index, (node, start, end, error) in enumerate(items):
        if node is None:
            plan.append(_Planned(Statement(index, start, end, _text(lines, start, end), SKIP, error), None))
            continue
        lineno = node.decorator_list[0].lineno if isinstance(node, _DEFINITIONS) and node.decorator_list \
            else node.lineno
        col = 0 if lineno != node.lineno else node.col_offset
        text = _segment(lines, lineno, col, node.end_lineno, node.end_col_offset)
        try:
            action, reason = _judge(node, top=True)
        except RecursionError:
            action, reason = SKIP, f"this statement is nested too deeply to be checked (line {lineno})"
        plan.append(_Planned(Statement(index, lineno, node.end_lineno, text, action, reason), node))
    required = set(required_names)
    if required:
        _force_required(plan, required)
    _run_constants_functions_read(plan)
    _skip_dependents(plan)
    return [p.statement for p in plan]


def statements_to_run(plan: Sequence[Statement]) -> list[tuple[int, int, str]]:
    """The plan in the form the sandbox's worker takes: (index, lineno, source) of each run statement."""
    return [(s.index, s.lineno, s.source) for s in plan if s.action == RUN]


# ---------------------------------------------------------------- parsing

@dataclass
class _Planned:
    statement: Statement
    node: ast.stmt | None


def _text(lines: list[str], lineno: int, end_lineno: int) -> str:
    text = "".join(lines[lineno - 1:end_lineno])
    return text[:-1] if text.endswith("\n") else text


def _segment(lines: list[str], lineno: int, col: int, end_lineno: int, end_col: int) -> str:
    """The text between two ast positions (columns are UTF-8 byte offsets)."""
    first, last = lines[lineno - 1], lines[end_lineno - 1]
    if lineno == end_lineno:
        return first[_char_index(first, col):_char_index(first, end_col)]
    middle = "".join(lines[lineno:end_lineno - 1])
    return first[_char_index(first, col):] + middle + last[:_char_index(last, end_col)]


def _char_index(line: str, byte_col: int) -> int:
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


# ---------------------------------------------------------------- policy

def _judge(node: ast.stmt, *, top: bool) -> tuple[str, str]:
    """("run", "") or ("skip", reason) for one statement under the load policy."""
    where = "top-level " if top else ""
    if isinstance(node, _ALWAYS_RUN):
        return RUN, ""
    if isinstance(node, ast.Expr):
        return _judge_expression(node.value, where)
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        parts = node.targets if isinstance(node, ast.Assign) else [node.target]
        parts = [*parts, getattr(node, "annotation", None), node.value]
        for part in parts:
            if part is not None and (bad := _first_unsimple(part)) is not None:
                return SKIP, f"{where}assignment {_offence(bad)}, which is not run when grading " \
                             "(only definitions, imports and simple values are)"
        return RUN, ""
    if isinstance(node, ast.If) and is_main_test(node.test):
        return SKIP, 'the `if __name__ == "__main__":` block only runs when the file is run as a script; ' \
                     "it is not run when grading"
    if isinstance(node, (ast.If, ast.Try, ast.TryStar, ast.With)):
        return _judge_compound(node, where)
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        keyword = "while" if isinstance(node, ast.While) else "for"
        return SKIP, f"{where}`{keyword}` loop is demo code and is not run when grading; " \
                     "put it in a function if you need it"
    keyword = _KEYWORDS.get(type(node), type(node).__name__)
    if isinstance(node, (ast.Return, ast.Break, ast.Continue, ast.Nonlocal)):
        return SKIP, f"`{keyword}` outside a function or loop is not run when grading"
    if isinstance(node, ast.Assert):
        return SKIP, f"{where}`assert` is not run when grading (your own checks do not change your grade)"
    return SKIP, f"{where}`{keyword}` statement is not run when grading"


_KEYWORDS = {
    ast.Delete: "del", ast.Assert: "assert", ast.Raise: "raise", ast.Return: "return", ast.Break: "break",
    ast.Continue: "continue", ast.Nonlocal: "nonlocal", ast.Match: "match", ast.AsyncWith: "async with",
    ast.If: "if", ast.Try: "try", ast.TryStar: "try", ast.With: "with",
}


def _judge_expression(value: ast.expr, where: str) -> tuple[str, str]:
    if isinstance(value, ast.Constant):
        return RUN, ""
    bad = _first_unsimple(value)
    if bad is None:
        if isinstance(value, (ast.Call, ast.NamedExpr)):
            return RUN, ""
        shown = ast.unparse(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return SKIP, f"{where}expression `{shown}` only shows a value in a notebook and is not run when grading"
    if isinstance(bad, ast.Call):
        callee = _callee_text(bad.func)
        if callee.startswith("get_ipython"):
            return SKIP, f"IPython call `{callee}(...)` only works inside Jupyter and is not run when grading"
        return SKIP, f"{where}call `{callee}(...)` is demo code and is not run when grading"
    return SKIP, f"{where}expression {_offence(bad)}, which is not run when grading"


def _judge_compound(node: ast.stmt, where: str) -> tuple[str, str]:
    keyword = _KEYWORDS[type(node)]
    guards: list[ast.AST] = []
    bodies: list[ast.stmt] = []
    if isinstance(node, ast.If):
        guards.append(node.test)
        bodies += node.body + node.orelse
    elif isinstance(node, ast.With):
        for item in node.items:
            guards += [item.context_expr, item.optional_vars]
        bodies += node.body
    else:
        for handler in node.handlers:
            guards.append(handler.type)
            bodies += handler.body
        bodies += node.body + node.orelse + node.finalbody
    for guard in guards:
        if guard is not None and (bad := _first_unsimple(guard)) is not None:
            return SKIP, f"{where}`{keyword}` block {_offence(bad)}, which is not run when grading"
    for inner in sorted(bodies, key=lambda s: s.lineno):
        action, reason = _judge(inner, top=False)
        if action == SKIP:
            return SKIP, f"{where}`{keyword}` block is not run when grading because line {inner.lineno} " \
                         f"inside it is not: {reason}"
    return RUN, ""


def is_main_test(test: ast.expr) -> bool:
    """True for the condition of ``if __name__ == "__main__":`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def _first_unsimple(node: ast.AST) -> ast.AST | None:
    """The first part of an expression that is not simple (see the policy), or None."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            path = _callee_path(current.func)
            if path is None or not _call_allowed(path):
                return current
            stack.extend(reversed([current.func, *current.args, *current.keywords]))
        elif isinstance(current, ast.Lambda):
            # The body runs only when the lambda is called; defaults run now.
            stack.extend(d for d in [*current.args.defaults, *current.args.kw_defaults] if d is not None)
        elif isinstance(current, _SIMPLE_NODES):
            stack.extend(reversed(list(ast.iter_child_nodes(current))))
        else:
            return current
    return None


def _callee_path(func: ast.expr) -> tuple[str, ...] | None:
    """("np", "random", "seed") for np.random.seed; "" stands for a receiver that is not a name."""
    attrs = []
    while isinstance(func, ast.Attribute):
        attrs.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        return (func.id, *reversed(attrs))
    return ("", *reversed(attrs)) if attrs else None


def _call_allowed(path: tuple[str, ...]) -> bool:
    if len(path) == 1 and path[0] in BUILTIN_CALLS:
        return True
    if len(path) == 2 and path[0] == "builtins" and path[1] in BUILTIN_CALLS:
        return True
    if len(path) >= 2 and path[-2] in MODULE_CALLS:
        return True
    return any(path[-len(entry):] == entry for entry in _LIBRARY_BY_LAST.get(path[-1], ()))


def _callee_text(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        text = func.id
    elif isinstance(func, ast.Attribute):
        text = f"{_callee_text(func.value)}.{func.attr}"
    elif isinstance(func, ast.Call):
        text = f"{_callee_text(func.func)}()"
    elif isinstance(func, ast.Subscript):
        text = f"{_callee_text(func.value)}[...]"
    else:
        text = "(...)"
    return text if len(text) <= 60 else "..." + text[-57:]


def _offence(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return f"calls `{_callee_text(node.func)}(...)`"
    keyword = {ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield from"}.get(type(node))
    return f"uses `{keyword}`" if keyword else f"uses {type(node).__name__}"


# ---------------------------------------------------------------- names

def _loaded_names(node: ast.AST, *, lazy: bool) -> set[str]:
    """Module-level names a statement reads: when it runs, or also later from function and lambda bodies."""
    loads: set[str] = set()
    local: set[str] = set()
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        current, inside = stack.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = current.args
            stack.extend((d, inside) for d in [*args.defaults, *args.kw_defaults] if d is not None)
            if not isinstance(current, ast.Lambda):
                stack.extend((d, inside) for d in current.decorator_list)
            if lazy:
                body = current.body if isinstance(current.body, list) else [current.body]
                local.update(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                               args.vararg, args.kwarg] if a is not None)
                stack.extend((b, True) for b in body)
            continue
        if isinstance(current, ast.Name):
            if isinstance(current.ctx, ast.Load):
                loads.add(current.id)
            elif inside:
                local.add(current.id)
        elif isinstance(current, ast.AugAssign) and isinstance(current.target, ast.Name):
            loads.add(current.target.id)
        elif isinstance(current, ast.comprehension):
            local.update(n.id for n in ast.walk(current.target) if isinstance(n, ast.Name))
        stack.extend((child, inside) for child in ast.iter_child_nodes(current))
    return loads - local


def _force_required(plan: list[_Planned], required: set[str]) -> None:
    """Run the statements that bind `required` names, and the earlier statements those need.

    A backward pass follows what each kept statement reads when it runs; what
    function and lambda bodies read is only looked up when they are called,
    so those names are wanted from the end of the file, and the pass repeats
    until no new such name appears.
    """
    at_call_time: set[str] = set()
    while True:
        wanted = required | at_call_time
        found: set[str] = set()
        for planned in reversed(plan):
            node = planned.node
            if node is None or (isinstance(node, ast.If) and is_main_test(node.test)):
                continue
            bound = set(bound_names(node))
            if not bound & wanted:
                continue
            if planned.statement.action == SKIP:
                planned.statement.action, planned.statement.reason = RUN, ""
            if isinstance(node, (ast.Assign, ast.AnnAssign, *_DEFINITIONS, ast.Import, ast.ImportFrom)):
                # These bind unconditionally: earlier bindings of the same names are not needed.
                wanted -= bound
            now = _loaded_names(node, lazy=False)
            wanted |= now
            found |= _loaded_names(node, lazy=True) - now
        if found <= at_call_time:
            return
        at_call_time |= found


def _run_constants_functions_read(plan: list[_Planned]) -> None:
    """Run skipped module-level assignments whose names the submission's functions read.

    ``_WEIGHT_KEY = re.compile(...)`` or ``RNG = make_rng()`` at the top of a
    file is a constant the functions need: skipping it would turn every call
    into a NameError. Such an assignment runs (under the worker's load time
    limit) unless its value calls a function or class the submission defines
    itself, which is how demo code looks (``params = train(X, Y)``).
    """
    defined = set()
    read_by_functions: set[str] = set()
    for planned in plan:
        node = planned.node
        if isinstance(node, _DEFINITIONS) and planned.statement.action == RUN:
            defined |= set(bound_names(node))
            read_by_functions |= _loaded_names(node, lazy=True)
    for planned in plan:
        node, statement = planned.node, planned.statement
        if statement.action != SKIP or not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        if not set(bound_names(node)) & read_by_functions:
            continue
        called = {_callee_text(call.func).split(".")[0] for call in ast.walk(node) if isinstance(call, ast.Call)}
        if called & defined:
            continue
        statement.action, statement.reason = RUN, ""


def _skip_dependents(plan: list[_Planned]) -> None:
    """Skip runnable statements that read a name only skipped statements set."""
    unset: dict[str, int] = {}
    set_by_run: set[str] = set()
    for planned in plan:
        statement, node = planned.statement, planned.node
        if node is None:
            continue
        if statement.action == RUN and unset and not isinstance(node, _ALWAYS_RUN):
            missing = sorted((unset[name], name) for name in _loaded_names(node, lazy=False) if name in unset)
            if missing:
                line, name = missing[0]
                statement.action = SKIP
                statement.reason = f"uses `{name}`, which is only set by code that is not run when grading " \
                                   f"(line {line})"
        bound = set(bound_names(node))
        if statement.action == RUN:
            set_by_run |= bound
            for name in bound:
                unset.pop(name, None)
        else:
            for name in bound - set_by_run:
                unset.setdefault(name, statement.lineno)

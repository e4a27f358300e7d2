"""What the quality criteria need to know about a submission, gathered in
one pass over its parsed units: functions and their scopes (what each binds
and reads), classes, module-level definitions and imports, comments, which
lines hold code, and each line's token shape for copy-paste detection.
"""

from __future__ import annotations

import ast
import bisect
import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field

from grader.scoring.quality.parsing import Parsed, Unit
from grader.source.pyparse import target_names

FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_LAYOUT_TOKENS = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER, tokenize.ENCODING}
_DEF_LINE = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)


@dataclass
class Scope:
    """What one function body (or the module) binds and reads."""

    loads: set[str] = field(default_factory=set)  # names read here or in nested scopes
    bindings: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, name, line)
    declared: set[str] = field(default_factory=set)  # global / nonlocal
    nested: list[ast.AST] = field(default_factory=list)  # functions defined directly inside
    returns_value: bool = False


@dataclass
class Function:
    """A function definition anywhere in the file."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    name: str
    top_level: bool
    parent: Scope
    scope: Scope = field(default_factory=Scope)
    length: int = 0
    stub: bool = False  # its body does nothing (see `is_stub`): no criterion judges it


@dataclass
class Comment:
    """A `#` comment and where it sits."""

    line: int
    text: str
    inline: bool


class Facts:
    """Everything the criteria need, gathered in one pass over the parsed units.

    One explicit-stack traversal: student files may nest deeper than Python's
    recursion limit, and huge files must stay fast.
    """

    def __init__(self, parsed: Parsed) -> None:
        self.lines = parsed.lines
        self.units = parsed.units
        self.functions: list[Function] = []
        self.classes: list[ast.ClassDef] = []
        self.top_defs: dict[str, ast.AST] = {}   # module-level functions and classes
        self.imports: dict[str, tuple[int, bool]] = {}  # name -> (line, is a module)
        self.module = Scope()
        self.attributes: set[str] = set()
        self.module_statements: list[ast.stmt] = []
        self.comments: list[Comment] = []
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
        # A stub is not code the student wrote: every criterion judges only the other functions.
        self.stubs = [function for function in self.functions if function.stub]
        self.functions = [function for function in self.functions if not function.stub]

    def in_stub(self, line: int) -> bool:
        """Whether `line` lies inside a stub function (its comments are not judged either)."""
        return any(f.node.lineno <= line <= f.node.end_lineno for f in self.stubs)

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
            if kind in FUNCTION_TYPES:
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

    def _scan_expressions(self, roots: list, scope: Scope, binds: bool) -> None:
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
            stack.extend(children(node))

    def _enter_function(self, node: ast.AST, scope: Scope, prefix: str, module_level: bool,
                        binds: bool) -> Scope:
        """Record a function definition; return the scope of its body."""
        function = Function(node, prefix + node.name, module_level, scope, stub=is_stub(node))
        self.functions.append(function)
        scope.nested.append(node)
        self._define(node, scope, module_level, binds, "function")
        function.scope.bindings.extend(("parameter", p.arg, p.lineno) for p in parameters(node))
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

    def _define(self, node: ast.AST, scope: Scope, module_level: bool, binds: bool, kind: str) -> None:
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


def _scan_tokens(unit: Unit, code_lines: set[int], comments: list[Comment],
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
                comments.append(Comment(line, text, line in code_lines))
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


def is_stub(node: ast.AST) -> bool:
    """True for a function whose body does nothing: past its docstring it only
    passes, returns a constant (``return``, ``return 0``, ``return None, []``)
    or raises NotImplementedError. A starter's placeholder, or a documented
    stub: no code of the student's to judge."""
    if not isinstance(node, FUNCTION_TYPES):
        return False
    for stmt in node.body:
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if isinstance(stmt, ast.Return) and (stmt.value is None or _is_literal(stmt.value)):
            continue
        if isinstance(stmt, ast.Raise) and _names_not_implemented(stmt.exc):
            continue
        return False
    return True


def _is_literal(node: ast.AST) -> bool:
    """Whether an expression is a constant written out: numbers, strings, None,
    a sign on a number, and tuples, lists, sets and dicts of those."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Constant):
            continue
        if isinstance(item, ast.UnaryOp) and isinstance(item.op, (ast.USub, ast.UAdd)):
            stack.append(item.operand)
        elif isinstance(item, (ast.Tuple, ast.List, ast.Set)):
            stack.extend(item.elts)
        elif isinstance(item, ast.Dict):
            stack.extend(k for k in item.keys if k is not None)
            stack.extend(item.values)
        else:
            return False
    return True


def _names_not_implemented(exc: ast.AST | None) -> bool:
    """``raise NotImplementedError`` or ``raise NotImplementedError(...)``."""
    raised = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def children(node: ast.AST) -> list[ast.AST]:
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
                for target in targets for name in target_names(target)]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [("loop", name.id, name.lineno) for name in target_names(node.target)]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [("with", name.id, name.lineno) for item in node.items if item.optional_vars
                for name in target_names(item.optional_vars)]
    return []


def parameters(node: ast.AST) -> list[ast.arg]:
    """All parameters of a function, in order."""
    args = node.args
    params = args.posonlyargs + args.args + ([args.vararg] if args.vararg else [])
    return params + args.kwonlyargs + ([args.kwarg] if args.kwarg else [])

"""Expression graphs for the research question R2 (`Value`), as plain data, and what a drawn graph can expose.

A *program* is an expression graph the grader builds with the student's Value
inside the sandbox and with the reference Value on the trusted side: leaf
values, then steps ``[kind, a, b, c, text]`` (operand node indices a and b,
a plain number c, the step as the student would write it). `APPLY_SOURCE`
turns a step into an operation, on both sides.

The rest is trusted analysis of a program, without any Value class: each step
is one node whose local derivatives are known, so backward() can be replayed
as the chapter writes it and as typical mistakes would run it (`gradients`):
a step kind that assigns its operands' gradients (``=`` instead of ``+=``),
a backward() without a topological order (every path walked on its own), a
backward() that runs twice. `random_program` draws graphs that expose every
one of those mistakes for every kind they use, whatever the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# One function for both sides: the operation a step stands for. `c` is a plain number; "constant" wraps it
# in a Value (for an engine whose operators take only Values).
APPLY_SOURCE = '''
OPERATIONS = {
    "add": lambda a, b, c: a + b, "sub": lambda a, b, c: a - b,
    "mul": lambda a, b, c: a * b, "div": lambda a, b, c: a / b,
    "add_number": lambda a, b, c: a + c, "sub_number": lambda a, b, c: a - c,
    "mul_number": lambda a, b, c: a * c, "div_number": lambda a, b, c: a / c,
    "number_add": lambda a, b, c: c + a, "number_sub": lambda a, b, c: c - a,
    "number_mul": lambda a, b, c: c * a, "number_div": lambda a, b, c: c / a,
    "pow": lambda a, b, c: a ** c, "neg": lambda a, b, c: -a,
    "exp": lambda a, b, c: a.exp(), "log": lambda a, b, c: a.log(),
}


def apply(kind, a, b, c, Value):
    if kind == "constant":
        return Value(c)
    if kind not in OPERATIONS:
        raise ValueError("unknown operation " + repr(kind))
    return OPERATIONS[kind](a, b, c)
'''

# The kinds a step can be, as the student writes them (a, b are Values, c is a number).
KIND_TEXT = {
    "add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "div": "{a} / {b}",
    "add_number": "{a} + {c}", "sub_number": "{a} - {c}", "mul_number": "{a} * {c}", "div_number": "{a} / {c}",
    "number_add": "{c} + {a}", "number_sub": "{c} - {a}", "number_mul": "{c} * {a}", "number_div": "{c} / {a}",
    "pow": "{a} ** {c}", "neg": "-{a}", "exp": "{a}.exp()", "log": "{a}.log()",
}
OPERATION_KINDS = tuple(KIND_TEXT)
BINARY_KINDS = ("add", "sub", "mul", "div")
UNARY_KINDS = ("neg", "exp", "log")
CONSTANT = "constant"  # a step that makes a fresh Value(c): no operand
CONSTANTS = (0.5, 1.5, 2.0, 3.0, -1.0, -2.5)
POWERS = (2, 3, -1, 0.5)

# A drawn graph keeps every value in this range: a node near 0 (log(1), a - a) zeroes the gradient of
# whatever it multiplies and hides mistakes; a huge one makes the comparison ill-conditioned.
SMALLEST, LARGEST = 0.05, 20.0
# A mistake counts as exposed when it moves some leaf gradient by this much (relative, at least 1e-3
# absolute): a thousand times the checks' tolerance, so rounding can never hide it.
EXPOSED = 1e-3
# A backward() without a topological order walks every path from the output; graphs are kept small enough
# for that walk (the student's and the replay's) to stay quick.
MAX_PATH_STEPS = 20_000


@dataclass
class Program:
    """An expression graph as plain data: leaf names and values, then steps building on earlier nodes."""

    names: list[str]
    leaves: list[float]
    steps: list[list] = field(default_factory=list)

    def node_name(self, index: int) -> str:
        """x0 for a leaf, n5 for the node made by a step."""
        return self.names[index] if index < len(self.names) else f"n{index}"

    @property
    def size(self) -> int:
        """How many nodes: leaves and steps."""
        return len(self.names) + len(self.steps)

    def add(self, kind: str, a: int | None = None, b: int | None = None, c: float | int | None = None) -> int:
        """Append a step; returns the new node's index."""
        index = self.size
        c_text = f"({c})" if c is not None and c < 0 else str(c)
        if kind == CONSTANT:
            text = f"Value({c_text})"
        else:
            text = KIND_TEXT[kind].format(a=self.node_name(a), b=self.node_name(b) if b is not None else "",
                                          c=c_text)
        self.steps.append([kind, a, b, c, f"{self.node_name(index)} = {text}"])
        return index

    def kinds(self) -> set[str]:
        """The operation kinds the steps use (constants are not operations)."""
        return {step[0] for step in self.steps} - {CONSTANT}

    def describe(self) -> str:
        """The program as the student would write it, for messages."""
        leaves = ", ".join(f"{n} = Value({v:.6g})" for n, v in zip(self.names, self.leaves))
        body = "; ".join(step[4] for step in self.steps)
        return f"{leaves}; {body}; {self.node_name(self.size - 1)}.backward()"


# The plain number of the single-operation programs: an exponent of 3 for pow, 2.5 for the others.
NUMBER_FOR = {"pow": 3}
# How an operand is used again after the operation: ``x0.exp() * x0``, ``x0 ** 3 + x0``.
REUSE_BY = {"exp": "mul", "neg": "mul"}


def single_program(kind: str, values: list[float]) -> Program:
    """``n2 = x0 <op> x1`` (or with a number, or unary on x0) from two leaves."""
    program = Program(["x0", "x1"], [float(v) for v in values])
    if kind in BINARY_KINDS:
        program.add(kind, 0, 1)
    elif kind in UNARY_KINDS:
        program.add(kind, 0)
    else:
        program.add(kind, 0, c=NUMBER_FOR.get(kind, 2.5))
    return program


def reused_program(kind: str, values: list[float], usable: set[str] | frozenset[str]) -> Program | None:
    """The single operation with each Value operand used once more afterwards: ``x0 ** 3 + x0``,
    ``x0.exp() * x0``, ``(x0 / x1 + x0) + x1``, combined by + or * (whichever of them is in `usable`,
    preferring REUSE_BY's). A gradient assigned instead of added is overwritten in any valid order of
    backward(), since the later use depends on the operation. None when neither + nor * is usable."""
    preferred = REUSE_BY.get(kind, "add")
    combiner = next((k for k in (preferred, "mul" if preferred == "add" else "add") if k in usable), None)
    if combiner is None:
        return None
    program = single_program(kind, values)
    node = program.size - 1
    for operand in ((0, 1) if kind in BINARY_KINDS else (0,)):
        node = program.add(combiner, node, operand)
    return program


# ---------------------------------------------------------------- replaying backward() on the trusted side


def value_of(kind: str, a: float | None, b: float | None, c: float | None) -> float:
    """What a step computes from its operands' values (raises ValueError, ZeroDivisionError or OverflowError
    outside its domain)."""
    if kind == CONSTANT:
        return float(c)
    if kind == "pow":
        result = a ** c
        if isinstance(result, complex):
            raise ValueError("not a real number")
        return float(result)
    if kind == "exp":
        return math.exp(a)
    if kind == "log":
        return math.log(a)
    if kind == "neg":
        return -a
    left, right = {"add": (a, b), "sub": (a, b), "mul": (a, b), "div": (a, b)}.get(kind) or \
        ((c, a) if kind.startswith("number_") else (a, c))
    operator = kind.removeprefix("number_").removesuffix("_number")
    return {"add": left + right, "sub": left - right, "mul": left * right}[operator] if operator != "div" \
        else left / right


def local_derivatives(kind: str, a: float | None, b: float | None, c: float | None,
                      out: float) -> tuple[float, ...]:
    """d out / d operand for each operand of a step (a, then b for binary kinds)."""
    if kind == "add":
        return 1.0, 1.0
    if kind == "sub":
        return 1.0, -1.0
    if kind == "mul":
        return b, a
    if kind == "div":
        return 1.0 / b, -a / b ** 2
    if kind in ("add_number", "sub_number", "number_add"):
        return (1.0,)
    if kind == "number_sub":
        return (-1.0,)
    if kind in ("mul_number", "number_mul"):
        return (c,)
    if kind == "div_number":
        return (1.0 / c,)
    if kind == "number_div":
        return (-c / a ** 2,)
    if kind == "pow":
        return (c * a ** (c - 1),)
    if kind == "neg":
        return (-1.0,)
    if kind == "exp":
        return (out,)
    if kind == "log":
        return (1.0 / a,)
    raise ValueError(f"unknown operation {kind!r}")


def node_values(program: Program) -> list[float]:
    """Every node's value, leaves first."""
    values = list(program.leaves)
    for kind, a, b, c, _ in program.steps:
        values.append(value_of(kind, None if a is None else values[a], None if b is None else values[b], c))
    return values


def gradients(program: Program, *, assign: frozenset[str] = frozenset(), scaled: frozenset[str] = frozenset(),
              per_path: bool = False, child_order: tuple[int, int] = (0, 1), twice: bool = False,
              listed_twice: bool = False, distinct: bool = True) -> list[float] | None:
    """The leaf gradients backward() gives, as the chapter writes it or with one typical mistake.

    `assign`: steps of these kinds set their operands' gradients (``=``)
    instead of adding to them. `scaled`: steps of these kinds use a local
    derivative 1.5 times the right one (a wrong derivative). `per_path`: backward() has no topological
    order and recurses into every child after each node's own step, so a
    shared node runs its step once per path (children visited in
    `child_order`); None when that walk would exceed MAX_PATH_STEPS.
    `twice`: the whole reverse sweep runs twice without resetting.
    `listed_twice`: backward() builds its order with a depth-first walk that
    marks a node visited when it is expanded, not when it is pushed, so a
    node pushed by two parents before it is expanded is listed (and its
    step run) twice (children pushed in `child_order`, once each if
    `distinct`, else as the operands are: ``x + x`` pushes x twice); None
    when that walk would exceed MAX_PATH_STEPS.
    """
    values = node_values(program)
    n_leaves = len(program.leaves)
    grads = [0.0] * program.size
    grads[-1] = 1.0

    def step_backward(node: int) -> None:
        kind, a, b, c, _ = program.steps[node - n_leaves]
        if kind == CONSTANT:
            return
        operands = [a] if b is None else [a, b]
        derivs = local_derivatives(kind, values[a], None if b is None else values[b], c, values[node])
        factor = 1.5 if kind in scaled else 1.0
        for operand, local in zip(operands, derivs):
            share = factor * local * grads[node]
            grads[operand] = share if kind in assign else grads[operand] + share

    if listed_twice:
        order = _listed_twice_order(program, child_order, distinct)
        if order is None:
            return None
        for node in reversed(order):
            if node >= n_leaves:
                step_backward(node)
        return grads[:n_leaves]
    if not per_path:
        for _ in range(2 if twice else 1):
            for node in reversed(range(n_leaves, program.size)):
                step_backward(node)
        return grads[:n_leaves]
    walked, pending = 0, [program.size - 1]
    while pending:  # pre-order, as the recursion `node._backward(); for child: child.walk()` runs
        node = pending.pop()
        walked += 1
        if walked > MAX_PATH_STEPS:
            return None
        if node < n_leaves:
            continue
        step_backward(node)
        _, a, b, _, _ = program.steps[node - n_leaves]
        children = [x for x in dict.fromkeys((a, b)[i] for i in child_order) if x is not None]
        pending.extend(reversed(children))
    return grads[:n_leaves]


def _listed_twice_order(program: Program, child_order: tuple[int, int], distinct: bool) -> list[int] | None:
    """The order a backward() builds when its depth-first walk (an explicit stack of (node, expanded) pairs)
    marks a node visited when it is expanded: a node pushed by two parents before it is expanded is listed
    twice. `distinct`: a node's children are a set (``x + x`` has one child), else a tuple of both operands.
    None when the walk would exceed MAX_PATH_STEPS."""
    n_leaves = len(program.leaves)
    order, visited, stack, walked = [], set(), [(program.size - 1, False)], 0
    while stack:
        node, expanded = stack.pop()
        walked += 1
        if walked > MAX_PATH_STEPS:
            return None
        if expanded:
            order.append(node)
            continue
        visited.add(node)
        stack.append((node, True))
        if node >= n_leaves:
            _, a, b, _, _ = program.steps[node - n_leaves]
            children = [(a, b)[i] for i in child_order]
            if distinct:  # a set of children (x + x has one), or a tuple (x + x has x twice)
                children = list(dict.fromkeys(children))
            stack.extend((child, False) for child in children if child is not None and child not in visited)
    return order


def _moves(mistaken: list[float] | None, right: list[float]) -> bool:
    """Whether a mistaken backward() gives leaf gradients clearly different from the right ones."""
    if mistaken is None:
        return True  # so many paths that a per-path walk cannot finish: not a graph to draw
    return any(abs(g - r) > EXPOSED * max(1.0, abs(r)) for g, r in zip(mistaken, right))


def unexposed_mistakes(program: Program) -> list[str]:
    """The typical mistakes `program` would not catch: ``"=" in <kind>`` and ``"derivative of <kind>"`` per
    kind it uses, and backward() without a topological order. Empty when the graph exposes every one."""
    right = gradients(program)
    missed = []
    for kind in sorted(program.kinds()):
        if not _moves(gradients(program, assign=frozenset({kind})), right):
            missed.append(f"= in {kind}")
        if not _moves(gradients(program, scaled=frozenset({kind})), right):
            missed.append(f"derivative of {kind}")
    orders = ((0, 1), (1, 0))
    if not all(_shows(gradients(program, per_path=True, child_order=order), right) for order in orders):
        missed.append("no topological order")
    if not all(_shows(gradients(program, listed_twice=True, child_order=order, distinct=distinct), right)
               for order in orders for distinct in (True, False)):
        missed.append("a node listed twice")
    return missed


def _shows(walked: list[float] | None, right: list[float]) -> bool:
    """Whether a mistaken walk of backward() finished (not too many paths) and moved the leaf gradients."""
    return walked is not None and _moves(walked, right)


# ---------------------------------------------------------------- drawing graphs


def in_domain(kind: str, value: float, c: float | None) -> bool:
    """Whether `kind` applied to a node holding `value` (and number c) is well conditioned."""
    if kind == "log":
        return value >= 0.2
    if kind == "exp":
        return value <= 2.5
    if kind in ("number_div", "div"):
        return abs(value) >= 0.3
    if kind == "pow":
        return (c != -1 or abs(value) >= 0.3) and (c != 0.5 or value >= 0.2)
    return True


def number_for(kind: str, rng: np.random.Generator) -> float | int | None:
    """The plain number a step of `kind` takes: an exponent for pow, a constant for the number kinds."""
    if kind == "pow":
        return POWERS[int(rng.integers(len(POWERS)))]
    if kind in BINARY_KINDS or kind in UNARY_KINDS:
        return None
    return float(rng.choice(CONSTANTS))


def random_program(rng: np.random.Generator, kinds: list[str], n_leaves: int = 3, min_steps: int = 8) -> Program:
    """A random expression graph using every kind of `kinds` (at least once) that exposes every typical mistake.

    Each drawn step's operands are used again by a step that depends on it
    (``n = a.exp(); m = n * a``), so a gradient assigned instead of added is
    overwritten in every valid order of backward(); some inner node feeds
    several steps, so backward() needs a topological order. Every value stays
    in [SMALLEST, LARGEST] in magnitude and inside its operation's domain.
    A draw is kept only when `unexposed_mistakes` finds nothing, so whatever
    the seed, the graph catches ``=`` in each kind it uses and a backward()
    without a topological order. `kinds` must hold a binary kind (to combine
    and reuse nodes).
    """
    combiners = [k for k in BINARY_KINDS if k in kinds]
    if not combiners:
        raise ValueError("a random expression needs one of + - * / between Values")
    for _ in range(2000):
        program = _draw(rng, list(kinds), combiners, n_leaves, min_steps)
        if program is not None and not unexposed_mistakes(program):
            return program
    raise RuntimeError("no random expression exposing every mistake was found in 2000 draws")


def _draw(rng: np.random.Generator, kinds: list[str], combiners: list[str], n_leaves: int,
          min_steps: int) -> Program | None:
    """One candidate graph, or None when a value leaves the well-conditioned range."""
    signs = rng.choice([-1.0, 1.0], size=n_leaves)
    program = Program([f"x{i}" for i in range(n_leaves)],
                      [round(float(s * rng.uniform(0.4, 1.6)), 4) for s in signs])
    values = list(program.leaves)
    order = [str(k) for k in rng.permutation(kinds)]
    while len(order) < min_steps:
        order.append(str(rng.choice(kinds)))
    for kind in order:
        node = _step(rng, program, values, kind, None)
        if node is None:
            return None
        _, a, b, _, _ = program.steps[node - n_leaves]
        for operand in dict.fromkeys(x for x in (a, b) if x is not None):
            node = _reuse(rng, program, values, combiners, node, operand)
            if node is None:
                return None
    _sum_loose_ends(rng, program, values, combiners)
    return program if all(SMALLEST <= abs(v) <= LARGEST for v in values) else None


def _step(rng: np.random.Generator, program: Program, values: list[float], kind: str,
          operands: tuple[int, int] | None) -> int | None:
    """Append one step of `kind` on `operands` (drawn when None: later nodes likelier); its node, or None."""
    c = number_for(kind, rng)
    if operands is None:
        candidates = [i for i, v in enumerate(values) if in_domain(kind, v, c)]
        if not candidates:
            return None
        weights = np.asarray(candidates, dtype=float) + 1.0
        a = int(rng.choice(candidates, p=weights / weights.sum()))
        b = None
        if kind in BINARY_KINDS:
            # b != a: x - x and x / x are constants, whose gradients cancel.
            others = [i for i, v in enumerate(values) if i != a and (kind != "div" or in_domain("div", v, None))]
            if not others:
                return None
            b = int(rng.choice(others))
    else:
        a, b = operands
        if kind == "div" and not in_domain("div", values[b], None):
            kind = "mul"
    try:
        value = value_of(kind, values[a], None if b is None else values[b], c)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if not (math.isfinite(value) and SMALLEST <= abs(value) <= LARGEST):
        return None
    values.append(value)
    return program.add(kind, a, b, c)


def _reuse(rng: np.random.Generator, program: Program, values: list[float], combiners: list[str], node: int,
           operand: int) -> int | None:
    """Combine `node` with its own `operand` again (``n * a`` after ``n = a.exp()``), by a combiner under which
    neither path to the operand cancels the other (``(a + 2) - a`` would be the constant 2)."""
    n_leaves = len(program.names)
    kind, a, b, c, _ = program.steps[node - n_leaves]
    derivs = local_derivatives(kind, values[a], None if b is None else values[b], c, values[node])
    through_node = sum(d for x, d in zip((a, b), derivs) if x == operand)
    # Either side first: a backward() whose walk lists a node twice does so in ``n * a`` or in ``a * n``
    # depending on the order it visits the operands in, so graphs need both (see `_listed_twice_order`).
    operand_first = bool(rng.random() < 0.5)
    for combiner in rng.permutation(combiners):
        combiner = str(combiner)
        divisor = values[node] if operand_first else values[operand]
        if combiner == "div" and not in_domain("div", divisor, None):
            continue
        left, right = (operand, node) if operand_first else (node, operand)
        try:
            value = value_of(combiner, values[left], values[right], None)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        d_left, d_right = local_derivatives(combiner, values[left], values[right], None, value)
        d_node, d_operand = (d_right, d_left) if operand_first else (d_left, d_right)
        paths = (d_node * through_node, d_operand)
        if abs(sum(paths)) < 0.1 * (abs(paths[0]) + abs(paths[1])):
            continue
        if math.isfinite(value) and SMALLEST <= abs(value) <= LARGEST:
            values.append(value)
            return program.add(combiner, left, right)
    return None


def _sum_loose_ends(rng: np.random.Generator, program: Program, values: list[float], combiners: list[str]) -> None:
    """Combine every node no step uses into the output, so the whole graph feeds it."""
    consumed = {s[1] for s in program.steps} | {s[2] for s in program.steps if s[2] is not None}
    loose = [i for i in range(len(program.names), program.size) if i not in consumed]
    out = loose[0]
    for index in loose[1:]:
        kind = "add" if "add" in combiners else str(rng.choice(combiners))
        if kind == "div" and not in_domain("div", values[index], None):
            kind = "mul" if "mul" in combiners else kind
        values.append(value_of(kind, values[out], values[index], None))
        out = program.add(kind, out, index)

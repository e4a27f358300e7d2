"""Shared fixtures of the research checks: expression programs for Value, and deep networks for checkpointing.

An expression is sent to the worker as plain data, a *program*: leaf values
and steps ``[kind, a, b, c, text]`` (operand node indices a and b, a number
c, the step as text for messages). The same `APPLY_SOURCE` turns a step into
an operation on the trusted side (with the reference Value) and in the worker
(with the student's Value, inside a driver), so both build the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import reference.backprop_lab as reference_lab
import reference.backprop_research as reference_research
from grader.checking import StudentCodeError
from reference.networks import random_data, random_params

# One function for both sides: the operation a step stands for. `c` is a plain number.
APPLY_SOURCE = '''
def apply(kind, a, b, c):
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "div":
        return a / b
    if kind == "add_number":
        return a + c
    if kind == "sub_number":
        return a - c
    if kind == "mul_number":
        return a * c
    if kind == "div_number":
        return a / c
    if kind == "number_add":
        return c + a
    if kind == "number_sub":
        return c - a
    if kind == "number_mul":
        return c * a
    if kind == "number_div":
        return c / a
    if kind == "pow":
        return a ** c
    if kind == "neg":
        return -a
    if kind == "exp":
        return a.exp()
    if kind == "log":
        return a.log()
    raise ValueError("unknown operation " + repr(kind))
'''

# Runs in the worker: build the program with the student's Value, backpropagate, and read back plain
# numbers; then the output at each leaf nudged by +-h (finite differences of the student's own forward).
VALUE_DRIVER = APPLY_SOURCE + '''

def number(x):
    """A float, or the name of what the student's attribute holds instead."""
    if isinstance(x, bool):
        return "a bool"
    try:
        return float(x)
    except Exception:
        return "a " + type(x).__name__ + " object"


def build(Value, leaves, steps):
    nodes = [Value(v) for v in leaves]
    for kind, a, b, c, text in steps:
        try:
            nodes.append(apply(kind, nodes[a], None if b is None else nodes[b], c))
        except BaseException as exc:
            try:
                exc.add_note("while computing " + text)
            except Exception:
                pass
            raise
    return nodes


def drive(module, leaves, steps, h):
    Value = module.Value
    nodes = build(Value, leaves, steps)
    leaf_nodes, out = nodes[:len(leaves)], nodes[-1]
    before = [number(getattr(n, "grad", None)) for n in leaf_nodes]
    out.backward()
    result = {"data": number(out.data), "grads": [number(n.grad) for n in leaf_nodes], "before": before,
              "leaf_data": [number(n.data) for n in leaf_nodes], "fd": []}
    for i in range(len(leaves)):
        up, down = list(leaves), list(leaves)
        up[i] += h
        down[i] -= h
        result["fd"].append([number(build(Value, up, steps)[-1].data), number(build(Value, down, steps)[-1].data)])
    return result
'''

# The kinds a step can be, as the student writes them (a, b are Values, c is a number).
KIND_TEXT = {
    "add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "div": "{a} / {b}",
    "add_number": "{a} + {c}", "sub_number": "{a} - {c}", "mul_number": "{a} * {c}", "div_number": "{a} / {c}",
    "number_add": "{c} + {a}", "number_sub": "{c} - {a}", "number_mul": "{c} * {a}", "number_div": "{c} / {a}",
    "pow": "{a} ** {c}", "neg": "-{a}", "exp": "{a}.exp()", "log": "{a}.log()",
}
BINARY_KINDS = ("add", "sub", "mul", "div")
CONSTANTS = (0.5, 1.5, 2.0, 3.0, -1.0, -2.5)
POWERS = (2, 3, -1, 0.5)
FD_STEP = 1e-6


@dataclass
class Program:
    """An expression graph as plain data: leaf names and values, then steps building on earlier nodes."""

    names: list[str]
    leaves: list[float]
    steps: list[list] = field(default_factory=list)

    def node_name(self, index: int) -> str:
        """x0 for a leaf, n5 for the node made by a step."""
        return self.names[index] if index < len(self.names) else f"n{index}"

    def add(self, kind: str, a: int, b: int | None = None, c: float | int | None = None) -> int:
        """Append a step; returns the new node's index."""
        index = len(self.names) + len(self.steps)
        c_text = f"({c})" if c is not None and c < 0 else str(c)
        text = KIND_TEXT[kind].format(a=self.node_name(a), b=self.node_name(b) if b is not None else "", c=c_text)
        self.steps.append([kind, a, b, c, f"{self.node_name(index)} = {text}"])
        return index

    def describe(self) -> str:
        """The program as the student would write it, for messages."""
        leaves = ", ".join(f"{n} = Value({v:.6g})" for n, v in zip(self.names, self.leaves))
        body = "; ".join(step[4] for step in self.steps)
        last = self.node_name(len(self.names) + len(self.steps) - 1)
        return f"{leaves}; {body}; {last}.backward()"


class Autograd:
    """Builds expression programs, evaluates them with the reference, and runs them with the student's Value."""

    fd_step = FD_STEP

    def __init__(self) -> None:
        namespace: dict[str, Any] = {}
        exec(APPLY_SOURCE, namespace)
        self._apply = namespace["apply"]

    @staticmethod
    def program(names: list[str], values: list[float]) -> Program:
        """An empty program over leaves `names` holding `values`; add steps with `Program.add`."""
        return Program(list(names), [float(v) for v in values])

    def reference(self, program: Program) -> tuple[float, list[float], list]:
        """(output, leaf gradients, every node) of `program` built with the reference Value."""
        nodes = [reference_research.Value(v) for v in program.leaves]
        for kind, a, b, c, _ in program.steps:
            nodes.append(self._apply(kind, nodes[a], None if b is None else nodes[b], c))
        nodes[-1].backward()
        return nodes[-1].data, [n.grad for n in nodes[:len(program.leaves)]], nodes

    def student(self, student: Any, program: Program) -> dict:
        """The student's output, leaf gradients (before and after backward) and finite differences."""
        result = student.drive(VALUE_DRIVER, program.leaves, program.steps, FD_STEP, what="your Value class").value
        n = len(program.leaves)
        well_formed = (isinstance(result, dict) and {"data", "grads", "before", "leaf_data", "fd"} <= set(result)
                       and all(isinstance(result[k], list) and len(result[k]) == n
                               for k in ("grads", "before", "leaf_data", "fd"))
                       and all(isinstance(pair, list) and len(pair) == 2 for pair in result["fd"]))
        if not well_formed:
            raise StudentCodeError("Your Value class could not be read back after building the expression.")
        return result

    def random_program(self, rng: np.random.Generator, n_leaves: int = 3) -> Program:
        """Every kind of step once, in random order, on random operands; each node feeds the output.

        A leaf is used at least twice and some inner node feeds two steps, so
        gradients must accumulate and backward() needs a topological order.

        Drawn until every intermediate value stays moderate, away from 0 and
        inside its operation's domain (log of a positive number, no division
        by a value near 0), so that the gradients are well conditioned and no
        path's gradient is zeroed.
        """
        for _ in range(500):
            program = self._try_program(rng, n_leaves)
            if program is not None:
                return program
        raise RuntimeError("no well-conditioned random expression was found in 500 draws")

    def _try_program(self, rng: np.random.Generator, n_leaves: int) -> Program | None:
        signs = rng.choice([-1.0, 1.0], size=n_leaves)
        values = [round(float(s * rng.uniform(0.4, 1.6)), 4) for s in signs]
        program = Program([f"x{i}" for i in range(n_leaves)], values)
        # The same graph built with the reference Value, one node per step, for the values.
        nodes = [reference_research.Value(v) for v in values]
        data = list(values)
        used = [0] * n_leaves
        for kind in rng.permutation(list(KIND_TEXT)):
            kind = str(kind)
            c = POWERS[int(rng.integers(len(POWERS)))] if kind == "pow" else float(rng.choice(CONSTANTS))
            candidates = [i for i, v in enumerate(data) if _in_domain(kind, v, c)]
            divisors = [i for i, v in enumerate(data) if abs(v) >= 0.3]
            if not candidates or (kind == "div" and not divisors):
                return None
            # Later nodes are likelier operands, so the graph grows deep as well as wide.
            a = int(rng.choice(candidates, p=_recent_first(candidates)))
            b = int(rng.choice(divisors if kind == "div" else len(data))) if kind in BINARY_KINDS else None
            if kind in ("sub", "div") and b == a:
                return None  # x - x and x / x are constants: every gradient through them cancels
            number = None if kind in BINARY_KINDS + ("neg", "exp", "log") else c
            program.add(kind, a, b, number)
            for operand in (a, b):
                if operand is not None and operand < n_leaves:
                    used[operand] += 1
            try:
                nodes.append(self._apply(kind, nodes[a], None if b is None else nodes[b], number))
            except (ValueError, ZeroDivisionError, OverflowError):
                return None
            data.append(nodes[-1].data)
            # A node near 0 (log(1), a - a) zeroes the gradient of whatever it multiplies: it hides mistakes.
            if not (np.isfinite(data[-1]) and 0.05 <= abs(data[-1]) <= 20.0):
                return None
        self._sum_loose_ends(program)
        if min(used) < 1 or max(used) < 2 or not self._has_shared_node(program):
            return None
        out, grads, _ = self.reference(program)
        if not (np.isfinite(out) and all(np.isfinite(g) and abs(g) < 1e6 for g in grads)):
            return None
        return program

    @staticmethod
    def _has_shared_node(program: Program) -> bool:
        """Whether some non-leaf node feeds two different steps (it needs a topological order)."""
        parents: dict[int, int] = {}
        for step in program.steps:
            for operand in {step[1], step[2]} - {None}:
                parents[operand] = parents.get(operand, 0) + 1
        return any(count >= 2 for node, count in parents.items() if node >= len(program.names))

    @staticmethod
    def _sum_loose_ends(program: Program) -> None:
        """Add up every node no later step uses, so the whole graph feeds the output."""
        total = len(program.names) + len(program.steps)
        consumed = {s[1] for s in program.steps} | {s[2] for s in program.steps if s[2] is not None}
        loose = [i for i in range(len(program.names), total) if i not in consumed]
        out = loose[0]
        for index in loose[1:]:
            out = program.add("add", out, index)


def _recent_first(indices: list[int]) -> np.ndarray:
    """Choice probabilities proportional to 1 + index."""
    weights = np.asarray(indices, dtype=float) + 1.0
    return weights / weights.sum()


def _in_domain(kind: str, value: float, c: float) -> bool:
    """Whether `kind` applied to a node holding `value` (and number c) is well conditioned."""
    if kind == "log":
        return value >= 0.2
    if kind == "exp":
        return value <= 2.5
    if kind == "number_div":
        return abs(value) >= 0.3
    if kind == "pow":
        return (c != -1 or abs(value) >= 0.3) and (c != 0.5 or value >= 0.2)
    return True


class Networks:
    """Deep ReLU/sigmoid networks in the chapter's conventions, and the reference's plain backprop."""

    lab = reference_lab
    research = reference_research

    params = staticmethod(random_params)
    data = staticmethod(random_data)

    def plain_gradients(self, X: np.ndarray, Y: np.ndarray, params: dict) -> dict[str, np.ndarray]:
        """The lab reference's L_layer_backward gradients."""
        AL, caches = self.lab.L_layer_forward(X, params)
        return self.lab.L_layer_backward(AL, Y, caches)


@pytest.fixture(scope="session")
def autograd() -> Autograd:
    """Expression programs for the Value checks."""
    return Autograd()


@pytest.fixture(scope="session")
def nets() -> Networks:
    """Deep networks for the checkpointing checks."""
    return Networks()


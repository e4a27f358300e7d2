"""Shared fixtures of the research checks: expression programs for Value, and deep networks for checkpointing.

An expression is sent to the worker as plain data, a *program*
(reference/value_graphs.py): leaf values and steps ``[kind, a, b, c, text]``.
The same `APPLY_SOURCE` turns a step into an operation on the trusted side
(with the reference Value) and in the worker (with the student's Value,
inside a driver), so both build the same graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import reference.backprop_lab as reference_lab
import reference.backprop_research as reference_research
from grader.checking import StudentCodeError
from reference.networks import random_data, random_params
from reference.value_graphs import APPLY_SOURCE, Program, random_program

NUMBER_SOURCE = '''

def number(x):
    """A float, or the name of what the student's attribute holds instead."""
    if isinstance(x, bool):
        return "a bool"
    try:
        return float(x)
    except Exception:
        return "a " + type(x).__name__ + " object"
'''

# Runs in the worker: build the program with the student's Value, backpropagate, and read back plain
# numbers; then the output at each leaf nudged by +-h (finite differences of the student's own forward).
VALUE_DRIVER = APPLY_SOURCE + NUMBER_SOURCE + '''

def build(Value, leaves, steps):
    nodes = [Value(v) for v in leaves]
    for kind, a, b, c, text in steps:
        try:
            nodes.append(apply(kind, None if a is None else nodes[a], None if b is None else nodes[b], c, Value))
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

FD_STEP = 1e-6


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
        Value = reference_research.Value
        nodes = [Value(v) for v in program.leaves]
        for kind, a, b, c, _ in program.steps:
            nodes.append(self._apply(kind, None if a is None else nodes[a], None if b is None else nodes[b], c,
                                     Value))
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

    @staticmethod
    def random_program(rng: np.random.Generator, kinds: list[str]) -> Program:
        """A random graph over `kinds` that exposes = instead of += in each and a missing topological order
        (reference.value_graphs.random_program)."""
        return random_program(rng, kinds)


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


"""reference/value_graphs.py: the research checks' expression graphs expose what they test, on every seed.

Issue 10 §1 and §4: a case the grader draws must be able to expose what it
tests. The replay of backward() is checked against the reference Value, and
the drawn graphs and the reuse programs against real engines with the
mistakes (the research fixtures, run in-process: they are trusted files),
over many seeds. No grading here: these are properties of the drawing.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from reference.backprop_research import Value as ReferenceValue
from reference.value_graphs import (APPLY_SOURCE, BINARY_KINDS, OPERATION_KINDS, Program, gradients, random_program,
                                    reused_program, single_program, unexposed_mistakes)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "research"
_NAMESPACE: dict = {}
exec(APPLY_SOURCE, _NAMESPACE)


def _engine(name: str):
    """The Value class of a research fixture (trusted test data), loaded in this process."""
    path = next(FIXTURES.rglob(f"{name}.py"))
    spec = importlib.util.spec_from_file_location(f"value_graphs_fixture_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Value


def _run(Value, program: Program) -> tuple[float, list[float]]:
    """(output, leaf gradients) of `program` built with `Value`."""
    nodes = [Value(v) for v in program.leaves]
    for kind, a, b, c, _ in program.steps:
        nodes.append(_NAMESPACE["apply"](kind, None if a is None else nodes[a], None if b is None else nodes[b], c,
                                         Value))
    nodes[-1].backward()
    return float(nodes[-1].data), [float(n.grad) for n in nodes[:len(program.leaves)]]


def _agrees(got: list[float], want: list[float]) -> bool:
    return all(math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-9) for g, w in zip(got, want))


POOLS = {"every operation": list(OPERATION_KINDS), "+ and * only": ["add", "mul"],
         "no number operands": ["add", "sub", "mul", "div", "pow", "neg", "exp", "log"],
         "no log, no 2 - x": [k for k in OPERATION_KINDS if k not in ("log", "number_sub")]}


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_the_replay_of_backward_matches_the_reference_value(pool):
    for seed in range(15):
        program = random_program(np.random.default_rng(seed), POOLS[pool])
        assert program.kinds() == set(POOLS[pool])
        assert _agrees(gradients(program), _run(ReferenceValue, program)[1])


# Real engines with the mistakes the drawn graphs must expose: = instead of += in exp, in pow, everywhere,
# a backward() that walks every path instead of a topological order, and one whose walk lists a node twice.
MISTAKES = ["bug_value_exp_assigns", "bug_value_pow_assigns", "bug_value_grad_overwrites",
            "bug_value_no_topological_order", "bug_value_topo_duplicates"]


@pytest.mark.parametrize("name", MISTAKES)
def test_every_drawn_expression_exposes_each_mistake_on_every_seed(name):
    Value = _engine(name)
    for seed in range(100):
        program = random_program(np.random.default_rng([seed, 7]), list(OPERATION_KINDS))
        out, grads = _run(Value, program)
        ref_out, ref_grads = _run(ReferenceValue, program)
        assert math.isclose(out, ref_out, rel_tol=1e-9)  # the forward pass is right in each of them
        assert not _agrees(grads, ref_grads), f"seed {seed} does not expose {name}: {program.describe()}"


@pytest.mark.parametrize("kind", OPERATION_KINDS)
def test_a_reuse_program_exposes_an_assignment_in_its_operation_whatever_the_values(kind):
    rng = np.random.default_rng(3)
    for _ in range(50):
        values = [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)]
        program = reused_program(kind, values, {"add", "mul"})
        assert not unexposed_mistakes_of(program, kind)
    # With + unusable the other combiner does it.
    assert reused_program(kind, [1.3, 0.7], {"mul"}).kinds() <= {kind, "mul"}
    assert reused_program(kind, [1.3, 0.7], {"sub", "div"}) is None


def unexposed_mistakes_of(program: Program, kind: str) -> bool:
    """Whether `=` in `kind` leaves the leaf gradients of `program` (nearly) unchanged."""
    right = gradients(program)
    wrong = gradients(program, assign=frozenset({kind}))
    return all(abs(w - r) <= 1e-3 * max(1.0, abs(r)) for w, r in zip(wrong, right))


@pytest.mark.parametrize("name, kinds", [("bug_value_exp_assigns", ["exp"]), ("bug_value_pow_assigns", ["pow"])])
def test_the_reuse_programs_fail_the_engines_with_an_assignment(name, kinds):
    Value = _engine(name)
    rng = np.random.default_rng(5)
    for kind in OPERATION_KINDS:
        values = [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)]
        alone, reused = single_program(kind, values), reused_program(kind, values, {"add", "mul"})
        assert _agrees(_run(Value, alone)[1], _run(ReferenceValue, alone)[1]), kind  # right on its own
        if kind in kinds:
            assert not _agrees(_run(Value, reused)[1], _run(ReferenceValue, reused)[1]), kind


def test_a_graph_that_reuses_no_operand_is_rejected():
    """``x0.exp() + x1`` uses every node once: = in exp and + would pass it, so no draw may look like it."""
    program = Program(["x0", "x1"], [0.8, 1.3])
    program.add("add", program.add("exp", 0), 1)
    assert unexposed_mistakes(program) == ["= in add", "= in exp", "no topological order", "a node listed twice"]
    reused = Program(["x0", "x1"], [0.8, 1.3])
    node = reused.add("mul", reused.add("exp", 0), 0)
    reused.add("mul", reused.add("add", node, 1), node)
    assert "= in exp" not in unexposed_mistakes(reused)


def test_a_random_expression_needs_an_operation_between_values():
    with pytest.raises(ValueError, match="between Values"):
        random_program(np.random.default_rng(0), ["exp", "log", "mul_number"])
    program = random_program(np.random.default_rng(0), ["mul", "exp", "log", "mul_number"])
    assert program.kinds() == {"mul", "exp", "log", "mul_number"}
    assert set(BINARY_KINDS) & program.kinds() == {"mul"}


def test_a_walk_that_lists_a_node_twice_is_a_mistake_the_drawn_graphs_expose_in_every_variant():
    """A held-out backward() marked nodes visited when expanded, not when pushed: a node pushed by two parents
    first is listed twice. The drawn graphs reused an operand on the right only (n * a), which such a walk
    lists once, so the file passed every check on seed 1. Both operand orders, and children as a set or as a
    tuple, must now show it on every seed."""
    program = Program(["x0", "x1"], [1.3, 0.7])
    product = program.add("mul", program.add("exp", 0), 0)
    program.add("add", program.add("mul", product, 1), product)
    assert "a node listed twice" in unexposed_mistakes(program)
    for pool in POOLS.values():
        for seed in range(30):
            program = random_program(np.random.default_rng([seed, 11]), pool)
            right = gradients(program)
            for order in ((0, 1), (1, 0)):
                for distinct in (True, False):
                    listed = gradients(program, listed_twice=True, child_order=order, distinct=distinct)
                    assert any(abs(g - r) > 1e-3 * max(1.0, abs(r)) for g, r in zip(listed, right)), \
                        (seed, order, distinct, program.describe())

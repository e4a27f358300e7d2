"""R2: a reverse-mode autodiff engine, `Value`, against the reference on the same expression graphs.

Each expression is built inside the sandbox with the student's Value from a
plain-data program (see conftest.py), backpropagated, and read back as plain
numbers; the trusted side builds the same program with the reference Value.
The student's own forward is also differentiated numerically, so a message
can say whether the forward value or the backward pass is wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import CheckFailure, StudentCodeError, record

# Each kind of step, checked on its own, and the hint for getting it wrong.
WRAP = "wrap a plain number first: other = other if isinstance(other, Value) else Value(other)"
OPERATIONS = {
    "add": "__add__: out.data = a.data + b.data; a.grad += out.grad and b.grad += out.grad.",
    "sub": "__sub__: a - b is a + (-b): a.grad gets +out.grad, b.grad gets -out.grad.",
    "mul": "__mul__: a.grad += b.data * out.grad and b.grad += a.data * out.grad.",
    "div": "__truediv__: a / b is a * b ** -1, so d/da = 1 / b and d/db = -a / b ** 2.",
    "add_number": f"__add__ with a number: {WRAP}.",
    "sub_number": f"__sub__ with a number: {WRAP}.",
    "mul_number": f"__mul__ with a number: {WRAP}.",
    "div_number": f"__truediv__ with a number: {WRAP}.",
    "number_add": "__radd__: 2 + v calls v.__radd__(2); return self + other.",
    "number_sub": "__rsub__: 2 - v calls v.__rsub__(2); return (-self) + other.",
    "number_mul": "__rmul__: 2 * v calls v.__rmul__(2); return self * other.",
    "number_div": "__rtruediv__: 2 / v calls v.__rtruediv__(2); return other * self ** -1.",
    "pow": "__pow__(self, k) with a number k: out.data = a.data ** k; a.grad += k * a.data ** (k - 1) * out.grad.",
    "neg": "__neg__: return self * -1.",
    "exp": "exp(): out.data = math.exp(a.data); a.grad += out.data * out.grad (exp is its own derivative).",
    "log": "log(): out.data = math.log(a.data); a.grad += out.grad / a.data.",
}
ACCUMULATE = ("A node used more than once must add up its gradients (self.grad += ..., never =), and backward() "
              "must call each node's _backward only after every node that uses it: build a topological order "
              "and walk it in reverse.")
NUMBER_FOR = {"pow": 3}  # the exponent of the single-operation check; other kinds use 2.5


@pytest.fixture
def tolerance(assignment) -> tuple[float, float]:
    """(rtol, atol) for the student's values: float64 arithmetic, done in a different order."""
    return float(assignment.setting("value_rtol")), float(assignment.setting("value_atol"))


def _run(student, autograd, program, hint: str | None) -> dict:
    """The student's results for `program`; an exception names the step and carries `hint`."""
    student.resolve("Value")  # a missing class is said plainly, not as a failed build
    try:
        return autograd.student(student, program)
    except StudentCodeError as error:
        raise StudentCodeError(f"Building {program.describe()} with your Value failed: {error.message}",
                         hint=hint or error.hint, details=error.details) from None


def _compare(result: dict, program, autograd, tolerance, hint: str | None, request) -> None:
    """Fail with the forward value or the gradients that differ from the reference, and a hint."""
    rtol, atol = tolerance
    expected_out, expected_grads, _ = autograd.reference(program)
    record(request, expression=program.describe(), expected_output=expected_out, expected_grads=expected_grads,
           output=result["data"], grads=result["grads"])
    where = f"For {program.describe()}"
    if not isinstance(result["data"], float):
        raise CheckFailure(f"{where}: the output's .data is {result['data']}; expected a number.",
                           hint="Store the plain number in .data: Value(self.data + other.data, ...).")
    if not np.isclose(result["data"], expected_out, rtol=rtol, atol=atol):
        raise CheckFailure(f"{where}: the output's .data is {result['data']:.8g}; expected {expected_out:.8g}. "
                           f"The forward computation is wrong, so its gradients were not compared.", hint=hint)
    wrong = []
    for name, got, want, (up, down) in zip(program.names, result["grads"], expected_grads, result["fd"]):
        if not isinstance(got, float):
            raise CheckFailure(f"{where}: {name}.grad is {got}; expected a number.",
                               hint="Keep .grad a plain float: start it at 0.0 and add plain numbers to it.")
        if not np.isclose(got, want, rtol=rtol, atol=atol):
            numeric = (up - down) / (2 * autograd.fd_step) if isinstance(up, float) and isinstance(down, float) else None
            own = f"; finite differences of your own forward give {numeric:.6g}" if numeric is not None else ""
            wrong.append(f"{name}.grad is {got:.8g}, expected {want:.8g}{own}")
    if wrong:
        raise CheckFailure(f"{where}: the output is right but the gradients are not: {'; '.join(wrong)}.",
                           hint=hint)


@pytest.mark.public
def test_value_holds_data_and_starts_with_zero_grad(student, autograd, rng, request):
    """Value(x) keeps x in .data, and .grad is 0 until backward() runs"""
    program = autograd.program(["x0"], [round(float(rng.uniform(0.5, 3.0)), 4)])
    program.add("mul_number", 0, c=2.5)
    result = _run(student, autograd, program, OPERATIONS["mul_number"])
    record(request, leaf_data=result["leaf_data"], grad_before_backward=result["before"])
    data = result["leaf_data"][0]
    if not (isinstance(data, float) and np.isclose(data, program.leaves[0])):
        raise CheckFailure(f"Value({program.leaves[0]}).data is {data}; expected "
                           f"{program.leaves[0]}.", hint="Store the number: self.data = data.")
    if result["before"] != [0.0]:
        raise CheckFailure(f"Before backward(), Value({program.leaves[0]}).grad is {result['before'][0]}; "
                           f"expected 0.", hint="Start every node with self.grad = 0.0.")


@pytest.mark.public
@pytest.mark.parametrize("kind", list(OPERATIONS))
def test_value_operation(student, autograd, rng, tolerance, request, kind):
    """One operation of Value gives the reference output and gradients"""
    values = [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)]
    program = autograd.program(["x0", "x1"], values)
    if kind in ("add", "sub", "mul", "div"):
        program.add(kind, 0, 1)
    elif kind in ("neg", "exp", "log"):
        program.add(kind, 0)
    else:
        program.add(kind, 0, c=NUMBER_FOR.get(kind, 2.5))
    result = _run(student, autograd, program, OPERATIONS[kind])
    _compare(result, program, autograd, tolerance, OPERATIONS[kind], request)


def test_value_accumulates_over_reused_nodes(student, autograd, rng, tolerance, request):
    """A node used several times (x * x, n + n, one node feeding two others) collects the sum of its gradients"""
    values = [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)]
    program = autograd.program(["x0", "x1"], values)
    square = program.add("mul", 0, 0)
    scaled = program.add("mul_number", 0, c=3.0)
    total = program.add("add", square, scaled)
    product = program.add("mul", total, 1)
    doubled = program.add("add", product, product)
    # `product` feeds two different nodes: its _backward must run once, after both have run theirs.
    branch = program.add("mul", product, 1)
    program.add("sub", program.add("add", doubled, branch), 0)
    result = _run(student, autograd, program, ACCUMULATE)
    _compare(result, program, autograd, tolerance, ACCUMULATE, request)


@pytest.mark.parametrize("number", range(1, 5), ids=[f"expression-{i}" for i in range(1, 5)])
def test_value_random_expression(student, autograd, rng, tolerance, request, number):
    """A random expression graph (every operation, reused nodes) gives the reference output and gradients"""
    program = autograd.random_program(rng)
    result = _run(student, autograd, program, "This expression uses every operation once or more: the "
                                              "single-operation checks show which one fails.")
    _compare(result, program, autograd, tolerance, ACCUMULATE, request)


@pytest.mark.parametrize("label", [0, 1], ids=["y=0", "y=1"])
def test_value_logistic_regression_loss(student, autograd, rng, tolerance, request, label):
    """The logistic-regression loss of one sample: dloss/dw = (a - y) x and dloss/db = a - y"""
    weights = [round(float(v), 4) for v in rng.normal(0.0, 0.8, size=3)]
    features = [round(float(v), 4) for v in rng.normal(0.0, 1.0, size=3)]
    bias = round(float(rng.normal(0.0, 0.5)), 4)
    program = autograd.program(["w1", "w2", "w3", "b"], weights + [bias])
    z = 3
    for i, x in enumerate(features):
        z = program.add("add", z, program.add("mul_number", i, c=x))
    a = program.add("number_div", program.add("number_add", program.add("exp", program.add("neg", z)), c=1.0),
                    c=1.0)
    log_a = program.add("number_mul", program.add("log", a), c=float(label))
    log_not_a = program.add("number_mul", program.add("log", program.add("number_sub", a, c=1.0)),
                            c=float(1 - label))
    program.add("neg", program.add("add", log_a, log_not_a))
    hint = ("a = 1 / (1 + exp(-z)) and loss = -(y log a + (1 - y) log(1 - a)) need __rtruediv__, __radd__, "
            "__rsub__, __rmul__, __neg__, exp and log; each gradient here should be (a - y) times its input.")
    result = _run(student, autograd, program, hint)
    _compare(result, program, autograd, tolerance, hint, request)

"""R2: a reverse-mode autodiff engine, `Value`, against the reference on the same expression graphs.

Each expression is built inside the sandbox with the student's Value from a
plain-data program (reference/value_graphs.py), backpropagated, and read back
as plain numbers; the trusted side builds the same program with the reference
Value. The student's own forward is also differentiated numerically, so a
message can say whether the forward value or the backward pass is wrong.

Each mistake is charged where it lives (issue 10):

- every operation is tried alone (``x0 ** 3``) and with its operand used
  again (``x0 ** 3 + x0``), once per grading run (the `engine` fixture);
- the checks that combine operations use only operations that passed on
  their own: a missing log() costs log's checks, not the random expressions;
  the logistic loss spells ``1 - a`` as ``Value(1.0) - a`` for an engine
  without number operands and ``1 / d`` as ``d ** -1`` or ``exp(-log(d))``
  for one whose division fails, and is not graded only when it cannot be
  written without an operation that fails (exp, log);
- when no operation gives the right gradients although they compute the
  right values, the fault is in what they share, backward(): one check says
  so and the others are not graded, instead of a hint per operation;
- the random expressions draw only from operations that passed alone and
  reused, and every one of them exposes ``=`` instead of ``+=`` in each
  operation it uses and a backward() without a topological order, on every
  seed (value_graphs.random_program).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from grader.checking import CheckFailure, NotGraded, StudentCodeError, StudentCodeTimeout, record
from reference.value_graphs import (BINARY_KINDS, CONSTANT, KIND_TEXT, OPERATION_KINDS, UNARY_KINDS, reused_program,
                                    single_program)

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
# After this many operations ran out of time, the others are not tried (each would wait a whole call timeout).
MAX_TIMEOUTS = 3
BACKWARD_TITLE = "backward() starts from grad 1 at the output and applies each operation's chain rule once"


@pytest.fixture(scope="module")
def tolerance(assignment) -> tuple[float, float]:
    """(rtol, atol) for the student's values: float64 arithmetic, done in a different order."""
    return float(assignment.setting("value_rtol")), float(assignment.setting("value_atol"))


def _run(student, autograd, program, hint: str | None) -> dict:
    """The student's results for `program`; an exception names the step and carries `hint`."""
    student.resolve("Value")  # a missing class is said plainly, not as a failed build
    try:
        return autograd.student(student, program)
    except StudentCodeError as error:
        raise StudentCodeError(f"Building the expression with your Value failed: {error.message} (the "
                               f"expression: {program.describe()})", hint=hint or error.hint,
                               details=error.details) from None


def _compare(result: dict, program, expected: tuple[float, list[float]], tolerance, hint: str | None,
             fd_step: float) -> None:
    """Fail with the forward value or the gradients that differ from the reference, and a hint.

    The finding comes first and the expression after it: a long random
    expression must not push what went wrong out of a shortened message.
    """
    rtol, atol = tolerance
    expected_out, expected_grads = expected
    built = f" (the expression: {program.describe()})"
    if not isinstance(result["data"], float):
        raise CheckFailure(f"The output's .data is {result['data']}; expected a number{built}.",
                           hint="Store the plain number in .data: Value(self.data + other.data, ...).")
    if not np.isclose(result["data"], expected_out, rtol=rtol, atol=atol):
        raise CheckFailure(f"The output's .data is {result['data']:.8g}; expected {expected_out:.8g}. The forward "
                           f"computation is wrong, so its gradients were not compared{built}.", hint=hint)
    wrong = []
    for name, got, want, (up, down) in zip(program.names, result["grads"], expected_grads, result["fd"]):
        if not isinstance(got, float):
            raise CheckFailure(f"{name}.grad is {got}; expected a number{built}.",
                               hint="Keep .grad a plain float: start it at 0.0 and add plain numbers to it.")
        if not np.isclose(got, want, rtol=rtol, atol=atol):
            numeric = (up - down) / (2 * fd_step) if isinstance(up, float) and isinstance(down, float) else None
            own = f"; finite differences of your own forward give {numeric:.6g}" if numeric is not None else ""
            wrong.append(f"{name}.grad is {got:.8g}, expected {want:.8g}{own}")
    if wrong:
        raise CheckFailure(f"The output is right but the gradients are not: {'; '.join(wrong)}{built}.", hint=hint)


# ---------------------------------------------------------------- every operation, once per run


@dataclass
class Trial:
    """One program run with the student's Value: its numbers (None when the build raised), what the
    reference expects, and the failure (None when everything matched)."""

    program: object
    expected: tuple[float, list[float]]
    result: dict | None = None
    failure: CheckFailure | None = None
    forward_right: bool = False  # the build ran and the output's .data is the reference's

    @property
    def passed(self) -> bool:
        """Output and gradients match the reference."""
        return self.result is not None and self.failure is None

    @property
    def only_gradients_wrong(self) -> bool:
        """The output is right and every gradient is a number, but some gradient is wrong."""
        return (self.forward_right and self.failure is not None
                and all(isinstance(g, float) for g in self.result["grads"]))

    def details(self) -> dict:
        """What the report shows of this trial."""
        out, grads = self.expected
        details = {"expression": self.program.describe(), "expected_output": out, "expected_grads": grads}
        if self.result is not None:
            details.update(output=self.result["data"], grads=self.result["grads"])
        return details

    def report(self, request) -> None:
        """Record the details, and fail as the trial did."""
        record(request, **self.details())
        if self.failure is not None:
            raise self.failure


def _trial(student, autograd, program, hint: str | None, tolerance) -> Trial:
    out, grads, _ = autograd.reference(program)
    trial = Trial(program, (out, grads))
    try:
        trial.result = _run(student, autograd, program, hint)
        data = trial.result["data"]
        trial.forward_right = isinstance(data, float) and bool(np.isclose(data, out, rtol=tolerance[0],
                                                                          atol=tolerance[1]))
        _compare(trial.result, program, trial.expected, tolerance, hint, autograd.fd_step)
    except CheckFailure as failure:
        trial.failure = failure
    return trial


# The method each kind runs, for hints.
METHOD = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "add_number": "__add__",
          "sub_number": "__sub__", "mul_number": "__mul__", "div_number": "__truediv__", "number_add": "__radd__",
          "number_sub": "__rsub__", "number_mul": "__rmul__", "number_div": "__rtruediv__", "pow": "__pow__",
          "neg": "__neg__", "exp": "exp()", "log": "log()"}


def _written(program) -> str:
    """A program's output as one expression of its leaves (``(x0 ** 3) + x0``), for hints."""
    texts = list(program.names)
    for kind, a, b, c, _ in program.steps:
        c_text = f"({c})" if c is not None and c < 0 else str(c)
        if kind == CONSTANT:
            texts.append(f"Value({c_text})")
            continue
        inner = KIND_TEXT[kind].format(a=texts[a], b=texts[b] if b is not None else "", c=c_text)
        texts.append(inner if len(program.steps) == 1 or kind in UNARY_KINDS else f"({inner})")
    return texts[-1][1:-1] if texts[-1].startswith("(") and texts[-1].endswith(")") else texts[-1]


# Operations commonly written with others (micrograd's way), the parts they use, and how to build the same
# numbers from those parts on the single-operation program's leaves.
_COMPOSED = {
    "div": [(("mul", "pow"), lambda p: p.add("mul", 0, p.add("pow", 1, c=-1)))],
    "number_div": [(("number_mul", "pow"), lambda p: p.add("number_mul", p.add("pow", 0, c=-1), c=2.5))],
    "sub": [(("add", "neg"), lambda p: p.add("add", 0, p.add("neg", 1)))],
    "number_sub": [(("add_number", "neg"), lambda p: p.add("add_number", p.add("neg", 0), c=2.5))],
    "neg": [(("mul_number",), lambda p: p.add("mul_number", 0, c=-1.0))],
}
# The operations between Values an operation with a plain number may wrap the number for (2.5 / v as
# Value(2.5) / v): its composition then, and the logistic loss's fallback for an engine without number operands.
WRAPPED = {"mul_number": "mul", "number_mul": "mul", "add_number": "add", "number_add": "add", "sub_number": "sub",
           "number_sub": "sub", "div_number": "div", "number_div": "div"}


def _wrapping(kind: str, between: str):
    """`kind` with the number 2.5 built by wrapping the number: Value(2.5) / x0, x0 / Value(2.5)."""
    if kind.startswith("number_"):
        return lambda p: p.add(between, p.add(CONSTANT, c=2.5), 0)
    return lambda p: p.add(between, 0, p.add(CONSTANT, c=2.5))


COMPOSITIONS = {kind: _COMPOSED.get(kind, []) + ([((WRAPPED[kind],), _wrapping(kind, WRAPPED[kind]))]
                                                  if kind in WRAPPED else [])
                for kind in OPERATION_KINDS if kind in _COMPOSED or kind in WRAPPED}


def _same_numbers(one: dict, other: dict) -> bool:
    """Whether two runs of the student's Value gave the same output and leaf gradients."""
    numbers = [one["data"], *one["grads"]], [other["data"], *other["grads"]]
    return all(isinstance(v, float) for v in numbers[0] + numbers[1]) and \
        bool(np.allclose(numbers[0], numbers[1], rtol=1e-9, atol=1e-12))


def _reuse_hint(kind: str, program) -> str:
    return (f"{METHOD[kind]} must add its share to its operand's gradient (+=), never assign it (=): in "
            f"{_written(program)} the operand also gets a share from its other use, which an assignment "
            f"overwrites. If {METHOD[kind]} is built from other operations (a / b as a * b ** -1), the assignment "
            f"may be in one of those. {OPERATIONS[kind]}")


class Engine:
    """The student's Value tried on every operation alone and reused, once per grading run."""

    def __init__(self, student, autograd, rng: np.random.Generator, tolerance) -> None:
        self.timeouts = 0
        self.values = {kind: [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)] for kind in OPERATION_KINDS}
        self.alone = {kind: self._try(student, autograd, single_program(kind, self.values[kind]), OPERATIONS[kind],
                                      tolerance) for kind in OPERATION_KINDS}
        self.backward_fault = self._backward_fault()
        if self.backward_fault is None:
            self._name_building_blocks(student, autograd)
        usable = self.usable()
        self.reused = {}
        for kind in OPERATION_KINDS:
            program = reused_program(kind, self.values[kind], usable) if kind in usable else None
            if program is not None and self.backward_fault is None:
                self.reused[kind] = self._try(student, autograd, program, _reuse_hint(kind, program), tolerance)

    def _name_building_blocks(self, student, autograd) -> None:
        """For an operation that fails alone exactly as its usual composition does with this Value (x / y as
        x * y ** -1), one of whose parts fails its own check, say in its hint that the fix is in that part.

        A wrong __pow__ otherwise sent the student to __truediv__ and __rtruediv__, which were right."""
        for kind, ways in COMPOSITIONS.items():
            trial = self.alone[kind]
            if trial.passed or trial.result is None:
                continue
            for parts, build in ways:
                broken = [p for p in parts if not self.alone[p].passed]
                if broken and self._composed_alike(student, autograd, trial, build):
                    break
            else:
                continue
            composed = autograd.program(list(trial.program.names), list(trial.program.leaves))
            build(composed)
            shown = " and ".join(f"`{KIND_TEXT[p].format(a='x', b='y', c='c')}`" for p in broken)
            failure = trial.failure
            trial.failure = type(failure)(failure.message, details=failure.details, hint=(
                f"Your {_written(trial.program)} gives exactly what {_written(composed)} gives with your Value, and "
                f"{shown} fail{'s' if len(broken) == 1 else ''} on its own: if {METHOD[kind]} is built on "
                f"{' and '.join(METHOD[p] for p in broken)}, fix that first (see its check)."))

    @staticmethod
    def _composed_alike(student, autograd, trial: Trial, build) -> bool:
        """Whether the student's Value gives the failed trial's very numbers when the same leaves go through
        `build`'s composition instead."""
        program = autograd.program(list(trial.program.names), list(trial.program.leaves))
        build(program)
        try:
            return _same_numbers(autograd.student(student, program), trial.result)
        except CheckFailure:
            return False

    def _try(self, student, autograd, program, hint: str, tolerance) -> Trial:
        """A trial, unless the student's Value already ran out of time MAX_TIMEOUTS times: a Value that hangs
        must not cost a call timeout per operation."""
        if self.timeouts >= MAX_TIMEOUTS:
            out, grads, _ = autograd.reference(program)
            return Trial(program, (out, grads), failure=StudentCodeTimeout(
                f"Not run: your Value ran out of time on {self.timeouts} operations already.",
                hint="Look for a loop that never ends in Value or backward()."))
        trial = _trial(student, autograd, program, hint, tolerance)
        self.timeouts += isinstance(trial.failure, StudentCodeTimeout)
        return trial

    def usable(self) -> set[str]:
        """The operations that pass on their own."""
        return {kind for kind, trial in self.alone.items() if trial.passed}

    def sound(self) -> set[str]:
        """The operations that pass on their own and with a reused operand."""
        return {kind for kind, trial in self.reused.items() if trial.passed} & self.usable()

    def computed(self) -> list[Trial]:
        """The single operations whose value is right (their gradients may be wrong), in OPERATION_KINDS order."""
        return [t for t in self.alone.values() if t.forward_right]

    def _backward_fault(self) -> CheckFailure | None:
        """A failure naming backward() when every operation that computes the right value gets wrong
        gradients (at least two of them, none right): what they all share is backward()."""
        computed = [t for t in self.computed() if t.passed or t.only_gradients_wrong]
        if len(computed) < 2 or any(t.passed for t in computed):
            return None
        seen = []
        for kind in ("add", "mul"):
            trial = self.alone[kind]
            if trial in computed:
                got = ", ".join(f"{n}.grad = {g:.6g}" for n, g in zip(trial.program.names, trial.result["grads"]))
                want = ", ".join(f"{g:.6g}" for g in trial.expected[1])
                seen.append(f"{trial.program.steps[-1][4].split(' = ', 1)[1]} gives {got} (expected {want})")
        factors = {round(g / w, 6) for t in computed if t is self.alone.get("add")
                   for g, w in zip(t.result["grads"], t.expected[1])}
        if factors == {2.0}:
            why = ("every gradient one step from the output comes out doubled: backward() runs each node's "
                   "_backward twice (a second loop or a second pass over the graph?) or starts from grad 2")
        elif factors == {0.0}:
            why = ("no gradient reaches the inputs: backward() must set the output's grad to 1 and then call "
                   "every node's _backward (and each operation must attach its _backward to the node it returns)")
        else:
            why = "the mistake is in what every operation shares"
        return CheckFailure(
            f"All {len(computed)} operations that compute the right value on their own get wrong gradients"
            f"{': ' + '; '.join(seen) if seen else ''}. So {why}.",
            hint="Fix backward(): set self.grad = 1 on the output, build a topological order of the graph once, "
                 "and call each node's _backward exactly once, from the output back to the leaves. The "
                 "operations themselves are not judged until backward() works.")

    def require_backward(self) -> None:
        """Not graded (with the reason) when backward() is at fault."""
        if self.backward_fault is not None:
            raise NotGraded(f"Not graded until \u201c{BACKWARD_TITLE}\u201d passes: every gradient goes through "
                            f"backward().")

    def require(self, kinds: list[str], why: str) -> None:
        """Not graded (naming them) when one of `kinds` fails on its own."""
        self.require_backward()
        broken = [kind for kind in kinds if kind not in self.usable()]
        if broken:
            shown = ", ".join(f"`{KIND_TEXT[k].format(a='x', b='y', c='2')}`" for k in broken)
            raise NotGraded(f"Not graded: {why} needs {shown}, which fail{'s' if len(broken) == 1 else ''} on "
                            f"{'its' if len(broken) == 1 else 'their'} own (see the single-operation checks).")


@pytest.fixture(scope="module")
def engine(student, autograd, module_rng, tolerance) -> Engine:
    """Every operation of the student's Value tried alone and reused, once for all the checks."""
    return Engine(student, autograd, module_rng, tolerance)


# ---------------------------------------------------------------- the checks


@pytest.mark.public
def test_value_holds_data_and_starts_with_zero_grad(engine, student, request):
    """Value(x) keeps x in .data, and .grad is 0 until backward() runs"""
    student.resolve("Value")
    computed = engine.computed()
    if not computed:
        raise NotGraded("Not graded: no operation of your Value computes the right value on its own, so there is "
                        "no expression to watch .data and .grad in (see the single-operation checks).")
    # Watched in the first operation that computes its value, operations between Values first: plain-number
    # operands are charged by their own checks.
    trial = computed[0]
    built = trial.program.steps[-1][4].split(" = ", 1)[1]
    record(request, expression=trial.program.describe(), leaf_data=trial.result["leaf_data"],
           grad_before_backward=trial.result["before"])
    for name, value, data, grad in zip(trial.program.names, trial.program.leaves, trial.result["leaf_data"],
                                       trial.result["before"]):
        if not (isinstance(data, float) and np.isclose(data, value)):
            raise CheckFailure(f"{name} = Value({value}): {name}.data is {data} after {built}; expected {value}.",
                               hint="Store the number: self.data = data, and never change it in an operation.")
        if grad != 0.0:
            raise CheckFailure(f"{name} = Value({value}): after {built} and before backward(), {name}.grad is "
                               f"{grad}; expected 0.", hint="Start every node with self.grad = 0.0.")


@pytest.mark.public
def test_value_backward_starts_at_one_and_runs_once(engine, student, request):
    """backward() starts from grad 1 at the output and applies each operation's chain rule once"""
    student.resolve("Value")
    record(request, operations_right_alone=sorted(engine.usable()))
    if engine.backward_fault is not None:
        raise engine.backward_fault
    if not any(trial.result is not None for trial in engine.alone.values()):
        raise NotGraded("No operation of your Value could be computed on its own, so backward() could not be "
                        "judged: the single-operation checks say why.")


@pytest.mark.public
@pytest.mark.parametrize("kind", OPERATION_KINDS)
def test_value_operation(engine, request, kind):
    """One operation of Value gives the reference output and gradients"""
    engine.require_backward()
    engine.alone[kind].report(request)


@pytest.mark.public
@pytest.mark.parametrize("kind", OPERATION_KINDS)
def test_value_reused_operand(engine, request, kind):
    """An operation whose operand is used again (x ** 3 + x) adds to that operand's gradient"""
    engine.require([kind], "the reuse of its operand")
    if kind not in engine.reused:
        engine.require(["add", "mul"], "using the operand again")
    engine.reused[kind].report(request)


def test_value_accumulates_over_reused_nodes(engine, student, autograd, rng, tolerance, request):
    """A node used several times (x * x, n + n, one node feeding two others) collects the sum of its gradients"""
    engine.require(["add", "mul"], "this graph")
    values = [round(float(v), 4) for v in rng.uniform(0.5, 2.0, size=2)]
    program = autograd.program(["x0", "x1"], values)
    square = program.add("mul", 0, 0)
    total = program.add("add", square, program.add("mul", 0, 1))
    product = program.add("mul", total, 1)
    doubled = program.add("add", product, product)
    # `product` feeds two different nodes: its _backward must run once, after both have run theirs.
    branch = program.add("mul", product, 1)
    program.add("mul", program.add("add", doubled, branch), 0)
    _trial(student, autograd, program, ACCUMULATE, tolerance).report(request)


@pytest.mark.parametrize("number", range(1, 5), ids=[f"expression-{i}" for i in range(1, 5)])
def test_value_random_expression(engine, student, autograd, rng, tolerance, request, number):
    """A random expression graph (every operation that works alone, each operand reused) gives the reference
    output and gradients"""
    engine.require_backward()
    kinds = sorted(engine.sound())
    if not set(kinds) & set(BINARY_KINDS):
        raise NotGraded("Not graded: a random expression needs one of x + y, x - y, x * y, x / y working alone and "
                        "with a reused operand (see the single-operation and reuse checks).")
    program = autograd.random_program(rng, kinds)
    left_out = [k for k in OPERATION_KINDS if k not in kinds]
    record(request, operations=kinds, operations_left_out=left_out)
    _trial(student, autograd, program, ACCUMULATE, tolerance).report(request)


LOSS_HINT = ("a = 1 / (1 + exp(-z)) and loss = -(y log a + (1 - y) log(1 - a)); each gradient here should be "
             "(a - y) times its input.")
# Ways to write a step with a plain number using what works: the number on the other side, or the number
# wrapped in a Value first (WRAPPED: the Value-only operation), for an engine whose operators take only Values.
SWAPPED = {"mul_number": "number_mul", "number_mul": "mul_number", "add_number": "number_add",
           "number_add": "add_number"}


def _with_number(engine: Engine, program, kind: str, a: int, c: float) -> int:
    """`kind` of node `a` and the number `c`, written with operations that pass on their own."""
    usable = engine.usable()
    if kind in usable:
        return program.add(kind, a, c=c)
    if SWAPPED.get(kind) in usable:
        return program.add(SWAPPED[kind], a, c=c)
    engine.require([WRAPPED[kind]], "the logistic loss")
    constant = program.add(CONSTANT, c=c)
    return program.add(WRAPPED[kind], *((constant, a) if kind.startswith("number_") else (a, constant)))


def _reciprocal(engine: Engine, program, d: int) -> int:
    """1 / d for a node d > 0, written with operations that pass on their own: 1 / d, d ** -1, or exp(-log(d))
    (the loss needs exp and log anyway), so that a wrong division or power is charged in its own checks only."""
    usable = engine.usable()
    if {"number_div", "div"} & usable:
        return _with_number(engine, program, "number_div", d, 1.0)
    if "pow" in usable:
        return program.add("pow", d, c=-1)
    log_d = program.add("log", d)
    return program.add("exp", program.add("neg", log_d) if "neg" in usable else
                       _with_number(engine, program, "mul_number", log_d, -1.0))


@pytest.mark.parametrize("label", [0, 1], ids=["y=0", "y=1"])
def test_value_logistic_regression_loss(engine, student, autograd, rng, tolerance, request, label):
    """The logistic-regression loss of one sample: dloss/dw = (a - y) x and dloss/db = a - y"""
    engine.require(["add", "exp", "log"], "the logistic loss")
    weights = [round(float(v), 4) for v in rng.normal(0.0, 0.8, size=3)]
    features = [round(float(v), 4) for v in rng.normal(0.0, 1.0, size=3)]
    bias = round(float(rng.normal(0.0, 0.5)), 4)
    program = autograd.program(["w1", "w2", "w3", "b"], weights + [bias])
    z = 3
    for i, x in enumerate(features):
        z = program.add("add", z, _with_number(engine, program, "mul_number", i, x))
    minus_z = program.add("neg", z) if "neg" in engine.usable() else _with_number(engine, program, "mul_number",
                                                                                   z, -1.0)
    denominator = _with_number(engine, program, "number_add", program.add("exp", minus_z), 1.0)
    a = _reciprocal(engine, program, denominator)
    log_a = _with_number(engine, program, "number_mul", program.add("log", a), float(label))
    log_not_a = _with_number(engine, program, "number_mul",
                             program.add("log", _with_number(engine, program, "number_sub", a, 1.0)),
                             float(1 - label))
    total = program.add("add", log_a, log_not_a)
    if "neg" in engine.usable():
        program.add("neg", total)
    else:
        _with_number(engine, program, "mul_number", total, -1.0)
    _trial(student, autograd, program, LOSS_HINT, tolerance).report(request)

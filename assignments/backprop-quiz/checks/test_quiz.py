"""The quiz: worked examples 1 and 2, B1, B2, B5 and the four exam questions.

Numbers are compared to 1e-3 relative (ASSIGNMENTS.md), shapes and letters
exactly. Messages say what came back, which part is wrong, and a hint about
the method; they do not print the right answer, so a report does not hand it
to the next submission.
"""

from __future__ import annotations

import math

import pytest

from grader.checking import CheckFailure, record

# Worked example 2, as the question states it.
EX2_X, EX2_W, EX2_B, EX2_Y, EX2_LR = (2.0, 3.0), (0.5, -0.3), 0.1, 1.0, 0.1
# B1's fixed points; two more are drawn per run.
B1_POINTS = [(1.0, 2.0), (-2.0, 3.0), (0.5, -1.5)]
B2_NAMES = ["X", "W1", "b1", "Z1", "A1", "W2", "b2", "Z2", "A2", "dZ2", "dW2", "db2", "dZ1", "dW1", "db1"]
LETTERS = "ABCD"


def _numbers(quiz, value, name: str, count: int, meaning: str) -> tuple[float, ...]:
    """The answer as `count` numbers (tuple, list or array), or a failure saying what it is instead."""
    problem = None
    if not isinstance(value, (tuple, list)):
        problem = "not a tuple"
    elif len(value) != count:
        problem = f"{len(value)} values, not {count}"
    elif not all(quiz.is_number(v) for v in value):
        problem = "not all of its values are numbers"
    if problem:
        raise CheckFailure(f"{name} is {quiz.describe(value)}: {problem}; expected a tuple of {count} numbers "
                           f"{meaning}.", hint=f"Write e.g. {name} = ({', '.join(['0.0'] * count)}) with your values.")
    return tuple(float(v) for v in value)


def _matches(quiz, got: tuple[float, ...], candidate: tuple[float, ...]) -> bool:
    return all(quiz.close(g, c) for g, c in zip(got, candidate))


def _compare_tuple(quiz, name: str, got: tuple[float, ...], expected: tuple[float, ...], labels: list[str],
                   hint: str, request) -> None:
    record(request, answer=list(got))
    wrong = [label for label, g, e in zip(labels, got, expected) if not quiz.close(g, e)]
    if wrong:
        verb = "is" if len(wrong) == 1 else "are"
        raise CheckFailure(f"{name} = {quiz.describe(got)}: {', '.join(wrong)} {verb} not right (numbers are "
                           f"compared to {quiz.rtol:g} relative).", hint=hint)


def test_ex1_grads(student, quiz, ref, request):
    """Worked example 1: EX1_GRADS = (df/dx, df/dy, df/dz) for f = (x + y) z at (-2, 5, -4)"""
    got = _numbers(quiz, quiz.value(student, "EX1_GRADS"), "EX1_GRADS", 3, "(df/dx, df/dy, df/dz)")
    expected = tuple(ref.EX1_GRADS)
    hint = "With q = x + y and f = q z: df/dx = df/dq * dq/dx = z * 1, df/dy = z * 1, and df/dz = q."
    if _matches(quiz, got, tuple(-e for e in expected)):
        hint = "Every sign is flipped. " + hint
    elif sorted(got) == sorted(expected) and got != expected:
        hint = "The values are in the wrong order: EX1_GRADS = (df/dx, df/dy, df/dz)."
    _compare_tuple(quiz, "EX1_GRADS", got, expected, ["df/dx", "df/dy", "df/dz"], hint, request)


def test_ex2_updated(student, quiz, ref, request):
    """Worked example 2: EX2_UPDATED = (w1, w2, b) after one gradient step with learning rate 0.1"""
    got = _numbers(quiz, quiz.value(student, "EX2_UPDATED"), "EX2_UPDATED", 3, "(w1, w2, b)")
    expected = tuple(ref.EX2_UPDATED)
    a = 1.0 / (1.0 + math.exp(-(EX2_W[0] * EX2_X[0] + EX2_W[1] * EX2_X[1] + EX2_B)))
    dz = a - EX2_Y
    gradients = (dz * EX2_X[0], dz * EX2_X[1], dz)
    start = (EX2_W[0], EX2_W[1], EX2_B)
    hint = "dz = a - y, dw = dz * x, db = dz; then w := w - 0.1 * dw and b := b - 0.1 * db."
    if _matches(quiz, got, tuple(p + EX2_LR * g for p, g in zip(start, gradients))):
        hint = "A gradient step goes against the gradient: w := w - learning_rate * dw (you added it)."
    elif _matches(quiz, got, tuple(p - g for p, g in zip(start, gradients))):
        hint = "Multiply the gradient by the learning rate 0.1 before subtracting it."
    elif _matches(quiz, got, gradients):
        hint = "EX2_UPDATED holds the parameters after the step, not the gradients dw1, dw2, db."
    _compare_tuple(quiz, "EX2_UPDATED", got, expected, ["w1", "w2", "b"], hint, request)


def _b1_points(rng) -> list[tuple[float, float]]:
    """The fixed points and two drawn ones, all away from zeros of either derivative."""
    points = list(B1_POINTS)
    while len(points) < len(B1_POINTS) + 2:
        x, y = (round(float(v), 3) for v in rng.uniform(-3.0, 3.0, size=2))
        if abs(y) > 0.3 and abs(2 * x + 3 * y) > 0.3 and abs(x + 6 * y) > 0.3 and abs(x) > 0.3:
            points.append((x, y))
    return points


def _check_b1(student, quiz, ref, rng, request, name: str, other: str) -> None:
    points = _b1_points(rng)
    got = quiz.evaluate(student, name, points)
    expected = [getattr(ref, name)(x, y) for x, y in points]
    record(request, points=points, answers=[g if quiz.is_number(g) else str(g) for g in got])
    for (x, y), g, e in zip(points, got, expected):
        if not quiz.is_number(g):
            raise CheckFailure(f"{name}({x:g}, {y:g}) returned {quiz.describe(g)}; expected a number.",
                               hint="Return the value of the derivative as a float.")
    wrong = [(p, g) for p, g, e in zip(points, got, expected) if not quiz.close(g, e)]
    if not wrong:
        return
    swapped = [getattr(ref, other)(x, y) for x, y in points]
    value_of_f = [x * x * y + 3 * x * y * y for x, y in points]
    hint = (f"f(x, y) = x^2 y + 3 x y^2: differentiate each term with respect to "
            f"{'x (y is a constant)' if name.endswith('DX') else 'y (x is a constant)'}.")
    if all(quiz.close(g, s) for g, s in zip(got, swapped)):
        hint = f"{name} returns the other partial derivative ({other}'s); swap them."
    elif all(quiz.close(g, f) for g, f in zip(got, value_of_f)):
        hint = f"{name} returns f itself; return its partial derivative."
    shown = "; ".join(f"{name}({x:g}, {y:g}) = {quiz.describe(g)}" for (x, y), g in wrong[:3])
    raise CheckFailure(f"{name} is wrong at {len(wrong)} of {len(points)} points: {shown}.", hint=hint)


def test_b1_df_dx(student, quiz, ref, rng, request):
    """B1: B1_DF_DX(x, y) computes df/dx of f = x^2 y + 3 x y^2 at several points"""
    _check_b1(student, quiz, ref, rng, request, "B1_DF_DX", "B1_DF_DY")


def test_b1_df_dy(student, quiz, ref, rng, request):
    """B1: B1_DF_DY(x, y) computes df/dy of f = x^2 y + 3 x y^2 at several points"""
    _check_b1(student, quiz, ref, rng, request, "B1_DF_DY", "B1_DF_DX")


@pytest.mark.parametrize("array", B2_NAMES)
def test_b2_shapes(student, quiz, ref, array):
    """B2: the shape of one array for n_x = 3, n_h = 4, n_y = 1, m = 5"""
    shapes = quiz.value(student, "B2_SHAPES")
    if not isinstance(shapes, dict):
        raise CheckFailure(f"B2_SHAPES is {quiz.describe(shapes)}; expected a dict from array names to shape "
                           f"tuples.", hint='Write B2_SHAPES = {"X": (3, 5), "W1": (..., ...), ...}.')
    if array not in shapes:
        keys = ", ".join(sorted(str(k) for k in shapes)[:20]) or "none"
        raise CheckFailure(f"B2_SHAPES has no entry {array!r} (its keys: {keys}).",
                           hint="Use the names exactly as the question writes them, as strings: X, W1, b1, Z1, "
                                "A1, W2, b2, Z2, A2, dZ2, dW2, db2, dZ1, dW1, db1.")
    got = shapes[array]
    if not (isinstance(got, (tuple, list)) and all(isinstance(d, int) and not isinstance(d, bool) for d in got)):
        raise CheckFailure(f"B2_SHAPES[{array!r}] is {quiz.describe(got)}; expected a shape, a tuple of integers "
                           f"such as (3, 5).")
    if tuple(got) != tuple(ref.B2_SHAPES[array]):
        hint = ("A gradient has the shape of what it differentiates (dW1 like W1, dZ2 like Z2)."
                if array.startswith("d") else
                "Column-major conventions: X is (n_x, m), W[l] is (n_l, n_{l-1}), b[l] is (n_l, 1), Z[l] and A[l] "
                "are (n_l, m).")
        if tuple(got) == tuple(ref.B2_SHAPES[array])[::-1]:
            hint = "That is the transposed shape. " + hint
        raise CheckFailure(f"B2_SHAPES[{array!r}] = {quiz.describe(tuple(got))} is not the shape of {array}.",
                           hint=hint)


def _check_b5(student, quiz, ref, request, name: str, wrong_answers: dict[str, float], hint: str) -> None:
    value = quiz.value(student, name)
    if not quiz.is_number(value):
        raise CheckFailure(f"{name} is {quiz.describe(value)}; expected a number.",
                           hint=f"Assign the number itself: {name} = ...")
    record(request, answer=value)
    if quiz.close(value, getattr(ref, name)):
        return
    for explanation, candidate in wrong_answers.items():
        if quiz.close(value, candidate):
            hint = explanation
            break
    raise CheckFailure(f"{name} = {quiz.describe(value)} is not right (compared to {quiz.rtol:g} relative).",
                       hint=hint)


def _f(theta: float) -> float:
    return theta ** 3 + 2 * theta


def test_b5_numerical(student, quiz, ref, request):
    """B5: B5_NUMERICAL, the two-sided numerical derivative of theta^3 + 2 theta at 2 with eps = 0.01"""
    _check_b5(student, quiz, ref, request, "B5_NUMERICAL", {
        "That is the one-sided difference (f(theta + eps) - f(theta)) / eps; the chapter's check uses the two-sided "
        "(f(theta + eps) - f(theta - eps)) / (2 eps).": (_f(2.01) - _f(2.0)) / 0.01,
        "Divide by 2 eps = 0.02, the distance between theta + eps and theta - eps.": (_f(2.01) - _f(1.99)) / 0.01,
    }, "Compute (f(2.01) - f(1.99)) / 0.02 with f(theta) = theta^3 + 2 theta.")


def test_b5_analytical(student, quiz, ref, request):
    """B5: B5_ANALYTICAL, the exact derivative of theta^3 + 2 theta at theta = 2"""
    _check_b5(student, quiz, ref, request, "B5_ANALYTICAL", {
        "The derivative of 2 theta is 2: f'(theta) = 3 theta^2 + 2.": 3 * 2.0 ** 2,
        "That is f(2), not f'(2).": _f(2.0),
    }, "f'(theta) = 3 theta^2 + 2, evaluated at theta = 2.")


def test_b5_error(student, quiz, ref, request):
    """B5: B5_ERROR, the error of the numerical derivative (the eps^2 term)"""
    _check_b5(student, quiz, ref, request, "B5_ERROR", {
        "B5_ERROR is the absolute difference |numerical - analytical|, not relative to the analytical value.":
            abs(ref.B5_NUMERICAL - ref.B5_ANALYTICAL) / ref.B5_ANALYTICAL,
        "That is the one-sided difference's error; the two-sided difference's is far smaller.":
            abs((_f(2.01) - _f(2.0)) / 0.01 - ref.B5_ANALYTICAL),
    }, "B5_ERROR = |B5_NUMERICAL - B5_ANALYTICAL|: for this cubic it is exactly the eps^2 term.")


EXAM_HINTS = {
    1: "For a sigmoid output with cross-entropy loss, dz2 = a2 - y.",
    2: "Each layer multiplies an (n_l, n_{l-1}) matrix by an (n_{l-1}, m) one, forward and backward.",
    3: "dW[l] = (1/m) dZ[l] A[l-1].T: which of the layer's values does that need from the forward pass?",
    4: "Expand J(theta + eps) and J(theta - eps) in Taylor series: in the difference the eps^2 terms cancel.",
}


def _check_exam(student, quiz, ref, request, number: int) -> None:
    answers = quiz.value(student, "EXAM_ANSWERS")
    if not isinstance(answers, dict):
        raise CheckFailure(f"EXAM_ANSWERS is {quiz.describe(answers)}; expected a dict such as "
                           f'{{1: "C", 2: "D", 3: "A", 4: "D"}} (one letter per question).',
                           hint="Key each letter by its question number, so that EXAM_ANSWERS[1] is question 1's.")
    keys = [k for k in (number, str(number), f"Q{number}", f"q{number}") if k in answers]
    if not keys:
        raise CheckFailure(f"EXAM_ANSWERS has no answer for question {number} (its keys: "
                           f"{', '.join(repr(k) for k in list(answers)[:8]) or 'none'}).",
                           hint=f"Key the answers by question number: EXAM_ANSWERS = {{1: ..., 2: ..., 3: ..., 4: ...}}.")
    answer = answers[keys[0]]
    letter = answer.strip().upper().rstrip(").") if isinstance(answer, str) else None
    record(request, answer=answer if isinstance(answer, (str, int, float)) else str(answer))
    if letter not in tuple(LETTERS):
        raise CheckFailure(f"EXAM_ANSWERS[{keys[0]!r}] is {quiz.describe(answer)}; expected one letter, "
                           f"\"A\" to \"D\".", hint="Answer with the letter of the option, e.g. \"C\".")
    if letter != ref.EXAM_ANSWERS[number]:
        raise CheckFailure(f"Exam question {number}: {letter} is not the right option.", hint=EXAM_HINTS[number])


def test_exam_q1_dz2(student, quiz, ref, request):
    """Exam question 1: dz2 for a1 = 0.8, a2 = 0.3, y = 1"""
    _check_exam(student, quiz, ref, request, 1)


def test_exam_q2_cost(student, quiz, ref, request):
    """Exam question 2: the cost of one forward and backward pass"""
    _check_exam(student, quiz, ref, request, 2)


def test_exam_q3_cache(student, quiz, ref, request):
    """Exam question 3: the cached value dW[l] needs"""
    _check_exam(student, quiz, ref, request, 3)


def test_exam_q4_error_order(student, quiz, ref, request):
    """Exam question 4: the error of the two-sided difference"""
    _check_exam(student, quiz, ref, request, 4)

"""Hidden checks: they count in the grade, but the student's self-check does not run them."""

import pytest
from conftest import missing_derivative_hint, random_case

from grader.checking import describe_args, expect_array, expect_unchanged


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (2, 7)], ids=["1x1", "5x1", "2x7"])
def test_sigmoid_backward_any_shape(student, reference, assignment, rng, shape):
    """sigmoid_backward is right for any shape, a single entry included"""
    dA, Z = random_case(rng, shape)
    got = student.sigmoid_backward(dA, Z)
    expect_array(got, reference.sigmoid_backward(dA, Z), name="dZ",
                 call=f"sigmoid_backward({describe_args(dA=dA, Z=Z)})",
                 rtol=assignment.setting("relative_tolerance"),
                 hint=lambda: missing_derivative_hint(got, dA, Z, reference))


def test_sigmoid_backward_leaves_inputs_unchanged(student, rng):
    """sigmoid_backward does not modify dA or Z"""
    dA, Z = random_case(rng, (3, 2))
    expect_unchanged(student, "sigmoid_backward", dA=dA, Z=Z)

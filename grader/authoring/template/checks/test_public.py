"""Public check: the student's self-check (`grader check`) runs it too; the handout's README lists it."""

import pytest
from conftest import missing_derivative_hint, random_case

from grader.checking import describe_args, expect_array


@pytest.mark.public
def test_sigmoid_backward_small_example(student, reference, assignment, rng):
    """sigmoid_backward returns dA * s * (1 - s) on a 3 x 4 example"""
    dA, Z = random_case(rng, (3, 4))
    got = student.sigmoid_backward(dA, Z)
    expect_array(got, reference.sigmoid_backward(dA, Z), name="dZ",
                 call=f"sigmoid_backward({describe_args(dA=dA, Z=Z)})",
                 rtol=assignment.setting("relative_tolerance"),
                 hint=lambda: missing_derivative_hint(got, dA, Z, reference))

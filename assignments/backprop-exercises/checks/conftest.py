"""Shared fixtures of the exercises' checks: the references, random inputs, and calls that may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import reference.backprop_lab as reference_lab
from grader.checking import CheckFailure, kind_of
from grader.sandbox import StudentException
from reference.caches import CacheLayouts
from reference.networks import blame, draw_network, student_forward, student_grads


# The student's passes and the checks that judge them (C3): a later exercise that fails because one of them is
# wrong names it first.
FUNCTION_CHECKS = {
    "L_layer_backward": (("test_any_depth.py::test_backward_*",), "C3: backpropagation for any depth"),
    "L_layer_forward": (("test_any_depth.py::test_forward_*",), "C3: backpropagation for any depth"),
}


@pytest.fixture(scope="session")
def ref(reference: Any) -> Any:
    """The exercises' reference solutions (trusted side only): the assignment's `reference` module
    (a copy made with `grader new NAME --from ...` has its own reference.py)."""
    return reference


@pytest.fixture(scope="session")
def ex() -> "Exercises":
    """Helpers shared by the checks: networks, the student's passes, calls that may raise."""
    return Exercises()


@pytest.fixture(scope="session")
def layouts(student, seed) -> CacheLayouts:
    """The student's cache layouts, learnt from their own L_layer_forward when first needed."""
    return CacheLayouts(student, seed)


@dataclass
class Raised:
    """What a student call raised: the exception's type name and message (no traceback)."""

    type_name: str
    message: str
    raised = True


@dataclass
class Returned:
    """What a student call returned, and what it printed on the way."""

    value: Any
    output: str
    raised = False


class Exercises:
    """Random inputs in the chapter's conventions, the student's L-layer passes, calls that may raise."""

    lab = reference_lab

    @staticmethod
    def call_catching(student: Any, name: str, *args: Any, **kwargs: Any) -> Raised | Returned:
        """Call the student's `name`; an exception it raises is an answer here, not a failure.

        For checks whose expected behaviour is to raise (check_shapes);
        timeouts and crashes fail the check with the usual messages.
        """
        result = student.run_allowing_raise(name, *args, **kwargs)
        if isinstance(result, StudentException):
            return Raised(result.type_name, result.message)
        return Returned(result.value, result.output)

    @staticmethod
    def number(value: Any, call: str, hint: str | None = None) -> float:
        """The student's scalar return value as a float, or a failure naming what it was."""
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(())[()]
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return float(value)
        raise CheckFailure(f"{call} returned {kind_of(value)}; expected one number.", hint=hint)

    # (params, X, Y) that can expose what a check tests: no dead units, large pre-activations (see networks).
    network = staticmethod(draw_network)

    # The student's L_layer_forward, and their gradients from their own caches and backward.
    forward = staticmethod(student_forward)
    grads = staticmethod(student_grads)

    @staticmethod
    def blame(earlier: Any, *functions: str) -> str | None:
        """"Your L_layer_backward fails its own checks (see C3 ...): fix it first." (reference.networks.blame)."""
        return blame(earlier, FUNCTION_CHECKS, *functions)

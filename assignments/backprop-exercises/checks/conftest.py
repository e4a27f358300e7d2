"""Shared fixtures of the exercises' checks: the references, random inputs, and calls that may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import reference.backprop_exercises as reference_exercises
import reference.backprop_lab as reference_lab
from grader.checking import CheckFailure, kind_of
from grader.sandbox import StudentException
from reference.networks import random_data, random_params, student_forward, student_grads


@pytest.fixture(scope="session")
def ref() -> Any:
    """The exercises' reference solutions (trusted side only)."""
    return reference_exercises


@pytest.fixture(scope="session")
def ex() -> "Exercises":
    """Helpers shared by the checks: networks, the student's passes, calls that may raise."""
    return Exercises()


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

    params = staticmethod(random_params)
    data = staticmethod(random_data)

    # The student's L_layer_forward, and their gradients from their own caches and backward.
    forward = staticmethod(student_forward)
    grads = staticmethod(student_grads)

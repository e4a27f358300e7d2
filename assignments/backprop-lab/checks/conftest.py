"""Shared fixtures of the lab's checks: the reference, random inputs, and the student's network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.checking import CheckFailure, kind_of, safe_hint
from reference import diagnose
from reference.networks import random_data, random_params, student_forward, student_grads


@pytest.fixture(scope="session")
def ref(reference: Any) -> Any:
    """The reference implementation (trusted side only): the assignment's `reference` module
    (a copy made with `grader new NAME --from ...` has its own reference.py)."""
    return reference


@pytest.fixture(scope="session")
def lab() -> "Lab":
    """Helpers shared by the lab's checks."""
    return Lab()


class Lab:
    """Random inputs in the chapter's conventions, and the student's network run end to end."""


    params = staticmethod(random_params)
    data = staticmethod(random_data)

    @staticmethod
    def unpack(value: Any, n: int, call: str, expected: str) -> tuple:
        """The student's tuple return value, or a failure saying what came back instead."""
        if isinstance(value, (tuple, list)) and len(value) == n:
            return tuple(value)
        raise CheckFailure(f"{call} returned {kind_of(value)}; expected {expected}.",
                           hint=f"End the function with `return {expected.strip('()')}`.")

    # The student's L_layer_forward, and their gradients from their own caches and backward.
    forward = staticmethod(student_forward)
    grads = staticmethod(student_grads)

    @staticmethod
    def array_hint(name: str, got: Any, expected: np.ndarray, m: int | None = None) -> str | None:
        """The generic hint for an array mismatch (factor m, transposed, sign...)."""
        if not isinstance(got, np.ndarray):
            return None
        return safe_hint(diagnose.diagnose_array, name, got, expected, m=m)

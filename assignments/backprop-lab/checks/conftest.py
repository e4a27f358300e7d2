"""Shared fixtures of the lab's checks: the reference, random inputs, and the student's network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import reference.backprop_lab as reference_lab
from grader.checks import CheckFailure, kind_of
from grader.networks import random_data, random_params, student_forward, student_grads

try:  # hints are a bonus: a check must still grade if the diagnosis module fails to import
    from grader import diagnose
except ImportError:  # pragma: no cover
    diagnose = None


@pytest.fixture(scope="session")
def ref() -> Any:
    """The reference implementation (trusted side only)."""
    return reference_lab


@pytest.fixture(scope="session")
def lab() -> "Lab":
    """Helpers shared by the lab's checks."""
    return Lab()


class Lab:
    """Random inputs in the chapter's conventions, and the student's network run end to end."""

    ref = reference_lab

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
    def hint(function: str, *args: Any) -> str | None:
        """The diagnosis module's hint for a mismatch, or None."""
        if diagnose is None:
            return None
        try:
            result = getattr(diagnose, function)(*args)
        except Exception:  # a diagnosis must never turn a failed check into a grader error
            return None
        if result is None:
            return None
        return f"{result.hint} ({result.evidence})" if getattr(result, "evidence", "") else result.hint

    @staticmethod
    def array_hint(name: str, got: Any, expected: np.ndarray, m: int | None = None) -> str | None:
        """The generic hint for an array mismatch (factor m, transposed, sign...)."""
        if diagnose is None or not isinstance(got, np.ndarray):
            return None
        try:
            return diagnose.diagnose_array(name, got, expected, m=m)
        except Exception:
            return None

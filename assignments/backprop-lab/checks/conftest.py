"""Shared fixtures of the lab's checks: the reference, random inputs, the student's network and cache layouts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.checking import CheckFailure, kind_of, safe_hint
from reference import diagnose
from reference.caches import CacheLayouts
from reference.networks import blame, draw_network, student_forward, student_grads

# The student's functions, the checks that judge each (selectors as in @pytest.mark.requires), and the item
# whose report holds them: a hint of another item names the function first ("fix it first").
FUNCTION_CHECKS = {
    "L_layer_backward": (("test_backward.py::test_L_layer_backward_*",), "Backward pass"),
    "linear_backward": (("test_backward.py::test_linear_backward_*",), "Backward pass"),
    "L_layer_forward": (("test_forward.py::test_L_layer_forward_*", "test_forward.py::test_caches_*"),
                        "Forward pass"),
    "linear_forward": (("test_forward.py::test_linear_forward_*",), "Forward pass"),
    "compute_cost": (("test_forward.py::test_compute_cost_*",), "Forward pass"),
}


@pytest.fixture(scope="session")
def ref(reference: Any) -> Any:
    """The reference implementation (trusted side only): the assignment's `reference` module
    (a copy made with `grader new NAME --from ...` has its own reference.py)."""
    return reference


@pytest.fixture(scope="session")
def lab() -> "Lab":
    """Helpers shared by the lab's checks."""
    return Lab()


@pytest.fixture(scope="session")
def layouts(student, seed) -> CacheLayouts:
    """The student's cache layouts, learnt from their own forward pass when first needed."""
    return CacheLayouts(student, seed)


class Lab:
    """Random inputs in the chapter's conventions, and the student's network run end to end."""


    # (params, X, Y) that can expose what a check tests: no dead units, large pre-activations (see networks).
    network = staticmethod(draw_network)

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

    @staticmethod
    def blame(earlier: Any, *functions: str, why: str = "") -> str | None:
        """"Your L_layer_backward fails its own checks (see Backward pass): fix it first." (reference.networks.blame)."""
        return blame(earlier, FUNCTION_CHECKS, *functions, why=why)

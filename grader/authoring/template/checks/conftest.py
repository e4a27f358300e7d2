"""Helpers of __ID__'s checks (trusted side only: student code never sees this folder).

Check files import what is defined here with `from conftest import ...`: the
grader puts this folder first on sys.path while the checks run.
"""

import numpy as np


def random_case(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """dA and Z of `shape`, drawn from the run's seeded generator."""
    return rng.standard_normal(shape), rng.standard_normal(shape)


def missing_derivative_hint(got, dA, Z, reference) -> str | None:
    """A hint when `got` is what forgetting the (1 - s) factor gives."""
    s = reference.sigmoid(Z)
    if isinstance(got, np.ndarray) and got.shape == Z.shape and np.allclose(got, dA * s):
        return "The derivative of the sigmoid is s * (1 - s): the (1 - s) factor is missing."
    return None

"""The two-moons data of the lab, defined in one place.

Training, held-out evaluation and the bundled demo all draw their data here so
that "moons" means the same distribution everywhere in the grader.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons

# `make_moons` without noise is two clean arcs, separable with a wide margin
# by almost any curved boundary, which would make the lab's 95% bar
# meaningless. Noise 0.1 thickens the arcs until they nearly touch, so the
# boundary has to follow the gap between them: a sound network scores 99.5%
# or more on held-out points, while an underfit one (a linear boundary scores
# about 87%) falls short of 95%.
MOONS_NOISE = 0.1


def moons(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n_samples` noisy two-moons points with `seed`, in the chapter's layout.

    Returns ``(X, Y)`` with ``X`` of shape ``(2, n_samples)`` (features x
    samples) and ``Y`` of shape ``(1, n_samples)`` holding 0.0/1.0, both
    float64. The same ``(n_samples, seed)`` always gives the same data.
    """
    X, y = make_moons(n_samples=n_samples, noise=MOONS_NOISE, random_state=seed)
    X = np.ascontiguousarray(X.T, dtype=np.float64)
    Y = y.reshape(1, -1).astype(np.float64)
    return X, Y


def rotated(X: np.ndarray, degrees: float) -> np.ndarray:
    """`X` (2, m) turned by `degrees` counter-clockwise about the origin.

    A rotation about the origin leaves the learning problem exactly as hard
    for the chapter's networks: gradient descent is equivariant under it, and
    Gaussian initialisations are rotation-invariant, so training on rotated
    moons succeeds as often as on the original ones. Parameters fitted once to
    moons in the usual orientation and pasted into `train` do not.
    """
    theta = np.radians(degrees)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return rotation @ X

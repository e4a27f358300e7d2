"""The two-moons data of the lab, defined in one place.

Training, held-out evaluation and the bundled demo all draw their data here so
that "moons" means the same distribution everywhere in the grader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    X, y = make_moons(n_samples, MOONS_NOISE, seed)
    X = np.ascontiguousarray(X.T, dtype=np.float64)
    Y = y.reshape(1, -1).astype(np.float64)
    return X, Y


def make_moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_moons(n_samples, shuffle=True, noise=noise, random_state=seed)``, value for value.

    ``(X, y)``: X of shape (n_samples, 2), y of int labels. Written out here
    (the same arcs, the same shuffle and noise drawn from the same
    ``RandomState``) because importing scikit-learn takes a second or more,
    paid by every process that grades; tests/test_moons_task.py checks that
    both give the same arrays.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rng = np.random.RandomState(seed)
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


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


# ------------------------------------------------------------ the training task of one run

# The centre of make_moons' two arcs: the affine map turns and stretches the data about it.
CENTER = np.array([[0.5], [0.25]])
# Half the width of the empty band along the line that swaps the labels (in plain moons' units; the
# arcs' own gap is about as wide once their noise is counted).
LINE_GAP = 0.18


@dataclass(frozen=True)
class MoonsTask:
    """One run's training problem: moons under an affine map, the labels swapped on one side of a line.

    Drawn per run (`draw_task`), so that nothing fitted in advance fits it:
    the map turns the moons by any angle and stretches them along a random
    axis (area kept) before shifting them; a line across both arcs, at a
    random place and slant, swaps the two classes on one side of it. Every correct
    network of the lab learns it as well as plain moons (the boundary is the
    moons' gap plus a straight cut; benchmarks/train_robustness.py), while
    parameters fitted to plain moons and pasted in, even turned and shifted
    to fit, classify little more than half of it.
    """

    matrix: tuple[tuple[float, float], tuple[float, float]]
    shift: tuple[float, float]
    normal: tuple[float, float]
    offset: float

    def apply(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Plain moons `(X, Y)` (as `moons` draws them) turned into this task's data, minus the points
        within LINE_GAP of the line (the cut gets a gap like the one between the arcs)."""
        # The line is drawn across the arcs, in the plain moons' frame.
        distance = np.array(self.normal) @ (X - CENTER) - self.offset
        keep = np.abs(distance) > LINE_GAP
        side = (distance[keep] > 0).astype(np.float64).reshape(1, -1)
        mapped = np.array(self.matrix) @ (X[:, keep] - CENTER) + CENTER + np.array(self.shift).reshape(2, 1)
        return np.ascontiguousarray(mapped), np.abs(Y[:, keep] - side)

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """`n_samples` points of this task drawn with `seed` (the first ones outside the line's gap)."""
        drawn = 2 * n_samples
        while True:
            X, Y = self.apply(*moons(drawn, seed))
            if X.shape[1] >= n_samples:
                return np.ascontiguousarray(X[:, :n_samples]), np.ascontiguousarray(Y[:, :n_samples])
            drawn *= 2

    def carried(self, params: dict) -> dict:
        """A network fitted to plain moons, made to see this task's points as it saw plain ones (first layer)."""
        inverse = np.linalg.inv(np.array(self.matrix))
        shift = np.array(self.shift).reshape(2, 1)
        W1 = np.asarray(params["W1"], dtype=float)
        carried = {k: np.array(v, dtype=float) for k, v in params.items()}
        carried["W1"] = W1 @ inverse
        carried["b1"] = np.asarray(params["b1"], dtype=float).reshape(-1, 1) + W1 @ (CENTER - inverse @ (CENTER + shift))
        return carried

    def to_dict(self) -> dict:
        """A JSON-able description (the report draws the run's data from it)."""
        return {"matrix": [list(row) for row in self.matrix], "shift": list(self.shift),
                "normal": list(self.normal), "offset": self.offset}

    @classmethod
    def from_dict(cls, data: dict) -> "MoonsTask":
        """Rebuild a task from `to_dict` output."""
        matrix = np.asarray(data["matrix"], dtype=float).reshape(2, 2)
        return cls(tuple(map(tuple, matrix.tolist())), tuple(np.asarray(data["shift"], dtype=float).reshape(2)),
                   tuple(np.asarray(data["normal"], dtype=float).reshape(2)), float(data["offset"]))


def draw_task(rng: np.random.Generator, *, rotation_degrees: tuple[float, float] = (0.0, 360.0),
              stretch: tuple[float, float] = (1.25, 1.6), shift: float = 0.8,
              line_offset: float = 0.3) -> MoonsTask:
    """A fresh task: turned by an angle in `rotation_degrees`, stretched by a factor in `stretch` along a
    random axis (and shrunk by as much across it), shifted by up to `shift`, labels swapped beyond a
    random line across the arcs passing within `line_offset` of their centre."""
    def turn(degrees: float) -> np.ndarray:
        theta = np.radians(degrees)
        return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])

    factor = rng.uniform(*stretch)
    matrix = turn(rng.uniform(*rotation_degrees)) @ np.diag([factor, 1 / factor]) @ turn(rng.uniform(0, 360))
    direction, distance = rng.uniform(0, 2 * np.pi), shift * np.sqrt(rng.uniform(0.25, 1.0))
    # Across the arcs: within 30 degrees of the plain moons' horizontal axis, either way round.
    angle = np.radians(rng.uniform(-30, 30) + 180 * rng.integers(2))
    return MoonsTask(tuple(map(tuple, matrix.tolist())),
                     (float(distance * np.cos(direction)), float(distance * np.sin(direction))),
                     (float(np.cos(angle)), float(np.sin(angle))), float(rng.uniform(-line_offset, line_offset)))

"""The planted bug of the lab's gradient-check checks: a cost that the student's backward pass does not know.

A gradient check compares backprop's gradients with numerical gradients of
``compute_cost(L_layer_forward(X, params)[0], Y)``. To test one, the grader
swaps in, for one call, the student's own compute_cost plus a term
``scale * sum(w * AL)`` (w drawn per run): numerical gradients now see the
term, backprop does not, and the relative difference the check must report
is known exactly from the grader's own numerical gradients.

Planting the bug in the cost rather than in the backward pass matters: a
"gradient check" that only compares the student's backward pass with a saved
copy of it (or a second implementation of backprop) reports the same
number for a scaled backward pass as an honest check, but 0 here. Only a
check that differentiates compute_cost numerically sees this bug.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import reference.backprop_lab as lab
from reference.networks import rolled

# Scales of the planted term, as multiples of the true gradient's norm, tried in order until the
# relative and the absolute difference are both clearly above the threshold and at least threefold
# apart (so returning the absolute difference can never pass for the relative one by coincidence).
_SCALES = (1.0, 4.0, 0.25, 16.0)
_EPS = 1e-7


@dataclass(frozen=True)
class PlantedCost:
    """One planted cost bug: its patch source, and what a gradient check must report with it."""

    source: str              # trusted patch source for Sandbox.call(patch={compute_cost's name: source})
    numerical: dict          # the grader's numerical gradients of the planted cost, shaped like grads
    relative: float          # the chapter's ||g - n|| / (||g|| + ||n||) with the student's backprop g
    absolute: float          # ||g - n||
    variants: tuple          # other normalisations a real (if imperfect) gradient check may return

    @property
    def readings(self) -> tuple:
        """What a gradient check may report for this bug, one entry per normalisation, in a fixed order."""
        return (self.relative, self.absolute, *self.variants)


# Multiples tried for a second bug of the same case, in order: far from the first bug's (1.0 mostly), so that
# every reading of the two differs several-fold.
_SECOND_SCALES = (0.125, 0.5, 0.0625, 2.0, 4.0, 16.0, 0.03125, 64.0)


def second_planted_cost(first: PlantedCost, X: np.ndarray, Y: np.ndarray, params: dict, numerical: dict,
                        grads: dict, rng: np.random.Generator, threshold: float) -> PlantedCost:
    """Another planted cost for the same case whose readings differ from `first`'s: the first scale of
    `_SECOND_SCALES` whose every reading differs, else the one with the fewest readings that do not (those
    readings cannot tell a constant from a real check and `consistent_on_all` leaves them out)."""
    best, best_same = None, None
    for multiple in _SECOND_SCALES * 3:  # each try draws new weights for the term
        bug = planted_cost(X, Y, params, numerical, grads, rng, threshold, scales=(multiple,))
        clear = min(bug.relative, bug.absolute) > 10 * threshold and \
            max(bug.relative, bug.absolute) >= 3 * min(bug.relative, bug.absolute)
        if not clear:
            continue
        if not (_distinct(first.relative, bug.relative) and _distinct(first.absolute, bug.absolute)):
            continue  # the chapter's reading and the plain norm must always tell
        same = sum(not _distinct(a, b) for a, b in zip(first.readings, bug.readings))
        if best is None or same < best_same:
            best, best_same = bug, same
        if same == 0:
            break
    if best is None:
        raise RuntimeError("no second planted cost stands clear of the threshold")
    return best


def _distinct(a: float, b: float) -> bool:
    # Further apart than two `consistent` windows (rtol 0.05 each): no number is close to both.
    return abs(a - b) > 0.1 * (abs(a) + abs(b))


def consistent_on_all(values: list[float], planted: list[PlantedCost], rtol: float = 0.05) -> bool:
    """Whether the values a gradient check reported for several planted costs all come from one normalisation.

    A check that differentiates compute_cost numerically reports each bug
    by the same rule; a constant (or anything else that ignores the cost)
    cannot match one rule on costs whose readings differ several-fold. A
    rule whose readings are alike for every bug tells nothing and is left out.
    """
    telling = [i for i in range(len(planted[0].readings))
               if all(_distinct(planted[0].readings[i], bug.readings[i]) for bug in planted[1:])]
    return any(all(np.isclose(value, bug.readings[i], rtol=rtol) for value, bug in zip(values, planted))
               for i in telling)


def planted_cost(X: np.ndarray, Y: np.ndarray, params: dict, numerical: dict, grads: dict, rng: np.random.Generator,
                 threshold: float, *, scales: tuple = _SCALES) -> PlantedCost:
    """The planted cost for this case: `numerical` are the grader's gradients of the true cost, `grads` the student's.

    `scales` are the multiples tried in order (a second bug of the same case
    starts from another one, so that its readings differ several-fold)."""
    weights = rng.standard_normal((1, X.shape[1]))
    extra = _numerical_of_term(X, params, weights)
    g = rolled(grads, params)
    base, term = rolled(numerical, params), rolled(extra, params)
    choice = None
    for multiple in scales:
        scale = multiple * float(np.linalg.norm(base)) / max(float(np.linalg.norm(term)), 1e-300)
        n = base + scale * term
        relative = float(np.linalg.norm(g - n) / (np.linalg.norm(g) + np.linalg.norm(n)))
        absolute = float(np.linalg.norm(g - n))
        choice = (scale, n, relative, absolute)
        if min(relative, absolute) > 10 * threshold and max(relative, absolute) >= 3 * min(relative, absolute):
            break
    scale, n, relative, absolute = choice
    planted = {k: numerical[k] + scale * extra[k] for k in numerical}
    return PlantedCost(_source(weights, scale), planted, relative, absolute, _variants(g, n, grads, planted, params))


def _numerical_of_term(X: np.ndarray, params: dict, weights: np.ndarray) -> dict:
    """Two-sided numerical gradients of sum(weights * AL) with the reference forward pass."""
    theta = {k: np.array(v, dtype=np.float64) for k, v in params.items()}

    def term() -> float:
        return float(np.sum(weights * lab.L_layer_forward(X, theta)[0]))

    out = {}
    for key, value in theta.items():
        flat = value.reshape(-1)  # a view: writing it perturbs theta[key]
        grad = np.zeros(flat.size)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + _EPS
            plus = term()
            flat[i] = original - _EPS
            minus = term()
            flat[i] = original
            grad[i] = (plus - minus) / (2 * _EPS)
        out["d" + key] = grad.reshape(value.shape)
    return out


def _variants(g: np.ndarray, n: np.ndarray, grads: dict, planted: dict, params: dict) -> tuple:
    """Normalisations of the difference that a real gradient check might use instead of the chapter's."""
    diff = float(np.linalg.norm(g - n))
    per_key = [float(np.linalg.norm(np.asarray(grads["d" + k], dtype=float) - planted["d" + k]) /
                     (np.linalg.norm(np.asarray(grads["d" + k], dtype=float)) + np.linalg.norm(planted["d" + k])
                      + 1e-300)) for k in params]
    return (diff / max(float(np.linalg.norm(g)), 1e-300), diff / max(float(np.linalg.norm(n)), 1e-300),
            diff / max(float(np.linalg.norm(g)), float(np.linalg.norm(n)), 1e-300), diff ** 2,
            max(per_key), float(np.mean(per_key)))


def _source(weights: np.ndarray, scale: float) -> str:
    """Patch source: the student's compute_cost plus scale * sum(weights * AL), for one call."""
    listed = ", ".join(repr(float(w)) for w in weights.ravel())
    return f"""
def make(original):
    import numpy as _np
    _weights = _np.array([{listed}], dtype=float).reshape(1, -1)

    def compute_cost(AL, Y):
        return original(AL, Y) + {float(scale)!r} * float(_np.sum(_weights * _np.asarray(AL, dtype=float)))
    return compute_cost
"""

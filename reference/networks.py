"""What every assignment's checks of the chapter's networks share (trusted side).

Random parameters and data in the chapter's conventions (column-major, ReLU
hidden layers, one sigmoid output), the student's own L-layer passes run end
to end, gradients rolled into one vector, and the source of the planted bug
a student's gradient check must flag.
"""

from __future__ import annotations

import collections
import copy
import re
from typing import Any

import numpy as np

from grader.checking import CheckFailure, describe_args, kind_of, relative_difference

_WEIGHT_KEY = re.compile(r"W\d+")


def random_params(layer_dims: list[int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-initialised ``W1, b1, ..., WL, bL`` with small random biases.

    Non-zero biases make a missing bias visible and keep ReLU inputs off the
    kink at 0, where a two-sided difference would see half the slope.
    """
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * np.sqrt(2.0 / layer_dims[l - 1])
        params[f"b{l}"] = rng.standard_normal((layer_dims[l], 1)) * 0.1
    return params


def random_data(n_x: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X of shape (n_x, m) and 0/1 labels Y of shape (1, m) with both classes when m > 1.

    X has standard deviation 0.5: with unit variance a deep net's sigmoid
    output sometimes saturates to 1 - 1e-6, and rounding then reads ~1e-5
    in a gradient check of correct code.
    """
    X = 0.5 * rng.standard_normal((n_x, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    return X, Y


def num_layers(params: Any) -> int:
    """The depth L of a params dict: how many ``W<l>`` keys it holds (the one rule every check uses)."""
    return sum(1 for key in params if isinstance(key, str) and _WEIGHT_KEY.fullmatch(key))


# ---------------------------------------------------------------- cases that can expose what they test
#
# A drawn network must be able to expose the bugs its check is about, on every seed: no dead hidden unit
# (a unit inactive on every example hides every bug of its weights' gradients: with all of them dead a
# missing 1/m in dW passes a gradient check), no hidden layer without an inactive entry (a missing ReLU
# mask would pass), no pre-activation near the kink at 0 (a numerical gradient there sees half the slope),
# no saturated sigmoid output (the cost's rounding swamps a numerical gradient), no all-zero gradient, and
# pre-activations well beyond +-3 in every hidden layer (a ReLU derivative masked as (Z > 0) * (Z < 3)
# passes on the usual small draws). `draw_network` builds such networks and `degenerate` says what is wrong
# with one that is not; the draw rejects and redraws those.

# The largest hidden pre-activation of each layer is drawn from this range (well beyond +-3).
HIDDEN_PEAK = (4.0, 8.0)
# The largest |Z_L| of the sigmoid output: probabilities stay within about [0.05, 0.95].
OUTPUT_PEAK = (1.0, 3.0)
# No hidden pre-activation lies closer to the ReLU kink than this: a two-sided difference with
# epsilon = 1e-4 moves a pre-activation by less than 1e-3 on these networks.
KINK_MARGIN = 0.02
# Correct backprop must agree with the reference's numerical gradients this well on a numerical case
# (a tenth of the chapter's 1e-7: correct code summing in another order passes with room to spare).
NUMERICAL_AGREEMENT = 1e-8
# A gradient check that is correct but for one-sided differences must read below this on a numerical case (half
# the chapter's 1e-7), so that the mistake is charged in the check of two-sidedness only, not also in "passes
# correct code". Seed 1709568205 drew a case with large output weights (gradient norm 21) whose curvature made a
# one-sided check read 2.6e-7, where the cases of 99 other seeds read below 5e-8.
ONE_SIDED_AGREEMENT = 5e-8
_MAX_DRAWS = 50


def degenerate(params: dict, X: np.ndarray, Y: np.ndarray, *, numerical: bool = False) -> list[str]:
    """What keeps this network from exposing the bugs a check looks for; empty when nothing does.

    With `numerical` (a case for numerical gradients), no hidden
    pre-activation may lie within `KINK_MARGIN` of the kink, the
    reference's own backprop must agree with its two-sided numerical
    gradients to `NUMERICAL_AGREEMENT`, so that correct code passes a
    gradient check with a wide margin, and a one-sided check must read below
    `ONE_SIDED_AGREEMENT`. Without it the kink does not matter: analytic
    gradients are compared exactly.
    """
    from reference import backprop_lab as ref  # the reference imports nothing from here
    from reference import mutants

    problems = []
    L = ref.num_layers(params)
    m = X.shape[1]
    A = X
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        if l == L:
            if np.max(np.abs(Z)) > OUTPUT_PEAK[1] + 1e-9:
                problems.append(f"the sigmoid output saturates (|Z{l}| up to {np.max(np.abs(Z)):.3g})")
            break
        active = Z > 0
        if m > 1 and not np.all(active.any(axis=1)):
            problems.append(f"layer {l} has dead units (inactive on every example): "
                            f"{np.flatnonzero(~active.any(axis=1)).tolist()}")
        elif not active.any():
            problems.append(f"every unit of layer {l} is inactive")
        if active.all() and Z.size > 1:
            problems.append(f"no entry of layer {l} is inactive (a missing ReLU mask would not show)")
        if numerical and np.min(np.abs(Z)) < KINK_MARGIN:
            problems.append(f"a pre-activation of layer {l} lies within {KINK_MARGIN:g} of the ReLU kink")
        if np.max(Z) < HIDDEN_PEAK[0] - 1e-9:
            problems.append(f"no pre-activation of layer {l} reaches {HIDDEN_PEAK[0]:g} (only {np.max(Z):.3g})")
        A = np.maximum(Z, 0)
    AL, caches = ref.L_layer_forward(X, params)
    grads = ref.L_layer_backward(AL, Y, caches)
    for key in sorted(grads):
        if key[:2] in ("dW", "db") and not np.any(grads[key]):
            problems.append(f"{key} is all zeros")
    if numerical and not problems:
        numeric = ref.numerical_gradients(X, Y, params, 1e-7)
        difference = relative_difference(rolled(grads, params), rolled(numeric, params))
        if difference >= NUMERICAL_AGREEMENT:
            problems.append(f"the reference's own gradient check reads {difference:.2g}")
            return problems
        one_sided = mutants.gradient_check_variant(X, Y, params, 1e-7, "one_sided_differences")
        if one_sided >= ONE_SIDED_AGREEMENT:
            problems.append(f"a one-sided gradient check reads {one_sided:.2g} (curvature large next to the gradient)")
        else:
            _LAST_NUMERICAL[id(params)] = (params, numeric)
    return problems


# The numerical gradients `degenerate` computed for the network it last accepted, so that a check asking for a
# numerical case does not compute them twice (see `draw_numerical_case`).
_LAST_NUMERICAL: dict[int, tuple[dict, dict]] = {}


def _hidden_biases(P: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Biases that make every unit active on some examples and inactive on others, away from the kink.

    Unit j's bias puts its threshold in one of the wider gaps between its
    sorted pre-activations ``P[j]``, so the margin to the kink is half that
    gap. With one example, units are switched on or off at random (at least
    one of each when the layer has two units or more).
    """
    n, m = P.shape
    b = np.empty((n, 1))
    if m == 1:
        on = rng.random(n) < 0.5
        if not on.any():
            on[rng.integers(n)] = True
        if n > 1 and on.all():
            on[rng.integers(n)] = False
        spread = max(float(np.mean(np.abs(P))), 1e-3)
        margin = rng.uniform(0.3, 1.0, size=n) * spread
        b[:, 0] = -P[:, 0] + np.where(on, margin, -margin)
        return b
    low, high = max(1, m // 5), min(m - 1, m - m // 5)
    values = np.sort(P, axis=1)
    gaps = np.diff(values, axis=1)[:, low - 1:high]   # column i: the gap below sorted value low + i
    wide = gaps >= 0.5 * gaps.max(axis=1, keepdims=True)
    pick = np.argmax(np.where(wide, rng.random(gaps.shape), -1.0), axis=1)  # one of the wide gaps at random
    rows = np.arange(n)
    if np.any(gaps[rows, pick] <= 0):
        return None                                  # repeated values: no threshold separates them
    k = low + pick
    b[:, 0] = -(values[rows, k - 1] + values[rows, k]) / 2
    return b


def _propose(dims: list[int], m: int, rng: np.random.Generator, *,
             confident: bool = False) -> tuple[dict, np.ndarray, np.ndarray] | None:
    """One candidate network, built to pass `degenerate` (which still has the last word).

    `confident`: every output is confident (|Z_L| between 1.9 and 3), and
    wrong but for a quarter of the examples (see `draw_numerical_case`).
    """
    X = rng.standard_normal((dims[0], m)) * rng.uniform(0.5, 2.0)
    params, A, L = {}, X, len(dims) - 1
    for l in range(1, L + 1):
        W = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        P = W @ A
        if l < L:
            b = _hidden_biases(P, rng)
            if b is None:
                return None
            peak = float(np.max(P + b))
            scale = rng.uniform(*HIDDEN_PEAK) / peak if peak > 0 else 0.0
        elif confident:
            # All outputs on one side, |Z_L| in [1.9, 3]: the labels will be the other class.
            low = float(np.min(P))
            spread = float(np.max(P)) - low
            scale = rng.uniform(0.8, 1.1) / spread if spread > 1e-6 else 1.0 / max(float(np.max(np.abs(P))), 1e-3)
            b = np.full((dims[l], 1), 1.9 / scale - low)
        else:
            # Centre the output on its mean (both signs when m > 1) and scale its spread, not a cancelled
            # sum: scaling W_L by a huge factor would make every gradient below it huge.
            centre = np.mean(P, axis=1, keepdims=True)
            spread = float(np.max(np.abs(P - centre)))
            if spread < 1e-6 * max(1.0, float(np.max(np.abs(P)))):
                spread = max(float(np.max(np.abs(P))), 1e-3)   # one example: nothing to centre
            scale = rng.uniform(OUTPUT_PEAK[0], 0.7 * OUTPUT_PEAK[1]) / spread
            b = -centre + rng.uniform(-0.3, 0.3, size=(dims[l], 1)) * spread
        if scale == 0.0:
            return None
        W, b = W * scale, b * scale
        params[f"W{l}"], params[f"b{l}"] = W, b
        A_last, A = A, np.maximum(W @ A + b, 0)
    if confident:
        if rng.random() < 0.5:  # the positive or the negative side, at random
            params[f"W{L}"], params[f"b{L}"] = -params[f"W{L}"], -params[f"b{L}"]
        Z = params[f"W{L}"] @ A_last + params[f"b{L}"]
        Y = (Z < 0).astype(float)
        if m > 1:
            # A quarter of the examples (at least one) confidently right, the other label: with one class only,
            # a mistake in the other class's term of the cost's derivative (dAL without (1 - Y) / (1 - AL))
            # could not show, and the gradient check would pass it on half the seeds. Their gradients are
            # small, so the curvature stays small next to the gradient (see `draw_numerical_case`).
            right = rng.choice(m, size=max(1, m // 4), replace=False)
            Y[0, right] = 1.0 - Y[0, right]
        return params, X, Y
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    else:
        # One example has one label: a mistake in one class's term shows on one label only, so the label is
        # always the same, and such a case gives the same verdict on every seed (the cases with m > 1 hold both).
        Y[0, 0] = 1.0
    return params, X, Y


# Draws already made in this process: {(what, dims, m, the generator's state before): (the draw, its state
# after)}. Grading the same seed again (the verdict-stability benchmark grades every fixture on one seed before
# the next; the suite grades fixtures on shared seeds; a replay) draws the same cases; drawing them (and testing
# every known bug on each candidate) costs more than a student's forward pass. A batch gives each student a
# seed of their own (grader.batch.record.student_seed), so it gains nothing here.
_DRAWN: collections.OrderedDict = collections.OrderedDict()
_DRAWN_KEPT = 256


def _remembered(what: tuple, rng: np.random.Generator, draw):
    """`draw()`, or a copy of what it gave when called before from the same generator state, with `rng` left
    in the state `draw()` leaves it in: exactly what drawing again would give, for a fraction of the cost."""
    key = (what, repr(rng.bit_generator.state))
    if key in _DRAWN:
        value, after = _DRAWN[key]
        _DRAWN.move_to_end(key)
        rng.bit_generator.state = after
        return copy.deepcopy(value)
    value = draw()
    _DRAWN[key] = (copy.deepcopy(value), rng.bit_generator.state)
    if len(_DRAWN) > _DRAWN_KEPT:
        _DRAWN.popitem(last=False)
    return value


def draw_network(dims: list[int], m: int, rng: np.random.Generator, *, numerical: bool = False,
                 propose=_propose, backward_bugs: bool = True) -> tuple[dict, np.ndarray, np.ndarray]:
    """(params, X, Y) for `dims` and `m` examples that can expose what a check tests (see `degenerate`).

    Candidates from `propose(dims, m, rng)` are drawn until one is not
    degenerate and every known backward bug (reference.mutants) changes its
    gradients; when no candidate of `_EXPOSING_TRIES` lets every bug show
    (some cannot on some shapes), the one that hides the fewest is used.
    Without `backward_bugs` (a check of the forward pass, of inputs left
    unchanged, of timing: no backward bug is what it tests) the first
    candidate that is not degenerate is used, and the bugs are not tried.
    `numerical` asks for a case fit for numerical gradients too. Raises
    RuntimeError (a grader fault, never the student's) if no candidate
    passes `degenerate` in a generous number of draws.
    """
    if propose is _propose:
        return _remembered(("network", tuple(dims), m, numerical, backward_bugs), rng,
                           lambda: _draw_network(dims, m, rng, numerical, propose, backward_bugs))
    return _draw_network(dims, m, rng, numerical, propose, backward_bugs)


def _draw_network(dims: list[int], m: int, rng: np.random.Generator, numerical: bool,
                  propose, backward_bugs: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """`draw_network`, drawn afresh."""
    seen, best, tried = [], None, 0
    for _ in range(_MAX_DRAWS):
        candidate = propose(dims, m, rng)
        if candidate is None:
            continue
        problems = degenerate(*candidate, numerical=numerical)
        if problems:
            seen.append(problems[0])
            continue
        if not backward_bugs:
            return candidate
        hidden = hidden_bugs(*candidate)
        if not hidden:
            return candidate
        if best is not None and set(hidden) == best[1]:
            return candidate  # hidden twice alike: these bugs cannot show on this shape (no hidden layer, m = 1)
        if best is None or len(hidden) < len(best[1]):
            best = (candidate, set(hidden))
        tried += 1
        if tried >= _EXPOSING_TRIES:
            break
    if best is not None:
        return best[0]
    raise RuntimeError(f"no usable network {dims} with m={m} in {_MAX_DRAWS} draws: {seen[:3]}")


# How many non-degenerate candidates are drawn looking for one on which every known backward bug shows.
_EXPOSING_TRIES = 8


def hidden_bugs(params: dict, X: np.ndarray, Y: np.ndarray) -> list[str]:
    """The known backward bugs (reference.mutants) whose gradients on this case equal the right ones.

    A bug hidden by the draw (ReLU's mask taken from dA's sign where it
    happens to match Z's, on one example) would pass a check on that seed
    only; bugs that cannot run on these shapes (they raise) show anyway.
    """
    from reference import backprop_lab as ref
    from reference import mutants

    AL, caches = ref.L_layer_forward(X, params)
    right = ref.L_layer_backward(AL, Y, caches)
    # Drawing a case tries every bug on every candidate (a grading draws a dozen cases): the bug-free forward
    # pass is shared by the bugs that leave it alone, and the comparison skips np.allclose's general machinery.
    hidden = []
    with np.errstate(all="ignore"):  # a bug's gradients may overflow; they are compared all the same
        clean = mutants.forward_variant(X, params)
        for flag in mutants.flags(mutants.GRADS):
            try:
                if _equal_gradients(mutants.grads_by_layer(X, Y, params, flag, clean_forward=clean), right):
                    hidden.append(flag)
            except (ValueError, IndexError, KeyError):
                continue
    return hidden


def _equal_gradients(pairs, right: dict) -> bool:
    """Whether the (key, gradient) pairs hold every gradient of `right`, each equal to it; stops reading
    (and so computing) the pairs at the first that differs, as most bugs do in the last layer already."""
    seen = set()
    for key, value in pairs:
        if key in right:
            if not _allclose(value, right[key]):
                return False
            seen.add(key)
    return seen == right.keys()


# A bug is hidden on a case when its gradients equal the right ones to these tolerances.
_RTOL, _ATOL = 1e-7, 1e-12


def _allclose(got, right) -> bool:
    """``np.allclose(got, right, rtol=_RTOL, atol=_ATOL)`` for arrays of one shape (False for other shapes),
    in a fraction of its time when both are finite (np.allclose's own rules otherwise). Run it under
    ``np.errstate(all="ignore")``, as `hidden_bugs` does: a bug's infinite gradients are compared too."""
    got, right = np.asarray(got), np.asarray(right)
    if got.shape != right.shape:
        return False
    if got.dtype.kind == right.dtype.kind == "f":
        difference = got - right
        # Finite exactly when both are (an inf or a NaN on either side makes it inf or NaN; an overflow falls
        # back to np.allclose below, which says the same as it would have).
        if np.isfinite(difference).all():
            return bool((np.abs(difference) <= _ATOL + _RTOL * np.abs(right)).all())
    return bool(np.allclose(got, right, rtol=_RTOL, atol=_ATOL))


def draw_numerical_case(dims: list[int], m: int, rng: np.random.Generator) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """(params, X, Y, the reference's two-sided numerical gradients with epsilon 1e-7) of a network fit for a
    gradient check (`draw_network` with `numerical`).

    Its outputs are confidently wrong (|Z_L| between 1.9 and 3, the label
    the other class) but for a quarter of the examples, confidently right
    (both labels occur, so a mistake in either term of the cost's derivative
    shows): the cost's curvature is then small next to its
    gradient, so a gradient check that is correct but for one thing (one-sided
    differences) still reads well below 1e-7 with epsilon = 1e-7, on every
    draw, instead of hovering around it; that one thing is judged by its own
    check, with a larger epsilon.
    """
    return _remembered(("numerical case", tuple(dims), m), rng, lambda: _draw_numerical_case(dims, m, rng))


def _draw_numerical_case(dims: list[int], m: int, rng: np.random.Generator) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """`draw_numerical_case`, drawn afresh."""
    _LAST_NUMERICAL.clear()
    params, X, Y = _draw_network(dims, m, rng, True, lambda d, n, r: _propose(d, n, r, confident=True),
                                  backward_bugs=True)
    kept = _LAST_NUMERICAL.pop(id(params), None)
    _LAST_NUMERICAL.clear()
    if kept is None or kept[0] is not params:  # a proposer that skipped `degenerate`: compute them here
        from reference import backprop_lab as ref
        return params, X, Y, ref.numerical_gradients(X, Y, params, 1e-7)
    return params, X, Y, kept[1]


def layer_dims(params: dict) -> list[int]:
    """The layer sizes ``[n_x, n_1, ..., n_L]`` of a params dict."""
    L = num_layers(params)
    return [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]


def rolled(grads: dict, params: dict) -> np.ndarray:
    """The gradients ``grads["d" + key]`` of every parameter, in `params` order, as one float vector."""
    return np.concatenate([np.asarray(grads["d" + k], dtype=float).ravel() for k in params])


def student_forward(student: Any, X: np.ndarray, params: dict) -> tuple[Any, Any, str]:
    """The student's ``L_layer_forward(X, params)``: (AL, caches, the call as messages show it)."""
    call = f"L_layer_forward({describe_args(X=X)}, params for {layer_dims(params)})"
    value = student.L_layer_forward(X, params)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise CheckFailure(f"{call} returned {kind_of(value)}; expected (AL, caches).",
                           hint="End L_layer_forward with `return AL, caches`.")
    return value[0], value[1], call


def student_grads(student: Any, X: np.ndarray, Y: np.ndarray, params: dict) -> tuple[dict, str]:
    """The student's gradients from their own forward caches and backward: (grads, the backward call)."""
    AL, caches, _ = student_forward(student, X, params)
    call = f"L_layer_backward(AL, Y, caches) for {layer_dims(params)}, m={X.shape[1]}"
    grads = student.L_layer_backward(AL, Y, caches)
    if not isinstance(grads, dict):
        raise CheckFailure(f"{call} returned {kind_of(grads)}; expected a dict with dW1, db1, ...",
                           hint="Collect the gradients in a dict: grads['dW' + str(l)] = dW.")
    return grads, call


# Trusted source run inside the worker for one call (see Sandbox.call's `patch`):
# the student's own backward with every dW and db scaled by FACTOR, a bug any
# gradient check must flag. Scaling all of them, not one, keeps the bug visible
# even when a layer's gradient happens to be zero (dead ReLUs on a small batch).
_PLANTED_BUG = """
def make(original):
    def backward_with_planted_bug(*args, **kwargs):
        grads = dict(original(*args, **kwargs))
        for key in list(grads):
            if str(key).startswith(("dW", "db")):
                grads[key] = grads[key] * FACTOR
        return grads
    return backward_with_planted_bug
"""


def planted_bug_source(factor: float) -> str:
    """Patch source wrapping the student's backward so that every gradient is `factor` times too large.

    The chapter's relative difference is then (factor - 1) / (factor + 1)
    whatever the network.
    """
    return _PLANTED_BUG.replace("FACTOR", repr(float(factor)))


def blame(earlier: Any, checks: dict[str, tuple[tuple[str, ...], str]], *functions: str, why: str = "") -> str | None:
    """"Your L_layer_backward fails its own checks (see Backward pass): fix it first." for the first of
    `functions` whose checks did not all pass, else None.

    `earlier` is the runner's view of the checks that already ran; `checks`
    maps a function to the selectors of the checks that judge it and the
    item (or exercise) whose report holds them. A hint of another item
    names that function first instead of guessing at a symptom.
    """
    for function in functions:
        selectors, item = checks[function]
        if earlier.failed(*selectors):
            return f"Your {function} fails its own checks (see {item}): fix it first{'; ' + why if why else ''}."
    return None


def layer_case_ids(cases: list[tuple[int, int, int]]) -> list[str]:
    """pytest ids ``n_prev=3,n=4,m=5`` for (n_prev, n, m) cases of one layer."""
    return [f"n_prev={a},n={b},m={c}" for a, b, c in cases]


def network_case_ids(cases: list[tuple[list[int], int]]) -> list[str]:
    """pytest ids ``2-5-3-1,m=7`` for (layer_dims, m) cases of a network."""
    return [f"{'-'.join(map(str, dims))},m={m}" for dims, m in cases]

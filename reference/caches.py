"""A student's caches: learn their layout from the student's own forward pass, judge them, refill them.

Each bug is charged once, where it lives (issue 10). A backward pass is
judged on caches the grader builds from correct values, in the layout the
student's own forward pass uses, so a forward bug costs the backward checks
nothing. The layout is learnt from the student's forward on cases where it
runs: `linear_forward` on one layer, `L_layer_forward` on a network whose
hidden layers are equally wide (where even a forward that passes b1 to every
hidden layer runs). Each slot of the tuples, lists, dicts and objects it
returns is matched against what that case passed in (X, the Ws and bs) and
what the student computed (the returned AL, and each layer's own values:
Z = W A_prev (+ b), A = g(Z)): the slots get roles (A_prev, W, b, Z, A),
integers that count layers become layer numbers, other plain values
(activation names) are copied. The layout is then filled with the reference
values of the case being checked, for a network of any depth.

When the student's forward never runs, the chapter's layout is used,
``((A_prev, W, b), Z)`` per layer. Objects of the student's own classes stay
in the worker: a trusted driver opens them (their attributes, as data) and
builds copies with the attributes replaced (`StudentCode.drive`). What could
not be learnt (an array that is none of the roles, an unknown container)
leaves the student's own caches as the last resort, and every check says
which caches the backward pass was given.

Everything here runs on the trusted side; the student's values are only
compared, never trusted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.checking import CheckFailure, StudentCodeTimeout, kind_of
from reference import backprop_lab as ref
from reference.cache_learning import _generation, learn_linear, learn_network
from reference.cache_templates import CHAPTER_LINEAR, CHAPTER_NETWORK, Layout, build_linear, build_network, missing
from reference.networks import layer_dims

__all__ = ["CacheLayouts", "Judged", "Layout", "backward_on_correct_caches", "build_network",
           "linear_backward_on_correct_cache", "missing"]


# ---------------------------------------------------------------- one grading run's layouts


class CacheLayouts:
    """The student's cache layouts for one grading run, learnt when first needed.

    A layout holding objects refers to them by handle: when the worker is
    replaced (after a crash or a timeout) it is learnt again.
    """

    def __init__(self, student: Any, seed: int) -> None:
        self._student = student
        self._seed = seed
        self._learnt: dict[str, Layout] = {}

    def _get(self, kind: str, learn: Callable[[Any, np.random.Generator], Layout]) -> Layout:
        layout = self._learnt.get(kind)
        if layout is None or (layout.has_objects and layout.generation != _generation(self._student)):
            rng = np.random.default_rng([self._seed, 1010, len(kind)])
            layout = self._learnt[kind] = learn(self._student, rng)
        return layout

    @property
    def linear(self) -> Layout:
        """The layout of linear_forward's cache."""
        return self._get("linear", learn_linear)

    @property
    def network(self) -> Layout:
        """The layout of L_layer_forward's caches."""
        return self._get("network", learn_network)


# ---------------------------------------------------------------- the student's backward on correct caches


@dataclass
class Judged:
    """What the student's backward returned, the call as messages show it, and which caches it was given.

    `arguments` are what the call was given (to call it again) and `seconds`
    its wall time as the trusted side measured it.
    """

    value: Any
    call: str
    caches: str
    arguments: tuple = ()
    seconds: float = 0.0


def linear_backward_on_correct_cache(student: Any, layouts: CacheLayouts, dZ: np.ndarray, A_prev: np.ndarray,
                                     W: np.ndarray, b: np.ndarray, call: str) -> Judged:
    """The student's linear_backward(dZ, cache) on a correct cache in their layout (see `_judge`)."""
    layout = layouts.linear

    def own_cache():
        value = student.linear_forward(A_prev, W, b)
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise CheckFailure(f"linear_forward returned {kind_of(value)}; expected (Z, cache).")
        return value[1]

    return _judge(student, "linear_backward", "linear_forward", layout, CHAPTER_LINEAR,
                  lambda lay: build_linear(student, lay, A_prev, W, b), own_cache,
                  lambda cache: (dZ, cache), call)


def backward_on_correct_caches(student: Any, layouts: CacheLayouts, X: np.ndarray, Y: np.ndarray,
                               params: dict) -> tuple[Judged, np.ndarray]:
    """The student's L_layer_backward(AL, Y, caches) on correct caches in their layout, and the reference AL.

    The caches come from the first of: the student's own layout filled
    with the reference forward pass's values; the chapter's layout; the
    caches the student's own forward makes. A later one is used only when
    the student's backward raises on the earlier ones (it cannot read them),
    and `Judged.caches` says which was used.
    """
    layout = layouts.network
    AL = ref.L_layer_forward(X, params)[0]
    call = f"L_layer_backward(AL, Y, caches) for {layer_dims(params)}, m={X.shape[1]}"
    state = {"AL": AL}

    def build(lay: Layout) -> Any:
        state["AL"], caches = build_network(student, lay, X, params)
        return caches

    def own_caches():
        value = student.L_layer_forward(X, params)
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise CheckFailure(f"L_layer_forward returned {kind_of(value)}; expected (AL, caches).")
        state["AL"] = value[0]
        return value[1]

    judged = _judge(student, "L_layer_backward", "L_layer_forward", layout, CHAPTER_NETWORK, build, own_caches,
                    lambda caches: (state["AL"], Y, caches), call)
    return judged, AL


def _judge(student: Any, function: str, forward: str, layout: Layout, chapter: Layout,
           build: Callable[[Layout], Any], own: Callable[[], Any], arguments: Callable[[Any], tuple],
           call: str) -> Judged:
    """Call the student's backward `function` on caches from `layout`, falling back as the module says.

    Raises the failure of the first attempt (with which caches it was given)
    when every attempt fails.
    """
    attempts: list[tuple[Layout, str]] = []
    if layout.source == "yours":
        attempts.append((layout, layout.describe(forward)))
    if layout.source in ("yours", "chapter"):
        chapter_layout = layout if layout.source == "chapter" else Layout(
            "chapter", reason="your backward could not read caches built in your own layout",
            templates=chapter.templates, container=chapter.container)
        attempts.append((chapter_layout, chapter_layout.describe(forward)))
    first_failure: CheckFailure | None = None
    first_caches = ""
    own_reason = layout.reason if layout.source == "own" else (
        f"your {function} could not read the caches built in "
        f"{'your own or the chapter' if layout.source == 'yours' else 'the chapter'}'s layout")
    attempts.append((None, f"the caches your own {forward} made, because {own_reason}"))
    for lay, words in attempts:
        try:
            args = arguments(own() if lay is None else build(lay))
            start = time.perf_counter()
            value = student.run(function, *args).value
            return Judged(value, call, words, args, time.perf_counter() - start)
        except StudentCodeTimeout:
            raise
        except CheckFailure as failure:
            if first_failure is None:
                first_failure, first_caches = failure, words
    details = {**first_failure.details, "caches": first_caches}
    raise type(first_failure)(f"{first_failure.message}\n(Your {function} was given {first_caches}.)",
                              hint=first_failure.hint, details=details)

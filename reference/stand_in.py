"""The grader's own passes, swapped into a submission for one call so that training is judged on its own.

A train() runs the student's forward and backward passes. When those fail
their own checks (charged in the Forward and Backward items), whether the
training loop itself works cannot be read from train's accuracy: a wrong
ReLU mask may still reach the bar on one drawn task and miss it on the
next. So the training check runs train once more with these stand-ins in
place of the student's layer and network passes (Sandbox.call's `patch`,
for that call only) and judges only what is left of the student's: the
loop, the initialisation and the update. The plot check does the same with
the forward pass the student's plot predicts with.

The stand-ins are the assignment's reference functions, compiled in the
worker from their source with their own helpers, so that the forward and
backward passes swapped in agree on one cache layout whatever the
student's own layout is.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType

# The student's functions that may be replaced, and the reference helpers their stand-ins call.
FORWARD = ("linear_forward", "L_layer_forward")
PASSES = (*FORWARD, "linear_backward", "L_layer_backward", "compute_cost")
_HELPERS = ("sigmoid", "relu", "relu_backward", "num_layers")
_PRELUDE = "import re\nimport numpy as np\n_WEIGHT_KEY = re.compile(r'^W(\\d+)$')\n"


def stand_in_patch(student, reference: ModuleType, names: tuple[str, ...] = PASSES, *,
                   functions: tuple[str, ...] = (*_HELPERS, *PASSES)) -> dict[str, str]:
    """Patch sources ({the student's name: source}) replacing each of `names` the submission defines by the
    reference's function of that name; empty when it defines none of them. `functions` are the reference's
    functions compiled for them (the lab's passes and helpers; another assignment names its own, e.g. an
    exercise's softmax)."""
    body = _source(reference, functions)
    patch = {}
    for name in names:
        if student.has(name):
            patch[student.resolve(name)] = f"{body}\n\ndef make(original):\n    return {name}\n"
    return patch


@functools.lru_cache(maxsize=8)
def _source(reference: ModuleType, functions: tuple[str, ...]) -> str:
    """The stand-ins' source: those functions of the reference (read once per reference module)."""
    return _PRELUDE + "\n\n".join(inspect.getsource(getattr(reference, name)) for name in functions)

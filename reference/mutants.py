"""Known student bugs of the backpropagation lab, as one parameterised implementation.

Each bug is a flag of the same four functions (`linear_backward_variant`,
`forward_variant`, `grads_variant`, `cost_variant`), never a copy of the code
per bug, so a mutant differs from the correct computation in exactly the
line the bug changes. ``bug=None`` is the correct computation.

A flag is a bug id (``"db_wrong_axis"``, which means that bug's first
variant) or ``"id:variant"`` (``"db_wrong_axis:all"``). `flags(function)`
lists every concrete flag that changes a function, in the priority order
that `reference.diagnose` tries them: the order of `BUGS` below, cheapest
explanation first (a scale factor before an axis before a transpose before a
wrong layer before a wrong activation), so that when two bugs give the same
numbers on some input the more common one is reported.

Some bugs have no array variant: the gradient-check bugs are detected by
the checks from the student's behaviour, and the ``affects=("exception",)``
entries are recognised from the exception the student's code raises
(`reference.diagnose.diagnose_exception`). They are here for their hints.

Each `Bug.visible_when` says which inputs make the bug show; on other inputs
its mutant equals the correct result (or raises) and cannot be told apart.
This module is self-contained (NumPy only) and trusted-side: it never sees
student code, only the plain arrays the student's functions returned.

Conventions are the chapter's: column-major ``X (n_x, m)``, ``Y (1, m)``,
``params = {"W1", "b1", ..., "WL", "bL"}``, ReLU hidden layers, a sigmoid
output, the mean binary cross-entropy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from reference.networks import num_layers

# What a bug can change: the four variant functions, a gradient check's
# behaviour, or (with no variant at all) the exception the code raises.
LINEAR_BACKWARD = "linear_backward"
FORWARD = "forward"
GRADS = "grads"
COST = "cost"
GRADIENT_CHECK = "gradient_check"
EXCEPTION = "exception"


@dataclass(frozen=True, eq=False)
class Bug:
    """One known bug: a student-facing hint, what it changes, and its variants.

    `variants` maps a variant name to a short description of what the buggy
    code computes (used as evidence: "your dW1 matches <description>"); an
    empty dict means the bug has no array variant. `scope` narrows a variant
    to some of `affects` (e.g. a forward-only form of a bug that also has
    backward forms); a variant not in `scope` applies to all of `affects`.
    """

    id: str
    title: str
    hint: str
    affects: tuple[str, ...]
    variants: dict[str, str] = field(default_factory=dict)
    scope: dict[str, tuple[str, ...]] = field(default_factory=dict)
    visible_when: str = ""

    def flags(self, function: str) -> list[str]:
        """The concrete ``"id:variant"`` flags of this bug that change `function`."""
        if function not in self.affects:
            return []
        return [f"{self.id}:{name}" for name in self.variants if function in self.scope.get(name, self.affects)]

    def describe(self, variant: str) -> str:
        """What the code computes with this variant of the bug, for evidence sentences."""
        return self.variants.get(variant, self.title)


_BUG_LIST = [
    Bug("missing_1_over_m", "dW or db not divided by m",
        "dW and db are averages over the m examples: dW = (1/m) dZ @ A_prev.T and "
        "db = (1/m) np.sum(dZ, axis=1, keepdims=True).",
        (LINEAR_BACKWARD, GRADS),
        {"both": "dW and db computed without the 1/m", "dW": "dW computed without the 1/m",
         "db": "db computed without the 1/m"},
        visible_when="m > 1"),
    Bug("extra_factor_m", "an extra factor of m in dW and db",
        "Divide by m exactly once: if dZ[L] = A[L] - Y already carries a 1/m, or m multiplies instead of "
        "dividing, dW = (1/m) dZ @ A_prev.T and db = (1/m) np.sum(dZ, axis=1, keepdims=True) end up off by m.",
        (LINEAR_BACKWARD, GRADS),
        {"divided_twice": "dW and db divided by m twice", "times_m": "dW and db multiplied by m instead of divided"},
        visible_when="m > 1"),
    Bug("m_from_features", "m taken from the number of features",
        "m is the number of examples, the number of columns: m = A_prev.shape[1] (X.shape[1]); "
        "shape[0] is the number of features.",
        (LINEAR_BACKWARD, GRADS),
        {"per_layer": "m = A_prev.shape[0] (rows instead of columns)", "n_x": "m = X.shape[0] (the features)"},
        scope={"n_x": (GRADS,)},
        visible_when="n_prev != m (n_x != m for the 'n_x' variant) and n_prev != 1 (else it equals missing_1_over_m)"),
    Bug("db_wrong_axis", "db summed over the wrong axis",
        "db sums dZ over the examples, the columns: db = (1/m) np.sum(dZ, axis=1, keepdims=True), "
        "which has b's shape (n_l, 1).",
        (LINEAR_BACKWARD, GRADS),
        {"axis0": "db summed over axis 0 (shape (1, m))", "all": "db summed over every element (one number)"},
        visible_when="always for 'axis0' (shape (1, m)); 'all' needs n_l > 1"),
    Bug("db_missing_keepdims", "db without keepdims",
        "Keep db 2-D like b: np.sum(dZ, axis=1, keepdims=True) has shape (n_l, 1); without keepdims it is "
        "(n_l,), which broadcasts wrongly in b - learning_rate * db.",
        (LINEAR_BACKWARD, GRADS),
        {"no_keepdims": "db = np.sum(dZ, axis=1) / m, shape (n_l,)"},
        visible_when="always (shape (n_l,) instead of (n_l, 1))"),
    Bug("dW_missing_transpose", "dW without the transpose of A_prev",
        "dW = (1/m) dZ @ A_prev.T: dZ (n_l, m) times A_prev.T (m, n_{l-1}) gives W's shape (n_l, n_{l-1}).",
        (LINEAR_BACKWARD, GRADS),
        {"transposed_product": "dW = (1/m) A_prev @ dZ.T (the transpose of dW)",
         "no_transpose": "dW = (1/m) dZ @ A_prev (no .T)"},
        visible_when="'transposed_product' when n_l != n_prev; 'no_transpose' only runs when m == n_prev"),
    Bug("dA_prev_missing_transpose", "dA_prev without the transpose of W",
        "dA_prev = W.T @ dZ: W.T (n_{l-1}, n_l) times dZ (n_l, m) gives A_prev's shape (n_{l-1}, m).",
        (LINEAR_BACKWARD, GRADS),
        {"no_transpose": "dA_prev = W @ dZ (no .T)", "transposed_product": "dA_prev = dZ.T @ W (the transpose)"},
        visible_when="'no_transpose' only runs on a square W (n_l == n_prev) that is not symmetric; "
                     "'transposed_product' shows in linear_backward when n_prev != m, and in the gradients "
                     "only runs when m == n_prev; in the gradients, at least 2 layers"),
    Bug("dZ_sign_flipped", "dZ[L] = Y - A[L]",
        "dZ[L] = A[L] - Y (prediction minus label), not Y - A[L]; every other gradient inherits its sign.",
        (GRADS,), {"y_minus_a": "dZ[L] = Y - A[L]"},
        visible_when="always"),
    Bug("sigmoid_derivative_twice", "the sigmoid derivative applied on top of A[L] - Y",
        "With a sigmoid output and cross-entropy, dZ[L] = A[L] - Y already includes the sigmoid's "
        "derivative a(1 - a); don't multiply by it again.",
        (GRADS,), {"times_a_one_minus_a": "dZ[L] = (A[L] - Y) * A[L] * (1 - A[L])"},
        visible_when="always"),
    Bug("relu_mask_wrong_layer", "the ReLU derivative of the wrong layer",
        "The ReLU derivative of layer l uses that layer's own Z: dZ[l] = dA[l] * (Z[l] > 0). Check which "
        "layer's cache you read Z from.",
        (GRADS,),
        {"Z_next": "dZ[l] = dA[l] * (Z[l+1] > 0), the next layer's Z",
         "A_prev": "dZ[l] = dA[l] * (A[l-1] > 0), the mask from the layer's input"},
        visible_when="at least 2 layers and shapes that broadcast: 'Z_next' needs n_{l+1} == n_l or n_{l+1} == 1 "
                     "(the layer below the output always qualifies); 'A_prev' needs n_{l-1} == n_l; Z with both signs"),
    Bug("relu_backward_wrong", "a wrong ReLU backward",
        "ReLU backward is dZ = dA * g'(Z) with g'(Z) = 1 where Z > 0, else 0: mask dA by (Z > 0), "
        "keep dA in the product, and don't skip the mask.",
        (GRADS,),
        {"mask_from_dA": "dZ = dA * (dA > 0), the mask from dA instead of Z",
         "omits_dA": "dZ = (Z > 0) without dA", "no_derivative": "dZ = dA, without the ReLU mask"},
        visible_when="at least 2 layers; Z and dA of both signs"),
    Bug("last_layer_skipped", "the output layer skipped",
        "Layers run l = 1..L and layer L is the sigmoid output: the forward loop must reach it, and the "
        "backward pass must start from it (dW[L], db[L] from dZ[L] = A[L] - Y).",
        (FORWARD, GRADS),
        {"missing": "grads without dW[L] and db[L]", "zeros": "dW[L] and db[L] left at zero",
         "not_computed": "A[L-1] returned as AL (the output layer not computed)"},
        scope={"missing": (GRADS,), "zeros": (GRADS,), "not_computed": (FORWARD,)},
        visible_when="always in the gradients; in the forward pass AL has shape (n_{L-1}, m), the same "
                     "shape only when n_{L-1} == 1; at least 2 layers"),
    Bug("first_layer_skipped", "the backward loop stops before layer 1",
        "The backward loop must run down to l = 1: dW1 = (1/m) dZ1 @ X.T uses A[0] = X, e.g. "
        "for l in reversed(range(1, L + 1)).",
        (GRADS,),
        {"missing": "grads without dW1 and db1", "zeros": "dW1 and db1 left at zero"},
        visible_when="at least 2 layers"),
    Bug("missing_bias", "the bias left out of Z",
        "Z[l] = W[l] @ A[l-1] + b[l]: add the bias in every layer.",
        (FORWARD, GRADS), {"no_bias": "Z[l] = W[l] @ A[l-1], without b[l]"},
        visible_when="non-zero biases"),
    Bug("wrong_activation_hidden", "the hidden layers don't use ReLU",
        "Hidden layers use ReLU: A[l] = np.maximum(0, Z[l]) for l < L, and on the way back its derivative "
        "(Z[l] > 0).",
        (FORWARD, GRADS),
        {"sigmoid": "a sigmoid in the hidden layers", "tanh": "tanh in the hidden layers"},
        visible_when="at least 2 layers"),
    Bug("wrong_activation_output", "the output layer doesn't use a sigmoid",
        "The output layer uses a sigmoid, A[L] = 1 / (1 + np.exp(-Z[L])), so that A[L] is a probability.",
        (FORWARD, GRADS),
        {"relu": "ReLU at the output", "identity": "no activation at the output (A[L] = Z[L])"},
        visible_when="always; 'identity' differs from 'relu' only where Z[L] < 0, so Z[L] with both signs"),
    Bug("activations_swapped", "ReLU and sigmoid swapped",
        "ReLU belongs in the hidden layers and the sigmoid in the output layer; yours are the other way round.",
        (FORWARD, GRADS), {"swapped": "sigmoid hidden layers and a ReLU output"},
        visible_when="at least 2 layers"),
    Bug("sigmoid_wrong_sign", "sigmoid with exp(+z)",
        "sigmoid(z) = 1 / (1 + np.exp(-z)): mind the minus sign in the exponent.",
        (FORWARD, GRADS), {"exp_plus_z": "sigmoid(z) = 1 / (1 + np.exp(z))"},
        visible_when="always"),
    Bug("cost_wrong_sign", "the cost's minus sign missing",
        "J = -(1/m) sum(Y log A[L] + (1 - Y) log(1 - A[L])): the minus makes the cost positive, since the log "
        "of a probability is negative.",
        (COST,), {"positive_sum": "+(1/m) sum(...), without the leading minus"},
        visible_when="always"),
    Bug("cost_missing_mean", "the cost summed, not averaged",
        "The cost is the mean over the m examples: J = -(1/m) sum(...), with m = Y.shape[1].",
        (COST,), {"sum": "the sum over examples without 1/m"},
        visible_when="m > 1"),
    Bug("cost_missing_term", "a cross-entropy term missing",
        "Cross-entropy has two terms: Y log A[L] for the positive examples and (1 - Y) log(1 - A[L]) for "
        "the negative ones; J = -(1/m) sum of both.",
        (COST,),
        {"positive_only": "only the Y log A[L] term", "negative_only": "only the (1 - Y) log(1 - A[L]) term"},
        visible_when="Y with both classes"),
    Bug("cost_not_scalar", "the cost is not one number",
        "Return one float: sum over the examples, J = -(1/m) np.sum(...), then float(np.squeeze(J)).",
        (COST,), visible_when="always (recognised by the type and shape of the returned value)"),
    Bug("one_sided_differences", "one-sided differences in the gradient check",
        "Use the two-sided difference (J(theta + eps) - J(theta - eps)) / (2 eps): its error is O(eps^2); "
        "the one-sided (J(theta + eps) - J(theta)) / eps has error O(eps).",
        (GRADIENT_CHECK,), visible_when="an epsilon large enough for O(eps) to show, e.g. 1e-4"),
    Bug("params_not_restored", "parameters not restored in the gradient check",
        "Put each parameter back after computing J(theta + eps) and J(theta - eps), or perturb a copy; "
        "otherwise every later component is computed at the wrong point and the caller's params change.",
        (GRADIENT_CHECK,), visible_when="always (params differ after the call)"),
    Bug("gc_not_relative", "the gradient check's difference not relative",
        "Return the relative difference ||g_bp - g_num||_2 / (||g_bp||_2 + ||g_num||_2), not only the norm "
        "of the difference.",
        (GRADIENT_CHECK,), visible_when="gradients whose norms are far from 1"),
    Bug("missing_transpose", "a transpose missing in a matrix product",
        "Check the transposes in the two backward products: dW = (1/m) dZ @ A_prev.T and dA_prev = W.T @ dZ "
        "(the result has the shape of W, respectively of A_prev).",
        (EXCEPTION,), visible_when="a matmul shape error in a backward function"),
    Bug("forward_product_order", "W and A_prev in the wrong order in Z",
        "Z[l] = W[l] @ A[l-1] + b[l]: W[l] (n_l, n_{l-1}) on the left, A[l-1] (n_{l-1}, m) on the right; check "
        "that layer l reads params['W' + str(l)] and the previous layer's output.",
        (EXCEPTION,), visible_when="a matmul shape error in a forward function"),
    Bug("elementwise_instead_of_matmul", "* used where a matrix product is needed",
        "`*` multiplies element by element; the chapter's products are matrix products, written with @: "
        "Z = W @ A_prev + b, dW = (1/m) dZ @ A_prev.T, dA_prev = W.T @ dZ.",
        (EXCEPTION,), visible_when="a broadcasting error between shapes (a, b) and (b, c)"),
    Bug("layer_index_off_by_one", "a layer index off by one",
        "Layers are numbered 1..L with L = len(params) // 2 (keys W1..WL; A[0] = X is not a parameter), and "
        "caches[l - 1] holds layer l: loop with range(1, L + 1) forward and reversed(range(1, L + 1)) back.",
        (EXCEPTION,), visible_when="a KeyError on W0/b0/W(L+1) or an IndexError on the caches"),
    Bug("gradient_key_missing", "a gradient not stored",
        "Store every layer's gradients under the chapter's keys: grads['dW' + str(l)] and grads['db' + str(l)] "
        "for l = L down to 1.",
        (EXCEPTION,), visible_when="a KeyError on a dW/db key"),
    Bug("dA_key_mismatch", "dA read before it was stored",
        "Carry dA from one layer to the next: the dA_prev that layer l + 1 returns is the dA of layer l; store "
        "and read it under the same key (or keep it in a variable).",
        (EXCEPTION,), visible_when="a KeyError on a dA key"),
    Bug("cache_format", "the cache unpacked differently from how it was built",
        "Your backward unpacks a cache differently from how your forward built it: whatever linear_forward "
        "returns as its cache (e.g. (A_prev, W, b)), unpack it the same way in linear_backward.",
        (EXCEPTION,), visible_when="an unpacking error in a backward function"),
    Bug("missing_return", "a function returns None",
        "A function returned None: end every function with `return ...` (e.g. `return Z, cache`).",
        (EXCEPTION,), visible_when="a TypeError about NoneType"),
    Bug("flattened_array", "an array lost its second dimension",
        "Keep arrays 2-D in the chapter's (n, m) layout: a shape (n,) array has no axis 1; use keepdims=True in "
        "sums and reshape(n, 1) for vectors.",
        (EXCEPTION,), visible_when="an AxisError on axis 1"),
    Bug("missing_import", "NumPy not imported",
        "Add `import numpy as np` at the top of your file (in a notebook, in a cell that is part of the "
        "submission).",
        (EXCEPTION,), visible_when="NameError on np"),
    Bug("undefined_name", "a name used before it is defined",
        "A function uses a name that your submission never defines at top level: define helpers such as "
        "sigmoid or relu in the submitted file itself, with exactly that spelling.",
        (EXCEPTION,), visible_when="NameError on another name"),
]

# Insertion order is the priority order that reference.diagnose tries.
BUGS: dict[str, Bug] = {bug.id: bug for bug in _BUG_LIST}

# Forward bugs that also change the gradients a student's backward computes
# from their own caches. The forward form of last_layer_skipped is left out:
# without an output layer a backward pass has nothing coherent to compute.
_FORWARD_INTO_GRADS = {"missing_bias", "wrong_activation_hidden", "wrong_activation_output",
                       "activations_swapped", "sigmoid_wrong_sign"}


def flags(function: str) -> list[str]:
    """Every concrete ``"id:variant"`` flag that changes `function`, in priority order."""
    return [flag for bug in _BUG_LIST for flag in bug.flags(function)]


def split_flag(bug: str | None) -> tuple[str | None, str | None]:
    """``"id:variant"`` (or ``"id"``, meaning its first variant) as ``(id, variant)``; None gives (None, None)."""
    if bug is None:
        return None, None
    bug_id, _, variant = bug.partition(":")
    if bug_id not in BUGS:
        raise ValueError(f"unknown bug {bug_id!r}; known: {', '.join(BUGS)}")
    known = BUGS[bug_id].variants
    if not known:
        raise ValueError(f"bug {bug_id!r} has no array variant")
    variant = variant or next(iter(known))
    if variant not in known:
        raise ValueError(f"bug {bug_id!r} has no variant {variant!r}; known: {', '.join(known)}")
    return bug_id, variant


@functools.lru_cache(maxsize=256)  # the bug table never changes; a drawn case tries every flag on each candidate
def _flag_for(bug: str | None, function: str) -> tuple[str | None, str | None]:
    bug_id, variant = split_flag(bug)
    if bug_id is not None and f"{bug_id}:{variant}" not in BUGS[bug_id].flags(function):
        raise ValueError(f"bug {bug!r} does not change {function}")
    return bug_id, variant


def depth(params: dict) -> int:
    """The number of layers L of a params dict (how many ``W<l>`` keys it has)."""
    return num_layers(params)


# ---------------------------------------------------------------- activations


def _sigmoid(Z):
    # exp(-log(1 + exp(-Z))) never overflows for large negative Z.
    return np.exp(-np.logaddexp(0.0, -Z))


_ACTIVATIONS = {
    "relu": lambda Z: np.maximum(Z, 0.0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "identity": lambda Z: Z,
    "exp_plus_z": lambda Z: _sigmoid(-Z),
}


def _activation_names(bug_id: str | None, variant: str | None) -> tuple[str, str]:
    """(hidden, output) activation names under a forward bug."""
    if bug_id == "wrong_activation_hidden":
        return variant, "sigmoid"
    if bug_id == "wrong_activation_output":
        return "relu", variant
    if bug_id == "activations_swapped":
        return "sigmoid", "relu"
    if bug_id == "sigmoid_wrong_sign":
        return "relu", "exp_plus_z"
    return "relu", "sigmoid"


# ---------------------------------------------------------------- the variants


def _forward(X, params, bug_id, variant, L=None):
    L = depth(params) if L is None else L
    hidden, output = _activation_names(bug_id, variant)
    last = L - 1 if (bug_id, variant) == ("last_layer_skipped", "not_computed") else L
    cache = {"A0": X}
    A = X
    for l in range(1, last + 1):
        Z = params[f"W{l}"] @ A
        if bug_id != "missing_bias":
            Z = Z + params[f"b{l}"]
        A = _ACTIVATIONS[hidden if l < L else output](Z)
        cache[f"Z{l}"], cache[f"A{l}"] = Z, A
    return A, cache


def forward_variant(X, params, bug=None):
    """``(AL, cache)`` of the L-layer forward pass with `bug`; cache holds ``A0..AL`` and ``Z1..ZL``.

    With ``last_layer_skipped`` the loop stops one layer early and AL is the
    ReLU output of layer L-1 (the cache then stops there too).
    """
    bug_id, variant = _flag_for(bug, FORWARD)
    return _forward(X, params, bug_id, variant)


def _linear_backward(dZ, A_prev, W, bug_id, variant, m):
    # The two scale factors start as the chapter's 1/m and are bent by the
    # scale bugs; m itself is bent by the caller for m_from_features.
    scale_W = scale_b = 1.0 / m
    if bug_id == "missing_1_over_m":
        if variant in ("both", "dW"):
            scale_W = 1.0
        if variant in ("both", "db"):
            scale_b = 1.0
    elif bug_id == "extra_factor_m":
        scale_W = scale_b = (1.0 / m ** 2) if variant == "divided_twice" else float(m)

    if bug_id == "dW_missing_transpose":
        product = A_prev @ dZ.T if variant == "transposed_product" else dZ @ A_prev
    else:
        product = dZ @ A_prev.T
    dW = scale_W * product

    if bug_id == "db_wrong_axis":
        summed = np.sum(dZ, axis=0, keepdims=True) if variant == "axis0" else np.asarray(np.sum(dZ))
    elif bug_id == "db_missing_keepdims":
        summed = np.sum(dZ, axis=1)
    else:
        summed = dZ.sum(axis=1, keepdims=True)  # the method: np.sum's dispatch costs more than the sum here
    db = scale_b * summed

    if bug_id == "dA_prev_missing_transpose":
        dA_prev = W @ dZ if variant == "no_transpose" else dZ.T @ W
    else:
        dA_prev = W.T @ dZ
    return dA_prev, dW, db


def linear_backward_variant(dZ, A_prev, W, b, bug=None):
    """``(dA_prev, dW, db)`` of one linear layer with `bug` (b is unused, as in the chapter's formulas).

    Raises NumPy's ValueError where the bug is not shape-valid on these
    inputs (e.g. ``dA_prev_missing_transpose:no_transpose`` on a non-square W).
    """
    bug_id, variant = _flag_for(bug, LINEAR_BACKWARD)
    m = A_prev.shape[0] if bug_id == "m_from_features" else A_prev.shape[1]
    return _linear_backward(dZ, A_prev, W, bug_id, variant, m)


def _hidden_backward(dA, l, cache, hidden, bug_id, variant):
    """dZ[l] from dA[l] through hidden layer l's activation, under the backward bugs."""
    Z, A = cache[f"Z{l}"], cache[f"A{l}"]
    if hidden == "sigmoid":
        return dA * A * (1 - A)
    if hidden == "tanh":
        return dA * (1 - A ** 2)
    mask_source = Z
    if bug_id == "relu_mask_wrong_layer":
        mask_source = cache[f"Z{l + 1}"] if variant == "Z_next" else cache[f"A{l - 1}"]
    elif bug_id == "relu_backward_wrong":
        if variant == "mask_from_dA":
            return dA * (dA > 0)
        if variant == "omits_dA":
            return (Z > 0).astype(float)
        return dA
    return dA * (mask_source > 0)


def grads_variant(X, Y, params, bug=None, *, clean_forward=None):
    """The gradients ``{"dW1", "db1", ..., "dWL", "dbL"}`` of a full forward + backward pass with `bug`.

    Forward bugs (wrong activations, missing bias, the sigmoid's sign) run
    through the whole pass with a backward that is consistent with them (the
    derivative of the activation actually used), because that is what a
    student's backward computes from their own caches; the output layer
    keeps dZ[L] = A[L] - Y. ``last_layer_skipped`` and ``first_layer_skipped``
    leave the other layers' gradients correct.

    `clean_forward`, ``forward_variant(X, params)`` computed once by a caller
    that tries many bugs on one case, stands in for the bug-free forward pass
    (it is only read); bugs that change the forward pass compute their own.
    """
    return dict(grads_by_layer(X, Y, params, bug, clean_forward=clean_forward))


def grads_by_layer(X, Y, params, bug=None, *, clean_forward=None):
    """`grads_variant`'s ``(key, gradient)`` pairs as the backward pass computes them, the last layer first.

    A caller comparing the gradients with the right ones can stop at the
    first that differs, before the earlier layers are computed. An unknown
    `bug` raises ValueError here, not when the pairs are first read.
    """
    bug_id, variant = _flag_for(bug, GRADS)
    return _grads_by_layer(X, Y, params, bug_id, variant, clean_forward)


def _grads_by_layer(X, Y, params, bug_id, variant, clean_forward):
    """`grads_by_layer`'s pairs, for a bug already looked up."""
    L = depth(params)
    forward_bug = (bug_id, variant) if bug_id in _FORWARD_INTO_GRADS else (None, None)
    if clean_forward is not None and forward_bug == (None, None):
        AL, cache = clean_forward
    else:
        AL, cache = _forward(X, params, *forward_bug, L=L)
    hidden, _ = _activation_names(*forward_bug)
    m = Y.shape[1]

    dZ = AL - Y
    if bug_id == "sigmoid_derivative_twice":
        dZ = dZ * AL * (1 - AL)
    elif bug_id == "dZ_sign_flipped":
        dZ = Y - AL

    for l in range(L, 0, -1):
        A_prev = cache[f"A{l - 1}"]
        m_used = m
        if bug_id == "m_from_features":
            m_used = A_prev.shape[0] if variant == "per_layer" else X.shape[0]
        dA_prev, dW, db = _linear_backward(dZ, A_prev, params[f"W{l}"], bug_id, variant, m_used)
        skipped = (bug_id == "last_layer_skipped" and l == L) or (bug_id == "first_layer_skipped" and l == 1)
        if not skipped:
            yield f"dW{l}", dW
            yield f"db{l}", db
        elif variant == "zeros":
            yield f"dW{l}", np.zeros_like(params[f"W{l}"])
            yield f"db{l}", np.zeros_like(params[f"b{l}"])
        if l > 1:
            dZ = _hidden_backward(dA_prev, l - 1, cache, hidden, bug_id, variant)


def cost_variant(AL, Y, bug=None):
    """The binary cross-entropy cost of AL against Y, with `bug`, as a float."""
    bug_id, variant = _flag_for(bug, COST)
    m = Y.shape[1]
    positive = Y * np.log(AL)
    negative = (1 - Y) * np.log(1 - AL)
    if bug_id == "cost_missing_term":
        terms = positive if variant == "positive_only" else negative
    else:
        terms = positive + negative
    total = float(np.sum(terms))
    cost = -total if bug_id == "cost_missing_mean" else -total / m
    return -cost if bug_id == "cost_wrong_sign" else cost


def gradient_check_variant(X, Y, params, epsilon, bug=None):
    """What a gradient check with `bug` returns on these inputs (the chapter's relative difference).

    ``bug`` is None (the chapter's two-sided check), ``"one_sided_differences"``
    or ``"params_not_restored"`` (each parameter left at theta - eps after its
    two costs, in the order W1, b1, W2, ... and row by row, as the usual loops
    go). The backprop gradients are the correct ones, taken before any nudge.
    """
    if bug not in (None, "one_sided_differences", "params_not_restored"):
        raise ValueError(f"no gradient-check variant for {bug!r}")
    L = depth(params)
    keys = [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]
    theta = {key: np.array(params[key], dtype=float) for key in keys}

    def cost():
        return cost_variant(_forward(X, theta, None, None)[0], Y)

    backprop = grads_variant(X, Y, theta)
    base = cost() if bug == "one_sided_differences" else None
    approx = []
    for key in keys:
        values = theta[key].reshape(-1)  # a view: writing it nudges theta[key]
        for i in range(values.size):
            original = values[i]
            values[i] = original + epsilon
            plus = cost()
            if bug == "one_sided_differences":
                values[i] = original
                approx.append((plus - base) / epsilon)
                continue
            values[i] = original - epsilon
            minus = cost()
            if bug != "params_not_restored":
                values[i] = original
            approx.append((plus - minus) / (2 * epsilon))
    g = np.concatenate([np.ravel(backprop["d" + key]) for key in keys])
    n = np.asarray(approx)
    denominator = np.linalg.norm(g) + np.linalg.norm(n)
    return float(np.linalg.norm(g - n) / denominator) if denominator else 0.0

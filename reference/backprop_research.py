"""Reference solutions of the starred research questions.

R2: `Value`, a scalar reverse-mode autodiff engine in the style of Karpathy's
micrograd: each operation computes its result and, right next to it, the
local derivative that `Value.backward` later multiplies into the upstream
gradient. `logistic_loss` builds the one-sample logistic-regression loss with
it.

R1: `checkpointed_gradients`, gradient checkpointing (Chen et al., 2016) for
the lab's ReLU/sigmoid network: the forward pass keeps only every
``segment_size``-th layer's pre-activation, and the backward pass recomputes
one segment at a time from its checkpoint, so memory grows with
``L / k + k`` activations instead of ``L``, for about one extra forward pass.
`forward_layer_evaluations` states that extra compute exactly.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from reference.backprop_lab import linear_backward, linear_forward, num_layers, relu, relu_backward, sigmoid

# ---------------------------------------------------------------- R2: autodiff


def _no_local_gradient():
    """A leaf passes nothing further down."""


class Value:
    """A scalar in a computation graph that can differentiate the result with respect to it.

    ``Value(data)`` wraps a number. Arithmetic with other Values or plain
    numbers (``+ - * / **``, reversed forms, unary ``-``, `exp`, `log`)
    builds new Values; ``out.backward()`` then sets ``.grad`` of every Value
    ``out`` depends on to ``d out / d value``. ``.grad`` is 0.0 until then.
    """

    def __init__(self, data, _children=(), _op=""):
        if isinstance(data, Value):
            raise TypeError("Value(data) takes a plain number; use the Value itself instead of wrapping it")
        self.data = float(data)
        self.grad = 0.0
        # `_backward` adds this node's share of out.grad into its children's grads.
        self._backward = _no_local_gradient
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def __add__(self, other):
        """``self + other``; d/dself = d/dother = 1."""
        # BEGIN SOLUTION
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __mul__(self, other):
        """``self * other``; d/dself = other, d/dother = self."""
        # BEGIN SOLUTION
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __pow__(self, exponent):
        """``self ** exponent`` for a plain-number exponent; d/dself = exponent * self ** (exponent - 1)."""
        # BEGIN SOLUTION
        if not isinstance(exponent, numbers.Real):
            return NotImplemented
        result = self.data ** exponent
        if isinstance(result, complex):
            raise ValueError(f"{self.data} ** {exponent} is not a real number")
        out = Value(result, (self,), f"**{exponent}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def exp(self):
        """``e ** self``; its derivative is itself."""
        # BEGIN SOLUTION
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def log(self):
        """Natural logarithm (``self`` must be positive); d/dself = 1 / self."""
        # BEGIN SOLUTION
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out
        # END SOLUTION

    # The remaining operators are compositions of the ones above, so their
    # derivatives come for free.

    def __neg__(self):
        """``-self``."""
        # BEGIN SOLUTION
        return self * -1
        # END SOLUTION

    def __radd__(self, other):
        """``other + self`` for a plain number ``other``."""
        # BEGIN SOLUTION
        return self + other
        # END SOLUTION

    def __sub__(self, other):
        """``self - other``."""
        # BEGIN SOLUTION
        return self + (-other)
        # END SOLUTION

    def __rsub__(self, other):
        """``other - self`` for a plain number ``other``."""
        # BEGIN SOLUTION
        return other + (-self)
        # END SOLUTION

    def __rmul__(self, other):
        """``other * self`` for a plain number ``other``."""
        # BEGIN SOLUTION
        return self * other
        # END SOLUTION

    def __truediv__(self, other):
        """``self / other``."""
        # BEGIN SOLUTION
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        return self * other ** -1
        # END SOLUTION

    def __rtruediv__(self, other):
        """``other / self`` for a plain number ``other``."""
        # BEGIN SOLUTION
        return other * self ** -1
        # END SOLUTION

    def backward(self):
        """Fill ``.grad`` of every Value this one depends on with ``d self / d value``.

        ``self.grad`` becomes 1. A Value used several times collects the sum
        of its uses' contributions. Gradients are reset first, so calling
        `backward` again gives the same result instead of doubling it.
        """
        # Order the graph so each node comes after everything that uses it, then apply the chain rule in that order.
        # BEGIN SOLUTION
        # Iterative depth-first post-order: a recursive one would hit Python's
        # recursion limit on graphs a few thousand operations deep.
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if child not in visited)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
        # END SOLUTION


def _as_value(x):
    """``x`` as a Value: Values pass through, real numbers are wrapped, anything else is NotImplemented."""
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        return Value(x)
    return NotImplemented


def logistic_loss(w, x, b, y):
    """The cross-entropy loss of one sample under logistic regression, as a Value.

    ``z = b + sum_i w[i] * x[i]``, ``a = 1 / (1 + exp(-z))``,
    ``loss = -(y log a + (1 - y) log(1 - a))``. ``w`` and ``x`` are equally
    long sequences of Values or numbers, ``b`` a Value or number, ``y`` 0 or 1.
    Calling ``.backward()`` on the result gives ``dloss/dw[i] = (a - y) x[i]``
    and ``dloss/db = a - y`` in the Values' ``.grad``.
    """
    # BEGIN SOLUTION
    if len(w) != len(x):
        raise ValueError(f"w has {len(w)} weights but x has {len(x)} features")
    z = _as_value(b)
    for w_i, x_i in zip(w, x):
        z = z + w_i * x_i
    a = 1 / (1 + (-z).exp())
    return -(y * a.log() + (1 - y) * (1 - a).log())
    # END SOLUTION


# ---------------------------------------------------------- R1: checkpointing


def checkpointed_gradients(X, Y, params, segment_size):
    """The gradients of `reference.backprop_lab.L_layer_backward`, computed with checkpointing.

    The forward pass keeps only the pre-activations ``Z[k], Z[2k], ...``
    (``k = segment_size``) and the final output. The backward pass then
    handles the segments from the top down: it recomputes a segment's
    activations from the checkpoint below it, backpropagates through the
    segment, and drops them before moving on. Returns ``grads`` with
    ``dW1..dWL``, ``db1..dbL``.
    """
    # Forward: keep every k-th layer's values only. Backward, one segment at a time from the top:
    # recompute the segment from its checkpoint, backpropagate through it, discard it.
    # BEGIN SOLUTION
    L = num_layers(params)
    k = int(segment_size)
    if k < 1 or k != segment_size:
        raise ValueError(f"segment_size must be a positive integer, got {segment_size!r}")

    # A checkpoint keeps Z rather than A: the segment below needs Z for
    # relu'(Z), the segment above rebuilds its input as relu(Z) for free.
    checkpoints = {}
    A = X
    for l in range(1, L + 1):
        Z, _ = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        A = sigmoid(Z) if l == L else relu(Z)
        if l % k == 0 and l < L:
            checkpoints[l] = Z
    AL = A

    grads = {}
    dA = None
    for start in reversed(range(0, L, k)):
        end = min(start + k, L)
        if end == L:
            dZ = AL - np.reshape(Y, AL.shape)
        else:
            dZ = relu_backward(dA, checkpoints.pop(end))

        # Recompute A[start .. end-1] and Z[start+1 .. end-1]; layer `end`
        # itself need not run again, its Z is the checkpoint (or unused at L).
        inputs = [X if start == 0 else relu(checkpoints[start])]
        pre_activations = []
        for l in range(start + 1, end):
            # No local name for Z: it would keep the last one alive after its pop below.
            pre_activations.append(linear_forward(inputs[-1], params[f"W{l}"], params[f"b{l}"])[0])
            inputs.append(relu(pre_activations[-1]))

        # Popping as we go releases each recomputed array as soon as its layer is done.
        for l in range(end, start, -1):
            A_prev = inputs.pop()
            dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_backward(dZ, (A_prev, params[f"W{l}"], params[f"b{l}"]))
            del A_prev, dZ
            if l > start + 1:
                dZ = relu_backward(dA, pre_activations.pop())
                dA = None
    return grads
    # END SOLUTION


def forward_layer_evaluations(n_layers, segment_size):
    """How many layer forward steps (``W A + b``) `checkpointed_gradients` runs for one gradient.

    ``n_layers`` in the first forward pass, plus, per segment, the layers
    below its top that it recomputes: ``2 L - ceil(L / k)`` in all, against
    ``L`` for plain backprop.
    """
    # BEGIN SOLUTION
    segments = -(-n_layers // segment_size)
    return 2 * n_layers - segments
    # END SOLUTION

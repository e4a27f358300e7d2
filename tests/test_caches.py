"""Caches built from correct values in the student's own layout (issue 10 §2: each bug charged once).

reference/caches.py learns a layout from the student's forward pass on one
equal-widths network, then fills it with the reference values of any other
network. Each student here has a correct backward pass for its own layout:
on the built caches it must give the reference gradients, whatever its
forward pass gets wrong.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from grader.checking import StudentCode
from grader.source.loadplan import plan_load
from grader.source.ownership import origins
from reference import backprop_lab as ref
from reference.caches import (CacheLayouts, backward_on_correct_caches, linear_backward_on_correct_cache, missing)
from reference.networks import draw_network
from tests.sandbox_helpers import make_sandbox

ALIASES = {"L_layer_forward": ["L_model_forward"], "L_layer_backward": ["L_model_backward"]}

# Helpers every student below shares: the activations and a backward pass written against `read(cache)`,
# which each layout defines as (A_prev, W, Z).
COMMON = '''
import numpy as np

def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))

def generic_backward(AL, Y, caches, read, order=None):
    grads = {}
    entries = list(caches) if order is None else order(caches)
    L = len(entries)
    dZ = AL - Y
    for l in range(L, 0, -1):
        A_prev, W, Z = read(entries[l - 1])
        m = A_prev.shape[1]
        grads["dW%d" % l] = dZ @ A_prev.T / m
        grads["db%d" % l] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dZ = (W.T @ dZ) * (read(entries[l - 2])[2] > 0)
    return grads
'''

LAYOUTS = {
    "chapter": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append(((A, W, b), Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]))
''',
    "dict_per_layer_keyed_by_name": '''
def L_model_forward(X, params):
    L = len(params) // 2
    A, caches = X, {}
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches["layer" + str(l)] = {"A_prev": A, "W": W, "b": b, "Z": Z}
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_model_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c["A_prev"], c["W"], c["Z"]),
                            order=lambda cs: [cs["layer%d" % l] for l in range(1, len(cs) + 1)])
''',
    "dict_keyed_by_int_from_zero": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, {}
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches[l - 1] = [[A, W, b], Z]
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]),
                            order=lambda cs: [cs[k] for k in range(len(cs))])
''',
    "extra_entries_with_names_and_indices": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        A_new = sigmoid(Z) if l == L else np.maximum(Z, 0)
        caches.append((A, W, b, Z, A_new, "sigmoid" if l == L else "relu", l))
        A = A_new
    return A, caches

def L_layer_backward(AL, Y, caches):
    for position, cache in enumerate(caches, start=1):
        assert cache[6] == position and cache[5] == ("sigmoid" if position == len(caches) else "relu")
        assert np.allclose(cache[4], sigmoid(cache[3]) if cache[5] == "sigmoid" else np.maximum(cache[3], 0))
    return generic_backward(AL, Y, caches, lambda c: (c[0], c[1], c[3]))
''',
    "objects_with_slots": '''
class LinearCache:
    __slots__ = ("A_prev", "W", "b")
    def __init__(self, A_prev, W, b):
        self.A_prev, self.W, self.b = A_prev, W, b

class LayerCache:
    def __init__(self, linear, Z, activation):
        self.linear, self.Z, self.activation = linear, Z, activation

def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append(LayerCache(LinearCache(A, W, b), Z, "sigmoid" if l == L else "relu"))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    assert all(isinstance(c, LayerCache) and isinstance(c.linear, LinearCache) for c in caches)
    return generic_backward(AL, Y, caches, lambda c: (c.linear.A_prev, c.linear.W, c.Z))
''',
    "namedtuples": '''
from collections import namedtuple
Layer = namedtuple("Layer", "A_prev W b Z")

def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append(Layer(A, W, b, Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c.A_prev, c.W, c.Z))
''',
    # Sizes of the case kept in the cache (a held-out file read m back from it): the grader's caches must hold
    # the sizes of the case they are built for, not those of the case the layout was learnt on.
    "keeps_m_and_shapes": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append({"A_prev": A, "W": W, "b": b, "Z": Z, "m": A.shape[1], "shape": A.shape,
                       "units": W.shape[0], "layer": l})
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    assert all(c["shape"] == c["A_prev"].shape and c["units"] == c["W"].shape[0] for c in caches)
    assert [c["layer"] for c in caches] == list(range(1, len(caches) + 1))
    grads, dZ = {}, AL - Y
    for l in range(len(caches), 0, -1):
        c = caches[l - 1]
        grads["dW%d" % l] = dZ @ c["A_prev"].T / c["m"]
        grads["db%d" % l] = dZ.sum(axis=1, keepdims=True) / c["m"]
        if l > 1:
            dZ = (c["W"].T @ dZ) * (caches[l - 2]["Z"] > 0)
    return grads
''',
    # An activation the grader does not know (a leaky ReLU forward, the plain ReLU's derivative backward): the
    # layout is still learnt, from the linear part of each layer.
    "leaky_relu_forward": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append(((A, W, b), Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0.01 * Z)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]))
''',
    "reuses_b1_in_every_hidden_layer": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W = params["W%d" % l]
        b = params["b%d" % l] if l == L else params["b1"]
        Z = W @ A + b
        caches.append(((A, W, b), Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]))
''',
    "forgets_the_output_bias": '''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + (b if l < L else 0)
        caches.append(((A, W, b), Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches

def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]))
''',
}


def _student(source: str):
    source = textwrap.dedent(COMMON + source)
    sandbox = make_sandbox(source)
    return sandbox, StudentCode(sandbox, ALIASES, origins=origins(plan_load(source)))


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_the_backward_pass_gets_correct_caches_in_its_own_layout(name):
    sandbox, student = _student(LAYOUTS[name])
    with sandbox:
        layouts = CacheLayouts(student, seed=5)
        assert layouts.network.source == "yours", layouts.network.reason
        assert missing(layouts.network) == []
        for dims, m in [([4, 6, 3, 2, 1], 5), ([3, 1], 2), ([2, 3, 1], 1)]:
            params, X, Y = draw_network(dims, m, np.random.default_rng(len(dims) + m))
            judged, AL = backward_on_correct_caches(student, layouts, X, Y, params)
            assert "your own layout" in judged.caches
            expected = ref.L_layer_backward(AL, Y, ref.L_layer_forward(X, params)[1])
            for key in expected:
                np.testing.assert_allclose(judged.value[key], expected[key], rtol=1e-10, atol=1e-12)


def test_caches_without_b_lack_what_the_backward_pass_needs():
    sandbox, student = _student('''
def L_layer_forward(X, params):
    L = len(params) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        Z = W @ A + b
        caches.append((A, W, Z))
        A = sigmoid(Z) if l == L else np.maximum(Z, 0)
    return A, caches
''')
    with sandbox:
        layout = CacheLayouts(student, seed=1).network
        assert layout.source == "yours"
        assert "the first layer's cache holds no b" in missing(layout)


def test_without_a_forward_pass_the_chapter_layout_is_used_and_said():
    sandbox, student = _student('''
def L_layer_backward(AL, Y, caches):
    return generic_backward(AL, Y, caches, lambda c: (c[0][0], c[0][1], c[1]))
''')
    with sandbox:
        layouts = CacheLayouts(student, seed=2)
        assert layouts.network.source == "chapter"
        params, X, Y = draw_network([3, 4, 1], 6, np.random.default_rng(0))
        judged, _ = backward_on_correct_caches(student, layouts, X, Y, params)
        assert "chapter's layout" in judged.caches and "does not define `L_layer_forward`" in judged.caches


def test_an_unlearnable_layout_falls_back_to_the_students_own_caches_and_says_so():
    # One flat dict for the whole network: not one entry per layer.
    sandbox, student = _student('''
def L_layer_forward(X, params):
    L = len(params) // 2
    cache = {"A0": X}
    A = X
    for l in range(1, L + 1):
        cache["W%d" % l], cache["Z%d" % l] = params["W%d" % l], params["W%d" % l] @ A + params["b%d" % l]
        A = cache["A%d" % l] = sigmoid(cache["Z%d" % l]) if l == L else np.maximum(cache["Z%d" % l], 0)
    return A, cache

def L_layer_backward(AL, Y, cache):
    L = len([k for k in cache if k.startswith("W")])
    entries = [(cache["A%d" % (l - 1)], cache["W%d" % l], cache["Z%d" % l]) for l in range(1, L + 1)]
    return generic_backward(AL, Y, entries, lambda c: c)
''')
    with sandbox:
        layouts = CacheLayouts(student, seed=3)
        assert layouts.network.source == "own"
        params, X, Y = draw_network([3, 4, 1], 6, np.random.default_rng(0))
        judged, AL = backward_on_correct_caches(student, layouts, X, Y, params)
        assert judged.caches.startswith("the caches your own L_layer_forward made")
        expected = ref.L_layer_backward(AL, Y, ref.L_layer_forward(X, params)[1])
        np.testing.assert_allclose(judged.value["dW1"], expected["dW1"], rtol=1e-10)


def test_linear_backward_gets_a_correct_cache_in_the_layout_of_linear_forward():
    sandbox, student = _student('''
def linear_forward(A_prev, W, b):
    Z = W @ A_prev   # forgets b: the cache layout is still (A_prev, W, b, Z)
    return Z, {"A": A_prev, "W": W, "b": b, "Z": Z}

def linear_backward(dZ, cache):
    m = cache["A"].shape[1]
    assert np.allclose(cache["Z"], cache["W"] @ cache["A"] + cache["b"])
    return cache["W"].T @ dZ, dZ @ cache["A"].T / m, dZ.sum(axis=1, keepdims=True) / m
''')
    with sandbox:
        layouts = CacheLayouts(student, seed=4)
        assert layouts.linear.source == "yours"
        rng = np.random.default_rng(0)
        A, W, b, dZ = rng.standard_normal((3, 5)), rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), \
            rng.standard_normal((2, 5))
        judged = linear_backward_on_correct_cache(student, layouts, dZ, A, W, b, "linear_backward(...)")
        for got, want in zip(judged.value, ref.linear_backward(dZ, (A, W, b))):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_linear_backward_gets_the_sizes_of_its_own_case_in_the_cache():
    """A cache that keeps m (and a shape) was handed back with the learning case's m = 5 for every case: a
    correct backward then lost 21.8 of 30 points as "dW equals the expected value times 0.2"."""
    sandbox, student = _student('''
def linear_forward(A_prev, W, b):
    Z = W @ A_prev + b
    return Z, (A_prev, W, b, A_prev.shape[1], W.shape)

def linear_backward(dZ, cache):
    A_prev, W, b, m, shape = cache
    assert shape == W.shape
    return W.T @ dZ, dZ @ A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m
''')
    with sandbox:
        layouts = CacheLayouts(student, seed=4)
        assert layouts.linear.source == "yours"
        rng = np.random.default_rng(0)
        for n_prev, n, m in [(3, 2, 1), (4, 7, 9), (33, 32, 65)]:
            A, W, b = rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
            dZ = rng.standard_normal((n, m))
            judged = linear_backward_on_correct_cache(student, layouts, dZ, A, W, b, "linear_backward(...)")
            assert "your own layout" in judged.caches
            for got, want in zip(judged.value, ref.linear_backward(dZ, (A, W, b))):
                np.testing.assert_allclose(got, want, rtol=1e-12)

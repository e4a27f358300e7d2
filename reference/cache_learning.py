"""Learn the layout of a student's caches from their own forward pass (see reference/caches.py).

The layout is learnt on cases where the student's forward runs:
`linear_forward` on one layer, `L_layer_forward` on a network whose hidden
layers are equally wide (where even a forward that passes b1 to every hidden
layer runs). Each slot of the tuples, lists, dicts and objects it returns is
matched against what that case passed in (X, the Ws and bs) and what the
student computed (the returned AL, and each layer's own values: Z = W A_prev
(+ b), A = g(Z)): slots get roles, integers that count layers become layer
numbers, other plain values are copied. The student's values are only
compared, never trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.checking import CheckFailure, kind_of, tolerances
from grader.sandbox import Handle
from reference import backprop_lab as ref
from reference.cache_templates import (CHAPTER_LINEAR, CHAPTER_NETWORK, Const, Index, IntLeaf, Layout, Mapping, Obj,
                                       Opened, Seq, Size, Slot, Unlearnable, open_value)
from reference.networks import draw_network

# The learning cases: one layer (shapes all different), and a network with equal hidden widths.
LINEAR_CASE = (3, 4, 5)                     # (n_prev, n, m)
NETWORK_CASE = ([3, 5, 5, 5, 1], 7)         # (dims, m): four layers, so a first, two hidden and an output
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda Z: np.maximum(Z, 0), "sigmoid": ref.sigmoid, "tanh": np.tanh, "identity": lambda Z: Z,
}


def _close(got: Any, want: np.ndarray) -> bool:
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "fiu" or got.shape != want.shape:
        return False
    rtol, atol = tolerances(got)
    with np.errstate(all="ignore"):
        return bool(np.allclose(got, want, rtol=rtol, atol=atol))


def _any_close(got: Any, candidates: list) -> bool:
    return any(_close(got, c) for c in candidates if c is not None)


def _leaves(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, value) of every leaf of an opened tree."""
    if isinstance(node, (tuple, list)):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, path + (i,))]
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, path + (k,))]
    if isinstance(node, Opened):
        return [leaf for name, v in node.attrs for leaf in _leaves(v, path + (name,))]
    return [(path, node)]


def _template(node: Any, roles: dict[tuple, str], layer: int, sizes: dict[str, int], path: tuple = ()) -> Any:
    """The template of an opened tree: arrays by their roles, other plain values kept; `sizes` are the layer's
    case's (see `Size`), for the integers it holds."""
    if isinstance(node, tuple):
        return Seq("tuple", tuple(_template(v, roles, layer, sizes, path + (i,)) for i, v in enumerate(node)))
    if isinstance(node, list):
        return Seq("list", tuple(_template(v, roles, layer, sizes, path + (i,)) for i, v in enumerate(node)))
    if isinstance(node, dict):
        return Mapping(tuple((k, _template(v, roles, layer, sizes, path + (k,))) for k, v in node.items()))
    if isinstance(node, Opened):
        # An object travels as a Handle; a namedtuple as a tuple the sandbox remembers (passing it back
        # hands the worker the original): either way the builder copies the original.
        if node.kind == "object" and not isinstance(node.handle, Handle):
            raise Unlearnable("an object of your class could not be kept for copying")
        return Obj(node.kind, node.handle, node.type_name,
                   tuple((name, _template(v, roles, layer, sizes, path + (name,))) for name, v in node.attrs))
    if isinstance(node, np.ndarray):
        return Slot(roles[path])
    if isinstance(node, Handle):
        raise Unlearnable(f"it holds {kind_of(node)} that the grader cannot look into")
    if isinstance(node, (bool, np.bool_)) or node is None or isinstance(node, (str, float, complex, bytes)):
        return Const(node)
    if isinstance(node, (int, np.integer)):
        return IntLeaf(int(node), layer, tuple(sizes.items()))
    return Const(node)


def _describe_array(value: np.ndarray) -> str:
    return f"an array of shape {value.shape}"


def _run_forward(student: Any, name: str, args: tuple, returns: str, chapter: Layout) -> tuple[Any, Layout | None]:
    """What the student's forward `name` returns (a pair), or None and the chapter's layout with the reason."""
    try:
        value = student.call(name, *args)
    except CheckFailure as failure:
        reason = f"your {name} did not run: {_first_line(failure.message)}"
    else:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return value, None
        reason = f"your {name} returned {kind_of(value)}, not {returns}"
    return None, Layout("chapter", reason=reason, templates=chapter.templates, container=chapter.container)


def learn_linear(student: Any, rng: np.random.Generator) -> Layout:
    """The layout of linear_forward's cache, learnt from one call (the chapter's if it does not run)."""
    n_prev, n, m = LINEAR_CASE
    A, W, b = rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
    value, chapter = _run_forward(student, "linear_forward", (A, W, b), "(Z, cache)", CHAPTER_LINEAR)
    if chapter is not None:
        return chapter
    Z_student, cache = value
    try:
        tree = open_value(student, cache)
        returned_Z = Z_student if isinstance(Z_student, np.ndarray) else None
        candidates = {"A_prev": [A], "W": [W], "b": [b], "Z": [W @ A + b, returned_Z, W @ A]}
        roles = {}
        for path, leaf in _leaves(tree):
            if isinstance(leaf, np.ndarray):
                role = next((r for r in ("A_prev", "W", "b", "Z") if _any_close(leaf, candidates[r])), None)
                if role is None:
                    raise Unlearnable(f"your linear_forward's cache holds {_describe_array(leaf)} that is none of "
                                      f"A_prev, W, b and Z")
                roles[path] = role
        template = _finalise([_template(tree, roles, 1, {"m": m, "n": n, "n_prev": n_prev})])[0]
    except Unlearnable as exc:
        return Layout("own", reason=str(exc))
    except CheckFailure as failure:
        return Layout("own", reason=f"its cache could not be read: {_first_line(failure.message)}")
    return Layout("yours", templates=(template,), generation=_generation(student))


@dataclass
class _NetworkCase:
    params: dict
    X: np.ndarray
    Z: dict                 # layer -> the reference Z
    A: dict                 # layer -> the reference A (A[0] = X)
    AL: Any                 # what the student's forward returned as AL


def learn_network(student: Any, rng: np.random.Generator) -> Layout:
    """The layout of L_layer_forward's caches, learnt from one call (the chapter's if it does not run)."""
    dims, m = NETWORK_CASE
    params, X, _ = draw_network(dims, m, rng)
    value, chapter = _run_forward(student, "L_layer_forward", (X, params), "(AL, caches)", CHAPTER_NETWORK)
    if chapter is not None:
        return chapter
    case = _NetworkCase(params, X, {}, {0: X}, value[0])
    A = X
    for l in range(1, len(dims)):
        case.Z[l] = params[f"W{l}"] @ A + params[f"b{l}"]
        A = case.A[l] = (ref.sigmoid if l == len(dims) - 1 else ref.relu)(case.Z[l])
    try:
        tree = open_value(student, value[1])
        container, elements = _layers(tree, len(dims) - 1)
        templates, previous = [], [X]
        for l, element in enumerate(elements, start=1):
            template, previous = _learn_layer(element, l, case, previous)
            templates.append(template)
        templates = _finalise(templates)
    except Unlearnable as exc:
        return Layout("own", reason=f"the grader could not learn the layout of your caches: {exc}")
    except CheckFailure as failure:
        return Layout("own", reason=f"your caches could not be read: {_first_line(failure.message)}")
    L = len(templates)
    hidden = templates[1] if L > 2 else templates[0]
    return Layout("yours", templates=(templates[0], hidden, templates[-1]), container=container,
                  generation=_generation(student))


def _layers(tree: Any, L: int) -> tuple[Any, list]:
    """How the caches hold one entry per layer, and the entries in layer order."""
    if isinstance(tree, (tuple, list)) and len(tree) == L:
        return ("tuple" if isinstance(tree, tuple) else "list"), list(tree)
    if isinstance(tree, dict) and len(tree) == L:
        keys = list(tree)
        if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            numbers = sorted(keys)
            if numbers == list(range(numbers[0], numbers[0] + L)):
                return ("dict-int", numbers[0] - 1), [tree[k] for k in numbers]
        parts = [re.fullmatch(r"(\D*)(\d+)(\D*)", k) if isinstance(k, str) else None for k in keys]
        if all(parts) and len({(p.group(1), p.group(3)) for p in parts}) == 1:
            numbers = sorted(int(p.group(2)) for p in parts)
            prefix, suffix = parts[0].group(1), parts[0].group(3)
            if numbers == list(range(numbers[0], numbers[0] + L)):
                return ("dict", prefix, numbers[0] - 1, suffix), [tree[f"{prefix}{k}{suffix}"] for k in numbers]
    if isinstance(tree, Opened):
        raise Unlearnable(f"caches is an object of your class {tree.type_name}, not one entry per layer")
    raise Unlearnable(f"caches is {_shape_of(tree)}; the grader learns layouts with one entry per layer "
                      f"(a list, tuple or dict of {L} entries for {L} layers)")


def _shape_of(tree: Any) -> str:
    if isinstance(tree, (tuple, list, dict)):
        return kind_of(tree)
    return kind_of(tree) if not isinstance(tree, Opened) else f"an object of your class {tree.type_name}"


def _learn_layer(element: Any, l: int, case: _NetworkCase, previous: list) -> tuple[Any, list]:
    """The template of layer l's cache, and the candidates for layer l+1's A_prev (its own A)."""
    params, L = case.params, len(case.Z)
    W = params[f"W{l}"]
    n, n_prev = W.shape
    m = case.X.shape[1]
    biases = [v for k, v in params.items() if k.startswith("b") and v.shape == (n, 1)]
    arrays = [(p, v) for p, v in _leaves(element) if isinstance(v, np.ndarray)]
    roles: dict[tuple, str] = {}
    for path, value in arrays:
        if _close(value, W):
            roles[path] = "W"
        elif value.shape == (n, 1) and _any_close(value, biases):
            roles[path] = "b"
        elif value.shape == (n_prev, m) and _any_close(value, previous):
            roles[path] = "A_prev"
        elif l > 1 and _close(value, case.X):
            roles[path] = "X"
    if "A_prev" not in roles.values():
        # An activation the grader does not know (a leaky ReLU, say) makes layer l's input none of the
        # candidates: it is then the array of that shape the layer's linear part maps onto another array of
        # the cache (its Z), whatever function made it.
        path = _linear_input(arrays, roles, W, [v for p, v in arrays if roles.get(p) == "b"] + [params[f"b{l}"]])
        if path is not None:
            roles[path] = "A_prev"
    found = {role: next((v for p, v in arrays if roles.get(p) == role), None) for role in ("A_prev", "b")}
    inputs = [found["A_prev"]] if found["A_prev"] is not None else [p for p in previous if p is not None]
    zs = [case.Z[l]]
    for A_prev in inputs:
        zs += [W @ A_prev, *(W @ A_prev + bias for bias in [found["b"], params[f"b{l}"]] if bias is not None)]
    rest = [(p, v) for p, v in arrays if p not in roles]
    for path, value in rest:
        if value.shape == (n, m) and _any_close(value, zs):
            roles[path] = "Z"
    Z_student = next((v for p, v in arrays if roles.get(p) == "Z"), None)
    activated = [f(z) for z in ([Z_student] if Z_student is not None else zs) for f in _ACTIVATIONS.values()]
    outputs = [case.A[l], case.AL if l == L else None, *activated]
    for path, value in rest:
        if path not in roles and value.shape == (n, m) and _any_close(value, outputs):
            roles[path] = "A"
    unplaced = [(p, v) for p, v in arrays if p not in roles]
    if len(unplaced) == 1 and unplaced[0][1].shape == (n, m) and "Z" not in roles.values():
        roles[unplaced[0][0]] = "Z"  # the only array left of Z's shape: the student's own (wrong) Z
        unplaced = []
    if unplaced:
        raise Unlearnable(f"layer {l}'s cache holds {_describe_array(unplaced[0][1])} that is none of A_prev, "
                          f"W, b, Z and A")
    A_student = next((v for p, v in arrays if roles.get(p) == "A"), None)
    Z_student = next((v for p, v in arrays if roles.get(p) == "Z"), None)
    following = [case.A[l], A_student, *(f(Z_student) for f in _ACTIVATIONS.values() if Z_student is not None)]
    return _template(element, roles, l, {"m": m, "n": n, "n_prev": n_prev}), following


def _linear_input(arrays: list, roles: dict, W: np.ndarray, biases: list) -> tuple | None:
    """The path of the one unplaced array A of the cache with W @ A + b (or W @ A) equal to another of its
    arrays, for b one of `biases`; None when no array, or more than one, is."""
    n, n_prev = W.shape
    unplaced = [(p, v) for p, v in arrays if p not in roles]
    found = []
    for path, value in unplaced:
        if value.ndim != 2 or value.shape[0] != n_prev or value.dtype.kind not in "fiu":
            continue
        images = [W @ value, *(W @ value + b for b in biases)]
        if any(other is not value and _any_close(other, images) for _, other in unplaced):
            found.append(path)
    return found[0] if len(found) == 1 else None


def _int_paths(node: Any, path: tuple = ()) -> dict[tuple, IntLeaf]:
    if isinstance(node, IntLeaf):
        return {path: node}
    if isinstance(node, Seq):
        return {k: v for i, n in enumerate(node.items) for k, v in _int_paths(n, path + (i,)).items()}
    if isinstance(node, Mapping):
        return {k: v for key, n in node.items for k, v in _int_paths(n, path + (key,)).items()}
    if isinstance(node, Obj):
        return {k: v for name, n in node.attrs for k, v in _int_paths(n, path + (name,)).items()}
    return {}


def _finalise(templates: list) -> list:
    """Integers that count layers in every layer's cache become `Index`; those that are the same size of the
    case in every layer's cache (m, or a shape's entries) `Size`; the others `Const`.

    A size kept as a constant would hand the student's backward the learning
    case's m for every case it is checked on (a cache that keeps
    A_prev.shape[1] then makes a correct backward's dW wrong by m / 5)."""
    paths = [_int_paths(t) for t in templates]
    counting = {path for path in paths[0]
                if len(templates) > 1 and all(path in p and p[path].value - p[path].layer
                                              == paths[0][path].value - paths[0][path].layer for p in paths)}
    sized = {}
    for path, first in paths[0].items():
        if path in counting:
            continue
        for name, _ in first.sizes:  # m first: a batch size is the likeliest size to keep
            if all(path in p and p[path].value == dict(p[path].sizes)[name] for p in paths):
                sized[path] = name
                break

    def fix(node: Any, path: tuple = ()) -> Any:
        if isinstance(node, IntLeaf):
            if path in counting:
                return Index(node.value - node.layer)
            return Size(sized[path]) if path in sized else Const(node.value)
        if isinstance(node, Seq):
            return Seq(node.kind, tuple(fix(n, path + (i,)) for i, n in enumerate(node.items)))
        if isinstance(node, Mapping):
            return Mapping(tuple((key, fix(n, path + (key,))) for key, n in node.items))
        if isinstance(node, Obj):
            return Obj(node.kind, node.template, node.type_name,
                       tuple((name, fix(n, path + (name,))) for name, n in node.attrs))
        return node

    return [fix(t) for t in templates]


def _generation(student: Any) -> int:
    return int(getattr(getattr(student, "sandbox", None), "generation", 0) or 0)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text

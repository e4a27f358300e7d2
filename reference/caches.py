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

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.checking import CheckFailure, StudentCodeTimeout, kind_of, tolerances
from grader.sandbox import Handle
from reference import backprop_lab as ref
from reference.networks import draw_network, layer_dims

ROLES = ("A_prev", "W", "b", "Z", "A", "X")
# What the chapter's backward pass needs from every layer's cache.
NEEDED = ("A_prev", "W", "b", "Z")
# The learning cases: one layer (shapes all different), and a network with equal hidden widths.
LINEAR_CASE = (3, 4, 5)                     # (n_prev, n, m)
NETWORK_CASE = ([3, 5, 5, 5, 1], 7)         # (dims, m): four layers, so a first, two hidden and an output
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda Z: np.maximum(Z, 0), "sigmoid": ref.sigmoid, "tanh": np.tanh, "identity": lambda Z: Z,
}
_MARK = "\x00grader-object"
_MAX_OBJECTS = 400


class Unlearnable(Exception):
    """The layout could not be learnt from what the student's forward returned; the message says why."""


# ---------------------------------------------------------------- templates: a layout with holes


@dataclass(frozen=True)
class Slot:
    """An array of the layer being built: one of ROLES."""

    role: str


@dataclass(frozen=True)
class Const:
    """Plain data copied as the student's forward returned it (an activation name)."""

    value: Any


@dataclass(frozen=True)
class Index:
    """An integer that counts layers: the layer's number plus `offset`."""

    offset: int


@dataclass(frozen=True)
class IntLeaf:
    """While learning: an integer seen in layer `layer`'s cache (becomes Index or Const)."""

    value: int
    layer: int


@dataclass(frozen=True)
class Seq:
    """A tuple or list."""

    kind: str
    items: tuple


@dataclass(frozen=True)
class Mapping:
    """A dict, its keys as the student's forward wrote them."""

    items: tuple


@dataclass(frozen=True)
class Obj:
    """An object of the student's own class (`kind` "object") or a namedtuple, copied from `template`."""

    kind: str
    template: Handle
    type_name: str
    attrs: tuple


@dataclass(frozen=True)
class Opened:
    """While learning: an object the open driver described (the handle, its type, its attributes)."""

    kind: str
    handle: Any
    type_name: str
    attrs: list


@dataclass
class Layout:
    """How to build caches for the student's backward pass, and where that knowledge came from.

    `source` is "yours" (learnt from the student's forward), "chapter" (the
    student's forward did not run: `reason` says why) or "own" (the layout
    could not be learnt: the student's own caches are used, `reason` says why).
    For a network, `templates` are the first layer's, a hidden layer's and the
    output layer's cache and `container` how the layers are held ("list",
    "tuple", or ("dict", prefix, offset, suffix) / ("dict-int", offset)).
    """

    source: str
    reason: str = ""
    templates: tuple = ()
    container: Any = "list"
    generation: int = 0

    @property
    def has_objects(self) -> bool:
        """Whether building needs the worker (the layout holds objects of the student's classes)."""
        return any(_has_objects(t) for t in self.templates)

    def describe(self, what: str) -> str:
        """Which caches the student's backward pass is given, in words."""
        if self.source == "yours":
            return f"caches the grader built from correct values in your own layout (learnt from your {what})"
        if self.source == "chapter":
            return (f"caches the grader built from correct values in the chapter's layout "
                    f"{'(A_prev, W, b)' if what == 'linear_forward' else '((A_prev, W, b), Z) per layer'}, "
                    f"because {self.reason}")
        return f"the caches your own {what} made, because {self.reason}"


CHAPTER_LINEAR = Layout("chapter", templates=(Seq("tuple", (Slot("A_prev"), Slot("W"), Slot("b"))),))
_CHAPTER_LAYER = Seq("tuple", (Seq("tuple", (Slot("A_prev"), Slot("W"), Slot("b"))), Slot("Z")))
CHAPTER_NETWORK = Layout("chapter", templates=(_CHAPTER_LAYER,) * 3, container="list")


def _has_objects(node: Any) -> bool:
    if isinstance(node, Obj):
        return True
    if isinstance(node, Seq):
        return any(_has_objects(n) for n in node.items)
    if isinstance(node, Mapping):
        return any(_has_objects(n) for _, n in node.items)
    return False


# ---------------------------------------------------------------- trusted drivers run in the worker

# Describes a value as plain data: containers as they are, objects of the student's classes (and
# namedtuples) as {MARK: [kind, the object (it travels as a handle), its type name, [[attribute, value]...]]}.
_OPEN = '''
def drive(module, value):
    import numpy
    budget = [LIMIT]
    def describe(v, depth):
        budget[0] -= 1
        if depth > 12 or budget[0] < 0:
            raise ValueError("the caches are nested too deeply or hold too many objects")
        t = type(v)
        if v is None or t in (bool, int, float, complex, str, bytes) or isinstance(v, (numpy.ndarray, numpy.generic)):
            return v
        if t is tuple:
            return tuple(describe(x, depth + 1) for x in v)
        if t is list:
            return [describe(x, depth + 1) for x in v]
        if t is dict:
            return {k: describe(x, depth + 1) for k, x in v.items()}
        if isinstance(v, tuple) and hasattr(t, "_fields"):
            return {MARK: ["namedtuple", v, t.__name__, [[f, describe(x, depth + 1)] for f, x in zip(t._fields, v)]]}
        try:
            own = dict(object.__getattribute__(v, "__dict__"))
        except (AttributeError, TypeError):
            own = {}
        names = list(own)
        for klass in t.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            names += [slots] if isinstance(slots, str) else list(slots)
        attrs = []
        for name in dict.fromkeys(names):
            if not isinstance(name, str) or name.startswith("__"):
                continue
            try:
                x = own[name] if name in own else object.__getattribute__(v, name)
            except AttributeError:
                continue
            attrs.append([name, describe(x, depth + 1)])
        return {MARK: ["object", v, t.__name__, attrs]}
    return describe(value, 0)
'''.replace("MARK", repr(_MARK)).replace("LIMIT", str(_MAX_OBJECTS))

# Builds a value from a spec: ("value", x), ("tuple"|"list", [specs]), ("dict", [[key, spec]...]),
# ("namedtuple", template, [specs]), ("object", template, [[attribute, spec]...]) (a copy of the template).
_BUILD = '''
def drive(module, spec):
    import copy
    def build(node):
        kind = node[0]
        if kind == "value":
            return node[1]
        if kind == "tuple":
            return tuple(build(x) for x in node[1])
        if kind == "list":
            return [build(x) for x in node[1]]
        if kind == "dict":
            return {k: build(x) for k, x in node[1]}
        if kind == "namedtuple":
            return type(node[1])._make([build(x) for x in node[2]])
        if kind == "object":
            new = copy.copy(node[1])
            for name, x in node[2]:
                object.__setattr__(new, name, build(x))
            return new
        raise ValueError(kind)
    return build(spec)
'''


def _opened(value: Any) -> Any:
    """The open driver's description with its markers turned into `Opened` (recursively)."""
    if isinstance(value, dict):
        if len(value) == 1 and _MARK in value:
            body = value[_MARK]
            if not (isinstance(body, list) and len(body) == 4 and isinstance(body[3], list)):
                raise Unlearnable("the description of an object was malformed")
            attrs = []
            for pair in body[3]:
                if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise Unlearnable("the description of an object was malformed")
                attrs.append((pair[0], _opened(pair[1])))
            return Opened(str(body[0]), body[1], str(body[2])[:80], attrs)
        return {k: _opened(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_opened(v) for v in value)
    if isinstance(value, list):
        return [_opened(v) for v in value]
    return value


def open_value(student: Any, value: Any) -> Any:
    """`value` with every object of the student's classes (and every namedtuple) opened into `Opened`.

    Always asks the worker: a namedtuple crosses the wire as a plain tuple,
    so only the worker can tell one (and a backward pass that reads
    ``cache.Z`` needs one).
    """
    if isinstance(value, np.ndarray) or value is None or isinstance(value, (str, int, float)):
        return value
    return _opened(student.drive(_OPEN, value, what="the grader's reading of your caches").value)


# ---------------------------------------------------------------- matching the student's values


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


def _template(node: Any, roles: dict[tuple, str], layer: int, path: tuple = ()) -> Any:
    """The template of an opened tree: arrays by their roles, other plain values kept."""
    if isinstance(node, tuple):
        return Seq("tuple", tuple(_template(v, roles, layer, path + (i,)) for i, v in enumerate(node)))
    if isinstance(node, list):
        return Seq("list", tuple(_template(v, roles, layer, path + (i,)) for i, v in enumerate(node)))
    if isinstance(node, dict):
        return Mapping(tuple((k, _template(v, roles, layer, path + (k,))) for k, v in node.items()))
    if isinstance(node, Opened):
        # An object travels as a Handle; a namedtuple as a tuple the sandbox remembers (passing it back
        # hands the worker the original): either way the builder copies the original.
        if node.kind == "object" and not isinstance(node.handle, Handle):
            raise Unlearnable("an object of your class could not be kept for copying")
        return Obj(node.kind, node.handle, node.type_name,
                   tuple((name, _template(v, roles, layer, path + (name,))) for name, v in node.attrs))
    if isinstance(node, np.ndarray):
        return Slot(roles[path])
    if isinstance(node, Handle):
        raise Unlearnable(f"it holds {kind_of(node)} that the grader cannot look into")
    if isinstance(node, (bool, np.bool_)) or node is None or isinstance(node, (str, float, complex, bytes)):
        return Const(node)
    if isinstance(node, (int, np.integer)):
        return IntLeaf(int(node), layer)
    return Const(node)


def _describe_array(value: np.ndarray) -> str:
    return f"an array of shape {value.shape}"


def learn_linear(student: Any, rng: np.random.Generator) -> Layout:
    """The layout of linear_forward's cache, learnt from one call (the chapter's if it does not run)."""
    n_prev, n, m = LINEAR_CASE
    A, W, b = rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
    try:
        value = student.linear_forward(A, W, b)
    except CheckFailure as failure:
        return Layout("chapter", reason=f"your linear_forward did not run: {_first_line(failure.message)}",
                      templates=CHAPTER_LINEAR.templates)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return Layout("chapter", reason=f"your linear_forward returned {kind_of(value)}, not (Z, cache)",
                      templates=CHAPTER_LINEAR.templates)
    Z_student, cache = value
    try:
        tree = open_value(student, cache)
        candidates = {"A_prev": [A], "W": [W], "b": [b], "Z": [W @ A + b, Z_student if isinstance(Z_student, np.ndarray) else None, W @ A]}
        roles = {}
        for path, leaf in _leaves(tree):
            if isinstance(leaf, np.ndarray):
                role = next((r for r in ("A_prev", "W", "b", "Z") if _any_close(leaf, candidates[r])), None)
                if role is None:
                    raise Unlearnable(f"your linear_forward's cache holds {_describe_array(leaf)} that is none of "
                                      f"A_prev, W, b and Z")
                roles[path] = role
        template = _finalise([_template(tree, roles, 1)])[0]
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
    try:
        value = student.L_layer_forward(X, params)
    except CheckFailure as failure:
        return Layout("chapter", reason=f"your L_layer_forward did not run: {_first_line(failure.message)}",
                      templates=CHAPTER_NETWORK.templates)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return Layout("chapter", reason=f"your L_layer_forward returned {kind_of(value)}, not (AL, caches)",
                      templates=CHAPTER_NETWORK.templates)
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
    return _template(element, roles, l), following


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
    """Integers that count layers in every layer's cache become `Index`, the others `Const`."""
    paths = [_int_paths(t) for t in templates]
    counting = {path for path in paths[0]
                if len(templates) > 1 and all(path in p and p[path].value - p[path].layer
                                              == paths[0][path].value - paths[0][path].layer for p in paths)}

    def fix(node: Any, path: tuple = ()) -> Any:
        if isinstance(node, IntLeaf):
            return Index(node.value - node.layer) if path in counting else Const(node.value)
        if isinstance(node, Seq):
            return Seq(node.kind, tuple(fix(n, path + (i,)) for i, n in enumerate(node.items)))
        if isinstance(node, Mapping):
            return Mapping(tuple((key, fix(n, path + (key,))) for key, n in node.items))
        if isinstance(node, Obj):
            return Obj(node.kind, node.template, node.type_name,
                       tuple((name, fix(n, path + (name,))) for name, n in node.attrs))
        return node

    return [fix(t) for t in templates]


# ---------------------------------------------------------------- what the caches hold


def roles_of(node: Any) -> set[str]:
    """The roles a template's slots fill."""
    if isinstance(node, Slot):
        return {node.role}
    if isinstance(node, Seq):
        return set().union(*(roles_of(n) for n in node.items)) if node.items else set()
    if isinstance(node, Mapping):
        return set().union(*(roles_of(n) for _, n in node.items)) if node.items else set()
    if isinstance(node, Obj):
        return set().union(*(roles_of(n) for _, n in node.attrs)) if node.attrs else set()
    return set()


def missing(layout: Layout) -> list[str]:
    """What the learnt caches lack of A_prev, W, b and Z, as "a hidden layer's cache holds no b"."""
    first, hidden, output = layout.templates
    problems = []
    for name, template, before in (("the first layer's", first, None), ("a hidden layer's", hidden, first),
                                   ("the output layer's", output, hidden)):
        roles = roles_of(template)
        if "A_prev" not in roles and not (before is not None and "A" in roles_of(before)) \
                and not (before is None and "X" in roles):
            roles_missing = ["A_prev"]
        else:
            roles_missing = []
        roles_missing += [r for r in ("W", "b", "Z") if r not in roles]
        if roles_missing:
            problems.append(f"{name} cache holds no {' and no '.join(roles_missing)}")
    return list(dict.fromkeys(problems))


# ---------------------------------------------------------------- building caches from correct values


def _spec(node: Any, values: dict, layer: int) -> Any:
    if isinstance(node, Slot):
        return ("value", values[node.role])
    if isinstance(node, Const):
        return ("value", node.value)
    if isinstance(node, Index):
        return ("value", layer + node.offset)
    if isinstance(node, Seq):
        return (node.kind, [_spec(n, values, layer) for n in node.items])
    if isinstance(node, Mapping):
        return ("dict", [(key, _spec(n, values, layer)) for key, n in node.items])
    if isinstance(node, Obj):
        if node.kind == "namedtuple":
            return ("namedtuple", node.template, [_spec(n, values, layer) for _, n in node.attrs])
        return ("object", node.template, [(name, _spec(n, values, layer)) for name, n in node.attrs])
    raise ValueError(f"not a template node: {node!r}")


def _plain(spec: Any) -> Any:
    """A spec without objects, built on the trusted side."""
    kind = spec[0]
    if kind == "value":
        return spec[1]
    if kind == "tuple":
        return tuple(_plain(s) for s in spec[1])
    if kind == "list":
        return [_plain(s) for s in spec[1]]
    if kind == "dict":
        return {key: _plain(s) for key, s in spec[1]}
    raise ValueError(kind)


def _build(student: Any, spec: Any, objects: bool) -> Any:
    if not objects:
        return _plain(spec)
    return student.drive(_BUILD, spec, what="the grader's copy of your caches").value


def build_linear(student: Any, layout: Layout, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> Any:
    """linear_forward's cache for these inputs in `layout`, filled with correct values."""
    values = {"A_prev": A_prev, "W": W, "b": b, "Z": W @ A_prev + b, "A": W @ A_prev + b, "X": A_prev}
    return _build(student, _spec(layout.templates[0], values, 1), layout.has_objects)


def build_network(student: Any, layout: Layout, X: np.ndarray, params: dict) -> tuple[np.ndarray, Any]:
    """(the reference AL, the caches of the reference forward pass in `layout`) for X and params."""
    L = ref.num_layers(params)
    first, hidden, output = layout.templates
    specs, A = [], X
    for l in range(1, L + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        Z = W @ A + b
        A_next = ref.sigmoid(Z) if l == L else ref.relu(Z)
        template = output if l == L else (first if l == 1 else hidden)
        specs.append(_spec(template, {"A_prev": A, "W": W, "b": b, "Z": Z, "A": A_next, "X": X}, l))
        A = A_next
    container = layout.container
    if container in ("list", "tuple"):
        spec = (container, specs)
    elif container[0] == "dict-int":
        spec = ("dict", [(l + container[1], s) for l, s in enumerate(specs, start=1)])
    else:
        _, prefix, offset, suffix = container
        spec = ("dict", [(f"{prefix}{l + offset}{suffix}", s) for l, s in enumerate(specs, start=1)])
    return A, _build(student, spec, layout.has_objects)


def _generation(student: Any) -> int:
    return int(getattr(getattr(student, "sandbox", None), "generation", 0) or 0)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


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


def note(judged: Judged) -> dict:
    """The detail every backward check records: which caches the student's backward was given."""
    return {"caches": judged.caches}

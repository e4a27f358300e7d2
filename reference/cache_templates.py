"""The layout of a student's caches as a template with holes, and caches built from it with correct values.

A template is the student's cache structure (tuples, lists, dicts, objects
of their own classes, namedtuples) whose arrays are `Slot`s named by role
(A_prev, W, b, Z, A, X), whose layer counters are `Index`es, whose sizes of
the case (m, a layer's width) are `Size`s and whose other plain values are
`Const`s. `build_linear` and `build_network` fill a layout
with the reference values of any case. Objects of the student's classes
stay in the worker: the trusted drivers here open them (their attributes,
as data) and build copies with the attributes replaced. How a layout is
learnt is reference/cache_learning.py; how the checks use it,
reference/caches.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.sandbox import Handle
from reference import backprop_lab as ref

_MARK = "\x00grader-object"
_MAX_OBJECTS = 400


class Unlearnable(Exception):
    """The layout could not be learnt from what the student's forward returned; the message says why."""




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
class Size:
    """An integer that is a size of the case the cache is built for: "m" (examples), "n" (the layer's width)
    or "n_prev" (its input's width), e.g. a cache that keeps m = A_prev.shape[1] or A_prev.shape."""

    name: str


@dataclass(frozen=True)
class IntLeaf:
    """While learning: an integer seen in layer `layer`'s cache (becomes Index, Size or Const), and the sizes
    of that layer's case (name -> value)."""

    value: int
    layer: int
    sizes: tuple = ()


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


def _sizes(values: dict) -> dict[str, int]:
    """The sizes a `Size` can name, of the case whose role arrays are `values`."""
    n, n_prev = values["W"].shape
    return {"m": int(values["Z"].shape[1]), "n": int(n), "n_prev": int(n_prev)}


def _spec(node: Any, values: dict, layer: int) -> Any:
    if isinstance(node, Slot):
        return ("value", values[node.role])
    if isinstance(node, Const):
        return ("value", node.value)
    if isinstance(node, Index):
        return ("value", layer + node.offset)
    if isinstance(node, Size):
        return ("value", _sizes(values)[node.name])
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

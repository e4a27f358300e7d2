"""The wire between the trusted side and a sandboxed worker: frames of plain data.

A frame is a fixed header, a JSON document and a blob of raw bytes::

    header  = "<IQ"  (JSON length, blob length)
    json    = UTF-8 JSON describing the value
    blob    = the raw bytes of every array and bytes object, 16-byte aligned

Only plain data crosses: None, bool, int, float, complex, str, bytes, lists,
tuples, dicts, NumPy arrays of whitelisted dtypes and NumPy scalars. Nothing
is ever pickled. Anything else the worker holds travels as an opaque handle.

The decoder is written for hostile input: the frame size is checked against
a cap before anything is read (and the reader allocates only as bytes
arrive), the JSON's structure is counted before it is parsed, every array's
dtype must be on the whitelist, and its shape must account for exactly the
bytes it claims inside the blob before any array object is made (``np.load``
alone allocates whatever a header asks for, see shared/research/SANDBOX.md).
Small arrays are copied out of the frame, so keeping one of them does not
keep the whole frame alive.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

HEADER = struct.Struct("<IQ")
# The JSON describes the structure; bulk data travels in the blob. Parsing
# JSON allocates far more than its bytes (a Python object per value), so both
# its length and its number of values are bounded before `json.loads` runs.
MAX_JSON_BYTES = 8 * 2**20
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_JSON_SEPARATORS = 8 * MAX_NODES   # commas, "[" and "{": a bound on the values json.loads makes
MAX_NDIM = 32
ALIGN = 16

# Dtypes that may cross the wire: plain numbers only. No object, void,
# structured, string or datetime arrays (object arrays would need pickle).
_ALLOWED_KINDS = {"b", "i", "u", "f", "c"}
_ALLOWED_DTYPES = frozenset(
    np.dtype(name).newbyteorder(order).str
    for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float16", "float32", "float64", "complex64", "complex128")
    for order in ("<", ">")  # one-byte dtypes have no byte order: "|b1", "|i1", "|u1"
)


class WireError(Exception):
    """A frame that is malformed, too large, or describes data it does not hold."""


class TooLarge(WireError):
    """A frame over a size cap; `what` says how large it is and what the limit is, for the student."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


def megabytes(n: int) -> str:
    """``180 MB`` / ``0.5 MB``: a byte count for messages."""
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


@dataclass(frozen=True)
class Handle:
    """A reference to an object that lives in a worker and cannot cross as data.

    The trusted side passes a handle back into later calls; the worker
    substitutes the original object. `kind` and `summary` describe the object
    for messages (e.g. ``"Cache"``, ``"<Cache object>"``).
    """

    id: int
    generation: int
    kind: str = "object"
    summary: str = ""


# ---------------------------------------------------------------- encoding


class Encoder:
    """Turns a value into (json-able tree, blob parts).

    `ref_of(obj)` may return a handle id for objects that should travel by
    reference; `opaque(obj)` is called for anything that is not plain data
    and must return a handle id (the worker keeps the object). `register(obj)`
    may return a handle id for containers and arrays that are sent by value,
    so the receiver can later refer back to the original.
    """

    def __init__(self, *, ref_of: Callable[[Any], int | None] | None = None,
                 opaque: Callable[[Any], int] | None = None,
                 register: Callable[[Any], int | None] | None = None) -> None:
        self._ref_of = ref_of
        self._opaque = opaque
        self._register = register
        self._parts: list[bytes | memoryview] = []
        self._size = 0
        self._nodes = 0

    def encode(self, value: Any) -> tuple[Any, list[bytes | memoryview], int]:
        """Encode `value`; returns (tree, blob parts, blob length)."""
        tree = self._enc(value, 0)
        return tree, self._parts, self._size

    def _add_blob(self, data: bytes | memoryview) -> int:
        pad = (-self._size) % ALIGN
        if pad:
            self._parts.append(b"\0" * pad)
            self._size += pad
        offset = self._size
        self._parts.append(data)
        self._size += len(data)
        return offset

    def _handle(self, value: Any, node: dict) -> dict:
        if self._register is not None:
            hid = self._register(value)
            if hid is not None:
                node["h"] = hid
        return node

    def _enc(self, value: Any, depth: int) -> Any:
        self._nodes += 1
        if self._ref_of is not None:
            hid = self._ref_of(value)
            if hid is not None:
                return {"$h": hid}
        if isinstance(value, Handle):
            return {"$h": value.id}
        too_deep = depth > MAX_DEPTH or self._nodes > MAX_NODES
        t = type(value)
        if value is None or t is bool or t is int or t is str:
            return value
        if t is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if t is complex:
            return {"$c": [self._enc(value.real, depth), self._enc(value.imag, depth)]}
        if t is bytes or t is bytearray:
            return {"$b": [self._add_blob(bytes(value)), len(value)]}
        if isinstance(value, np.ndarray) and not too_deep:
            return self._enc_array(value)
        if isinstance(value, np.generic) and type(value).__module__ == "numpy":
            arr = np.asarray(value)
            if arr.dtype.kind in _ALLOWED_KINDS:
                return {"$s": self._array_spec(arr)}
        if not too_deep:
            # Exact built-in containers and their subclasses (namedtuple,
            # OrderedDict) are read through the base type's C methods so no
            # method the student overrode runs during encoding.
            if isinstance(value, tuple):
                items = tuple.__getitem__(value, slice(None))
                return self._handle(value, {"$t": [self._enc(v, depth + 1) for v in items]})
            if isinstance(value, list):
                items = list.copy(value)
                return self._handle(value, {"$l": [self._enc(v, depth + 1) for v in items]})
            if isinstance(value, dict):
                pairs = list(dict.items(value))
                if all(_plain_key(k) for k, _ in pairs):
                    return self._handle(value, {"$d": [[self._enc(k, depth + 1), self._enc(v, depth + 1)]
                                                       for k, v in pairs]})
        if self._opaque is None:
            raise WireError(f"cannot send a value of type {t.__name__} as data")
        return {"$o": [self._opaque(value), _type_name(value), _summary(value)]}

    def _array_spec(self, arr: np.ndarray) -> list:
        if type(arr) is not np.ndarray:
            arr = arr.view(np.ndarray)
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        data = memoryview(arr).cast("B") if arr.size else b""
        return [arr.dtype.str, list(arr.shape), self._add_blob(data), arr.nbytes]

    def _enc_array(self, arr: np.ndarray) -> Any:
        if arr.dtype.kind not in _ALLOWED_KINDS or arr.dtype.fields is not None:
            if self._opaque is None:
                raise WireError(f"cannot send an array of dtype {arr.dtype} as data")
            return {"$o": [self._opaque(arr), "ndarray", f"array of dtype {arr.dtype}"]}
        return self._handle(arr, {"$a": self._array_spec(arr)})


def _plain_key(key: Any) -> bool:
    t = type(key)
    if key is None or t in (str, int, float, bool):
        return True
    return t is tuple and all(_plain_key(k) for k in key)


def _type_name(value: Any) -> str:
    try:
        return type(value).__name__[:80]
    except Exception:
        return "object"


def _summary(value: Any) -> str:
    # repr() of a student object runs student code; the worker calls this
    # only inside its own sandbox, and the result is truncated untrusted text.
    try:
        text = object.__repr__(value)
    except Exception:
        text = "<object>"
    return text[:120]


def encode_frame(message: dict, encoder: Encoder | None = None) -> list[bytes | memoryview]:
    """Encode a message dict into the byte chunks of one frame."""
    encoder = encoder or Encoder()
    tree, parts, size = encoder.encode(message)
    body = json.dumps(tree, separators=(",", ":"), allow_nan=False).encode()
    if len(body) > MAX_JSON_BYTES:
        raise WireError(f"message description too large ({len(body)} bytes)")
    return [HEADER.pack(len(body), size), body, *parts]


# ---------------------------------------------------------------- decoding


class Decoder:
    """Rebuilds a value from a frame's JSON tree and blob, validating as it goes.

    `resolve(hid)` maps a ``{"$h": id}`` reference to an object (the worker's
    side); `opaque(hid, kind, summary)` builds the stand-in for an object left
    in the worker (the trusted side); `wrap(obj, hid)` is given every
    container/array that carried a handle id and returns the value to use
    (the trusted side tags it, so passing it back names the original).
    """

    def __init__(self, blob: bytes | bytearray | memoryview, *,
                 resolve: Callable[[int], Any] | None = None,
                 opaque: Callable[[int, str, str], Any] | None = None,
                 wrap: Callable[[Any, int], Any] | None = None) -> None:
        self._blob = blob
        self._resolve = resolve
        self._opaque = opaque
        self._wrap = wrap
        self._nodes = 0
        # Arrays up to half the frame are copied out of it: a small array a
        # check keeps must not keep a large frame alive. The largest one
        # stays a view, so decoding allocates at most the frame's size again.
        self._copy_up_to = len(blob) // 2

    def decode(self, tree: Any) -> Any:
        """Decode a JSON tree produced by `Encoder`."""
        return self._dec(tree, 0)

    def _dec(self, node: Any, depth: int) -> Any:
        self._nodes += 1
        if depth > MAX_DEPTH + 2 or self._nodes > MAX_NODES * 2:
            raise WireError("data nested too deeply or too large")
        t = type(node)
        if node is None or t in (bool, int, float, str):
            return node
        if t is list:
            raise WireError("bare JSON list where a tagged value was expected")
        if t is not dict or len(node) not in (1, 2):
            raise WireError("malformed value")
        if "h" in node and len(node) == 2:
            hid = node["h"]
            if type(hid) is not int:
                raise WireError("malformed handle id")
            (tag,) = [k for k in node if k != "h"]
        elif len(node) == 1:
            hid = None
            (tag,) = node
        else:
            raise WireError("malformed value")
        body = node[tag]
        value = self._dec_tagged(tag, body, depth)
        if hid is not None and self._wrap is not None:
            value = self._wrap(value, hid)
        return value

    def _dec_tagged(self, tag: str, body: Any, depth: int) -> Any:
        if tag == "$t":
            return tuple(self._dec(v, depth + 1) for v in _list(body))
        if tag == "$l":
            return [self._dec(v, depth + 1) for v in _list(body)]
        if tag == "$d":
            out = {}
            for pair in _list(body):
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed dict entry")
                key = self._dec(pair[0], depth + 1)
                if not _plain_key(key):
                    raise WireError("dict key is not plain data")
                out[key] = self._dec(pair[1], depth + 1)
            return out
        if tag == "$a":
            return self._array(body)
        if tag == "$s":
            return self._array(body)[()]
        if tag == "$f":
            if body not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(body)
        if tag == "$c":
            parts = _list(body)
            if len(parts) != 2:
                raise WireError("malformed complex")
            re_, im_ = (self._dec(p, depth + 1) for p in parts)
            if not all(type(p) in (int, float) for p in (re_, im_)):
                raise WireError("malformed complex")
            return complex(re_, im_)
        if tag == "$b":
            offset, length = _ints(body, 2)
            self._check_span(offset, length)
            return bytes(self._blob[offset:offset + length])
        if tag == "$h":
            if self._resolve is None or type(body) is not int:
                raise WireError("unexpected handle reference")
            return self._resolve(body)
        if tag == "$o":
            if self._opaque is None:
                raise WireError("unexpected opaque object")
            parts = _list(body)
            if len(parts) != 3 or type(parts[0]) is not int:
                raise WireError("malformed opaque object")
            return self._opaque(parts[0], str(parts[1])[:80], str(parts[2])[:120])
        raise WireError(f"unknown tag {tag[:20]!r}")

    def _check_span(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > len(self._blob):
            raise WireError("data refers to bytes outside the frame")

    def _array(self, body: Any) -> np.ndarray:
        parts = _list(body)
        if len(parts) != 4:
            raise WireError("malformed array")
        dtype_str, shape, offset, nbytes = parts
        if type(dtype_str) is not str or dtype_str not in _ALLOWED_DTYPES:
            raise WireError(f"array dtype {str(dtype_str)[:30]!r} is not allowed")
        if type(shape) is not list or len(shape) > MAX_NDIM:
            raise WireError("malformed array shape")
        if not all(type(d) is int and d >= 0 for d in shape):
            raise WireError("malformed array shape")
        if type(offset) is not int or type(nbytes) is not int:
            raise WireError("malformed array")
        dtype = np.dtype(dtype_str)
        count = math.prod(shape)
        # The claimed size must be exactly what the shape needs, and it must
        # lie inside the bytes we actually received: only then is any array
        # object created, and it is a view of those bytes (no allocation).
        if count * dtype.itemsize != nbytes:
            raise WireError("array shape does not match its byte count")
        self._check_span(offset, nbytes)
        if count == 0:
            return np.zeros(shape, dtype=dtype)
        arr = np.frombuffer(self._blob, dtype=dtype, count=count, offset=offset).reshape(shape)
        return arr.copy() if nbytes <= self._copy_up_to else arr


def _list(body: Any) -> list:
    if type(body) is not list:
        raise WireError("malformed value")
    return body


def _ints(body: Any, n: int) -> list[int]:
    items = _list(body)
    if len(items) != n or not all(type(i) is int for i in items):
        raise WireError("malformed value")
    return items


def parse_header(header: bytes, max_blob: int) -> tuple[int, int]:
    """Validate a frame header against the caps; returns (json length, blob length).

    Raises `TooLarge` (nothing of the frame is read yet) when it is over a cap.
    """
    json_len, blob_len = HEADER.unpack(header)
    if json_len > MAX_JSON_BYTES:
        raise TooLarge(f"message description of {json_len} bytes exceeds the cap",
                       f"{megabytes(json_len)} of structure (lists, dicts, strings); the limit is "
                       f"{megabytes(MAX_JSON_BYTES)}")
    if blob_len > max_blob:
        raise TooLarge(f"message of {blob_len} bytes exceeds the cap of {max_blob} bytes",
                       f"{megabytes(json_len + blob_len)}; the limit is {megabytes(max_blob)}")
    return json_len, blob_len


def parse_json(body: bytes | bytearray) -> Any:
    """Parse a frame's JSON body, turning every parser failure into WireError.

    The values are counted first (each needs a comma or a bracket), so a body
    of a million empty lists is refused before a million lists are made.
    """
    separators = body.count(b",") + body.count(b"[") + body.count(b"{")
    if separators > MAX_JSON_SEPARATORS:
        raise TooLarge(f"message description with {separators} values exceeds the cap",
                       f"more than {MAX_JSON_SEPARATORS:,} values in lists, tuples and dicts; the limit is "
                       f"{MAX_NODES:,}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed message: {str(exc)[:100]}") from None

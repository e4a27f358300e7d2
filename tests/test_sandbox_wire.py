"""The wire format refuses hostile frames before allocating anything, and round-trips plain data."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from grader.sandbox import wire


def _roundtrip(value, **decoder_kwargs):
    chunks = wire.encode_frame({"v": value}, wire.Encoder(opaque=lambda obj: 7))
    frame = b"".join(chunks)
    json_len, blob_len = wire.parse_header(frame[:wire.HEADER.size], 2**30)
    tree = wire.parse_json(frame[wire.HEADER.size:wire.HEADER.size + json_len])
    blob = bytearray(frame[wire.HEADER.size + json_len:])
    assert len(blob) == blob_len
    decoder = wire.Decoder(blob, opaque=lambda hid, kind, summary: ("opaque", hid, kind), **decoder_kwargs)
    return decoder.decode(tree)["v"]


def test_plain_data_round_trips_with_types_preserved():
    value = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros((2, 1), dtype=np.float32),
             "n": 3, "t": (1, [2.5, None, True]), "s": "x", 4: b"raw", "nan": float("nan"),
             "c": 1 + 2j, "i": np.int64(5), "f": np.float32(0.5), "empty": np.zeros((0, 3))}
    got = _roundtrip(value)
    assert set(got) == set(value)
    np.testing.assert_array_equal(got["W1"], value["W1"])
    assert got["b1"].dtype == np.float32 and got["b1"].shape == (2, 1)
    assert got["t"] == (1, [2.5, None, True]) and type(got["t"]) is tuple
    assert got[4] == b"raw" and got["c"] == 1 + 2j
    assert np.isnan(got["nan"])
    assert type(got["i"]) is np.int64 and got["i"] == 5
    assert type(got["f"]) is np.float32
    assert got["empty"].shape == (0, 3)


def test_non_contiguous_and_subclass_arrays_arrive_as_plain_contiguous_arrays():
    base = np.arange(12.0).reshape(3, 4)
    subclass = type("Sneaky", (np.ndarray,), {})
    got = _roundtrip([base.T, base.view(subclass)])
    assert type(got[0]) is np.ndarray and np.array_equal(got[0], base.T)
    assert type(got[1]) is np.ndarray and np.array_equal(got[1], base)


def test_objects_that_are_not_data_become_opaque():
    class Cache:
        pass
    got = _roundtrip([Cache(), np.array([object()], dtype=object), {object(): 1}])
    assert [g[0] for g in got] == ["opaque", "opaque", "opaque"]
    assert got[0][2] == "Cache"


def _frame(tree, blob=b""):
    return tree, bytearray(blob)


@pytest.mark.parametrize("node, message", [
    ({"$a": ["|O", [1], 0, 8]}, "not allowed"),
    ({"$a": ["<f8", [2**20, 2**20], 0, 8]}, "does not match"),
    ({"$a": ["<f8", [4], 0, 32]}, "outside the frame"),
    ({"$a": ["<f8", [-1], 0, -8]}, "malformed array shape"),
    ({"$a": ["<f8", [1] * 40, 0, 8]}, "malformed array shape"),
    ({"$a": ["<U5", [1], 0, 20]}, "not allowed"),
    ({"$b": [0, 10**9]}, "outside the frame"),
    ({"$x": 1}, "unknown tag"),
    ({"$f": "1e999999"}, "malformed float"),
    ([1, 2], "bare JSON list"),
    ({"$h": 3}, "unexpected handle"),
    ({"$d": [[{"$l": []}, 1]]}, "not plain"),
])
def test_hostile_descriptions_are_refused(node, message):
    tree, blob = _frame(node, b"\0" * 16)
    with pytest.raises(wire.WireError, match=message):
        wire.Decoder(blob, opaque=lambda *a: None).decode(tree)


def test_a_header_claiming_a_gigantic_frame_is_refused_before_reading():
    header = wire.HEADER.pack(10, 2**40)
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        wire.parse_header(header, 256 * 2**20)
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        wire.parse_header(wire.HEADER.pack(2**31, 0), 2**30)


def test_npy_and_npz_bytes_are_just_bytes_never_loaded():
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3))
    got = _roundtrip(buf.getvalue())
    assert isinstance(got, bytes) and got.startswith(b"PK")


def test_deep_nesting_is_a_wire_error_not_a_recursion_crash():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(wire.WireError):
        wire.parse_json(deep.encode())
    tree = {"$l": []}
    for _ in range(500):
        tree = {"$l": [tree]}
    with pytest.raises(wire.WireError, match="too deeply"):
        wire.Decoder(bytearray()).decode(tree)


def test_self_referencing_results_are_cut_into_opaque_handles():
    loop: list = []
    loop.append(loop)
    got = _roundtrip(loop)
    depth = 0
    while isinstance(got, list):
        got = got[0]
        depth += 1
    assert got[0] == "opaque" and depth > 10


def test_nonfinite_floats_survive_and_json_stays_strict():
    chunks = wire.encode_frame({"v": [float("inf"), float("-inf")]})
    body = bytes(chunks[1])
    json.loads(body, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert _roundtrip([float("inf"), float("-inf")]) == [float("inf"), float("-inf")]

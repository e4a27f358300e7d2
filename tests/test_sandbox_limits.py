"""Everything from the worker is size-checked before it is decoded or kept, and nothing is kept after a call.

Some tests speak for the worker directly (a scripted worker socket), to send
frames no honest worker would: a header that promises 60 MB and never sends
it, a JSON body of a million empty lists, a 3 MB exception message.
"""

from __future__ import annotations

import gc
import io
import os
import socket
import struct
import textwrap
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import (CallTimeout, Limits, ResultTooLarge, Sandbox, SandboxConfig, StudentException, wire)
from grader.sandbox.client import MAX_LOAD_PROBLEMS, MAX_MESSAGE_CHARS, MAX_NAMES, MAX_TRACEBACK_CHARS
from tests.sandbox_helpers import make_sandbox

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")


def _frame(message: dict) -> bytes:
    return b"".join(bytes(c) for c in wire.encode_frame(message))


HELLO = _frame({"ok": True, "value": {"applied": []}})


def _load_reply(names: dict | None = None, problems: list | None = None, more: bool = False) -> bytes:
    names = {"f": {"kind": "function", "params": []}} if names is None else names
    return _frame({"ok": True, "value": {"names": names, "problems": problems or [], "more_names": more}})


class _ScriptedZygote:
    """Stands in for the zygote: every worker is a socket whose other end the test writes to."""

    def __init__(self, *replies: bytes) -> None:
        self.replies = list(replies)
        self.ends: list[socket.socket] = []
        self.pipes: list[int] = []

    def spawn(self, limits, read_only, refused=()):
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        self.ends.append(theirs)
        self.pipes.append(out_w)
        data = b"".join(self.replies)
        threading.Thread(target=self._send, args=(theirs, data), daemon=True).start()
        return 1000 + len(self.ends), ours, out_r

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the trusted side stopped reading and hung up: as intended

    def kill(self, pid):
        pass

    def exit_code(self, pid, timeout=5.0):
        return 0

    def alive(self):
        return True

    def close(self):
        for sock in self.ends:
            sock.close()
        for fd in self.pipes:
            os.close(fd)


def _scripted(*replies: bytes, **limits) -> tuple[Sandbox, _ScriptedZygote]:
    zygote = _ScriptedZygote(HELLO, *replies)
    config = SandboxConfig(limits=Limits(**{"call_timeout": 2.0, **limits}))
    return Sandbox("def f():\n    pass\n", [(0, 1, "def f():\n    pass\n")], config=config, zygote=zygote), zygote


def _peak_during(action) -> int:
    """Peak bytes Python allocated while `action` ran."""
    gc.collect()
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# ------------------------------------------------------------------ allocation follows the bytes


def test_a_header_promising_60_mb_allocates_only_what_actually_arrives():
    body = b'{"ok":true,"value":{"$b":[0,62914560]}}'
    promise = wire.HEADER.pack(len(body), 60 * 2**20) + body + b"\0" * 4096   # ...and then nothing more
    sb, zygote = _scripted(_load_reply(), promise, call_timeout=1.0)
    try:
        sb.ensure_loaded()

        def call():
            with pytest.raises(CallTimeout):
                sb.call("f")
        assert _peak_during(call) < 4 * 2**20
    finally:
        sb.close()
        zygote.close()


def test_a_million_empty_lists_are_refused_before_they_are_parsed():
    body = b'{"ok":true,"value":{"$l":[' + b",".join([b'{"$l":[]}'] * 800_000) + b"]}}"
    assert len(body) < wire.MAX_JSON_BYTES
    sb, zygote = _scripted(_load_reply(), wire.HEADER.pack(len(body), 0) + body)
    try:
        sb.ensure_loaded()

        def call():
            with pytest.raises(ResultTooLarge, match=r"^`f` returned more than .* values"):
                sb.call("f")
        # the body itself (8 MB) is read; 800,000 lists (~60 MB of Python objects) are never made
        assert _peak_during(call) < 24 * 2**20
    finally:
        sb.close()
        zygote.close()


def test_a_reply_over_the_cap_fails_only_that_call_with_its_size():
    with make_sandbox("""
        import numpy as np
        def big():
            return np.zeros(180 * 2**20 // 8)
        def ok():
            return 1
    """, max_message_bytes=64 * 2**20) as sb:
        with pytest.raises(ResultTooLarge) as caught:
            sb.student.big()
        assert caught.value.reason == "`big` returned 180 MB; the limit is 64 MB"
        assert sb.student.ok() == 1  # a fresh worker serves the rest


# ------------------------------------------------------------------ strings, names, problems are bounded


def test_messages_tracebacks_and_types_are_cut_with_a_marker():
    error = {"ok": False, "error": {"type": "E" * 5000, "message": "m" * 3_000_000, "traceback": "t" * 100_000}}
    sb, zygote = _scripted(_load_reply(), _frame(error))
    try:
        with pytest.raises(StudentException) as caught:
            sb.call("f")
    finally:
        sb.close()
        zygote.close()
    exc = caught.value
    assert len(exc.message) < MAX_MESSAGE_CHARS + 100 and exc.message.endswith("more characters cut]")
    assert len(exc.traceback) < MAX_TRACEBACK_CHARS + 100 and "more characters cut" in exc.traceback
    assert len(exc.type_name) < 200


def test_a_load_reply_with_endless_names_and_problems_is_bounded():
    names = {f"n{i}" + "x" * 50: {"kind": "k" * 500, "params": ["p" * 10] * 80} for i in range(2_000)}
    names["y" * 10_000] = {"kind": "function", "params": []}
    problems = [{"lineno": i, "type": "T" * 500, "message": "m" * 10_000} for i in range(200)]
    sb, zygote = _scripted(_load_reply(names, problems))
    try:
        sb.ensure_loaded()
        assert len(sb.names) <= MAX_NAMES and sb._more_names
        assert all(len(name) <= 100 and len(entry["params"]) <= 64 and len(entry["kind"]) < 100
                   for name, entry in sb.names.items())
        assert len(sb.load_problems) == MAX_LOAD_PROBLEMS
        assert all(len(p.message) < MAX_MESSAGE_CHARS + 100 for p in sb.load_problems)
    finally:
        sb.close()
        zygote.close()


def test_thousands_of_names_are_looked_up_one_by_one():
    with make_sandbox("""
        for _i in range(3000):
            globals()[f"f{_i}"] = (lambda k: lambda: k)(_i)
    """) as sb:
        sb.ensure_loaded()
        assert len(sb.names) <= MAX_NAMES
        assert sb.has("f2999") and sb.student.f2999() == 2999
        assert not sb.has("f3000")


# ------------------------------------------------------------------ nothing is kept after a call


def test_values_from_the_worker_are_not_kept_after_the_call():
    with make_sandbox("""
        import numpy as np
        def forward(A):
            ballast = np.ones(2**20)    # 8 MB in every cache
            return A + 1, (A, [ballast, {"b": ballast + 1}])
        def backward(cache):
            A, rest = cache
            return float(rest[0].sum() + rest[1]["b"].sum())
    """) as sb:
        A = np.zeros((2, 2))
        _, cache = sb.student.forward(A)
        assert sb.student.backward(cache) == 3 * 2**20  # a returned cache still goes back as the original

        def many_calls():
            for _ in range(12):
                sb.student.forward(A)
            gc.collect()
            assert tracemalloc.get_traced_memory()[0] < 40 * 2**20  # 12 x 16 MB if anything were kept
        gc.collect()
        tracemalloc.start()
        try:
            many_calls()
        finally:
            tracemalloc.stop()


def test_a_small_array_kept_by_a_check_does_not_keep_its_frame():
    with make_sandbox("""
        import numpy as np
        def pair():
            return np.ones(3), np.ones(4 * 2**20)   # 32 MB next to a small array
    """) as sb:
        small, big = sb.student.pair()
        owner = small
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        assert owner.base is None or len(memoryview(owner.base).cast("B")) < 2**20  # not the 32 MB frame
        del big


def test_returned_containers_read_like_plain_ones():
    import copy
    import pickle
    with make_sandbox("""
        def f():
            return (1, [2, {"a": 3}])
    """) as sb:
        value = sb.student.f()
    assert value == (1, [2, {"a": 3}])
    assert type(value).__name__ == "tuple" and type(value[1]).__name__ == "list"
    for clone in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert clone == value and type(clone) is tuple  # a copy is plain data, sent by value


# ------------------------------------------------------------------ figures


def test_a_forged_figure_description_is_bounded_and_only_checked_pixels_are_kept():
    for forged in ("np.zeros((100, 100, 4), dtype=np.float64)",     # not uint8
                   "np.zeros((3000, 3000, 4), dtype=np.uint8)"):    # over the pixel cap
        with make_sandbox(f"""
            import sys
            import numpy as np
            worker = sys.modules["grader.sandbox.worker"]
            worker._describe_figure = lambda value: {{"is_figure": True, "type": "T" * 5_000_000, "pixels": {forged}}}
            def plot():
                return None
        """, call_timeout=30) as sb:
            result = sb.call("plot", figure=True)
        assert result.pixels is None
        assert len(result.figure["type"]) < 200


_FIGURE = """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    def plot(size=(2, 1), transparent=False):
        fig, ax = plt.subplots(figsize=size)
        ax.fill_between([0, 1], [0, 0], [1, 1], color="red")
        ax.set_title("A TITLE IN BLACK " * 3)
        if transparent:
            fig.patch.set_alpha(0.0)
            ax.patch.set_alpha(0.0)
        return fig
"""


def test_a_real_figure_comes_back_as_checked_pixels_drawn_without_its_text():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with make_sandbox(_FIGURE, call_timeout=30) as sb:
        pixels = sb.call("plot", figure=True).pixels
    assert pixels.shape == (72, 144, 3) and pixels.dtype == np.uint8
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.mean() > 0.3
    # The same figure drawn here with its text has a black title and tick labels; the evidence has neither.
    namespace: dict = {}
    exec(textwrap.dedent(_FIGURE), namespace)
    figure = namespace["plot"]()
    figure.set_dpi(72)
    figure.canvas.draw()
    with_text = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    plt.close("all")
    assert _black(pixels) < 10 and _black(with_text) >= 40  # (the spines' corners are a few dark pixels)



_SELF_LISTING_ARTIST = """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.artist import Artist

    class Loop(Artist):
        def get_children(self):
            return [self, self]

    def plot():
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.add_artist(Loop())
        ax.fill_between([0, 1], [1, 1], color="red")
        ax.legend(["A LEGEND"])
        return fig
"""


def test_an_artist_listing_itself_as_its_own_child_is_drawn_once_and_its_text_hidden():
    # Walking the figure's artists to hide their text visits each artist once: a walk that followed the
    # loop would never end (or, recursing, fail the figure of a student whose plot is fine).
    with make_sandbox(_SELF_LISTING_ARTIST, call_timeout=30) as sb:
        pixels = sb.call("plot", figure=True).pixels
    assert pixels is not None and pixels.shape == (72, 144, 3)
    assert _black(pixels) < 10

def _black(pixels):
    return int((pixels.sum(axis=2) < 150).sum())


def test_a_transparent_figure_is_seen_on_white_and_an_oversized_one_is_not_drawn():
    with make_sandbox(_FIGURE, call_timeout=30) as sb:
        clear = sb.call("plot", kwargs={"transparent": True}, figure=True)
        huge = sb.call("plot", kwargs={"size": (100, 100)}, figure=True)  # 7200 x 7200 pixels: refused before drawing
    corner = clear.pixels[0, 0]
    assert corner.tolist() == [255, 255, 255]
    assert huge.pixels is None and huge.figure["is_figure"] is True


@pytest.mark.parametrize("value", [
    None, b"\x89PNG", [[[0, 0, 0, 255]]], np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 4), np.int64),
    np.zeros((0, 10, 4), np.uint8), np.zeros((10, 10, 4, 1), np.uint8), np.zeros((2001, 2000, 4), np.uint8),
], ids=["none", "png-bytes", "list", "rgb", "int64", "empty", "4d", "too-many-pixels"])
def test_only_an_rgba_uint8_array_within_the_pixel_cap_counts_as_a_figure(value):
    from grader.sandbox import rgb_pixels
    assert rgb_pixels(value) is None


def test_checked_pixels_encode_to_a_png_for_the_report():
    from PIL import Image

    from grader.sandbox import png_bytes, rgb_pixels
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:10, :, 3] = 0  # a transparent band shows white
    png = png_bytes(rgb_pixels(rgba))
    with Image.open(io.BytesIO(png)) as image:
        decoded = np.array(image.convert("RGB"))
    assert decoded.shape == (30, 40, 3)
    assert decoded[0, 0].tolist() == [255, 255, 255] and decoded[20, 0].tolist() == [200, 0, 0]


# ------------------------------------------------------------------ loading many statements


def test_a_file_too_slow_as_a_whole_fails_loading_once_not_statement_by_statement():
    slow = "import time\n" + "".join(f"time.sleep(0.01)\ndef f{i}():\n    return {i}\n" for i in range(300))
    with make_sandbox(slow, load_timeout=1.0) as sb:
        with pytest.raises(CallTimeout, match="no single statement hung"):
            sb.student.f0()
        with pytest.raises(CallTimeout, match="no single statement hung"):
            sb.student.f1()  # at once: no second worker, no second wait
        assert sb.generation == 1
        assert not any("skipped" in p.message for p in sb.load_problems)


def test_thousands_of_statements_load_with_their_own_line_numbers():
    filler = "".join(f"def filler_{i}(x):\n    return x\n" for i in range(5_000))
    source = filler + "def boom():\n    x = 1\n    raise ValueError('here')\n"
    with make_sandbox(source, load_timeout=60) as sb:
        with pytest.raises(StudentException) as caught:
            sb.student.boom()
        assert sb.student.filler_4999(5) == 5
    assert "line 10003, in boom" in caught.value.traceback

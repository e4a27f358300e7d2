"""The sandboxed worker: loads one submission and runs the calls it is asked for.

This module runs inside the confined child process, after the protections of
`protections.py` are in place. It imports nothing of the grader's trusted
side (no reference, no checks). It receives requests as frames (`wire.py`),
runs student code, and answers with plain data; every other object stays
here and is answered as an opaque handle.

Nothing the worker says is believed by the trusted side beyond "this is what
the student's code returned": the student owns this process once its code
runs, so verdicts are computed on the trusted side only.
"""

from __future__ import annotations

import __future__
import array
import ast
import linecache
import os
import socket
import sys
import time
import tracemalloc
import traceback
import types
from typing import Any

from grader.sandbox import pixels, shared, wire

# Bound now, before student code can monkeypatch the modules they come from.
_perf_counter = time.perf_counter
_monotonic_ns = time.monotonic_ns
_tm_start, _tm_stop, _tm_peak = tracemalloc.start, tracemalloc.stop, tracemalloc.get_traced_memory
_tm_reset = tracemalloc.reset_peak
_format_exception_only = traceback.format_exception_only
_extract_tb = traceback.extract_tb
_BaseException = BaseException
# A `from __future__ import annotations` statement must apply to the
# statements after it, as it would in a file compiled as a whole.
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag

MAX_NAMES = 1000        # names listed after a load; the trusted side asks for others one by one
MAX_PROBLEMS = 100      # load problems described; the rest are counted
MAX_FDS = 4             # descriptors one request may carry (a shared-memory block)


class RefusedImportError(ImportError):
    """Raised when a submission imports a module its assignment does not allow."""


class _RefusedModule:
    """Stands in for a refused module so that only the code using it fails."""

    def __init__(self, message: str) -> None:
        object.__setattr__(self, "_message", message)

    def __getattr__(self, name: str) -> Any:
        raise RefusedImportError(object.__getattribute__(self, "_message"))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RefusedImportError(object.__getattribute__(self, "_message"))


class _RefusingFinder:
    """A meta-path finder that refuses the assignment's forbidden modules."""

    def __init__(self, refused: list[str], assignment: str) -> None:
        self.refused = refused
        self.assignment = assignment

    def message(self, name: str) -> str:
        """The student-facing explanation for refusing `name`."""
        return (f"`{name}` is not allowed in {self.assignment}: implement it with NumPy "
                f"(refused modules: {', '.join(self.refused)})")

    def is_refused(self, name: str) -> bool:
        """Whether `name` is a refused module or inside one."""
        return any(name == r or name.startswith(r + ".") for r in self.refused)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        """Refuse forbidden modules; leave everything else to the normal finders."""
        if self.is_refused(name):
            raise RefusedImportError(self.message(name))
        return None


class Worker:
    """Serves requests for one submission over a connected socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.module = types.ModuleType("submission")
        self.filename = "submission.py"
        self.finder: _RefusingFinder | None = None
        self.fds: list[int] = []  # descriptors received with the current request

    # ------------------------------------------------------------ transport

    def _recv_exact(self, n: int, with_fds: bool = False) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            if with_fds:
                k, ancillary, _, _ = self.sock.recvmsg_into([view[got:]], socket.CMSG_SPACE(4 * MAX_FDS))
                for level, kind, data in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        self.fds.extend(array.array("i", data[:len(data) - len(data) % 4]))
            else:
                k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise EOFError
            got += k
        return buf

    def receive(self) -> tuple[Any, bytearray]:
        """Read one request frame (and any descriptors riding on it); returns (json tree, blob)."""
        for fd in self.fds:  # left over from an earlier request that did not use them
            os.close(fd)
        self.fds = []
        header = self._recv_exact(wire.HEADER.size, with_fds=True)
        json_len, blob_len = wire.parse_header(header, 2**34)
        tree = wire.parse_json(self._recv_exact(json_len))
        return tree, self._recv_exact(blob_len)

    def send(self, message: dict) -> None:
        """Flush the student's output, then send one reply frame."""
        for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
            try:
                stream.flush()
            except _BaseException:
                pass
        encoder = wire.Encoder(opaque=self._keep, register=self._keep)
        try:
            chunks = wire.encode_frame(message, encoder)
        except _BaseException as exc:
            chunks = wire.encode_frame({"ok": False, "error": {
                "type": "UnsendableResult", "message": _safe_str(exc), "traceback": ""}})
        self.sock.sendall(b"".join(chunks))

    def _keep(self, obj: Any) -> int:
        hid = self.next_handle
        self.next_handle += 1
        self.handles[hid] = obj
        return hid

    def _resolve(self, hid: int) -> Any:
        try:
            return self.handles[hid]
        except KeyError:
            raise wire.WireError(f"unknown handle {hid}") from None

    # ------------------------------------------------------------ requests

    def serve(self) -> None:
        """Answer requests until the trusted side hangs up."""
        while True:
            try:
                tree, blob = self.receive()
            except EOFError:
                return
            try:
                request = wire.Decoder(blob, resolve=self._resolve).decode(tree)
                reply = self.dispatch(request)
            except _BaseException as exc:
                reply = {"ok": False, "error": self.describe(exc)}
            self.send(reply)

    def dispatch(self, request: dict) -> dict:
        """Run one request and build its reply."""
        op = request.get("op")
        if op == "load":
            return self.load(request)
        if op == "call":
            return self.call(request)
        if op == "drive":
            return self.drive(request)
        if op == "put":
            return {"ok": True, "value": None, "handle": self._keep(request["value"])}
        if op == "get":
            return {"ok": True, "value": request["value"]}
        if op == "share":
            return {"ok": True, "value": None, "handle": self._keep(self._map_shared(request))}
        if op == "has":
            name = request["name"]
            found = type(name) is str and not name.startswith("__") and name in self.module.__dict__
            return {"ok": True, "value": _describe_name(self.module.__dict__[name]) if found else None}
        raise ValueError(f"unknown request {op!r}")

    def _map_shared(self, request: dict) -> Any:
        """The arrays over the shared memory the trusted side sent with this request."""
        if len(self.fds) != 1:
            raise ValueError("a shared-memory request must carry exactly one descriptor")
        fd = self.fds.pop()
        try:
            return shared.map_block(fd, request["layout"], bool(request["single"]))
        finally:
            os.close(fd)

    def names(self) -> tuple[dict, bool]:
        """The submission's top-level names (the first MAX_NAMES) with their kinds and parameters,
        and whether there are more."""
        out = {}
        items = [(k, v) for k, v in list(vars(self.module).items()) if not k.startswith("__")]
        for name, value in items[:MAX_NAMES]:
            out[name] = _describe_name(value)
        return out, len(items) > MAX_NAMES

    # ------------------------------------------------------------ load

    def load(self, request: dict) -> dict:
        """Execute the planned top-level statements one by one.

        A statement that raises is reported and skipped; the definitions
        around it still load. Before each statement its index is written to
        the progress memory the trusted side sent along, so it knows which
        statement was running if the worker dies or hangs (without one
        frame per statement: a file can hold 250,000 of them).

        The statements arrive packed: their texts joined in one UTF-8 blob
        and a table of (index, line number, byte length), so the request's
        description stays small whatever the file holds.
        """
        self.filename = request["filename"]
        source = request["source"].decode("utf-8", "surrogatepass")
        self.module.__file__ = self.filename
        self.module.__dict__["__name__"] = "submission"
        sys.modules["submission"] = self.module
        lines = [line + "\n" for line in source.split("\n")]  # only "\n" ends a line for Python
        linecache.cache[self.filename] = (len(source), None, lines, self.filename)
        refused = list(request.get("refused", []))
        if refused:
            self.finder = _RefusingFinder(refused, request.get("assignment", "this assignment"))
            for name in list(sys.modules):
                if self.finder.is_refused(name):
                    del sys.modules[name]
            sys.meta_path.insert(0, self.finder)
        progress = self._map_progress()
        problems: list[dict] = []
        more_problems = 0
        future = 0
        text_blob, offset = request["text"], 0
        for index, lineno, length in request["table"].tolist():
            text = text_blob[offset:offset + length].decode("utf-8", "surrogatepass")
            offset += length
            if progress is not None:
                progress[0], progress[1] = index, _monotonic_ns()
            else:
                self.send({"progress": index})
            problem = None
            try:
                code = _compile_at(text, lineno, self.filename, future)
                future |= code.co_flags & _FUTURE_FLAGS
                exec(code, self.module.__dict__)
            except RefusedImportError as exc:
                self._bind_refused(text, str(exc))
                problem = {"index": index, "lineno": lineno, "type": "RefusedImportError", "message": str(exc)}
            except _BaseException as exc:
                problem = {"index": index, "lineno": _student_line(exc, self.filename) or lineno, **self.describe(exc)}
            if problem is not None:
                if len(problems) < MAX_PROBLEMS:
                    problems.append(problem)
                else:
                    more_problems += 1
        if progress is not None:
            progress[0] = -1
        names, more = self.names()
        return {"ok": True, "value": {"problems": problems, "more_problems": more_problems, "names": names,
                                      "more_names": more}}

    def _map_progress(self) -> Any:
        """The [index, start time] int64s the trusted side reads after a failed load (None: send frames)."""
        if len(self.fds) != 1:
            return None
        fd = self.fds.pop()
        try:
            return shared.map_block(fd, [["", "<i8", [2], 0, 16]], True)
        finally:
            os.close(fd)

    def _bind_refused(self, text: str, message: str) -> None:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.module.__dict__[alias.asname or alias.name.split(".")[0]] = _RefusedModule(message)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    self.module.__dict__[alias.asname or alias.name] = _RefusedModule(message)

    # ------------------------------------------------------------ call

    def call(self, request: dict) -> dict:
        """Call a submission function, with optional patches and measurements."""
        name = request["name"]
        func = self.module.__dict__.get(name)
        if func is None:
            return {"ok": False, "error": {"type": "MissingName", "message": name, "traceback": ""}}
        if isinstance(func, _RefusedModule):
            return {"ok": False, "error": {"type": "RefusedImportError",
                                           "message": object.__getattribute__(func, "_message"),
                                           "traceback": ""}}
        saved = self._apply_patches(request.get("patch") or {})
        try:
            reply = _timed(func, request.get("args", ()), request.get("kwargs", {}), bool(request.get("measure")))
        finally:
            self.module.__dict__.update(saved)
        if request.get("figure"):
            reply["figure"] = _describe_figure(reply["value"])
        return reply

    def drive(self, request: dict) -> dict:
        """Run trusted driver source against the submission module.

        The driver defines ``drive(module, *args)``; it can build objects with
        the student's classes (an expression graph of their ``Value``) or read
        module-level answers, and returns plain data. Its result is as
        untrusted as any other: the student's code runs inside it.
        """
        namespace: dict[str, Any] = {}
        exec(compile(request["source"], "<grader driver>", "exec"), namespace)
        return _timed(namespace["drive"], (self.module, *request.get("args", ())), {}, bool(request.get("measure")))

    def _apply_patches(self, patches: dict) -> dict:
        """Swap in grader-supplied wrappers for this call only; returns what to restore.

        Each patch is trusted source defining ``make(original)`` that returns
        the replacement (e.g. the student's own backward with a planted bug,
        so a gradient check can be tested on a known-wrong gradient), or a
        list of such sources applied in turn, each wrapping what the one
        before made (the grader's compute_cost, then a planted bug on it).
        """
        saved = {}
        module = self.module.__dict__
        for name, sources in patches.items():
            original = module.get(name)
            replacement = original
            for source in [sources] if isinstance(sources, str) else sources:
                namespace: dict[str, Any] = {}
                exec(compile(source, "<grader patch>", "exec"), namespace)
                replacement = namespace["make"](replacement)
            # Every global bound to the same function (an alias such as
            # L_model_backward = L_layer_backward) gets the replacement too.
            for key, value in list(module.items()):
                if key == name or (original is not None and value is original):
                    saved.setdefault(key, value)
                    module[key] = replacement
        return saved

    def describe(self, exc: BaseException) -> dict:
        """A plain-data description of an exception raised by student code."""
        frames = _student_frames(exc, self.filename)
        lines = [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-8:]]
        return {"type": _safe_name(exc), "message": _safe_str(exc)[:2000],
                "traceback": "\n".join(lines)}


def _compile_at(text: str, lineno: int, filename: str, future: int) -> types.CodeType:
    """Compile one statement as if it stood at line `lineno` of the file.

    Compiled on its own and then shifted (every code object in it), rather
    than compiled after ``lineno - 1`` blank lines, which made loading a file
    of n statements cost n squared.
    """
    try:
        code = compile(text, filename, "exec", flags=future, dont_inherit=True)
    except SyntaxError as exc:
        if exc.lineno is not None:
            exc.lineno += lineno - 1
        if getattr(exc, "end_lineno", None) is not None:
            exc.end_lineno += lineno - 1
        raise
    return _shift_lines(code, lineno - 1) if lineno > 1 else code


def _shift_lines(code: types.CodeType, delta: int) -> types.CodeType:
    consts = tuple(_shift_lines(c, delta) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _describe_name(value: Any) -> dict:
    """A top-level name's kind and (for a function) its parameters."""
    if isinstance(value, types.FunctionType):
        code = value.__code__
        return {"kind": "function", "params": list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])}
    if isinstance(value, type):
        return {"kind": "class", "params": []}
    if isinstance(value, _RefusedModule):
        return {"kind": "refused", "params": []}
    return {"kind": type(value).__name__[:40], "params": []}


def _safe_name(exc: BaseException) -> str:
    try:
        return type(exc).__name__[:80]
    except _BaseException:
        return "Exception"


def _safe_str(exc: BaseException) -> str:
    try:
        if isinstance(exc, SystemExit):
            return f"the code called sys.exit({exc.code!r})"
        text = "".join(_format_exception_only(type(exc), exc)).strip()
        # The first line starts with the (possibly module-qualified) type name.
        for prefix in (f"{type(exc).__module__}.{type(exc).__qualname__}: ", type(exc).__name__ + ": "):
            if text.startswith(prefix):
                return text[len(prefix):]
        return text
    except _BaseException:
        return "(the exception's message could not be shown)"


def _timed(func: Any, args: tuple, kwargs: dict, measure: bool) -> dict:
    """Call `func` and build the reply: its value, wall seconds and (when measured) peak traced memory."""
    if measure:
        _tm_start()
        _tm_reset()
    start = _perf_counter()
    try:
        value = func(*args, **kwargs)
    finally:
        elapsed = _perf_counter() - start
        peak = _tm_peak()[1] if measure else None
        if measure:
            _tm_stop()
    return {"ok": True, "value": value, "seconds": elapsed, "peak_bytes": peak}


def _student_frames(exc: BaseException, filename: str) -> list:
    """The traceback frames of `exc` that lie in the submission."""
    return [f for f in _extract_tb(exc.__traceback__) if f.filename == filename]


def _student_line(exc: BaseException, filename: str) -> int | None:
    frames = _student_frames(exc, filename)
    return frames[-1].lineno if frames else None


def _describe_figure(value: Any) -> dict:
    """A returned figure drawn as pixels (see pixels.draw_figure); every pyplot figure is closed after."""
    try:
        return pixels.draw_figure(value)
    finally:
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except _BaseException:
            pass

"""The trusted side of the sandbox: start workers, send calls, read plain data back.

`Sandbox` is what checks use: ``sandbox.student.linear_forward(A, W, b)`` runs
the student's function in a confined worker and returns the result as plain
Python/NumPy data. Objects that are not plain data come back as `Handle`s;
containers and arrays that came from the worker are remembered, so passing
them back (the student's own ``cache``) hands the worker its original object.

A call that hangs, crashes the worker, exits or floods output costs only that
call: it raises a `SandboxError` whose ``reason`` is a sentence for the
student, and the next call gets a fresh worker with the submission loaded
again.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from typing import Any, Callable

from grader.sandbox import wire
from grader.sandbox.config import CallResult, LoadProblem, SandboxConfig
from grader.sandbox.wire import Handle
from grader.sandbox.zygote_client import Zygote, shared_zygote

__all__ = ["Sandbox", "SandboxError", "StudentException", "RefusedImport", "MissingName",
           "CallTimeout", "WorkerDied", "ProtocolError", "StaleHandle"]


# ---------------------------------------------------------------- errors

class SandboxError(Exception):
    """A call into student code did not return normally; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StudentException(SandboxError):
    """The student's code raised an exception."""

    def __init__(self, type_name: str, message: str, traceback: str) -> None:
        where = f"\n{traceback}" if traceback else ""
        super().__init__(f"{type_name}: {message}{where}")
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class RefusedImport(StudentException):
    """The student's code used a module the assignment does not allow."""


class MissingName(SandboxError):
    """The submission does not define the requested function."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the submission does not define `{name}`")
        self.name = name


class CallTimeout(SandboxError):
    """The call ran past its wall-time budget and the worker was stopped."""


class WorkerDied(SandboxError):
    """The worker process ended during the call (crash, exit, limit)."""


class ProtocolError(SandboxError):
    """The worker sent data the trusted side refuses to read."""


class StaleHandle(SandboxError):
    """A value from an earlier worker was passed after that worker was replaced."""


# ---------------------------------------------------------------- a live worker

class _Connection:
    """One live worker: its socket, its output pipe and the frame reader."""

    def __init__(self, keeper: int, sock: socket.socket, out_fd: int) -> None:
        self.keeper = keeper
        self.sock = sock
        self.out_fd = out_fd
        self.sock.setblocking(False)
        os.set_blocking(out_fd, False)

    def close(self) -> None:
        self.sock.close()
        os.close(self.out_fd)


class Sandbox:
    """One submission loaded in a confined worker, replaced whenever it dies.

    `source` is the submission's text and `statements` its load plan: a list
    of (index, lineno, text) of the top-level statements to run.
    """

    def __init__(self, source: str, statements: list[tuple[int, int, str]], *, filename: str = "submission.py",
                 config: SandboxConfig = SandboxConfig(), zygote: Zygote | None = None) -> None:
        self.source = source
        self.statements = list(statements)
        self.filename = filename
        self.config = config
        self.zygote = zygote or shared_zygote(config.preload)
        self.generation = 0
        self.events: list[str] = []           # what the sandbox stopped, for the report
        self.load_problems: list[LoadProblem] = []
        self.names: dict[str, dict] = {}
        self.applied: list[str] = []
        self._skip: dict[int, str] = {}       # statement index -> why it is no longer run
        self._conn: _Connection | None = None
        self._mirror: dict[int, tuple[Any, int, int]] = {}
        self._output = bytearray()
        self._output_dropped = 0
        self._call_output = bytearray()
        self.student_seconds = 0.0            # time spent inside student functions, as measured in the worker
        self.student = _StudentProxy(self)

    # ------------------------------------------------------------ public API

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None, *, timeout: float | None = None,
             patch: dict[str, str] | None = None, measure: bool = False, figure: bool = False) -> CallResult:
        """Call the student's `name(*args, **kwargs)` in the worker.

        `patch` maps submission names to trusted wrapper source (see
        worker.Worker._apply_patches) applied for this call only; `measure`
        records the call's peak traced memory; `figure` renders a returned
        matplotlib figure to PNG and summarises it.
        """
        self.ensure_loaded()
        if name not in self.names:
            raise MissingName(name)
        message = {"op": "call", "name": name, "args": tuple(args), "kwargs": dict(kwargs or {}),
                   "patch": patch, "measure": measure, "figure": figure}
        reply = self._request(message, timeout or self.config.limits.call_timeout, during=f"`{name}`")
        return self._result(reply, _validated_figure(reply.get("figure")))

    def drive(self, source: str, args: tuple = (), *, timeout: float | None = None,
              measure: bool = False) -> CallResult:
        """Run trusted driver source in the worker: it defines ``drive(module, *args)``.

        For checks that need more than calling one function: building an
        expression graph from the student's classes, reading module-level
        answers, timing a sequence of the student's calls together.
        """
        self.ensure_loaded()
        message = {"op": "drive", "source": source, "args": tuple(args), "measure": measure}
        reply = self._request(message, timeout or self.config.limits.call_timeout, during="a check")
        return self._result(reply)

    def _result(self, reply: dict, figure: dict | None = None) -> CallResult:
        """The CallResult of a call or drive reply; its time (if plausible) counts as the student's."""
        seconds = reply.get("seconds")
        seconds = float(seconds) if type(seconds) is float and 0 <= seconds < 1e6 else 0.0
        self.student_seconds += seconds
        return CallResult(reply["value"], seconds, reply.get("peak_bytes"),
                          self._call_output.decode("utf-8", "replace"), figure)

    def put(self, value: Any) -> Handle:
        """Store a value in the worker and return a handle to it (to see later mutations)."""
        self.ensure_loaded()
        reply = self._request({"op": "put", "value": value}, self.config.limits.call_timeout, during="a transfer")
        return Handle(int(reply["handle"]), self.generation, type(value).__name__)

    def get(self, ref: Any) -> Any:
        """Fetch the current value of a handle (or of an object the worker returned)."""
        self.ensure_loaded()
        return self._request({"op": "get", "value": ref}, self.config.limits.call_timeout,
                             during="a transfer")["value"]

    def has(self, name: str) -> bool:
        """Whether the loaded submission defines `name`."""
        self.ensure_loaded()
        return name in self.names

    @property
    def output(self) -> str:
        """The captured stdout/stderr of the whole submission (the first part only)."""
        text = self._output.decode("utf-8", "replace")
        if self._output_dropped:
            text += f"\n[... {self._output_dropped} more bytes of output were dropped]"
        return text

    @property
    def output_dropped(self) -> int:
        """How many bytes of output were not kept."""
        return self._output_dropped

    def close(self) -> None:
        """Stop the worker (the zygote stays warm for the next submission)."""
        self._kill()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ loading

    def ensure_loaded(self) -> None:
        """Start a worker and load the submission into it, if none is live.

        A statement that kills or hangs the worker while loading is skipped
        from then on and reported; loading is retried without it.
        """
        attempts = 0
        while self._conn is None:
            attempts += 1
            self._spawn()
            to_run = [s for s in self.statements if s[0] not in self._skip]
            progress: list[int] = []
            try:
                reply = self._request({"op": "load", "filename": self.filename, "source": self.source,
                                       "statements": to_run, "refused": list(self.config.refused_imports),
                                       "assignment": self.config.assignment},
                                      self.config.limits.load_timeout, during="loading", progress=progress.append)
            except (CallTimeout, WorkerDied, ProtocolError) as exc:
                if not progress or attempts > 8:
                    raise
                index = progress[-1]
                lineno = next(s[1] for s in self.statements if s[0] == index)
                self._skip[index] = exc.reason
                self.load_problems.append(LoadProblem(lineno, type(exc).__name__,
                                                      f"{exc.reason}; the statement was skipped"))
                continue
            value = reply["value"]
            self.names = value["names"]
            for p in value["problems"]:  # a reload after a crash reports the same problems again: keep one
                problem = LoadProblem(int(p["lineno"]), str(p["type"]), str(p["message"]))
                if problem not in self.load_problems:
                    self.load_problems.append(problem)

    def _spawn(self) -> None:
        keeper, sock, out_fd = self.zygote.spawn(self.config.limits, tuple(self.config.support_dirs))
        self.generation += 1
        self._conn = _Connection(keeper, sock, out_fd)
        hello = self._request(None, 30, during="start-up")
        self.applied = list(hello["value"]["applied"])

    # ------------------------------------------------------------ transport

    def _request(self, message: dict | None, timeout: float, *, during: str,
                 progress: Callable[[int], None] | None = None) -> dict:
        conn = self._conn
        if conn is None:
            raise WorkerDied("the process running your code has stopped")
        self._call_output = bytearray()
        # Encoding happens before the try: a value the trusted side cannot send is
        # the grader's own error, not something the student's code did.
        chunks = wire.encode_frame(message, wire.Encoder(ref_of=self._ref_of)) if message is not None else None
        deadline = time.monotonic() + timeout
        try:
            if chunks is not None:
                self._send_all(conn, chunks, deadline)
            while True:
                tree, blob = self._read_frame(conn, deadline)
                decoder = wire.Decoder(blob, opaque=self._opaque, registered=self._register)
                reply = decoder.decode(tree)
                if type(reply) is not dict:
                    raise wire.WireError("reply is not a message")
                if "progress" in reply:
                    if progress is not None and type(reply["progress"]) is int:
                        progress(reply["progress"])
                    continue
                break
        except _Timeout:
            self._kill()
            reason = f"timed out after {timeout:g} s during {during}"
            self.events.append(reason)
            raise CallTimeout(reason) from None
        except _Eof:
            code = self._kill(wait_first=True)
            reason = _death_reason(code, during)
            self.events.append(reason)
            raise WorkerDied(reason) from None
        except wire.WireError as exc:
            self._kill()
            reason = f"the grader could not read what your code sent back during {during}: {exc}"
            self.events.append(reason)
            raise ProtocolError(reason) from None
        if reply.get("ok") is True:
            return reply
        raise _error_from(reply.get("error"))

    def _send_all(self, conn: _Connection, chunks: list, deadline: float) -> None:
        data = memoryview(b"".join(chunks))  # join takes the arrays' memoryviews as they are: one copy
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            _, writable, _ = select.select([], [conn.sock], [], remaining)
            if writable:
                try:
                    sent = conn.sock.send(data)
                except BlockingIOError:
                    continue
                except OSError:
                    raise _Eof from None
                data = data[sent:]

    def _read_frame(self, conn: _Connection, deadline: float) -> tuple[Any, bytearray]:
        header = self._read_exact(conn, wire.HEADER.size, deadline)
        json_len, blob_len = wire.parse_header(header, self.config.limits.max_message_bytes)
        tree = wire.parse_json(self._read_exact(conn, json_len, deadline))
        return tree, self._read_exact(conn, blob_len, deadline)

    def _read_exact(self, conn: _Connection, n: int, deadline: float) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            readable, _, _ = select.select([conn.sock, conn.out_fd], [], [], remaining)
            if conn.out_fd in readable:
                self._drain_output(conn)
            if conn.sock in readable:
                try:
                    k = conn.sock.recv_into(view[got:], n - got)
                except BlockingIOError:
                    continue
                except OSError:
                    raise _Eof from None
                if k == 0:
                    raise _Eof
                got += k
        return buf

    def _drain_output(self, conn: _Connection) -> None:
        try:
            chunk = os.read(conn.out_fd, 1 << 16)
        except BlockingIOError:
            return
        room = self.config.limits.output_bytes - len(self._output)
        kept = chunk[:max(room, 0)]
        self._output += kept
        self._call_output += kept
        if len(chunk) > len(kept):
            if not self._output_dropped:
                self.events.append(f"output beyond the first {self.config.limits.output_bytes} bytes was dropped")
            self._output_dropped += len(chunk) - len(kept)

    def _kill(self, wait_first: bool = False) -> int | None:
        """Stop the live worker; returns its keeper's exit code (None if unknown).

        After an end of file the worker is already ending on its own: wait for
        its own exit code first, so a crash is not misreported as our kill.
        """
        conn, self._conn = self._conn, None
        if conn is None:
            return None
        # Read what is left of the output so the report shows the last words.
        try:
            while select.select([conn.out_fd], [], [], 0)[0]:
                before = len(self._output) + self._output_dropped
                self._drain_output(conn)
                if len(self._output) + self._output_dropped == before:
                    break
        except OSError:
            pass
        conn.close()
        if wait_first:
            code = self.zygote.exit_code(conn.keeper, timeout=2.0)
            if code is not None:
                return code
        self.zygote.kill(conn.keeper)
        return self.zygote.exit_code(conn.keeper)

    # ------------------------------------------------------------ handles

    def _ref_of(self, obj: Any) -> int | None:
        if isinstance(obj, Handle):
            hid, generation = obj.id, obj.generation
        else:
            entry = self._mirror.get(id(obj))
            if entry is None or entry[0] is not obj:
                return None
            _, hid, generation = entry
        if generation != self.generation:
            raise StaleHandle("a value your code returned earlier was lost when the process running "
                              "your code was restarted after a crash or timeout")
        return hid

    def _register(self, obj: Any, hid: int) -> None:
        if isinstance(obj, tuple) and not obj:
            return  # () is a singleton: remembering it would alias every empty tuple
        self._mirror[id(obj)] = (obj, hid, self.generation)

    def _opaque(self, hid: int, kind: str, summary: str) -> Handle:
        return Handle(hid, self.generation, kind, summary)


class _StudentProxy:
    """`sandbox.student.f(*args)` calls the student's `f` and returns its value."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._sandbox.call(name, args, kwargs).value
        call.__name__ = name
        return call


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


def _error_from(error: Any) -> SandboxError:
    if type(error) is not dict:
        return ProtocolError("the grader could not read the error your code raised")
    type_name = str(error.get("type", "Exception"))[:80]
    message = str(error.get("message", ""))[:2000]
    traceback = str(error.get("traceback", ""))[:4000]
    if type_name == "MissingName":
        return MissingName(message)
    if type_name == "RefusedImportError":
        return RefusedImport(type_name, message, traceback)
    return StudentException(type_name, message, traceback)


def _death_reason(code: int | None, during: str) -> str:
    from grader.sandbox.protections import KEEPER_SETUP_FAILED, SIGNAL_BASE
    if code is None:
        return f"the process running your code stopped responding during {during}"
    if code == KEEPER_SETUP_FAILED:
        return f"the sandbox could not be set up for {during}"
    if code > SIGNAL_BASE:
        sig = code - SIGNAL_BASE
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if name == "SIGXCPU":
            return f"your code used up its CPU-time limit during {during}"
        if name == "SIGKILL":
            return f"your code was killed (SIGKILL: out of memory or CPU time) during {during}"
        return f"your code crashed the Python process running it ({name}) during {during}"
    return f"your code exited (status {code}) during {during}"


def _validated_figure(figure: Any) -> dict | None:
    if type(figure) is not dict:
        return None
    out = {k: figure.get(k) for k in ("is_figure", "axes", "points", "filled_regions", "lines", "images", "type")}
    png = figure.get("png")
    if isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n"):
        out["png"] = png
    return out

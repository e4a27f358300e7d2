"""The trusted side of the sandbox: start workers, send calls, read plain data back.

`Sandbox` is what checks use: ``sandbox.student.linear_forward(A, W, b)`` runs
the student's function in a confined worker and returns the result as plain
Python/NumPy data. Objects that are not plain data come back as `Handle`s;
containers and arrays that came from the worker are remembered, so passing
them back (the student's own ``cache``) hands the worker its original object.

A call that hangs, crashes the worker, exits, floods output or answers with
more than the size cap costs only that call: it raises a `SandboxError` whose
``reason`` is a sentence for the student, and the next call gets a fresh
worker with the submission loaded again.

A failure of the shared machinery (the zygote gone, its control connection
broken or out of step) is not the student's doing: it raises
`InfrastructureError`, which is *not* a `SandboxError`, and sets
`Sandbox.infrastructure_failure`, so the grading layer regrades the student
instead of recording a score.

Nothing decoded from a reply is kept after the call returns: containers that
came from the worker carry their handle id on themselves (`returned_tuple`,
`returned_list`, `returned_dict`), arrays are remembered through weak
references only.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
import weakref
from typing import Any, Callable

import numpy as np

from grader.sandbox import wire
from grader.sandbox.config import CallResult, LoadProblem, SandboxConfig
from grader.sandbox.pixels import rgb_pixels
from grader.sandbox.shared import SharedBlock
from grader.sandbox.wire import Handle
from grader.sandbox.zygote_client import Zygote, shared_zygote

__all__ = ["Sandbox", "SandboxError", "StudentException", "RefusedImport", "MissingName",
           "CallTimeout", "WorkerDied", "ProtocolError", "ResultTooLarge", "StaleHandle",
           "InfrastructureError", "SharedHandle"]

# Limits on what the trusted side keeps of the worker's words (the rest is cut, with a marker).
MAX_MESSAGE_CHARS = 2000       # an exception's message
MAX_TRACEBACK_CHARS = 4000
MAX_TYPE_CHARS = 80
MAX_NAME_CHARS = 100           # a top-level name of the submission, a parameter name
MAX_NAMES = 1000               # names listed after a load; more are looked up one by one
MAX_PARAMS = 64
MAX_LOAD_PROBLEMS = 100


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


class ResultTooLarge(ProtocolError):
    """The worker's answer was over a size cap; it was not read, and the worker was replaced."""


class StaleHandle(SandboxError):
    """A value from an earlier worker was passed after that worker was replaced."""


class InfrastructureError(Exception):
    """The grader's own sandbox machinery failed (not the student's code): regrade, do not score.

    Deliberately not a `SandboxError`: checks turn those into student-facing
    failures, and this must never become one.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" [... {len(text) - limit} more characters cut]"


# ---------------------------------------------------------------- values from the worker

class returned_tuple(tuple):
    """A tuple that came from the worker: it remembers which object there it stands for.

    Named like the built-in so messages ("returned tuple") read the same;
    copying or pickling it gives a plain tuple, which is sent by value.
    """

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return tuple, (tuple(self),)


class returned_list(list):
    """A list that came from the worker (see `returned_tuple`)."""

    __slots__ = ("_hid", "_gen", "__weakref__")

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return list, (list(self),)


class returned_dict(dict):
    """A dict that came from the worker (see `returned_tuple`)."""

    __slots__ = ("_hid", "_gen", "__weakref__")

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return dict, (dict(self),)


for _cls, _name in ((returned_tuple, "tuple"), (returned_list, "list"), (returned_dict, "dict")):
    _cls.__name__ = _cls.__qualname__ = _name
_RETURNED = {tuple: returned_tuple, list: returned_list, dict: returned_dict}
_RETURNED_TYPES = frozenset(_RETURNED.values())


def _forget(table: dict, key: int, ref: weakref.ref) -> None:
    """Weak-reference callback: an array from the worker is gone, so is its entry."""
    entry = table.get(key)
    if entry is not None and entry[0] is ref:
        del table[key]


class SharedHandle(Handle):
    """A handle to arrays in trusted-side shared memory (see `Sandbox.put_shared`)."""


class _Progress:
    """Which load statement the worker started last, and when: shared int64s it writes, or frames it sends."""

    def __init__(self) -> None:
        try:  # [statement index, CLOCK_MONOTONIC nanoseconds when it started]
            self.block: SharedBlock | None = SharedBlock(np.full(2, -1, dtype=np.int64))
        except OSError:  # no sealable memfd here: the worker sends a frame per statement instead
            self.block = None
        self.fds = (self.block.fd,) if self.block is not None else ()
        self._frames: list[int] = []

    def seen(self, index: int) -> None:
        """A progress frame arrived (only when there is no shared memory)."""
        self._frames.append(index)

    def last(self) -> tuple[int | None, float | None]:
        """(index of the statement that was running or None, seconds it had been running or None)."""
        if self.block is None:
            return (self._frames[-1] if self._frames else None), None
        index, started = (int(v) for v in self.block.read())
        if index < 0:
            return None, None
        return index, (time.monotonic_ns() - started) / 1e9 if started > 0 else None

    def close(self) -> None:
        if self.block is not None:
            self.block.close()


# ---------------------------------------------------------------- a live worker

_CHUNK = 1 << 20  # bytes read from the worker at a time: buffers grow only as data arrives


class _Connection:
    """One live worker: its socket, its output pipe and the frame reader."""

    def __init__(self, keeper: int, sock: socket.socket, out_fd: int) -> None:
        self.keeper = keeper
        self.sock = sock
        self.out_fd = out_fd
        self.sock.setblocking(False)
        os.set_blocking(out_fd, False)
        self.scratch = memoryview(bytearray(_CHUNK))

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
        # Set (to a reason) once the shared machinery failed under this sandbox:
        # whatever the checks recorded since is not the student's result.
        self.infrastructure_failure: str | None = None
        self._more_names = False              # the worker listed only the first MAX_NAMES names
        self._skip: dict[int, str] = {}       # statement index -> why it is no longer run
        self._load_failure: SandboxError | None = None  # loading failed for good (every later call fails so)
        self._conn: _Connection | None = None
        self._arrays: dict[int, tuple[weakref.ref, int, int]] = {}   # id -> (weak ref, handle id, generation)
        self._shared: dict[SharedHandle, SharedBlock] = {}
        self._output = bytearray()
        self._output_dropped = 0
        self._call_output = bytearray()
        self.student_seconds = 0.0            # time spent inside student functions, as measured in the worker
        self.student = _StudentProxy(self)

    # ------------------------------------------------------------ public API

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None, *, timeout: float | None = None,
             patch: dict[str, str | list[str]] | None = None, measure: bool = False,
             figure: bool = False) -> CallResult:
        """Call the student's `name(*args, **kwargs)` in the worker.

        `patch` maps submission names to trusted wrapper source, or a list
        of such sources applied in turn (see worker.Worker._apply_patches),
        for this call only; `measure`
        records the call's peak traced memory; `figure` has the worker draw a
        returned matplotlib figure at 72 dpi without its text and legends
        (`CallResult.pixels`: an RGB array the trusted side has checked, see
        `pixels.rgb_pixels`).
        """
        self.ensure_loaded()
        if not self._defines(name):
            raise MissingName(name)
        message = {"op": "call", "name": name, "args": tuple(args), "kwargs": dict(kwargs or {}),
                   "patch": patch, "measure": measure, "figure": figure}
        reply = self._request(message, timeout or self.config.limits.call_timeout, during=f"`{name}`")
        return self._result(reply, _validated_figure(reply.get("figure")) if figure else None)

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
        peak = reply.get("peak_bytes")
        peak = peak if type(peak) is int and 0 <= peak < 2**50 else None
        return CallResult(reply.get("value"), seconds, peak, self._call_output.decode("utf-8", "replace"), figure,
                          pixels=figure.get("pixels") if figure else None)

    def put(self, value: Any) -> Handle:
        """Store a value in the worker and return a handle to it (to see later mutations)."""
        self.ensure_loaded()
        reply = self._request({"op": "put", "value": value}, self.config.limits.call_timeout, during="a transfer")
        return Handle(_handle_id(reply), self.generation, type(value).__name__)

    def get(self, ref: Any) -> Any:
        """Fetch the current value of a handle (or of an object the worker returned).

        This is the worker's answer, so the student's code can shape it; to
        know whether a call changed its inputs use `put_shared`/`read_shared`.
        """
        self.ensure_loaded()
        return self._request({"op": "get", "value": ref}, self.config.limits.call_timeout,
                             during="a transfer")["value"]

    def put_shared(self, value: np.ndarray | dict[str, np.ndarray]) -> SharedHandle:
        """Put an array (or a dict of str -> array) in memory the trusted side owns; returns its handle.

        Pass the handle (alone or inside the call's arguments) to `call`: the
        student's function receives real ndarrays backed by that memory, the
        same objects on every call, so it can change them in place.
        `read_shared(handle)` then reads the current bytes from the trusted
        side's own descriptor, never through the worker.
        """
        self.ensure_loaded()
        block = SharedBlock(value)
        try:
            reply = self._request({"op": "share", "layout": block.layout, "single": block.single},
                                  self.config.limits.call_timeout, during="a transfer", fds=(block.fd,))
            handle = SharedHandle(_handle_id(reply), self.generation, "shared arrays")
        except BaseException:
            block.close()
            raise
        self._shared[handle] = block
        return handle

    def read_shared(self, handle: SharedHandle) -> np.ndarray | dict[str, np.ndarray]:
        """The current contents of `put_shared` arrays (fresh copies), read without asking the worker.

        Works after the worker that held them died too: the memory is the
        trusted side's.
        """
        block = self._shared.get(handle)
        if block is None:
            raise KeyError("not a handle from this sandbox's put_shared (or the sandbox was closed)")
        return block.read()

    def has(self, name: str) -> bool:
        """Whether the loaded submission defines `name`."""
        self.ensure_loaded()
        return self._defines(name)

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
        """Stop the worker and everything it started (the zygote stays warm for the next submission).

        When this returns, every process of the worker is gone (its keeper
        reported its end); a failure to confirm that sets
        `infrastructure_failure`. Never raises.
        """
        self._kill()
        for block in self._shared.values():
            block.close()
        self._shared.clear()

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
        if self._conn is None and self._load_failure is not None:
            # Loading failed for good: every later call fails the same way at once, not after another wait.
            raise type(self._load_failure)(self._load_failure.reason)
        attempts = 0
        while self._conn is None:
            attempts += 1
            self._spawn()
            to_run = [s for s in self.statements if s[0] not in self._skip]
            texts = [text.encode("utf-8", "surrogatepass") for _, _, text in to_run]
            request = {"op": "load", "filename": self.filename,
                       "source": self.source.encode("utf-8", "surrogatepass"),
                       "table": np.array([(i, line, len(t)) for (i, line, _), t in zip(to_run, texts)],
                                         dtype=np.int64).reshape(-1, 3),
                       "text": b"".join(texts), "refused": list(self.config.refused_imports),
                       "assignment": self.config.assignment}
            del texts
            progress = _Progress()
            try:
                reply = self._request(request, self.config.limits.load_timeout, during="loading",
                                      progress=progress.seen, fds=progress.fds)
            except (CallTimeout, WorkerDied, ProtocolError) as exc:
                index, running = progress.last()
                known = [s for s in self.statements if s[0] == index]
                if isinstance(exc, CallTimeout) and running is not None \
                        and running < self.config.limits.load_timeout / 2:
                    # Not one statement that hangs: the file as a whole is too slow to load.
                    # Skipping statements one by one would only repeat the wait.
                    exc = CallTimeout(f"loading your file took longer than {self.config.limits.load_timeout:g} s "
                                      f"(no single statement hung: the file is too long or too slow as a whole)")
                    known = []
                if not known or attempts > 8:
                    self._load_failure = exc
                    raise exc from None
                self._skip[known[0][0]] = exc.reason
                self.load_problems.append(LoadProblem(known[0][1], type(exc).__name__,
                                                      f"{exc.reason}; the statement was skipped"))
                continue
            finally:
                progress.close()
            value = reply.get("value")
            if not isinstance(value, dict):
                self._kill()
                raise ProtocolError("the grader could not read what your code sent back during loading")
            self.names, self._more_names = _validated_names(value.get("names"), value.get("more_names"))
            problems = value.get("problems")
            for p in problems if isinstance(problems, list) else []:
                if len(self.load_problems) >= MAX_LOAD_PROBLEMS:
                    break
                problem = _validated_problem(p)
                # a reload after a crash reports the same problems again: keep one
                if problem is not None and problem not in self.load_problems:
                    self.load_problems.append(problem)

    def _spawn(self) -> None:
        try:
            keeper, sock, out_fd = self.zygote.spawn(self.config.limits, tuple(self.config.support_dirs),
                                                     tuple(self.config.refused_imports))
        except (OSError, RuntimeError, ValueError) as exc:
            raise self._infrastructure(f"the sandbox could not start a worker: {exc}") from None
        self.generation += 1
        self._conn = _Connection(keeper, sock, out_fd)
        hello = self._request(None, 30, during="start-up")
        value = hello.get("value")
        applied = value.get("applied") if isinstance(value, dict) else None
        self.applied = [a[:40] for a in applied[:20] if type(a) is str] if isinstance(applied, list) else []

    def _defines(self, name: str) -> bool:
        """Whether the submission defines `name` (asking the worker when it listed only the first names)."""
        if name in self.names:
            return True
        if not self._more_names or type(name) is not str or len(name) > MAX_NAME_CHARS:
            return False
        reply = self._request({"op": "has", "name": name}, self.config.limits.call_timeout, during="a lookup")
        entry = _validated_names({name: reply.get("value")}, False)[0].get(name)
        if entry is not None:
            self.names[name] = entry
        return entry is not None

    # ------------------------------------------------------------ transport

    def _request(self, message: dict | None, timeout: float, *, during: str,
                 progress: Callable[[int], None] | None = None, fds: tuple[int, ...] = ()) -> dict:
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
                self._send_all(conn, chunks, deadline, fds)
            while True:
                tree, blob = self._read_frame(conn, deadline)
                reply = wire.Decoder(blob, opaque=self._opaque, wrap=self._wrap).decode(tree)
                del tree, blob
                if not isinstance(reply, dict):  # (a tagged returned_dict is a dict too)
                    raise wire.WireError("reply is not a message")
                if "progress" in reply:
                    if progress is not None and type(reply["progress"]) is int:
                        progress(reply["progress"])
                    continue
                break
        except _Timeout:
            self._kill()
            if message is None:
                raise self._infrastructure(f"a new worker did not start within {timeout:g} s") from None
            reason = f"timed out after {timeout:g} s during {during}"
            self.events.append(reason)
            raise CallTimeout(reason) from None
        except _Eof:
            code = self._kill(wait_first=True)
            if self.infrastructure_failure is not None:
                raise InfrastructureError(self.infrastructure_failure) from None
            from grader.sandbox.protections import KEEPER_SETUP_FAILED
            if message is None or code == KEEPER_SETUP_FAILED:
                raise self._infrastructure(f"a new worker could not be set up (exit code {code})") from None
            reason = _death_reason(code, during)
            self.events.append(reason)
            raise WorkerDied(reason) from None
        except wire.TooLarge as exc:
            self._kill()
            subject = f"{during} returned" if during.startswith("`") else f"your code sent back, during {during},"
            reason = f"{subject} {exc.what}"
            self.events.append(reason)
            raise ResultTooLarge(reason) from None
        except wire.WireError as exc:
            self._kill()
            reason = f"the grader could not read what your code sent back during {during}: {exc}"
            self.events.append(reason)
            raise ProtocolError(reason) from None
        if self.infrastructure_failure is not None:
            raise InfrastructureError(self.infrastructure_failure)
        if reply.get("ok") is True:
            return reply
        raise _error_from(reply.get("error"))

    def _infrastructure(self, reason: str) -> InfrastructureError:
        """Record that the shared machinery failed under this sandbox; the error to raise."""
        if self.infrastructure_failure is None:
            self.infrastructure_failure = reason
        return InfrastructureError(reason)

    def _send_all(self, conn: _Connection, chunks: list, deadline: float, fds: tuple[int, ...] = ()) -> None:
        data = memoryview(b"".join(chunks))  # join takes the arrays' memoryviews as they are: one copy
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            _, writable, _ = select.select([], [conn.sock], [], remaining)
            if writable:
                try:
                    if fds:  # the descriptors ride on the frame's first bytes
                        sent = socket.send_fds(conn.sock, [data[:wire.HEADER.size]], list(fds))
                        fds = ()
                    else:
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
        """Read `n` bytes; the buffer grows with the bytes received, never ahead of them."""
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            readable, _, _ = select.select([conn.sock, conn.out_fd], [], [], remaining)
            if conn.out_fd in readable:
                self._drain_output(conn)
            if conn.sock in readable:
                try:
                    k = conn.sock.recv_into(conn.scratch, min(n - len(buf), _CHUNK))
                except BlockingIOError:
                    continue
                except OSError:
                    raise _Eof from None
                if k == 0:
                    raise _Eof
                buf += conn.scratch[:k]
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
        """Stop the live worker; returns its keeper's exit code (None if unknown). Never raises.

        After an end of file the worker is already ending on its own: wait for
        its own exit code first, so a crash is not misreported as our kill.
        The keeper reports only once the worker and every process in its PID
        namespace are gone. When the zygote cannot be reached, that is
        recorded as an infrastructure failure.
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
        try:
            if wait_first:
                code = self.zygote.exit_code(conn.keeper, timeout=2.0)
                if code is not None:
                    return code
            self.zygote.kill(conn.keeper)
            code = self.zygote.exit_code(conn.keeper)
            if code is None and not self.zygote.alive():
                raise RuntimeError("the sandbox zygote is gone")
            return code
        except (OSError, RuntimeError, ValueError) as exc:
            self._infrastructure(f"the sandbox's zygote failed while a worker ended: {exc}")
            return None

    # ------------------------------------------------------------ handles

    def _ref_of(self, obj: Any) -> int | None:
        t = type(obj)
        if isinstance(obj, Handle):
            hid, generation = obj.id, obj.generation
        elif t in _RETURNED_TYPES:
            hid, generation = obj._hid, obj._gen
        elif t is np.ndarray:
            entry = self._arrays.get(id(obj))
            if entry is None or entry[0]() is not obj:
                return None
            _, hid, generation = entry
        else:
            return None
        if generation != self.generation:
            raise StaleHandle("a value your code returned earlier was lost when the process running "
                              "your code was restarted after a crash or timeout")
        return hid

    def _wrap(self, value: Any, hid: int) -> Any:
        """Tag a container or array from the worker with its handle id, without keeping it alive."""
        t = type(value)
        if t is np.ndarray:
            key = id(value)
            self._arrays[key] = (weakref.ref(value, lambda ref, table=self._arrays, key=key: _forget(table, key, ref)),
                                 hid, self.generation)
            return value
        cls = _RETURNED.get(t)
        if cls is None:
            return value
        out = cls(value)
        out._hid, out._gen = hid, self.generation
        return out

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


def _handle_id(reply: dict) -> int:
    hid = reply.get("handle")
    if type(hid) is not int:
        raise ProtocolError("the grader could not read the handle your code's process sent back")
    return hid


def _error_from(error: Any) -> SandboxError:
    if not isinstance(error, dict):
        return ProtocolError("the grader could not read the error your code raised")
    type_name = _text(error.get("type"), MAX_TYPE_CHARS) or "Exception"
    message = _text(error.get("message"), MAX_MESSAGE_CHARS)
    traceback = _text(error.get("traceback"), MAX_TRACEBACK_CHARS)
    if type_name == "MissingName":
        return MissingName(truncate(message, MAX_NAME_CHARS))
    if type_name == "RefusedImportError":
        return RefusedImport(type_name, message, traceback)
    return StudentException(type_name, message, traceback)


def _text(value: Any, limit: int) -> str:
    """A string from the worker, cut to `limit` (anything that is not a string becomes "")."""
    return truncate(value, limit) if type(value) is str else ""


def _validated_names(names: Any, more: Any) -> tuple[dict[str, dict], bool]:
    """The worker's list of top-level names, with only well-formed, bounded entries kept."""
    out: dict[str, dict] = {}
    if not isinstance(names, dict):
        return out, False
    for name, entry in list(names.items())[:MAX_NAMES]:
        if type(name) is not str or len(name) > MAX_NAME_CHARS or not isinstance(entry, dict):
            continue
        params = entry.get("params")
        params = [p for p in params[:MAX_PARAMS] if type(p) is str and len(p) <= MAX_NAME_CHARS] \
            if isinstance(params, list) else []
        out[name] = {"kind": _text(entry.get("kind"), 40) or "object", "params": params}
    return out, more is True or len(names) > MAX_NAMES


def _validated_problem(p: Any) -> LoadProblem | None:
    if not isinstance(p, dict) or type(p.get("lineno")) is not int:
        return None
    return LoadProblem(p["lineno"], _text(p.get("type"), MAX_TYPE_CHARS) or "Exception",
                       _text(p.get("message"), MAX_MESSAGE_CHARS))


def _death_reason(code: int | None, during: str) -> str:
    from grader.sandbox.protections import SIGNAL_BASE
    if code is None:
        return f"the process running your code stopped responding during {during}"
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


def _validated_figure(figure: Any) -> dict:
    """What the trusted side keeps of a returned figure: its pixels (checked here), and bounded words.

    The pixels are the only evidence: the trusted side judges them itself
    (see `pixels.rgb_pixels`). ``is_figure`` and ``type`` are the worker's
    word, used only to word the message when there are no pixels.
    """
    if not isinstance(figure, dict):
        return {"is_figure": False}
    out: dict[str, Any] = {"is_figure": figure.get("is_figure") is True}
    if type(figure.get("type")) is str:
        out["type"] = truncate(figure["type"], MAX_TYPE_CHARS)
    out["pixels"] = rgb_pixels(figure.get("pixels"))
    return out

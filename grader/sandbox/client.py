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

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.sandbox import wire
from grader.sandbox.wire import Handle

REPO_ROOT = Path(__file__).resolve().parents[2]


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


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker; every field is configurable per assignment."""

    call_timeout: float = 10.0          # wall seconds per call unless the call says otherwise
    load_timeout: float = 10.0          # wall seconds to load the submission
    memory_bytes: int = 2 * 2**30       # address space on top of the warm interpreter's
    cpu_seconds: int = 600              # CPU seconds over the worker's whole life
    nproc: int = 32                     # processes and threads of the worker's uid
    nofile: int = 256                   # open files
    fsize: int = 64 * 2**20             # largest file the worker may write
    output_bytes: int = 64 * 2**10      # captured stdout+stderr per submission; the rest is counted
    max_message_bytes: int = 256 * 2**20  # largest reply the trusted side will read


@dataclass(frozen=True)
class SandboxConfig:
    """What an assignment asks of the sandbox."""

    assignment: str = "this assignment"
    limits: Limits = field(default_factory=Limits)
    refused_imports: tuple[str, ...] = ()
    support_dirs: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()


@dataclass
class CallResult:
    """Everything one call produced besides its return value."""

    value: Any
    seconds: float
    peak_bytes: int | None
    output: str
    figure: dict | None = None


@dataclass
class LoadProblem:
    """A top-level statement that failed while loading the submission."""

    lineno: int
    type_name: str
    message: str


# ---------------------------------------------------------------- protections

# What each protection does, in the words the grader prints when it is off.
PROTECTIONS = {
    "landlock": "file and TCP restrictions (Landlock): student code can read and write any file "
                "your user can, and open TCP connections",
    "seccomp": "the system-call filter (seccomp): student code can create sockets and use ptrace",
    "uid": "the per-worker unprivileged user: process-count limits and signal isolation are weaker",
    "namespaces": "PID and network namespaces: processes a student starts are only killed with their "
                  "worker's process group",
}


def protections_off(applied: list[str]) -> list[str]:
    """Sentences naming every protection a worker did not get (empty when all are on)."""
    have = {"landlock": any(a.startswith("landlock") for a in applied), "seccomp": "seccomp" in applied,
            "uid": "unprivileged_uid" in applied, "namespaces": "pid_namespace" in applied}
    return [PROTECTIONS[name] for name, on in have.items() if not on]


_announced = False


def announce_protections(applied: list[str], stream: Any = None) -> None:
    """Say once per process, plainly, which protections are off on this machine."""
    global _announced
    off = protections_off(applied)
    if _announced or not off:
        return
    _announced = True
    stream = stream or sys.stderr
    print("warning: the sandbox runs without some protections on this machine:", file=stream)
    for sentence in off:
        print(f"  - off: {sentence}", file=stream)


# ---------------------------------------------------------------- zygote

class Zygote:
    """Owns the warm zygote process and talks to it over a control socket."""

    def __init__(self, preload: tuple[str, ...] = (), disable: tuple[str, ...] | None = None) -> None:
        self.preload = tuple(preload)
        # GRADER_SANDBOX_DISABLE=landlock,seccomp,uid,namespaces turns protections
        # off (for machines where one misbehaves, and to test the fallbacks).
        if disable is None:
            disable = tuple(d for d in os.environ.get("GRADER_SANDBOX_DISABLE", "").split(",") if d)
        unknown = set(disable) - set(PROTECTIONS)
        if unknown:
            raise ValueError(f"unknown protection(s) to disable: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(PROTECTIONS)}")
        self.disable = tuple(disable)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._buffer = b""
        self._exited: dict[int, int] = {}
        self.protections: dict = {}
        self.base_dir = ""

    def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.base_dir = tempfile.mkdtemp(prefix="grader-sandbox-")
        os.chmod(self.base_dir, 0o711)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "PYTHONPATH")}
        env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"})
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote", str(child.fileno())],
            pass_fds=(child.fileno(),), env=env, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL,
            start_new_session=True)
        child.close()
        self._ctrl = parent
        exclude = [str(REPO_ROOT), self.base_dir]
        self._send({"preload": list(self.preload), "base_dir": self.base_dir, "exclude": exclude,
                    "disable": list(self.disable)})
        hello = self._read_message(lambda m: "ready" in m, timeout=60)
        self.protections = hello["protections"]

    def alive(self) -> bool:
        """Whether the zygote process is running."""
        return self._proc is not None and self._proc.poll() is None

    def _send(self, message: dict, fds: list[int] = ()) -> None:
        data = (json.dumps(message) + "\n").encode()
        if fds:
            socket.send_fds(self._ctrl, [data], list(fds))
        else:
            self._ctrl.sendall(data)

    def _read_message(self, want: Callable[[dict], bool], timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if "exited" in message:
                    self._exited[message["exited"]] = message["code"]
                if want(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._ctrl], [], [], remaining)
            if ready:
                chunk = self._ctrl.recv(65536)
                if not chunk:
                    raise RuntimeError("the sandbox zygote stopped unexpectedly")
                self._buffer += chunk

    def spawn(self, limits: Limits, read_only: tuple[str, ...]) -> tuple[int, socket.socket, int]:
        """Fork a confined worker; returns (keeper pid, worker socket, output pipe)."""
        with self._lock:
            if not self.alive():
                self._start()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            out_r, out_w = os.pipe()
            request = {"op": "spawn", "read_only": list(read_only), "limits": {
                "memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
                "nproc": limits.nproc, "nofile": limits.nofile, "fsize": limits.fsize}}
            try:
                self._send(request, [theirs.fileno(), out_w])
            finally:
                theirs.close()
                os.close(out_w)
            reply = self._read_message(lambda m: "spawned" in m, timeout=30)
            if reply is None:
                raise RuntimeError("the sandbox zygote did not start a worker within 30 s")
            return reply["spawned"], ours, out_r

    def kill(self, pid: int) -> None:
        """Kill a keeper (and with it its worker and everything the worker started)."""
        with self._lock:
            if self.alive():
                self._send({"op": "kill", "pid": pid})

    def exit_code(self, pid: int, timeout: float = 5.0) -> int | None:
        """The keeper's exit code once it has ended (None if it does not end in time)."""
        with self._lock:
            if pid not in self._exited and self.alive():
                self._read_message(lambda m: m.get("exited") == pid, timeout)
            return self._exited.pop(pid, None)

    def close(self) -> None:
        """Stop the zygote and every worker it still has."""
        with self._lock:
            if self._ctrl is not None:
                self._ctrl.close()
                self._ctrl = None
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
                self._proc = None
            if self.base_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)


_ZYGOTES: dict[tuple[str, ...], Zygote] = {}
_ZYGOTES_LOCK = threading.Lock()


def shared_zygote(preload: tuple[str, ...] = ()) -> Zygote:
    """The process-wide zygote for a set of preloaded modules (started lazily)."""
    key = tuple(sorted(preload))
    with _ZYGOTES_LOCK:
        if key not in _ZYGOTES:
            _ZYGOTES[key] = Zygote(key)
        return _ZYGOTES[key]


def close_shared_zygotes() -> None:
    """Stop every zygote this process started (also run at interpreter exit)."""
    with _ZYGOTES_LOCK:
        for zygote in _ZYGOTES.values():
            zygote.close()
        _ZYGOTES.clear()


import atexit  # noqa: E402

atexit.register(close_shared_zygotes)


# ---------------------------------------------------------------- a live worker

class _Connection:
    """One live worker: its socket, its output pipe and the frame reader."""

    def __init__(self, keeper: int, sock: socket.socket, out_fd: int, generation: int) -> None:
        self.keeper = keeper
        self.sock = sock
        self.out_fd = out_fd
        self.generation = generation
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
        output = self._call_output.decode("utf-8", "replace")
        seconds = reply.get("seconds")
        seconds = float(seconds) if type(seconds) is float and 0 <= seconds < 1e6 else 0.0
        self.student_seconds += seconds
        return CallResult(reply["value"], seconds, reply.get("peak_bytes"),
                          output, _validated_figure(reply.get("figure")))

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
        seconds = reply.get("seconds")
        seconds = float(seconds) if type(seconds) is float and 0 <= seconds < 1e6 else 0.0
        self.student_seconds += seconds
        return CallResult(reply["value"], seconds, reply.get("peak_bytes"),
                          self._call_output.decode("utf-8", "replace"))

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
            if self.generation == 1 or not self.load_problems:
                for p in value["problems"]:
                    problem = LoadProblem(int(p["lineno"]), str(p["type"]), str(p["message"]))
                    if problem not in self.load_problems:
                        self.load_problems.append(problem)

    def _spawn(self) -> None:
        keeper, sock, out_fd = self.zygote.spawn(self.config.limits, tuple(self.config.support_dirs))
        self.generation += 1
        self._conn = _Connection(keeper, sock, out_fd, self.generation)
        hello = self._request(None, 30, during="start-up")
        self.applied = list(hello["value"]["applied"])

    # ------------------------------------------------------------ transport

    def _request(self, message: dict | None, timeout: float, *, during: str,
                 progress: Callable[[int], None] | None = None) -> dict:
        conn = self._conn
        if conn is None:
            raise WorkerDied("the worker is not running")
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
            reason = f"the grader could not read what your code returned during {during}: {exc}"
            self.events.append(reason)
            raise ProtocolError(reason) from None
        if reply.get("ok") is True:
            return reply
        raise _error_from(reply.get("error"))

    def _send_all(self, conn: _Connection, chunks: list, deadline: float) -> None:
        data = memoryview(b"".join(bytes(c) if isinstance(c, memoryview) else c for c in chunks))
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
        json_len, blob_len = wire.parse_header(bytes(header), self.config.limits.max_message_bytes)
        tree = wire.parse_json(bytes(self._read_exact(conn, json_len, deadline)))
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
            if obj.generation != self.generation:
                raise StaleHandle("a value your code returned earlier was lost when its worker was "
                                  "replaced after a crash or timeout")
            return obj.id
        entry = self._mirror.get(id(obj))
        if entry is None or entry[0] is not obj:
            return None
        if entry[2] != self.generation:
            raise StaleHandle("a value your code returned earlier was lost when its worker was "
                              "replaced after a crash or timeout")
        return entry[1]

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
        return ProtocolError("the worker sent a malformed error report")
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
        return f"the worker stopped responding during {during}"
    if code == KEEPER_SETUP_FAILED:
        return f"the sandbox could not be set up for {during}"
    if code > SIGNAL_BASE:
        sig = code - SIGNAL_BASE
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if name == "SIGXCPU":
            return f"the worker used up its CPU-time limit during {during}"
        if name == "SIGKILL":
            return f"the worker was killed (SIGKILL: out of memory or CPU time) during {during}"
        return f"the worker crashed with {name} during {during}"
    return f"the worker exited with status {code} during {during}"


def _validated_figure(figure: Any) -> dict | None:
    if type(figure) is not dict:
        return None
    out = {k: figure.get(k) for k in ("is_figure", "axes", "points", "filled_regions", "lines", "images", "type")}
    png = figure.get("png")
    if isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n"):
        out["png"] = png
    return out

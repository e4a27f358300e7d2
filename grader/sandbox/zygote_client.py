"""The trusted side's handle on the warm zygote, and the words for protections that are off.

One zygote per grading process (per set of preloaded modules) forks every
worker, or one per local batch that the pool processes attach to over a
private Unix socket; see zygote.py for the other end of the control socket.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from grader.config.locations import code_root, hidden_paths
from grader.sandbox import cleanup
from grader.sandbox.config import Limits

# Where the zygote starts (its sys.path[0]): the folder holding the grader package, a checkout or site-packages.
REPO_ROOT = code_root()


# ---------------------------------------------------------------- protections

# What each protection does, in the words the grader prints when it is off.
PROTECTIONS = {
    "landlock": "file and TCP restrictions (Landlock): student code can read and write any file "
                "your user can, and open TCP connections",
    "seccomp": "the system-call filter (seccomp): student code can create sockets and use ptrace",
    "uid": "a separate unprivileged user for each student's code: process-count limits and signal "
           "isolation are weaker",
    "namespaces": "PID and network namespaces: processes student code starts are killed with its cgroup "
                  "where there is one, otherwise only with the process group it runs in",
    "disk": "a private, size-limited tmpfs per worker: student code can fill the grader's temporary folder "
            "(each file is still capped), and its files are removed by a background process afterwards",
}
# Switches that are not protections of their own: the cgroup per worker backs up the PID namespace.
SWITCHES = (*PROTECTIONS, "cgroup")


def protections_off(applied: list[str]) -> list[str]:
    """Sentences naming every protection a worker did not get (empty when all are on)."""
    have = {"landlock": any(a.startswith("landlock") for a in applied), "seccomp": "seccomp" in applied,
            "uid": "unprivileged_uid" in applied, "namespaces": "pid_namespace" in applied,
            "disk": "private_tmpfs" in applied}
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

    def __init__(self, preload: tuple[str, ...] = (), disable: tuple[str, ...] | None = None, *,
                 address: str | None = None, listen: bool = False) -> None:
        """`address`: attach to the zygote listening there (another process's, with the same preloads)
        instead of starting one, falling back to starting one if it cannot be reached. `listen`: let
        other processes attach to this one (see `address` after `start`)."""
        self.preload = tuple(preload)
        self.address = address
        self._listen = listen
        self._socket_dir = ""
        self._attached = False
        # GRADER_SANDBOX_DISABLE=landlock,seccomp,uid,namespaces,disk,cgroup turns
        # protections off (for machines where one misbehaves, and to test the fallbacks).
        if disable is None:
            disable = tuple(d for d in os.environ.get("GRADER_SANDBOX_DISABLE", "").split(",") if d)
        unknown = set(disable) - set(SWITCHES)
        if unknown:
            raise ValueError(f"unknown protection(s) to disable: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(SWITCHES)}")
        self.disable = tuple(disable)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._buffer = b""
        self._exited: dict[int, int] = {}
        self.protections: dict = {}
        self.pid: int | None = None  # the zygote process's, once it said it is ready
        self._ready = False
        self.base_dir = ""
        self.cgroup: Path | None = None  # the cgroup under which this zygote's workers get theirs

    def start(self, *, wait: bool = True) -> None:
        """Start the zygote if it is not running; with wait=False return while it is still importing.

        Starting early lets the zygote's imports (NumPy, matplotlib: most of
        a second) run on another core while the grader itself starts up;
        the first spawn waits for whatever is left.
        """
        with self._lock:
            if not self.alive():
                self._launch()
            if wait:
                self._await_ready()

    def _launch(self) -> None:
        if self.address is not None and not self._listen:
            try:
                self._attach()
                return
            except OSError:
                self.address = None  # that zygote is gone: start our own
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
        exclude = [*map(str, hidden_paths()), self.base_dir]
        if self.cgroup is not None:  # left by a zygote of ours that died
            from grader.sandbox.protections import remove_cgroup
            remove_cgroup(self.cgroup)
        self.cgroup = _make_zygote_cgroup() if "cgroup" not in self.disable else None
        config = {"preload": list(self.preload), "base_dir": self.base_dir, "exclude": exclude,
                  "disable": list(self.disable), "cgroup": str(self.cgroup) if self.cgroup else None}
        if self._listen:
            # A folder of its own, 0700: the socket is for this user's grading processes only.
            self._socket_dir = tempfile.mkdtemp(prefix="grader-zygote-")
            self.address = config["listen"] = os.path.join(self._socket_dir, "zygote.sock")
        self._send(config)
        self._ready = False

    def _has_said_ready(self) -> bool:
        """Whether the zygote has finished starting (its hello may be waiting unread on the socket)."""
        if self._ready:
            return True
        if self._ctrl is None or self._proc is None:
            return False
        try:
            return self._read_message(lambda m: "ready" in m, timeout=0) is not None
        except (OSError, RuntimeError, ValueError):
            return False

    def _attach(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise
        self._ctrl, self._buffer, self._attached, self._ready = sock, b"", True, False

    def _await_ready(self) -> None:
        if self._ready:
            return
        hello = self._read_message(lambda m: "ready" in m, timeout=60)
        if hello is None:
            raise RuntimeError("the sandbox zygote did not start within 60 s")
        self.protections = hello["protections"]
        self.pid = hello["ready"]
        self._ready = True

    def alive(self) -> bool:
        """Whether the zygote process is running (for an attached one: whether it is still connected)."""
        if self._attached:
            return self._ctrl is not None
        return self._proc is not None and self._proc.poll() is None

    def _send(self, message: dict, fds: list[int] = ()) -> None:
        data = (json.dumps(message) + "\n").encode()
        if fds:
            socket.send_fds(self._ctrl, [data], list(fds))
        else:
            self._ctrl.sendall(data)

    def _read_message(self, want: Callable[[dict], bool], timeout: float) -> dict | None:
        """The next message `want` accepts (None after `timeout`); raises RuntimeError when the zygote
        is gone or out of step (either is the grader's failure, never a student's)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                try:
                    message = json.loads(line)
                    if type(message) is not dict:
                        raise ValueError("not a message")
                    if "exited" in message:
                        self._exited[int(message["exited"])] = int(message["code"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise RuntimeError(f"the sandbox zygote sent an unreadable message ({exc})") from None
                if want(message):
                    return message
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._ctrl], [], [], max(remaining, 0.0))  # polls once at least
            if not ready and remaining <= 0:
                return None
            if ready:
                chunk = self._ctrl.recv(65536)
                if not chunk:
                    if self._attached:  # the next spawn starts a zygote of our own
                        self._detach()
                    raise RuntimeError("the sandbox zygote stopped unexpectedly")
                self._buffer += chunk

    def spawn(self, limits: Limits, read_only: tuple[str, ...],
              refused: tuple[str, ...] = ()) -> tuple[int, socket.socket, int]:
        """Fork a confined worker; returns (keeper pid, worker socket, output pipe).

        `read_only`: support folders the worker may read besides the Python
        installation; `refused`: modules whose files the worker may not read.
        """
        with self._lock:
            shared = self._attached or (self.address is not None and not self._listen)
            try:
                return self._spawn(limits, read_only, refused)
            except (OSError, RuntimeError):
                if not shared:
                    raise
                # The shared zygote went away (its batch ended or it died): start our own, once.
                self._detach()
                return self._spawn(limits, read_only, refused)

    def _spawn(self, limits: Limits, read_only: tuple[str, ...],
               refused: tuple[str, ...]) -> tuple[int, socket.socket, int]:
        if not self.alive():
            self._launch()
        self._await_ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        request = {"op": "spawn", "read_only": list(read_only), "refused": sorted(refused), "limits": {
            "memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
            "nproc": limits.nproc, "nofile": limits.nofile, "fsize": limits.fsize,
            "disk_bytes": limits.disk_bytes, "disk_files": limits.disk_files}}
        try:
            self._send(request, [theirs.fileno(), out_w])
        except OSError:
            ours.close()
            os.close(out_r)
            raise
        finally:
            theirs.close()
            os.close(out_w)
        try:
            reply = self._read_message(lambda m: "spawned" in m, timeout=30)
            if reply is None:
                raise RuntimeError("the sandbox zygote did not start a worker within 30 s")
            if type(reply["spawned"]) is not int:
                raise RuntimeError(f"the sandbox zygote could not start a worker: {reply.get('error')}")
        except BaseException:
            ours.close()
            os.close(out_r)
            raise
        return reply["spawned"], ours, out_r

    def _detach(self) -> None:
        """Forget the shared zygote this process was attached to."""
        if self._ctrl is not None:
            self._ctrl.close()
        self._ctrl, self._attached, self.address, self._ready, self._buffer = None, False, None, False, b""

    def kill(self, pid: int) -> None:
        """Stop a keeper's worker and everything the worker started (the keeper then exits)."""
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
        """Stop the zygote and every worker it still has; when this returns, none of them is left."""
        with self._lock:
            started = self._attached or self._has_said_ready()
            if self._ctrl is not None:
                self._ctrl.close()
                self._ctrl = None
            if self._attached:  # the zygote is its owner's to stop
                self._attached = False
                return
            if self._proc is not None:
                try:
                    # One still importing has no worker to clean up and would only
                    # notice the closed socket after its imports: stop it now.
                    self._proc.wait(timeout=5 if started else 0)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
                self._proc = None
            if self.cgroup is not None:
                # Whatever the zygote could not stop (it was killed, a keeper hung) dies here.
                from grader.sandbox.protections import remove_cgroup
                remove_cgroup(self.cgroup)
                self.cgroup = None
            if self.base_dir:
                cleanup.remove_tree(self.base_dir)
            if self._socket_dir:
                cleanup.remove_tree(self._socket_dir)
                self._socket_dir = ""


def _make_zygote_cgroup() -> Path | None:
    """A cgroup v2 folder for one zygote's workers, when this process may make one (else None)."""
    from grader.sandbox.protections import cgroup2_own_dir, make_cgroup
    own = cgroup2_own_dir()
    if own is None:
        return None
    _sweep_stale_cgroups(own)
    try:
        return make_cgroup(own, f"{_CGROUP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
    except OSError:
        return None


_CGROUP_PREFIX = "grader-sandbox-"


def _sweep_stale_cgroups(parent: Path) -> None:
    """Remove empty zygote cgroups whose grading process is gone (it was killed before it could).

    Only ever removes empty folders (rmdir of a populated cgroup fails): it kills nothing.
    """
    for folder in parent.glob(f"{_CGROUP_PREFIX}*"):
        creator = folder.name[len(_CGROUP_PREFIX):].split("-")[0]
        if not creator.isdigit() or Path(f"/proc/{creator}").exists():
            continue
        try:
            if "populated 0" not in (folder / "cgroup.events").read_text():
                continue
            for child in folder.iterdir():
                if child.is_dir():
                    child.rmdir()
            folder.rmdir()
        except OSError:
            continue


_ZYGOTES: dict[tuple[str, ...], Zygote] = {}
_ZYGOTES_LOCK = threading.Lock()


def shared_zygote(preload: tuple[str, ...] = (), *, address: str | None = None) -> Zygote:
    """The process-wide zygote for a set of preloaded modules (started lazily).

    With `address` (first call only), the process attaches to the zygote
    another process started with ``listen=True`` instead of starting its own.
    """
    key = tuple(sorted(preload))
    with _ZYGOTES_LOCK:
        if key not in _ZYGOTES:
            _ZYGOTES[key] = Zygote(key, address=address)
        return _ZYGOTES[key]


def close_shared_zygotes() -> None:
    """Stop every zygote this process started (also run at interpreter exit)."""
    with _ZYGOTES_LOCK:
        for zygote in _ZYGOTES.values():
            zygote.close()
        _ZYGOTES.clear()


atexit.register(close_shared_zygotes)

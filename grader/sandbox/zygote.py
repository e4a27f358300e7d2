"""The zygote: a warm process that forks confined workers in a few milliseconds.

Started once per grading process with ``python -m grader.sandbox.zygote FD``.
It imports NumPy (and the assignment's preloads, e.g. matplotlib) and holds
nothing secret: no reference solution, no checks, no other submission, and no
open file but its control socket and read-only path handles of the Python
installation. A new interpreter plus ``import numpy`` costs ~130 ms; a fork of
this process costs a few.

Process tree for one worker::

    zygote ── keeper (trusted code, waits) ── worker (PID 1 of new PID, network
                                                and mount namespaces; student code)

The zygote runs in a cgroup of its own (where cgroup v2 is writable), which
the trusted side kills as a whole when it closes the zygote. The keeper exists
so that the worker can be PID 1 of its own PID namespace:
when it dies, the kernel kills every process the student started. To stop a
worker the zygote sends its keeper SIGTERM; the keeper SIGKILLs the worker
(its own unreaped child, so the PID cannot have been reused), and where
there is no PID namespace kills the worker's own cgroup; it waits until the
worker is reaped (by then the namespace is empty) and exits with a code that tells the worker's fate. Whatever the
student's code did (cleared its parent-death signal, called setsid, forked,
replaced ``os._exit``) nothing of it survives. A keeper that does not end
within `KEEPER_GRACE` is SIGKILLed with its worker's cgroup; a keeper whose
zygote dies gets SIGTERM as its parent-death signal and stops its worker.

The worker's only writable folder is a size-limited tmpfs mounted in its own
mount namespace: it vanishes with the namespace, so the zygote never walks a
tree the student built (where that tmpfs is not available, a separate
process removes the folder without recursion, see cleanup.py). Nothing a
worker does can raise in the zygote's loop: every request is handled inside
its own try.

Control protocol (JSON lines on the control socket, fds passed with
SCM_RIGHTS): ``{"op": "spawn", ...}`` with the worker's socket and output
pipe attached, answered ``{"spawned": pid}`` (or ``{"spawned": null,
"error": ...}``); ``{"op": "kill", "pid": pid}``; events ``{"exited": pid,
"code": n}`` whenever a keeper ends.

With ``"listen": path`` in its configuration the zygote also accepts
connections on a Unix socket there (0600, in a 0700 folder): each is one
more client speaking the same protocol about its own workers, which is how
the processes of a batch share one zygote that started while they did.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy  # noqa: E402,F401  (the point of the zygote: import once, fork many)
# NumPy 2 imports numpy.random on first use: 12 ms in every worker, as nearly every submission seeds or draws.
# Imported here, its global generator is the zygote's: each worker reseeds it (see `_worker`).
import numpy.random  # noqa: E402

from grader.sandbox import cleanup  # noqa: E402
from grader.sandbox import protections as prot  # noqa: E402
from grader.sandbox.worker import Worker  # noqa: E402  (imported before Landlock hides the repo)

KEEPER_SETUP_FAILED, SIGNAL_BASE = prot.KEEPER_SETUP_FAILED, prot.SIGNAL_BASE


KEEPER_GRACE = 5.0       # seconds a keeper gets to stop its worker before it is SIGKILLed itself
RULE_SETS = 8            # Landlock path sets kept open (one per assignment's refused imports and support folders)


def main(control_fd: int) -> None:
    """Run the zygote until the trusted side closes the control socket."""
    ctrl = socket.socket(fileno=control_fd)
    config = json.loads(_readline(ctrl))
    # Listen before the imports: a client that connects meanwhile waits in the backlog for its hello.
    listener = _listen(config["listen"]) if config.get("listen") else None
    for name in config.get("preload", []):
        __import__(name)
    if "matplotlib" in sys.modules:
        import matplotlib
        matplotlib.use("Agg")
        _warm_matplotlib()
    _raise_fd_limit()
    try:
        prot.set_child_subreaper()  # orphans of a keeper (its file remover) come back here to be reaped
    except OSError:
        pass
    zygote = _Zygote(config)
    if zygote.cgroup is not None:
        try:
            # The zygote lives in a cgroup of its own, and so is every keeper and worker it forks
            # (born there: no costly migration per worker): killing it when the grader closes the
            # zygote leaves nothing behind, whatever happened to a keeper.
            prot.join_cgroup(zygote.cgroup)
        except OSError:
            pass
    # Everything imported and warmed so far is shared with every worker forked from here: frozen, the
    # workers' garbage collections never walk it. A walk writes into each object it visits, so without the
    # freeze a worker's first full collection copied about 1,300 pages of the zygote's memory and took
    # 15-25 ms (0.5 ms frozen), and every later one walked the same objects again. (The lab's student code
    # rarely triggers one; code that builds object graphs, like a research `Value` engine, does.)
    gc.freeze()
    hello = (json.dumps({"ready": os.getpid(), "protections": zygote.capabilities}) + "\n").encode()
    try:
        ctrl.sendall(hello)
    except OSError:
        return  # the trusted side went away while this zygote was starting: nothing to serve
    zygote.serve(ctrl, listener, hello)


class _Zygote:
    """The zygote's state: its clients, its keepers, the Landlock path sets it keeps open."""

    def __init__(self, config: dict) -> None:
        self.base = Path(config["base_dir"])
        self.exclude = [Path(p) for p in config.get("exclude", [])]
        self.cgroup = Path(config["cgroup"]) if config.get("cgroup") else None
        self.capabilities = _probe(set(config.get("disable", [])), self.cgroup)
        self.rule_sets: dict[tuple, list[tuple[int, bool, bool]]] = {}
        self.rule_sets[((), ())] = self._open_rules((), ())  # the common case, ready before the first worker
        # Every connection is a client with its own workers; the first (ctrl) is
        # the owner, whose end of the socket closing stops the zygote.
        self.clients: dict[socket.socket, bytes] = {}
        self.fds: dict[socket.socket, list[int]] = {}               # descriptors received, not yet used
        self.children: dict[int, tuple[str, socket.socket]] = {}   # keeper pid -> (tmp, client)
        self.stopping: dict[int, float] = {}                       # keeper pid -> when to SIGKILL it

    def serve(self, ctrl: socket.socket, listener: socket.socket | None, hello: bytes) -> None:
        """The event loop: spawn and stop keepers for the clients, report every keeper's end."""
        self.clients[ctrl] = b""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.wake = (wake_r, wake_w)
        self.listener = listener
        while ctrl in self.clients:
            watched = [wake_r, *self.clients] + ([listener] if listener is not None else [])
            timeout = max(0.0, min(self.stopping.values()) - time.monotonic()) if self.stopping else None
            ready, _, _ = select.select(watched, [], [], timeout)
            try:
                self._step(ready, hello)
            except Exception as exc:  # nothing that happens to one worker or client may end the zygote
                _log(f"zygote: {exc!r}")
        self._stop_all()

    def _step(self, ready: list, hello: bytes) -> None:
        self._escalate()
        if self.wake[0] in ready:
            os.read(self.wake[0], 4096)
        self._reap()  # also on every other wake-up: a SIGCHLD can be coalesced with others
        if self.listener is not None and self.listener in ready:
            try:
                conn, _ = self.listener.accept()
                conn.sendall(hello)
                self.clients[conn] = b""
            except OSError:
                pass
        for conn in [c for c in ready if c in self.clients]:
            self._serve_client(conn)

    def _serve_client(self, conn: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
        except InterruptedError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            for fd in fds:
                os.close(fd)
            self._drop_client(conn)
            return
        # Descriptors queue up per client; each spawn request takes the next two.
        self.fds.setdefault(conn, []).extend(fds)
        self.clients[conn] += data
        while b"\n" in self.clients.get(conn, b""):
            line, self.clients[conn] = self.clients[conn].split(b"\n", 1)
            try:
                request = json.loads(line)
                if request["op"] == "spawn":
                    queue = self.fds[conn]
                    taken, queue[:] = queue[:2], queue[2:]
                    try:
                        self._spawn(conn, request, taken)
                    finally:
                        for fd in taken:  # the keeper has its own copies now
                            os.close(fd)
                elif request["op"] == "kill" and self.children.get(request["pid"], (None, None))[1] is conn:
                    self._stop_keeper(request["pid"])
            except Exception as exc:  # a bad request costs that request, never the zygote
                _log(f"zygote: request failed: {exc!r}")
                if b'"spawn"' in line:
                    _send(conn, {"spawned": None, "error": f"{type(exc).__name__}: {exc}"[:500]})

    def _spawn(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        if len(fds) != 2:
            raise ValueError("a spawn request carries the worker's socket and output pipe")
        rules = self._rules(tuple(request.get("read_only", [])), tuple(request.get("refused", [])))
        tmp = tempfile.mkdtemp(prefix="w", dir=self.base)
        # SIGTERM is how a keeper is told to stop its worker: blocked from birth,
        # so it is never lost and never kills a keeper with a worker to take down.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            os.rmdir(tmp)
            raise
        if pid == 0:  # the keeper keeps both signals blocked: it waits for them with sigwait
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(self.wake[0])
            os.close(self.wake[1])
            _keeper([*self.clients] + ([self.listener] if self.listener is not None else []), fds, tmp, request,
                    rules, self.capabilities, self.cgroup)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.children[pid] = (tmp, conn)
        _send(conn, {"spawned": pid})

    def _rules(self, support: tuple[str, ...], refused: tuple[str, ...]) -> list[tuple[int, bool, bool]]:
        key = (support, refused)
        if key not in self.rule_sets:
            if len(self.rule_sets) >= RULE_SETS:
                oldest = next(iter(self.rule_sets))
                for fd, _, _ in self.rule_sets.pop(oldest):
                    os.close(fd)
            self.rule_sets[key] = self._open_rules(support, refused)
        return self.rule_sets[key]

    def _open_rules(self, support: tuple[str, ...], refused: tuple[str, ...]) -> list[tuple[int, bool, bool]]:
        extra = [Path(p) for p in support]
        hidden = prot.refused_paths(list(refused), extra) if refused else []
        return _open_paths(prot.python_read_paths(self.exclude, hidden, extra))

    def _stop_keeper(self, pid: int) -> None:
        """Ask a keeper to kill its worker (and everything in the worker's namespace and cgroup)."""
        if pid in self.children and pid not in self.stopping:
            self.stopping[pid] = time.monotonic() + KEEPER_GRACE
            _signal(pid, signal.SIGTERM)

    def _escalate(self) -> None:
        """SIGKILL keepers that did not end within their grace period (their cgroup goes too)."""
        now = time.monotonic()
        for pid, deadline in list(self.stopping.items()):
            if deadline <= now:
                del self.stopping[pid]
                if pid in self.children:
                    _signal(pid, signal.SIGKILL)
                    if self.cgroup is not None:
                        prot.kill_cgroup(self.cgroup / f"w{pid}")

    def _drop_client(self, conn: socket.socket) -> None:
        """A client went away: stop the workers it started (the owner leaving ends the main loop)."""
        self.clients.pop(conn, None)
        for fd in self.fds.pop(conn, []):
            os.close(fd)
        for pid, (_, owner) in list(self.children.items()):
            if owner is conn:
                self._stop_keeper(pid)
        conn.close()

    def _reap(self) -> None:
        """Collect every ended child: keepers (report them, remove their folder) and adopted orphans."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.stopping.pop(pid, None)
            entry = self.children.pop(pid, None)
            if entry is None:
                continue  # a background remover or an orphan this subreaper adopted
            tmp, conn = entry
            _discard_folder(tmp)
            _send(conn, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})

    def _stop_all(self) -> None:
        """Stop every keeper and wait (bounded) until they, and so their workers, are gone."""
        for pid in list(self.children):
            self._stop_keeper(pid)
        deadline = time.monotonic() + KEEPER_GRACE
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.005)
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)
        self._reap()  # (the trusted side then kills this zygote's cgroup: whatever is left in it)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _discard_folder(tmp: str) -> None:
    """Remove a worker's folder: empty when its files were on its own tmpfs; otherwise in the background."""
    try:
        os.rmdir(tmp)
    except FileNotFoundError:
        pass
    except OSError:
        cleanup.remove_tree_in_background(tmp)


def _log(text: str) -> None:
    try:
        os.write(2, (text[:2000] + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _raise_fd_limit() -> None:
    """Let the zygote hold the Landlock path sets open (a few hundred descriptors each)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 16384 if hard == resource.RLIM_INFINITY else min(hard, 16384)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def _listen(path: str) -> socket.socket:
    """A Unix socket at `path` (in a folder only the grader's user can use) for more grading processes."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket file is 0600: a worker's uid cannot connect, even past the folder
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(64)
    return listener


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass  # that client has gone; its workers are being killed


def _warm_matplotlib() -> None:
    """Draw and render one throwaway figure, so that every forked worker starts with matplotlib warm.

    The first figure a process draws loads the font list, opens and lays out
    fonts, imports the contour and image modules and the PNG encoder: about
    0.1 s that every student's plot would otherwise pay again. The figure
    shows made-up points only (the zygote holds nothing secret) and is closed.
    """
    import io

    import matplotlib.pyplot as plt

    grid = numpy.linspace(-1.0, 1.0, 20)
    xx, yy = numpy.meshgrid(grid, grid)
    fig, ax = plt.subplots()
    ax.contourf(xx, yy, xx * yy, alpha=0.5)
    ax.scatter(grid, grid, c=grid, s=5, edgecolors="k")
    ax.plot(grid, grid)
    ax.set_title("warm-up")
    ax.set_xlabel("x1")
    ax.legend(["line"])
    fig.savefig(io.BytesIO(), format="png", dpi=72)
    plt.close("all")


def _readline(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data


def _open_paths(paths: list[tuple[str, bool, bool]]) -> list[tuple[int, bool, bool]]:
    """Open O_PATH handles once, so each worker's Landlock setup is cheap."""
    out = []
    for path, is_dir, list_only in paths:
        try:
            out.append((os.open(path, os.O_PATH | os.O_CLOEXEC), is_dir, list_only))
        except OSError:
            continue
    return out


def _probe(disable: set[str], cgroup: Path | None) -> dict:
    """Which protections this machine and user can have, minus the disabled ones."""
    return {
        "landlock_abi": 0 if "landlock" in disable else prot.landlock_abi(),
        "seccomp": "seccomp" not in disable and prot.seccomp_available(),
        "root": "uid" not in disable and os.geteuid() == 0,
        "namespaces": "namespaces" not in disable and prot.LINUX,
        "disk": "disk" not in disable and prot.LINUX,
        "cgroup": "cgroup" not in disable and cgroup is not None,
        "user_namespaces": prot.user_namespaces_available(),
    }


# ---------------------------------------------------------------- keeper

def _keeper(sockets: list[socket.socket], fds: list[int], tmp: str, request: dict,
            rules: list[tuple[int, bool, bool]], capabilities: dict, cgroup_base: Path | None) -> None:
    """The keeper: make namespaces and the private tmpfs, fork the worker, stop it when told, report its end.

    It arrives with SIGTERM and SIGCHLD blocked and waits for them with
    sigwait: SIGTERM (from the zygote, or as the parent-death signal when the
    zygote dies) makes it SIGKILL the worker, which is PID 1 of its own
    namespace, so the kernel kills every process the student started, and
    kill the worker's cgroup, which catches them even without namespaces.
    It exits only after the worker is reaped: by then the namespace is empty.
    """
    code = KEEPER_SETUP_FAILED
    try:
        sock_fd, out_fd = fds
        zygote = os.getppid()
        try:
            prot.set_parent_death_signal(signal.SIGTERM)
        except OSError:
            pass  # not Linux: the zygote stops its keepers itself when it stops
        if os.getppid() != zygote:
            os._exit(KEEPER_SETUP_FAILED)
        for sock in sockets:  # the zygote's connections and listener are not the worker's business
            sock.close()
        os.setsid()
        uid = 100000 + os.getpid() if capabilities["root"] else None
        applied, private_tmp = _namespaces(capabilities, tmp, request["limits"], uid)
        if not private_tmp:
            if uid is not None:
                os.chown(tmp, uid, uid)
            os.chmod(tmp, 0o700)
        cgroup = None
        if capabilities["cgroup"] and "pid_namespace" not in applied:
            # Without a PID namespace, a cgroup of its own is what lets the keeper kill everything
            # the worker starts. (With one it is not needed, and moving a process into a cgroup
            # costs ~15 ms here; the zygote's own cgroup still catches everything at the end.)
            try:
                cgroup = prot.make_cgroup(cgroup_base, f"w{os.getpid()}")
            except OSError:
                cgroup = None
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGCHLD})
            _worker(sock_fd, out_fd, tmp, request, rules, capabilities, applied, uid, cgroup)
        os.close(sock_fd)
        os.close(out_fd)
        status = _wait_for_worker(pid, cgroup)
        if cgroup is not None:
            prot.remove_cgroup(cgroup)  # leftovers outside a PID namespace die here
        if os.WIFSIGNALED(status):
            code = SIGNAL_BASE + os.WTERMSIG(status)
        else:
            code = min(os.WEXITSTATUS(status), 124)
        if not private_tmp:
            cleanup.remove_tree_in_background(tmp)
    finally:
        os._exit(code)


def _wait_for_worker(pid: int, cgroup: Path | None) -> int:
    """Wait for the worker; on SIGTERM kill it (and its cgroup). Returns its wait status."""
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except InterruptedError:
            continue
        if got == pid:
            return status
        # Both signals are blocked: one that arrived since the waitpid is pending, so this returns at once.
        if signal.sigwait({signal.SIGTERM, signal.SIGCHLD}) == signal.SIGTERM:
            try:
                os.kill(pid, signal.SIGKILL)  # our own unreaped child: its pid cannot have been reused
            except ProcessLookupError:
                pass
            if cgroup is not None:
                prot.kill_cgroup(cgroup)


def _namespaces(capabilities: dict, tmp: str, limits: dict, uid: int | None) -> tuple[list[str], bool]:
    """New PID, network and mount namespaces (with a user namespace when not root) and the private tmpfs.

    Returns (what was applied, whether `tmp` is now the worker's own tmpfs).
    """
    pid_net = prot.CLONE_NEWPID | prot.CLONE_NEWNET if capabilities["namespaces"] else 0
    mount = prot.CLONE_NEWNS if capabilities["disk"] else 0
    if not prot.LINUX or not (pid_net | mount):
        return [], False
    own_uid, own_gid = os.getuid(), os.getgid()
    for flags in (pid_net | mount, pid_net):  # without a mount namespace, still the others
        if not flags:
            continue
        try:
            if os.geteuid() == 0:
                prot.unshare(flags)
            elif capabilities["user_namespaces"]:
                prot.unshare(flags | prot.CLONE_NEWUSER)
                prot.write_id_maps(own_uid, own_gid)
            else:
                return [], False
        except OSError:
            continue
        applied = ["pid_namespace", "network_namespace"] if pid_net else []
        if not flags & prot.CLONE_NEWNS:
            return applied, False
        try:
            owner = uid if uid is not None else own_uid
            prot.private_tmpfs(tmp, size_bytes=int(limits["disk_bytes"]), inodes=int(limits["disk_files"]) + 1,
                               uid=owner, gid=owner if uid is not None else own_gid)
            return applied + ["private_tmpfs"], True
        except OSError:
            return applied, False
    return [], False


def _worker(sock_fd: int, out_fd: int, tmp: str, request: dict, rules: list[tuple[int, bool, bool]],
            capabilities: dict, applied: list[str], uid: int | None, cgroup: Path | None) -> None:
    """Confine this process, then serve the trusted side (never returns)."""
    code = 0
    try:
        # A fork copies the zygote's global NumPy generator: reseeded from the OS's entropy, unseeded draws differ
        # from worker to worker, as when each imported numpy.random itself.
        numpy.random.seed()
        if cgroup is not None:
            try:
                prot.join_cgroup(cgroup)  # first: whatever it starts is born in the cgroup
                applied.append("cgroup")
            except OSError:
                pass
        limits = request["limits"]
        tmp_fd = os.open(tmp, os.O_PATH | os.O_CLOEXEC)  # after the mount: the tmpfs, not the folder under it
        null_fd = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
        rule_fds = {fd for fd, _, _ in rules} | {tmp_fd, null_fd}
        _close_fds_except({0, 1, 2, sock_fd, out_fd} | rule_fds)
        prot.set_limits(memory_bytes=limits["memory_bytes"], cpu_seconds=limits["cpu_seconds"],
                        nproc=limits["nproc"], nofile=limits["nofile"], fsize=limits["fsize"])
        if uid is not None:
            prot.drop_root(uid)
            applied.append("unprivileged_uid")
        try:
            prot.set_parent_death_signal(signal.SIGKILL)
        except OSError:
            pass  # not Linux: killing the keeper's process group stops the worker instead
        if capabilities["landlock_abi"] >= 1:
            read_only = [(fd, is_dir) for fd, is_dir, list_only in rules if not list_only]
            prot.landlock_restrict(capabilities["landlock_abi"], read_only + [(null_fd, False)],
                                   [(tmp_fd, True), (null_fd, False)],
                                   [fd for fd, _, list_only in rules if list_only])
            applied.append(f"landlock_abi_{capabilities['landlock_abi']}")
        elif prot.LINUX:
            prot.no_new_privs()
        if capabilities["seccomp"]:
            prot.install_seccomp()
            applied.append("seccomp")
        _close_fds_except({0, 1, 2, sock_fd, out_fd})
        _redirect_output(out_fd)
        _environment(tmp, request.get("read_only", []))
        worker = Worker(socket.socket(fileno=sock_fd))
        worker.send({"ok": True, "value": {"applied": applied}})
        worker.serve()
    except BaseException as exc:  # the worker must never fall back into the zygote's loop
        try:
            os.write(2, f"worker setup failed: {exc!r}\n".encode())
        except OSError:
            pass
        code = KEEPER_SETUP_FAILED
    finally:
        os._exit(code)


def _close_fds_except(keep: set[int]) -> None:
    """Close every inherited descriptor the worker does not need (close_range between the kept ones)."""
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 2**31 - 1)


def _redirect_output(out_fd: int) -> None:
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)


def _environment(tmp: str, support_dirs: list[str]) -> None:
    os.chdir(tmp)
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "OPENBLAS_NUM_THREADS") if k in os.environ}
    os.environ.clear()
    os.environ.update(keep)
    os.environ.update({"HOME": tmp, "TMPDIR": tmp, "MPLCONFIGDIR": tmp, "MPLBACKEND": "Agg"})
    tempfile.tempdir = tmp
    # Only the Python installation and the support modules are importable: the
    # grader's own folders (the current directory, the repository) are not.
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    sys.path[:] = [p for p in sys.path if p and p.startswith(prefixes)] + list(support_dirs)


if __name__ == "__main__":
    main(int(sys.argv[1]))

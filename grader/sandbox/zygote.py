"""The zygote: a warm process that forks confined workers in a few milliseconds.

Started once per grading process with ``python -m grader.sandbox.zygote FD``.
It imports NumPy (and the assignment's preloads, e.g. matplotlib) and holds
nothing secret: no reference solution, no checks, no other submission, and no
open file but its control socket and read-only path handles of the Python
installation. A new interpreter plus ``import numpy`` costs ~130 ms; a fork of
this process costs a few.

Process tree for one worker::

    zygote ── keeper (trusted code, waits) ── worker (PID 1 of a new PID and
                                                network namespace, student code)

The keeper exists so that the worker can be PID 1 of its own PID namespace:
when it dies, the kernel kills every process the student started. The keeper
reports the worker's fate through its own exit code, and killing the keeper
kills the worker (parent-death signal), so the trusted side never signals a
PID it does not own.

Control protocol (JSON lines on the control socket, fds passed with
SCM_RIGHTS): ``{"op": "spawn", ...}`` with the worker's socket and output
pipe attached, answered ``{"spawned": pid}``; ``{"op": "kill", "pid": pid}``;
events ``{"exited": pid, "code": n}`` whenever a keeper ends.

With ``"listen": path`` in its configuration the zygote also accepts
connections on a Unix socket there (0600, in a 0700 folder): each is one
more client speaking the same protocol about its own workers, which is how
the processes of a batch share one zygote that started while they did.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy  # noqa: E402,F401  (the point of the zygote: import once, fork many)

from grader.sandbox import protections as prot  # noqa: E402
from grader.sandbox.worker import Worker  # noqa: E402  (imported before Landlock hides the repo)

KEEPER_SETUP_FAILED, SIGNAL_BASE = prot.KEEPER_SETUP_FAILED, prot.SIGNAL_BASE


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
    base = Path(config["base_dir"])
    read_only = _open_paths(prot.python_read_paths([Path(p) for p in config.get("exclude", [])]))
    capabilities = _probe(set(config.get("disable", [])))
    hello = (json.dumps({"ready": os.getpid(), "protections": capabilities}) + "\n").encode()
    try:
        ctrl.sendall(hello)
    except OSError:
        return  # the trusted side went away while this zygote was starting: nothing to serve

    # Every connection is a client with its own workers; the first (ctrl) is
    # the owner, whose end of the socket closing stops the zygote.
    clients: dict[socket.socket, bytes] = {ctrl: b""}
    children: dict[int, tuple[str, socket.socket]] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while ctrl in clients:
        watched = [wake_r, *clients] + ([listener] if listener is not None else [])
        ready, _, _ = select.select(watched, [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(children)
        if listener is not None and listener in ready:
            try:
                conn, _ = listener.accept()
                conn.sendall(hello)
                clients[conn] = b""
            except OSError:
                pass
        for conn in [c for c in ready if c in clients]:
            try:
                data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            except InterruptedError:
                continue
            except OSError:
                data, fds = b"", []
            if not data:
                _drop_client(conn, clients, children)
                continue
            clients[conn] += data
            while b"\n" in clients[conn]:
                line, clients[conn] = clients[conn].split(b"\n", 1)
                request = json.loads(line)
                if request["op"] == "spawn":
                    tmp = tempfile.mkdtemp(prefix="w", dir=base)
                    pid = os.fork()
                    if pid == 0:
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        os.close(wake_r)
                        os.close(wake_w)
                        _keeper([*clients] + ([listener] if listener is not None else []), fds, tmp, request,
                                read_only, capabilities)
                    for fd in fds:
                        os.close(fd)
                    fds = []
                    children[pid] = (tmp, conn)
                    _send(conn, {"spawned": pid})
                elif request["op"] == "kill" and children.get(request["pid"], (None, None))[1] is conn:
                    _kill_keeper(request["pid"])
    for pid in children:
        _kill_keeper(pid)


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


def _drop_client(conn: socket.socket, clients: dict, children: dict) -> None:
    """A client went away: kill the workers it started (the owner leaving ends the main loop)."""
    clients.pop(conn, None)
    for pid, (_, owner) in list(children.items()):
        if owner is conn:
            _kill_keeper(pid)
    conn.close()


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


def _kill_keeper(pid: int) -> None:
    """Kill a keeper and its process group (the worker dies with it: parent-death
    signal and PID namespace on Linux, the shared process group elsewhere)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _readline(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data


def _reap(children: dict[int, tuple[str, socket.socket]]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        entry = children.pop(pid, None)
        if entry is None:
            continue
        tmp, conn = entry
        shutil.rmtree(tmp, ignore_errors=True)
        _send(conn, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _open_paths(paths: list[tuple[str, bool]]) -> list[tuple[int, bool]]:
    """Open O_PATH handles once, so each worker's Landlock setup is cheap."""
    out = []
    for path, is_dir in paths:
        try:
            out.append((os.open(path, os.O_PATH | os.O_CLOEXEC), is_dir))
        except OSError:
            continue
    return out


def _probe(disable: set[str]) -> dict:
    """Which protections this machine and user can have, minus the disabled ones."""
    return {
        "landlock_abi": 0 if "landlock" in disable else prot.landlock_abi(),
        "seccomp": "seccomp" not in disable and prot.seccomp_available(),
        "root": "uid" not in disable and os.geteuid() == 0,
        "namespaces": "namespaces" not in disable and prot.LINUX,
        "user_namespaces": prot.user_namespaces_available(),
    }


# ---------------------------------------------------------------- keeper

def _keeper(sockets: list[socket.socket], fds: list[int], tmp: str, request: dict,
            read_only: list[tuple[int, bool]], capabilities: dict) -> None:
    """The keeper: make namespaces, fork the worker, report how it ended."""
    code = KEEPER_SETUP_FAILED
    try:
        sock_fd, out_fd = fds
        zygote = os.getppid()
        try:
            prot.set_parent_death_signal(signal.SIGKILL)
        except OSError:
            pass  # not Linux: the zygote kills its keepers itself when it stops
        if os.getppid() != zygote:
            os._exit(KEEPER_SETUP_FAILED)
        for sock in sockets:  # the zygote's connections and listener are not the worker's business
            sock.close()
        os.setsid()
        applied = _namespaces(capabilities)
        uid = 100000 + os.getpid() if capabilities["root"] else None
        if uid is not None:
            os.chown(tmp, uid, uid)
        os.chmod(tmp, 0o700)
        pid = os.fork()
        if pid == 0:
            _worker(sock_fd, out_fd, tmp, request, read_only, capabilities, applied, uid)
        os.close(sock_fd)
        os.close(out_fd)
        for fd, _ in read_only:
            os.close(fd)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        if os.WIFSIGNALED(status):
            code = SIGNAL_BASE + os.WTERMSIG(status)
        else:
            code = min(os.WEXITSTATUS(status), 124)
    finally:
        os._exit(code)


def _namespaces(capabilities: dict) -> list[str]:
    """New PID and network namespaces (with a user namespace when not root)."""
    flags = prot.CLONE_NEWPID | prot.CLONE_NEWNET
    if not capabilities["namespaces"] or not prot.LINUX:
        return []
    try:
        if os.geteuid() == 0:
            prot.unshare(flags)
        elif capabilities["user_namespaces"]:
            uid, gid = os.getuid(), os.getgid()
            prot.unshare(flags | prot.CLONE_NEWUSER)
            prot.write_id_maps(uid, gid)
        else:
            return []
        return ["pid_namespace", "network_namespace"]
    except OSError:
        return []


def _worker(sock_fd: int, out_fd: int, tmp: str, request: dict, read_only: list[tuple[int, bool]],
            capabilities: dict, applied: list[str], uid: int | None) -> None:
    """Confine this process, then serve the trusted side (never returns)."""
    code = 0
    try:
        limits = request["limits"]
        prot.set_limits(memory_bytes=limits["memory_bytes"], cpu_seconds=limits["cpu_seconds"],
                        nproc=limits["nproc"], nofile=limits["nofile"], fsize=limits["fsize"])
        extra = [(os.open(p, os.O_PATH | os.O_CLOEXEC), os.path.isdir(p)) for p in request.get("read_only", [])]
        tmp_fd = os.open(tmp, os.O_PATH | os.O_CLOEXEC)
        null_fd = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
        rule_fds = {fd for fd, _ in read_only + extra} | {tmp_fd, null_fd}
        _close_fds_except({0, 1, 2, sock_fd, out_fd} | rule_fds)
        if uid is not None:
            prot.drop_root(uid)
            applied.append("unprivileged_uid")
        try:
            prot.set_parent_death_signal(signal.SIGKILL)
        except OSError:
            pass  # not Linux: killing the keeper's process group stops the worker instead
        if capabilities["landlock_abi"] >= 1:
            prot.landlock_restrict(capabilities["landlock_abi"], read_only + extra + [(null_fd, False)],
                                   [(tmp_fd, True), (null_fd, False)])
            applied.append(f"landlock_abi_{capabilities['landlock_abi']}")
        elif prot.LINUX:
            prot.no_new_privs()
        if capabilities["seccomp"]:
            prot.install_seccomp()
            applied.append("seccomp")
        for fd in rule_fds:
            os.close(fd)
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
    """Close every inherited descriptor the worker does not need."""
    folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    for name in os.listdir(folder):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


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

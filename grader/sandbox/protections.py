"""Kernel protections a worker applies to itself before it loads student code.

Everything here is Linux-specific and done with `ctypes` system calls, so the
grader needs no compiled extension: Landlock (files, TCP, signals, abstract
sockets), a seccomp filter (no new sockets, no ptrace, no namespaces, no
``open_by_handle_at``...), rlimits, new PID, network and mount namespaces, a
size-limited private tmpfs, a cgroup per worker (killed as a whole), and
dropping root to a per-worker uid. Each function raises `OSError` when the
kernel refuses, and the caller records which protections are off.

Measurements behind these choices: shared/research/SANDBOX.md.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct
import sys
import sysconfig
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
LINUX = sys.platform.startswith("linux")
if LINUX:
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

X86_64 = platform.machine() == "x86_64"

# Syscall numbers (x86_64 and aarch64 share the Landlock ones).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
SYS_CAPSET = 126 if X86_64 else 91

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 1 << 14, 1 << 18

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWCGROUP = 0x02000000
_ALL_NEW_NS = (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
               | CLONE_NEWUTS | CLONE_NEWCGROUP)

CAP_DAC_READ_SEARCH = 2

# Exit codes a keeper uses to report its worker's fate: 0-124 the worker's own
# exit status, 125 the sandbox could not be set up, 128 + n killed by signal n.
KEEPER_SETUP_FAILED = 125
SIGNAL_BASE = 128


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


# ---------------------------------------------------------------- Landlock

class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_MAKE_CHAR, FS_MAKE_BLOCK, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 6, 1 << 11, 1 << 14, 1 << 15


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    if not LINUX:
        return 0
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


def _handled_fs(abi: int) -> int:
    fs = (1 << 13) - 1
    if abi >= 2:
        fs |= 1 << 13          # REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    return fs


def landlock_restrict(abi: int, read_only: list[tuple[int, bool]], read_write: list[tuple[int, bool]],
                      list_only: list[int] = ()) -> None:
    """Restrict this thread to the given paths, no TCP, and (ABI 6+) no signals out.

    `read_only` and `read_write` are lists of (O_PATH fd, is_dir); `list_only`
    are folders whose entries may be listed (and whose subfolders too) but
    whose files may be read only where `read_only` allows it: how a folder
    is opened up except for some of its entries (a refused package), since
    a Landlock rule can grant but never carve an exception out of a grant.
    Everything not listed is denied: reading, writing, executing, making
    device nodes. The worker is single-threaded when it calls this
    (Landlock restricts only the calling thread and the threads it starts later).
    """
    fs = _handled_fs(abi)
    attr = _RulesetAttr(fs, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                                   ctypes.c_size_t(size), ctypes.c_uint32(0)))
    try:
        ro_dir, ro_file = FS_READ_FILE | FS_READ_DIR, FS_READ_FILE
        rw_dir = fs & ~(FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK | FS_IOCTL_DEV)
        rw_file = FS_READ_FILE | FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)
        rules = [(fd, FS_READ_DIR) for fd in list_only]
        for paths, dir_access, file_access in ((read_only, ro_dir, ro_file), (read_write, rw_dir, rw_file)):
            rules += [(fd, dir_access if is_dir else file_access) for fd, is_dir in paths]
        rule = _PathBeneath(0, -1)
        add_rule, pointer, zero = _libc.syscall, ctypes.byref(rule), ctypes.c_uint32(0)
        for fd, access in rules:  # a few hundred rules: keep the loop lean
            rule.allowed, rule.fd = access, fd
            if add_rule(SYS_LANDLOCK_ADD_RULE, ruleset, 1, pointer, zero) < 0:
                _check(-1)
        no_new_privs()
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)))
    finally:
        os.close(ruleset)


def no_new_privs() -> None:
    """Forbid gaining privileges through exec (needed by Landlock and seccomp)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


# ---------------------------------------------------------------- paths

def python_read_paths(exclude: list[Path], refused: list[Path] = (),
                      extra: list[Path] = ()) -> list[tuple[str, bool, bool]]:
    """The paths a worker may read, as (path, is_dir, list_only): the Python installation,
    shared libraries and the `extra` (support) folders.

    `exclude` (the grader's repository, its scratch folder) and `refused`
    (the folders and files of refused packages) stay unreadable: a folder
    that contains one is granted for listing only (``list_only``) and
    opened up entry by entry, leaving those entries out. The support folders
    may lie inside the repository, so only `refused` applies to them.
    """
    paths = sysconfig.get_paths()
    roots = {Path(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(key)}
    for entry in sys.path:
        p = Path(entry) if entry else None
        if p and p.is_dir() and any(_is_within(p, r) for r in list(roots)):
            roots.add(p)
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        roots.add(Path(prefix) / "lib")
    system = ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
              "/usr/share/zoneinfo", "/usr/share/fonts", "/etc/localtime"]
    hidden = [e.resolve() for e in [*exclude, *refused]]
    refused_only = [e.resolve() for e in refused]
    out: dict[str, tuple[bool, bool]] = {}
    for root in sorted(roots) + [Path(s) for s in system]:
        if root.exists():
            _add_tree(root.resolve(), hidden, out)
    for root in extra:
        if Path(root).exists():
            _add_tree(Path(root).resolve(), refused_only, out)
    return sorted((path, is_dir, list_only) for path, (is_dir, list_only) in out.items())


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _under(path: str, root: str) -> bool:
    """`path` is `root` or inside it (both resolved)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def _add_tree(path: Path, excluded: list[Path], out: dict[str, tuple[bool, bool]]) -> None:
    here = str(path)
    hidden = [str(e) for e in excluded]
    if any(_under(here, e) for e in hidden):
        return
    if any(_under(e, here) for e in hidden) and path.is_dir():
        if here not in out:
            out[here] = (True, True)
        for child in sorted(os.scandir(here), key=lambda entry: entry.name):
            target = Path(child.path)
            _add_tree(target.resolve() if child.is_symlink() else target, excluded, out)
        return
    if out.get(here) != (True, True):  # a folder split for one root stays split for the others
        out[here] = (path.is_dir(), False)


def refused_paths(names: list[str], extra: list[Path] = ()) -> list[Path]:
    """Where the refused modules' code lies: every folder or file that would import as one of them.

    Looked for in every folder on ``sys.path``, the support folders, and the
    system's Python package folders (a student can put those on
    ``sys.path``). ``sklearn.neural_network`` finds ``sklearn/neural_network/``;
    ``torch`` finds ``torch/``, ``torch.py`` and ``torch.*.so``.
    """
    search: list[Path] = [Path(e) for e in sys.path if e and Path(e).is_dir()] + [Path(e) for e in extra]
    for base in ("/usr/lib", "/usr/local/lib", "/usr/lib64"):
        for pattern in ("python3*/site-packages", "python3*/dist-packages", "python3/dist-packages"):
            search += sorted(Path(base).glob(pattern))
    found: list[Path] = []
    for name in names:
        parts = [p for p in name.split(".") if p]
        if not parts or any(p in (".", "..") or "/" in p for p in parts):
            continue
        for folder in dict.fromkeys(search):
            stem = folder.joinpath(*parts)
            candidates = [stem, stem.with_name(stem.name + ".py"), stem.with_name(stem.name + ".pyc")]
            if stem.parent.is_dir():
                candidates += sorted(stem.parent.glob(stem.name + ".*.so"))
            found += [c for c in candidates if c.exists()]
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------- seccomp

# x86_64 syscall numbers the worker never needs and a student could abuse.
_DENY_EPERM = {
    41: "socket", 53: "socketpair", 101: "ptrace", 310: "process_vm_readv",
    311: "process_vm_writev", 272: "unshare", 308: "setns", 165: "mount", 166: "umount2",
    155: "pivot_root", 161: "chroot", 321: "bpf", 425: "io_uring_setup", 426: "io_uring_enter",
    427: "io_uring_register", 298: "perf_event_open", 250: "keyctl", 248: "add_key",
    249: "request_key", 304: "open_by_handle_at", 303: "name_to_handle_at", 246: "kexec_load",
    320: "kexec_file_load", 175: "init_module", 313: "finit_module", 176: "delete_module",
    323: "userfaultfd", 428: "open_tree", 429: "move_mount", 430: "fsopen", 431: "fsconfig",
    432: "fsmount", 442: "mount_setattr", 438: "pidfd_getfd", 163: "acct", 167: "swapon",
    169: "reboot", 170: "sethostname", 171: "setdomainname", 179: "quotactl",
}
_SYS_CLONE, _SYS_CLONE3 = 56, 435
_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_ALLOW, _RET_KILL_PROCESS, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_EPERM, _ENOSYS = 1, 38
# BPF opcodes
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program() -> list[tuple[int, int, int, int]]:
    prog = [
        (_LD_W_ABS, 0, 0, 4),                       # seccomp_data.arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),                       # seccomp_data.nr
        (_JGE_K, 0, 1, 0x40000000),                 # the x32 ABI: refuse
        (_RET_K, 0, 0, _RET_ERRNO | _EPERM),
    ]
    for nr in sorted(_DENY_EPERM):
        prog += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, _RET_ERRNO | _EPERM)]
    # clone3 passes its flags in memory the filter cannot read: answer ENOSYS
    # so glibc falls back to clone(), whose flags we can check.
    prog += [(_JEQ_K, 0, 1, _SYS_CLONE3), (_RET_K, 0, 0, _RET_ERRNO | _ENOSYS)]
    prog += [
        (_JEQ_K, 0, 3, _SYS_CLONE),
        (_LD_W_ABS, 0, 0, 16),                      # args[0] low 32 bits: the flags
        (_JSET_K, 0, 1, _ALL_NEW_NS),
        (_RET_K, 0, 0, _RET_ERRNO | _EPERM),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return prog


def seccomp_available() -> bool:
    """True when this machine gets the seccomp filter (built for Linux on x86_64 only)."""
    return LINUX and X86_64


def install_seccomp() -> None:
    """Install the worker's seccomp filter (needs no_new_privs first)."""
    if not X86_64:
        raise OSError("the seccomp filter is only built for x86_64")
    prog = _seccomp_program()
    arr = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(arr, ctypes.POINTER(_SockFilter)))
    _check(_libc.prctl(PR_SET_SECCOMP, 2, ctypes.addressof(fprog), 0, 0))


# ---------------------------------------------------------------- processes

def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send `sig` to this process when its parent dies (Linux only)."""
    if not LINUX:
        raise OSError("parent-death signals are a Linux feature")
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0))


def set_child_subreaper() -> None:
    """Adopt this process's orphaned descendants (to reap them) instead of letting them go to init."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))


def unshare(flags: int) -> None:
    """Move this process into new namespaces (children for CLONE_NEWPID)."""
    _check(_libc.unshare(ctypes.c_int(flags)))


def private_tmpfs(path: str, *, size_bytes: int, inodes: int, uid: int, gid: int) -> None:
    """Mount a tmpfs of at most `size_bytes` and `inodes` on `path`, seen only in this mount namespace.

    Call after ``unshare(CLONE_NEWNS)``. Mounts are made private first so the
    tmpfs never propagates to the host; it disappears, with everything in it,
    when the last process of the namespace exits. The kernel refuses writes
    beyond either cap with ENOSPC.
    """
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None))
    options = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}".encode()
    _check(_libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options))


# ---------------------------------------------------------------- cgroups

def cgroup2_own_dir() -> Path | None:
    """This process's cgroup v2 folder, if the unified hierarchy is mounted and we may write in it."""
    if not LINUX:
        return None
    try:
        mount_point = mount_root = None
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                mount_root, mount_point = fields[3], fields[4]
                break
        own = next((line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if line.startswith("0::")), None)
    except (OSError, ValueError):
        return None
    if mount_point is None or own is None:
        return None
    try:
        relative = Path(own).relative_to(mount_root)
    except ValueError:
        return None
    folder = Path(mount_point) / relative
    return folder if os.access(folder, os.W_OK) else None


def make_cgroup(parent: Path, name: str) -> Path:
    """Create cgroup `name` under `parent`; raises OSError unless it can be killed as a whole."""
    path = parent / name
    path.mkdir()
    if not (path / "cgroup.kill").exists():  # Linux 5.14+
        path.rmdir()
        raise OSError("this kernel's cgroups have no cgroup.kill")
    return path


def join_cgroup(path: Path) -> None:
    """Move this process into the cgroup at `path` (its children are born there)."""
    (path / "cgroup.procs").write_text("0")


def kill_cgroup(path: Path) -> None:
    """SIGKILL every process in the cgroup at `path` and in the cgroups below it."""
    try:
        (path / "cgroup.kill").write_text("1")
    except FileNotFoundError:
        pass


def remove_cgroup(path: Path, timeout: float = 5.0) -> bool:
    """Kill everything in the cgroup at `path`, wait until it is empty, remove it (and the ones below)."""
    import time
    kill_cgroup(path)
    deadline = time.monotonic() + timeout
    folders = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for folder in folders + [path]:
        while True:
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # still populated: the kill takes a moment
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
    return True


def write_id_maps(uid: int, gid: int) -> None:
    """Map our own uid/gid into a new user namespace (the non-root path)."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def drop_root(uid: int) -> None:
    """Become `uid` (no passwd entry needed), keeping only CAP_DAC_READ_SEARCH.

    The Python installation may live in a folder that only root can traverse
    (here: /root/.pyenv), so the worker keeps the capability to read and
    search past permission bits; Landlock still limits *which* paths it may
    read, and seccomp forbids open_by_handle_at, the one syscall that would
    turn that capability into a way around Landlock. Everything else of
    root goes: no chmod/chown of others' files, no signals to other users,
    and RLIMIT_NPROC applies.
    """
    _check(_libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = struct.pack("<Ii", 0x20080522, 0)                  # _LINUX_CAPABILITY_VERSION_3
    keep = 1 << CAP_DAC_READ_SEARCH
    data = struct.pack("<6I", keep, keep, 0, 0, 0, 0)            # effective, permitted, inheritable x2
    hbuf, dbuf = ctypes.create_string_buffer(header, 8), ctypes.create_string_buffer(data, 24)
    _check(_libc.syscall(SYS_CAPSET, hbuf, dbuf))


def set_limits(*, memory_bytes: int, cpu_seconds: int, nproc: int, nofile: int, fsize: int) -> None:
    """Apply the worker's rlimits (the address-space budget is on top of what it maps now)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no /proc (not Linux): the budget alone
        current = 0
    limits = {
        resource.RLIMIT_AS: current + memory_bytes,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_NPROC: nproc,
        resource.RLIMIT_NOFILE: nofile,
        resource.RLIMIT_FSIZE: fsize,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            if which == resource.RLIMIT_CPU:
                # SIGXCPU at the soft limit, SIGKILL one second later if ignored.
                resource.setrlimit(which, (value, value + 1 if hard == resource.RLIM_INFINITY else hard))
            else:
                resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            if LINUX:
                raise  # on Linux every one of these must hold
            # Other systems refuse some limits (macOS: RLIMIT_AS); the wall timeout still holds.


def user_namespaces_available() -> bool:
    """Whether an unprivileged process may create a user namespace here."""
    try:
        return int(Path("/proc/sys/user/max_user_namespaces").read_text()) > 0
    except (OSError, ValueError):
        return False

"""Kernel protections a worker applies to itself before it loads student code.

Everything here is Linux-specific and done with `ctypes` system calls, so the
grader needs no compiled extension: Landlock (files, TCP, signals, abstract
sockets), a seccomp filter (no new sockets, no ptrace, no namespaces, no
``open_by_handle_at``...), rlimits, new PID and network namespaces, and
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

X86_64 = platform.machine() == "x86_64"

# Syscall numbers (x86_64 and aarch64 share the Landlock ones).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
SYS_CAPSET = 126 if X86_64 else 91

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38

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


def landlock_restrict(abi: int, read_only: list[tuple[int, bool]], read_write: list[tuple[int, bool]]) -> None:
    """Restrict this thread to the given paths, no TCP, and (ABI 6+) no signals out.

    `read_only` and `read_write` are lists of (O_PATH fd, is_dir). Everything
    not listed is denied: reading, writing, executing, making device nodes.
    The worker is single-threaded when it calls this (Landlock restricts only
    the calling thread and the threads it starts later).
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
        for rules, dir_access, file_access in ((read_only, ro_dir, ro_file), (read_write, rw_dir, rw_file)):
            for fd, is_dir in rules:
                rule = _PathBeneath(dir_access if is_dir else file_access, fd)
                _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)))
        no_new_privs()
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)))
    finally:
        os.close(ruleset)


def no_new_privs() -> None:
    """Forbid gaining privileges through exec (needed by Landlock and seccomp)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


# ---------------------------------------------------------------- paths

def python_read_paths(exclude: list[Path]) -> list[tuple[str, bool]]:
    """The paths a worker may read: the Python installation and shared libraries.

    Folders that contain an excluded path (the grader's own repository, when
    it is installed inside site-packages) are opened up entry by entry,
    leaving the excluded entries out, because Landlock can only grant, never
    carve an exception out of a granted folder.
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
    excluded = [e.resolve() for e in exclude]
    out: dict[str, bool] = {}
    for root in sorted(roots) + [Path(s) for s in system]:
        if root.exists():
            _add_tree(root.resolve(), excluded, out)
    return sorted(out.items())


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _add_tree(path: Path, excluded: list[Path], out: dict[str, bool]) -> None:
    if any(path == e or _is_within(path, e) for e in excluded):
        return
    if path.is_dir() and any(_is_within(e, path) for e in excluded):
        for child in path.iterdir():
            _add_tree(child.resolve() if child.is_symlink() else child, excluded, out)
        return
    out[str(path)] = path.is_dir()


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


def unshare(flags: int) -> None:
    """Move this process into new namespaces (children for CLONE_NEWPID)."""
    _check(_libc.unshare(ctypes.c_int(flags)))


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

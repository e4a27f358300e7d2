"""A worker's life and death cannot hurt anyone else: the zygote survives it, its processes and files go.

Issue 11: a student's deep folder chain killed the shared zygote (and every
classmate's worker with it); a student who cleared the parent-death signal,
called setsid and replaced ``os._exit`` kept processes running after grading;
a worker wrote 4 GB into its temp folder. These tests attack each, and check
that a failure of the shared machinery is reported as the grader's, never as
the student's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import (CallTimeout, InfrastructureError, SandboxError, StudentException, WorkerDied, Zygote,
                            protections_off)
from grader.sandbox import protections as prot
from grader.sandbox.cleanup import remove_tree
from grader.sandbox.zygote_client import REPO_ROOT
from tests.sandbox_helpers import all_statements, make_sandbox, sandbox_on

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")

CLASSMATE = "def ok(x):\n    return x + 1\n"


@pytest.fixture
def zygote():
    z = Zygote()
    z.start()
    yield z
    z.close()


def _on(zygote: Zygote, source: str, **limits):
    """A sandbox for `source` on `zygote`, with the given Limits fields."""
    from grader.sandbox import Limits, Sandbox, SandboxConfig
    return Sandbox(source, all_statements(source), config=SandboxConfig(limits=Limits(**limits)), zygote=zygote)


# ------------------------------------------------------------------ the zygote outlives any worker


DEEP_CHAIN = """
import os
def attack():
    for _ in range(1500):
        os.mkdir("d")
        os.chdir("d")
    os._exit(1)
"""


@pytest.mark.parametrize("disable", [(), ("disk",)], ids=["private-tmpfs", "plain-folder"])
def test_a_deep_folder_chain_and_exit_leave_the_zygote_and_a_classmate_unharmed(disable):
    zygote = Zygote(disable=disable)
    zygote.start()
    try:
        with sandbox_on(zygote, CLASSMATE) as classmate, sandbox_on(zygote, DEEP_CHAIN) as attacker:
            assert classmate.student.ok(1) == 2
            with pytest.raises(WorkerDied, match=r"exited \(status 1\)"):
                attacker.student.attack()
            # the zygote reaped that worker (and started removing its folder) before answering this spawn
            with sandbox_on(zygote, CLASSMATE) as later:
                assert later.student.ok(2) == 3
            assert classmate.student.ok(41) == 42 and classmate.generation == 1  # its worker never died
            assert zygote.alive() and Path(f"/proc/{zygote.pid}").exists()
            assert classmate.infrastructure_failure is None
        if "disk" in disable:  # the folder itself is removed too, by a process of its own, not the zygote
            deadline = time.monotonic() + 30
            while os.listdir(zygote.base_dir) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert os.listdir(zygote.base_dir) == []
    finally:
        zygote.close()


def test_tree_removal_needs_no_recursion_and_follows_no_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    root = tmp_path / "tree"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for level in range(300):
        os.mkdir("d", dir_fd=fd)
        if level % 50 == 0:
            os.symlink(str(outside), "link", dir_fd=fd)
            os.symlink(str(tmp_path), "dirlink", dir_fd=fd)
            with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
                f.write("x")
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(80)  # shutil.rmtree needs one frame per level
    try:
        assert remove_tree(str(root)) is True
    finally:
        sys.setrecursionlimit(limit)
    assert not root.exists()
    assert outside.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt"]


def test_tree_removal_stops_at_its_budget(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(50):
        (root / f"f{i}").write_text("x")
    assert remove_tree(str(root), max_entries=10) is False
    assert remove_tree(str(root)) is True and not root.exists()


# ------------------------------------------------------------------ the grader's failures are not the student's


def test_a_zygote_that_dies_mid_call_is_an_infrastructure_error_not_a_score(zygote):
    sb = sandbox_on(zygote, "import time\ndef slow():\n    time.sleep(3)\n    return 1\n")
    try:
        sb.ensure_loaded()
        killer = threading.Timer(0.5, os.kill, (zygote.pid, signal.SIGKILL))  # our own zygote process
        killer.start()
        with pytest.raises(InfrastructureError) as caught:
            sb.student.slow()
        killer.join()
        assert not isinstance(caught.value, SandboxError)  # checks turn SandboxErrors into student failures
        assert sb.infrastructure_failure and "zygote" in sb.infrastructure_failure
        assert sb.events == []  # nothing was charged to the student
    finally:
        sb.close()


class _BrokenZygote:
    """A zygote stand-in whose control connection fails (reset by peer, or out of step)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def spawn(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"),
                                   RuntimeError("the sandbox zygote sent an unreadable message")])
def test_a_broken_zygote_connection_is_an_infrastructure_error(error):
    from grader.sandbox import Sandbox, SandboxConfig
    sb = Sandbox(CLASSMATE, [(0, 1, CLASSMATE)], config=SandboxConfig(), zygote=_BrokenZygote(error))
    with pytest.raises(InfrastructureError, match="could not start a worker"):
        sb.student.ok(1)
    assert sb.infrastructure_failure is not None
    sb.close()


def test_the_student_still_owns_their_own_crashes(zygote):
    with sandbox_on(zygote, "import os\ndef die():\n    os._exit(3)\ndef boom():\n    raise ValueError('x')\n") as sb:
        with pytest.raises(WorkerDied):
            sb.student.die()
        with pytest.raises(StudentException):
            sb.student.boom()
        assert sb.infrastructure_failure is None


# ------------------------------------------------------------------ no process outlives grading


def _survivor_attack(marker: str) -> str:
    """Source whose `attack` detaches every way it can, forks, and makes os._exit sleep instead."""
    return textwrap.dedent(f"""
        import ctypes, os, time
        _started = []
        def _hide():
            libc = ctypes.CDLL(None)
            libc.prctl(1, 0, 0, 0, 0)                # PR_SET_PDEATHSIG: none
            libc.prctl(15, b"{marker}", 0, 0, 0)     # PR_SET_NAME: the marker the test looks for
            try:
                os.setsid()
            except OSError:
                pass
        def attack():
            if _started:
                return os.getpid()
            _started.append(1)
            _hide()
            ready_r, ready_w = os.pipe()
            if os.fork() == 0:
                _hide()
                if os.fork() == 0:
                    _hide()
                os.write(ready_w, b"x")
                while True:
                    time.sleep(1)
            os.read(ready_r, 1)
            os.read(ready_r, 1)  # both descendants have hidden themselves
            os._exit = lambda *args: time.sleep(10**6)
            return os.getpid()
        def hang():
            while True:
                time.sleep(1)
        def ok():
            return 1
    """)


def _with_marker(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == marker:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _cgroup_available() -> bool:
    own = prot.cgroup2_own_dir()
    return own is not None and own.parent.exists()


@pytest.mark.parametrize("disable", [(), ("namespaces",)], ids=["pid-namespace", "cgroup-only"])
def test_nothing_the_submission_started_survives_close_or_a_replaced_worker(disable):
    if disable and not _cgroup_available():
        pytest.skip("cgroup v2 is not writable here")
    marker = "sv" + secrets.token_hex(6)
    zygote = Zygote(disable=disable)
    zygote.start()
    try:
        sb = _on(zygote, _survivor_attack(marker), call_timeout=1.0)
        sb.student.attack()
        assert len(_with_marker(marker)) == 3
        with pytest.raises(CallTimeout):
            sb.student.hang()               # the worker is replaced after the timeout...
        assert _with_marker(marker) == []   # ...and its whole tree is gone before the call returns
        assert sb.student.ok() == 1
        sb.student.attack()
        assert len(_with_marker(marker)) == 3
        sb.close()
        assert _with_marker(marker) == []   # close() returns once everything is gone
    finally:
        zygote.close()
    assert _with_marker(marker) == []


def test_closing_the_zygote_stops_workers_whose_sandbox_was_never_closed():
    marker = "sz" + secrets.token_hex(6)
    zygote = Zygote()
    zygote.start()
    try:
        sb = sandbox_on(zygote, _survivor_attack(marker))
        sb.student.attack()
        assert len(_with_marker(marker)) == 3
    finally:
        zygote.close()  # (the grading process exiting does this for the shared zygote)
    assert _with_marker(marker) == []


def _lab_submission_with(attack: str) -> str:
    base = (REPO_ROOT / "tests" / "fixtures" / "lab" / "correct_classic.py").read_text()
    return base + "\n\n" + attack


def test_a_batch_leaves_no_process_of_any_submission_behind(tmp_path):
    marker = "sb" + secrets.token_hex(6)
    attack = _survivor_attack(marker) + textwrap.dedent("""
        _linear_forward = linear_forward
        def linear_forward(A_prev, W, b):
            attack()
            return _linear_forward(A_prev, W, b)
    """)
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "mallory.py").write_text(_lab_submission_with(attack))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", "backprop-lab", "-o", str(out),
                           "-j", "1"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _with_marker(marker) == []


# ------------------------------------------------------------------ disk


def test_total_bytes_and_files_are_capped_by_the_kernel_and_nothing_lands_on_the_host():
    with make_sandbox("""
        import errno, os
        def where():
            return os.getcwd()
        def fill(n_bytes):
            written = 0
            try:
                with open("big.bin", "wb") as f:
                    while written < n_bytes:
                        f.write(b"x" * 2**20)
                        written += 2**20
                    f.flush()
            except OSError as exc:
                return written, errno.errorcode.get(exc.errno)
            return written, None
        def many(n):
            for i in range(n):
                try:
                    open(f"f{i}", "w").close()
                except OSError as exc:
                    return i, errno.errorcode.get(exc.errno)
            return n, None
        def clear():
            for name in os.listdir("."):
                os.remove(name)
    """, disk_bytes=8 * 2**20, disk_files=50, fsize=64 * 2**20) as sb:
        host_path = sb.student.where()
        written, error = sb.student.fill(32 * 2**20)
        assert error == "ENOSPC" and written <= 8 * 2**20
        assert os.listdir(host_path) == []  # the bytes are in the worker's own tmpfs, not on the host's disk
        sb.student.clear()
        created, error = sb.student.many(200)
        assert error == "ENOSPC" and created <= 50
        assert "private_tmpfs" in sb.applied


def test_without_a_private_tmpfs_grading_works_and_the_report_says_so():
    zygote = Zygote(disable=("disk",))
    try:
        with sandbox_on(zygote, "import os\ndef write():\n    open('x', 'w').write('y')\n    return 1\n") as sb:
            assert sb.student.write() == 1
            off = protections_off(sb.applied)
    finally:
        zygote.close()
    assert any("tmpfs" in sentence for sentence in off) and len(off) == 1


def test_disk_limits_are_assignment_settings_validated_at_load():
    from grader.config.assignment import AssignmentError, _limits
    from grader.sandbox import Limits
    limits = Limits(**_limits(Path("assignment.toml"), {"disk_mb": 32, "disk_files": 100}))
    assert (limits.disk_bytes, limits.disk_files) == (32 * 2**20, 100)
    defaults = Limits(**_limits(Path("assignment.toml"), {}))
    assert (defaults.disk_bytes, defaults.disk_files) == (256 * 2**20, 10_000)
    for bad, message in (({"disk_mb": 0}, "disk_mb must be a positive number"),
                         ({"disk_files": 2.5}, "disk_files must be a whole number"),
                         ({"disk_mb": "big"}, "disk_mb must be a positive number")):
        with pytest.raises(AssignmentError, match=message):
            _limits(Path("assignment.toml"), bad)


def test_a_fresh_sandbox_worker_does_not_walk_the_zygote_s_objects_in_a_collection():
    # Frozen in the zygote before any worker forks: a worker's collection neither walks nor copies them.
    source = """
        import gc

        def frozen():
            return gc.get_freeze_count()
    """
    with make_sandbox(source) as sb:
        frozen = sb.call("frozen").value
    assert frozen > 10_000  # NumPy and the worker's own modules (about 23,000 objects; more with matplotlib)


def test_unseeded_numpy_draws_differ_from_one_worker_to_the_next(zygote):
    # numpy.random is imported once in the zygote; a fork copies its global generator, so every worker reseeds
    # it: two students (or one student's worker after a restart) who draw without seeding get different numbers.
    source = "import numpy as np\n\ndef draw():\n    return [float(v) for v in np.random.rand(4)]\n"
    draws = []
    for _ in range(3):
        with sandbox_on(zygote, source) as sb:
            draws.append(tuple(sb.call("draw").value))
    assert len(set(draws)) == 3, draws

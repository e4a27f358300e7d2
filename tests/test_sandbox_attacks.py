"""Attacks on the sandbox, one small submission per class, each asserting containment by its effect."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import (CallTimeout, Handle, ProtocolError, RefusedImport, ResultTooLarge, StaleHandle,
                            StudentException, WorkerDied)
from grader.sandbox.zygote_client import REPO_ROOT
from tests.sandbox_helpers import make_sandbox

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _processes_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if any(line.startswith("Uid:") and int(line.split()[1]) == uid for line in status.splitlines()):
                pids.append(int(entry))
    return pids


def _assert_all_gone(uid: int) -> None:
    """Every process of the worker's own uid ends within 5 s (nothing to check when it ran as ours)."""
    if uid == os.getuid():
        return
    deadline = time.monotonic() + 5
    while _processes_of_uid(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_of_uid(uid) == []


# ------------------------------------------------------------------ failure containment


def test_infinite_loop_costs_only_its_call():
    with make_sandbox("""
        def spin():
            while True:
                pass
        def ok():
            return 42
    """, call_timeout=1.0) as sb:
        with pytest.raises(CallTimeout, match=r"timed out after 1 s during `spin`"):
            sb.student.spin()
        assert sb.student.ok() == 42
        assert sb.generation == 2  # a fresh worker served the remaining call


@pytest.mark.parametrize("statement, expected", [
    ("time.sleep(100)", "timed out after 1 s during loading"),
    ("os._exit(0)", "exited (status 0) during loading"),
])
def test_a_statement_that_hangs_or_kills_the_load_is_skipped_and_the_rest_loads(statement, expected):
    with make_sandbox(f"""
        import os, time
        def before():
            return 1
        {statement}
        def after():
            return 2
    """, load_timeout=1.0) as sb:
        assert sb.student.before() == 1
        assert sb.student.after() == 2
        assert any(p.lineno == 5 and expected in p.message for p in sb.load_problems)


@pytest.mark.parametrize("statement", ["sys.exit(3)", "raise SystemExit", "raise KeyboardInterrupt"])
def test_exit_or_interrupt_at_import_does_not_stop_loading(statement):
    with make_sandbox(f"""
        import sys
        {statement}
        def after():
            return 2
    """) as sb:
        assert sb.student.after() == 2
        assert sb.load_problems and sb.load_problems[0].lineno == 3
        assert sb.generation == 1


@pytest.mark.parametrize("body, expected", [
    ("sys.exit(0)", "SystemExit: the code called sys.exit(0)"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
])
def test_exit_during_a_call_fails_that_call_only(body, expected):
    with make_sandbox(f"""
        import sys
        def leave():
            {body}
        def ok():
            return 1
    """) as sb:
        with pytest.raises(StudentException) as info:
            sb.student.leave()
        assert expected in info.value.reason
        assert sb.student.ok() == 1


def test_segfault_is_reported_with_its_signal():
    with make_sandbox("""
        import ctypes
        def crash():
            return ctypes.string_at(0)
        def ok():
            return 1
    """) as sb:
        with pytest.raises(WorkerDied, match=r"crashed the Python process running it \(SIGSEGV\) during `crash`"):
            sb.student.crash()
        assert sb.student.ok() == 1


def test_ignoring_sigterm_does_not_outlive_the_timeout():
    with make_sandbox("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        def stubborn():
            while True:
                time.sleep(0.01)
        def ok():
            return 1
    """, call_timeout=1.0) as sb:
        with pytest.raises(CallTimeout):
            sb.student.stubborn()
        assert sb.student.ok() == 1


def test_fork_flood_is_capped_and_every_process_is_gone_afterwards():
    sb = make_sandbox("""
        import os, time
        def flood():
            started = 0
            for _ in range(200):          # bounded: never an unbounded fork bomb
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    os.setsid()           # try to escape the process group
                    time.sleep(120)
                    os._exit(0)
                started += 1
            return os.getuid(), started
    """, nproc=16)
    uid, started = sb.student.flood()
    assert uid >= 100000 or uid == os.getuid()
    assert started < 16
    if uid != os.getuid():
        assert len(_processes_of_uid(uid)) >= started
    sb.close()
    _assert_all_gone(uid)


def test_memory_bomb_is_a_memory_error_not_a_dead_grader():
    with make_sandbox("""
        import numpy as np
        def bomb():
            return np.ones(10**10)              # 80 GB
        def grow():
            chunks = []
            for _ in range(64):                 # bounded: 64 GiB at most
                chunks.append(bytearray(2**30))
            return len(chunks)
        def ok():
            return 1
    """, memory_bytes=512 * 2**20) as sb:
        with pytest.raises(StudentException, match="MemoryError"):
            sb.student.bomb()
        with pytest.raises((StudentException, WorkerDied)):
            sb.student.grow()
        assert sb.student.ok() == 1


def test_megabytes_of_output_are_cut_and_counted():
    with make_sandbox("""
        def chatty():
            for _ in range(100_000):
                print("x" * 99)
            return "done"
    """, output_bytes=64 * 1024) as sb:
        result = sb.call("chatty")
        assert result.value == "done"
        assert len(sb.output.encode()) < 64 * 1024 + 200
        assert sb.output_dropped == 10_000_000 - 64 * 1024
        assert f"{sb.output_dropped} more bytes of output were dropped" in sb.output
        assert any("output beyond the first 65536 bytes" in e for e in sb.events)


@pytest.mark.parametrize("attack", [
    "os.kill(os.getppid(), 9)",
    "os.killpg(os.getpgid(0), 9)",
    "os.kill(-1, 9)",
    "os.kill(TARGET, 9)",
    "os.kill(ZYGOTE, 9)",
])
def test_signals_cannot_reach_the_grader(attack):
    target, zygote_pid = os.getpid(), None
    with make_sandbox(f"""
        import os
        def attack(TARGET, ZYGOTE):
            try:
                {attack}
            except OSError as exc:
                return type(exc).__name__
            return "sent"
        def ok():
            return 1
    """) as sb:
        sb.ensure_loaded()
        zygote_pid = sb.zygote.pid
        try:
            sb.student.attack(target, zygote_pid)
        except WorkerDied:
            pass  # killing its own process group may take the worker down: that is its own loss
        assert sb.student.ok() == 1
    assert _alive(target) and _alive(zygote_pid)


def test_detached_child_is_gone_when_the_submission_is_done():
    sb = make_sandbox("""
        import os, time
        def detach():
            pid = os.fork()
            if pid == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(120)
                os._exit(0)
            os.waitpid(pid, 0)
            return os.getuid()
    """)
    uid = sb.student.detach()
    sb.close()
    _assert_all_gone(uid)


# ------------------------------------------------------------------ isolation


def test_cannot_create_files_outside_its_temp_dir(tmp_path):
    target = tmp_path / "forged_results.json"
    with make_sandbox("""
        def write(path):
            try:
                with open(path, "w") as f:
                    f.write("{'score': 100}")
            except OSError as exc:
                return type(exc).__name__
            return "written"
        def write_local():
            with open("scratch.txt", "w") as f:
                f.write("fine")
            return open("scratch.txt").read()
    """) as sb:
        assert sb.student.write(str(target)) == "PermissionError"
        assert sb.student.write_local() == "fine"
    assert not target.exists()


def test_cannot_read_or_delete_a_classmates_file_or_the_answers(tmp_path):
    sibling = tmp_path / "classmate.py"
    sibling.write_text("def linear_forward(): return 'secret'\n")
    before = (sibling.read_bytes(), sibling.stat().st_mtime_ns)
    secrets = [str(sibling), str(REPO_ROOT / "grader" / "model.py"), str(REPO_ROOT / "pyproject.toml"),
               str(tmp_path)]
    with make_sandbox("""
        import os
        def snoop(paths):
            found = {}
            for path in paths:
                try:
                    found[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()
                except OSError as exc:
                    found[path] = type(exc).__name__
            return found
        def vandalise(path):
            for action in (os.remove, lambda p: os.chmod(p, 0), lambda p: os.rename(p, p + ".x")):
                try:
                    action(path)
                except OSError:
                    pass
            return "tried"
    """) as sb:
        found = sb.student.snoop(secrets)
        assert found == {p: "PermissionError" for p in secrets}
        assert sb.student.vandalise(str(sibling)) == "tried"
    assert (sibling.read_bytes(), sibling.stat().st_mtime_ns) == before


def test_no_tcp_connection_reaches_a_local_listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(1.0)
    port = server.getsockname()[1]
    with make_sandbox("""
        import socket
        def connect(port):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).sendall(b"leak")
            except OSError as exc:
                return type(exc).__name__
            return "connected"
        def udp(port):
            try:
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", port))
            except OSError as exc:
                return type(exc).__name__
            return "sent"
    """) as sb:
        assert sb.student.connect(port) != "connected"
        assert sb.student.udp(port) != "sent"
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_no_unix_socket_by_path(tmp_path):
    path = str(tmp_path / "grader.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    server.settimeout(1.0)
    with make_sandbox("""
        import socket
        def connect(path):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
            except OSError as exc:
                return type(exc).__name__
            return "connected"
    """) as sb:
        assert sb.student.connect(path) == "PermissionError"
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_cannot_run_programs_or_chmod_root_files(tmp_path):
    victim = tmp_path / "root_owned.txt"
    victim.write_text("keep")
    os.chmod(victim, 0o644)
    with make_sandbox("""
        import os, subprocess
        def shell():
            try:
                return subprocess.run(["/bin/sh", "-c", "echo pwned"], capture_output=True).stdout
            except OSError as exc:
                return type(exc).__name__
        def chmod(path):
            try:
                os.chmod(path, 0o777)
            except OSError as exc:
                return type(exc).__name__
            return "changed"
    """) as sb:
        assert sb.student.shell() == "PermissionError"
        assert sb.student.chmod(str(victim)) == "PermissionError"
    assert victim.stat().st_mode & 0o777 == 0o644


def test_pickle_payload_never_runs_on_the_trusted_side(tmp_path):
    marker = tmp_path / "pwned"
    with make_sandbox(f"""
        import os
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        def evil():
            return Payload(), [1, Payload()]
    """) as sb:
        first, (one, second) = sb.student.evil()
    assert isinstance(first, Handle) and first.kind == "Payload"
    assert one == 1 and isinstance(second, Handle)
    assert not marker.exists()


def test_patching_numpy_in_the_worker_changes_no_verdict():
    with make_sandbox("""
        import numpy as np
        def wrong_and_sneaky(x):
            np.allclose = lambda *a, **k: True
            np.testing.assert_allclose = lambda *a, **k: None
            return x * 2
    """) as sb:
        x = np.arange(3.0)
        got = sb.student.wrong_and_sneaky(x)
    assert not np.allclose(got, x)


def test_reading_the_callers_frames_finds_no_expected_value():
    expected = np.full((2, 2), 123456.789)  # a value the student would love to see
    with make_sandbox("""
        import sys, gc
        def steal():
            found = []
            frame = sys._getframe()
            while frame is not None:
                found.extend(repr(v)[:200] for v in frame.f_locals.values())
                frame = frame.f_back
            found.extend(repr(o)[:200] for o in gc.get_objects() if type(o).__name__ == "ndarray")
            return found
    """) as sb:
        loot = sb.student.steal()
    assert expected[0, 0] == 123456.789
    assert not any("123456.789" in item for item in loot)


def test_array_subclasses_arrive_as_plain_arrays_and_caches_round_trip():
    with make_sandbox("""
        import numpy as np
        class Sneaky(np.ndarray):
            def __eq__(self, other):
                return True
        class Cache:
            def __init__(self, A):
                self.A = A
        def forward(A):
            return A.view(Sneaky) * 2, Cache(A)
        def backward(cache):
            return cache.A.sum()
    """) as sb:
        out, cache = sb.student.forward(np.ones((2, 3)))
        assert type(out) is np.ndarray and np.array_equal(out, np.full((2, 3), 2.0))
        assert isinstance(cache, Handle)
        assert sb.student.backward(cache) == 6.0


def test_returned_objects_pass_back_as_the_originals():
    with make_sandbox("""
        def forward(A):
            cache = {"A": A, "ident": None}
            cache["ident"] = id(cache)
            return A + 1, cache
        def backward(cache):
            return cache["ident"] == id(cache)
    """) as sb:
        _, cache = sb.student.forward(np.zeros(2))
        assert sb.student.backward(cache) is True


def test_values_from_a_dead_worker_are_refused_not_silently_resent():
    with make_sandbox("""
        import os
        def forward():
            return [1, 2], object()
        def die():
            os._exit(1)
        def use(x):
            return x
    """) as sb:
        plain, opaque = sb.student.forward()
        with pytest.raises(WorkerDied, match=r"exited \(status 1\)"):
            sb.student.die()
        with pytest.raises(StaleHandle):
            sb.student.use(plain)
        with pytest.raises(StaleHandle):
            sb.student.use(opaque)


def test_huge_result_is_refused_before_it_is_read():
    with make_sandbox("""
        import numpy as np
        def huge():
            return np.zeros(4 * 2**20)
        def ok():
            return 1
    """, max_message_bytes=2**20) as sb:
        with pytest.raises(ResultTooLarge, match=r"^`huge` returned 32 MB; the limit is 1 MB$"):
            sb.student.huge()
        assert sb.student.ok() == 1


def test_refused_imports_fail_only_the_code_that_uses_them():
    with make_sandbox("""
        import numpy as np
        import torch
        from sklearn.neural_network import MLPClassifier
        def uses_torch():
            return torch.tensor([1.0])
        def imports_inside():
            import sklearn.neural_network
            return 1
        def plain():
            return int(np.sum([1, 2]))
    """, refused=("torch", "sklearn.neural_network")) as sb:
        assert sb.student.plain() == 3
        with pytest.raises(RefusedImport, match="`torch` is not allowed in test-assignment"):
            sb.student.uses_torch()
        with pytest.raises(RefusedImport, match="`sklearn.neural_network` is not allowed"):
            sb.student.imports_inside()
        refused_lines = {p.lineno for p in sb.load_problems if p.type_name == "RefusedImportError"}
        assert refused_lines == {3, 4}


def test_a_load_retried_after_a_hang_still_reports_the_other_load_problems():
    with make_sandbox("""
        import time
        import torch
        def plain():
            return 1
        time.sleep(100)
    """, refused=("torch",), load_timeout=1.0) as sb:
        assert sb.student.plain() == 1
        problems = {(p.lineno, p.type_name) for p in sb.load_problems}
        assert (3, "RefusedImportError") in problems
        assert any(lineno == 6 and "RefusedImport" not in kind for lineno, kind in problems)


def test_support_modules_are_importable_and_nothing_else(tmp_path):
    support = tmp_path / "support"
    support.mkdir()
    (support / "dnn_utils.py").write_text("def sigmoid_backward(dA, Z):\n    return dA * 0.25\n")
    (tmp_path / "hidden_checks.py").write_text("ANSWER = 42\n")
    with make_sandbox("""
        import sys
        from dnn_utils import sigmoid_backward
        def use():
            return sigmoid_backward(4.0, 0.0)
        def sneak(folder):
            sys.path.append(folder)
            try:
                import hidden_checks
            except ImportError as exc:
                return type(exc).__name__
            return hidden_checks.ANSWER
    """, support_dirs=(str(support),)) as sb:
        assert sb.student.use() == 1.0
        assert sb.student.sneak(str(tmp_path)) in ("ModuleNotFoundError", "ImportError", "PermissionError")


def test_grader_threads_keep_working_while_a_worker_hangs():
    """A hung worker blocks only its own call: another sandbox in another thread still answers."""
    results = {}
    with make_sandbox("def spin():\n    while True: pass\n", call_timeout=2.0) as slow, \
            make_sandbox("def ok():\n    return 7\n") as fast:
        fast.ensure_loaded()
        t = threading.Thread(target=lambda: results.setdefault("slow", pytest.raises(CallTimeout, slow.student.spin)))
        t.start()
        time.sleep(0.2)
        results["fast"] = fast.student.ok()
        slow_still_hanging = t.is_alive()  # the fast answer did not wait for the hung call to time out
        t.join()
    assert results["fast"] == 7
    assert slow_still_hanging


def test_cpu_limit_stops_a_busy_worker():
    with make_sandbox("""
        def burn():
            x = 0
            while True:
                x += 1
    """, call_timeout=20.0, cpu_seconds=1) as sb:
        with pytest.raises(WorkerDied, match="CPU-time limit|SIGKILL"):
            sb.student.burn()


def test_sigterm_to_the_grader_process_group_is_not_sent():
    """os.killpg on the grader's own group id fails from inside (a different session and namespace)."""
    group = os.getpgid(0)
    with make_sandbox("""
        import os
        def attack(group):
            try:
                os.killpg(group, 15)
            except OSError as exc:
                return type(exc).__name__
            return "sent"
    """) as sb:
        assert sb.student.attack(group) in ("ProcessLookupError", "PermissionError")
    assert _alive(os.getpid())


def test_without_protections_grading_still_works_and_says_what_is_off():
    import io

    from grader.sandbox import Zygote, announce_protections, protections_off
    from tests.sandbox_helpers import sandbox_on
    zygote = Zygote(disable=("landlock", "seccomp", "uid", "namespaces"))
    try:
        with sandbox_on(zygote, "def ok(x):\n    return x + 1\n") as sb:
            assert sb.student.ok(1) == 2
            off = protections_off(sb.applied)
            stream = io.StringIO()
            announce_protections(sb.applied, stream)
            announce_protections(sb.applied, stream)
    finally:
        zygote.close()
    assert len(off) == 4 and any("Landlock" in s for s in off)
    assert stream.getvalue().count("without some protections") == 1


def test_unknown_protection_names_are_refused():
    from grader.sandbox import Zygote
    with pytest.raises(ValueError, match="unknown protection"):
        Zygote(disable=("landlok",))


def test_a_driver_reads_module_values_and_builds_with_student_classes():
    with make_sandbox("""
        ANSWER = (1.5, 2)
        class Box:
            def __init__(self, v):
                self.v = v
            def double(self):
                return Box(self.v * 2)
    """) as sb:
        result = sb.drive("def drive(module, name, v):\n    return getattr(module, name), module.Box(v).double().v\n",
                          ("ANSWER", 3), measure=True)
    assert result.value == ((1.5, 2), 6)
    assert isinstance(result.peak_bytes, int)


def test_future_imports_apply_to_the_statements_after_them():
    with make_sandbox("""
        from __future__ import annotations
        def f(x: NotDefinedAnywhere) -> AlsoUndefined:
            return x * 2
    """) as sb:
        assert sb.student.f(2) == 4
        assert sb.load_problems == []

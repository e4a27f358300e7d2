"""The attack class of issue 11's "done when": every hostile submission the repo knows, three correct classmates.

`build_attack_class(folder, marker)` writes a class folder for `backprop-lab`:

- three correct classmates in different styles (tests/fixtures/lab/correct_*.py);
- every attack of tests/fixtures/attacks/*.snippet (`make_attacks.write_attacks`:
  a correct submission with the attack appended);
- the lab's own attack fixtures (an endless train, megabytes of prints, sys.exit at import);
- the sandbox attacks of tests/test_sandbox_attacks.py, test_sandbox_lifecycle.py and
  test_sandbox_trust.py as whole lab submissions (a correct solution with one function
  replaced by the attack): fork floods, processes that detach and outlive their worker,
  a deep folder chain then os._exit, memory bombs, os._exit and a segfault in a call,
  signals at the grader, a full disk, megabytes of raw output with escape sequences,
  huge results, a pickle payload, a worker that lies about its inputs, a refused
  import with the guard removed;
- the odd names of tests/test_class_names.py (not UTF-8, overlong, control characters,
  ``Index.HTML.py``, a symbolic link to the reference solution);
- per-student zips with hostile entries (zip slip, a zip bomb, a class-zip-like archive).

`run_batch_subprocess` runs ``python -m grader batch`` on it through a launcher
process (``python -m tests.attack_class launch``) that is a child subreaper: every
process the batch leaves behind, however it detached, becomes the launcher's child,
so it is found (and then killed) after the command returns. The launcher also
watches the batch's temporary folder for the largest file.

Used by tests/test_attack_class.py and benchmarks/attack_class.py.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "tests" / "fixtures" / "lab"
ATTACK_FIXTURES = ROOT / "tests" / "fixtures" / "attacks"
ASSIGNMENT = "backprop-lab"

# Three correct classmates: tuple caches and gradient descent, dict caches and Adam, single precision.
CLASSMATES = {"classmate_classic": "correct_classic.py", "classmate_dictcache": "correct_dictcache.py",
              "classmate_float32": "correct_float32.py"}

# The lab's own attack fixtures (tests/fixtures/lab/MANIFEST.toml, kind = "attack").
LAB_ATTACKS = {"lab_infinite_loop_in_train": "bug_infinite_loop_in_train.py",
               "lab_prints_a_lot": "bug_prints_a_lot.py", "lab_exits_at_import": "bug_exits_at_import.py"}

# Process names start with this prefix plus a per-run token: a process of an attack that escaped even the
# launcher's subreaper would still be found by name.
MARKER_PREFIX = "ac"


def _wrap(function: str, body: str) -> str:
    """Replace `function` of the correct solution by one that runs `body` first, then the real one."""
    inner = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return (f"\n_{function}_for_real = {function}\n\n\ndef {function}(*args, **kwargs):\n{inner}\n"
            f"    return _{function}_for_real(*args, **kwargs)\n")


def _sandbox_attacks(marker: str, pwned: Path) -> dict[str, str]:
    """Attack code (appended to a correct solution) for the sandbox attacks the tests make inline."""
    from tests.test_sandbox_lifecycle import DEEP_CHAIN, _survivor_attack
    from tests.test_sandbox_trust import HOOKED, REMOVE_FINDERS
    return {
        # test_fork_flood_is_capped_...: 200 forks, each child detaching and sleeping 120 s.
        "fork_flood": "import ctypes as _ctypes, os as _os, time as _time\n" + _wrap("train", f"""
            for _ in range(200):
                try:
                    pid = _os.fork()
                except OSError:
                    break
                if pid == 0:
                    _ctypes.CDLL(None).prctl(15, b"{marker}f", 0, 0, 0)
                    try:
                        _os.setsid()
                    except OSError:
                        pass
                    _time.sleep(120)
                    _os._exit(0)
        """),
        # test_sandbox_lifecycle: no parent-death signal, setsid, grandchildren, os._exit replaced by a sleep.
        "detached_survivors": _survivor_attack(f"{marker}s") + _wrap("linear_forward", "attack()"),
        # test_a_deep_folder_chain_and_exit_...: 1500 nested folders, then os._exit(1) (killed the zygote once).
        "deep_folder_chain": DEEP_CHAIN + _wrap("train", "attack()"),
        # test_memory_bomb_...: 80 GB at once, then 1 GiB at a time.
        "memory_bomb": _wrap("compute_cost", "np.ones(10**10)") + _wrap("train", """
            chunks = []
            for _ in range(64):
                chunks.append(bytearray(2**30))
        """),
        "os_exit_in_a_call": "import os as _os\n" + _wrap("L_layer_backward", "_os._exit(0)"),
        "segfault": "import ctypes as _ctypes\n" + _wrap("compute_cost", "_ctypes.string_at(0)"),
        # test_signals_cannot_reach_the_grader, at import and in a call; SIGTERM ignored while train spins.
        "signals_and_stubborn_loop": textwrap.dedent("""
            import os as _os, signal as _signal
            def _shoot():
                for attack in (lambda: _os.kill(_os.getppid(), 9), lambda: _os.killpg(_os.getpgid(0), 9),
                               lambda: _os.kill(1, 9), lambda: _os.kill(-1, 9)):
                    try:
                        attack()
                    except OSError:
                        pass
            _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
            _shoot()
        """) + _wrap("train", """
            _shoot()
            while True:
                pass
        """),
        # Issue 11 / test_total_bytes_and_files_are_capped_...: 64 files of 64 MB, then 20,000 small files.
        "disk_filler": "import os as _os\n" + _wrap("train", """
            try:
                for i in range(64):
                    with open(f"big{i}.bin", "wb") as stream:
                        for _ in range(64):
                            stream.write(b"x" * 2**20)
            except OSError:
                pass
            try:
                for i in range(20_000):
                    open(f"small{i}", "w").close()
            except OSError:
                pass
        """),
        # test_megabytes_of_output_...: 24 MB straight to the file descriptors, escape sequences included.
        "raw_output_with_escapes": "import os as _os\n" + _wrap("train", r"""
            line = b"\x1b[2J\x1b[H\x1b[32mScore: 100/100\x1b[0m \x1b]52;c;ZWNobyBwd25lZA==\x07 \x9b2J" + b"x" * 400 + b"\n"
            for _ in range(24 * 2**20 // len(line) // 2):
                _os.write(1, line)
                _os.write(2, line)
        """),
        # test_huge_result_is_refused_before_it_is_read, as bytes and as a string.
        "huge_results": _wrap("compute_cost", "return b'\\0' * (200 * 2**20)")
                        + _wrap("linear_backward", "return 'x' * (100 * 2**20)"),
        # test_pickle_payload_never_runs_on_the_trusted_side.
        "pickle_payload": textwrap.dedent(f"""
            import os as _os
            class _Payload:
                def __reduce__(self):
                    return (_os.system, ("touch {pwned}",))
        """) + _wrap("compute_cost", "return _Payload()"),
        # test_a_worker_that_lies_about_its_inputs_...: the worker's dispatch hooked, inputs changed in place.
        "lying_worker": HOOKED + _wrap("linear_forward", "args[0][...] = 0"),
        # test_scikit_learns_mlp_cannot_be_imported_even_without_the_finder: train with sklearn's MLP.
        "refused_import_unguarded": REMOVE_FINDERS + _wrap("train", """
            _unguard()
            from sklearn.neural_network import MLPClassifier
            return MLPClassifier().fit(args[0].T, args[1].ravel())
        """),
    }


def _zips(folder: Path) -> list[str]:
    """Per-student zips with hostile entries; returns their entry names."""
    from tests.test_class_names import _class_zip
    from tests.test_submission import write_zip
    correct = (LAB / "correct_classic.py").read_text(encoding="utf-8")
    write_zip(folder / "zip_slip.zip", {"lab.py": correct, "../evil.py": "x = 1\n", "/etc/evil.py": "x = 1\n"})
    write_zip(folder / "zip_bomb.zip", {"lab.py": correct, "data.bin": b"\0" * (64 * 2**20)})
    _class_zip(folder / "zip_of_odd_names.zip")  # a class zip handed in as one student's zip
    return ["zip_slip.zip", "zip_bomb.zip", "zip_of_odd_names.zip"]


@dataclass
class AttackClass:
    """What `build_attack_class` wrote: the folder, its classmates and attackers (entry names), the marker."""
    folder: Path
    marker: str
    pwned: Path
    classmates: dict[str, str] = field(default_factory=dict)  # student id -> fixture file
    attackers: list[str] = field(default_factory=list)         # entry names (bytes for names not UTF-8)

    def entries(self) -> list[bytes]:
        """Every top-level entry of the class folder, as bytes (one entry is one student)."""
        return sorted(os.listdir(os.fsencode(self.folder)))


def build_attack_class(folder: Path, marker: str, *, leave_out: tuple[str, ...] = ()) -> AttackClass:
    """Write the attack class into `folder` (which must not exist); `leave_out` names attacks to skip.

    `marker` (at most 13 characters) names the processes the attacks start, and the file a pickle
    payload would create if it ever ran on the trusted side (`AttackClass.pwned`).
    """
    from tests.test_class_names import _class_folder
    sys.path.insert(0, str(ATTACK_FIXTURES))
    from make_attacks import attack_names, write_attacks

    pwned = folder.parent / f"{marker}-pwned"
    made = AttackClass(folder, marker, pwned)
    _class_folder(folder)  # the odd names: it creates the folder
    made.attackers.extend(name for name in os.listdir(os.fsencode(folder)))
    for student, fixture in CLASSMATES.items():
        shutil.copyfile(LAB / fixture, folder / f"{student}.py")
        made.classmates[student] = fixture
    snippets = [name for name in attack_names() if name not in leave_out]
    write_attacks(folder, snippets)
    made.attackers.extend(snippets)
    for student, fixture in LAB_ATTACKS.items():
        if student not in leave_out:
            shutil.copyfile(LAB / fixture, folder / f"{student}.py")
            made.attackers.append(student)
    correct = (LAB / "correct_classic.py").read_text(encoding="utf-8")
    for student, attack in _sandbox_attacks(marker, pwned).items():
        if student not in leave_out:
            (folder / f"{student}.py").write_text(correct + "\n\n" + attack, encoding="utf-8")
            made.attackers.append(student)
    made.attackers.extend(_zips(folder))
    return made


def local_assignment(where: Path, settings: dict[str, object]) -> Path:
    """A copy of `backprop-lab` under `where` (for ``--assignments``) with some [settings] replaced.

    `grader batch` has no option to replace settings; a local assignment of the same id overrides the
    bundled one. The copy is read back with the grader's own loader, so a wrong key fails here.
    """
    from grader.config.assignment import assignment_folder, read_assignment
    source = assignment_folder(ASSIGNMENT)
    target = where / ASSIGNMENT
    shutil.copytree(source, target)
    toml = target / "assignment.toml"
    text = toml.read_text(encoding="utf-8")
    head, marker, rest = text.partition("\n[settings]\n")
    section, _, tail = rest.partition("\n[")
    for key, value in settings.items():
        section, count = re.subn(rf"(?m)^{re.escape(key)}\s*=[^#\n]*", f"{key} = {json.dumps(value)} ", section)
        if count != 1:
            raise ValueError(f"{toml}: [settings] has no `{key}`")
    toml.write_text(head + marker + section + ("\n[" + tail if tail else ""), encoding="utf-8")
    loaded = read_assignment(target, ASSIGNMENT).settings
    assert all(loaded[k] == v for k, v in settings.items()), (loaded, settings)
    return where


def parse_settings(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs, each VALUE read as a TOML value (``train_timeout=10``)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"{pair!r}: expected KEY=VALUE")
        settings[key.strip()] = tomllib.loads(f"v = {value}")["v"]
    return settings


# ---------------------------------------------------------------------------- processes and files


def _stat(pid: str) -> tuple[int, str, str] | None:
    """(parent pid, state, command name) of `pid`, or None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    name, _, rest = data.partition(" (")[2].rpartition(") ")
    fields = rest.split()
    return int(fields[1]), fields[0], name


def processes() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent pid, state, command name)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(entry)) is not None:
            found[int(entry)] = info
    return found


def descendants(pid: int, table: dict[int, tuple[int, str, str]] | None = None) -> list[int]:
    """The processes below `pid` (children, their children, ...)."""
    table = processes() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def with_marker(marker: str) -> list[int]:
    """Processes whose command name starts with `marker` (the attacks name theirs so)."""
    return [pid for pid, (_, _, name) in processes().items() if name.startswith(marker)]


def describe(pid: int) -> dict:
    """What a process is, for a report (its command line cut to 200 characters)."""
    info = _stat(str(pid))
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        cmdline = ""
    return {"pid": pid, "ppid": info[0] if info else None, "state": info[1] if info else "gone",
            "name": info[2] if info else "", "cmdline": cmdline[:200]}


def largest_file(root: Path, limit: int = 200_000) -> tuple[int, str]:
    """(size, path) of the largest regular file under `root` (no links followed, at most `limit` entries).

    Iterative: a student's 1,500-deep folder chain must not need 1,500 stack frames here either.
    """
    best, seen, stack = (0, ""), 0, [os.fsencode(root)]
    while stack and seen < limit:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            size = entry.stat(follow_symlinks=False).st_size
                            if size > best[0]:
                                best = (size, os.fsdecode(entry.path))
                    except OSError:
                        continue
        except OSError:
            continue
    return best


PR_SET_CHILD_SUBREAPER = 36


def _launch(report: Path, watch: Path, grace: float, command: list[str]) -> int:
    """Run `command` as this subreaper's child; write what it left behind to `report`. Returns its status."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    out, err = report.with_suffix(".stdout"), report.with_suffix(".stderr")
    start = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        child = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
        biggest_tmp, most_processes = (0, ""), 0
        while child.poll() is None:
            biggest_tmp = max(biggest_tmp, largest_file(watch))
            most_processes = max(most_processes, len(descendants(os.getpid())))
            time.sleep(0.5)
    seconds = time.monotonic() - start
    # Whatever the batch left is now our child (or below one). Give the kernel a moment to tear it down.
    deadline = time.monotonic() + grace
    while True:
        _reap()
        left = [pid for pid in descendants(os.getpid()) if (_stat(str(pid)) or (0, "Z"))[1] != "Z"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    leftovers = [describe(pid) for pid in left]
    for pid in left:  # ours (we are their subreaper): end them, by id
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    _reap()
    children_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.write_text(json.dumps({
        "returncode": child.returncode, "seconds": seconds, "leftovers": leftovers,
        "largest_tmp_file": list(max(biggest_tmp, largest_file(watch))), "largest_tmp_file_left":
        list(largest_file(watch)), "most_processes": most_processes,
        "children_peak_rss_kb": children_peak_kb, "stdout": str(out), "stderr": str(err)}))
    return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@dataclass
class BatchRun:
    """What one `grader batch` on the attack class gave."""
    returncode: int
    seconds: float
    leftovers: list[dict]        # processes below the batch still there `grace` seconds after it returned
    marked: list[dict]           # processes anywhere named with the attack class's marker
    largest_tmp_file: tuple[int, str]       # the largest seen while the batch ran (sampled every 0.5 s) or after
    largest_tmp_file_left: tuple[int, str]  # the largest still there after the batch returned
    largest_out_file: tuple[int, str]
    most_processes: int
    children_peak_rss_kb: int
    stdout: str
    stderr: str
    out: Path

    def gradebook(self) -> list[dict]:
        """The rows of OUT/gradebook.csv."""
        with open(self.out / "gradebook.csv", newline="", encoding="utf-8") as stream:
            return list(csv.DictReader(stream))

    def results(self) -> dict[str, dict]:
        """Every OUT/<folder>/results.json, by the student id it records."""
        found = {}
        for path in self.out.glob("*/results.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            found[data.get("extra_data", {}).get("batch", {}).get("student", path.parent.name)] = data
        return found


def run_batch_subprocess(folder: Path, out: Path, work: Path, *, marker: str, settings: dict[str, object],
                         jobs: int = 2, grace: float = 5.0, timeout: float = 3600) -> BatchRun:
    """``python -m grader batch FOLDER -a backprop-lab -o OUT -j JOBS`` under the launcher; its report.

    `settings` replace [settings] of the lab through a local copy of the assignment (``--assignments``);
    the batch's TMPDIR is a folder of `work`, watched for the largest file while it runs.
    """
    tmp = work / "batch-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "grader", "batch", str(folder), "-a", ASSIGNMENT, "-o", str(out),
               "-j", str(jobs)]
    if settings:
        command += ["--assignments", str(local_assignment(work / "assignments", settings))]
    report = work / "launch.json"
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "tests.attack_class", "launch", str(report), str(tmp), str(grace),
                    "--", *command], cwd=ROOT, env=env, check=True, timeout=timeout)
    data = json.loads(report.read_text())
    marked = [describe(pid) for pid in with_marker(marker)]
    return BatchRun(data["returncode"], data["seconds"], data["leftovers"], marked, tuple(data["largest_tmp_file"]),
                    tuple(data["largest_tmp_file_left"]),
                    largest_file(out), data["most_processes"], data["children_peak_rss_kb"],
                    Path(data["stdout"]).read_text(encoding="utf-8", errors="replace"),
                    Path(data["stderr"]).read_text(encoding="utf-8", errors="replace"), out)


def main() -> None:
    """``python -m tests.attack_class launch REPORT WATCH GRACE -- COMMAND...`` (the subreaper launcher)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["launch"])
    parser.add_argument("report", type=Path)
    parser.add_argument("watch", type=Path)
    parser.add_argument("grace", type=float)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    sys.exit(_launch(args.report, args.watch, args.grace, command))


if __name__ == "__main__":
    main()

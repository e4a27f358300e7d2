"""A regular install: `python -m build` makes an sdist and a wheel that carry the bundled data, and a fresh
venv with that wheel grades from any folder while its sandbox hides the installed reference, checks and rubrics.

The venv reuses the installed dependencies (``--system-site-packages``, the
wheel with ``--no-deps``) and the build uses the installed setuptools
(``--no-isolation``): nothing is downloaded, and it stays a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from grader.config import locations

REPO = Path(__file__).resolve().parents[1]
# What a checkout holds that the build must not see (outputs, caches, other builds).
_NOT_SOURCES = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "demo-report", "out",
                                      ".pytest_cache", "*.pyc")

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")


def _run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", locations.ENV_VAR)}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel built from a copy of the checkout (the wheel is built from the sdist)."""
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCES)
    out = root / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(out), "."],
         cwd=source)
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (its dependencies taken from this Python's site-packages)."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    # No pip of its own (bootstrapping one takes most of the time): this Python's pip installs into it.
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)], cwd=folder.parent)
    wheel = next(dist.glob("*.whl"))
    _run([sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "--quiet",
          "--no-compile", "--no-deps", "--no-index", str(wheel)], cwd=folder.parent)
    return folder


def _names(dist: Path) -> tuple[set[str], set[str]]:
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    return in_wheel, in_sdist


def test_the_sdist_and_the_wheel_carry_assignments_rubrics_reference_and_the_demo_class(dist):
    in_wheel, in_sdist = _names(dist)
    for assignment in ("backprop-lab", "backprop-exercises", "backprop-research", "backprop-quiz"):
        assert f"grader/_bundled/assignments/{assignment}/assignment.toml" in in_wheel
        assert f"grader/_bundled/rubrics/{assignment}.toml" in in_wheel
        assert f"assignments/{assignment}/assignment.toml" in in_sdist
        assert f"rubrics/{assignment}.toml" in in_sdist
    assert "grader/_bundled/assignments/backprop-lab/checks/conftest.py" in in_wheel
    assert "grader/_bundled/assignments/backprop-lab/demo-class.toml" in in_wheel
    assert {"reference/backprop_lab.py", "reference/mutants.py", "reference/diagnose.py"} <= in_wheel
    assert "grader/_bundled/demo/correct_notebook.ipynb" in in_wheel
    assert "tests/fixtures/lab/correct_classic.py" in in_sdist
    assert not [name for name in in_wheel if "__pycache__" in name or name.endswith(".pyc")]


def test_the_installed_grader_grades_from_any_folder(venv, tmp_path):
    python, grader = str(venv / "bin" / "python"), str(venv / "bin" / "grader")
    where = _run([python, "-c", "import grader, reference; print(grader.__file__); print(reference.__file__)"],
                 cwd=tmp_path).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert "backprop-lab" in _run([grader, "list"], cwd=tmp_path).stdout
    shutil.copy(REPO / "tests" / "fixtures" / "lab" / "correct_classic.py", tmp_path / "lab.py")
    _run([grader, "grade", "lab.py", "-a", "backprop-lab", "--json", "results.json", "--seed", "1"], cwd=tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    automatic = [t for t in results["tests"] if t["tags"][0] != "quality"]
    assert [t["score"] for t in automatic] == [t["max_score"] for t in automatic] and len(automatic) == 4
    _run([grader, "assign", "backprop-quiz", "-o", "handout"], cwd=tmp_path)
    assert (tmp_path / "handout" / "backprop-quiz.py").is_file()
    # `grader new` writes its template from the installed package, and the copy loads as a local assignment.
    _run([grader, "new", "sig"], cwd=tmp_path)
    assert "sig: sig: the backward pass" in _run([grader, "list", "--assignments", "."], cwd=tmp_path).stdout
    # The demo's class is built from the bundled fixtures (grading it is test_demo's job).
    built = _run([python, "-c", "from pathlib import Path; from grader.demo import build_class; "
                  "print(len(build_class(Path('class'))))"], cwd=tmp_path).stdout
    assert int(built) == len(list((tmp_path / "class").iterdir())) == 17


PROBE = textwrap.dedent('''
    import json, sys
    from grader.config import locations
    from grader.sandbox import Sandbox, SandboxConfig
    from grader.source.loadplan import plan_load

    SOURCE = """
    import numpy as np
    def snoop(paths):
        found = {}
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    found[path] = "read %d bytes" % len(handle.read())
            except OSError as exc:
                found[path] = type(exc).__name__
        return found
    def compute():
        return float(np.linalg.norm(np.ones(4)))
    """
    plan = [(s.index, s.lineno, s.source) for s in plan_load(SOURCE)]
    with Sandbox(SOURCE, plan, filename="student.py", config=SandboxConfig()) as sandbox:
        out = {"snoop": sandbox.student.snoop(sys.argv[1:]), "compute": sandbox.student.compute(),
               "hidden": [str(p) for p in locations.hidden_paths()], "protections": sandbox.applied}
    print(json.dumps(out))
''')


def test_student_code_cannot_read_the_installed_reference_checks_or_rubrics(venv, tmp_path):
    site = next((venv / "lib").glob("python3*/site-packages"))
    secrets = [site / "reference" / "backprop_lab.py", site / "reference" / "mutants.py",
               site / "grader" / "_bundled" / "assignments" / "backprop-lab" / "checks" / "conftest.py",
               site / "grader" / "_bundled" / "rubrics" / "backprop-lab.toml",
               site / "grader" / "_bundled" / "demo" / "correct_classic.py"]
    import numpy
    allowed = [Path(numpy.__file__), site / "grader" / "model.py"]
    assert all(p.is_file() for p in secrets + allowed)
    (tmp_path / "probe.py").write_text(PROBE)
    proc = _run([str(venv / "bin" / "python"), "probe.py", *map(str, secrets + allowed)], cwd=tmp_path)
    out = json.loads(proc.stdout.splitlines()[-1])
    # Exactly the reference package and the bundled data are left out of the installation the worker reads.
    assert out["hidden"] == [str(site / "reference"), str(site / "grader" / "_bundled")]
    if not any(p.startswith("landlock") for p in out["protections"]):
        pytest.skip("Landlock is not available on this kernel: nothing hides files from student code")
    assert out["snoop"] == {**{str(p): "PermissionError" for p in secrets},
                            **{str(p): f"read {p.stat().st_size} bytes" for p in allowed}}
    assert out["compute"] == 2.0


def test_a_venv_inside_the_checkout_stays_readable_while_the_rest_is_hidden(tmp_path, monkeypatch):
    checkout = tmp_path / "clone"
    for name in ("grader", "reference", "assignments", "tests", ".venv", ".git"):
        (checkout / name).mkdir(parents=True)
    monkeypatch.setattr(locations, "CODE_ROOT", checkout)
    monkeypatch.setattr(locations, "BUNDLED_DIR", checkout / "grader" / "_bundled")
    monkeypatch.setattr(sys, "prefix", str(checkout / ".venv"))
    monkeypatch.delenv(locations.ENV_VAR, raising=False)
    hidden = locations.hidden_paths()
    assert checkout / ".venv" not in hidden
    assert {checkout / n for n in ("grader", "reference", "assignments", "tests", ".git")} <= set(hidden)

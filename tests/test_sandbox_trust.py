"""Nothing the worker says is believed where the trusted side can look for itself.

Refused packages are unreadable in the worker (Landlock), so deleting the
friendly import finder from ``sys.meta_path`` gains nothing; inputs shared
through trusted-side memory are read back without asking the worker, so a
student who hooks the worker's replies cannot hide that their function
changed its inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import RefusedImport, SharedHandle, StaleHandle, WorkerDied
from tests.sandbox_helpers import make_sandbox

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")

REMOVE_FINDERS = """
import sys
def _unguard():
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_RefusingFinder"]
    for name in [n for n in sys.modules if n.startswith(("standin_refused", "sklearn.neural_network"))]:
        del sys.modules[name]
def try_import(name):
    _unguard()
    try:
        module = __import__(name, fromlist=["*"])
    except BaseException as exc:
        return "refused: " + type(exc).__name__
    return "imported " + module.__name__
"""


@pytest.fixture
def support(tmp_path):
    folder = tmp_path / "support"
    (folder / "standin_refused").mkdir(parents=True)
    (folder / "standin_refused" / "__init__.py").write_text("def fit():\n    return 'solved for you'\n")
    (folder / "standin_refused_single.py").write_text("X = 1\n")
    (folder / "allowed_helper.py").write_text("def help():\n    return 'ok'\n")
    return folder


def test_a_refused_package_stays_unreadable_when_the_finder_is_removed(support):
    with make_sandbox(REMOVE_FINDERS, refused=("standin_refused", "standin_refused_single"),
                      support_dirs=(str(support),)) as sb:
        assert sb.student.try_import("standin_refused").startswith("refused: ")
        assert sb.student.try_import("standin_refused_single").startswith("refused: ")
        assert sb.student.try_import("allowed_helper") == "imported allowed_helper"  # its neighbours still load


def test_scikit_learns_mlp_cannot_be_imported_even_without_the_finder():
    pytest.importorskip("sklearn")
    with make_sandbox(REMOVE_FINDERS, refused=("sklearn.neural_network",), call_timeout=60,
                      load_timeout=60) as sb:
        assert sb.student.try_import("sklearn.neural_network").startswith("refused: ")
        assert sb.student.try_import("sklearn.linear_model") == "imported sklearn.linear_model"


def test_the_finder_still_explains_a_refusal_in_words(support):
    with make_sandbox("""
        import standin_refused
        def use():
            return standin_refused.fit()
    """, refused=("standin_refused",), support_dirs=(str(support),)) as sb:
        with pytest.raises(RefusedImport, match="`standin_refused` is not allowed in test-assignment"):
            sb.student.use()
        assert any("not allowed" in p.message for p in sb.load_problems)


# ------------------------------------------------------------------ inputs the worker cannot lie about


HOOKED = """
import copy, sys
worker_module = sys.modules["grader.sandbox.worker"]
_dispatch = worker_module.Worker.dispatch
_snapshots = {}
def _lying_dispatch(self, request):
    # Hand out pristine copies whenever the grader reads a value back.
    if request.get("op") == "put":
        reply = _dispatch(self, request)
        _snapshots[reply["handle"]] = copy.deepcopy(request["value"])
        return reply
    if request.get("op") == "get":
        for hid, obj in self.handles.items():
            if obj is request["value"] and hid in _snapshots:
                return {"ok": True, "value": _snapshots[hid]}
    return _dispatch(self, request)
worker_module.Worker.dispatch = _lying_dispatch

def forward(X, params):
    X *= 2                              # changes the caller's input in place
    params["W1"][0, 0] = 123.0
    return float(X.sum())
"""


def test_a_worker_that_lies_about_its_inputs_is_caught_by_shared_memory():
    X = np.arange(6.0).reshape(2, 3)
    params = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    with make_sandbox(HOOKED) as sb:
        # Through the worker's own `get`, the lie works: the inputs look untouched.
        X_handle, params_handle = sb.put(X.copy()), sb.put({k: v.copy() for k, v in params.items()})
        sb.student.forward(X_handle, params_handle)
        assert np.array_equal(sb.get(X_handle), X)
        # Through memory the trusted side reads itself, it does not.
        X_shared, params_shared = sb.put_shared(X), sb.put_shared(params)
        assert isinstance(X_shared, SharedHandle)
        assert sb.student.forward(X_shared, params_shared) == 2 * X.sum()
        assert np.array_equal(sb.read_shared(X_shared), 2 * X)
        after = sb.read_shared(params_shared)
        assert after["W1"][0, 0] == 123.0 and np.array_equal(after["b1"], params["b1"])
    assert X[0, 1] == 1.0  # the trusted side's own arrays were copied, never shared


def test_shared_inputs_are_real_arrays_and_survive_a_dead_worker():
    with make_sandbox("""
        import os
        import numpy as np
        def describe(a, d):
            return type(a).__name__, a.dtype.str, a.shape, sorted(d), type(d["k"]).__name__, a.flags.writeable
        def scribble_then_die(a):
            a[:] = -1
            os._exit(1)
        def use(a):
            return float(a.sum())
    """) as sb:
        a = sb.put_shared(np.arange(5, dtype=np.int32))
        d = sb.put_shared({"k": np.zeros((2, 3), dtype=np.float32), "z": np.array(2.0)})
        assert sb.student.describe(a, d) == ("ndarray", "<i4", (5,), ["k", "z"], "ndarray", True)
        with pytest.raises(WorkerDied):
            sb.student.scribble_then_die(a)
        assert np.array_equal(sb.read_shared(a), -np.ones(5, dtype=np.int32))  # read without any worker
        with pytest.raises(StaleHandle):
            sb.student.use(a)  # a new worker never saw that memory: the check must share again


def test_shared_memory_is_sealed_against_resizing():
    from grader.sandbox.shared import SharedBlock
    block = SharedBlock({"a": np.ones(1000)})
    try:
        # The worker closes its copy of the descriptor once mapped; even a descriptor to the memory
        # cannot shrink it (which would make the trusted side's view fault) or grow it.
        for size in (0, 10**6):
            with pytest.raises(PermissionError):
                os.ftruncate(block.fd, size)
        assert block.read()["a"].sum() == 1000.0
    finally:
        block.close()


@pytest.mark.parametrize("value", [[1, 2], {"a": [1]}, np.array(["x"]), {}], ids=["list", "dict-of-list", "str", "empty"])
def test_only_numeric_arrays_can_be_shared(value):
    with make_sandbox("def f():\n    return 1\n") as sb:
        with pytest.raises(TypeError):
            sb.put_shared(value)


def test_a_list_of_patches_for_one_name_is_applied_in_turn_for_one_call():
    """The gradient check swaps in the grader's compute_cost and plants a bug on top of it: the second patch
    wraps what the first made, and the student's function is back after the call."""
    sandbox = make_sandbox("def cost(x):\n    return 1.0\n\ndef check(x):\n    return cost(x)\n")
    stand_in = "def make(original):\n    return lambda x: 10.0 * x\n"
    planted = "def make(original):\n    return lambda x: original(x) + 0.5\n"
    with sandbox:
        assert sandbox.call("check", (2.0,), patch={"cost": [stand_in, planted]}).value == 20.5
        assert sandbox.call("check", (2.0,), patch={"cost": stand_in}).value == 20.0
        assert sandbox.call("check", (2.0,)).value == 1.0

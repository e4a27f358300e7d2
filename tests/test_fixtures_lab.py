"""The backprop-lab fixtures are what MANIFEST.toml says they are.

These files are test data for the grader, so this module imports some of them
in-process on the trusted side: the correct submissions and the bug variants
marked ``safe_in_process`` (never the ones that loop forever, flood the
output, exit at import or cannot be imported). It checks that

- every correct submission's backprop matches two-sided numerical gradients
  of its own cost on [2, 5, 3, 1] (relative difference < 1e-7), its train
  reaches more than 95% on held-out moons within about 3 s of CPU, and its
  plot returns a Figure;
- every bug variant changes the result of exactly the contract functions its
  manifest entry names, each called on its own (see MANIFEST.toml for how),
  and its text differs from correct_classic.py only in the functions named
  by ``location``;
- make_bugs.py and make_notebook.py reproduce the committed files byte for
  byte, and fail loudly when a replacement does not apply exactly once;
- MANIFEST.toml and the folder list the same files; the notebook is valid
  nbformat 4 and the broken files are broken the way the manifest says.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import inspect
import io
import json
import sys
import time
import tomllib
import types
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from grader.checking import relative_difference  # noqa: E402
from reference.networks import random_params, rolled  # noqa: E402
from reference import backprop_lab as ref  # noqa: E402
from reference.moons import moons, rotated  # noqa: E402

LAB = Path(__file__).resolve().parent / "fixtures" / "lab"
MANIFEST = tomllib.loads((LAB / "MANIFEST.toml").read_text(encoding="utf-8"))
NOT_FIXTURES = {"MANIFEST.toml", "make_bugs.py", "make_notebook.py"}

CONTRACT = ["linear_forward", "linear_backward", "L_layer_forward", "L_layer_backward", "compute_cost",
            "gradient_check", "train", "plot_decision_boundary"]
ALIASES = {"L_layer_forward": "L_model_forward", "L_layer_backward": "L_model_backward"}
ITEMS = {"forward", "backward", "gradient_check", "training", "quality"}
KINDS = {"correct", "bug", "broken", "attack"}
# The bug ids the assignment's fixtures must cover.
REQUIRED_BUGS = {
    "missing_1_over_m", "extra_factor_m", "db_wrong_axis", "dW_missing_transpose", "dA_prev_missing_transpose",
    "relu_mask_wrong_layer", "sigmoid_derivative_twice", "wrong_activation_hidden", "wrong_activation_output",
    "cost_wrong_sign", "cost_missing_mean", "missing_bias", "last_layer_skipped", "dZ_sign_flipped",
    "relu_backward_wrong", "one_sided_differences", "params_not_restored", "gradient_check_no_relative",
    "train_too_short", "plot_returns_none", "forward_mutates_input", "syntax_error_in_one_function",
    "missing_function", "untouched_starter", "infinite_loop_in_train", "uses_torch", "prints_a_lot",
    "exits_at_import", "hardcoded_answers",
}

CORRECT = sorted(entry["file"] for entry in MANIFEST.values() if entry["kind"] == "correct")
# Bug variants this module may import and call: everything numeric, nothing hostile.
NUMERIC_BUGS = sorted(entry["file"] for entry in MANIFEST.values()
                      if entry["kind"] == "bug" and entry["safe_in_process"])
BUG_FILES = sorted(entry["file"] for entry in MANIFEST.values() if "bug" in entry)


def entry_for(file: str) -> dict:
    return next(entry for entry in MANIFEST.values() if entry["file"] == file)


# ------------------------------------------------------------------ loading


def notebook_source(path: Path) -> str:
    """The code cells of a notebook as one Python source, without IPython magics and shell lines."""
    notebook = nbformat.read(path, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            cells.append("\n".join(lines))
    return "\n\n".join(cells) + "\n"


def load(file: str) -> types.ModuleType:
    """A fresh module object for one trusted fixture (its prints and warnings swallowed)."""
    assert entry_for(file)["safe_in_process"], f"{file} must not be imported in-process"
    path = LAB / file
    name = "lab_fixture_" + path.stem
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.suffix == ".ipynb":
            module = types.ModuleType(name)
            module.__file__ = str(path)
            exec(compile(notebook_source(path), str(path), "exec"), module.__dict__)
        else:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # lets inspect find the source of its functions
            spec.loader.exec_module(module)
    plt.close("all")
    return module


def resolve(module: types.ModuleType, name: str):
    """The module's function `name` or its alias, or None."""
    return getattr(module, name, None) or getattr(module, ALIASES.get(name, ""), None)


@functools.lru_cache(maxsize=1)
def base() -> types.ModuleType:
    return load("correct_classic.py")


# ------------------------------------------------------------------ random problems


def network(dims: list[int], seed: int) -> dict[str, np.ndarray]:
    """He-scaled weights and non-zero biases (so a dropped bias shows)."""
    return random_params(dims, np.random.default_rng(seed))


def data(n_x: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    return X, Y


def copied(params: dict) -> dict:
    return {key: value.copy() for key, value in params.items()}


# ------------------------------------------------------------------ probes
#
# Each probe calls one contract function on its own, on fixed inputs, and
# returns a plain structure of outcomes; a fixture's function "differs" when
# its structure is not the base's (arrays compared with a tight tolerance).


def attempt(call):
    try:
        return ("ok", call())
    except Exception as exc:  # the buggy code may raise anything
        return ("raises", type(exc).__name__)


def probe_linear_forward(module):
    results = []
    for seed, (n_prev, n, m) in enumerate([(3, 4, 5), (5, 2, 1), (6, 6, 2), (1, 3, 7)]):
        rng = np.random.default_rng(seed)
        A, W, b = rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
        inputs = (A.copy(), W.copy(), b.copy())

        def call():
            Z = module.linear_forward(*inputs)[0]
            unchanged = all(np.array_equal(x, y) for x, y in zip(inputs, (A, W, b)))
            return Z, unchanged
        results.append(attempt(call))
    return results


def probe_L_layer_forward(module):
    forward = resolve(module, "L_layer_forward")
    results = []
    for seed, (dims, m) in enumerate([([2, 5, 3, 1], 7), ([4, 1], 3), ([3, 6, 5, 4, 2, 1], 9), ([2, 5, 3, 1], 1)]):
        params, (X, _) = network(dims, seed), data(dims[0], m, seed)
        X_in, params_in = X.copy(), copied(params)

        def call():
            AL = forward(X_in, params_in)[0]
            unchanged = np.array_equal(X_in, X) and all(np.array_equal(params_in[k], params[k]) for k in params)
            return AL, unchanged
        results.append(attempt(call))
    return results


def probe_compute_cost(module):
    results = []
    for seed, m in enumerate([8, 1, 5]):
        rng = np.random.default_rng(seed)
        AL = rng.uniform(0.02, 0.98, size=(1, m))
        Y = (rng.random((1, m)) > 0.5).astype(float)
        results.append(attempt(lambda: float(module.compute_cost(AL.copy(), Y.copy()))))
    return results


def probe_linear_backward(module):
    results = []
    for seed, (n_prev, n, m) in enumerate([(3, 4, 5), (4, 2, 1), (2, 3, 6), (4, 4, 4)]):
        rng = np.random.default_rng(seed)
        A, W, b = rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
        dZ = rng.standard_normal((n, m))
        _, cache = base().linear_forward(A, W, b)  # the base's cache format is the bug variants' too
        if not hasattr(module, "linear_backward"):
            results.append(("missing", None))
            continue
        results.append(attempt(lambda: tuple(module.linear_backward(dZ, cache))))
    return results


def probe_L_layer_backward(module):
    backward = resolve(module, "L_layer_backward")
    results = []
    for seed, (dims, m) in enumerate([([2, 5, 3, 1], 10), ([3, 1], 4), ([6, 5, 4, 3, 2, 1], 8), ([2, 5, 3, 1], 1)]):
        params, (X, Y) = network(dims, seed), data(dims[0], m, seed)
        AL, caches = base().L_layer_forward(X, params)

        def call():
            grads = backward(AL, Y, caches)
            return sorted((k, v) for k, v in grads.items() if k.startswith(("dW", "db")))
        results.append(attempt(call))
    return results


@contextlib.contextmanager
def correct_pipeline(module):
    """Temporarily give `module` correct_classic.py's forward, cost and backward (under every alias it uses)."""
    saved = {}
    replacements = {"L_layer_forward": base().L_layer_forward, "L_model_forward": base().L_layer_forward,
                    "L_layer_backward": base().L_layer_backward, "L_model_backward": base().L_layer_backward,
                    "compute_cost": base().compute_cost}
    for name, function in replacements.items():
        if name in vars(module) or name in ("L_layer_forward", "L_layer_backward", "compute_cost"):
            saved[name] = vars(module).get(name, _MISSING)
            setattr(module, name, function)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, value)


_MISSING = object()


def probe_gradient_check(module):
    """Correct code, a planted bug (dW1 doubled), eps = 1e-4, and whether params come back unchanged."""
    params, (X, Y) = network([2, 5, 3, 1], 7), data(2, 5, 7)
    correct_backward = base().L_layer_backward  # captured before any patching

    def planted(AL, Y, caches):
        grads = dict(correct_backward(AL, Y, caches))
        grads["dW1"] = grads["dW1"] * 2.0
        return grads

    results = []
    with correct_pipeline(module):
        passed = copied(params)
        results.append(attempt(lambda: float(module.gradient_check(X.copy(), Y.copy(), passed))))
        results.append(("unchanged", all(np.array_equal(passed[k], params[k]) for k in params)))
        results.append(attempt(lambda: float(module.gradient_check(X.copy(), Y.copy(), copied(params), 1e-4))))
        saved = module.L_layer_backward, vars(module).get("L_model_backward")
        module.L_layer_backward = planted
        if saved[1] is not None:
            module.L_model_backward = planted
        try:
            results.append(attempt(lambda: float(module.gradient_check(X.copy(), Y.copy(), copied(params)))))
        finally:
            module.L_layer_backward = saved[0]
            if saved[1] is not None:
                module.L_model_backward = saved[1]
    return results


PROBES = {
    "linear_forward": probe_linear_forward,
    "L_layer_forward": probe_L_layer_forward,
    "compute_cost": probe_compute_cost,
    "linear_backward": probe_linear_backward,
    "L_layer_backward": probe_L_layer_backward,
    "gradient_check": probe_gradient_check,
}


def same(a, b) -> bool:
    """Structural equality with a tight float tolerance (identical code gives identical numbers)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-6, atol=1e-15, equal_nan=True))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@functools.lru_cache(maxsize=None)
def base_probe(function: str):
    return PROBES[function](base())


def source_closure(module: types.ModuleType, name: str) -> dict[str, str]:
    """Source of `name` and of every module-level helper and constant it reaches, stopping at contract functions."""
    stop = set(CONTRACT) | set(ALIASES.values())
    found: dict[str, str] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in found or current not in vars(module):
            continue
        value = vars(module)[current]
        if isinstance(value, types.ModuleType):
            continue
        if not isinstance(value, types.FunctionType):
            found[current] = repr(value)
            continue
        found[current] = inspect.getsource(value)
        codes = [value.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            todo += [n for n in code.co_names if n not in stop or n == name]
    return found


# ------------------------------------------------------------------ the manifest and the files


def test_manifest_and_folder_list_the_same_files():
    on_disk = {path.name for path in LAB.iterdir() if path.is_file() and path.name not in NOT_FIXTURES}
    listed = [entry["file"] for entry in MANIFEST.values()]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk


@pytest.mark.parametrize("table", sorted(MANIFEST))
def test_manifest_entry_is_well_formed(table):
    entry = MANIFEST[table]
    assert table == Path(entry["file"]).stem
    assert entry["kind"] in KINDS
    assert isinstance(entry["description"], str) and len(entry["description"]) > 20
    assert isinstance(entry["safe_in_process"], bool)
    assert set(entry["items_affected"]) <= ITEMS
    if entry["kind"] == "correct":
        assert "bug" not in entry
    if entry["file"].startswith("bug_"):
        bug = entry["file"][len("bug_"):-len(".py")]
        assert entry["kind"] in ("bug", "attack")
        assert entry["bug"] == bug and entry["expected_hint"] == bug
        assert set(entry["functions"]) <= set(CONTRACT)
        assert set(entry["cascade_items"]) <= set(entry["items_affected"])
        assert all(isinstance(name, str) for name in entry["location"]) and entry["location"]
    else:
        assert "bug" not in entry and entry["kind"] in ("correct", "broken")


def test_every_required_bug_has_a_file():
    bugs = {entry["bug"] for entry in MANIFEST.values() if "bug" in entry}
    assert REQUIRED_BUGS <= bugs
    assert len(bugs) >= 26
    assert len(CORRECT) == 5


def _import_script(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"lab_fixture_script_{Path(name).stem}", LAB / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_bugs_reproduces_the_committed_files():
    make_bugs = _import_script("make_bugs.py")
    rendered = make_bugs.render_all()
    assert set(rendered) == {entry["file"] for entry in MANIFEST.values() if entry["kind"] != "correct"}
    stale = [name for name, data in rendered.items() if (LAB / name).read_bytes() != data]
    assert not stale, f"run python3 tests/fixtures/lab/make_bugs.py: out of date {stale}"


def test_make_bugs_fails_loudly_when_a_replacement_does_not_apply_once():
    make_bugs = _import_script("make_bugs.py")
    with pytest.raises(make_bugs.ReplacementError):
        make_bugs.replace_once("a b c", "x", "y", "test")
    with pytest.raises(make_bugs.ReplacementError):
        make_bugs.replace_once("a a", "a", "b", "test")
    assert make_bugs.replace_once("a b", "b", "c", "test") == "a c"
    with pytest.raises(make_bugs.ReplacementError):
        make_bugs.replace_body("def f():\n    pass\n", "g", "    return 1\n", "test")


def test_make_notebook_reproduces_the_committed_notebook():
    make_notebook = _import_script("make_notebook.py")
    assert make_notebook.render() == (LAB / "correct_notebook.ipynb").read_text(encoding="utf-8")


def test_the_notebook_is_valid_nbformat_4_with_the_promised_cells():
    notebook = nbformat.read(LAB / "correct_notebook.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 6
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    for needed in ("%matplotlib inline", "!pip list", "import numpy as np", "make_moons", "plt.show()"):
        assert needed in code
    defining = [cell for cell in notebook.cells if cell.cell_type == "code" and "def " in cell.source]
    assert len(defining) >= 3, "the functions are spread over several cells"
    # Demo cells come last: loading moons and training after every definition.
    assert "train(" in notebook.cells[-3].source and "plt.show()" in notebook.cells[-2].source


def test_the_broken_files_are_broken_as_described():
    with pytest.raises(json.JSONDecodeError):
        json.loads((LAB / "broken_notebook.ipynb").read_text(encoding="utf-8"))
    binary = (LAB / "broken_binary.py").read_bytes()
    assert b"\x00" in binary and len(binary) > 1000
    with pytest.raises(UnicodeDecodeError):
        binary.decode("utf-8")
    assert (LAB / "empty.py").read_bytes() == b""
    latin1 = (LAB / "broken_latin1.py").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        latin1.decode("utf-8")
    assert "é".encode("latin-1") in latin1
    compile(latin1, "broken_latin1.py", "exec")  # valid Python, by its coding line
    source = (LAB / "bug_syntax_error_in_one_function.py").read_text(encoding="utf-8")
    with pytest.raises(SyntaxError):
        compile(source, "bug_syntax_error_in_one_function.py", "exec")


def _top_level(source: str) -> tuple[dict[str, str], list[str]]:
    """(function name -> its source, the other top-level statements' source)."""
    tree = ast.parse(source)
    functions, others = {}, []
    for node in tree.body:
        text = ast.get_source_segment(source, node, padded=True)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            functions[node.name] = text
        else:
            others.append(text)
    return functions, others


@pytest.mark.parametrize("file", BUG_FILES)
def test_a_bug_changes_only_the_text_its_location_names(file):
    base_source = (LAB / "correct_classic.py").read_text(encoding="utf-8")
    source = (LAB / file).read_text(encoding="utf-8")
    location = set(entry_for(file)["location"])
    if file == "bug_syntax_error_in_one_function.py":
        # The one change is the missing colon of compute_cost's def line.
        assert location == {"compute_cost"}
        assert source.replace("def compute_cost(AL, Y)\n", "def compute_cost(AL, Y):\n") == base_source
        return
    base_functions, base_others = _top_level(base_source)
    functions, others = _top_level(source)
    changed = {name for name in set(base_functions) | set(functions)
               if base_functions.get(name) != functions.get(name)}
    if others != base_others:
        changed.add("<module>")
    assert changed == location


# ------------------------------------------------------------------ correct submissions


def numerical_gradients(module, X, Y, params, epsilon=1e-7):
    """Two-sided differences of the module's own compute_cost(L_layer_forward(X, params)[0], Y)."""
    forward = resolve(module, "L_layer_forward")
    grads = {}
    for key in params:
        grad = np.zeros_like(params[key])
        for index in np.ndindex(params[key].shape):
            plus, minus = copied(params), copied(params)
            plus[key][index] += epsilon
            minus[key][index] -= epsilon
            grad[index] = (module.compute_cost(forward(X, plus)[0], Y)
                           - module.compute_cost(forward(X, minus)[0], Y)) / (2 * epsilon)
        grads["d" + key] = grad
    return grads


@pytest.mark.parametrize("file", CORRECT)
def test_correct_backprop_matches_numerical_gradients(file):
    module = load(file)
    forward, backward = resolve(module, "L_layer_forward"), resolve(module, "L_layer_backward")
    for seed in range(3):
        params, (X, Y) = network([2, 5, 3, 1], seed), data(2, 7, seed)
        AL, caches = forward(X, params)
        grads = backward(AL, Y, caches)
        for key in params:
            assert np.shape(grads["d" + key]) == params[key].shape
        numerical = numerical_gradients(module, X, Y, params)
        assert relative_difference(rolled(grads, params), rolled(numerical, params)) < 1e-7
        # The same gradients as the reference, and the student's own check agrees.
        AL_ref, caches_ref = ref.L_layer_forward(X, params)
        expected = ref.L_layer_backward(AL_ref, Y, caches_ref)
        assert relative_difference(rolled(grads, params), rolled(expected, params)) < 1e-9
        assert module.gradient_check(X, Y, copied(params)) < 1e-7


@pytest.mark.parametrize("file", CORRECT)
def test_correct_train_clears_the_bar_quickly_and_plots(file):
    module = load(file)
    X, Y = moons(1000, 20261129)
    X_test, Y_test = moons(1000, 4242)
    X, X_test = rotated(X, 237.5), rotated(X_test, 237.5)  # the grader turns its moons by a random angle
    start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        params = module.train(X.copy(), Y.copy())
    seconds = time.process_time() - start
    params = {key: np.asarray(value, dtype=float) for key, value in params.items()}
    accuracy = float(np.mean(ref.predict(X_test, params) == Y_test))
    assert accuracy > 0.95
    assert seconds < 3.0, f"train took {seconds:.2f} s of CPU"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figure = module.plot_decision_boundary(params, X, Y)
    try:
        assert isinstance(figure, Figure)
        assert figure.axes and figure.axes[0].collections, "the plot draws the data and the regions"
    finally:
        plt.close("all")


# ------------------------------------------------------------------ bug variants


@pytest.mark.parametrize("file", NUMERIC_BUGS)
def test_a_bug_changes_exactly_the_functions_it_names(file):
    entry = entry_for(file)
    named = set(entry["functions"])
    module = load(file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        differs = {function for function in PROBES if not same(PROBES[function](module), base_probe(function))}
    assert differs == named & set(PROBES), f"differs: {sorted(differs)}, named: {sorted(named)}"
    for function in ("train", "plot_decision_boundary"):
        if function not in named:
            assert source_closure(module, function) == source_closure(base(), function), \
                f"{function} (or a helper it uses) differs from correct_classic.py"


@functools.lru_cache(maxsize=None)
def _moons_problem():
    X, Y = moons(1000, 99)
    X_test, Y_test = moons(1000, 100)
    with contextlib.redirect_stdout(io.StringIO()):
        base_params = base().train(X.copy(), Y.copy())
    return X, Y, X_test, Y_test, base_params


@pytest.mark.parametrize("file", [f for f in NUMERIC_BUGS if "train" in entry_for(f)["functions"]])
def test_a_train_bug_changes_train_on_its_own(file):
    X, Y, X_test, Y_test, base_params = _moons_problem()
    module = load(file)
    with correct_pipeline(module), contextlib.redirect_stdout(io.StringIO()):
        outcome = attempt(lambda: module.train(X.copy(), Y.copy()))
    if outcome[0] == "raises":
        return  # e.g. the untouched starter's NotImplementedError: changed
    params = outcome[1]
    differs = set(params) != set(base_params) or not all(
        np.allclose(np.asarray(params[k], dtype=float), base_params[k]) for k in base_params)
    assert differs
    if entry_for(file)["bug"] == "train_too_short":
        assert np.mean(ref.predict(X_test, params) == Y_test) < 0.90
    if entry_for(file)["bug"] == "hardcoded_answers":
        # Trained elsewhere: the same params whatever the data.
        Xb, Yb = moons(1000, 5)
        with correct_pipeline(module):
            again = module.train(Xb, 1 - Yb)
        assert all(np.array_equal(again[k], params[k]) for k in params)


@pytest.mark.parametrize("file", [f for f in NUMERIC_BUGS if "plot_decision_boundary" in entry_for(f)["functions"]])
def test_a_plot_bug_changes_the_plot_on_its_own(file):
    module = load(file)
    X, Y = moons(200, 3)
    params = ref.train(X, Y, num_iterations=50)
    with correct_pipeline(module), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = attempt(lambda: module.plot_decision_boundary(params, X, Y))
    plt.close("all")
    assert not (result[0] == "ok" and isinstance(result[1], Figure))

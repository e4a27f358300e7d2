"""The issue-10 fixtures (tests/fixtures/<assignment>/verdicts) are what their manifests say they are.

These files are test data: the verdicts their manifests require are checked
by grading them (benchmarks/verdict_stability.py, tests/test_verdict_stability.py,
and the lead's grading tests); this module checks, on the trusted side and
without the grader, that each file really holds the mistake (or the correct
code) its manifest describes, so that a verdict test on it means something:

- every manifest is well formed: its tables and the folder list the same
  files, its items are the assignment's rubric items, `lose` and `keep` do
  not overlap, support folders exist;
- the generated lab bugs are reproduced by make_bugs.py and differ from
  correct_classic.py only in the functions `location` names;
- each lab and exercises file's backward pass gives the reference gradients
  on caches built from correct values in its own layout (the chapter's where
  the file has no forward), and its bug shows where its description says;
- each research engine is wrong in exactly the operations `broken` lists.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import math
import sys
import tomllib
import types
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reference import backprop_lab as ref  # noqa: E402
from reference import backprop_research as ref_research  # noqa: E402
from tests.test_fixtures_lab import _import_script, _top_level  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
FOLDERS = {"backprop-lab": "lab", "backprop-exercises": "exercises", "backprop-research": "research"}
KINDS = {"correct", "bug", "partial"}
ENTRY_KEYS = {"file", "kind", "bullet", "description", "safe_in_process", "generated", "bug", "location",
              "support", "seeds", "broken", "verdict"}
VERDICT_KEYS = {"lose", "keep", "partial", "score", "hint", "not_hint", "open", "pass_checks", "fail_checks"}


def _manifest(assignment: str) -> dict[str, dict]:
    folder = FIXTURES / FOLDERS[assignment] / "verdicts"
    return tomllib.loads((folder / "MANIFEST.toml").read_text(encoding="utf-8"))


def _rubric_points(assignment: str) -> dict[str, float]:
    rubric = tomllib.loads((REPO / "rubrics" / f"{assignment}.toml").read_text(encoding="utf-8"))
    return {item["id"]: float(item["points"]) for item in rubric["items"]}


ENTRIES = [(assignment, name) for assignment in FOLDERS for name in sorted(_manifest(assignment))]
LAB = {name: entry for name, entry in _manifest("backprop-lab").items()}
LAB_DIR = FIXTURES / "lab" / "verdicts"


# ------------------------------------------------------------------ the manifests


@pytest.mark.parametrize("assignment", sorted(FOLDERS))
def test_manifest_and_folder_list_the_same_files(assignment):
    folder = FIXTURES / FOLDERS[assignment] / "verdicts"
    on_disk = {p.name for p in folder.iterdir() if p.is_file() and p.name != "MANIFEST.toml"}
    listed = [entry["file"] for entry in _manifest(assignment).values()]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk


@pytest.mark.parametrize("assignment, name", ENTRIES, ids=[f"{a}:{n}" for a, n in ENTRIES])
def test_manifest_entry_is_well_formed(assignment, name):
    entry = _manifest(assignment)[name]
    points = _rubric_points(assignment)
    folder = FIXTURES / FOLDERS[assignment] / "verdicts"
    assert set(entry) <= ENTRY_KEYS, f"unknown fields {set(entry) - ENTRY_KEYS}"
    assert name == Path(entry["file"]).stem
    assert entry["kind"] in KINDS
    assert isinstance(entry["description"], str) and len(entry["description"]) > 40
    assert entry["bullet"].startswith("§")
    assert isinstance(entry["safe_in_process"], bool)
    for support in entry.get("support", []):
        assert (folder / support).is_dir(), f"support folder {support} does not exist"
    assert all(isinstance(seed, int) and 0 <= seed < 2**31 for seed in entry.get("seeds", []))
    if entry.get("generated"):
        assert entry["bug"] == name.removeprefix("bug_") and entry["location"]
    else:
        assert "bug" not in entry and "location" not in entry

    verdict = entry["verdict"]
    assert set(verdict) <= VERDICT_KEYS, f"unknown verdict fields {set(verdict) - VERDICT_KEYS}"
    lose, keep = set(verdict["lose"]), set(verdict["keep"])
    assert lose <= set(points) and keep <= set(points)
    assert not lose & keep
    assert set(verdict.get("partial", [])) <= lose
    for item, score in verdict.get("score", {}).items():
        assert item in points and 0 <= score <= points[item]
    for field in ("hint", "not_hint"):
        for item, words in verdict.get(field, {}).items():
            assert item in points and words and all(isinstance(w, str) and w.strip() for w in words)
    for field in ("pass_checks", "fail_checks"):
        assert all(isinstance(c, str) and c.startswith("test_") for c in verdict.get(field, []))
    if lose | keep != set(points):
        assert verdict.get("open"), "items left open need a reason in `open`"
    if entry["kind"] == "correct":
        assert not lose and keep == set(points) - {"quality"}


def test_every_bullet_of_issue_10_has_a_fixture():
    bullets = " ".join(entry["bullet"] for assignment in FOLDERS for entry in _manifest(assignment).values())
    for words in ("dead-unit", "larger values", "forward bug", "only the backward half", "training failure",
                  "support module", "finite differences", "docstring-only stubs", "plot_decision_boundary",
                  "unusual but complete layouts", "log", "pow", "exp", "number operands", "runs twice",
                  "__rsub__", "loop-based"):
        assert words in bullets, f"no fixture pins {words!r}"


# ------------------------------------------------------------------ generated lab bugs


def test_make_bugs_reproduces_the_verdict_bugs():
    make_bugs = _import_script("make_bugs.py")
    rendered = make_bugs.render_verdicts()
    assert set(rendered) == {entry["file"] for entry in LAB.values() if entry.get("generated")}
    stale = [name for name, data in rendered.items() if (LAB_DIR / name).read_bytes() != data]
    assert not stale, f"run python3 tests/fixtures/lab/make_bugs.py: out of date {stale}"


@pytest.mark.parametrize("name", sorted(n for n, e in LAB.items() if e.get("generated")))
def test_a_generated_bug_changes_only_the_text_its_location_names(name):
    base_functions, base_others = _top_level((FIXTURES / "lab" / "correct_classic.py").read_text(encoding="utf-8"))
    functions, others = _top_level((LAB_DIR / LAB[name]["file"]).read_text(encoding="utf-8"))
    changed = {f for f in set(base_functions) | set(functions) if base_functions.get(f) != functions.get(f)}
    if others != base_others:
        changed.add("<module>")
    assert changed == set(LAB[name]["location"])


@pytest.mark.parametrize("name", ["bug_stubs_return_zero", "bug_stubs_mixed"])
def test_stub_files_hold_only_docstrings_and_stub_bodies(name):
    tree = ast.parse((LAB_DIR / LAB[name]["file"]).read_text(encoding="utf-8"))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert len(functions) == 17
    forms = set()
    for function in functions:
        docstring, *body = function.body
        assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
        assert len(body) == 1
        forms.add(ast.dump(body[0]))
        assert isinstance(body[0], (ast.Pass, ast.Return, ast.Raise))
        if isinstance(body[0], ast.Return):
            assert body[0].value is None or isinstance(body[0].value, ast.Constant)
    assert len(forms) == (1 if name == "bug_stubs_return_zero" else 4)


# ------------------------------------------------------------------ loading and networks


def load(path: Path, support: list[Path] = ()) -> types.ModuleType:
    """A fresh module object for one trusted fixture (its output swallowed)."""
    saved = list(sys.path)
    sys.path[:0] = [str(p) for p in support]
    try:
        name = "verdict_fixture_" + path.parent.parent.name + "_" + path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
        return module
    finally:
        sys.path[:] = saved


def lab_module(name: str) -> types.ModuleType:
    entry = LAB[name]
    assert entry["safe_in_process"]
    return load(LAB_DIR / entry["file"], [(LAB_DIR / s).resolve() for s in entry.get("support", [])])


def resolve(module, name):
    alias = {"L_layer_forward": "L_model_forward", "L_layer_backward": "L_model_backward"}[name]
    return getattr(module, name, None) or getattr(module, alias, None)


def network(dims: list[int], m: int, seed: int, scale: float = 1.0):
    """He weights, small random biases, inputs of standard deviation 0.5 * scale, labels with both classes."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    X = 0.5 * scale * rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    if m > 1:
        Y[0, :2] = 0.0, 1.0
    return params, X, Y


def reference_grads(X, Y, params):
    AL, caches = ref.L_layer_forward(X, params)
    grads = ref.L_layer_backward(AL, Y, caches)
    return AL, caches, grads


def same_grads(got: dict, expected: dict, rtol: float = 1e-7) -> bool:
    keys = [k for k in expected if k.startswith(("dW", "db"))]
    return all(k in got and np.shape(got[k]) == expected[k].shape
               and np.allclose(got[k], expected[k], rtol=rtol, atol=1e-12) for k in keys)


NETWORKS = [([2, 5, 3, 1], 10), ([3, 1], 4), ([6, 5, 4, 3, 2, 1], 8), ([2, 5, 3, 1], 1), ([4, 4, 4, 1], 6)]


# ------------------------------------------------------------------ lab: correct files


@pytest.mark.parametrize("name", sorted(n for n, e in LAB.items() if e["kind"] == "correct"))
def test_correct_files_backprop_matches_the_reference(name):
    module = lab_module(name)
    forward, backward = resolve(module, "L_layer_forward"), resolve(module, "L_layer_backward")
    for seed, (dims, m) in enumerate(NETWORKS):
        params, X, Y = network(dims, m, seed)
        AL_ref, _, expected = reference_grads(X, Y, params)
        AL, caches = forward(X, params)
        assert np.allclose(AL, AL_ref)
        assert same_grads(backward(AL, Y, caches), expected)
    params, X, Y = network([2, 5, 3, 1], 5, 99)
    assert module.gradient_check(X, Y, {k: v.copy() for k, v in params.items()}) < 1e-7


# ------------------------------------------------------------------ lab: backward-only halves


def chapter_caches(X, params):
    return ref.L_layer_forward(X, params)


def dict_caches(X, params):
    AL, caches = ref.L_layer_forward(X, params)
    return AL, [{"A_prev": A, "W": W, "b": b, "Z": Z} for (A, W, b), Z in caches]


def class_caches(module):
    def build(X, params):
        AL, caches = ref.L_layer_forward(X, params)
        return AL, [module.Cache(A, W, b, Z) for (A, W, b), Z in caches]
    return build


@pytest.mark.parametrize("name", sorted(n for n, e in LAB.items() if n.startswith("backward_only_")))
def test_backward_only_files_are_right_on_caches_in_their_layout(name):
    module = lab_module(name)
    assert resolve(module, "L_layer_forward") is None and not hasattr(module, "linear_forward")
    backward = resolve(module, "L_layer_backward")
    layouts = {"backward_only_tuples": chapter_caches, "backward_only_lists": chapter_caches,
               "backward_only_dicts": dict_caches, "backward_only_class": class_caches(module)}
    for seed, (dims, m) in enumerate(NETWORKS):
        params, X, Y = network(dims, m, seed)
        _, _, expected = reference_grads(X, Y, params)
        AL, caches = layouts[name](X, params)
        assert same_grads(backward(AL, Y, caches), expected)
        if layouts[name] is not chapter_caches:  # the chapter's tuples cannot feed this backward
            with pytest.raises(Exception):
                backward(AL, Y, ref.L_layer_forward(X, params)[1])


# ------------------------------------------------------------------ lab: bugs


def test_dW_missing_1_over_m_scales_only_dW():
    module = lab_module("bug_dW_missing_1_over_m")
    params, X, Y = network([2, 5, 3, 1], 7, 1)
    AL, caches, expected = reference_grads(X, Y, params)
    grads = module.L_layer_backward(AL, Y, caches)
    for key in expected:
        factor = 7.0 if key.startswith("dW") else 1.0
        assert np.allclose(grads[key], factor * expected[key])


def test_clipped_relu_derivative_is_right_below_3_and_wrong_above():
    module = lab_module("bug_relu_backward_clipped")
    params, X, Y = network([3, 6, 4, 1], 9, 2)
    AL, caches, expected = reference_grads(X, Y, params)
    assert max(float(np.max(z)) for _, z in caches[:-1]) < 3
    assert same_grads(module.L_layer_backward(AL, Y, caches), expected)
    params, X, Y = network([3, 6, 4, 1], 9, 2, scale=12.0)  # pre-activations well beyond 3
    AL, caches, expected = reference_grads(X, Y, params)
    assert max(float(np.max(z)) for _, z in caches[:-1]) > 3
    assert not same_grads(module.L_layer_backward(AL, Y, caches), expected)


def test_relu_without_mask_is_wrong_below_the_output_layer():
    module = lab_module("bug_relu_backward_no_mask")
    params, X, Y = network([2, 5, 3, 1], 10, 3)
    AL, caches, expected = reference_grads(X, Y, params)
    grads = module.L_layer_backward(AL, Y, caches)
    assert np.allclose(grads["dW3"], expected["dW3"]) and not np.allclose(grads["dW1"], expected["dW1"])


def test_reused_b1_breaks_the_forward_pass_only():
    module = lab_module("bug_forward_reuses_b1")
    params, X, Y = network([2, 5, 3, 1], 6, 4)
    with pytest.raises(ValueError):
        module.L_layer_forward(X, params)
    params, X, Y = network([3, 4, 4, 1], 6, 4)  # equal hidden widths: runs, wrongly
    AL, _ = module.L_layer_forward(X, params)
    AL_ref, caches, expected = reference_grads(X, Y, params)
    assert AL.shape == AL_ref.shape and not np.allclose(AL, AL_ref)
    assert same_grads(module.L_layer_backward(AL_ref, Y, caches), expected)
    params, X, Y = network([3, 1], 6, 4)  # one layer: no hidden layer, right
    assert np.allclose(module.L_layer_forward(X, params)[0], ref.L_layer_forward(X, params)[0])


def test_plot_not_defined_lacks_only_the_plot():
    module = lab_module("bug_plot_not_defined")
    assert not hasattr(module, "plot_decision_boundary")
    assert all(hasattr(module, f) for f in ("linear_forward", "L_layer_forward", "compute_cost", "linear_backward",
                                             "L_layer_backward", "gradient_check", "train"))


def test_dnn_app_utils_submission_defines_none_of_the_passes_itself():
    module = lab_module("uses_dnn_app_utils")
    for name in ("linear_forward", "L_model_forward", "compute_cost", "linear_backward", "L_model_backward"):
        assert getattr(module, name).__module__ == "dnn_app_utils_v2", name
    for name in ("train", "gradient_check", "plot_decision_boundary"):
        assert getattr(module, name).__module__ == module.__name__, name
    params, X, Y = network([2, 5, 3, 1], 5, 5)
    AL, caches = module.L_model_forward(X, params)
    assert same_grads(module.L_model_backward(AL, Y, caches), reference_grads(X, Y, params)[2])
    assert module.gradient_check(X, Y, params) < 1e-7


def test_finite_difference_backward_is_right_but_runs_the_forward_pass_twice_per_parameter():
    module = lab_module("backward_finite_differences")
    params, X, Y = network([2, 5, 3, 1], 8, 6)
    AL, caches, expected = reference_grads(X, Y, params)
    calls = []
    forward = module.L_layer_forward
    module.L_layer_forward = lambda *args: calls.append(1) or forward(*args)
    try:
        grads = module.L_layer_backward(AL, Y, caches)
    finally:
        module.L_layer_forward = forward
    assert same_grads(grads, expected, rtol=1e-6)
    assert len(calls) == 2 * sum(v.size for v in params.values())


# ------------------------------------------------------------------ exercises


EXERCISES_DIR = FIXTURES / "exercises" / "verdicts"


def test_exercises_forward_bug_has_a_correct_backward():
    module = load(EXERCISES_DIR / "bug_any_depth_output_bias_dropped.py")
    for seed, (dims, m) in enumerate([([3, 1], 5), ([7, 6, 5, 4, 3, 1], 8), ([4, 2, 6, 1], 3)]):
        params, X, Y = network(dims, m, seed)
        AL_ref, caches, expected = reference_grads(X, Y, params)
        assert not np.allclose(module.L_layer_forward(X, params)[0], AL_ref)
        assert same_grads(module.L_layer_backward(AL_ref, Y, caches), expected)


def test_exercises_backward_only_is_right_at_any_depth():
    module = load(EXERCISES_DIR / "backward_only_any_depth.py")
    assert not hasattr(module, "L_layer_forward")
    for seed, (dims, m) in enumerate([([3, 1], 5), ([7, 6, 5, 4, 3, 1], 8), ([2, 9, 1, 4, 1], 2)]):
        params, X, Y = network(dims, m, seed)
        AL, caches, expected = reference_grads(X, Y, params)
        assert same_grads(module.L_layer_backward(AL, Y, caches), expected)


# ------------------------------------------------------------------ research: which operations are wrong


OPERATIONS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "add_number": lambda a, b: a + 2.5, "sub_number": lambda a, b: a - 2.5, "mul_number": lambda a, b: a * 2.5,
    "div_number": lambda a, b: a / 2.5, "number_add": lambda a, b: 2.5 + a, "number_sub": lambda a, b: 2.5 - a,
    "number_mul": lambda a, b: 2.5 * a, "number_div": lambda a, b: 2.5 / a, "pow": lambda a, b: a ** 3,
    "neg": lambda a, b: -a, "exp": lambda a, b: a.exp(), "log": lambda a, b: a.log(),
}
# The same operations with their first operand used once more (x ** 3 + x): a wrong `=` shows.
REUSED = {kind: (lambda op: lambda a, b: op(a, b) + a)(op) for kind, op in OPERATIONS.items()}
RESEARCH = _manifest("backprop-research")


def _gradients(Value, build, values):
    """(output, leaf gradients) of build(*leaves), or None when it raises."""
    try:
        leaves = [Value(v) for v in values]
        out = build(*leaves)
        out.backward()
        return float(out.data), [float(leaf.grad) for leaf in leaves]
    except Exception:
        return None


def _wrong(Value, build) -> bool:
    values = (1.3, 0.7)
    got, want = _gradients(Value, build, values), _gradients(ref_research.Value, build, values)
    return got is None or not (math.isclose(got[0], want[0], rel_tol=1e-9)
                               and np.allclose(got[1], want[1], rtol=1e-9, atol=1e-12))


@pytest.mark.parametrize("name", sorted(RESEARCH))
def test_research_engine_is_wrong_exactly_where_its_manifest_says(name):
    module = load(FIXTURES / "research" / "verdicts" / RESEARCH[name]["file"])
    broken = set(RESEARCH[name]["broken"])
    wrong_alone = {kind for kind, build in OPERATIONS.items() if _wrong(module.Value, build)}
    wrong_reused = {kind for kind, build in REUSED.items() if _wrong(module.Value, build)} - wrong_alone
    if broken == {"backward"}:
        assert wrong_alone == set(OPERATIONS)  # every gradient is off, whatever the operation
        return
    assert wrong_alone == {k for k in broken if not k.startswith("reuse:")}
    assert {f"reuse:{k}" for k in wrong_reused} <= broken
    assert {k for k in broken if k.startswith("reuse:")} <= {f"reuse:{k}" for k in wrong_reused}


@pytest.mark.parametrize("name", sorted(RESEARCH))
def test_research_files_checkpoint_correctly(name):
    module = load(FIXTURES / "research" / "verdicts" / RESEARCH[name]["file"])
    params, X, Y = network([6] * 16 + [1], 12, 7)
    _, _, expected = reference_grads(X, Y, params)
    for segment in (4, 3, 5):
        assert same_grads(module.checkpointed_gradients(X, Y, params, segment), expected, rtol=1e-9)

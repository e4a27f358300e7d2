"""The load plan: which top-level statements the worker runs, and why the others are skipped."""

from __future__ import annotations

import textwrap
import traceback

import pytest

from grader.source.loadplan import Statement, plan_load, statements_to_run
from grader.source.pyparse import logical_line_starts


def decisions(plan: list[Statement]) -> list[tuple[int, str]]:
    return [(s.lineno, s.action) for s in plan]


def load_like_the_worker(plan: list[Statement], filename: str = "submission.py") -> dict:
    """Run the plan the way the worker does: each statement compiled on its own with padding."""
    namespace: dict = {"__name__": "submission"}
    for _, lineno, text in statements_to_run(plan):
        exec(compile("\n" * (lineno - 1) + text, filename, "exec", dont_inherit=True), namespace)
    return namespace


LAB = textwrap.dedent('''\
    """Backprop lab, by a student."""
    import numpy as np
    import matplotlib.pyplot as plt
    from sklearn.datasets import make_moons
    try:
        import torch
    except ImportError:
        torch = None

    np.random.seed(1)
    LAYER_DIMS = [2, 5, 3, 1]
    LEARNING_RATE: float = 0.0075
    EPS = 1e-7 * 2


    def sigmoid(Z):
        """Sigmoid."""
        return 1 / (1 + np.exp(-Z))


    @np.vectorize
    def relu(z):
        return max(z, 0)


    class Layer:
        size = 3


    def train(X, Y):
        return {"W1": np.zeros((5, 2))}


    X, Y = make_moons(n_samples=1000, noise=0.2)
    X = X.T
    params = train(X, Y)
    W1 = params["W1"]
    print("trained", W1.shape)
    for i in range(3):
        print(i)
    plt.show()
    if __name__ == "__main__":
        train(X, Y)
''')


def test_lab_file_runs_definitions_and_skips_the_training_code_at_the_bottom():
    plan = plan_load(LAB)
    assert decisions(plan) == [
        (1, "run"), (2, "run"), (3, "run"), (4, "run"), (5, "run"),
        (10, "run"), (11, "run"), (12, "run"), (13, "run"),
        (16, "run"), (21, "run"), (26, "run"), (30, "run"),
        (34, "skip"), (35, "skip"), (36, "skip"), (37, "skip"), (38, "skip"), (39, "skip"), (41, "skip"),
        (42, "skip"),
    ]
    reasons = {s.lineno: s.reason for s in plan}
    assert reasons[34] == ("top-level assignment calls `make_moons(...)`, which is not run when grading "
                           "(only definitions, imports and simple values are)")
    assert reasons[35] == "uses `X`, which is only set by code that is not run when grading (line 34)"
    assert reasons[36] == ("top-level assignment calls `train(...)`, which is not run when grading "
                           "(only definitions, imports and simple values are)")
    assert reasons[37] == "uses `params`, which is only set by code that is not run when grading (line 36)"
    assert reasons[38] == "top-level call `print(...)` is demo code and is not run when grading"
    assert reasons[39].startswith("top-level `for` loop is demo code and is not run when grading")
    assert reasons[41] == "top-level call `plt.show(...)` is demo code and is not run when grading"
    assert "__main__" in reasons[42] and "not run when grading" in reasons[42]
    assert all(s.reason == "" for s in plan if s.action == "run")


def test_statement_text_and_lines_are_exact():
    plan = plan_load(LAB)
    by_line = {s.lineno: s for s in plan}
    assert by_line[5].source == "try:\n    import torch\nexcept ImportError:\n    torch = None"
    assert (by_line[5].lineno, by_line[5].end_lineno) == (5, 8)
    # A decorated function starts at its decorator.
    assert by_line[21].source == "@np.vectorize\ndef relu(z):\n    return max(z, 0)"
    assert [s.index for s in plan] == list(range(len(plan)))
    lines = LAB.split("\n")
    for s in plan:
        assert s.source == "\n".join(lines[s.lineno - 1:s.end_lineno])


def test_a_loaded_plan_defines_the_functions_and_runs_no_demo_code(capsys):
    namespace = load_like_the_worker(plan_load(LAB))
    assert {"sigmoid", "relu", "Layer", "train", "LAYER_DIMS", "EPS"} <= set(namespace)
    assert "params" not in namespace and "X" not in namespace
    assert capsys.readouterr().out == ""


NOTEBOOK_EXPORT = textwrap.dedent('''\
    #!/usr/bin/env python
    # coding: utf-8

    # In[1]:


    get_ipython().run_line_magic('matplotlib', 'inline')
    import numpy as np
    get_ipython().system('pip install scikit-learn')


    # In[2]:


    def linear_forward(A_prev, W, b):
        Z = W @ A_prev + b
        return Z, (A_prev, W, b)


    # In[3]:


    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.zeros((1, 1))
    Z, cache = linear_forward(A, W, b)
    Z.shape


    # In[4]:


    get_ipython().run_cell_magic('time', '', 'params = train(X, Y)\\n')
''')


def test_notebook_export_skips_ipython_calls_and_display_lines():
    plan = plan_load(NOTEBOOK_EXPORT, "lab.py")
    assert decisions(plan) == [
        (7, "skip"), (8, "run"), (9, "skip"),
        (15, "run"),
        (23, "run"), (24, "run"), (25, "run"), (26, "skip"), (27, "skip"),
        (33, "skip"),
    ]
    reasons = {s.lineno: s.reason for s in plan}
    assert reasons[7] == ("IPython call `get_ipython().run_line_magic(...)` only works inside Jupyter "
                          "and is not run when grading")
    assert reasons[9].startswith("IPython call `get_ipython().system(...)`")
    assert reasons[26].startswith("top-level assignment calls `linear_forward(...)`")
    assert reasons[27] == "top-level expression `Z.shape` only shows a value in a notebook and is not run when grading"
    assert reasons[33].startswith("IPython call `get_ipython().run_cell_magic(...)`")


SYNTAX_ERROR = textwrap.dedent('''\
    import numpy as np


    def relu(Z):
        return np.maximum(0, Z)


    def sigmoid(Z):
        return 1 / (1 + np.exp(-Z)


    def linear_forward(A_prev, W, b):
        Z = np.dot(W, A_prev) + b
        return Z, (A_prev, W, b)


    def compute_cost(AL, Y)
        m = Y.shape[1]
        return -np.sum(Y * np.log(AL)) / m


    def tanh(Z):
        return np.tanh(Z)
''')


def test_a_syntax_error_skips_only_the_broken_functions():
    plan = plan_load(SYNTAX_ERROR)
    assert decisions(plan) == [(1, "run"), (4, "run"), (8, "skip"), (12, "run"), (17, "skip"), (22, "run")]
    by_line = {s.lineno: s for s in plan}
    assert by_line[8].reason == "SyntaxError: '(' was never closed (line 9)"
    assert by_line[8].source == "def sigmoid(Z):\n    return 1 / (1 + np.exp(-Z)"
    assert by_line[17].reason == "SyntaxError: expected ':' (line 17)"
    assert (by_line[17].lineno, by_line[17].end_lineno) == (17, 19)
    namespace = load_like_the_worker(plan)
    assert {"relu", "linear_forward", "tanh"} <= set(namespace)
    assert "sigmoid" not in namespace and "compute_cost" not in namespace


def test_ipython_magic_left_in_a_py_file_is_skipped_as_a_syntax_error():
    source = "%matplotlib inline\nimport numpy as np\n\ndef f(x):\n    return x\n"
    plan = plan_load(source)
    assert decisions(plan) == [(1, "skip"), (2, "run"), (4, "run")]
    assert plan[0].reason == "SyntaxError: invalid syntax (line 1)"


def test_indentation_errors_name_the_students_lines():
    source = "import math\n\nif math.pi > 3:\n\ndef f(x):\n    return x\n\ndef g(x):\n  return x\n   y = 1\n"
    plan = plan_load(source)
    assert decisions(plan) == [(1, "run"), (3, "skip"), (5, "run"), (8, "skip")]
    assert plan[1].reason == "IndentationError: expected an indented block after 'if' statement on line 3 (line 3)"
    assert plan[3].reason == "IndentationError: unexpected indent (line 10)"


def test_tracebacks_from_planned_statements_carry_the_students_line_numbers():
    source = SYNTAX_ERROR.replace("def tanh(Z):\n    return np.tanh(Z)", "def tanh(Z):\n    raise ValueError(Z)")
    namespace = load_like_the_worker(plan_load(source, "alice.py"), "alice.py")
    with pytest.raises(ValueError) as info:
        namespace["tanh"](1)
    frame = traceback.extract_tb(info.tb)[-1]
    assert (frame.filename, frame.lineno) == ("alice.py", 23)
    source_lines = source.split("\n")
    assert source_lines[frame.lineno - 1].strip() == "raise ValueError(Z)"


def test_statements_after_a_semicolon_and_non_ascii_text_are_cut_exactly():
    source = 'café = "ünïcode"; print(café)\nx = [1,\n     2]; y = len(x)\n'
    plan = plan_load(source)
    assert [(s.lineno, s.source, s.action) for s in plan] == [
        (1, 'café = "ünïcode"', "run"), (1, "print(café)", "skip"),
        (2, "x = [1,\n     2]", "run"), (3, "y = len(x)", "run"),
    ]
    assert load_like_the_worker(plan)["y"] == 2


@pytest.mark.parametrize("line, action", [
    ("W = np.zeros((3, 2))", "run"),
    ("W = numpy.random.randn(3, 2) * 0.01", "run"),
    ("rng = np.random.default_rng(0)", "run"),
    ("np.random.seed(3)", "run"),
    ("matplotlib.use('Agg')", "run"),
    ("warnings.filterwarnings('ignore')", "run"),
    ("z = zeros(3)", "run"),
    ("r = math.sqrt(2) + abs(-1)", "run"),
    ("v = np.array([1, 2]).reshape(2, 1).T", "run"),
    ("Point = collections.namedtuple('Point', 'x y')", "run"),
    ("shapes = {k: (v, 1) for k, v in dict(a=1).items()}", "run"),
    ("f = lambda x: train(x)", "run"),
    ("msg = f'{len([1, 2])} items'", "run"),
    ("n = len(range(10))", "run"),
    ("params = train(X, Y)", "skip"),
    ("n = obj.len()", "skip"),
    ("W = np.zeros(train(3))", "skip"),
    ("acc = np.mean(predict(X) == Y)", "skip"),
    ("plt.plot([1, 2])", "skip"),
    ("del W", "skip"),
    ("assert 1 == 1", "skip"),
    ("raise SystemExit", "skip"),
    ("while True: pass", "skip"),
    ("with open('data.csv') as f: pass", "skip"),
    ("with np.errstate(all='ignore'): q = 1", "run"),
    ("if LAYERS: q = 1\nelse: print(q)", "skip"),
    ("x = 1 if True else 2", "run"),
    ("...", "run"),
    ("global counter", "run"),
])
def test_allow_list_decisions(line, action):
    plan = plan_load(line + "\n")
    assert [s.action for s in plan] == [action]
    assert (plan[0].reason == "") == (action == "run")


def test_compound_statement_reason_names_the_line_inside_it():
    plan = plan_load("if True:\n    x = 1\n    print(x)\n")
    assert plan[0].action == "skip"
    assert plan[0].reason == ("top-level `if` block is not run when grading because line 3 inside it is not: "
                              "call `print(...)` is demo code and is not run when grading")


def test_a_name_set_again_by_a_run_statement_is_usable():
    source = "X = np.zeros((2, 3))\nX = load()\nm = X.shape[1]\nY = load()\nY = np.ones(3)\nn = Y.size\n"
    assert decisions(plan_load(source)) == [(1, "run"), (2, "skip"), (3, "run"), (4, "skip"), (5, "run"),
                                            (6, "run")]


def test_required_names_run_with_what_they_need_but_not_the_rest():
    quiz = textwrap.dedent('''\
        import numpy as np
        h = float(input("step? "))
        def f(x):
            return x ** 2 * scale
        scale = compute_scale()
        unrelated = train()
        B5_NUMERICAL = (f(3 + h) - f(3 - h)) / (2 * h)
        B5_ANALYTICAL = 6.0
        if __name__ == "__main__":
            B5_ERROR = 0.0
    ''')
    plan = plan_load(quiz, required_names=["B5_NUMERICAL", "B5_ANALYTICAL", "B5_ERROR"])
    assert decisions(plan) == [(1, "run"), (2, "run"), (3, "run"), (5, "run"), (6, "skip"), (7, "run"),
                               (8, "run"), (9, "skip")]
    # `scale` runs anyway: f reads it, and its value calls nothing the file defines.
    assert decisions(plan_load(quiz))[3:6] == [(5, "run"), (6, "skip"), (7, "skip")]


def test_statements_to_run_is_what_the_sandbox_takes():
    plan = plan_load("import math\nprint(1)\nx = 2\n")
    assert statements_to_run(plan) == [(0, 1, "import math"), (2, 3, "x = 2")]


@pytest.mark.parametrize("source", [
    "", "\n\n# only a comment\n", "x = '''never closed\n\ndef f():\n    return 1\n",
    "(" * 300 + "\n", "def f(:\n", "x = 1\x00\n", "\tx = 1\ny = 2\n", "else:\n    pass\n",
    "@decorator\n\n", "a = (\n1,\n2\n)\nb = [\n3\n", "x = 1\r\ny = 2\rz = 3\n", "x = 1\x0cy\ny = 2\n",
])
def test_hostile_sources_are_planned_without_raising(source):
    plan = plan_load(source)
    for s in plan:
        assert s.action in ("run", "skip") and 1 <= s.lineno <= s.end_lineno
        if s.action == "run":
            compile("\n" * (s.lineno - 1) + s.source, "submission.py", "exec")


def test_windows_line_endings_keep_line_numbers():
    plan = plan_load("import math\r\n\r\ndef f():\r\n    return 1\r\nprint(f())\r\n")
    assert decisions(plan) == [(1, "run"), (3, "run"), (5, "skip")]
    assert plan[1].source == "def f():\n    return 1"


def test_logical_line_starts_follow_brackets_strings_and_backslashes():
    lines = ['x = (1,\n', '2)\n', 's = """a\n', '# not a comment\n', '"""\n', 'y = 1 + \\\n', '2\n',
             "t = 'it''s' # (\n", 'z = 3\n']
    assert logical_line_starts(lines) == [True, False, True, False, False, True, False, True, True]


def test_an_unclosed_bracket_does_not_swallow_the_functions_after_it():
    source = "def f(x):\n    return g(x\n" + "".join(f"\ndef h{i}(x):\n    return x\n" for i in range(50))
    plan = plan_load(source)
    assert plan[0].action == "skip" and plan[0].reason == "SyntaxError: '(' was never closed (line 2)"
    assert [s.action for s in plan[1:]] == ["run"] * 50




def test_constants_the_functions_read_run_but_demo_results_do_not():
    source = textwrap.dedent('''\
        import re
        _KEY = re.compile(r"^W(\\d+)$")
        def layers(params):
            return [k for k in params if _KEY.match(k)]
        def train(X, Y):
            return {}
        params = train(None, None)
        def show():
            return params
    ''')
    assert decisions(plan_load(source)) == [(1, "run"), (2, "run"), (3, "run"), (5, "run"), (7, "skip"),
                                             (8, "run")]

"""Credit only for code the student wrote: which names a submission defines itself, and what the checks then see.

grader.source.ownership reads the load plan (no code runs); StudentCode
refuses to call a required function the submission only imports, with a
message naming the module it comes from, while the student's own functions
still call such helpers inside the worker.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.checking import StudentCode, StudentCodeError
from grader.source.loadplan import plan_load
from grader.source.ownership import origins
from tests.sandbox_helpers import make_sandbox

SUPPORT = Path(__file__).parent / "fixtures" / "support" / "dnn_app_utils_v2"


def _origins(source: str):
    return origins(plan_load(textwrap.dedent(source)))


def test_definitions_and_assignments_are_the_students_own():
    found = _origins("""
        import numpy as np
        def linear_forward(A, W, b):
            return W @ A + b, (A, W, b)
        class Cache:
            pass
        L_model_forward = linear_forward
        if True:
            def nested(x):
                return x
        try:
            def guarded():
                return 1
        except Exception:
            pass
        ANSWER = (1, 2)
    """)
    for name in ("linear_forward", "Cache", "L_model_forward", "nested", "guarded", "ANSWER"):
        assert found.is_own(name), name
    assert not found.is_own("np")


def test_imported_names_are_not_and_say_where_they_come_from():
    found = _origins("""
        from dnn_app_utils_v2 import *
        from helpers import linear_backward as lb, compute_cost
        import course_utils as cu
        import numpy as np
        L_layer_forward = cu.L_model_forward
        compute_cost_alias = compute_cost
        def train(X, Y):
            return lb(X, Y)
    """)
    assert found.is_own("train")
    for name in ("lb", "compute_cost", "L_layer_forward", "compute_cost_alias", "linear_forward"):
        assert not found.is_own(name), name
    assert "comes from helpers" in found.origin("lb")
    assert "comes from course_utils" in found.origin("L_layer_forward")
    assert "comes from helpers" in found.origin("compute_cost_alias")
    assert "dnn_app_utils_v2, which your file imports with `import *`" in found.origin("linear_forward")


def test_a_definition_after_an_import_of_the_same_name_is_own():
    found = _origins("""
        from helpers import sigmoid
        def sigmoid(z):
            return 1 / (1 + np.exp(-z))
    """)
    assert found.is_own("sigmoid")


def test_statements_that_do_not_parse_are_ignored():
    found = _origins("def broken(:\n    pass\n\ndef fine():\n    return 1\n")
    assert found.is_own("fine") and not found.is_own("broken")


@pytest.fixture
def helper_student():
    source = textwrap.dedent("""
        from dnn_app_utils_v2 import *

        def L_model_forward_twice(X, parameters):
            return L_model_forward(X, parameters)[0] * 2
    """)
    sandbox = make_sandbox(source, support_dirs=(str(SUPPORT),))
    with sandbox:
        yield StudentCode(sandbox, {"L_layer_forward": ["L_model_forward"]}, origins=origins(plan_load(source)))


def test_an_imported_required_function_earns_nothing_and_the_message_names_the_module(helper_student):
    with pytest.raises(StudentCodeError) as raised:
        helper_student.resolve("L_layer_forward")
    message = raised.value.message
    assert "`L_model_forward` comes from dnn_app_utils_v2" in message and "yourself" in message
    assert not helper_student.has("L_layer_forward")


def test_the_students_own_function_still_calls_the_support_module(helper_student):
    import numpy as np

    X = np.ones((2, 3))
    params = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    value = helper_student.L_model_forward_twice(X, params)
    assert value.shape == (1, 3) and np.allclose(value, 2 / (1 + np.exp(-2.0)))

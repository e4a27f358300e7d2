"""grader/checking/unchanged.py: a value put back after a nudge may differ by rounding, where a check allows it.

A held-out gradient_check nudged each parameter in place and put it back (x + eps - 2 eps + eps): 17 of 37
entries came back one unit in the last place off, and "gradient_check leaves params as it found them" failed
(2 points for a correct check). The restoring check now allows rounding; a parameter left nudged by epsilon
still fails, and the checks of the forward and backward passes still compare exactly.
"""

from __future__ import annotations

import numpy as np

from grader.checking import StudentCode
from grader.checking.unchanged import call_and_changes
from grader.source.loadplan import plan_load
from grader.source.ownership import origins
from tests.sandbox_helpers import make_sandbox

SOURCE = '''
import numpy as np

def nudge_back(params):
    for key in params:
        theta = params[key]
        for idx in np.ndindex(theta.shape):
            theta[idx] += 1e-7
            theta[idx] -= 2e-7
            theta[idx] += 1e-7
    return 0.0

def leave_nudged(params):
    for key in params:
        params[key] -= 1e-7
    return 0.0
'''


def test_a_value_put_back_after_a_nudge_is_unchanged_where_rounding_is_allowed_and_only_there():
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((5, 3)), "b1": np.zeros((5, 1)), "W2": rng.standard_normal((1, 5)) * 1e-3}
    sandbox = make_sandbox(SOURCE)
    student = StudentCode(sandbox, {}, origins=origins(plan_load(SOURCE)))
    with sandbox:
        assert call_and_changes(student, "nudge_back", params=params, rounding=True)[1] == {}
        # Bit for bit, the put-back values are not all the same: rounding is what the option forgives.
        assert call_and_changes(student, "nudge_back", params=params)[1] == {"params": ["W1", "W2"]}
        assert call_and_changes(student, "leave_nudged", params=params, rounding=True)[1] == \
            {"params": ["W1", "W2", "b1"]}

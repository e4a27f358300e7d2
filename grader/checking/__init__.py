"""What an assignment's checks use, and the runner that runs them against one student's code.

A check is a pytest function in ``assignments/<name>/checks/``. Its docstring's
first line is what the student reads as the check's title. It receives the
fixtures ``student`` (a `StudentCode`), ``rng`` (a generator seeded from the
run's unpredictable seed and the check's id), ``module_rng`` (the same, from
the check file's id, for module-scoped fixtures whose inputs every check of
the file shares), ``assignment``, ``seed`` and ``earlier`` (the checks that
already ran and did not pass, for a hint that names another item's failing
function first); ``@pytest.mark.public`` puts it in the student's self-check, ``@pytest.mark.requires(...)`` declares the checks
it needs to pass first (see grader.checking.runner).

Failures are data: a check raises `CheckFailure` (or lets a helper here raise
it) with a student-facing message, an optional hint and JSON-able details;
the runner turns it into a `CheckOutcome`. Rendering happens elsewhere.
"""

from grader.checking.compare import (
                                     as_array,
                                     describe_args,
                                     expect_array,
                                     expect_entries,
                                     hint_text,
                                     kind_of,
                                     relative_difference,
                                     safe_hint,
                                     tolerances,
                                     wrong_entries,
)
from grader.checking.context import partial_credit, record
from grader.checking.failures import BudgetExhausted, CheckFailure, NotGraded, StudentCodeError, StudentCodeTimeout
from grader.checking.student import StudentCode
from grader.checking.unchanged import call_and_changes, changed_inputs, expect_unchanged

__all__ = [
    "BudgetExhausted", "CheckFailure", "NotGraded", "StudentCode", "StudentCodeError", "StudentCodeTimeout", "as_array",
    "call_and_changes", "changed_inputs", "describe_args", "expect_array", "expect_entries", "expect_unchanged", "hint_text",
    "kind_of", "partial_credit", "record", "relative_difference", "safe_hint", "tolerances", "wrong_entries",
]

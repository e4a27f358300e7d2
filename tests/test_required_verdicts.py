"""Issue 10's required verdicts: each fixture of tests/fixtures/<assignment>/verdicts graded as its manifest says.

Every fixture is graded once with a fixed seed and once more on each seed its
manifest lists (seeds today's grader was seen to get wrong), and the run must
meet its `[verdict]` table (tests/verdict_requirements.py): which items lose
points and which keep full marks, partial credit, exact scores, and the words
the messages and hints must (not) contain.

Today's grader misses most of them: those are strict xfails, each naming the
bullet of issue 10 it waits for; the lead removes a mark when the fix lands
(a fixed verdict makes its xfail fail). The ones that pass today (the
correct files in unusual layouts, the missing plot) must keep passing
through the fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from grader.grading import grade
from tests.verdict_requirements import violations

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FOLDERS = {"backprop-lab": "lab", "backprop-exercises": "exercises", "backprop-research": "research"}
SEED = 20261129

# Fixture -> the part of issue 10 its verdict waits for (what today's grader gives instead).
WAITING = {
    "lab/bug_dW_missing_1_over_m": "§1 dead units and §2 charge once: the gradient check gives 20/20 on seed "
                                   "275456040; the caching check charges forward; training says 'train longer'",
    "lab/bug_relu_backward_clipped": "§1 magnitudes: pre-activations stay below 3 on most seeds, so the masked "
                                     "derivative earns backward 30/30 and the gradient check 20/20 (seed 20261129)",
    "lab/bug_relu_backward_no_mask": "§2: the caching check charges forward for the backward bug, and the training "
                                     "hint says 'train longer' instead of naming the backward pass",
    "lab/bug_forward_reuses_b1": "§2: backward is fed the student's own (wrong) forward caches: 18.75/30",
    "lab/backward_only_tuples": "§2: a backward-only file scores 0 for backward (no forward to make caches)",
    "lab/backward_only_lists": "§2: a backward-only file scores 0 for backward (no forward to make caches)",
    "lab/backward_only_dicts": "§2: the report does not say what caches backward was given",
    "lab/backward_only_class": "§2: the report does not say what caches backward was given",
    "lab/uses_dnn_app_utils": "§3: imported forward and backward earn 20/20 and 30/30",
    "lab/backward_finite_differences": "§3: a finite-difference backward pass earns 30/30",
    "exercises/bug_any_depth_output_bias_dropped": "§2 (exercises): one check judges forward and backward together, "
                                                   "so a forward bug costs the whole any-depth item",
    "exercises/backward_only_any_depth": "§2 (exercises): without a forward pass the backward half earns nothing",
}


def _cases():
    for assignment, folder in FOLDERS.items():
        manifest = tomllib.loads((FIXTURES / folder / "verdicts" / "MANIFEST.toml").read_text(encoding="utf-8"))
        for name, entry in sorted(manifest.items()):
            key = f"{folder}/{name}"
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"issue 10 {WAITING[key]}")] \
                if key in WAITING else []
            yield pytest.param(assignment, folder, entry, marks=marks, id=key)


@pytest.mark.parametrize("assignment, folder, entry", list(_cases()))
def test_the_grader_gives_the_required_verdict(assignment, folder, entry):
    where = FIXTURES / folder / "verdicts"
    support = tuple(str((where / s).resolve()) for s in entry.get("support", []))
    problems = []
    for seed in dict.fromkeys([SEED, *entry.get("seeds", [])]):
        run = grade(where / entry["file"], assignment, seed=seed, support_dirs=support)
        problems += [f"seed {seed}: {p}" for p in violations(run, entry["verdict"])]
    assert not problems, "\n".join(problems)


def test_every_waiting_fixture_exists():
    names = {f"{folder}/{Path(p).stem}" for folder in FOLDERS.values()
             for p in (FIXTURES / folder / "verdicts").glob("*.py")}
    assert set(WAITING) <= names

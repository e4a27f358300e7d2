"""A batch's pool processes import the assignment's trusted modules once, in the fork server, before forking.

Without the modules the check files import (for the lab: reference.figures with SciPy, reference.moons with
scikit-learn, about 2 s), every pool process's first student would pay for them.
"""

from __future__ import annotations

from types import SimpleNamespace

from grader.batch import trusted_modules
from grader.config.assignment import load_assignment


def test_the_modules_the_checks_import_are_preloaded():
    modules = trusted_modules(load_assignment("backprop-lab"))
    assert {"reference.backprop_lab", "reference.figures", "reference.moons", "reference.stand_in"} <= set(modules)
    assert "__future__" not in modules and len(modules) == len(set(modules))


def test_a_check_file_that_does_not_parse_is_left_to_the_checks_to_report(tmp_path):
    (tmp_path / "test_fine.py").write_text("import json\nfrom os import path\nfrom . import helpers\n")
    (tmp_path / "test_broken.py").write_text("def (:\n")
    assignment = SimpleNamespace(hooks=SimpleNamespace(modules=[]), reference_module=None, checks_dir=tmp_path)
    assert trusted_modules(assignment) == ["json", "os"]


def test_what_a_pool_process_preloaded_is_left_out_of_its_garbage_collections():
    # Frozen at the pool process's start: the collections of every grading walk only that grading's objects.
    import gc

    from grader.batch.pool import _local_executor
    with _local_executor(1) as pool:
        frozen = pool.submit(gc.get_freeze_count).result(timeout=120)
    assert frozen > 10_000  # the fork server's preload: grader, pytest, NumPy, Pillow (about 44,000 objects)

"""The one chunked parser: the load plan and the quality estimate agree on a broken file, in linear time."""

from __future__ import annotations

import ast

import pytest

from grader.scoring.quality.parsing import parse as quality_parse
from grader.source import pyparse
from grader.source.loadplan import SKIP, plan_load
from grader.source.pyparse import bound_names, parse_pieces

BROKEN = {
    "missing colon": "import numpy as np\n\ndef f(x)\n    return x\n\n# a comment\n\ndef g(x):\n    return x\n",
    "unclosed bracket, trailing comment": "import math\n\nX = [1, 2,\n\n# note\ndef g(x):\n    return x\n",
    "bad indentation in the middle": "def f(x):\n    return x\n\ndef g(x):\n  y = x\n    return y\n\n\ndef h():\n    pass\n",
    "two broken functions": "def f(x)\n    return x\ndef g(x)\n    return x\n\ndef h(x):\n    return x\n",
    "docstring with unindented lines": 'def f(x):\n    """Doc.\nunindented\n"""\n    return x(\n\ndef g():\n    pass\n',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_load_plan_and_the_quality_estimate_report_the_same_broken_lines(name):
    source = BROKEN[name]
    skipped = [(s.lineno, s.end_lineno) for s in plan_load(source) if s.action == SKIP]
    unparsed = quality_parse(source).unparsed
    assert skipped and skipped == unparsed


def test_a_broken_piece_names_the_files_line_in_pythons_message():
    source = "import math\n\nif math.pi > 3:\n\ndef f(x):\n    return x\n"
    failure = parse_pieces(source).failures[0]
    assert (failure.first, failure.last, failure.error_line) == (3, 3, 3)
    assert failure.error.endswith("after 'if' statement on line 3")


def test_statements_keep_the_files_line_numbers():
    source = "def f(x)\n    return x\n\n\ndef g(x):\n    return x\n"
    assert [node.lineno for node in parse_pieces(source).statements] == [5]


ATTACKS = {
    "unclosed bracket then bad lines": "x = (\n" + "".join(f"@@@ bad {i} ??\n" for i in range(4000)),
    "bad lines": "".join(f"@@@ bad {i} ??\n" for i in range(4000)),
    "open brackets": "".join(f"y{i} = [\n" for i in range(4000)),
    "unterminated strings": "".join(f"s{i} = '''\n" for i in range(4000)),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_parsing_reads_each_line_a_bounded_number_of_times(name, monkeypatch):
    source = ATTACKS[name]
    parsed_chars = []
    real = pyparse.parse

    def counting(text, filename="<submission>"):
        parsed_chars.append(len(text))
        return real(text, filename)

    monkeypatch.setattr(pyparse, "parse", counting)
    parse_pieces(source)
    # The whole file once, its chunk once, and each line in at most 1 + 2 + ... + (1 + MAX_MERGE) windows of
    # merged pieces: a constant number of times per line, linear in the file, never quadratic.
    windows = (pyparse.MAX_MERGE + 1) * (pyparse.MAX_MERGE + 2) // 2
    assert sum(parsed_chars) <= (2 + windows) * len(source)


@pytest.mark.parametrize("source", [
    "X = a" + ".b" * 2000 + "\n\ndef f():\n    return X\n",
    "X = a" + ".b" * 2000 + "()\n\ndef f():\n    return X\n",
    "X = a" + "[0]" * 2000 + "\n",
    "X = " + "+".join(["a"] * 20000) + "\n",
    "X = a" + ".b()" * 2000 + "\n",
])
def test_deep_expressions_are_planned_without_recursion_errors(source):
    plan = plan_load(source, required_names=["X"])
    assert plan and all(s.action in ("run", "skip") for s in plan)


def test_bound_names_in_source_order_with_local_scopes_left_out():
    tree = ast.parse("import a.b as c, d.e\nfrom f import *\nx, (y, *z) = 1, (2, 3)\n"
                     "def g(p=(q := 1)):\n    inner = 1\n[w for w in range(3)]\ntry:\n    pass\n"
                     "except E as err:\n    pass\nlam = lambda arg: arg\n")
    assert [name for node in tree.body for name in bound_names(node)] == \
        ["c", "d", "x", "y", "z", "g", "q", "err", "lam"]

"""docs/authoring.md stays true: its walkthrough, followed step by step, builds an assignment that grades,
and it documents every key the configuration accepts.

The walkthrough's steps are the code blocks after ``<!-- guide: ACTION -->``
comments (invisible when the Markdown is rendered): ``run`` runs each line
as a `grader` command, ``write PATH`` writes the block, ``append PATH`` adds
it, and ``replace PATH PREFIX`` replaces the line starting with PREFIX.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from grader.cli import main
from grader.config import assignment as assignment_config
from grader.config import hooks, locations, rubric

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
_STEP = re.compile(r"<!-- guide: (?P<action>.+?) -->\n```\w*\n(?P<block>.*?)```", re.S)


def steps() -> list[tuple[str, str]]:
    """The walkthrough's (action, code block) pairs, in order."""
    return [(m["action"].strip(), m["block"]) for m in _STEP.finditer(GUIDE.read_text(encoding="utf-8"))]


def follow(action: str, block: str, course: Path, capsys) -> list[str]:
    """Carry out one step in `course`; returns what its commands printed."""
    verb, _, rest = action.partition(" ")
    printed = []
    if verb == "run":
        for line in block.strip().splitlines():
            words = shlex.split(line)
            assert words[0] == "grader", line
            assert main(words[1:]) == 0, line
            printed.append(capsys.readouterr().out)
        return printed
    path, _, prefix = rest.partition(" ")
    target = course / path
    if verb == "write":
        assert not target.exists(), f"{path} exists: the guide writes a new file"
        target.write_text(block)
    elif verb == "append":
        target.write_text(target.read_text() + block)
    elif verb == "replace":
        lines = target.read_text().splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        assert len(hits) == 1, f"{path}: {len(hits)} lines start with {prefix!r}"
        lines[hits[0]] = block
        target.write_text("".join(lines))
    else:
        raise AssertionError(f"unknown guide action {action!r}")
    return printed


def test_following_the_walkthrough_builds_an_assignment_that_grades(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(locations.ENV_VAR, raising=False)
    walkthrough = steps()
    assert [a.split()[0] for a, _ in walkthrough].count("run") == 2 and len(walkthrough) >= 9
    printed = []
    for action, block in walkthrough:
        printed += follow(action, block, tmp_path, capsys)
    listing = next(out for out in printed if "sigmoid-lab:" in out)
    assert "sigmoid-lab: sigmoid-lab: the backward pass of a sigmoid layer (15 points)" in listing
    assert "cost_backward" in listing
    handout = (tmp_path / "handout" / "sigmoid-lab.py").read_text()
    assert "def cost_backward(AL, Y)" in handout and "(1 - Y) / (1 - AL)" not in handout
    readme = (tmp_path / "handout" / "README.md").read_text()
    assert "cost_backward gives the gradient of the mean cost for m = 4" in readme

    reference = json.loads((tmp_path / "reference.json").read_text())
    automatic = {t["tags"][0]: (t["score"], t["max_score"]) for t in reference["tests"] if t["tags"][0] != "quality"}
    assert automatic == {"sigmoid_backward": (8, 8), "cost_backward": (5, 5)}
    check = next(out for out in printed if "cost_backward gives" in out)
    assert "divide the gradient by m" in check
    bug = json.loads((tmp_path / "bug.json").read_text())
    scores = {t["tags"][0]: t["score"] for t in bug["tests"]}
    statuses = {c["check_id"]: c["status"] for c in bug["extra_data"]["checks"]
                if c["check_id"].startswith("test_cost")}
    # With m = 1 the missing 1/m changes nothing: only that check passes.
    assert statuses == {"test_cost.py::test_cost_backward_small_batch": "failed",
                        "test_cost.py::test_cost_backward_any_batch[1]": "passed",
                        "test_cost.py::test_cost_backward_any_batch[9]": "failed"}
    assert scores["sigmoid_backward"] == 8 and 0 < scores["cost_backward"] < 5
    # The limit and the hook took effect.
    monkeypatch.setenv(locations.ENV_VAR, str(tmp_path))
    loaded = assignment_config.load_assignment("sigmoid-lab")
    assert loaded.limits["call_timeout"] == 5
    assert "AL and Y both have shape" in loaded.hooks.exception_hint("cost_backward", "ValueError",
                                                                     "operands could not be broadcast", {})


def _documented(section: str) -> set[str]:
    """The `key` names in the first column of the guide's tables under `section` (up to the next ## heading)."""
    text = GUIDE.read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(?:\[)?([a-z_]+)\]?`", body, flags=re.M))


@pytest.mark.parametrize("keys, section", [
    (assignment_config._TOP_KEYS, "assignment.toml"),
    (set(assignment_config._LIMIT_FIELDS), "assignment.toml"),
    (set(assignment_config._STARTER_KEYS), "assignment.toml"),
    (set(hooks.HOOK_NAMES), "Hooks"),
])
def test_every_configuration_key_is_documented(keys, section):
    assert set(keys) - _documented(section) == set()


def test_every_rubric_key_is_documented():
    text = GUIDE.read_text(encoding="utf-8").split("## The rubric", 1)[1].split("\n## ", 1)[0]
    written = set(re.findall(r"^#?\s*\[?\[?(?:items\.)?([a-z_]+)\]?\]?\s*=", text, flags=re.M))
    written |= {"items"} if "[[items]]" in text else set()
    written |= set(re.findall(r"^\[items\.([a-z_]+)\]", text, flags=re.M))
    assert (set(rubric._TOP_KEYS) | set(rubric._ITEM_KEYS)) - written == set()

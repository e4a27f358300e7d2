"""What the grading tests of the exercises, research and quiz assignments share: assertions, reference submissions."""

from __future__ import annotations

import re
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def failures(run) -> str:
    """Every check of a grading run that did not earn full credit, one line each (for assertion messages)."""
    return "\n".join(f"{o.check_id}: {o.status} {o.fraction} {o.message[:300]} | {o.hint}"
                     for o in run.result.outcomes if o.status != "passed" or o.fraction < 1)


def assert_scores(run, fractions: dict[str, float]) -> None:
    """Each rubric item scored exactly `fractions[item]` of its points (items not named: full points)."""
    got = {item.id: item.score for item in run.result.items}
    expected = {item.id: round(item.max_score * fractions.get(item.id, 1.0), 4) for item in run.result.items}
    assert got == expected, failures(run)


def assert_fragments(run, fragments: list[tuple[str, str]]) -> None:
    """For each (check id fragment, text): some check whose id contains the fragment says the text.

    A check says what its message and hint say together.
    """
    for check, fragment in fragments:
        texts = [f"{o.message} {o.hint or ''}" for o in run.result.outcomes if check in o.check_id]
        assert texts, f"no check matching {check!r} ran"
        assert any(fragment in text for text in texts), (check, fragment, texts)


def reference_submission(module: str, folder: Path) -> Path:
    """``reference/<module>.py`` as one submission file in `folder`, the lab reference it imports from inlined."""
    lab = (REFERENCE / "backprop_lab.py").read_text()
    source = re.sub(r"^from reference\.backprop_lab import .*$", "", (REFERENCE / f"{module}.py").read_text(),
                    flags=re.M)
    path = Path(folder) / f"reference_{module.removeprefix('backprop_')}.py"
    path.write_text(lab + "\n\n" + source)
    return path

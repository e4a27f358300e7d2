"""The terminal summary of a graded result: an item table, then what to fix.

Two audiences: `grader grade` (everything, with points, overrides and notes)
and the student's self-check `grader check` (``public_only``: public checks
only, counted rather than scored, since hidden checks decide the grade). Only
a check's title, message and hint are ever printed, never its details, so the
self-check reveals no expected value the messages do not already state. All
text passes `grader.text.printable` before the summary adds its own colours:
a student's message cannot clear the screen or write a score of its own.
"""

from __future__ import annotations

import textwrap
from typing import Callable

from grader.model import PASSED, CheckOutcome, GradeResult, ItemResult
from grader.report import format_points, status_label
from grader.text import printable

WIDTH = 88
BAR_WIDTH = 10
_TITLE_MAX = 40

_RESET = "\x1b[0m"
_STYLES = {"bold": "\x1b[1m", "green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "dim": "\x1b[2m"}


def render_summary(result: GradeResult, *, color: bool, public_only: bool = False) -> str:
    """The summary text of `result` for a terminal, lines at most 88 columns wide.

    Without `color` the text has no ANSI escape codes. With `public_only`
    (the student's self-check) only checks marked public are shown, items
    show how many public checks passed instead of points, and only the notes
    of items not fed by checks (the code-quality evidence) are printed.
    """
    paint = _painter(color)
    lines = _header(result, paint, public_only)
    lines.append("")
    lines.extend(_table(result, paint, public_only))
    notes = _notes(result, public_only)
    if notes:
        lines += ["", paint("Notes", "bold")] + notes
    failed = [(item, o) for item in result.items for o in _shown(item, public_only) if not o.earned_full_credit()]
    lines.append("")
    if failed:
        lines.append(paint("Checks not passed" if not public_only else "Public checks not passed", "bold"))
        for item, outcome in failed:
            lines.extend(_failure(item, outcome, paint))
    elif any(_shown(item, public_only) for item in result.items):
        lines.append(paint("All " + ("public " if public_only else "") + "checks passed.", "green"))
    return "\n".join(lines)


def _header(result: GradeResult, paint: Callable[[str, str], str], public_only: bool) -> list[str]:
    title = result.metadata.get("title") or result.assignment
    heading = f"{result.assignment}: {title}" if title != result.assignment else result.assignment
    lines = [paint(line, "bold") for line in _wrap(heading, "")]
    if public_only:
        lines += _wrap("Self-check: public checks only. Your grade also depends on hidden checks, so passing "
                       "every check here does not guarantee full points.", "")
    else:
        lines.append(paint(f"Score: {format_points(result.score)} / {format_points(result.max_score)}",
                           _tone(result.score, result.max_score)))
    return lines


def _table(result: GradeResult, paint: Callable[[str, str], str], public_only: bool) -> list[str]:
    rows = [(item.id, item.title, *_progress(item, public_only)) for item in result.items]
    id_width = max(len(row[0]) for row in rows)
    text_width = max(len(row[2]) for row in rows)
    # The title column gets what the other columns leave of the 88.
    room = WIDTH - 2 - id_width - 2 - 2 - text_width - 2 - (BAR_WIDTH + 2)
    title_width = max(10, min(_TITLE_MAX, room, max(len(row[1]) for row in rows)))
    lines = []
    for item_id, title, text, fraction in rows:
        item_id, title = printable(item_id, multiline=False), printable(title, multiline=False)
        if len(title) > title_width:
            title = title[:title_width - 3] + "..."
        line = f"  {item_id:<{id_width}}  {title:<{title_width}}  {text:>{text_width}}"
        if fraction is not None:
            line += "  " + paint(_bar(fraction), _tone(fraction, 1.0))
        lines.append(line.rstrip())
    return lines


def _progress(item: ItemResult, public_only: bool) -> tuple[str, float | None]:
    """The score column's text and the bar's fraction (None: no bar)."""
    score = f"{format_points(item.score)}/{format_points(item.max_score)}"
    if public_only and not _fed_by_checks(item):
        return f"estimate {score}", _ratio(item.score, item.max_score)
    if public_only:
        shown = _shown(item, public_only)
        if not shown:
            return "no public checks", None
        passed = sum(1 for o in shown if o.earned_full_credit())
        return f"{passed}/{len(shown)} public checks passed", passed / len(shown)
    return score, _ratio(item.score, item.max_score)


def _notes(result: GradeResult, public_only: bool) -> list[str]:
    lines = []
    for item in result.items:
        if item.override is not None and not public_only:
            comment = f": {item.override.comment}" if item.override.comment else ""
            lines += _wrap(f"{item.id}: score set by the instructor to {format_points(item.score)}/"
                           f"{format_points(item.max_score)} (automatic {format_points(item.automatic_score)})"
                           f"{comment}", "  ")
        # Notes of check-fed items can name hidden checks; the self-check keeps to the estimate's evidence.
        if public_only and _fed_by_checks(item):
            continue
        for note in item.notes:
            lines += _wrap(f"{item.id}: {note}", "  ")
    return lines


def _failure(item: ItemResult, outcome: CheckOutcome, paint: Callable[[str, str], str]) -> list[str]:
    head = _wrap(f"[{item.id}] {outcome.title} ({status_label(outcome)})", "  ")
    lines = [paint(line, "red" if outcome.status != PASSED else "yellow") for line in head]
    if outcome.message:
        lines += _wrap(outcome.message, "      ")
    if outcome.hint:
        lines += [paint(line, "dim") for line in _wrap(f"Hint: {outcome.hint}", "      ")]
    return lines


def _shown(item: ItemResult, public_only: bool) -> list[CheckOutcome]:
    return [o for o in item.outcomes if o.public or not public_only]


def _fed_by_checks(item: ItemResult) -> bool:
    return item.source is None


def _wrap(text: str, indent: str) -> list[str]:
    """`text` made printable and wrapped to WIDTH, every line indented; its own line breaks and indentation are kept."""
    lines = []
    for raw in printable(text).splitlines() or [""]:
        stripped = raw.lstrip()
        lead = indent + raw[:len(raw) - len(stripped)]
        if not stripped:
            lines.append("")
            continue
        lines += textwrap.wrap(stripped, width=WIDTH, initial_indent=lead, subsequent_indent=lead + "  ",
                               break_on_hyphens=False) or [lead]
    return lines


def _bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


def _ratio(score: float, maximum: float) -> float:
    return score / maximum if maximum > 0 else 0.0


def _tone(score: float, maximum: float) -> str:
    if score >= maximum:
        return "green"
    return "yellow" if score > 0 else "red"


def _painter(color: bool) -> Callable[[str, str], str]:
    def paint(text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if color and text else text
    return paint

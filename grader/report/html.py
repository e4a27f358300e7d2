"""Self-contained HTML reports: one per student, and the class index.

Everything a page needs is inline (its CSS, the index's few lines of sorting
JavaScript, images as data: URIs), so a report opens offline, survives being
mailed or archived, and never fetches anything. Student output and messages
are hostile text: the jinja2 environment autoescapes everything and nothing a
student controls is ever marked safe. A Content-Security-Policy meta tag backs
that up: a student report may run no script at all, the index only its own
sorting script (allowed by hash).

The pages read the results.json dict (see spec/INTERFACES.md) defensively: a
missing or malformed field loses its section, never the whole report.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import os
import re
import shlex
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

import jinja2

from grader.files import write_text_atomic
from grader.report.formats import number as _number
from grader.report.formats import percent, points, scientific, seconds, significant
from grader.report.sections import Section, is_png

TEMPLATES = Path(__file__).with_name("templates")

# An embedded figure larger than this is not a plot; it would only bloat the
# page, so it is left out with a note.
MAX_IMAGE_BYTES = 3 * 1024 * 1024
# Long student-controlled text is cut so one flood cannot make a report unreadable.
MAX_TEXT = 20_000
MAX_LIST = 200
TOP_FAILURES = 10

# Icons and words go with the colours so a status reads the same in grayscale print.
STATUS_LOOK = {
    "passed": ("✓", "passed"),
    "failed": ("✗", "failed"),
    "error": ("⚠", "error"),
    "timeout": ("◔", "timed out"),  # a clock-like glyph that common fonts (DejaVu, system UI) all have
    "skipped": ("↷", "not graded"),
    "not_run": ("∅", "did not run"),
    "budget": ("◷", "time budget used up"),  # the submission's budget for all checks ran out
}
NOT_PASSED = ("failed", "error", "timeout", "not_run")
# The " [n_prev=3,n=4,m=5]" that pytest parametrization appends to a check's title.
PARAMETRIZATION = re.compile(r"\s*\[[^\[\]]*\]$")

# Trusted, fixed code (never built from data): turns each header of the student
# table into a button that sorts by its column (each cell's data-sort value),
# marks the column with aria-sort and says what happened in a live region.
# Without it the table is still complete, in student order.
SORT_SCRIPT = """
(function () {
  var table = document.getElementById("students");
  var status = document.getElementById("sort-status");
  if (!table || !table.tHead) { return; }
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, column) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) { button.appendChild(th.firstChild); }
    var arrow = document.createElement("span");
    arrow.className = "arrow";
    arrow.setAttribute("aria-hidden", "true");
    button.appendChild(arrow);
    th.appendChild(button);
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.getAttribute("data-type") === "number";
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-sort") || "";
        var y = b.cells[column].getAttribute("data-sort") || "";
        var order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
      if (status) {
        status.textContent = "Sorted by " + (th.getAttribute("data-label") || th.textContent) + ", " +
          (ascending ? "ascending" : "descending") + ".";
      }
    });
  });
  if (status) { status.textContent = ""; }
  table.classList.add("sortable");
})();
"""
SORT_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()


# ---------------------------------------------------------------- public API


def render_student_report(results: dict, *, student: str | None = None, sections: Iterable[Section] = ()) -> str:
    """The student's report as one self-contained HTML page.

    `results` is the results.json dict; `student` is the id shown in the
    title (default: the submission's file name from extra_data); `sections`
    are the assignment's own sections (its report_sections hook), shown
    after the rubric items.
    """
    view = _student_view(results, student, list(sections))
    return _environment().get_template("student.html.j2").render(report=view)


def write_student_report(path: str | os.PathLike, results: dict, *, student: str | None = None,
                         sections: Iterable[Section] = ()) -> None:
    """Write `render_student_report` to `path` atomically (a reader never sees half a page)."""
    write_text_atomic(Path(path), render_student_report(results, student=student, sections=sections))


def render_class_index(rows: list[dict], *, assignment: str, rubric_items: list[dict],
                       similarity: dict | None = None) -> str:
    """The class summary (index.html): histogram, per-item statistics, frequent failures, student table.

    Each row: ``{"student", "status", "score", "max_score", "items": {item_id: score},
    "results": results.json dict or None, "reason": str, "folder": str}``; `rubric_items`:
    ``[{"id", "title", "max_score"}]`` in rubric order. Students link to
    ``<folder>/report.html`` (the folder defaults to the student id). `similarity`:
    ``{"pairs": [{"first", "second", "similarity", "identical"}], "total", "groups", "near"}``
    (grader.batch.similarity).
    """
    view = _index_view(rows, assignment, rubric_items)
    view["similarity"] = _similarity_view(similarity)
    return _environment().get_template("index.html.j2").render(index=view, sort_script=SORT_SCRIPT,
                                                               sort_script_hash=SORT_SCRIPT_HASH)


def write_class_index(path: str | os.PathLike, rows: list[dict], *, assignment: str,
                      rubric_items: list[dict], similarity: dict | None = None) -> None:
    """Write `render_class_index` to `path` atomically."""
    write_text_atomic(Path(path), render_class_index(rows, assignment=assignment, rubric_items=rubric_items,
                                                     similarity=similarity))


# ---------------------------------------------------------------- plumbing


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # autoescape=True rather than select_autoescape: the templates end in .j2,
    # which select_autoescape would not recognise as HTML.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = points
    env.filters["sci"] = scientific
    env.filters["sig"] = significant
    env.filters["percent"] = percent
    env.filters["seconds"] = seconds
    return env


def _share(score: Any, maximum: Any) -> float:
    """score/maximum as a percentage clamped to [0, 100] (a bar's width)."""
    score, maximum = _number(score), _number(maximum)
    if score is None or not maximum:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * score / maximum)), 1)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    """Any value as display text, cut at `limit` characters with a visible note."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters not shown)"
    return text


def _dicts(value: Any) -> list[dict]:
    return [entry for entry in value[:MAX_LIST] if isinstance(entry, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [_text(entry, 2000) for entry in value[:MAX_LIST]] if isinstance(value, list) else []


# ---------------------------------------------------------------- student report


def _student_view(results: Any, student: str | None, sections: list[Section]) -> dict:
    results = results if isinstance(results, dict) else {}
    extra = results.get("extra_data") if isinstance(results.get("extra_data"), dict) else {}
    checks = _all_checks(extra)
    shown = {key for section in sections for key in section.shows_details}
    items, leftovers = _item_views(results, extra, checks, shown)
    error = str(extra.get("submission_error") or "")
    if error:
        # The banner shows the error once; every item repeats it in its reason otherwise.
        for item in items:
            item["notes"] = [note.replace(error, "see the message at the top") for note in item["notes"]]
    submission_file = extra.get("submission_file")
    if student is None:
        student = Path(str(submission_file)).stem if submission_file else "unknown student"
    seed = extra.get("seed")
    metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
    assignment = str(extra.get("assignment") or "")
    sha = str(extra.get("submission_sha256") or "")
    return {
        "student": _text(student, 200),
        "assignment": assignment,
        "title": _text(metadata.get("title") or assignment, 300),
        "score": _number(results.get("score")),
        "max_score": _number(results.get("max_score")),
        "share": _share(results.get("score"), results.get("max_score")),
        "items": items,
        "other_checks": [_check_view(c, shown) for c in leftovers],
        "counts": _status_counts(checks),
        "sections": [_section_view(section) for section in sections],
        "sandbox": _sandbox_view(extra),
        "output": _text(results.get("output")),
        "execution_time": _number(results.get("execution_time")),
        "student_seconds": _number(extra.get("student_seconds")),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "submission_file": _text(submission_file, 300) if submission_file else "",
        "sha256": sha[:12],
        "grader_version": _text(extra.get("grader_version") or "", 50),
        "replay": _replay_command(submission_file, assignment, seed),
    }


def _all_checks(extra: dict) -> list[dict]:
    """Every check outcome dict of results.json's extra_data."""
    return _dicts(extra.get("checks"))


def _item_views(results: dict, extra: dict, checks: list[dict], shown: set[str]) -> tuple[list[dict], list[dict]]:
    """One view per rubric item (Gradescope's `tests`, enriched by extra_data's rubric_items), and the checks
    no item claims."""
    detail_of = {str(i.get("id")): i for i in _dicts(extra.get("rubric_items"))}
    tests = _dicts(results.get("tests"))
    if not tests:
        tests = [{"name": i.get("title"), "score": i.get("score"), "max_score": i.get("max_score"),
                  "tags": [i.get("id")], "output": ""} for i in detail_of.values()]
    ids = [_item_id(test) for test in tests]
    owned = _assign_checks(checks, ids, detail_of)
    views = []
    for test, item_id in zip(tests, ids):
        detail = detail_of.get(item_id, {})
        override = detail.get("override") if isinstance(detail.get("override"), dict) else None
        mine = owned.pop(item_id, [])
        notes = _strings(detail.get("notes"))
        if not detail and not mine and test.get("output"):
            # Without the rubric engine's record, an item fed by no check explains itself in its output text.
            notes = [line for line in _text(test.get("output")).splitlines() if line.strip()][:MAX_LIST]
        quality = detail.get("source") == "quality" or (not mine and item_id == "quality")
        views.append({
            "id": item_id,
            "title": _text(test.get("name") or detail.get("title") or item_id, 300),
            "description": _text(detail.get("description") or "", 2000),
            "score": _number(test.get("score")),
            "max_score": _number(test.get("max_score")),
            "share": _share(test.get("score"), test.get("max_score")),
            "grade": _grade_class(test.get("score"), test.get("max_score")),
            # What needs attention first; passed checks follow as a compact list.
            "problems": [_check_view(c, shown) for c in mine if c.get("status") != "passed"],
            "passed": [_check_view(c, shown) for c in mine if c.get("status") == "passed"],
            "notes": notes,
            "notes_title": "Code-quality evidence" if quality else "Notes",
            "override": {"points": _number(override.get("points")), "comment": _text(override.get("comment"), 4000),
                         "automatic": _number(detail.get("automatic_score"))} if override else None,
        })
    leftovers = [c for group in owned.values() for c in group]
    return views, leftovers


def _item_id(test: dict) -> str:
    tags = test.get("tags")
    if isinstance(tags, list) and tags:
        return str(tags[0])
    return str(test.get("name") or "")


def _assign_checks(checks: list[dict], ids: list[str], detail_of: dict) -> dict[str, list[dict]]:
    """Checks by rubric item id: as the rubric engine said when results.json records it, else by check file."""
    owner = {str(check_id): item_id for item_id, detail in detail_of.items()
             for check_id in (detail.get("checks") if isinstance(detail.get("checks"), list) else [])}
    groups: dict[str, list[dict]] = defaultdict(list)
    for check in checks:
        check_id = str(check.get("check_id", ""))
        item_id = owner.get(check_id)
        if item_id is None:
            # The lab's convention: test_<item>.py holds the checks of <item>.
            stem = Path(check_id.split("::")[0]).stem
            item_id = stem[len("test_"):] if stem.startswith("test_") and stem[len("test_"):] in ids else ""
        groups[item_id].append(check)
    return groups


def _grade_class(score: Any, maximum: Any) -> str:
    score, maximum = _number(score), _number(maximum)
    if score is None or maximum is None:
        return "none"
    if score >= maximum - 1e-9:
        return "full"
    return "partial" if score > 0 else "zero"


def _check_view(check: dict, shown: set[str] = frozenset()) -> dict:
    status = str(check.get("status", ""))
    icon, label = STATUS_LOOK.get(status, ("?", status or "unknown"))
    message, hint = _text(check.get("message")), _text(check.get("hint"))
    details = check.get("details") if isinstance(check.get("details"), dict) else {}
    return {
        "id": _text(check.get("check_id"), 500),
        "title": _text(check.get("title") or check.get("check_id"), 500),
        "status": status if status in STATUS_LOOK else "unknown",
        "icon": icon,
        "label": label,
        "message": message,
        "message_block": "\n" in message.strip(),
        "hint": hint,
        "hint_block": "\n" in hint.strip(),
        "public": bool(check.get("public")),
        "duration": _number(check.get("duration")),
        "extra": _extra_details(details, shown),
    }


def _extra_details(details: dict, shown: set[str]) -> list[tuple[str, str]]:
    """The details a check recorded that no section shows (returned values, shapes...)."""
    shown = shown | {"images"}
    rows = []
    for key, value in list(details.items())[:40]:
        if key in shown:
            continue
        rows.append((_text(key, 100), _text(value, 600)))
    return rows


def _status_counts(checks: list[dict]) -> list[dict]:
    counts = Counter(str(c.get("status", "")) for c in checks)
    return [{"status": status, "icon": icon, "label": label, "count": counts[status]}
            for status, (icon, label) in STATUS_LOOK.items() if counts[status]]


def _png_uri(data: bytes) -> str:
    # Re-encoded from the decoded bytes: the attribute then holds base64 characters only.
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _section_view(section: Section) -> dict:
    """An assignment's section with its text cut to size and its images checked and embedded."""
    figures = []
    for figure in section.figures[:8]:
        uri, note = (None, "")
        if figure.png is not None:
            uri, note = (_png_uri(figure.png), "") if is_png(figure.png) and len(figure.png) <= MAX_IMAGE_BYTES \
                else (None, "The image could not be embedded.")
        figures.append({"uri": uri, "alt": _text(figure.alt, 300), "caption": _text(figure.caption, 2000),
                        "missing": note or _text(figure.missing, 500), "width": figure.width,
                        "height": figure.height})
    table = None
    if section.table is not None:
        bands = list(section.table.row_bands) + [""] * len(section.table.rows)
        table = {"columns": [_text(c, 200) for c in section.table.columns],
                 "rows": [{"band": band, "cells": [_cell_view(cell) for cell in row[:20]]}
                          for row, band in zip(section.table.rows[:MAX_LIST], bands)],
                 "empty": _text(section.table.empty, 500)}
    return {"id": re.sub(r"[^A-Za-z0-9_-]", "-", section.id)[:60] or "section", "title": _text(section.title, 200),
            "intro": _text(section.intro, 4000),
            "stats": [{"label": _text(s.label, 200), "text": _text(s.text, 500), "value": _value(s.value),
                       "band": s.band, "icon": s.icon} for s in section.stats[:20]],
            "legend": [(band, _text(words, 200)) for band, words in section.legend[:10]],
            "figures": figures, "table": table}


def _cell_view(cell: Any) -> dict:
    return {"text": _text(cell.text, 500), "value": _value(cell.value), "band": cell.band, "icon": cell.icon,
            "numeric": cell.numeric, "row_header": cell.row_header}


def _value(value: Any) -> str:
    """The exact value behind a shown number, for a data-value attribute ("" when there is none)."""
    return "" if value is None else _text(value, 100)


def _sandbox_view(extra: dict) -> dict:
    """What loading skipped and what the sandbox stopped, in the student's terms."""
    events = _strings(extra.get("sandbox_events"))
    metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
    applied = _strings(extra.get("sandbox_protections"))
    submission_error = str(extra.get("submission_error") or "")
    return {
        "submission_error": _text(submission_error, 4000),
        "load_problems": [{"where": _text(p.get("where") or f"line {p.get('lineno')}", 200),
                           "type": _text(p.get("type"), 200), "message": _text(p.get("message"), 4000)}
                          for p in _dicts(extra.get("load_problems"))],
        "skipped": [{"where": _text(s.get("where") or f"line {s.get('lineno')}", 200),
                     "reason": _text(s.get("reason"), 2000)} for s in _dicts(extra.get("skipped_statements"))],
        "events": events,
        "output_cut": any("output beyond" in e or "output was cut" in e for e in events),
        "protections": applied,
        "protections_off": _strings(extra.get("sandbox_protections_off")) if applied else [],
        "collection_errors": [e for e in _strings(metadata.get("collection_errors"))
                              if not (submission_error and submission_error in e)],
    }


def _replay_command(submission_file: Any, assignment: str, seed: Any) -> str:
    if not isinstance(seed, int) or isinstance(seed, bool) or not assignment:
        return ""
    target = _shell_word(str(submission_file)) if submission_file else "SUBMISSION"
    return f"grader grade {target} -a {_shell_word(assignment)} --seed {seed}"


def _shell_word(text: str) -> str:
    return shlex.quote(_text(text, 300))


# ---------------------------------------------------------------- class index


def _index_view(rows: Iterable[dict], assignment: str, rubric_items: list[dict]) -> dict:
    rows = [row for row in rows if isinstance(row, dict)]
    items = [{"id": str(i.get("id")), "title": _text(i.get("title") or i.get("id"), 200),
              "max_score": _number(i.get("max_score"))} for i in rubric_items]
    students = sorted((_student_row(row, items) for row in rows), key=lambda r: r["student"].lower())
    counted = [r for r in students if r["kind"] != "grader-error" and r["score"] is not None]
    shares = [r["share"] for r in counted]
    max_score = next((r["max_score"] for r in counted if r["max_score"]), None)
    scores = [r["score"] for r in counted]
    return {
        "assignment": _text(assignment, 200),
        "items": [_item_stats(item, counted) for item in items],
        "students": students,
        "counts": Counter(r["kind"] for r in students),
        "total": len(students),
        "counted": len(counted),
        "max_score": max_score,
        "mean": statistics.fmean(scores) if scores else None,
        "median": statistics.median(scores) if scores else None,
        "histogram": _histogram(shares),
        "failures": _frequent_failures(rows),
    }


def _kind(status: str) -> str:
    status = status.lower()
    if "error" in status:
        return "grader-error"
    if "broken" in status:
        return "broken"
    return "graded"


def _student_row(row: dict, items: list[dict]) -> dict:
    student = _text(row.get("student"), 200)
    scores = row.get("items") if isinstance(row.get("items"), dict) else {}
    status = _text(row.get("status") or "graded", 100)
    score, max_score = _number(row.get("score")), _number(row.get("max_score"))
    manual = {str(m) for m in row.get("manual") or []} if isinstance(row.get("manual"), (list, tuple, set)) else set()
    return {
        "student": student,
        # Percent-encoded as one path segment: a hostile id cannot become a
        # javascript: URL, an absolute URL or a path outside its folder.
        "href": quote(str(row.get("folder") or student), safe="") + "/report.html",
        "status": status,
        "kind": _kind(status),
        "kind_label": {"grader-error": "grader error"}.get(_kind(status), _kind(status)),
        "score": score,
        "max_score": max_score,
        "share": _share(score, max_score),
        "items": [{"score": _number(scores.get(item["id"])), "manual": item["id"] in manual,
                   "grade": _grade_class(scores.get(item["id"]), item["max_score"])} for item in items],
        "manual": bool(manual),
        "item_scores": {item["id"]: _number(scores.get(item["id"])) for item in items},
        "reason": _text(row.get("reason") or "", 1000),
    }


def _item_stats(item: dict, counted: list[dict]) -> dict:
    """Mean score and pass rate (share of students with the item's full points) of one rubric item."""
    scores = [row["item_scores"][item["id"]] for row in counted if row["item_scores"].get(item["id"]) is not None]
    maximum = item["max_score"]
    passed = sum(1 for score in scores if maximum is not None and score >= maximum - 1e-9)
    mean = statistics.fmean(scores) if scores else None
    return {**item, "mean": mean, "mean_share": _share(mean, maximum), "students": len(scores),
            "pass_rate": passed / len(scores) if scores else None}


def _histogram(shares: list[float], bins: int = 10) -> dict:
    """Bars of an inline SVG histogram of score percentages (the last bin includes 100%)."""
    counts = [0] * bins
    for share in shares:
        counts[min(bins - 1, int(share // (100 / bins)))] += 1
    width, height, left, bottom, top = 600, 220, 36, 34, 12
    plot_w, plot_h = width - left - 8, height - top - bottom
    step_y = _tick_step(max(counts, default=0))
    tallest = max(step_y, -(-max(counts, default=0) // step_y) * step_y)  # the axis top, a whole number of steps
    step = plot_w / bins
    bars = []
    for index, count in enumerate(counts):
        bar_h = plot_h * count / tallest
        lo, hi = index * 100 // bins, (index + 1) * 100 // bins
        bars.append({"x": round(left + index * step + 2, 1), "y": round(top + plot_h - bar_h, 1),
                     "width": round(step - 4, 1), "height": round(bar_h, 1), "count": count,
                     "label": f"{lo}", "range": f"{lo}–{hi}%" + ("" if index == bins - 1 else " (excl.)"),
                     "text_x": round(left + (index + 0.5) * step, 1), "text_y": round(top + plot_h - bar_h - 3, 1)})
    ticks = range(0, tallest + 1, step_y)
    return {"width": width, "height": height, "left": left, "plot_w": plot_w, "bars": bars, "axis_y": top + plot_h,
            "ticks": [{"value": t, "y": round(top + plot_h - plot_h * t / tallest, 1)} for t in ticks],
            "total": len(shares)}


def _tick_step(largest: int) -> int:
    """A 1-2-5 step giving at most five whole-number ticks up to `largest` students."""
    step, factors = 1, itertools.cycle((2, 2.5, 2))  # 1, 2, 5, 10, 20, 50, ...
    while largest / step > 5:
        step = int(step * next(factors))
    return step


def _frequent_failures(rows: list[dict]) -> dict:
    """The checks that failed for most students and the mistakes most students were told about, with counts.

    Hints are grouped by mistake: the hint's own words without the evidence
    in its closing parentheses ("(each of your dW and db equals the expected
    value times m = 5)") and with numbers set aside (the layer a bug was
    found in), so one mistake met by five checks is one row, not five.
    """
    failing: dict[str, set[str]] = defaultdict(set)
    hinted: dict[str, set[str]] = defaultdict(set)
    wording: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        results = row.get("results")
        if not isinstance(results, dict) or not isinstance(results.get("extra_data"), dict):
            continue
        student = str(row.get("student"))
        for check in _all_checks(results["extra_data"]):
            if check.get("status") not in NOT_PASSED:
                continue  # skipped checks follow from another failure; counting them would double it
            # One row per check function: "title [m=1]" and "title [m=5]" are the same mistake.
            title = PARAMETRIZATION.sub("", str(check.get("title") or check.get("check_id")))
            failing[_text(title, 300)].add(student)
            hint = mistake_of(str(check.get("hint") or ""))
            if hint:
                key = DIGITS.sub("#", hint)
                hinted[key].add(student)
                wording[key][_text(hint, 2000)] += 1

    def top(groups: dict[str, set[str]], shown: dict[str, Counter] | None = None) -> list[dict]:
        ranked = sorted(groups.items(), key=lambda pair: (-len(pair[1]), pair[0]))[:TOP_FAILURES]
        out = []
        for key, who in ranked:
            text = shown[key].most_common(1)[0][0] if shown else key
            out.append({"text": text, "students": len(who), "block": "\n" in text,
                        "variants": len(shown[key]) - 1 if shown else 0})
        return out

    return {"checks": top(failing), "hints": top(hinted, wording)}


DIGITS = re.compile(r"\d+")
_EVIDENCE = re.compile(r"\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$")


def mistake_of(hint: str) -> str:
    """A hint's words about the mistake: without the closing parenthesised evidence of the one case."""
    hint = hint.strip()
    stripped = _EVIDENCE.sub("", hint).strip()
    return stripped or hint


def _similarity_view(similarity: dict | None) -> dict:
    similarity = similarity if isinstance(similarity, dict) else {}
    pairs = [{"first": _text(p.get("first"), 200), "second": _text(p.get("second"), 200),
              "href_first": quote(str(p.get("first")), safe="") + "/report.html",
              "href_second": quote(str(p.get("second")), safe="") + "/report.html",
              "percent": percent(p.get("similarity")), "identical": bool(p.get("identical"))}
             for p in _dicts(similarity.get("pairs"))]
    groups = [[_text(s, 200) for s in group[:MAX_LIST]] for group in (similarity.get("groups") or [])[:MAX_LIST]
              if isinstance(group, list)]
    total = similarity.get("total") if isinstance(similarity.get("total"), int) else len(pairs)
    return {"pairs": pairs, "groups": groups, "total": total, "near": percent(similarity.get("near", 0.9)),
            "identical": sum(1 for p in pairs if p["identical"])}

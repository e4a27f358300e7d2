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
import binascii
import functools
import hashlib
import itertools
import math
import os
import re
import shlex
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

import jinja2

from grader.report import format_points, write_text_atomic
from grader.report.boundary import is_png, render_boundary_png

TEMPLATES = Path(__file__).with_name("templates")

# The chapter's verdict bands for a gradient check's relative difference.
CORRECT_BELOW = 1e-7
BUG_ABOVE = 1e-3
# An embedded figure larger than this is not a plot of the lab's moons; it
# would only bloat the page, so it is left out with a note.
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
}
NOT_PASSED = ("failed", "error", "timeout", "not_run")
# The " [n_prev=3,n=4,m=5]" that pytest parametrization appends to a check's title.
PARAMETRIZATION = re.compile(r"\s*\[[^\[\]]*\]$")

# Trusted, fixed code (never built from data): sorts the student table by the
# clicked column using each cell's data-sort value. Without it the table is
# still complete, in student order.
SORT_SCRIPT = """
(function () {
  var table = document.getElementById("students");
  if (!table || !table.tHead) { return; }
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, column) {
    function sort() {
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
    }
    th.tabIndex = 0;
    th.classList.add("sortable");
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
    });
  });
})();
"""
SORT_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()


# ---------------------------------------------------------------- public API


def render_student_report(results: dict, *, student: str | None = None) -> str:
    """The student's report as one self-contained HTML page.

    `results` is the results.json dict; `student` is the id shown in the
    title (default: the submission's file name from extra_data).
    """
    return _environment().get_template("student.html.j2").render(report=_student_view(results, student))


def write_student_report(path: str | os.PathLike, results: dict, *, student: str | None = None) -> None:
    """Write `render_student_report` to `path` atomically (a reader never sees half a page)."""
    write_text_atomic(Path(path), render_student_report(results, student=student))


def render_class_index(rows: list[dict], *, assignment: str, rubric_items: list[dict]) -> str:
    """The class summary (index.html): histogram, per-item statistics, frequent failures, student table.

    Each row: ``{"student", "status", "score", "max_score", "items": {item_id: score},
    "results": results.json dict or None, "reason": str}``; `rubric_items`:
    ``[{"id", "title", "max_score"}]`` in rubric order. Students link to
    ``<student>/report.html``.
    """
    view = _index_view(rows, assignment, rubric_items)
    return _environment().get_template("index.html.j2").render(index=view, sort_script=SORT_SCRIPT,
                                                               sort_script_hash=SORT_SCRIPT_HASH)


def write_class_index(path: str | os.PathLike, rows: list[dict], *, assignment: str,
                      rubric_items: list[dict]) -> None:
    """Write `render_class_index` to `path` atomically."""
    write_text_atomic(Path(path), render_class_index(rows, assignment=assignment, rubric_items=rubric_items))


# ---------------------------------------------------------------- plumbing


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # autoescape=True rather than select_autoescape: the templates end in .j2,
    # which select_autoescape would not recognise as HTML.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = _points
    env.filters["sci"] = _sci
    env.filters["sig"] = _significant
    env.filters["percent"] = _percent
    env.filters["seconds"] = _seconds
    return env


def _number(value: Any) -> float | None:
    """`value` as a finite float, or None (JSON from elsewhere may hold strings, null, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _points(value: Any) -> str:
    """A score as people write it: 20, 17.5, 16.67 (two decimals at most); an em dash when missing."""
    number = _number(value)
    if number is None:
        return "—"
    text = format_points(number)
    return "0" if text == "-0" else text


def _sci(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "∞" if _infinite(value) else "—"
    return f"{number:.2e}"


def _significant(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "∞" if _infinite(value) else "—"
    return f"{number:.6g}"


def _infinite(value: Any) -> bool:
    """True for an infinity, also as results.json stores it (the string "inf": JSON has no infinity)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isinf(value)


def _percent(value: Any) -> str:
    """A share as a percentage with up to two decimals, rounded down.

    Rounded down so that an accuracy just under a bar (0.94996 against 95%)
    never reads as reaching it.
    """
    number = _number(value)
    if number is None:
        return "—"
    floored = math.floor(number * 10_000 + 1e-6) / 100  # the 1e-6 absorbs float noise such as 0.29 * 10000
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


def _seconds(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else (f"{number:.2f} s" if number < 10 else f"{number:.1f} s")


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


def _student_view(results: Any, student: str | None) -> dict:
    results = results if isinstance(results, dict) else {}
    extra = results.get("extra_data") if isinstance(results.get("extra_data"), dict) else {}
    checks = _all_checks(extra)
    items, leftovers = _item_views(results, extra, checks)
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
        "other_checks": [_check_view(c) for c in leftovers],
        "counts": _status_counts(checks),
        "training": _training_view(checks),
        "gradient": _gradient_view(checks),
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


def _item_views(results: dict, extra: dict, checks: list[dict]) -> tuple[list[dict], list[dict]]:
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
            "problems": [_check_view(c) for c in mine if c.get("status") != "passed"],
            "passed": [_check_view(c) for c in mine if c.get("status") == "passed"],
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


def _check_view(check: dict) -> dict:
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
        "extra": _extra_details(details),
    }


def _extra_details(details: dict) -> list[tuple[str, str]]:
    """The details a check recorded that no dedicated section shows (returned values, shapes...)."""
    shown = {"images", "params", "gradient_table", "overall_relative_difference", "accuracy", "train_accuracy",
             "train_seconds", "moons_rotation_degrees"}
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


def _details_with(checks: list[dict], key: str) -> tuple[dict, dict] | tuple[None, None]:
    """The first check whose details hold `key`, with those details."""
    for check in checks:
        details = check.get("details")
        if isinstance(details, dict) and details.get(key) not in (None, [], {}):
            return check, details
    return None, None


def _training_view(checks: list[dict]) -> dict | None:
    """Accuracy, training time and both decision-boundary pictures, when the training checks recorded them."""
    accuracy_check, accuracy = _details_with(checks, "accuracy")
    figure_check, figure = _details_with(checks, "images")
    params_check, params = _details_with(checks, "params")
    if accuracy_check is None and figure_check is None and params_check is None:
        return None
    student_image, image_note = None, ""
    if figure is not None:
        images = figure["images"] if isinstance(figure["images"], dict) else {}
        student_image, image_note = _image_uri(images.get("student_decision_boundary"))
    grader_image = None
    degrees = _rotation(params)
    if params is not None:
        png = (render_boundary_png(params["params"], *_moons_sample(degrees))
               if isinstance(params["params"], dict) else None)
        grader_image = _png_uri(png) if png else None
    accuracy = accuracy or {}
    return {
        "rotation_degrees": degrees,
        "status": _check_view(accuracy_check) if accuracy_check else None,
        "accuracy": _number(accuracy.get("accuracy")),
        "train_accuracy": _number(accuracy.get("train_accuracy")),
        "train_seconds": _number(accuracy.get("train_seconds")),
        "student_image": student_image,
        "student_image_note": image_note,
        "figure_status": _check_view(figure_check) if figure_check else None,
        "grader_image": grader_image,
        "has_params": params is not None,
    }


def _rotation(details: dict | None) -> float | None:
    """The angle the run turned its moons by, when recorded as a finite number of degrees."""
    return _number((details or {}).get("moons_rotation_degrees"))


def _moons_sample(degrees: float | None) -> tuple[Any, Any]:
    """The fixed moons sample the grader's drawing shows, turned like the run's data; (None, None) for the default."""
    if degrees is None:
        return None, None
    from reference.moons import moons, rotated
    X, Y = moons(300, 0)
    return rotated(X, degrees), Y


def _image_uri(encoded: Any) -> tuple[str | None, str]:
    """A data: URI for a base64 PNG recorded by a check, or (None, why not)."""
    if not encoded:
        return None, "No figure was recorded."
    if not isinstance(encoded, str) or len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        return None, "The figure was too large to embed."
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, "The recorded figure was not valid base64."
    if not is_png(data):
        return None, "The recorded figure was not a PNG image."
    return _png_uri(data), ""


def _png_uri(data: bytes) -> str:
    # Re-encoded from the decoded bytes: the attribute then holds base64 characters only.
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _band(value: Any) -> tuple[str, str, str]:
    """(css class, icon, words) of a relative difference under the chapter's verdict bands."""
    number = _number(value)
    if number is None:
        return ("bug", "✗", "a bug (> 1e-3)") if _infinite(value) else ("bug", "✗", "not computed")
    if number < CORRECT_BELOW:
        return "ok", "✓", "correct (< 1e-7)"
    if number > BUG_ABOVE:
        return "bug", "✗", "a bug (> 1e-3)"
    return "suspicious", "?", "suspicious (1e-7 to 1e-3)"


def _gradient_view(checks: list[dict]) -> dict | None:
    """The per-parameter gradient-check table with each relative difference's verdict band."""
    _, details = _details_with(checks, "gradient_table")
    if details is None:
        return None
    rows = []
    for row in _dicts(details.get("gradient_table")):
        css, icon, words = _band(row.get("relative_difference"))
        rows.append({"parameter": _text(row.get("parameter"), 100),
                     "backprop_norm": row.get("backprop_norm"), "numerical_norm": row.get("numerical_norm"),
                     "relative_difference": row.get("relative_difference"),
                     "exact": {k: repr(row.get(k)) for k in ("backprop_norm", "numerical_norm",
                                                             "relative_difference")},
                     "band": css, "icon": icon, "words": words})
    overall = details.get("overall_relative_difference")
    css, icon, words = _band(overall)
    return {"rows": rows, "overall": overall, "overall_exact": repr(overall), "band": css, "icon": icon,
            "words": words}


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
        "protections_off": _protections_off(applied),
        "collection_errors": [e for e in _strings(metadata.get("collection_errors"))
                              if not (submission_error and submission_error in e)],
    }


def _protections_off(applied: list[str]) -> list[str]:
    if not applied:
        return []  # the sandbox never started (unreadable submission): nothing to say about its protections
    from grader.sandbox import protections_off
    return protections_off(applied)


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
    return {
        "student": student,
        # Percent-encoded as one path segment: a hostile id cannot become a
        # javascript: URL, an absolute URL or a path outside its folder.
        "href": quote(student, safe="") + "/report.html",
        "status": status,
        "kind": _kind(status),
        "score": score,
        "max_score": max_score,
        "share": _share(score, max_score),
        "items": [{"score": _number(scores.get(item["id"])),
                   "grade": _grade_class(scores.get(item["id"]), item["max_score"])} for item in items],
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
    """The checks that failed for most students and the hints most students got, with student counts."""
    failing: dict[str, set[str]] = defaultdict(set)
    hinted: dict[str, set[str]] = defaultdict(set)
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
            hint = str(check.get("hint") or "").strip()
            if hint:
                hinted[_text(hint, 2000)].add(student)

    def top(groups: dict[str, set[str]]) -> list[dict]:
        ranked = sorted(groups.items(), key=lambda pair: (-len(pair[1]), pair[0]))[:TOP_FAILURES]
        return [{"text": text, "students": len(who), "block": "\n" in text} for text, who in ranked]

    return {"checks": top(failing), "hints": top(hinted)}

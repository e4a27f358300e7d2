"""HTML reports: what a student and an instructor read, checked by parsing the pages.

The results dicts are built by hand in the layout of grader/report/results_json.py
(a passing student, one with failures, hints, an override and a hostile
traceback, and a broken submission), rendered, parsed with the stdlib's
html.parser, and compared number by number with their inputs.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from html.parser import HTMLParser
from urllib.parse import quote

import numpy as np
import pytest

from grader.model import CheckOutcome
from reference.report_sections import render_boundary_png
from grader.config.assignment import load_assignment
from grader.outputs import render_report
from grader.report.html import (render_class_index, render_student_report, write_class_index,
                                write_student_report)

HOSTILE = "<script>alert(1)</script>"
ITEMS = [("forward", "Forward pass", 20.0), ("backward", "Backward pass", 30.0),
         ("gradient_check", "Gradient check", 20.0), ("training", "Training + plot", 20.0),
         ("quality", "Code quality", 10.0)]
RUBRIC_ITEMS = [{"id": i, "title": t, "max_score": p} for i, t, p in ITEMS]


# ---------------------------------------------------------------- a tiny DOM


class Node:
    """An element of a parsed page: tag, attributes, children and the text inside."""

    def __init__(self, tag: str, attrs: dict, parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent, self.children, self.parts = tag, attrs, parent, [], []

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list["Node"]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and all(n.attrs.get(k) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs) -> "Node":
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}> in the page"
        return found[0]


class TreeBuilder(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "input", "link", "source", "col", "area", "base", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.current.parts.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.current.parts.append(node)

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.parts.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


# ---------------------------------------------------------------- realistic results

ALICE_ROTATION = 123.4


def trained_params() -> dict:
    """A small ReLU network that separates moons, as train() would return it (nested lists)."""
    from reference.backprop_lab import train
    from reference.moons import moons, rotated
    X, Y = moons(400, 3)
    params = train(rotated(X, ALICE_ROTATION), Y, layer_dims=[2, 8, 1], num_iterations=300, seed=1)
    return {k: v.tolist() for k, v in params.items()}


def check(check_id, title, status, message="", hint=None, details=None, public=False):
    return CheckOutcome(check_id, title, status, message=message, hint=hint, public=public,
                        details=details or {}, duration=0.02).to_dict()


def results(checks, scores, *, student_file, seed, overrides=None, notes=None, extra=None):
    """A results.json dict in the grader's layout: Gradescope's fields plus extra_data."""
    overrides, notes = overrides or {}, notes or {}
    owner = {c["check_id"]: c["check_id"].split("::")[0][len("test_"):-len(".py")] for c in checks}
    tests, records = [], []
    for item_id, title, points in ITEMS:
        score = scores[item_id]
        tests.append({"name": title, "score": score, "max_score": points,
                      "status": "passed" if score == points else "failed", "output": f"{title}: {score}",
                      "visibility": "visible", "tags": [item_id] + (["override"] if item_id in overrides else [])})
        override = overrides.get(item_id)
        records.append({"id": item_id, "title": title, "score": score, "max_score": points,
                        "status": tests[-1]["status"],
                        "automatic_score": override[1] if override else score,
                        "notes": notes.get(item_id, []),
                        "override": {"points": score, "comment": override[0]} if override else None,
                        "visibility": "visible", "description": f"What {title} checks.",
                        "source": "quality" if item_id == "quality" else None,
                        "checks": [c["check_id"] for c in checks if owner[c["check_id"]] == item_id]})
    extra_data = {"assignment": "backprop-lab", "grader_version": "0.1.0", "seed": seed,
                  "submission_sha256": "ab" * 32, "submission_file": student_file, "submission_error": None,
                  "load_problems": [], "skipped_statements": [], "sandbox_events": [],
                  "sandbox_protections": ["landlock_abi_6", "seccomp", "unprivileged_uid", "pid_namespace"],
                  "student_seconds": 0.9, "checks": checks, "rubric_items": records,
                  "metadata": {"title": "Backprop lab", "collection_errors": [], "unassigned_checks": []}}
    extra_data.update(extra or {})
    return {"score": round(sum(scores.values()), 4), "max_score": 100.0, "execution_time": 2.345,
            "output": "", "tests": tests, "extra_data": extra_data}


GOOD_TABLE = [
    {"parameter": "W1", "backprop_norm": 0.8123456789, "numerical_norm": 0.8123456791, "relative_difference": 3.2e-10},
    {"parameter": "b1", "backprop_norm": 0.21, "numerical_norm": 0.2100000001, "relative_difference": 8.5e-10},
    {"parameter": "W2", "backprop_norm": 1.5, "numerical_norm": 1.5, "relative_difference": 1.1e-10},
    {"parameter": "b2", "backprop_norm": 0.3, "numerical_norm": 0.3, "relative_difference": 4.0e-10},
]
BAD_TABLE = [
    {"parameter": "W1", "backprop_norm": 1.62, "numerical_norm": 0.81, "relative_difference": 0.3333},
    {"parameter": "b1", "backprop_norm": 0.2100042, "numerical_norm": 0.21, "relative_difference": 2.0e-5},
    {"parameter": "W2", "backprop_norm": 1.5, "numerical_norm": 1.5, "relative_difference": 5.0e-10},
]


@pytest.fixture(scope="module")
def params():
    return trained_params()


def make_alice(params):
    """A student who passes everything (quality 9.5/10), with both figures and a clean gradient table."""
    figure = base64.b64encode(render_boundary_png(params)).decode()
    checks = [
        check("test_forward.py::test_linear_forward_values[n_prev=3,n=4,m=5]",
              "linear_forward returns Z = W A_prev + b with shape (n, m) [n_prev=3,n=4,m=5]", "passed", public=True),
        check("test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=7]",
              "L_layer_backward returns dW and db of the right shape and value for every layer", "passed"),
        check("test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
              "Your backprop gradients agree with two-sided numerical gradients", "passed",
              details={"gradient_table": GOOD_TABLE, "overall_relative_difference": 2.9e-10}),
        check("test_training.py::test_train_reaches_the_accuracy_bar",
              "train(X, Y) on make_moons(1000) reaches more than 95% accuracy", "passed",
              details={"accuracy": 0.9935, "train_accuracy": 0.998, "train_seconds": 0.4213, "params": params,
                       "moons_noise": 0.1, "moons_rotation_degrees": ALICE_ROTATION}),
        check("test_training.py::test_plot_decision_boundary_returns_a_figure",
              "plot_decision_boundary(params, X, Y) returns a matplotlib Figure", "passed",
              details={"images": {"student_decision_boundary": figure}, "figure_summary": {"axes": 1}}),
    ]
    scores = {"forward": 20.0, "backward": 30.0, "gradient_check": 20.0, "training": 20.0, "quality": 9.5}
    return results(checks, scores, student_file="alice.py", seed=123456789,
                   notes={"quality": ["Docstrings: 3/3", "Comments: 2/2.5",
                                      "line 42: train is 55 lines long; split it (at most 40)"]})


TRACEBACK = ("Traceback (most recent call last):\n  File \"bob.py\", line 88, in L_layer_backward\n"
             f"    raise ValueError('{HOSTILE}')\nValueError: {HOSTILE}")


def make_bob():
    """Failures with hints, a hostile traceback, a timeout, an instructor override and sandbox events."""
    checks = [
        check("test_forward.py::test_linear_forward_values[n_prev=3,n=4,m=5]",
              "linear_forward returns Z = W A_prev + b with shape (n, m) [n_prev=3,n=4,m=5]", "passed", public=True),
        check("test_backward.py::test_L_layer_backward_gradients[2-5-3-1,m=7]",
              "L_layer_backward returns dW and db of the right shape and value for every layer", "error",
              message=TRACEBACK, hint=f"dW must be dZ @ A_prev.T / m; {HOSTILE}"),
        check("test_backward.py::test_linear_backward_values[n_prev=3,n=4,m=5]",
              "linear_backward returns dA_prev = W.T dZ", "failed",
              message="dW has shape (4, 5); expected (4, 3).", hint="Transpose A_prev: dW = dZ @ A_prev.T / m."),
        check("test_gradient_check.py::test_backprop_agrees_with_numerical_gradients",
              "Your backprop gradients agree with two-sided numerical gradients", "failed",
              message="The relative difference is 0.222; the chapter asks for < 1e-07.",
              hint="Transpose A_prev: dW = dZ @ A_prev.T / m.",
              details={"gradient_table": BAD_TABLE, "overall_relative_difference": 0.222}),
        check("test_gradient_check.py::test_gradient_check_passes_correct_code",
              "Your gradient_check passes your correct backprop", "skipped",
              message="Not graded until your backprop gradients agree with numerical gradients"),
        check("test_training.py::test_train_reaches_the_accuracy_bar",
              "train(X, Y) on make_moons(1000) reaches more than 95% accuracy", "timeout",
              message="train(X, Y) timed out after 60 s. Training has a budget of 60 s.",
              hint="Use fewer iterations, or vectorise the loop over samples."),
    ]
    scores = {"forward": 20.0, "backward": 0.0, "gradient_check": 0.0, "training": 0.0, "quality": 8.0}
    return results(checks, scores, student_file="bob.ipynb", seed=42,
                   overrides={"quality": (f"Nice structure. {HOSTILE} Docstrings need work.", 5.5)},
                   extra={"sandbox_events": ["timed out after 60 s during train(X, Y)",
                                             "output beyond the first 65536 bytes was dropped"],
                          "load_problems": [{"lineno": 40, "where": "cell 3, line 2", "type": "NameError",
                                             "message": "name 'plt' is not defined"}],
                          "skipped_statements": [{"lineno": 90, "where": "cell 7, line 1",
                                                  "reason": "calls train() at top level; skipped to keep grading fast"}]})


def make_carol():
    """A broken submission: unreadable, every item 0 with the reason."""
    error = "the file is neither UTF-8 nor a notebook (byte 0xff at offset 12)"
    scores = {item_id: 0.0 for item_id, _, _ in ITEMS}
    data = results([], scores, student_file="carol.py", seed=7,
                   notes={i: [f"no check of this item ran: the submission could not be read: {error}"]
                          for i, _, _ in ITEMS[:4]},
                   extra={"submission_error": error, "sandbox_protections": [], "student_seconds": 0.0})
    return data


@pytest.fixture(scope="module")
def alice(params):
    return make_alice(params)


@pytest.fixture(scope="module")
def bob():
    return make_bob()


@pytest.fixture(scope="module")
def carol():
    return make_carol()


@pytest.fixture(scope="module")
def class_rows(alice, bob, carol):
    return make_rows(alice, bob, carol)


def lab_report(results, student=None):
    """The report as the lab renders it: with the lab's own sections (its report_sections hook)."""
    return render_report(results, load_assignment("backprop-lab"), student=student)


@pytest.fixture(scope="module")
def pages(alice, bob, carol):
    return {"alice": lab_report(alice, student="alice"),
            "bob": lab_report(bob, student="bob"),
            "carol": lab_report(carol)}


def row_of(name, data, status="graded", reason=""):
    items = {t["tags"][0]: t["score"] for t in data["tests"]} if data else {}
    return {"student": name, "status": status, "score": data["score"] if data else 0.0, "max_score": 100.0,
            "items": items, "results": data, "reason": reason}


HOSTILE_ID = 'mal"lory<img src=x onerror=alert(2)>'


def make_rows(alice, bob, carol):
    """The class: three students above, a grader error and a student whose id is hostile HTML."""
    return [row_of("alice", alice), row_of("bob", bob),
            row_of("carol", carol, "broken submission", "the submission could not be read"),
            {"student": "dave", "status": "grader error", "score": None, "max_score": 100.0, "items": {},
             "results": None, "reason": f"the worker pool crashed {HOSTILE}"},
            row_of(HOSTILE_ID, alice)]


@pytest.fixture(scope="module")
def index_page(class_rows):
    return render_class_index(class_rows, assignment="backprop-lab", rubric_items=RUBRIC_ITEMS)


# ---------------------------------------------------------------- student report


def test_total_and_item_scores_match_results(pages, alice, bob):
    for name, data in (("alice", alice), ("bob", bob)):
        page = parse(pages[name])
        assert numbers(page.find(cls="total").text()) == [data["score"], 100.0]
        rows = page.find_all("li", "item-row")
        assert [r.find("a").text() for r in rows] == [t for _, t, _ in ITEMS]
        for row, test in zip(rows, data["tests"]):
            assert numbers(row.find(cls="score").text())[:2] == [test["score"], test["max_score"]]
            style = row.find(cls="bar").find("span").attrs["style"]
            width = float(re.search(r"width: ([\d.]+)%", style).group(1))
            assert width == pytest.approx(100 * test["score"] / test["max_score"], abs=0.1)
    assert "alice" in parse(pages["alice"]).find("h1").text()


def test_checks_are_grouped_by_rubric_item_with_status_words(pages, bob):
    page = parse(pages["bob"])
    cards = page.find_all("li", "check")
    by_title = {c.find(cls="check-title").text(): c for c in cards}
    passed = page.find_all("ul", "passed-list")
    assert len(cards) + sum(len(p.find_all("li")) for p in passed) == len(bob["extra_data"]["checks"])
    timeout = by_title["train(X, Y) on make_moons(1000) reaches more than 95% accuracy"]
    assert "s-timeout" in timeout.classes() and "timed out" in timeout.find(cls="badge").text()
    skipped = by_title["Your gradient_check passes your correct backprop"]
    assert "not graded" in skipped.find(cls="badge").text()
    # Every check sits in the list that follows its own item's heading.
    html = pages["bob"]
    for item_id, title, _ in ITEMS[:4]:
        start = html.index(f'id="item-{[i for i, *_ in ITEMS].index(item_id) + 1}"')
        end = html.find('<h3 id="item-', start + 1)
        section = html[start:end if end > 0 else len(html)]
        expected = [c["check_id"] for c in bob["extra_data"]["checks"] if c["check_id"].startswith(f"test_{item_id}.py")]
        assert sorted(n.text().split(" · ")[0] for n in parse(section).find_all(cls="check-id")) == sorted(expected)
        passed_first = [n.text() for n in parse(section).find_all(cls="check-id")]
        statuses = [next(c["status"] for c in bob["extra_data"]["checks"] if c["check_id"] == i.split(" · ")[0])
                    for i in passed_first]
        assert statuses == sorted(statuses, key=lambda status: status == "passed")  # problems before passes


def test_hostile_text_is_escaped_and_tracebacks_are_preformatted(pages):
    html, page = pages["bob"], parse(pages["bob"])
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert page.find_all("script") == []
    traceback = [pre for pre in page.find_all("pre", "message") if "Traceback" in pre.text()]
    assert traceback and traceback[0].text() == TRACEBACK  # line breaks and text intact, as text
    assert HOSTILE in page.find(cls="override").text()


def test_no_external_resources_and_images_are_embedded(pages, index_page):
    for html in list(pages.values()) + [index_page]:
        page = parse(html)
        assert not page.find_all("link")
        for node in page.iter():
            for attribute in ("src", "href", "action", "srcset", "poster", "data"):
                value = (node.attrs.get(attribute) or "").strip().lower()
                assert not value.startswith(("http:", "https:", "//", "javascript:")), (node.tag, value)
            if node.tag == "img":
                assert node.attrs["src"].startswith("data:image/png;base64,")
        styles = " ".join(s.text() for s in page.find_all("style"))
        assert "@import" not in styles and "url(" not in styles
    images = parse(pages["alice"]).find_all("img")
    assert len(images) == 2  # the student's figure and the grader's own rendering
    for image in images:
        assert base64.b64decode(image.attrs["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_numbers_match(pages):
    items = parse(pages["alice"]).find(cls="stats").find_all("li")
    stats = {" ".join(li.text().split()[:2]): li.find("strong") for li in items}
    assert stats["held-out accuracy"].text() == "99.35%"
    assert float(stats["held-out accuracy"].attrs["data-value"]) == 0.9935
    assert stats["training accuracy"].text() == "99.8%"
    assert float(stats["training accuracy"].attrs["data-value"]) == 0.998
    assert stats["training time"].text() == "0.42 s"
    assert float(stats["training time"].attrs["data-value"]) == 0.4213
    assert stats["moons rotated"].text() == "123.4°"
    assert float(stats["moons rotated"].attrs["data-value"]) == ALICE_ROTATION
    assert "moons sample turned like this run's data" in parse(pages["alice"]).text()


def test_gradient_table_values_and_bands(pages):
    for name, table, overall in (("alice", GOOD_TABLE, 2.9e-10), ("bob", BAD_TABLE, 0.222)):
        page = parse(pages[name])
        rows = page.find("table", "section-table").find("tbody").find_all("tr")
        assert len(rows) == len(table)
        for row, expected in zip(rows, table):
            cells = row.find_all("td")
            assert row.find("th").text() == expected["parameter"]
            for cell, key in zip(cells, ("backprop_norm", "numerical_norm", "relative_difference")):
                assert float(cell.attrs["data-value"]) == expected[key]
                assert cell.text() == (f"{expected[key]:.2e}" if key == "relative_difference"
                                       else f"{expected[key]:.6g}")
        overall_node = page.find("section", **{"aria-labelledby": "section-gradcheck"}).find("strong")
        assert float(overall_node.attrs["data-value"]) == overall
    bands = [r.find_all("td")[2].classes() for r in parse(pages["bob"]).find("table", "section-table").find_all("tr")[1:]]
    assert ["band-bug" in bands[0], "band-suspicious" in bands[1], "band-ok" in bands[2]] == [True, True, True]
    verdicts = [r.find_all("td")[3].text() for r in parse(pages["bob"]).find("table", "section-table").find_all("tr")[1:]]
    assert "bug" in verdicts[0] and "suspicious" in verdicts[1] and "correct" in verdicts[2]  # words, not colour only


def test_override_sandbox_quality_and_seed_are_shown(pages):
    page = parse(pages["bob"])
    override = page.find(cls="override").text()
    assert numbers(override.split("(")[0])[:2] == [8.0, 10.0] and "automatic score 5.5" in override
    sandbox = page.find("section", **{"aria-labelledby": "sandbox"}).text()
    for text in ("timed out after 60 s during train(X, Y)", "cell 3, line 2", "name 'plt' is not defined",
                 "cell 7, line 1", "output was cut"):
        assert text in sandbox
    footer = page.find("footer")
    assert footer.find(id="seed").text() == "42" and "--seed 42" in footer.text()
    quality = parse(pages["alice"]).find_all("ul", "notes")[-1].text()
    assert "Docstrings: 3/3" in quality and "split it" in quality


def test_broken_submission_report(pages, carol):
    page = parse(pages["carol"])
    assert "byte 0xff at offset 12" in page.find(cls="banner").text()
    assert "carol" in page.find("h1").text()  # the id comes from the submission file when not given
    assert numbers(page.find(cls="total").text()) == [0.0, 100.0]
    assert not page.find_all("img") and not page.find_all("table", "section-table")
    assert "no check of this item ran" in page.text()
    assert page.text().count("byte 0xff at offset 12") == 1  # shown once, in the banner


def test_an_assignment_without_the_hook_gets_no_lab_sections(alice):
    # The engine draws no moons and no gradient bands by itself: only an assignment's hook adds them.
    page = parse(render_report(alice, load_assignment("backprop-quiz"), student="alice"))
    assert not page.find_all("img") and not page.find_all("table", "section-table")
    assert not page.find_all("section", cls="extra-section")


def test_gradient_bands_come_from_the_assignments_settings(bob):
    assignment = load_assignment("backprop-exercises").with_settings({"gradient_tolerance": 1e-9,
                                                                       "planted_bug_threshold": 0.5})
    page = parse(render_report(bob, assignment, student="bob"))
    verdicts = [r.find_all("td")[3].text() for r in page.find("table", "section-table").find_all("tr")[1:]]
    assert "suspicious (1e-09 to 0.5)" in verdicts[0]  # 0.3 is a bug under the lab's bands, not under these
    assert "above 0.5: a bug" in page.find(cls="legend").text()


def test_malformed_results_still_render():
    for junk in ({}, {"tests": "nope", "extra_data": {"checks": [1, None, {"status": "weird"}]}},
                 {"score": "x", "extra_data": {"checks": [{"details": {"gradient_table": [{"parameter": HOSTILE}],
                                                                       "params": {"W1": "bad"},
                                                                       "images": {"student_decision_boundary": "!!"}}}]}}):
        for html in (render_student_report(junk), lab_report(junk)):
            assert HOSTILE not in html and "<html" in html


def test_write_student_report_is_atomic(tmp_path, alice):
    target = tmp_path / "alice" / "report.html"
    target.parent.mkdir()
    target.write_text("old")
    write_student_report(target, alice, student="alice")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]
    assert target.stat().st_mode & 0o777 == 0o644  # readable by whoever the reports are served to


# ---------------------------------------------------------------- class index


def test_index_links_every_student_and_shows_item_scores(index_page, class_rows):
    page = parse(index_page)
    table = page.find("table", id="students")
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == len(class_rows)
    links = {a.text(): a.attrs["href"] for a in table.find_all("a")}
    assert set(links) == {r["student"] for r in class_rows}
    for name, href in links.items():
        assert href == quote(name, safe="") + "/report.html"
    assert "<img src=x" not in index_page and HOSTILE not in index_page
    by_name = {r.find("a").text(): r for r in rows}
    for row in class_rows:
        cells = by_name[row["student"]].find_all("td")
        assert row["status"].split()[0] in cells[1].text()  # the state; its reason has a column of its own
        if row["score"] is not None:
            assert numbers(cells[2].text()) == [row["score"], 100.0]
        for cell, (item_id, _, _) in zip(cells[3:3 + len(ITEMS)], ITEMS):
            expected = row["items"].get(item_id)
            assert cell.text() == ("—" if expected is None else f"{expected:g}")
        assert cells[-1].text() == row["reason"]


def test_index_statistics_histogram_and_frequent_failures(index_page, class_rows):
    page = parse(index_page)
    counted = [r for r in class_rows if r["status"] != "grader error"]
    bars = page.find("svg").find_all("rect", "bar")
    counts = [int(b.attrs["data-count"]) for b in bars]
    assert len(counts) == 10 and sum(counts) == len(counted)
    expected = [0] * 10
    for row in counted:
        expected[min(9, int(row["score"] // 10))] += 1
    assert counts == expected
    stats = {r.attrs["data-item"]: r for r in page.find("table", "item-stats").find("tbody").find_all("tr")}
    for item_id, _, points in ITEMS:
        scores = [r["items"][item_id] for r in counted]
        cells = stats[item_id].find_all("td")
        assert float(cells[1].attrs["data-value"]) == pytest.approx(np.mean(scores))
        assert float(cells[2].attrs["data-value"]) == pytest.approx(np.mean([s == points for s in scores]))
    frequent = {r.find_all("td")[0].text(): int(r.find_all("td")[1].text())
                for r in page.find("table", "frequent-checks").find("tbody").find_all("tr")}
    assert frequent["L_layer_backward returns dW and db of the right shape and value for every layer"] == 1
    assert "Your gradient_check passes your correct backprop" not in frequent  # skipped follows another failure
    hints = {r.find_all("td")[0].text(): int(r.find_all("td")[1].text())
             for r in page.find("table", "frequent-hints").find("tbody").find_all("tr")}
    assert hints["Transpose A_prev: dW = dZ @ A_prev.T / m."] == 1  # two checks, one student


def test_index_sorting_script_is_inline_and_allowed_by_hash(index_page):
    page = parse(index_page)
    scripts = page.find_all("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    body = scripts[0].text()
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    policy = page.find("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"]
    assert f"'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_write_class_index(tmp_path, class_rows):
    target = tmp_path / "index.html"
    write_class_index(target, class_rows, assignment="backprop-lab", rubric_items=RUBRIC_ITEMS)
    assert "backprop-lab" in parse(target.read_text(encoding="utf-8")).find("h1").text()
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


# ---------------------------------------------------------------- the grader's boundary picture


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_boundary_png_for_valid_params(params):
    png = render_boundary_png(params)
    assert png_size(png) == (400, 300)
    arrays = {k: np.asarray(v) for k, v in params.items()}
    X = np.array([[0.0, 1.0, 2.0], [0.0, 0.5, -0.5]])
    assert png_size(render_boundary_png(arrays, X, np.array([[0, 1, 1]]))) == (400, 300)


@pytest.mark.parametrize("garbage", [
    None, "params", [], {}, {"W1": "x", "b1": "y"},
    {"W1": [[1.0, 2.0], [3.0]], "b1": [0.0, 0.0]},                      # ragged
    {"W1": [[1.0, 2.0, 3.0]], "b1": [[0.0]]},                           # 3 inputs, moons has 2
    {"W1": [[1.0, 2.0]]},                                                # no b1
    {"W1": [[float("nan"), 1.0]], "b1": [[0.0]]},                        # diverged
    {"W1": [[1.0, 2.0], [3.0, 4.0]], "b1": [[0.0], [0.0]]},             # two output units
    {"W1": [[1.0, 2.0]], "b1": [[0.0]], "W3": [[1.0]], "b3": [[0.0]]},  # a gap in the layers
    {"W1": np.zeros((3000, 2)), "b1": np.zeros((3000, 1)), "W2": np.zeros((1000, 3000)),
     "b2": np.zeros((1000, 1)), "W3": np.zeros((1, 1000)), "b3": np.zeros((1, 1))},  # too big to draw
])
def test_boundary_png_is_none_for_garbage(garbage):
    assert render_boundary_png(garbage) is None


def test_boundary_png_is_none_for_bad_data(params):
    assert render_boundary_png(params, X=[[1, 2], [3]]) is None
    assert render_boundary_png(params, X=np.zeros((3, 5))) is None


# ---------------------------------------------------------------- with the rubric engine's own results.json


def test_report_of_a_results_json_from_the_rubric_engine(params):
    """The layout the grader really writes: checks land under the items the rubric assigned them to."""
    from grader.report.results_json import to_results_json
    from grader.config.rubric import rubric_for
    from grader.scoring.rubric import apply_rubric

    outcomes = [CheckOutcome.from_dict(c) for c in make_bob()["extra_data"]["checks"]]
    outcomes.append(CheckOutcome("test_training.py::test_plot_decision_boundary_returns_a_figure",
                                 "plot_decision_boundary returns a Figure", "failed",
                                 message="plot_decision_boundary returned NoneType; expected a matplotlib Figure."))
    result = apply_rubric(rubric_for("backprop-lab"), outcomes, quality=(0.5, ["Docstrings: 1/3", HOSTILE]))
    data = to_results_json(result, execution_time=1.5, output="Sandbox: timed out",
                           extra={"seed": 99, "submission_file": "bob.py", "sandbox_events": ["timed out"]})
    page = parse(render_student_report(data))
    assert "bob" in page.find("h1").text()
    assert numbers(page.find(cls="total").text()) == [result.score, result.max_score]
    sections = render_student_report(data).split('<h3 id="item-')[1:]
    for section, item in zip(sections, result.items):
        assert item.title in section
        ids = [n.text().split(" · ")[0] for n in parse(section).find_all(cls="check-id")]
        assert sorted(ids) == sorted(o.check_id for o in item.outcomes)
    quality = sections[-1]
    assert "Docstrings: 1/3" in quality and HOSTILE not in quality
    assert parse(sections[-1]).find("ul", "notes")


def test_the_same_boundary_picture_is_drawn_once(monkeypatch):
    """The server renders a full report and a public view of one result back to back: the grader's picture of
    the student's boundary is drawn once and reused, and a different network is drawn afresh."""
    import numpy as np
    import reference.report_sections as sections
    drawn = []
    real = sections._draw
    monkeypatch.setattr(sections, "_draw", lambda *a: drawn.append(1) or real(*a))
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((4, 2)).tolist(), "b1": [[0.0]] * 4, "W2": rng.standard_normal((1, 4)).tolist(),
              "b2": [[0.1]]}
    first = sections.render_boundary_png(params)
    again = sections.render_boundary_png({k: list(v) for k, v in params.items()})
    assert first == again and first.startswith(b"\x89PNG") and len(drawn) == 1
    other = sections.render_boundary_png({**params, "b2": [[0.7]]})
    assert other != first and len(drawn) == 2

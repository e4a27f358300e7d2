"""The class summary and the reports in a real browser: layout at 1280, 390 and 320 px, print, sorting, axe-core.

Playwright for Python drives Debian's Chromium (/usr/bin/chromium; `.ci/run`
installs it when missing). axe-core comes from the axe-playwright-python
package, which ships axe.min.js; it is injected into each page (the pages'
Content-Security-Policy forbids foreign scripts, so the test context
bypasses it) and must find no WCAG 2.1 A/AA violation. Screenshots of the
index and a report at 1280 and 390 px are written to the test's folder, or
to $GRADER_SCREENSHOTS when set, for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser_support import axe_violations as _axe_violations
from tests.browser_support import chromium, require_chromium
from tests.browser_support import shots_dir as _shots_dir

require_chromium()

from grader.batch import run_batch  # noqa: E402

LAB = Path(__file__).parent / "fixtures" / "lab"
WIDTHS = [1280, 390, 320]
CLASS = {  # student id -> fixture: a correct lab, two bugs, a syntax error, a broken file, long names
    "ada_lovelace": "correct_classic.py", "katherine_johnson_the_second": "bug_missing_1_over_m.py",
    "margaret_hamilton": "bug_syntax_error_in_one_function.py", "john_von_neumann": "broken_binary.py",
    "emmy_noether": "bug_missing_1_over_m.py",
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A small class graded by `grader batch` (its real index.html and reports)."""
    root = tmp_path_factory.mktemp("browser")
    folder = root / "class"
    folder.mkdir()
    for student, fixture in CLASS.items():
        shutil.copy(LAB / fixture, folder / f"{student}.py")
    run_batch(folder, "backprop-lab", root / "out", jobs=2, progress=False, seed=7, settings={"train_timeout": 8})
    return root / "out"


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def _open(browser, path: Path, width: int, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.goto(path.as_uri())
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_name", ["index.html", "ada_lovelace/report.html", "john_von_neumann/report.html",
                                       "margaret_hamilton/report.html"])
def test_axe_finds_no_wcag_violation(pages, browser, page_name, width):
    page = _open(browser, pages / page_name, width)
    assert _axe_violations(page) == []
    page.context.close()


def test_the_students_table_comes_first_and_names_stay_whole_at_1280(pages, browser, tmp_path):
    page = _open(browser, pages / "index.html", 1280)
    top = page.evaluate("document.getElementById('students').getBoundingClientRect().top")
    assert top < 400  # it used to start ~1,950 px down
    # Each name is one line: no mid-word break.
    lines = page.evaluate("""Array.from(document.querySelectorAll('#students td.student a'))
                             .map(a => [a.textContent, a.getClientRects().length])""")
    assert lines and all(count == 1 for _, count in lines), lines
    page.screenshot(path=str(_shots_dir(tmp_path) / "index-1280.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", [390, 320])
def test_on_a_phone_nothing_is_cut_and_the_page_does_not_scroll_sideways(pages, browser, width, tmp_path):
    page = _open(browser, pages / "index.html", width, 844)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Every score of every student is fully on screen (it was cut to "100 / 1").
    outside = page.evaluate(f"""Array.from(document.querySelectorAll('#students td'))
        .filter(td => {{ const r = td.getBoundingClientRect(); return r.width > 0 && (r.left < 0 || r.right > {width}); }})
        .map(td => td.textContent)""")
    assert outside == []
    totals = page.evaluate("Array.from(document.querySelectorAll('#students td.total')).map(td => td.innerText)")
    assert all("/ 100" in text for text in totals), totals
    # Every box that scrolls can be reached with the keyboard.
    unreachable = page.evaluate("""Array.from(document.querySelectorAll('*')).filter(el => {
        const style = getComputedStyle(el);
        const scrolls = (el.scrollWidth > el.clientWidth + 1 && /(auto|scroll)/.test(style.overflowX)) ||
                        (el.scrollHeight > el.clientHeight + 1 && /(auto|scroll)/.test(style.overflowY));
        return scrolls && el.tabIndex < 0 && !el.querySelector('a, button, [tabindex]');
    }).map(el => el.outerHTML.slice(0, 80))""")
    assert unreachable == []
    if width == 390:
        page.screenshot(path=str(_shots_dir(tmp_path) / "index-390.png"), full_page=False)
    page.context.close()


def test_sorting_uses_buttons_and_announces_the_order(pages, browser):
    page = _open(browser, pages / "index.html", 1280)
    score = page.locator("#students thead th", has_text="Score")
    button = score.locator("button")
    assert button.count() == 1
    assert button.evaluate("b => b.querySelector('[aria-hidden=true]') !== null")  # the arrow is not spoken
    assert button.evaluate("b => getComputedStyle(b.querySelector('.arrow'), '::after').content") != "none"
    button.click()
    assert score.get_attribute("aria-sort") == "ascending"
    assert page.locator("#sort-status").inner_text() == "Sorted by Score, ascending."
    values = page.evaluate("Array.from(document.querySelectorAll('#students td.total')).map(td => parseFloat(td.dataset.sort))")
    assert values == sorted(values)
    button.click()
    assert page.locator("#sort-status").inner_text() == "Sorted by Score, descending."
    page.context.close()


def test_the_histogram_counts_are_in_its_accessible_name(pages, browser):
    page = _open(browser, pages / "index.html", 1280)
    name = page.evaluate("document.getElementById('histogram-title').textContent")
    bars = page.evaluate("Array.from(document.querySelectorAll('svg.histogram rect.bar')).map(r => r.dataset.count)")
    assert f"90–100%: {bars[-1]} student" in name and f"0–10% (excl.): {bars[0]} student" in name
    page.context.close()


@pytest.mark.parametrize("orientation, width", [("portrait", 718), ("landscape", 1047)])
def test_the_index_prints_every_column(pages, browser, orientation, width):
    # A4 with 12 mm margins at 96 px per inch: 718 px (portrait) or 1047 px (landscape) of paper width.
    page = _open(browser, pages / "index.html", width)
    page.emulate_media(media="print")
    right = page.evaluate("""Math.max(...Array.from(document.querySelectorAll('#students th, #students td'))
                             .map(c => c.getBoundingClientRect().right))""")
    assert right <= width + 0.5
    headers = page.evaluate("Array.from(document.querySelectorAll('#students thead th')).map(th => th.innerText)")
    assert any("quality" in h for h in headers) and any("Problems" in h for h in headers)
    assert page.pdf(format="A4", landscape=orientation == "landscape")[:4] == b"%PDF"
    page.context.close()


def test_a_report_prints_without_scroll_boxes_and_screenshots_are_taken(pages, browser, tmp_path):
    for width in (1280, 390):
        page = _open(browser, pages / "ada_lovelace" / "report.html", width)
        page.screenshot(path=str(_shots_dir(tmp_path) / f"report-{width}.png"), full_page=width == 1280)
        page.context.close()
    for width in (718, 1047):  # A4 portrait and landscape, 12 mm margins
        page = _open(browser, pages / "ada_lovelace" / "report.html", width)
        page.emulate_media(media="print")
        clipped = page.evaluate("""Array.from(document.querySelectorAll('pre, .scroll'))
            .filter(el => el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1).length""")
        assert clipped == 0
        page.context.close()
    alts = []
    for student in ("ada_lovelace", "katherine_johnson_the_second"):
        page = _open(browser, pages / student / "report.html", 1280)
        alts.append(page.evaluate("Array.from(document.querySelectorAll('figure img')).map(i => i.alt)"))
        page.context.close()
    assert alts[0] and alts[0] != alts[1]

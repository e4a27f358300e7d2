"""What the browser tests share: Debian's Chromium under Playwright, axe-core, a place for screenshots.

Playwright's own browser download is unreachable here, so the tests launch
/usr/bin/chromium (`.ci/run` installs it when missing) headless, with the
flags that keep it from reaching the network on its own. axe-core comes from
the axe-playwright-python package, which ships axe.min.js; it is injected
into the page under test (the test's browser context bypasses the page's
Content-Security-Policy to allow that) and asked for WCAG 2.1 A/AA violations.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def require_chromium():
    """The `playwright.sync_api` module, or skip the calling test module when Playwright or Chromium is missing."""
    api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)", allow_module_level=True)
    return api


def launch(playwright):
    """Debian's Chromium, headless, without the network traffic of its own."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@contextmanager
def chromium():
    """A running Chromium for the `with` block (for a test module's browser fixture)."""
    with require_chromium().sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now (id, help, up to five targets each)."""
    import axe_playwright_python
    source = Path(axe_playwright_python.__file__).with_name("axe.min.js").read_text(encoding="utf-8")
    page.add_script_tag(content=source)
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [{"id": v["id"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $GRADER_SCREENSHOTS when set (for a person to look at), else the test's folder."""
    folder = Path(os.environ.get("GRADER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder

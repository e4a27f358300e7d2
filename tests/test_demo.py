"""`grader demo`: the bundled class is graded like a batch, and a rerun resumes."""

from __future__ import annotations

import csv
from html.parser import HTMLParser

from grader.cli import main as cli_main


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def test_demo_grades_the_bundled_class_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo-report"
    assert cli_main(["demo", "--out", str(out), "-j", "2"]) == 0
    first = capsys.readouterr().out
    assert "17 students: graded 17" in first

    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert len(rows) == 17
    assert float(rows["ada_lovelace"]["score"]) == 99
    assert rows["john_von_neumann"]["status"].startswith("broken") and float(rows["john_von_neumann"]["score"]) == 0
    assert float(rows["hedy_lamarr"]["training"]) == 5          # its train never ends: only the plot counts
    assert float(rows["tim_berners_lee"]["score"]) == 0         # the untouched starter
    assert float(rows["grace_hopper"]["backward"]) == 30        # the notebook
    assert float(rows["barbara_liskov"]["backward"]) == 0       # handed in as a folder
    assert float(rows["frances_allen"]["forward"]) < 20         # handed in as a zip
    for student in rows:
        assert (out / student / "results.json").is_file() and (out / student / "report.html").is_file()

    links = _Links()
    links.feed((out / "index.html").read_text())
    assert {f"{student}/report.html" for student in rows} <= set(links.hrefs)

    assert cli_main(["demo", "--out", str(out), "-j", "2"]) == 0
    assert "skipped 17 unchanged" in capsys.readouterr().out

"""Text a submission controls never reaches a terminal, a CSV or a file as it is (issue 11).

A student's exception message, output, file name or zip entry name can hold
escape sequences (a cleared screen, a cursor moved to overwrite the score, an
OSC 52 clipboard write), other control characters, bidi overrides and lone
surrogates. They are removed on the way to a terminal or a CSV
(`grader.text.printable`) and made encodable on the way to a file.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from grader.batch.gradebook import GradebookRow, write_gradebook
from grader.cli import main
from grader.files import write_text_atomic
from grader.text import one_line, printable, valid_text

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "attacks"))
from make_attacks import write_attacks  # noqa: E402

# What must never reach a terminal: ESC, BEL, CR, 8-bit CSI/OSC/ST, bidi overrides, surrogates.
FORBIDDEN = ["\x1b", "\x07", "\r", "\x9b", "\x9d", "\x9c", "\u202e", "\ud800", "\udcff"]
HOSTILE = ("\ud800 \x1b[2J\x1b[H\x1b[32mScore: 100/100\x1b[0m \x1b]52;c;ZWNobyBwd25lZA==\x07 \x9b2J "
           "\u202etxt.exe \x1b]0;title\x1b\\ tail\r\x1b[Kover \x1b]52;c;unterminated")


def _clean(text: str) -> bool:
    return not any(bad in text for bad in FORBIDDEN)


def test_printable_removes_whole_escape_sequences_and_control_characters():
    shown = printable(HOSTILE)
    assert _clean(shown)
    # The parameters of a sequence go with it: no "[2J", no clipboard payload, no window title.
    for leftover in ("[2J", "ZWNob", "52;", "title", "2J", "unterminated"):
        assert leftover not in shown
    assert "Score: 100/100" in shown  # plain words stay words; only their power over the terminal goes
    assert "\ufffd" in shown  # the surrogate is shown as a replacement character, not dropped silently
    assert printable("line one\n\tline two") == "line one\n\tline two"
    assert printable("a\nb", multiline=False) == "a b"
    assert _clean(one_line(HOSTILE)) and "\n" not in one_line("a\nb")


def test_valid_text_makes_any_string_encodable():
    assert valid_text("ok \ud800 \udcff").encode("utf-8") == "ok \ufffd \ufffd".encode("utf-8")
    assert valid_text("plain") == "plain"


def test_the_atomic_writer_writes_a_lone_surrogate_as_a_replacement(tmp_path):
    write_text_atomic(tmp_path / "out.txt", "before \ud800 after")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "before \ufffd after"


@pytest.mark.parametrize("cell", [" =1+1", "\xa0=1+1", "\uff1d1+1", "\ufe66HYPERLINK()", "\uff0bcmd", "=1",
                                  "\u3000=1", "\u200b=1", "\x1b[2J=1+1", "-1", "@SUM(A1)"])
def test_gradebook_cells_a_spreadsheet_could_run_are_quoted(tmp_path, cell):
    write_gradebook(tmp_path, [GradebookRow(cell, f"broken: {cell}")], ["forward"])
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as stream:
        row = list(csv.DictReader(stream))[0]
    assert row["student"].startswith("'"), row
    assert _clean(row["student"]) and _clean(row["status"])


def test_gradebook_cells_lose_escape_sequences(tmp_path):
    write_gradebook(tmp_path, [GradebookRow("ali\x1b[2Jce", "graded: " + HOSTILE)], ["forward"])
    text = (tmp_path / "gradebook.csv").read_text(encoding="utf-8")
    assert _clean(text) and "alice" in text


@pytest.fixture(scope="module")
def surrogate_attack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attack")
    return write_attacks(folder, ["exception_surrogate"])["exception_surrogate"]


def test_grade_writes_its_files_and_prints_nothing_raw_for_a_hostile_exception(surrogate_attack, tmp_path, capsys):
    """`raise ValueError("\\ud800")` used to stop `grader grade` before results.json and the report were written."""
    out_json, out_html = tmp_path / "results.json", tmp_path / "report.html"
    status = main(["grade", str(surrogate_attack), "-a", "backprop-lab", "--seed", "5",
                   "--json", str(out_json), "--html", str(out_html)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    data = json.loads(out_json.read_text(encoding="utf-8"))
    messages = " ".join(c["message"] for c in data["extra_data"]["checks"])
    assert "\ufffd" in messages and "raised ValueError" in messages
    assert out_html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _clean(printed.out) and _clean(printed.err)
    assert "raised ValueError" in printed.out

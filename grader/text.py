"""Plain-text helpers shared by every layer that shows text to a person.

Text a submission can influence (its exception messages, its output, its
file and zip entry names, the student ids made from them) reaches the
instructor's terminal, the batch's progress notes, gradebook.csv and the
output files. `printable` is the one gate it passes on the way to a terminal,
a CSV or a log: no escape sequence (a cleared screen, a moved cursor that
overwrites "Score: 40/100" with "Score: 100/100", an OSC 52 clipboard write),
no other control character, no character that reorders what follows. `valid_text`
is the gate to a file: every string becomes encodable as UTF-8 (a lone
surrogate such as ``"\\ud800"`` in an exception message otherwise stops the
writer).
"""

from __future__ import annotations

import re

# Whole escape sequences, so that their parameters ("[2J", "]52;c;...") go too:
# CSI (ESC [ or the 8-bit 0x9B, parameters, one final byte); OSC, DCS, SOS, PM
# and APC strings (ESC ] P X ^ _ or their 8-bit forms, up to BEL or ST, or to
# the end of the text when unterminated); any other ESC with its next character.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x9c|\x1b\\)?"
    r"|\x1b[\s\S]?")
# Control characters (C0, DEL, C1), bidirectional overrides and isolates (they
# reorder the text after them on screen), and line or paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_AND_LINES = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def valid_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so that it can be written as UTF-8."""
    text = str(text)
    return _SURROGATE.sub(REPLACEMENT, text) if _SURROGATE.search(text) else text


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` safe to show on a terminal, in a CSV cell or a log line.

    Escape sequences are removed whole; other control characters, bidi
    overrides and lone surrogates are removed (surrogates become U+FFFD).
    With `multiline` newlines and tabs are kept (a carriage return is
    dropped: it would let a line overwrite itself); without it they become
    spaces.
    """
    text = valid_text(text)
    text = _ESCAPE_SEQUENCE.sub("", text)
    if multiline:
        return _CONTROL.sub("", text.replace("\r\n", "\n"))
    return _CONTROL_AND_LINES.sub("", re.sub(r"[\t\n\r\x0b\x0c]", " ", text))


def one_line(text: str, limit: int = 300) -> str:
    """`text` made `printable` on one line (runs of whitespace become one space), cut to `limit` characters."""
    text = " ".join(printable(text, multiline=False).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."

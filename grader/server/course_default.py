"""The commented course.toml that ``grader course init DIR`` writes: a course that works at once.

Every assignment given is open from the minute the file is written and due 7
days later at the same wall-clock time in the course zone (a daylight-saving
change in between does not move it), with a hard close 5 days after that.
The rules are a fresh course's (INTERFACES.md): 20 submissions per student and
assignment in any 24 h, the best score counts, 3 late days per student for the
whole course, then 10% per late day.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from grader.server.course_config import (FILENAME, FRESH_SUBMISSIONS_PER_DAY, CourseConfigError, local_to_utc,
                                         to_utc, zone)

OPEN_FOR = timedelta(days=7)
LATE_WINDOW = timedelta(days=5)
FRESH_LATE_DAYS = 3
FRESH_PENALTY = "10%"
EXAMPLE_EXTENSION = timedelta(days=2)

_HEADER = """\
# course.toml: the calendar and rules of this course, read by `grader serve`.
# Written by `grader course init` on {written}. Edit it and restart the server;
# a mistake is reported with this file, the table and the key at fault.
#
# Times: a local date-time such as 2025-03-08T23:59:00 is read in `timezone`
# below; one with an offset (2025-03-08T23:59:00+01:00) means exactly that
# instant. Write them without quotes. A due time keeps its wall-clock time
# across daylight-saving changes; a local time the clocks skip or repeat is
# refused, with the offsets to choose from.

# The course's name, shown on every page.
title = {title}

# The course's time zone, an IANA name such as "Europe/Berlin" or
# "America/New_York". Students see due times in it and in their own zone.
timezone = {timezone}

# Late days: a budget each student spends across all assignments (0 = none).
# A submission is one day late per started 24 hours after its due time (one
# second late is one day). Late days cover those days first; every day they do
# not cover costs `late_penalty`. Only the submission that counts spends late
# days: a late attempt that does not count, or one that failed through a fault
# of the grader, costs none. A student confirms before a submission spends any.
late_days = {late_days}

# The rules of every assignment below; an [assignments.ID] table may set any
# of these keys itself.
[defaults]
# Submissions one student may make per assignment in any 24 hours (at least 1).
# Submissions that failed through a fault of the grader are not counted.
submissions_per_day = {per_day}
# Which submission counts: "best" (the highest score after late penalties;
# a later attempt never lowers a grade) or "last" (the latest graded one).
counts = "best"
# The penalty per late day not covered by late days, a share of the points
# earned: a fraction (0.1) or a percentage ("10%"). With 0, late work needs
# enough late days to cover it.
late_penalty = {penalty}
# Whether students may spend late days on the assignment (true or false).
use_late_days = true
# What students see: "public-until-release" (the public checks, which
# `grader check` runs, and a score counting only them, until grades are
# released) or "full" (the whole report at once, e.g. for practice work).
feedback = "public-until-release"
# Whether grades are released; the instructor can also release them on the server.
released = false

# One table per assignment offered, named by its id (`grader list`).
"""

_ASSIGNMENT = """
[assignments.{key}]
title = {title}  # shown to students
opens = {opens}  # submissions accepted from this time on
due = {due}  # due time; a submission at exactly this time is on time
hard_close = {hard_close}  # optional: nothing is accepted after it, late days or not
"""

_FOOTER = """
# Extensions: a new due time for one student and one assignment (the server's
# instructor pages add more). Without its own hard_close, the hard close moves
# as far as the due time does.
# [[extensions]]
# student = "alice"  # the student's id, as in the roster
# assignment = {assignment}  # an assignment offered above
# due = {due}  # the student's new due time
# hard_close = {hard_close}  # optional
# reason = "illness"  # shown to the instructor only
"""


def write_default_course(directory: str | Path, assignments: Iterable[tuple[str, str]], now: datetime, *,
                         timezone_name: str | None = None, title: str = "Backpropagation course") -> Path:
    """Write ``DIRECTORY/course.toml`` offering `assignments` ((id, title) pairs), open from `now`, due in 7 days.

    `now` must be aware. The course zone is `timezone_name`, else the zone of
    `now` when it is a named zone, else this machine's, else UTC. An existing
    course.toml is never overwritten (`CourseConfigError`). Returns the path.
    """
    try:
        named_zone = getattr(now.tzinfo, "key", None)  # read before the conversion to UTC drops it
        now = to_utc(now, "now")
    except ValueError as exc:
        raise CourseConfigError(f"course init: {exc}") from None
    assignments = list(assignments)
    if not assignments:
        raise CourseConfigError("a course needs at least one assignment to offer")
    name = timezone_name or named_zone or _machine_zone()
    try:
        tz = zone(name)
    except ValueError as exc:
        raise CourseConfigError(f"course init: {exc}") from None
    directory = Path(directory)
    path = directory / FILENAME
    if path.exists():
        raise CourseConfigError(f"{path} already exists; it is left as it is (remove it to start afresh)")
    opens = now.replace(second=0, microsecond=0)  # written to the minute, and never after `now`
    due = _wall_clock_later(opens, OPEN_FOR, tz)
    hard_close = _wall_clock_later(due, LATE_WINDOW, tz)
    text = _HEADER.format(written=opens.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"), title=toml_string(title),
                          timezone=toml_string(name), late_days=FRESH_LATE_DAYS, per_day=FRESH_SUBMISSIONS_PER_DAY,
                          penalty=toml_string(FRESH_PENALTY))
    for assignment_id, assignment_title in assignments:
        text += _ASSIGNMENT.format(key=_toml_key(assignment_id), title=toml_string(assignment_title),
                                   opens=toml_time(opens, tz), due=toml_time(due, tz),
                                   hard_close=toml_time(hard_close, tz))
    text += _FOOTER.format(assignment=toml_string(assignments[0][0]),
                           due=toml_time(_wall_clock_later(due, EXAMPLE_EXTENSION, tz), tz),
                           hard_close=toml_time(_wall_clock_later(hard_close, EXAMPLE_EXTENSION, tz), tz))
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{FILENAME}.partial")
    partial.write_text(text, encoding="utf-8")
    try:
        os.link(partial, path)  # atomic and refuses to replace a course.toml written meanwhile
    except FileExistsError:
        raise CourseConfigError(f"{path} already exists; it is left as it is (remove it to start afresh)") from None
    finally:
        partial.unlink()
    return path


def _wall_clock_later(start: datetime, days: timedelta, tz) -> datetime:
    """`start` plus whole `days` on the course's wall clock (same local time), as UTC."""
    local = start.astimezone(tz).replace(tzinfo=None) + days
    try:
        return local_to_utc(local, tz)
    except ValueError:
        # The time is skipped or repeated that day: take the instant Python's
        # fold=0 gives; toml_time then writes it with its explicit offset.
        return local.replace(tzinfo=tz).astimezone(timezone.utc)


def toml_time(value: datetime, tz) -> str:
    """`value` as a TOML date-time: local in `tz` when that names it unambiguously, else with its offset."""
    local = value.astimezone(tz)
    naive = local.replace(tzinfo=None, microsecond=0)
    try:
        if local_to_utc(naive, tz) == value.replace(microsecond=0):
            return naive.isoformat(timespec="seconds")
    except ValueError:
        pass
    return local.replace(microsecond=0).isoformat(timespec="seconds")


def toml_string(value: str) -> str:
    """`value` as a TOML basic string, escaping what TOML requires (quote, backslash, control characters)."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def _machine_zone() -> str:
    """This machine's IANA zone name (TZ, then /etc/localtime's link), else "UTC"."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.readlink("/etc/localtime")
        candidates.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except OSError:
        pass
    for name in candidates:
        try:
            if name:
                zone(name)
                return name
        except ValueError:
            continue
    return "UTC"

"""A course's calendar and rules: ``COURSE_DIR/course.toml``, validated at load time.

The file (``grader course init`` writes a commented one, see `write_default_course`)::

    title = "Backpropagation, spring term"
    timezone = "Europe/Berlin"          # IANA name; local times below are read in it
    late_days = 3                       # course-wide budget of late days per student

    [defaults]                          # every [assignments.ID] table may override these
    submissions_per_day = 20            # per student and assignment in any 24 h
    counts = "best"                     # or "last"
    late_penalty = "10%"                # per late day not covered by late days (or 0.1)
    use_late_days = true                # may late days be spent on the assignment
    feedback = "public-until-release"   # or "full"
    released = false                    # grades released (the server can release too)

    [assignments.backprop-lab]
    title = "Backprop lab"              # optional
    opens = 2025-03-01T09:00:00         # local time in `timezone` ...
    due = 2025-03-08T23:59:00+01:00     # ... or with an explicit offset
    hard_close = 2025-03-13T23:59:00    # optional: nothing is accepted after it

    [[extensions]]                      # a new due time for one student and assignment
    student = "alice"
    assignment = "backprop-lab"
    due = 2025-03-10T23:59:00
    # hard_close = ...                  # default: the hard close moves as far as the due time
    # reason = "..."

Every time is stored as an aware UTC `datetime`: wall-clock arithmetic on
zone-aware values goes wrong across daylight-saving changes, so conversion to
the course's or a student's zone happens only for display. A local time that
does not exist in the course zone (skipped by a spring-forward change) or that
happens twice (autumn) is refused with the offsets to choose from, instead of
being silently moved.

`load_course` raises `CourseConfigError` naming the file, the table and the key.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Collection
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

COUNT_RULES = ("best", "last")
FEEDBACK_POLICIES = ("public-until-release", "full")
FRESH_SUBMISSIONS_PER_DAY = 20  # INTERFACES.md: a fresh course allows at least 20 per 24 h
FILENAME = "course.toml"

_TOP_KEYS = ("title", "timezone", "late_days", "defaults", "assignments", "extensions")
# The rules an assignment may take from [defaults] or set itself.
_RULE_KEYS = ("submissions_per_day", "counts", "late_penalty", "use_late_days", "feedback", "released")
_ASSIGNMENT_KEYS = ("title", "opens", "due", "hard_close") + _RULE_KEYS
_EXTENSION_KEYS = ("student", "assignment", "due", "hard_close", "reason")
_RULE_DEFAULTS = {"submissions_per_day": FRESH_SUBMISSIONS_PER_DAY, "counts": "best", "late_penalty": 0.0,
                  "use_late_days": True, "feedback": "public-until-release", "released": False}
_PENALTY_DECIMALS = 6  # 3 * 0.1 is 0.30000000000000004 in floats; a penalty is a clean fraction


class CourseConfigError(Exception):
    """A course.toml that cannot be used; the message names the file, the table and the key."""


# ---------------------------------------------------------------- time helpers


def to_utc(value: Any, what: str) -> datetime:
    """`value` as an aware UTC datetime; a naive datetime or a non-datetime is a `ValueError` naming `what`."""
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}): its time zone is unknown, so the "
                         f"instant it names is too; pass an aware one, e.g. datetime.now(timezone.utc)")
    return value.astimezone(timezone.utc)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; `ValueError` saying what was expected otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a time zone must be an IANA name such as 'Europe/Berlin', found {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin', "
                         f"'America/New_York' or 'UTC'") from None


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of the naive wall-clock time `local` in `tz`; `ValueError` when it is skipped or repeated."""
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != local:
        raise ValueError(f"{local.isoformat()} does not exist in {tz.key}: the clocks skip it (daylight saving "
                         f"time starts); pick another time or write an explicit offset, e.g. "
                         f"{local.isoformat()}{_offset(first.utcoffset())}")
    if first.utcoffset() != second.utcoffset():
        raise ValueError(f"{local.isoformat()} happens twice in {tz.key} (the clocks go back); write it with an "
                         f"offset: {local.isoformat()}{_offset(first.utcoffset())} (the first) or "
                         f"{local.isoformat()}{_offset(second.utcoffset())} (the second)")
    return first.astimezone(timezone.utc)


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# ---------------------------------------------------------------- the configuration


@dataclass(frozen=True)
class Extension:
    """A new due time for one student and assignment (from course.toml or the server's database).

    `due` and `hard_close` must be aware; they are stored in UTC. Without its
    own `hard_close`, the assignment's hard close (if any) moves as far as the
    due time did, so the student keeps the same window for late work.
    """

    student: str
    assignment: str
    due: datetime
    hard_close: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        for name in ("student", "assignment"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"an extension's {name} must be a non-empty string, found {value!r}")
        object.__setattr__(self, "due", to_utc(self.due, "an extension's due time"))
        if self.hard_close is not None:
            hard_close = to_utc(self.hard_close, "an extension's hard close")
            if hard_close < self.due:
                raise ValueError(f"the extension of {self.student!r} for {self.assignment!r} closes "
                                 f"({hard_close.isoformat()}) before it is due ({self.due.isoformat()})")
            object.__setattr__(self, "hard_close", hard_close)


@dataclass(frozen=True)
class AssignmentPolicy:
    """When one assignment is open and the rules for handing it in; times are aware UTC."""

    id: str
    opens: datetime
    due: datetime
    hard_close: datetime | None = None
    title: str | None = None
    submissions_per_day: int = FRESH_SUBMISSIONS_PER_DAY
    counts: str = "best"
    late_penalty: float = 0.0      # fraction of the points earned, per late day not covered by late days
    use_late_days: bool = True
    feedback: str = "public-until-release"
    released: bool = False

    def __post_init__(self) -> None:
        for name in ("opens", "due", "hard_close"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, to_utc(getattr(self, name), f"{self.id}: {name}"))
        if self.due <= self.opens:
            raise ValueError(f"{self.id}: due ({self.due.isoformat()}) must be after opens "
                             f"({self.opens.isoformat()})")
        if self.hard_close is not None and self.hard_close < self.due:
            raise ValueError(f"{self.id}: hard_close ({self.hard_close.isoformat()}) is before due "
                             f"({self.due.isoformat()})")
        if self.counts not in COUNT_RULES:
            raise ValueError(f"{self.id}: counts must be one of {', '.join(COUNT_RULES)}, found {self.counts!r}")
        if self.feedback not in FEEDBACK_POLICIES:
            raise ValueError(f"{self.id}: feedback must be one of {', '.join(FEEDBACK_POLICIES)}, "
                             f"found {self.feedback!r}")
        if not (isinstance(self.submissions_per_day, int) and self.submissions_per_day >= 1):
            raise ValueError(f"{self.id}: submissions_per_day must be an integer of at least 1, "
                             f"found {self.submissions_per_day!r}")
        if not (isinstance(self.late_penalty, (int, float)) and 0.0 <= self.late_penalty <= 1.0):
            raise ValueError(f"{self.id}: late_penalty must be a fraction from 0 to 1, found {self.late_penalty!r}")

    @property
    def accepts_late_work(self) -> bool:
        """True when a submission after the due time can be accepted (late days or a penalty)."""
        return self.use_late_days or self.late_penalty > 0


@dataclass(frozen=True)
class CourseConfig:
    """A validated course.toml: the course, its time zone, late-day budget, assignments and extensions."""

    title: str
    timezone: str
    assignments: tuple[AssignmentPolicy, ...]
    late_days: int = 0
    extensions: tuple[Extension, ...] = ()
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        zone(self.timezone)  # fails early with the expected form
        ids = [a.id for a in self.assignments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"an assignment is offered twice: {ids}")
        if not (isinstance(self.late_days, int) and self.late_days >= 0):
            raise ValueError(f"late_days must be an integer of at least 0, found {self.late_days!r}")

    @property
    def tz(self) -> ZoneInfo:
        """The course's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def assignment_ids(self) -> tuple[str, ...]:
        """The ids of the assignments offered, in the file's order."""
        return tuple(a.id for a in self.assignments)

    def assignment(self, assignment_id: str) -> AssignmentPolicy:
        """The policy of `assignment_id`; `KeyError` naming the assignments offered otherwise."""
        for policy in self.assignments:
            if policy.id == assignment_id:
                return policy
        raise KeyError(f"assignment {assignment_id!r} is not offered in this course "
                       f"(offered: {', '.join(self.assignment_ids) or 'none'})")


# ---------------------------------------------------------------- loading


KnownAssignments = Callable[[str], bool] | Collection[str]


def load_course(path: str | Path, known_assignments: KnownAssignments) -> CourseConfig:
    """Load and validate a course.toml; `CourseConfigError` names the file, table and key at fault.

    `known_assignments` says which assignment ids exist: a collection of ids
    or a callable returning True for an id the grader can load (so this module
    needs no assignment registry).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CourseConfigError(f"{path}: cannot read the course file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CourseConfigError(f"{path}: not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseConfigError(f"{path}: invalid TOML: {exc}") from None
    where = str(path)
    _unknown_keys(where, data, _TOP_KEYS)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CourseConfigError(f"{where}: `title` must be a non-empty string (the course's name), found {title!r}")
    tz_name = data.get("timezone")
    try:
        tz = zone(tz_name)
    except ValueError as exc:
        raise CourseConfigError(f"{where}: `timezone`: {exc}") from None
    late_days = data.get("late_days", 0)
    if isinstance(late_days, bool) or not isinstance(late_days, int) or late_days < 0:
        raise CourseConfigError(f"{where}: `late_days` must be a whole number of days, 0 or more (the budget "
                                f"each student spends across assignments), found {late_days!r}")
    defaults = dict(_RULE_DEFAULTS)
    raw_defaults = _table(where, data, "defaults")
    _unknown_keys(f"{where}: [defaults]", raw_defaults, _RULE_KEYS)
    defaults.update(_rules(f"{where}: [defaults]", raw_defaults))
    assignments = _assignments(where, data, tz, defaults, known_assignments)
    extensions = _extensions(where, data, tz, {a.id: a for a in assignments})
    return CourseConfig(title.strip(), tz_name, tuple(assignments), late_days, tuple(extensions), path)


def _table(where: str, data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise CourseConfigError(f"{where}: `{key}` must be a table ([{key}]), found {value!r}")
    return value


def _unknown_keys(where: str, data: dict, allowed: tuple[str, ...]) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CourseConfigError(f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(allowed)}")


def _rules(where: str, raw: dict) -> dict[str, Any]:
    """The rule keys of [defaults] or of one assignment table, checked and normalised."""
    rules: dict[str, Any] = {}
    if "submissions_per_day" in raw:
        value = raw["submissions_per_day"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseConfigError(f"{where}: `submissions_per_day` must be a whole number of at least 1 "
                                    f"(submissions per student in any 24 h), found {value!r}")
        rules["submissions_per_day"] = value
    if "counts" in raw:
        rules["counts"] = _choice(where, "counts", raw["counts"], COUNT_RULES)
    if "late_penalty" in raw:
        rules["late_penalty"] = _penalty(where, raw["late_penalty"])
    for key in ("use_late_days", "released"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise CourseConfigError(f"{where}: `{key}` must be true or false, found {raw[key]!r}")
            rules[key] = raw[key]
    if "feedback" in raw:
        rules["feedback"] = _choice(where, "feedback", raw["feedback"], FEEDBACK_POLICIES)
    return rules


def _choice(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CourseConfigError(f"{where}: `{key}` must be one of {', '.join(map(repr, allowed))}, found {value!r}")
    return value


def _penalty(where: str, value: Any) -> float:
    """A penalty per late day: a fraction from 0 to 1 or a percentage string such as "10%"."""
    expected = "a fraction from 0 to 1 (0.1) or a percentage (\"10%\")"
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)
        if not match:
            raise CourseConfigError(f"{where}: `late_penalty` must be {expected}, found {value!r}")
        fraction = float(match.group(1)) / 100
        if fraction > 1:
            raise CourseConfigError(f"{where}: `late_penalty` {value!r} is more than 100% per day")
        return round(fraction, _PENALTY_DECIMALS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CourseConfigError(f"{where}: `late_penalty` must be {expected}, found {value!r}")
    if value > 1:
        raise CourseConfigError(f"{where}: `late_penalty` = {value!r} is more than 1 (100% per day); for "
                                f"{value:g}% write \"{value:g}%\" or {value / 100:g}")
    return float(value)


def _time(where: str, key: str, value: Any, tz: ZoneInfo) -> datetime:
    """A TOML date-time: local (read in the course zone) or with an offset; stored in UTC."""
    example = "2025-03-08T23:59:00"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            try:
                return local_to_utc(value, tz)
            except ValueError as exc:
                raise CourseConfigError(f"{where}: `{key}`: {exc}") from None
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        raise CourseConfigError(f"{where}: `{key}` = {value.isoformat()} is a date without a time; write the "
                                f"time too, e.g. {value.isoformat()}T23:59:00")
    if isinstance(value, time):
        raise CourseConfigError(f"{where}: `{key}` = {value.isoformat()} is a time without a date; write "
                                f"a date-time, e.g. {example}")
    if isinstance(value, str):
        raise CourseConfigError(f"{where}: `{key}` is the string {value!r}; write a TOML date-time without "
                                f"quotes, e.g. {key} = {example} (or with an offset, {example}+01:00)")
    raise CourseConfigError(f"{where}: `{key}` must be a date-time such as {example}, found {value!r}")


def _assignments(where: str, data: dict, tz: ZoneInfo, defaults: dict[str, Any],
                 known: KnownAssignments) -> list[AssignmentPolicy]:
    tables = _table(where, data, "assignments")
    if not tables:
        raise CourseConfigError(f"{where}: the course offers no assignment; add a table such as "
                                f"[assignments.backprop-lab] with `opens` and `due`")
    is_known = known if callable(known) else (lambda a: a in known)
    policies = []
    for assignment_id, raw in tables.items():
        table = f"{where}: [assignments.{assignment_id}]"
        if not isinstance(raw, dict):
            raise CourseConfigError(f"{table} must be a table, found {raw!r}")
        if not is_known(assignment_id):
            raise CourseConfigError(f"{table}: unknown assignment {assignment_id!r}{_known_hint(assignment_id, known)}")
        _unknown_keys(table, raw, _ASSIGNMENT_KEYS)
        title = raw.get("title")
        if title is not None and (not isinstance(title, str) or not title.strip()):
            raise CourseConfigError(f"{table}: `title` must be a non-empty string, found {title!r}")
        for key in ("opens", "due"):
            if key not in raw:
                raise CourseConfigError(f"{table}: `{key}` is missing; write e.g. {key} = 2025-03-08T23:59:00")
        opens = _time(table, "opens", raw["opens"], tz)
        due = _time(table, "due", raw["due"], tz)
        hard_close = _time(table, "hard_close", raw["hard_close"], tz) if "hard_close" in raw else None
        if due <= opens:
            raise CourseConfigError(f"{table}: `due` ({_show(due, tz)}) must be after `opens` ({_show(opens, tz)})")
        if hard_close is not None and hard_close < due:
            raise CourseConfigError(f"{table}: `hard_close` ({_show(hard_close, tz)}) is before `due` "
                                    f"({_show(due, tz)}); the hard close ends late work, so it comes at or "
                                    f"after the due time")
        rules = dict(defaults)
        rules.update(_rules(table, raw))
        policies.append(AssignmentPolicy(assignment_id, opens, due, hard_close, title.strip() if title else None,
                                         **rules))
    return policies


def _known_hint(assignment_id: str, known: KnownAssignments) -> str:
    if callable(known):
        return " (`grader list` shows the assignments; `--assignments DIR` adds your own)"
    ids = sorted(known)
    close = difflib.get_close_matches(assignment_id, ids, n=1)
    return (f" (did you mean {close[0]!r}?" if close else " (") + f" known: {', '.join(ids) or 'none'})"


def _extensions(where: str, data: dict, tz: ZoneInfo, offered: dict[str, AssignmentPolicy]) -> list[Extension]:
    raw_list = data.get("extensions", [])
    if not isinstance(raw_list, list):
        raise CourseConfigError(f"{where}: `extensions` must be a list of [[extensions]] tables, found {raw_list!r}")
    extensions = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(raw_list, start=1):
        table = f"{where}: [[extensions]] #{index}"
        if not isinstance(raw, dict):
            raise CourseConfigError(f"{table} must be a table, found {raw!r}")
        _unknown_keys(table, raw, _EXTENSION_KEYS)
        for key in ("student", "assignment"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CourseConfigError(f"{table}: `{key}` must be a non-empty string, found {raw.get(key)!r}")
        student, assignment_id = raw["student"], raw["assignment"]
        table = f"{table} (student {student!r}, assignment {assignment_id!r})"
        if assignment_id not in offered:
            raise CourseConfigError(f"{table}: `assignment` {assignment_id!r} is not offered in this course "
                                    f"(offered: {', '.join(offered)})")
        if (student, assignment_id) in seen:
            raise CourseConfigError(f"{table}: duplicates [[extensions]] #{seen[(student, assignment_id)]}; "
                                    f"give one extension per student and assignment")
        seen[(student, assignment_id)] = index
        if "due" not in raw:
            raise CourseConfigError(f"{table}: `due` is missing (the student's new due time)")
        due = _time(table, "due", raw["due"], tz)
        policy = offered[assignment_id]
        if due <= policy.due:
            raise CourseConfigError(f"{table}: `due` ({_show(due, tz)}) is not after the assignment's due time "
                                    f"({_show(policy.due, tz)}); an extension moves the due time later")
        hard_close = _time(table, "hard_close", raw["hard_close"], tz) if "hard_close" in raw else None
        if hard_close is not None and hard_close < due:
            raise CourseConfigError(f"{table}: `hard_close` ({_show(hard_close, tz)}) is before `due` "
                                    f"({_show(due, tz)})")
        reason = raw.get("reason", "")
        if not isinstance(reason, str):
            raise CourseConfigError(f"{table}: `reason` must be a string, found {reason!r}")
        extensions.append(Extension(student, assignment_id, due, hard_close, reason))
    return extensions


def _show(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat()

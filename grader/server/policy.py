"""The course's rules in one place: what the server enforces is what the student is shown beforehand.

`preview` (before submitting) and `decide` (at the receipt) run the same
computation; `counted` says which submission counts and what lateness cost;
`late_days_used` adds up a student's late days across assignments.

The rules, exactly:

- **Open window.** A submission is accepted from `opens` (inclusive) to the
  hard close (inclusive), if there is one. An extension gives one student a
  later due time; their hard close moves by as much unless the extension sets
  its own. An extension never moves a time earlier.
- **Lateness.** A submission at or before its due time is on time. After it,
  it is one day late per *started* 24 hours: one second late is 1 day, exactly
  24 h late is 1 day, 24 h and one second is 2 days. Days are measured in
  elapsed hours, so a daylight-saving change does not lengthen or shorten one.
- **Late days, then penalty.** A late submission's days are covered first by
  the student's late days (when the assignment allows them), as many as the
  course-wide budget still has; every day not covered costs `late_penalty`, a
  share of the points earned: 2 uncovered days at 10% keep 80% of the score.
  The penalty is capped at 100%. When days stay uncovered and the penalty is 0,
  the submission is refused ("out of late days", or "no late work" when the
  assignment takes no late days at all).
- **Late days are charged for the counted submission only.** A late attempt
  that does not count (an earlier one scored higher under "best", a later one
  replaced it under "last") costs no late day, and neither does a submission
  that failed through a fault of ours (state "error"). The late days and the
  penalty a submission carries are fixed when it is made (`decide`, with the
  student's confirmation) and later only ever shrink: an extension granted
  afterwards lowers them, nothing raises them.
- **Submission limit.** At most `submissions_per_day` submissions per student
  and assignment in any 24 hours (a submission exactly 24 h old no longer
  counts); queued and graded ones count, ones that failed through a fault of
  ours do not.
- **Which one counts.** Only graded submissions: a queued or failed one never
  counts over a graded one. "last": the latest graded; "best": the highest
  score after its penalty (ties: fewer late days, then the earlier one).

Every datetime must be aware (a naive one is refused with `PolicyError`);
results carry aware UTC datetimes, converted to the course's or the student's
zone only for display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Iterable, Mapping

from grader.server.course_config import AssignmentPolicy, CourseConfig, Extension, to_utc, zone

DAY = timedelta(hours=24)
WINDOW = timedelta(hours=24)  # the submission limit's rolling window
STATES = ("queued", "grading", "graded", "error")  # "error": failed through a fault of ours, never the student's

NOT_OPEN = "not_open"
CLOSED = "closed"
NO_LATE_WORK = "no_late_work"
OUT_OF_LATE_DAYS = "out_of_late_days"
LIMIT = "limit"
NEEDS_CONFIRMATION = "needs_confirmation"
REASONS = (NOT_OPEN, CLOSED, NO_LATE_WORK, OUT_OF_LATE_DAYS, LIMIT, NEEDS_CONFIRMATION)

_DECIMALS = 4          # scores, as the rubric engine stores them
_PENALTY_DECIMALS = 6  # 3 * 0.1 is 0.30000000000000004 in floats
_PENALTY_SLACK = 1e-9


class PolicyError(ValueError):
    """A call the policy cannot answer: a naive datetime, an assignment not offered, a bad argument."""


def _utc(value: object, what: str) -> datetime:
    try:
        return to_utc(value, what)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Submission:
    """One earlier submission of a student for an assignment, as the server recorded it.

    `state` is one of `STATES`; "error" means it failed through a fault of
    ours (a student's crashing code is "graded", with its low score).
    `late_days`, `penalty_days` and `penalty` are what `decide` recorded for it
    (`Decision.submission` builds one); 0 for an on-time submission.
    """

    id: str | int
    submitted_at: datetime
    state: str = "graded"
    score: float | None = None
    max_score: float | None = None
    late_days: int = 0
    penalty_days: int = 0
    penalty: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "submitted_at", _utc(self.submitted_at, f"submission {self.id!r}: submitted_at"))
        if self.state not in STATES:
            raise PolicyError(f"submission {self.id!r}: state must be one of {', '.join(STATES)}, found {self.state!r}")
        for name in ("score", "max_score"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise PolicyError(f"submission {self.id!r}: {name} must be a finite number or None, found {value!r}")
        for name in ("late_days", "penalty_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PolicyError(f"submission {self.id!r}: {name} must be a whole number >= 0, found {value!r}")
        if not (isinstance(self.penalty, (int, float)) and 0.0 <= self.penalty <= 1.0):
            raise PolicyError(f"submission {self.id!r}: penalty must be a fraction from 0 to 1, found {self.penalty!r}")

    @property
    def scored(self) -> bool:
        """True when it was graded and has a score: only such a submission can count."""
        return self.state == "graded" and self.score is not None


@dataclass(frozen=True)
class Deadlines:
    """One student's times for one assignment, extensions applied (aware UTC)."""

    opens: datetime
    due: datetime
    hard_close: datetime | None
    extension: Extension | None = None


def deadlines(config: CourseConfig, assignment_id: str, student_id: str,
              extensions: Iterable[Extension] = ()) -> Deadlines:
    """The opening, due and hard-close times that apply to `student_id`.

    Extensions come from course.toml and from `extensions` (the server's
    database); of those for this student and assignment, the latest due time
    applies. Its hard close is its own, else the assignment's moved as far as
    the due time; an extension never moves a time earlier.
    """
    policy = _policy(config, assignment_id)
    mine = [e for e in (*config.extensions, *extensions)
            if e.student == student_id and e.assignment == assignment_id and e.due > policy.due]
    if not mine:
        return Deadlines(policy.opens, policy.due, policy.hard_close)
    extension = max(mine, key=lambda e: e.due)
    hard_close = extension.hard_close
    if policy.hard_close is not None:
        moved = policy.hard_close + (extension.due - policy.due)
        hard_close = max(hard_close or moved, policy.hard_close)
    return Deadlines(policy.opens, extension.due, hard_close, extension)


def days_late(submitted_at: datetime, due: datetime) -> int:
    """Started 24-hour periods from `due` to `submitted_at`: 0 at or before it, 1 for one second after."""
    submitted_at, due = _utc(submitted_at, "submitted_at"), _utc(due, "due")
    if submitted_at <= due:
        return 0
    return -((due - submitted_at) // DAY)  # ceiling division of the time late


# ---------------------------------------------------------------- before and at submission


@dataclass(frozen=True)
class Preview:
    """What the server will do with a submission made at `now`: shown before submitting, enforced at it.

    Datetimes are aware UTC except `due_course` (in the course's zone) and
    `due_student` (in the student's, when known). `late_days`, `penalty_days`
    and `penalty` are what this submission would carry if it counts;
    `late_days_left` is the course-wide balance before it.
    """

    assignment_id: str
    student_id: str
    now: datetime
    allowed: bool
    reason: str | None
    message: str
    opens: datetime
    due: datetime
    hard_close: datetime | None
    extended: bool
    due_course: datetime
    due_student: datetime | None
    student_timezone: str | None
    submissions_per_day: int
    submissions_used: int
    submissions_left: int
    window_frees_at: datetime | None
    late_days_budget: int
    late_days_left: int
    days_late: int
    late_days: int
    penalty_days: int
    penalty: float
    needs_confirmation: bool
    counts: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What the server records for a submission at its receipt (`accepted` False: refused, nothing recorded)."""

    accepted: bool
    reason: str | None
    message: str
    submitted_at: datetime
    due: datetime
    days_late: int
    late_days: int
    penalty_days: int
    penalty: float
    preview: Preview

    def submission(self, submission_id: str | int, state: str = "queued") -> Submission:
        """The `Submission` to record for this accepted decision."""
        if not self.accepted:
            raise PolicyError(f"submission {submission_id!r} was refused ({self.reason}); there is nothing to record")
        return Submission(submission_id, self.submitted_at, state, late_days=self.late_days,
                          penalty_days=self.penalty_days, penalty=self.penalty)


def preview(config: CourseConfig, assignment_id: str, student_id: str, now: datetime,
            history: Iterable[Submission], late_days_used_elsewhere: int,
            extensions: Iterable[Extension] = (), student_tz: str | tzinfo | None = None) -> Preview:
    """What a submission by `student_id` at `now` would meet: allowed or why not, limits, due times, late cost.

    `history` is the student's earlier submissions for this assignment;
    `late_days_used_elsewhere` the late days their counted submissions of the
    other assignments use (`LateDayUsage.elsewhere`); `extensions` the
    server's, added to course.toml's; `student_tz` the student's zone (an IANA
    name or a tzinfo; an unknown name adds a note instead of failing).
    """
    policy = _policy(config, assignment_id)
    now = _utc(now, "now")
    history = _history(history)
    if isinstance(late_days_used_elsewhere, bool) or not isinstance(late_days_used_elsewhere, int) \
            or late_days_used_elsewhere < 0:
        raise PolicyError(f"late_days_used_elsewhere must be a whole number >= 0, found {late_days_used_elsewhere!r}")
    extensions = tuple(extensions)
    times = deadlines(config, assignment_id, student_id, extensions)
    notes: list[str] = []

    # The rolling window: failures of ours are not counted.
    window = sorted(s.submitted_at for s in history if s.state != "error" and s.submitted_at > now - WINDOW)
    limit = policy.submissions_per_day
    used = len(window)
    frees_index = max(0, used - limit)  # the slot that must expire before one is free
    frees_at = window[frees_index] + WINDOW if window else None

    # Lateness, late days, penalty.
    late = days_late(now, times.due)
    budget_here = config.late_days - late_days_used_elsewhere if policy.use_late_days else 0
    spend = min(late, max(0, budget_here))
    uncovered = late - spend
    penalty = round(min(1.0, uncovered * policy.late_penalty), _PENALTY_DECIMALS)
    here = counted(config, assignment_id, student_id, history, extensions)
    balance = max(0, config.late_days - late_days_used_elsewhere - here.late_days)

    reason = None
    if now < times.opens:
        reason = NOT_OPEN
    elif times.hard_close is not None and now > times.hard_close:
        reason = CLOSED
    elif uncovered and policy.late_penalty == 0:
        reason = OUT_OF_LATE_DAYS if policy.use_late_days and config.late_days > 0 else NO_LATE_WORK
    elif used >= limit:
        reason = LIMIT

    due_student, student_zone = None, None
    if student_tz is not None:
        try:
            tz = zone(student_tz) if isinstance(student_tz, str) else student_tz
            due_student, student_zone = times.due.astimezone(tz), getattr(tz, "key", None) or str(tz)
        except (ValueError, TypeError):
            notes.append(f"Your time zone {student_tz!r} is not one we know; times are shown in the course's "
                         f"zone ({config.timezone}).")
    if times.extension is not None:
        notes.append(f"Your due time is extended to {format_time(times.due, config.tz)}.")
    allowed = reason is None
    if allowed and policy.counts == "last" and here.submission is not None:
        out_of = f" of {_number(here.max_score)}" if here.max_score is not None else ""
        notes.append(f"Your latest graded submission counts: once graded, this one replaces the one that counts "
                     f"now ({_number(here.final_score)}{out_of} points), even if it scores lower.")
    result = Preview(
        assignment_id=assignment_id, student_id=student_id, now=now, allowed=allowed, reason=reason, message="",
        opens=times.opens, due=times.due, hard_close=times.hard_close, extended=times.extension is not None,
        due_course=times.due.astimezone(config.tz), due_student=due_student, student_timezone=student_zone,
        submissions_per_day=limit, submissions_used=used, submissions_left=max(0, limit - used),
        window_frees_at=frees_at, late_days_budget=config.late_days, late_days_left=balance, days_late=late,
        late_days=spend, penalty_days=uncovered, penalty=penalty,
        needs_confirmation=allowed and (spend > 0 or penalty > 0), counts=policy.counts, notes=tuple(notes))
    return replace(result, message=_preview_message(config, policy, result, late_days_used_elsewhere))


def decide(config: CourseConfig, assignment_id: str, student_id: str, now: datetime,
           history: Iterable[Submission], late_days_used_elsewhere: int,
           extensions: Iterable[Extension] = (), *, confirmed_late_days: int = 0,
           confirmed_penalty: float = 0.0) -> Decision:
    """The `preview` computation at the receipt time `now`, returning what gets recorded.

    A submission that would spend more late days than `confirmed_late_days`
    or carry a larger penalty than `confirmed_penalty` (what the student
    confirmed after seeing the preview) is refused with reason
    "needs_confirmation", so nobody is charged what they did not agree to,
    e.g. when a day boundary passed between the preview and the upload.
    """
    seen = preview(config, assignment_id, student_id, now, history, late_days_used_elsewhere, extensions)
    accepted, reason, message = seen.allowed, seen.reason, seen.message
    if accepted and (seen.late_days > confirmed_late_days or seen.penalty > confirmed_penalty + _PENALTY_SLACK):
        accepted, reason = False, NEEDS_CONFIRMATION
        message = (f"Not submitted yet: {_late_cost(seen)}. Confirm to hand it in"
                   + (f" (you confirmed {_count(confirmed_late_days, 'late day')} and a {_percent(confirmed_penalty)} "
                      f"penalty)." if confirmed_late_days or confirmed_penalty else "."))
    return Decision(accepted, reason, message, seen.now, seen.due, seen.days_late, seen.late_days,
                    seen.penalty_days, seen.penalty, seen)


def _preview_message(config: CourseConfig, policy: AssignmentPolicy, p: Preview, elsewhere: int) -> str:
    tz = config.tz
    name = policy.title or policy.id
    if p.reason == NOT_OPEN:
        return f"{name} opens {format_time(p.opens, tz)} ({_span(p.opens - p.now)} from now); submit from then on."
    if p.reason == CLOSED:
        return (f"{name} closed for good at {format_time(p.hard_close, tz)}; no submission is accepted after the "
                f"hard close.")
    if p.reason == NO_LATE_WORK:
        return f"{name} was due {format_time(p.due, tz)}, and it accepts no late work."
    if p.reason == OUT_OF_LATE_DAYS:
        left = max(0, config.late_days - elsewhere)
        return (f"{name} was due {format_time(p.due, tz)}: a submission now is {_count(p.days_late, 'day')} late, and "
                f"you have {_count(left, 'late day')} left for it; late work is accepted only with late days.")
    slots = (f"{'the next' if p.submissions_left == 0 else 'another'} frees up "
             f"{format_time(p.window_frees_at, tz)} ({_span(p.window_frees_at - p.now)} from now)"
             if p.window_frees_at else "")
    if p.reason == LIMIT:
        return (f"You have made {p.submissions_used} of {p.submissions_per_day} submissions for {name} in the last "
                f"24 hours; {slots}. Submissions that failed through a fault of the grader are not counted.")
    parts = [f"{name} is due {format_time(p.due, tz)}"
             + (f" ({_span(p.due - p.now)} from now)." if p.days_late == 0 else ".")]
    if p.due_student is not None and p.due_student.utcoffset() != p.due_course.utcoffset():
        parts.append(f"That is {format_time(p.due, p.due_student.tzinfo)} in your time zone.")
    parts.append(f"{p.submissions_left} of {p.submissions_per_day} submissions left in the last 24 hours"
                 + (f"; {slots}." if slots and p.submissions_left < p.submissions_per_day else "."))
    if p.days_late:
        parts.append(f"This submission is {_count(p.days_late, 'day')} late (every started 24 hours after the due "
                     f"time counts): {_late_cost(p)}"
                     + (" if it becomes the submission that counts." if p.counts == "best" else ".")
                     + " Please confirm.")
    if p.late_days_budget:
        parts.append(f"Late days left: {p.late_days_left} of {p.late_days_budget}.")
    return " ".join(parts)


def _late_cost(p: Preview) -> str:
    costs = []
    if p.late_days:
        costs.append(f"it will use {_count(p.late_days, 'late day')}")
    if p.penalty > 0:
        costs.append(f"it will carry a {_percent(p.penalty)} penalty ({_count(p.penalty_days, 'day')} not covered by "
                     f"late days)")
    return " and ".join(costs) or "it costs nothing"


# ---------------------------------------------------------------- which submission counts


@dataclass(frozen=True)
class Counted:
    """The submission that counts for one student and assignment, and what lateness cost it.

    `penalty` is a fraction of the points earned; `final_score` is
    `raw_score * (1 - penalty)` to four decimals. Without a graded submission,
    `submission` and the scores are None. `pending` counts submissions still
    queued or grading (they may change what counts); `failed` those that failed
    through a fault of ours (never counted, never charged).
    """

    assignment_id: str
    student_id: str
    rule: str
    submission: Submission | None
    raw_score: float | None
    max_score: float | None
    days_late: int
    late_days: int
    penalty_days: int
    penalty: float
    penalty_points: float
    final_score: float | None
    explanation: str
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Charge:
    days_late: int
    late_days: int
    penalty_days: int
    penalty: float
    final: float


def _charge(policy: AssignmentPolicy, submission: Submission, due: datetime) -> _Charge:
    """What lateness costs `submission` now: never more than was recorded (and confirmed) when it was made."""
    late = days_late(submission.submitted_at, due)
    spent = min(submission.late_days, late)
    penalty_days = min(submission.penalty_days, late - spent)
    penalty = round(min(submission.penalty, penalty_days * policy.late_penalty, 1.0), _PENALTY_DECIMALS)
    final = round((submission.score or 0.0) * (1.0 - penalty), _DECIMALS)
    return _Charge(late, spent, penalty_days, penalty, final)


def counted(config: CourseConfig, assignment_id: str, student_id: str, submissions: Iterable[Submission],
            extensions: Iterable[Extension] = ()) -> Counted:
    """Which of `student_id`'s `submissions` for the assignment counts, its penalty, final score and why.

    Only graded submissions count ("last": the latest; "best": the highest
    score after penalty, ties to fewer late days and then the earlier one).
    Lateness is measured against the student's due time with `extensions`
    applied now, so an extension granted later lowers the cost.
    """
    policy = _policy(config, assignment_id)
    submissions = _history(submissions)
    times = deadlines(config, assignment_id, student_id, extensions)
    pending = sum(s.state in ("queued", "grading") for s in submissions)
    failed = sum(s.state == "error" for s in submissions)
    graded = [(index, s) for index, s in enumerate(submissions) if s.scored]
    if not graded:
        reasons = ["No graded submission yet"]
        if pending:
            reasons.append(f"{_count(pending, 'submission')} still being graded")
        if failed:
            reasons.append(f"{_count(failed, 'submission')} failed through a fault of the grader, not yours: "
                           f"{'it costs' if failed == 1 else 'they cost'} you nothing, and the instructor can "
                           f"regrade {'it' if failed == 1 else 'them'}")
        return Counted(assignment_id, student_id, policy.counts, None, None, None, 0, 0, 0, 0.0, 0.0, None,
                       "; ".join(reasons) + ".", pending, failed)
    charges = {index: _charge(policy, s, times.due) for index, s in graded}
    if policy.counts == "last":
        index, chosen = max(graded, key=lambda pair: (pair[1].submitted_at, pair[0]))
    else:
        index, chosen = max(graded, key=lambda pair: (charges[pair[0]].final, -charges[pair[0]].late_days,
                                                      -pair[1].submitted_at.timestamp(), -pair[0]))
    charge = charges[index]
    raw = round(float(chosen.score), _DECIMALS)
    explanation = _explain(config, policy, chosen, charge, times, raw, pending, failed)
    return Counted(assignment_id, student_id, policy.counts, chosen, raw,
                   None if chosen.max_score is None else float(chosen.max_score), charge.days_late,
                   charge.late_days, charge.penalty_days, charge.penalty, round(raw - charge.final, _DECIMALS),
                   charge.final, explanation, pending, failed)


def _explain(config: CourseConfig, policy: AssignmentPolicy, chosen: Submission, charge: _Charge,
             times: Deadlines, raw: float, pending: int, failed: int) -> str:
    tz = config.tz
    why = "it is the latest graded one" if policy.counts == "last" else "it has the best score after late penalties"
    out_of = f" of {_number(chosen.max_score)}" if chosen.max_score is not None else ""
    due = format_time(times.due, tz) + (" (your extended due time)" if times.extension else "")
    sentences = [f"Your submission of {format_time(chosen.submitted_at, tz)} counts: {why}."]
    if not charge.days_late:
        sentences.append(f"It was on time (due {due}): {_number(raw)}{out_of} points.")
    else:
        sentences.append(f"It came {_span(chosen.submitted_at - times.due, seconds=True)} after the due time, "
                         f"{due}, so it is {_count(charge.days_late, 'day')} late (every started 24 hours counts "
                         f"as a day).")
        cost = []
        if charge.late_days:
            covered = ("it" if charge.days_late == 1 else f"all {charge.days_late} days"
                       if charge.late_days == charge.days_late else
                       "the first day" if charge.late_days == 1 else f"the first {charge.late_days} days")
            cost.append(f"{_count(charge.late_days, 'late day')} covered {covered}")
        if charge.penalty_days:
            if charge.late_days:
                which = "the remaining day costs" if charge.penalty_days == 1 else \
                    f"the remaining {charge.penalty_days} days cost"
            else:
                which = "no late day covered it, so it costs" if charge.days_late == 1 else \
                    f"no late day covered them, so {'that day costs' if charge.penalty_days == 1 else 'they cost'}"
            rate = (f" ({_percent(policy.late_penalty)} per day" + (", capped at 100%)" if charge.penalty >= 1 else ")")
                    if charge.penalty_days > 1 else "")
            cost.append(f"{which} a {_percent(charge.penalty)} penalty{rate}")
        uncharged = charge.days_late - charge.late_days - charge.penalty_days
        if uncharged:
            cost.append(f"{_count(uncharged, 'day')} {'is' if uncharged == 1 else 'are'} not charged (it was accepted "
                        f"as less late; a submission never costs more than it was shown to cost when handed in)")
        cost_text = "; ".join(cost)
        sentences.append(cost_text[:1].upper() + cost_text[1:] + ": "
                         + (f"{_number(raw)} - {_number(raw - charge.final)} = " if charge.penalty else "")
                         + f"{_number(charge.final)}{out_of} points.")
    if pending:
        sentences.append(f"{_count(pending, 'submission')} still being graded may change this.")
    if failed:
        sentences.append(f"{_count(failed, 'submission')} failed through a fault of the grader, not yours; "
                         f"{'it costs' if failed == 1 else 'they cost'} you nothing.")
    return " ".join(sentences)


# ---------------------------------------------------------------- the course-wide late-day budget


@dataclass(frozen=True)
class LateDayUsage:
    """A student's late days across the course: those the counted submission of each assignment uses.

    `over_budget` is True when `total` exceeds `budget`, which only happens
    when a regrade or a course.toml change made another submission count
    after later ones were decided: the student is never charged beyond what
    each submission was shown, so this is reported, not turned into a penalty.
    """

    student_id: str
    budget: int
    by_assignment: Mapping[str, int]
    total: int
    left: int
    over_budget: bool

    def elsewhere(self, assignment_id: str) -> int:
        """The late days used by assignments other than `assignment_id` (what `preview` and `decide` take)."""
        return self.total - self.by_assignment.get(assignment_id, 0)


def late_days_used(config: CourseConfig, student_id: str,
                   submissions_by_assignment: Mapping[str, Iterable[Submission]],
                   extensions: Iterable[Extension] = ()) -> LateDayUsage:
    """`student_id`'s late days: for each offered assignment, those its counted submission uses.

    A late day is charged only for the submission that counts, never when a
    late submission is merely made: a late attempt that does not count, or
    that failed through a fault of ours, costs nothing. Submissions of an
    assignment no longer offered are left out (their late days are refunded).
    """
    extensions = tuple(extensions)
    offered = set(config.assignment_ids)
    used = {assignment_id: counted(config, assignment_id, student_id, submissions, extensions).late_days
            for assignment_id, submissions in submissions_by_assignment.items() if assignment_id in offered}
    used = {key: value for key, value in used.items() if value}
    total = sum(used.values())
    return LateDayUsage(student_id, config.late_days, used, total, max(0, config.late_days - total),
                        total > config.late_days)


# ---------------------------------------------------------------- feedback


@dataclass(frozen=True)
class Feedback:
    """What a student sees of their report: "public" (public checks only) or "full", and the sentence saying so."""

    level: str
    released: bool
    note: str


def feedback(config: CourseConfig, assignment_id: str, released: bool = False) -> Feedback:
    """The feedback a student gets for `assignment_id`: `released` is the server's release flag (or course.toml's)."""
    policy = _policy(config, assignment_id)
    released = bool(released or policy.released)
    if policy.feedback == "full":
        return Feedback("full", released, "You see the full report, every check included.")
    if released:
        return Feedback("full", True, "Grades are released: the full report and score, hidden checks included.")
    return Feedback("public", False, "Until grades are released, you see the public checks only (those `grader check` "
                    "runs), and your score counts the public checks only; the hidden checks count once the "
                    "instructor releases grades.")


# ---------------------------------------------------------------- shared helpers


def _policy(config: CourseConfig, assignment_id: str) -> AssignmentPolicy:
    try:
        return config.assignment(assignment_id)
    except KeyError as exc:
        raise PolicyError(exc.args[0]) from None


def _history(submissions: Iterable[Submission]) -> list[Submission]:
    submissions = list(submissions)
    for submission in submissions:
        if not isinstance(submission, Submission):
            raise PolicyError(f"history entries must be Submission objects, found {type(submission).__name__}")
    return submissions


def format_time(value: datetime, tz: tzinfo) -> str:
    """`value` on the wall clock of `tz`, e.g. "Sat 8 Mar 2025, 23:59 CET" (seconds shown when not 0)."""
    local = _utc(value, "the time to show").astimezone(tz)
    clock = local.strftime("%H:%M:%S" if local.second else "%H:%M")
    return f"{local:%a} {local.day} {local:%b %Y}, {clock} {local.tzname()}"


def _span(delta: timedelta, seconds: bool = False) -> str:
    """A duration in words, to the minute, or to the second with `seconds` (lateness is counted to the second)."""
    total = max(0, int(delta.total_seconds()))
    if total < 60:
        return _count(total, "second")
    minutes, secs = divmod(total, 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [_count(days, "day")] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs and seconds else []
    return " ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")



def _number(value: float) -> str:
    text = f"{round(float(value), _DECIMALS):.{_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _percent(fraction: float) -> str:
    return _number(fraction * 100) + "%"

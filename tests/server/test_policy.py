"""The course's rules: open window, lateness, late days, penalties, limits, extensions, which submission counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from grader.server.course_config import AssignmentPolicy, CourseConfig, Extension
from grader.server.policy import (CLOSED, LIMIT, NEEDS_CONFIRMATION, NO_LATE_WORK, NOT_OPEN, OUT_OF_LATE_DAYS,
                                  PolicyError, Submission, counted, days_late, deadlines, decide, feedback,
                                  format_time, late_days_used, preview)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
OPENS = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DUE = datetime(2025, 3, 8, 23, 0, tzinfo=UTC)
HARD_CLOSE = DUE + timedelta(days=5)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def course(late_days: int = 3, extensions=(), tz: str = "UTC", **rules) -> CourseConfig:
    """A course offering "lab" (with `rules`) and "quiz" (defaults), both open OPENS..DUE."""
    times = {"opens": OPENS, "due": DUE, "hard_close": HARD_CLOSE}
    times.update({key: rules.pop(key) for key in ("opens", "due", "hard_close") if key in rules})
    lab = AssignmentPolicy("lab", title="Lab", **times, **rules)
    quiz = AssignmentPolicy("quiz", OPENS, DUE, HARD_CLOSE, late_penalty=0.1)
    return CourseConfig("Course", tz, (lab, quiz), late_days, tuple(extensions))


def sub(sid, at, score=None, state="graded", max_score=100.0, **recorded) -> Submission:
    return Submission(sid, at, state, score, max_score if score is not None else None, **recorded)


def look(config, now, history=(), elsewhere=0, extensions=(), student="alice", **kw):
    return preview(config, "lab", student, now, history, elsewhere, extensions, **kw)


def recorded(config, sid, now, score, history=(), elsewhere=0, extensions=(), student="alice") -> Submission:
    """A submission made at `now` the way the server records it: decide, with the preview's cost confirmed."""
    seen = look(config, now, history, elsewhere, extensions, student)
    decision = decide(config, "lab", student, now, history, elsewhere, extensions,
                      confirmed_late_days=seen.late_days, confirmed_penalty=seen.penalty)
    assert decision.accepted, decision.message
    made = decision.submission(sid, "graded")
    return Submission(made.id, made.submitted_at, "graded", score, 100.0, made.late_days, made.penalty_days,
                      made.penalty)


# ---------------------------------------------------------------- lateness


@pytest.mark.parametrize("after, days", [
    (timedelta(0), 0), (-SECOND, 0), (SECOND, 1), (timedelta(microseconds=1), 1), (DAY - SECOND, 1), (DAY, 1),
    (DAY + SECOND, 2), (3 * DAY, 3), (3 * DAY + timedelta(minutes=1), 4),
])
def test_days_late_counts_every_started_24_hours(after, days):
    assert days_late(DUE + after, DUE) == days


def test_exactly_at_the_due_time_is_on_time_and_needs_no_confirmation():
    seen = look(course(late_penalty=0.1), DUE)
    assert seen.allowed and seen.reason is None
    assert (seen.days_late, seen.late_days, seen.penalty, seen.needs_confirmation) == (0, 0, 0.0, False)


def test_one_second_late_is_one_day_late_and_uses_one_late_day():
    seen = look(course(late_penalty=0.1), DUE + SECOND)
    assert seen.allowed
    assert (seen.days_late, seen.late_days, seen.penalty_days, seen.penalty) == (1, 1, 0, 0.0)
    assert seen.needs_confirmation
    assert "1 day late" in seen.message and "1 late day" in seen.message


def test_several_late_days_are_covered_by_the_budget_first_then_penalised():
    config = course(late_days=3, late_penalty=0.1)
    three = look(config, DUE + 2 * DAY + SECOND)
    assert (three.days_late, three.late_days, three.penalty_days, three.penalty) == (3, 3, 0, 0.0)
    # Two late days already spent on another assignment: 1 covers, the other 2 days cost 10% each.
    mixed = look(config, DUE + 2 * DAY + SECOND, elsewhere=2)
    assert (mixed.late_days, mixed.penalty_days, mixed.penalty) == (1, 2, 0.2)
    assert mixed.needs_confirmation and "20% penalty" in mixed.message


def test_penalty_is_capped_at_all_of_the_score():
    seen = look(course(late_days=0, late_penalty=0.3, hard_close=None), DUE + 5 * DAY)
    assert seen.allowed and seen.penalty == 1.0 and seen.penalty_days == 5


def test_three_days_at_ten_percent_is_exactly_thirty_percent():
    seen = look(course(late_days=0, late_penalty=0.1), DUE + 2 * DAY + SECOND)
    assert seen.penalty == 0.3  # not 0.30000000000000004


def test_out_of_late_days_without_a_penalty_is_refused():
    config = course(late_days=3, late_penalty=0.0)
    assert look(config, DUE + 2 * DAY, elsewhere=1).allowed  # 2 days, 2 left
    refused = look(config, DUE + 2 * DAY + SECOND, elsewhere=1)  # 3 days, 2 left
    assert not refused.allowed and refused.reason == OUT_OF_LATE_DAYS
    assert "3 days late" in refused.message and "2 late days left" in refused.message


@pytest.mark.parametrize("late_days, use", [(0, True), (3, False)])
def test_an_assignment_without_late_days_or_penalty_takes_no_late_work(late_days, use):
    config = course(late_days=late_days, use_late_days=use, late_penalty=0.0)
    assert look(config, DUE).allowed
    refused = look(config, DUE + SECOND)
    assert refused.reason == NO_LATE_WORK and "accepts no late work" in refused.message


def test_an_assignment_closed_to_late_days_uses_the_penalty_only():
    seen = look(course(late_days=3, use_late_days=False, late_penalty=0.25), DUE + DAY + SECOND)
    assert (seen.late_days, seen.penalty_days, seen.penalty) == (0, 2, 0.5)


# ---------------------------------------------------------------- open window


def test_not_open_before_opens_and_open_exactly_at_it():
    config = course()
    early = look(config, OPENS - SECOND)
    assert early.reason == NOT_OPEN and not early.needs_confirmation
    assert format_time(OPENS, config.tz) in early.message
    assert look(config, OPENS).allowed


def test_hard_close_is_inclusive_and_final():
    config = course(late_days=30, late_penalty=0.1)
    assert look(config, HARD_CLOSE).allowed
    closed = look(config, HARD_CLOSE + SECOND)
    assert closed.reason == CLOSED and not closed.allowed and "hard close" in closed.message
    # Refused means refused at submission time too.
    assert decide(config, "lab", "alice", HARD_CLOSE + SECOND, [], 0, confirmed_late_days=99,
                  confirmed_penalty=1.0).reason == CLOSED


def test_a_hard_close_at_the_due_time_ends_late_work():
    config = course(hard_close=DUE)
    assert look(config, DUE).allowed
    assert look(config, DUE + SECOND).reason == CLOSED


# ---------------------------------------------------------------- extensions


def test_an_extension_moves_the_due_time_and_the_hard_close_by_as_much():
    extension = Extension("alice", "lab", DUE + 2 * DAY)
    config = course(late_penalty=0.1)
    times = deadlines(config, "lab", "alice", [extension])
    assert (times.due, times.hard_close, times.extension) == (DUE + 2 * DAY, HARD_CLOSE + 2 * DAY, extension)
    seen = look(config, DUE + DAY, extensions=[extension])
    assert seen.allowed and seen.days_late == 0 and seen.extended and not seen.needs_confirmation
    assert any("extended" in note for note in seen.notes)
    assert look(config, HARD_CLOSE + DAY, extensions=[extension], elsewhere=3).allowed
    # Only alice's: bob is late at the same time.
    assert look(config, DUE + DAY, extensions=[extension], student="bob").days_late == 1


def test_an_extension_from_the_file_and_one_from_the_database_the_later_applies():
    in_file = Extension("alice", "lab", DUE + DAY)
    config = course(extensions=[in_file])
    assert deadlines(config, "lab", "alice").due == DUE + DAY
    assert deadlines(config, "lab", "alice", [Extension("alice", "lab", DUE + 3 * DAY)]).due == DUE + 3 * DAY
    assert deadlines(config, "lab", "alice", [Extension("alice", "lab", DUE + DAY / 2)]).due == DUE + DAY


def test_an_extension_never_moves_a_time_earlier():
    config = course()
    times = deadlines(config, "lab", "alice", [Extension("alice", "lab", DUE - DAY)])
    assert (times.due, times.extension) == (DUE, None)
    own_close = Extension("alice", "lab", DUE + DAY, hard_close=DUE + DAY)
    assert deadlines(config, "lab", "alice", [own_close]).hard_close == HARD_CLOSE


def test_an_extension_with_its_own_hard_close():
    config = course(hard_close=None)
    extension = Extension("alice", "lab", DUE + DAY, hard_close=DUE + 2 * DAY)
    assert look(config, DUE + 2 * DAY, extensions=[extension]).allowed
    assert look(config, DUE + 2 * DAY + SECOND, extensions=[extension]).reason == CLOSED


def test_an_extension_granted_after_a_late_submission_lowers_what_it_costs():
    config = course(late_days=0, late_penalty=0.1)
    late = recorded(config, 1, DUE + 2 * DAY + SECOND, 80.0)
    assert counted(config, "lab", "alice", [late]).final_score == 56.0  # 3 days, 30%
    extended = counted(config, "lab", "alice", [late], [Extension("alice", "lab", DUE + 2 * DAY)])
    assert (extended.days_late, extended.penalty, extended.final_score) == (1, 0.1, 72.0)
    on_time = counted(config, "lab", "alice", [late], [Extension("alice", "lab", DUE + 3 * DAY)])
    assert (on_time.days_late, on_time.penalty, on_time.final_score) == (0, 0.0, 80.0)
    assert "extended due time" in on_time.explanation


# ---------------------------------------------------------------- the 24 h limit


def test_the_limit_refuses_the_21st_and_frees_a_slot_24_hours_after_the_oldest():
    config = course()
    start = OPENS + DAY
    history = [sub(i, start + i * timedelta(minutes=10), 50.0) for i in range(20)]
    now = start + timedelta(hours=5)
    full = look(config, now, history)
    assert not full.allowed and full.reason == LIMIT
    assert (full.submissions_used, full.submissions_left) == (20, 0)
    assert full.window_frees_at == start + DAY
    assert format_time(start + DAY, config.tz) in full.message
    assert not look(config, start + DAY - SECOND, history).allowed
    freed = look(config, start + DAY, history)  # the oldest is exactly 24 h old: out of the window
    assert freed.allowed and freed.submissions_left == 1
    assert freed.window_frees_at == start + DAY + timedelta(minutes=10)


def test_a_fresh_course_allows_20_submissions_and_several_at_once():
    config = course()
    now = OPENS + DAY
    history = [sub(i, now, state="queued") for i in range(19)]  # all uploaded in the same second, still queued
    seen = look(config, now, history)
    assert seen.allowed and seen.submissions_left == 1 and seen.submissions_per_day == 20


def test_infrastructure_failures_do_not_count_against_the_limit():
    config = course(submissions_per_day=2)
    now = OPENS + DAY
    history = [sub(1, now - timedelta(hours=1), state="error"), sub(2, now - timedelta(hours=1), state="error"),
               sub(3, now - timedelta(hours=2), 40.0)]
    seen = look(config, now, history)
    assert seen.allowed and (seen.submissions_used, seen.submissions_left) == (1, 1)
    queued = [*history, sub(4, now, state="queued")]
    assert look(config, now, queued).reason == LIMIT


def test_a_lowered_limit_frees_a_slot_only_when_enough_have_expired():
    config = course(submissions_per_day=2)
    now = OPENS + 2 * DAY
    history = [sub(i, now - timedelta(hours=10 - i), 10.0) for i in range(4)]  # 4 in the window, limit 2
    seen = look(config, now, history)
    assert seen.reason == LIMIT and seen.submissions_left == 0
    assert seen.window_frees_at == history[2].submitted_at + DAY  # the third oldest must expire


# ---------------------------------------------------------------- daylight saving time


def test_a_due_time_after_a_dst_change_keeps_its_wall_clock_time():
    # Europe/Berlin springs forward on 30 March 2025: CET (+1) to CEST (+2).
    config = CourseConfig("Course", "Europe/Berlin", (AssignmentPolicy(
        "lab", datetime(2025, 3, 24, 9, 0, tzinfo=BERLIN), datetime(2025, 3, 31, 23, 59, tzinfo=BERLIN)),), 3)
    seen = preview(config, "lab", "alice", datetime(2025, 3, 25, 12, 0, tzinfo=BERLIN), [], 0,
                   student_tz="America/New_York")
    assert seen.due == datetime(2025, 3, 31, 21, 59, tzinfo=UTC)
    assert (seen.due_course.hour, seen.due_course.minute, seen.due_course.tzname()) == (23, 59, "CEST")
    assert seen.due_student.utcoffset() == timedelta(hours=-4) and seen.due_student.hour == 17
    assert "23:59 CEST" in seen.message and "17:59 EDT" in seen.message


def test_a_late_day_is_24_elapsed_hours_even_across_a_dst_change():
    due = datetime(2025, 3, 29, 12, 0, tzinfo=BERLIN)  # CET
    # 12:30 CEST the next day is 24.5 h on the wall clock but 23.5 h elapsed: 1 day late, not 2.
    assert days_late(datetime(2025, 3, 30, 12, 30, tzinfo=BERLIN), due) == 1
    assert days_late(datetime(2025, 3, 30, 13, 0, 1, tzinfo=BERLIN), due) == 2


# ---------------------------------------------------------------- time zones and arguments


def test_naive_datetimes_are_refused_with_a_clear_error():
    config = course()
    with pytest.raises(PolicyError, match="naive datetime"):
        look(config, datetime(2025, 3, 5, 12, 0))
    with pytest.raises(PolicyError, match="submitted_at is a naive datetime"):
        Submission(1, datetime(2025, 3, 5, 12, 0))
    with pytest.raises(ValueError, match="naive datetime"):
        Extension("alice", "lab", datetime(2025, 3, 9))
    with pytest.raises(PolicyError, match="naive"):
        days_late(datetime(2025, 3, 9), DUE)


def test_any_aware_zone_names_the_same_instant():
    config = course(late_penalty=0.1)
    in_berlin = DUE.astimezone(BERLIN) + SECOND
    assert look(config, in_berlin).days_late == 1
    assert look(config, DUE.astimezone(BERLIN)).days_late == 0


def test_an_unknown_student_zone_adds_a_note_instead_of_failing():
    seen = look(course(), OPENS + DAY, student_tz="Mars/Olympus")
    assert seen.allowed and seen.due_student is None and seen.student_timezone is None
    assert any("Mars/Olympus" in note for note in seen.notes)
    named = look(course(), OPENS + DAY, student_tz="Asia/Tokyo")
    assert named.student_timezone == "Asia/Tokyo" and named.due_student.utcoffset() == timedelta(hours=9)


def test_bad_arguments_are_policy_errors():
    config = course()
    with pytest.raises(PolicyError, match="not offered in this course.*offered: lab, quiz"):
        preview(config, "nope", "alice", DUE, [], 0)
    with pytest.raises(PolicyError, match="late_days_used_elsewhere"):
        look(config, DUE, elsewhere=-1)
    with pytest.raises(PolicyError, match="state must be one of"):
        Submission(1, DUE, "lost")
    with pytest.raises(PolicyError, match="score must be a finite number"):
        Submission(1, DUE, "graded", float("nan"))
    with pytest.raises(PolicyError, match="Submission objects"):
        look(config, DUE, history=[{"id": 1}])


# ---------------------------------------------------------------- decide: the same computation, confirmed


def test_decide_refuses_late_days_nobody_confirmed():
    config = course(late_penalty=0.1)
    refused = decide(config, "lab", "alice", DUE + SECOND, [], 0)
    assert not refused.accepted and refused.reason == NEEDS_CONFIRMATION
    assert "1 late day" in refused.message and "Confirm" in refused.message
    with pytest.raises(PolicyError, match="refused"):
        refused.submission(1)
    accepted = decide(config, "lab", "alice", DUE + SECOND, [], 0, confirmed_late_days=1)
    assert accepted.accepted and accepted.late_days == 1 and accepted.penalty == 0.0
    record = accepted.submission("s1")
    assert (record.id, record.state, record.submitted_at, record.late_days) == ("s1", "queued", DUE + SECOND, 1)


def test_decide_refuses_when_a_day_boundary_passed_since_the_preview():
    config = course(late_days=1, late_penalty=0.1)
    seen = look(config, DUE + DAY - SECOND)  # 1 day late: 1 late day
    assert (seen.late_days, seen.penalty) == (1, 0.0)
    later = decide(config, "lab", "alice", DUE + DAY + SECOND, [], 0, confirmed_late_days=seen.late_days,
                   confirmed_penalty=seen.penalty)
    assert later.reason == NEEDS_CONFIRMATION and "10% penalty" in later.message


def test_on_time_submissions_need_no_confirmation():
    decision = decide(course(), "lab", "alice", DUE, [], 0)
    assert decision.accepted and decision.late_days == 0 and decision.reason is None


@pytest.mark.parametrize("offset", [-DAY, timedelta(0), SECOND, DAY, DAY + SECOND, 4 * DAY, 5 * DAY + SECOND])
@pytest.mark.parametrize("elsewhere", [0, 2, 3])
def test_decide_enforces_exactly_what_preview_showed(offset, elsewhere):
    config = course(late_days=3, late_penalty=0.15)
    now = DUE + offset
    seen = look(config, now, elsewhere=elsewhere)
    decision = decide(config, "lab", "alice", now, [], elsewhere, confirmed_late_days=seen.late_days,
                      confirmed_penalty=seen.penalty)
    assert decision.accepted == seen.allowed and decision.reason == seen.reason
    assert (decision.days_late, decision.late_days, decision.penalty_days, decision.penalty) == \
        (seen.days_late, seen.late_days, seen.penalty_days, seen.penalty)


# ---------------------------------------------------------------- which submission counts


def test_last_counts_the_latest_graded_with_its_penalty():
    config = course(late_days=0, late_penalty=0.1, counts="last")
    history = [recorded(config, 1, DUE - DAY, 95.0)]
    history.append(recorded(config, 2, DUE + DAY + SECOND, 90.0, history))  # 2 days late: 20%
    result = counted(config, "lab", "alice", history)
    assert result.submission.id == 2 and result.rule == "last"
    assert (result.raw_score, result.penalty, result.penalty_points, result.final_score) == (90.0, 0.2, 18.0, 72.0)
    assert "latest graded" in result.explanation and "2 days late" in result.explanation
    assert "90 - 18 = 72 of 100 points" in result.explanation


def test_under_last_the_preview_warns_that_a_new_submission_replaces_the_counted_one():
    history = [sub(1, DUE - DAY, 90.0)]
    last = look(course(counts="last"), DUE - SECOND, history)
    assert any("replaces the one that counts now (90 of 100 points)" in note for note in last.notes)
    assert not any("replaces" in note for note in look(course(counts="best"), DUE - SECOND, history).notes)
    assert not any("replaces" in note for note in look(course(counts="last"), DUE - SECOND).notes)


def test_best_compares_scores_after_penalties():
    config = course(late_days=0, late_penalty=0.1, counts="best")
    on_time = recorded(config, 1, DUE - DAY, 75.0)
    late = recorded(config, 2, DUE + DAY + SECOND, 90.0, [on_time])  # 90 * 0.8 = 72 < 75
    result = counted(config, "lab", "alice", [on_time, late])
    assert result.submission.id == 1 and result.final_score == 75.0 and result.penalty == 0.0
    better = recorded(config, 3, DUE + DAY + 2 * SECOND, 100.0, [on_time, late])  # 100 * 0.8 = 80 > 75
    result = counted(config, "lab", "alice", [on_time, late, better])
    assert (result.submission.id, result.final_score) == (3, 80.0)
    assert "best score after late penalties" in result.explanation


def test_best_ties_go_to_fewer_late_days_then_the_earlier():
    config = course(late_days=3, counts="best")
    first = recorded(config, 1, DUE - DAY, 80.0)
    late_equal = recorded(config, 2, DUE + SECOND, 80.0, [first])
    assert counted(config, "lab", "alice", [first, late_equal]).submission.id == 1
    again = recorded(config, 3, DUE - SECOND, 80.0, [first])
    assert counted(config, "lab", "alice", [again, first]).submission.id == 1


def test_best_keeps_a_late_day_when_a_later_attempt_scores_the_same_with_a_penalty():
    config = course(late_days=1, late_penalty=0.2, counts="best")
    with_day = recorded(config, 1, DUE + SECOND, 80.0)  # 1 late day, no penalty: 80
    # The instructor removed late days from course.toml meanwhile: a 20% penalty instead, 100 * 0.8 = 80.
    config = course(late_days=0, late_penalty=0.2, counts="best")
    with_penalty = recorded(config, 2, DUE + 2 * SECOND, 100.0, [with_day])
    assert (with_penalty.late_days, with_penalty.penalty) == (0, 0.2)
    result = counted(config, "lab", "alice", [with_day, with_penalty])
    assert (result.submission.id, result.final_score, result.late_days) == (2, 80.0, 0)


def test_a_queued_or_failed_submission_never_counts_over_a_graded_one():
    config = course(counts="last")
    graded = sub(1, DUE - DAY, 60.0)
    queued = sub(2, DUE - SECOND, state="queued")
    failed = sub(3, DUE, state="error")
    result = counted(config, "lab", "alice", [graded, queued, failed])
    assert result.submission.id == 1 and result.final_score == 60.0
    assert (result.pending, result.failed) == (1, 1)
    assert "still being graded" in result.explanation and "fault of the grader" in result.explanation


def test_no_graded_submission_counts_nothing_and_says_why():
    config = course()
    result = counted(config, "lab", "alice", [sub(1, DUE, state="error"), sub(2, DUE, state="grading")])
    assert result.submission is None and result.final_score is None and result.late_days == 0
    assert "No graded submission yet" in result.explanation and "fault of the grader" in result.explanation
    assert counted(config, "lab", "alice", []).explanation == "No graded submission yet."


def test_a_submission_is_never_charged_more_than_it_was_shown():
    accepted_under = course(late_days=0, late_penalty=0.1)
    late = recorded(accepted_under, 1, DUE + SECOND, 50.0)  # 1 day, 10%
    stricter = course(late_days=0, late_penalty=0.5)
    assert counted(stricter, "lab", "alice", [late]).penalty == 0.1
    earlier_due = course(late_days=0, late_penalty=0.1, due=DUE - DAY)  # the instructor moved the due time back
    result = counted(earlier_due, "lab", "alice", [late])
    assert (result.days_late, result.penalty_days, result.penalty) == (2, 1, 0.1)
    assert "not charged" in result.explanation


def test_explanations_of_late_days_and_penalties():
    config = course(late_days=3, late_penalty=0.1)
    covered = recorded(config, 1, DUE + DAY + SECOND, 70.0)  # 2 days, both covered
    text = counted(config, "lab", "alice", [covered]).explanation
    assert "2 late days covered all 2 days" in text and "70 of 100 points" in text and "penalty" not in text
    mixed = recorded(config, 2, DUE + 3 * DAY + SECOND, 70.0, elsewhere=2)  # 4 days: 1 covered, 3 at 10%
    text = counted(config, "lab", "alice", [mixed]).explanation
    assert "1 late day covered the first day" in text
    assert "the remaining 3 days cost a 30% penalty (10% per day)" in text and "70 - 21 = 49 of 100" in text
    assert "1 day 1 s" not in text and "4 days late" in text and "3 days 1 s after the due time" in text


# ---------------------------------------------------------------- the course-wide late-day budget


def test_late_days_are_charged_only_for_the_counted_submission():
    config = course(late_days=3, counts="best")
    on_time = recorded(config, 1, DUE - DAY, 90.0)
    late_worse = recorded(config, 2, DUE + DAY + SECOND, 80.0, [on_time])  # recorded 2 late days, does not count
    usage = late_days_used(config, "alice", {"lab": [on_time, late_worse]})
    assert (usage.total, usage.left, usage.by_assignment) == (0, 3, {})
    late_better = recorded(config, 3, DUE + DAY + 2 * SECOND, 95.0, [on_time, late_worse])
    usage = late_days_used(config, "alice", {"lab": [on_time, late_worse, late_better]})
    assert (usage.total, usage.left, usage.by_assignment) == (2, 1, {"lab": 2})
    assert usage.elsewhere("lab") == 0 and usage.elsewhere("quiz") == 2


def test_a_failed_late_submission_costs_no_late_day_and_no_earlier_score():
    config = course(late_days=3, counts="last")
    on_time = recorded(config, 1, DUE - DAY, 88.0)
    late = recorded(config, 2, DUE + SECOND, None, [on_time])
    failed = Submission(late.id, late.submitted_at, "error", None, None, late.late_days, late.penalty_days)
    result = counted(config, "lab", "alice", [on_time, failed])
    assert (result.submission.id, result.final_score, result.late_days) == (1, 88.0, 0)
    assert late_days_used(config, "alice", {"lab": [on_time, failed]}).total == 0


def test_late_days_add_up_across_assignments_and_limit_the_next_one():
    config = course(late_days=3, late_penalty=0.0)
    quiz_late = Submission(1, DUE + DAY + SECOND, "graded", 9.0, 10.0, late_days=2)
    usage = late_days_used(config, "alice", {"quiz": [quiz_late], "lab": []})
    assert (usage.total, usage.left) == (2, 1)
    seen = look(config, DUE + SECOND, elsewhere=usage.elsewhere("lab"))
    assert seen.allowed and seen.late_days == 1 and seen.late_days_left == 1
    assert look(config, DUE + DAY + SECOND, elsewhere=usage.elsewhere("lab")).reason == OUT_OF_LATE_DAYS


def test_late_days_left_counts_this_assignments_counted_submission_too():
    config = course(late_days=3, counts="last")
    late = recorded(config, 1, DUE + SECOND, 70.0)
    seen = look(config, DUE + 2 * SECOND, [late], elsewhere=1)
    assert seen.late_days_left == 1  # 3 - 1 elsewhere - 1 here
    assert seen.late_days == 1      # a new submission here would replace this one's day, not add to it


def test_a_regrade_that_changes_what_counts_is_reported_over_budget_not_charged():
    config = course(late_days=2, counts="best", late_penalty=0.0)
    on_time = recorded(config, 1, DUE - DAY, 50.0)
    late_low = recorded(config, 2, DUE + DAY + SECOND, 40.0, [on_time])  # 2 late days, does not count
    quiz_late = Submission(3, DUE + DAY + SECOND, "graded", 9.0, 10.0, late_days=2)  # decided with lab at 0
    regraded = Submission(2, late_low.submitted_at, "graded", 60.0, 100.0, late_low.late_days)
    usage = late_days_used(config, "alice", {"lab": [on_time, regraded], "quiz": [quiz_late]})
    assert (usage.total, usage.left, usage.over_budget) == (4, 0, True)


def test_assignments_no_longer_offered_are_left_out():
    usage = late_days_used(course(), "alice", {"retired": [Submission(1, DUE + DAY, "graded", 5.0, late_days=1)]})
    assert usage.total == 0 and usage.by_assignment == {}


# ---------------------------------------------------------------- feedback


def test_feedback_is_public_until_release_and_says_so():
    config = course()
    before = feedback(config, "lab")
    assert before.level == "public" and not before.released
    assert "public checks only" in before.note and "released" in before.note
    assert feedback(config, "lab", released=True).level == "full"
    assert feedback(course(released=True), "lab").level == "full"
    assert feedback(course(feedback="full"), "lab").level == "full"

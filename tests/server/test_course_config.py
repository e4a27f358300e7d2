"""course.toml: the schema, its precise load-time errors, and the commented file `grader course init` writes."""

from __future__ import annotations

import re
import textwrap
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grader.server.course_config import CourseConfigError, Extension, load_course
from grader.server.course_default import toml_string, toml_time, write_default_course
from grader.server.policy import preview

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
BUNDLED = [("backprop-lab", "Backprop lab"), ("backprop-exercises", "Backprop exercises"),
           ("backprop-research", "Backprop research"), ("backprop-quiz", "Backprop quiz")]
KNOWN = {assignment_id for assignment_id, _ in BUNDLED}

HEAD = 'title = "Course"\ntimezone = "Europe/Berlin"\nlate_days = 2\n'
LAB = "[assignments.backprop-lab]\nopens = 2025-03-01T09:00:00\ndue = 2025-03-08T23:59:00\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, known=KNOWN):
    return load_course(write(tmp_path, text), known)


def error(tmp_path: Path, text: str, known=KNOWN) -> str:
    with pytest.raises(CourseConfigError) as caught:
        load(tmp_path, text, known)
    return str(caught.value)


# ---------------------------------------------------------------- a valid file


def test_a_full_course_file_loads_with_defaults_and_overrides(tmp_path):
    config = load(tmp_path, HEAD + """
        [defaults]
        submissions_per_day = 25
        counts = "last"
        late_penalty = "10%"

        [assignments.backprop-lab]
        title = "The lab"
        opens = 2025-03-01T09:00:00
        due = 2025-03-08T23:59:00
        hard_close = 2025-03-11T23:59:00+01:00

        [assignments.backprop-quiz]
        opens = 2025-03-01T09:00:00Z
        due = 2025-03-02T09:00:00
        counts = "best"
        late_penalty = 0.25
        use_late_days = false
        feedback = "full"
        released = true

        [[extensions]]
        student = "alice"
        assignment = "backprop-lab"
        due = 2025-03-10T23:59:00
        reason = "illness"
        """)
    assert (config.title, config.timezone, config.late_days, config.assignment_ids) == \
        ("Course", "Europe/Berlin", 2, ("backprop-lab", "backprop-quiz"))
    lab, quiz = config.assignments
    assert lab.title == "The lab" and quiz.title is None
    assert lab.opens == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert lab.due == datetime(2025, 3, 8, 22, 59, tzinfo=UTC)
    assert lab.hard_close == datetime(2025, 3, 11, 22, 59, tzinfo=UTC)
    assert (lab.submissions_per_day, lab.counts, lab.late_penalty, lab.use_late_days, lab.feedback,
            lab.released) == (25, "last", 0.1, True, "public-until-release", False)
    assert quiz.opens == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert (quiz.submissions_per_day, quiz.counts, quiz.late_penalty, quiz.use_late_days, quiz.feedback,
            quiz.released) == (25, "best", 0.25, False, "full", True)
    assert quiz.hard_close is None
    assert config.extensions == (Extension("alice", "backprop-lab", datetime(2025, 3, 10, 22, 59, tzinfo=UTC),
                                           None, "illness"),)


def test_rules_left_out_take_a_fresh_courses_defaults(tmp_path):
    lab = load(tmp_path, HEAD + LAB).assignment("backprop-lab")
    assert (lab.submissions_per_day, lab.counts, lab.late_penalty, lab.use_late_days, lab.hard_close) == \
        (20, "best", 0.0, True, None)


def test_known_assignments_may_be_a_callable(tmp_path):
    config = load(tmp_path, HEAD + LAB, known=lambda assignment_id: assignment_id.startswith("backprop-"))
    assert config.assignment_ids == ("backprop-lab",)
    message = error(tmp_path, HEAD + LAB.replace("backprop-lab", "other-lab"), known=lambda a: False)
    assert "[assignments.other-lab]: unknown assignment 'other-lab'" in message and "grader list" in message


@pytest.mark.parametrize("written, fraction", [("0.1", 0.1), ('"10%"', 0.1), ('"12.5 %"', 0.125), ("0", 0.0),
                                               ('"100%"', 1.0), ("1", 1.0), ('"0%"', 0.0)])
def test_late_penalty_as_a_fraction_or_a_percentage(tmp_path, written, fraction):
    config = load(tmp_path, HEAD + LAB + f"late_penalty = {written}\n")
    assert config.assignment("backprop-lab").late_penalty == fraction


# ---------------------------------------------------------------- precise errors


@pytest.mark.parametrize("text, expected", [
    (HEAD + "colour = 1\n" + LAB, r"course\.toml: unknown key\(s\) 'colour'; allowed: title, timezone"),
    (HEAD + "late_day = 1\n" + LAB, r"'late_day' \(did you mean 'late_days'\?\)"),
    (HEAD + LAB + "deu = 2025-03-09T00:00:00\n", r"\[assignments\.backprop-lab\]: unknown key\(s\) 'deu' "
                                                r"\(did you mean 'due'\?\)"),
    (HEAD + "[defaults]\nopens = 2025-03-01T09:00:00\n" + LAB, r"\[defaults\]: unknown key\(s\) 'opens'"),
    ('timezone = "UTC"\n' + LAB, r"`title` must be a non-empty string"),
    ('title = "C"\n' + LAB, r"`timezone`: a time zone must be an IANA name"),
    ('title = "C"\ntimezone = "Mars/Olympus"\n' + LAB, r"`timezone`: unknown time zone 'Mars/Olympus'"),
    (HEAD.replace("late_days = 2", "late_days = -1") + LAB, r"`late_days` must be a whole number of days"),
    (HEAD.replace("late_days = 2", "late_days = 1.5") + LAB, r"`late_days` must be a whole number"),
    (HEAD.replace("late_days = 2", "late_days = true") + LAB, r"`late_days` must be a whole number"),
    (HEAD, r"offers no assignment"),
    (HEAD + "assignments = 3\n", r"`assignments` must be a table"),
    (HEAD + LAB + 'submissions_per_day = "20"\n', r"\[assignments\.backprop-lab\]: `submissions_per_day` must be a "
                                                  r"whole number of at least 1"),
    (HEAD + LAB + "submissions_per_day = 0\n", r"`submissions_per_day` must be a whole number of at least 1"),
    (HEAD + "[defaults]\nsubmissions_per_day = true\n" + LAB, r"\[defaults\]: `submissions_per_day`"),
    (HEAD + LAB + 'counts = "first"\n', r"`counts` must be one of 'best', 'last', found 'first'"),
    (HEAD + LAB + 'feedback = "all"\n', r"`feedback` must be one of 'public-until-release', 'full'"),
    (HEAD + LAB + 'use_late_days = "yes"\n', r"`use_late_days` must be true or false"),
    (HEAD + LAB + "released = 1\n", r"`released` must be true or false"),
    (HEAD + LAB + "late_penalty = 10\n", r"`late_penalty` = 10 is more than 1 .*write \"10%\" or 0\.1"),
    (HEAD + LAB + 'late_penalty = "ten percent"\n', r"`late_penalty` must be a fraction from 0 to 1"),
    (HEAD + LAB + 'late_penalty = "150%"\n', r"more than 100% per day"),
    (HEAD + LAB + "late_penalty = -0.1\n", r"`late_penalty` must be a fraction"),
    (HEAD + LAB + "late_penalty = nan\n", r"`late_penalty` must be a fraction"),
    (HEAD + LAB.replace("backprop-lab", "backprop-lba"),
     r"\[assignments\.backprop-lba\]: unknown assignment 'backprop-lba' \(did you mean 'backprop-lab'\? known: "
     r"backprop-exercises, backprop-lab"),
    (HEAD + LAB.replace("due = 2025-03-08T23:59:00\n", ""), r"\[assignments\.backprop-lab\]: `due` is missing"),
    (HEAD + LAB.replace("2025-03-08T23:59:00", "2025-02-28T09:00:00"),
     r"`due` \(2025-02-28T09:00:00\+01:00\) must be after `opens` \(2025-03-01T09:00:00\+01:00\)"),
    (HEAD + LAB.replace("2025-03-08T23:59:00", "2025-03-01T09:00:00"), r"`due` .* must be after `opens`"),
    (HEAD + LAB + "hard_close = 2025-03-08T23:58:59\n", r"`hard_close` \(2025-03-08T23:58:59\+01:00\) is before "
                                                        r"`due` \(2025-03-08T23:59:00\+01:00\)"),
    (HEAD + LAB.replace("due = 2025-03-08T23:59:00", 'due = "2025-03-08T23:59:00"'),
     r"`due` is the string '2025-03-08T23:59:00'; write a TOML date-time without quotes"),
    (HEAD + LAB.replace("due = 2025-03-08T23:59:00", "due = 2025-03-08"),
     r"`due` = 2025-03-08 is a date without a time; write the time too, e.g. 2025-03-08T23:59:00"),
    (HEAD + LAB.replace("due = 2025-03-08T23:59:00", "due = 23:59:00"), r"`due` = 23:59:00 is a time without a date"),
    (HEAD + LAB.replace("due = 2025-03-08T23:59:00", "due = 7"), r"`due` must be a date-time"),
    (HEAD + LAB + "title = 3\n", r"\[assignments\.backprop-lab\]: `title` must be a non-empty string"),
    (HEAD + "[assignments]\nbackprop-lab = 1\n", r"\[assignments\.backprop-lab\] must be a table"),
    (HEAD + "defaults = 3\n" + LAB, r"`defaults` must be a table"),
])
def test_errors_name_the_file_the_table_and_the_key(tmp_path, text, expected):
    message = error(tmp_path, text)
    assert message.startswith(str(tmp_path / "course.toml") + ":")
    assert re.search(expected, message), message


@pytest.mark.parametrize("extension, expected", [
    ('student = "alice"\nassignment = "backprop-quiz"\ndue = 2025-03-10T00:00:00',
     r"\[\[extensions\]\] #1 \(student 'alice', assignment 'backprop-quiz'\): `assignment` 'backprop-quiz' is not "
     r"offered in this course \(offered: backprop-lab\)"),
    ('student = "alice"\nassignment = "backprop-lab"\ndue = 2025-03-08T23:00:00',
     r"#1 \(student 'alice', assignment 'backprop-lab'\): `due` \(.*\) is not after the assignment's due time"),
    ('student = "alice"\nassignment = "backprop-lab"', r"#1 .*: `due` is missing"),
    ('student = ""\nassignment = "backprop-lab"\ndue = 2025-03-10T00:00:00', r"#1: `student` must be a non-empty"),
    ('assignment = "backprop-lab"\ndue = 2025-03-10T00:00:00', r"#1: `student` must be a non-empty string"),
    ('student = "alice"\nassignment = "backprop-lab"\ndue = 2025-03-10T00:00:00\nhard_close = 2025-03-09T00:00:00',
     r"#1 .*: `hard_close` \(.*\) is before `due`"),
    ('student = "alice"\nassignment = "backprop-lab"\ndue = 2025-03-10T00:00:00\nreason = 1',
     r"#1 .*: `reason` must be a string"),
    ('student = "alice"\nassignment = "backprop-lab"\ndue = 2025-03-10T00:00:00\nuntil = 1',
     r"#1: unknown key\(s\) 'until'"),
])
def test_extension_errors_name_the_entry(tmp_path, extension, expected):
    message = error(tmp_path, HEAD + LAB + "\n[[extensions]]\n" + extension + "\n")
    assert re.search(expected, message), message


def test_a_second_extension_for_the_same_student_and_assignment_is_an_error(tmp_path):
    entry = '[[extensions]]\nstudent = "alice"\nassignment = "backprop-lab"\ndue = 2025-03-10T00:00:00\n'
    message = error(tmp_path, HEAD + LAB + entry + entry)
    assert "[[extensions]] #2 (student 'alice', assignment 'backprop-lab'): duplicates [[extensions]] #1" in message


def test_a_local_time_the_clocks_skip_is_refused_with_the_offset_to_use(tmp_path):
    # Europe/Berlin, 30 March 2025: 02:00 CET jumps to 03:00 CEST.
    message = error(tmp_path, HEAD + LAB.replace("2025-03-08T23:59:00", "2025-03-30T02:30:00"))
    assert "[assignments.backprop-lab]: `due`: 2025-03-30T02:30:00 does not exist in Europe/Berlin" in message
    assert "2025-03-30T02:30:00+01:00" in message


def test_a_local_time_that_happens_twice_is_refused_with_both_offsets(tmp_path):
    # Europe/Berlin, 26 October 2025: 03:00 CEST goes back to 02:00 CET.
    message = error(tmp_path, HEAD + LAB.replace("2025-03-08T23:59:00", "2025-10-26T02:30:00"))
    assert "happens twice in Europe/Berlin" in message
    assert "2025-10-26T02:30:00+02:00 (the first) or 2025-10-26T02:30:00+01:00 (the second)" in message
    config = load(tmp_path, HEAD + LAB.replace("2025-03-08T23:59:00", "2025-10-26T02:30:00+01:00"))
    assert config.assignment("backprop-lab").due == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_a_due_time_after_a_dst_change_is_read_on_that_days_clock(tmp_path):
    config = load(tmp_path, HEAD + LAB.replace("2025-03-08T23:59:00", "2025-04-02T23:59:00"))
    lab = config.assignment("backprop-lab")
    assert lab.opens.astimezone(BERLIN).utcoffset() == timedelta(hours=1)
    assert lab.due == datetime(2025, 4, 2, 21, 59, tzinfo=UTC)  # CEST, +2


@pytest.mark.parametrize("content, expected", [("title = \n", "invalid TOML"), (b"\xff\xfe", "not UTF-8")])
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "course.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CourseConfigError, match=f"{re.escape(str(path))}: {expected}"):
        load_course(path, KNOWN)
    with pytest.raises(CourseConfigError, match="cannot read the course file"):
        load_course(tmp_path / "missing.toml", KNOWN)


# ---------------------------------------------------------------- `grader course init`


def test_the_default_course_loads_and_works_at_once(tmp_path):
    now = datetime(2025, 3, 1, 9, 17, 42, tzinfo=BERLIN)
    path = write_default_course(tmp_path / "course", BUNDLED, now)
    assert path == tmp_path / "course" / "course.toml"
    config = load_course(path, KNOWN)
    assert config.timezone == "Europe/Berlin" and config.late_days == 3
    assert config.assignment_ids == tuple(assignment_id for assignment_id, _ in BUNDLED)
    for (assignment_id, title), policy in zip(BUNDLED, config.assignments):
        assert policy.title == title
        assert policy.opens <= now < policy.opens + timedelta(minutes=1)
        assert policy.due == policy.opens + timedelta(days=7)
        assert policy.submissions_per_day >= 20 and policy.late_penalty == 0.1
        assert policy.feedback == "public-until-release" and not policy.released
        seen = preview(config, assignment_id, "alice", now, [], 0)
        assert seen.allowed and seen.submissions_left >= 20 and not seen.needs_confirmation


def test_every_key_of_the_default_course_is_commented(tmp_path):
    text = write_default_course(tmp_path, BUNDLED, datetime(2025, 3, 1, 9, 0, tzinfo=UTC)).read_text()
    lines = text.splitlines()
    keys = 0
    for number, line in enumerate(lines):
        if re.match(r"[A-Za-z_]+\s*=", line):
            keys += 1
            assert "#" in line or lines[number - 1].startswith("#"), f"key without a comment: {line!r}"
    assert keys == 3 + 6 + 4 * 4  # top level, [defaults], four assignments
    # The commented example extension works once uncommented.
    example = text[text.index("# [[extensions]]"):]
    uncommented = "\n".join(line[2:] for line in example.splitlines())
    (tmp_path / "course.toml").write_text(text + "\n" + uncommented, encoding="utf-8")
    config = load_course(tmp_path / "course.toml", KNOWN)
    (extension,) = config.extensions
    lab = config.assignment("backprop-lab")
    assert (extension.student, extension.assignment, extension.reason) == ("alice", "backprop-lab", "illness")
    assert (extension.due, extension.hard_close) == (lab.due + timedelta(days=2), lab.hard_close + timedelta(days=2))


def test_the_default_course_never_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text("# my course\n", encoding="utf-8")
    with pytest.raises(CourseConfigError, match="already exists"):
        write_default_course(tmp_path, BUNDLED, datetime(2025, 3, 1, tzinfo=UTC))
    assert path.read_text() == "# my course\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course.toml"]


def test_the_default_course_zone(tmp_path, monkeypatch):
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    explicit = write_default_course(tmp_path / "a", BUNDLED, now, timezone_name="America/New_York")
    assert load_course(explicit, KNOWN).timezone == "America/New_York"
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert load_course(write_default_course(tmp_path / "b", BUNDLED, now), KNOWN).timezone == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "Not/AZone")
    fallback = load_course(write_default_course(tmp_path / "c", BUNDLED, now), KNOWN).timezone
    assert fallback  # the machine's zone or UTC, and one that loads
    with pytest.raises(CourseConfigError, match="unknown time zone"):
        write_default_course(tmp_path / "d", BUNDLED, now, timezone_name="Mars/Olympus")
    with pytest.raises(CourseConfigError, match="naive datetime"):
        write_default_course(tmp_path / "e", BUNDLED, datetime(2025, 3, 1))


def test_the_default_due_time_keeps_its_wall_clock_across_a_dst_change(tmp_path):
    now = datetime(2025, 3, 26, 10, 0, tzinfo=BERLIN)  # CET; a week later is CEST
    policy = load_course(write_default_course(tmp_path, BUNDLED, now), KNOWN).assignments[0]
    due = policy.due.astimezone(BERLIN)
    assert (due.date().isoformat(), due.hour, due.minute, due.tzname()) == ("2025-04-02", 10, 0, "CEST")
    assert policy.due - policy.opens == timedelta(days=7, hours=-1)


def test_a_default_due_time_the_clocks_skip_or_repeat_still_loads(tmp_path):
    skipped = datetime(2025, 3, 23, 2, 30, tzinfo=BERLIN)  # a week later, 02:30 does not exist
    path = write_default_course(tmp_path / "spring", BUNDLED, skipped)
    assert "due = 2025-03-30T03:30:00 " in path.read_text()  # just after the gap, on the clock of that day
    assert load_course(path, KNOWN).assignments[0].due == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    repeated = datetime(2025, 10, 19, 2, 30, tzinfo=BERLIN)  # a week later, 02:30 happens twice
    path = write_default_course(tmp_path / "autumn", BUNDLED, repeated)
    assert "due = 2025-10-26T02:30:00+02:00 " in path.read_text()  # the first, with its offset
    assert load_course(path, KNOWN).assignments[0].due == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_titles_and_ids_are_written_as_valid_toml(tmp_path):
    odd = [("backprop-lab", 'The "lab" \\ part\none\x7f'), ("my lab", "Mine")]
    path = write_default_course(tmp_path, odd, datetime(2025, 3, 1, tzinfo=UTC), title='Course "A"')
    data = tomllib.loads(path.read_text())
    assert data["title"] == 'Course "A"'
    assert data["assignments"]["backprop-lab"]["title"] == odd[0][1]
    assert data["assignments"]["my lab"]["title"] == "Mine"
    assert toml_string("é") == '"é"'


def test_toml_time_is_local_when_unambiguous_and_offset_otherwise():
    assert toml_time(datetime(2025, 3, 8, 22, 59, tzinfo=UTC), BERLIN) == "2025-03-08T23:59:00"
    assert toml_time(datetime(2025, 10, 26, 0, 30, tzinfo=UTC), BERLIN) == "2025-10-26T02:30:00+02:00"
    assert toml_time(datetime(2025, 10, 26, 1, 30, tzinfo=UTC), BERLIN) == "2025-10-26T02:30:00+01:00"

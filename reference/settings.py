"""The check_settings hooks of the chapter's assignments: every [settings] value is checked when the assignment loads.

Each hook returns the problems it finds as sentences naming the key, so that
a bad value is a configuration error before any student is graded, never a
failed check charged to a student.
"""

from __future__ import annotations

from typing import Any, Callable

Rule = Callable[[Any], str | None]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(value: Any) -> str | None:
    """A whole number above zero."""
    return None if isinstance(value, int) and not isinstance(value, bool) and value > 0 else "a whole number above 0"


def positive(value: Any) -> str | None:
    """A number above zero."""
    return None if _number(value) and value > 0 else "a number above 0"


def fraction(value: Any) -> str | None:
    """A number strictly between 0 and 1."""
    return None if _number(value) and 0 < value < 1 else "a number between 0 and 1 (exclusive)"


def degrees_range(value: Any) -> str | None:
    """[low, high] with 0 <= low <= high <= 360."""
    if isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value) \
            and 0 <= value[0] <= value[1] <= 360:
        return None
    return "[low, high] with 0 <= low <= high <= 360 (degrees)"


def problems(settings: dict, rules: dict[str, Rule]) -> list[str]:
    """Each rule's complaint, as "`key` must be ..., found ..."; a missing key is a problem too."""
    found = []
    for key, rule in rules.items():
        if key not in settings:
            found.append(f"`{key}` is missing")
            continue
        expected = rule(settings[key])
        if expected:
            found.append(f"`{key}` must be {expected}, found {settings[key]!r}")
    return found


def _gradient_bands(settings: dict) -> list[str]:
    found = problems(settings, {"gradient_tolerance": positive, "planted_bug_threshold": positive})
    if not found and settings["planted_bug_threshold"] <= settings["gradient_tolerance"]:
        found.append("`planted_bug_threshold` must be above `gradient_tolerance` (a bug must look worse than "
                     "correct code)")
    return found


def stretch_range(value: Any) -> str | None:
    """[low, high] with 1 <= low <= high."""
    if isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value) and 1 <= value[0] <= value[1]:
        return None
    return "[low, high] with 1 <= low <= high (a stretch factor)"


def non_negative(value: Any) -> str | None:
    """A number, zero or more."""
    return None if _number(value) and value >= 0 else "a number, 0 or more"


def lab(settings: dict) -> list[str]:
    """The lab's training and gradient-check settings."""
    return _gradient_bands(settings) + problems(settings, {
        "moons_rotation_degrees": degrees_range, "moons_stretch": stretch_range, "moons_shift": non_negative,
        "moons_line_offset": non_negative, "train_samples": positive_int, "holdout_samples": positive_int,
        "train_timeout": positive, "accuracy_threshold": fraction})


def exercises(settings: dict) -> list[str]:
    """The exercises' gradient check and any-depth settings."""
    return _gradient_bands(settings) + problems(settings, {"max_random_width": positive_int})


def research(settings: dict) -> list[str]:
    """Checkpointing's network and memory bar, and the Value tolerances."""
    return problems(settings, {
        "checkpoint_layers": positive_int, "checkpoint_segment": positive_int, "memory_width": positive_int,
        "memory_batch": positive_int, "memory_ratio": fraction, "value_rtol": positive, "value_atol": positive})


def quiz(settings: dict) -> list[str]:
    """The quiz's tolerance."""
    return problems(settings, {"relative_tolerance": fraction})

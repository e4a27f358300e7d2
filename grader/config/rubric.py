"""Rubric files: which checks feed which item and how their credit counts, validated at load time.

Scoring a submission with a rubric is grader.scoring.rubric's job. A rubric is a TOML file: a bundled
one is ``rubrics/<name>.toml``, an instructor's assignment keeps its own (``rubric = "rubric.toml"`` in its
assignment.toml)::

    assignment = "backprop-lab"
    title = "Backprop lab"

    [[items]]
    id = "forward"                      # stable: gradebook columns and results.json tags use it
    title = "Forward pass"              # what the student reads
    points = 20
    description = "Values and shapes of linear_forward and L_layer_forward."
    checks = ["test_forward.py::*"]     # selectors matched against check ids
    credit = "proportional"             # or "all_or_nothing", or "thresholds"
    # thresholds = [[0.5, 0.5], [1.0, 1.0]]   with credit = "thresholds"
    # visibility = "visible"            # Gradescope: visible, hidden, after_due_date, after_published
    # source = "quality"                # points come from the code-quality estimate, not from checks

    [items.weights]                     # optional; checks matched by no key weigh 1 each
    "test_forward.py::test_caches_*" = 2

Selectors match the whole check id with ``*`` (any run of characters) and
``?`` (one character). Square brackets are literal, unlike `fnmatch`, because
parametrized check ids contain them (``test_x.py::test_y[m=1]``) and an exact
id must be usable as a selector.

Credit rules, on the item's checks (a check's fraction is its share of credit,
0 unless it passed or failed with partial credit):

- ``proportional``: the weighted mean of the check fractions. A weight key's
  weight is the total of its group, shared equally by the checks it matches,
  so ``"*::test_bug1_*" = 1`` next to bug2 and bug3 makes each bug a third
  however many checks it has.
- ``all_or_nothing``: full points when every check earned its full credit.
- ``thresholds``: ``[min_fraction, credit_fraction]`` pairs, sorted; the
  proportional fraction earns the credit of the highest pair it reaches.

Grading fails closed: an item none of whose checks ran scores 0 with the
reason; a selector or weight group that matched no check counts as a failed
check; error, timeout, skipped and not-run checks, and NaN fractions, count 0.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from grader.config import locations
from grader.errors import ConfigurationError

CREDIT_RULES = ("proportional", "all_or_nothing", "thresholds")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
SOURCES = ("quality",)
_TOP_KEYS = ("assignment", "title", "description", "items")
_ITEM_KEYS = ("id", "title", "points", "checks", "credit", "weights", "thresholds", "source", "visibility",
              "description")


class RubricError(ConfigurationError):
    """A rubric that cannot be used; the message names the file, the item and the field."""


# ---------------------------------------------------------------- selectors


@functools.lru_cache(maxsize=4096)
def _pattern(selector: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in selector),
                      re.DOTALL)


def selector_matches(selector: str, check_id: str) -> bool:
    """True when `selector` (``*`` and ``?`` wildcards, brackets literal) matches all of `check_id`."""
    return _pattern(selector).fullmatch(check_id) is not None


def selectors_overlap(first: str, second: str) -> bool:
    """True when some check id could match both selectors."""

    @functools.lru_cache(maxsize=None)
    def meet(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            return meet(i + 1, j) or (j < len(second) and meet(i, j + 1))
        if j < len(second) and second[j] == "*":
            return meet(i, j + 1) or (i < len(first) and meet(i + 1, j))
        if i == len(first) or j == len(second):
            return False
        a, b = first[i], second[j]
        return (a == b or a == "?" or b == "?") and meet(i + 1, j + 1)

    return meet(0, 0)


# ---------------------------------------------------------------- the rubric


@dataclass(frozen=True)
class RubricItem:
    """One rubric item: its points, the checks that feed it and how they turn into credit."""

    id: str
    title: str
    points: float
    checks: tuple[str, ...] = ()
    credit: str = "proportional"
    weights: dict[str, float] = field(default_factory=dict)
    thresholds: tuple[tuple[float, float], ...] = ()
    source: str | None = None
    visibility: str = "visible"
    description: str = ""

    def matches(self, check_id: str) -> bool:
        """True when one of this item's selectors matches `check_id`."""
        return any(selector_matches(s, check_id) for s in self.checks)


@dataclass(frozen=True)
class Rubric:
    """An assignment's rubric, validated at load time."""

    assignment: str
    title: str
    items: tuple[RubricItem, ...]
    path: Path | None = None
    description: str = ""

    @property
    def max_score(self) -> float:
        """The total points of the rubric."""
        return float(sum(item.points for item in self.items))

    def item(self, item_id: str) -> RubricItem:
        """The item with id `item_id` (KeyError naming the known ids otherwise)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"{self.assignment} has no rubric item {item_id!r} "
                       f"(items: {', '.join(i.id for i in self.items)})")

    def validate_against(self, check_ids: Iterable[str]) -> list[str]:
        """Problems of this rubric against the check ids the assignment's checks folder collects.

        Use it in tests of the real checks (collected without errors): a
        selector or weight key that matches no check, a check that feeds no
        item or two items, and a check matched by two weight keys of an item
        are all reported. An empty list means the rubric and checks agree.
        """
        check_ids = list(check_ids)
        where = self.path or self.assignment
        problems = []
        for item in self.items:
            for selector in item.checks:
                if not any(selector_matches(selector, c) for c in check_ids):
                    problems.append(f"{where}: item {item.id!r}: selector {selector!r} matches no collected check")
            for key in item.weights:
                if not any(selector_matches(key, c) and item.matches(c) for c in check_ids):
                    problems.append(f"{where}: item {item.id!r}: weights key {key!r} matches no collected check "
                                    f"of the item")
        for check_id in check_ids:
            owners = [item.id for item in self.items if item.matches(check_id)]
            if not owners:
                problems.append(f"{where}: check {check_id!r} feeds no rubric item")
            elif len(owners) > 1:
                problems.append(f"{where}: check {check_id!r} feeds items {', '.join(map(repr, owners))}; "
                                f"a check must feed exactly one")
            else:
                keys = [k for k in self.item(owners[0]).weights if selector_matches(k, check_id)]
                if len(keys) > 1:
                    problems.append(f"{where}: item {owners[0]!r}: check {check_id!r} matches weights keys "
                                    f"{', '.join(map(repr, keys))}; at most one may match")
        return problems


def rubric_for(name: str) -> Rubric:
    """Load a rubric: a bundled one by name (``rubrics/<name>.toml``), or a ``.toml`` file by its path.

    An assignment's `rubric` is one or the other (grader.config.assignment
    resolves an assignment's own rubric file to its path when it loads).
    """
    if name.endswith(".toml"):
        return load_rubric(name)
    return load_rubric(rubric_file(name))


def rubric_file(name: str, *, where: str = "") -> Path:
    """The bundled rubric file of `name`; RubricError naming the known ones when there is none."""
    folder = locations.bundled_rubrics_dir()
    path = folder / f"{name}.toml"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.toml"))) or "none"
        prefix = f"{where}: " if where else f"{path}: "
        raise RubricError(f"{prefix}no rubric for assignment {name!r} (rubrics: {known}; an assignment's own "
                          f"rubric is a .toml file of its folder, e.g. rubric = \"rubric.toml\")")
    return path


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate a rubric TOML file; `RubricError` names the file, item and field at fault."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RubricError(f"{path}: cannot read the rubric: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: invalid TOML: {exc}") from None
    _unknown_keys(f"{path}", data, _TOP_KEYS)
    assignment = _required_str(f"{path}", data, "assignment")
    title = _required_str(f"{path}", data, "title")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise RubricError(f"{path}: `description` must be a string, found {description!r}")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise RubricError(f"{path}: needs at least one [[items]] table")
    items: list[RubricItem] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        item = _load_item(path, index, raw)
        if item.id in first_index:
            raise RubricError(f"{path}: item {item.id!r} (items[{index}]): `id` duplicates "
                              f"items[{first_index[item.id]}]")
        first_index[item.id] = index
        items.append(item)
    return Rubric(assignment, title, tuple(items), path, description)


def _load_item(path: Path, index: int, raw: Any) -> RubricItem:
    if not isinstance(raw, dict):
        raise RubricError(f"{path}: items[{index}] must be a table")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", item_id):
        raise RubricError(f"{path}: items[{index}]: `id` must be a non-empty string of letters, digits, "
                          f"'_', '.', '-', found {item_id!r}")
    where = f"{path}: item {item_id!r}"
    _unknown_keys(where, raw, _ITEM_KEYS)
    title = _required_str(where, raw, "title")
    points = raw.get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points) or points <= 0:
        raise RubricError(f"{where}: `points` must be a positive number, found {points!r}")
    source = raw.get("source")
    if source is not None and source not in SOURCES:
        raise RubricError(f"{where}: `source` must be one of {', '.join(SOURCES)}, found {source!r}")
    checks = _selectors(where, raw.get("checks", []), source)
    credit = raw.get("credit", "proportional")
    if credit not in CREDIT_RULES:
        raise RubricError(f"{where}: `credit` must be one of {', '.join(CREDIT_RULES)}, found {credit!r}")
    thresholds = _thresholds(where, raw.get("thresholds"), credit)
    weights = _weights(where, raw.get("weights"), checks, source)
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise RubricError(f"{where}: `visibility` must be one of {', '.join(VISIBILITIES)}, found {visibility!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise RubricError(f"{where}: `description` must be a string, found {description!r}")
    return RubricItem(item_id, title, float(points), checks, credit, weights, thresholds, source, visibility,
                      description)


def _unknown_keys(where: str, data: dict, allowed: tuple[str, ...]) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise RubricError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


def _required_str(where: str, data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RubricError(f"{where}: `{key}` must be a non-empty string, found {value!r}")
    return value


def _selectors(where: str, raw: Any, source: str | None) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise RubricError(f"{where}: `checks` must be a list of non-empty selector strings, found {raw!r}")
    if source is not None and raw:
        raise RubricError(f"{where}: `checks` must be empty for an item with source = {source!r} "
                          f"(its points come from the {source} estimate)")
    if source is None and not raw:
        raise RubricError(f"{where}: `checks` is empty; list the selectors of the checks that feed this item")
    seen = set()
    for selector in raw:
        if selector in seen:
            raise RubricError(f"{where}: `checks` lists selector {selector!r} twice")
        seen.add(selector)
    return tuple(raw)


def _thresholds(where: str, raw: Any, credit: str) -> tuple[tuple[float, float], ...]:
    if credit != "thresholds":
        if raw is not None:
            raise RubricError(f"{where}: `thresholds` is only used with credit = \"thresholds\" (credit is {credit!r})")
        return ()
    if not isinstance(raw, list) or not raw:
        raise RubricError(f"{where}: `thresholds` must be a non-empty list of [min_fraction, credit_fraction] "
                          f"pairs with credit = \"thresholds\", found {raw!r}")
    pairs = []
    for pair in raw:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)):
            raise RubricError(f"{where}: `thresholds` entry {pair!r} is not a [min_fraction, credit_fraction] pair")
        if not all(0.0 <= v <= 1.0 for v in pair):
            raise RubricError(f"{where}: `thresholds` entry {pair!r} has a value outside [0, 1]")
        pairs.append((float(pair[0]), float(pair[1])))
    for before, after in zip(pairs, pairs[1:]):
        if after[0] <= before[0]:
            raise RubricError(f"{where}: `thresholds` are not sorted by min_fraction: {list(before)} comes "
                              f"before {list(after)}")
        if after[1] < before[1]:
            raise RubricError(f"{where}: `thresholds` give less credit for a higher fraction: {list(before)} "
                              f"then {list(after)}")
    return tuple(pairs)


def _weights(where: str, raw: Any, checks: tuple[str, ...], source: str | None) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RubricError(f"{where}: `weights` must be a table of selector = weight, found {raw!r}")
    if source is not None and raw:
        raise RubricError(f"{where}: `weights` has no checks to weigh in an item with source = {source!r}")
    weights = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise RubricError(f"{where}: `weights` key {key!r}: weight must be a positive number, found {value!r}")
        if not any(selectors_overlap(key, selector) for selector in checks):
            raise RubricError(f"{where}: `weights` key {key!r} matches no selector of the item "
                              f"({', '.join(map(repr, checks))})")
        weights[key] = float(value)
    return weights

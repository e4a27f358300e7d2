"""The rubric engine: which checks feed which item, how partial credit is computed, the total.

A rubric is a TOML file ``rubrics/<assignment>.toml``::

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

from grader.outcomes import FAILED, PASSED, CheckOutcome
from grader.overrides import Override

RUBRICS_DIR = Path(__file__).resolve().parents[1] / "rubrics"

CREDIT_RULES = ("proportional", "all_or_nothing", "thresholds")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
SOURCES = ("quality",)
_TOP_KEYS = ("assignment", "title", "description", "items")
_ITEM_KEYS = ("id", "title", "points", "checks", "credit", "weights", "thresholds", "source", "visibility",
              "description")
# A weighted mean of exact fractions (thirds, say) can land a hair below a
# threshold it reaches on paper; this much slack keeps 1/3+1/3+1/3 at 1.
_THRESHOLD_SLACK = 1e-9
# Scores are stored to four decimals: exact enough for any gradebook, and free
# of float noise such as 19.999999999999996 that would turn "passed" into "failed".
_DECIMALS = 4


class RubricError(Exception):
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


def rubric_for(assignment: str) -> Rubric:
    """Load the shipped rubric ``rubrics/<assignment>.toml``."""
    path = RUBRICS_DIR / f"{assignment}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RUBRICS_DIR.glob("*.toml"))) or "none"
        raise RubricError(f"{path}: no rubric for assignment {assignment!r} (rubrics: {known})")
    return load_rubric(path)


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


# ---------------------------------------------------------------- results


@dataclass
class ItemResult:
    """The score of one rubric item and what it came from.

    `score` is what counts (the override's points when there is one);
    `automatic_score` is what the checks or the estimate gave. `notes` are
    student-facing reasons beyond the checks' own messages (a check that did
    not run, the quality evidence). `source` is the rubric item's source
    ("quality") for an item not fed by checks, else None.
    """

    id: str
    title: str
    score: float
    max_score: float
    status: str
    outcomes: list[CheckOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    override: Override | None = None
    automatic_score: float = 0.0
    visibility: str = "visible"
    description: str = ""
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this item result, its outcomes included."""
        return {
            "id": self.id, "title": self.title, "score": self.score, "max_score": self.max_score,
            "status": self.status, "outcomes": [o.to_dict() for o in self.outcomes], "notes": list(self.notes),
            "override": self.override.to_dict() if self.override else None,
            "automatic_score": self.automatic_score, "visibility": self.visibility,
            "description": self.description, "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ItemResult":
        """Rebuild an item result from `to_dict` output."""
        override = data.get("override")
        return cls(
            id=data["id"], title=data["title"], score=float(data["score"]), max_score=float(data["max_score"]),
            status=data["status"], outcomes=[CheckOutcome.from_dict(o) for o in data.get("outcomes", [])],
            notes=list(data.get("notes", [])), override=Override.from_dict(override) if override else None,
            automatic_score=float(data.get("automatic_score", data["score"])),
            visibility=data.get("visibility", "visible"), description=data.get("description", ""),
            source=data.get("source"),
        )


@dataclass
class GradeResult:
    """A graded submission: the total, each item, every check outcome, and run metadata."""

    assignment: str
    score: float
    max_score: float
    items: list[ItemResult]
    outcomes: list[CheckOutcome]
    metadata: dict[str, Any] = field(default_factory=dict)

    def item(self, item_id: str) -> ItemResult:
        """The result of item `item_id`."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} in the result (items: {', '.join(i.id for i in self.items)})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the whole result."""
        return {
            "assignment": self.assignment, "score": self.score, "max_score": self.max_score,
            "items": [item.to_dict() for item in self.items], "outcomes": [o.to_dict() for o in self.outcomes],
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GradeResult":
        """Rebuild a result from `to_dict` output; items share the top-level outcome objects."""
        outcomes = [CheckOutcome.from_dict(o) for o in data.get("outcomes", [])]
        by_id = {o.check_id: o for o in outcomes}
        items = [ItemResult.from_dict(i) for i in data["items"]]
        for item in items:
            item.outcomes = [by_id.get(o.check_id, o) for o in item.outcomes]
        return cls(assignment=data["assignment"], score=float(data["score"]), max_score=float(data["max_score"]),
                   items=items, outcomes=outcomes, metadata=dict(data.get("metadata", {})))


# ---------------------------------------------------------------- grading


def grade(rubric: Rubric, outcomes: list[CheckOutcome], *, quality: tuple[float, list[str]] | None = None,
          overrides: dict[str, Override] | None = None, collection_errors: Iterable[str] = ()) -> GradeResult:
    """Score `outcomes` with `rubric`.

    `quality` is the code-quality estimate ``(fraction, evidence)`` for an
    item with ``source = "quality"``; `overrides` maps item ids to the
    instructor's `Override`; `collection_errors` explain checks that never
    ran. Raises `RubricError` when a check feeds two items or an override
    names an unknown item or points outside the item's range; everything a
    submission can do ends in a score.
    """
    overrides = dict(overrides or {})
    collection_errors = list(collection_errors)
    _check_overrides(rubric, overrides)
    owned, unassigned = _assign(rubric, outcomes)
    items = []
    for item in rubric.items:
        if item.source == "quality":
            parts, notes = _quality_parts(quality)
        else:
            parts, notes = _check_parts(item, owned[item.id], collection_errors)
        automatic = round(item.points * _credit(item, parts), _DECIMALS)
        override = overrides.get(item.id)
        score = round(float(override.points), _DECIMALS) if override else automatic
        items.append(ItemResult(item.id, item.title, score, item.points,
                                "passed" if score == item.points else "failed", owned[item.id], notes,
                                override, automatic, item.visibility, item.description, item.source))
    total = round(sum(i.score for i in items), _DECIMALS)
    metadata = {"title": rubric.title, "collection_errors": collection_errors, "unassigned_checks": unassigned}
    return GradeResult(rubric.assignment, total, rubric.max_score, items, list(outcomes), metadata)


def _check_overrides(rubric: Rubric, overrides: dict[str, Override]) -> None:
    points = {item.id: item.points for item in rubric.items}
    for item_id, override in overrides.items():
        if item_id not in points:
            raise RubricError(f"override of unknown item {item_id!r} for {rubric.assignment} "
                              f"(items: {', '.join(points)})")
        if not (math.isfinite(override.points) and 0 <= override.points <= points[item_id]):
            raise RubricError(f"override of item {item_id!r}: {override.points!r} points outside "
                              f"[0, {points[item_id]:g}]")


def _assign(rubric: Rubric, outcomes: list[CheckOutcome]) -> tuple[dict[str, list[CheckOutcome]], list[str]]:
    owned: dict[str, list[CheckOutcome]] = {item.id: [] for item in rubric.items}
    unassigned = []
    for outcome in outcomes:
        owners = [item for item in rubric.items if item.matches(outcome.check_id)]
        if len(owners) > 1:
            described = "; ".join(
                f"item {item.id!r} via {[s for s in item.checks if selector_matches(s, outcome.check_id)]}"
                for item in owners)
            raise RubricError(f"{rubric.path or rubric.assignment}: check {outcome.check_id!r} feeds two or more "
                              f"items ({described}); a check must feed exactly one")
        if owners:
            owned[owners[0].id].append(outcome)
        else:
            unassigned.append(outcome.check_id)
    return owned, unassigned


def earned_full_credit(outcome: CheckOutcome) -> bool:
    """True when a check passed and earned all of its credit (what reports mark as passed)."""
    return outcome.status == PASSED and _earned(outcome) >= 1.0


def _earned(outcome: CheckOutcome) -> float:
    """The credit share one check earned; anything but a finite fraction of a graded check is 0."""
    if outcome.status not in (PASSED, FAILED):
        return 0.0
    fraction = outcome.fraction
    if not isinstance(fraction, (int, float)) or not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
        return 0.0
    return float(fraction)


def _check_parts(item: RubricItem, outcomes: list[CheckOutcome],
                 collection_errors: list[str]) -> tuple[list[tuple[float, float]], list[str]]:
    """(weight, fraction) per check, plus a zero for every selector or weight group that ran nothing."""
    if not outcomes:
        reason = "; ".join(collection_errors) or "its checks were not collected"
        return [], [f"no check of this item ran: {reason}"]
    notes = []
    groups: dict[str, list[CheckOutcome]] = {key: [] for key in item.weights}
    parts = []
    for outcome in outcomes:
        keys = [key for key in item.weights if selector_matches(key, outcome.check_id)]
        if len(keys) > 1:
            raise RubricError(f"item {item.id!r}: check {outcome.check_id!r} matches weights keys "
                              f"{', '.join(map(repr, keys))}; at most one may match")
        if keys:
            groups[keys[0]].append(outcome)
        else:
            parts.append((1.0, _earned(outcome)))
        fraction = outcome.fraction
        if isinstance(fraction, float) and math.isnan(fraction):
            notes.append(f"{outcome.title}: reported no valid credit (NaN), counted as 0")
    missing_keys = []
    for key, members in groups.items():
        if members:
            parts.extend((item.weights[key] / len(members), _earned(o)) for o in members)
        else:
            missing_keys.append(key)
            parts.append((item.weights[key], 0.0))
            notes.append(f"no check matching {key!r} ran; its share counts as 0")
    for selector in item.checks:
        if any(selector_matches(selector, o.check_id) for o in outcomes):
            continue
        if any(selectors_overlap(selector, key) for key in missing_keys):
            continue  # already counted as a zero through its weight group
        parts.append((1.0, 0.0))
        notes.append(f"no check matching {selector!r} ran; counted as one failed check")
    return parts, notes


def _quality_parts(quality: tuple[float, list[str]] | None) -> tuple[list[tuple[float, float]], list[str]]:
    if quality is None:
        return [], ["the automatic code-quality estimate did not run"]
    fraction, evidence = quality
    notes = [str(e) for e in evidence]
    if not isinstance(fraction, (int, float)) or not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
        invalid = f"the code-quality estimate gave an invalid fraction ({fraction!r}), counted as 0"
        return [(1.0, 0.0)], [invalid] + notes
    return [(1.0, float(fraction))], notes


def _credit(item: RubricItem, parts: list[tuple[float, float]]) -> float:
    """The share of the item's points earned under its credit rule."""
    if not parts:
        return 0.0
    if item.credit == "all_or_nothing":
        return 1.0 if all(fraction >= 1.0 for _, fraction in parts) else 0.0
    total_weight = sum(weight for weight, _ in parts)
    mean = sum(weight * fraction for weight, fraction in parts) / total_weight
    if item.credit == "proportional":
        return min(1.0, mean)
    reached = [credit for minimum, credit in item.thresholds if mean >= minimum - _THRESHOLD_SLACK]
    return max(reached, default=0.0)

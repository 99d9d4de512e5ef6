"""Grading rules as data: weighted factors, hard rules and one-grade bumps (``config/grading.toml``).

``rules_from_dict`` validates the parsed TOML into a frozen ``GradingRules``; a problem raises
``RulesError(key, reason)`` naming the key (``config.load_grading_rules`` adds the file). Nothing in the file
is evaluated as code: a rule is a factor name, a comparison (``at_least`` / ``at_most``) and a number or a
level name.

A factor is one figure of a risk item (``FACTORS`` lists them, with their Chinese labels); its points are
those of the last step its value reaches: ``at_least`` steps rise with the value (more cases, more points),
``at_most`` steps rise as the value falls (fewer days to a sensitive period, a smaller p-value). A missing
value scores nothing. The item's score is the sum of its points; ``thresholds`` turn it into a grade. A hard
rule sets a floor under the grade (``red`` when the subject reached the national level within a year); a
bump raises the grade by one when all its conditions hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskwatch.schema import LEVEL_LABELS, LEVEL_RANK, Grade, Level

# factor -> (Chinese label, unit shown after the value, whether larger values are riskier)
FACTORS: dict[str, tuple[str, str, bool]] = {
    "spike_p": ("突增显著性 p", "", False),
    "spike_ratio": ("实际/预期", "倍", True),
    "excess": ("超出预期", "件", True),
    "cases_90d": ("90 天内件数", "件", True),
    "cases_365d": ("一年内件数", "件", True),
    "days_since_last": ("距最近一次", "天", False),
    "max_level": ("一年内最高层级", "", True),
    "days_since_max_level": ("距最高层级到访", "天", False),
    "group_members": ("群体人数", "人", True),
    "group_new_30d": ("30 天内新增成员", "人", True),
    "group_townships": ("涉及乡镇街道", "个", True),
    "overdue_days": ("最长超期", "天", True),
    "returns": ("退单", "次", True),
    "dissatisfied": ("不满意评价", "次", True),
    "sensitive_category": ("敏感类别", "", True),
    "days_to_sensitive": ("距敏感期", "天", False),
}
LEVEL_FACTORS = ("max_level",)  # values are level ranks; the rules file may name the level


class RulesError(ValueError):
    """A grading rules file is invalid: ``key`` says where, ``reason`` what."""

    def __init__(self, key: str, reason: str) -> None:
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class Condition:
    """``factor`` at least (``at_least``) or at most (``at_most``) ``value``."""

    factor: str
    value: float
    at_least: bool

    def holds(self, v: float | None) -> bool:
        if v is None or v != v:  # missing (None or NaN) never holds
            return False
        return v >= self.value if self.at_least else v <= self.value

    def describe(self) -> str:
        label = FACTORS[self.factor][0]
        return f"{label}{'≥' if self.at_least else '≤'}{show_value(self.factor, self.value)}"


@dataclass(frozen=True)
class Factor:
    """Points for a factor: the points of the last step (threshold, points) its value reaches."""

    key: str
    steps: tuple[tuple[float, float], ...]  # ascending thresholds for at_least, descending for at_most
    at_least: bool

    def points(self, v: float | None) -> float:
        if v is None or v != v:
            return 0.0
        got = 0.0
        for threshold, pts in self.steps:
            if (v >= threshold) if self.at_least else (v <= threshold):
                got = pts
        return got


@dataclass(frozen=True)
class HardRule:
    """When every condition holds the grade is at least ``grade``; ``reason`` is the Chinese sentence."""

    name: str
    when: tuple[Condition, ...]
    grade: Grade
    reason: str


@dataclass(frozen=True)
class Bump:
    """When every condition holds the grade goes up one step (blue -> yellow -> red)."""

    name: str
    when: tuple[Condition, ...]
    reason: str


@dataclass(frozen=True)
class GradingRules:
    yellow_at: float
    red_at: float
    factors: tuple[Factor, ...]
    hard: tuple[HardRule, ...]
    bumps: tuple[Bump, ...]
    history_days: int = 365   # [items]: how far back a subject's cases count
    recent_days: int = 90     #   the window of cases_90d and of "repeat petitioner" in a hotspot's chain
    sensitive_categories: frozenset[str] = frozenset()  # category codes (a top-level code covers its leaves)


def show_value(factor: str, value: float) -> str:
    """A factor value as a report prints it: level names for levels, integers without ``.0``."""
    if factor in LEVEL_FACTORS:
        rank = int(value)
        return next((LEVEL_LABELS[lv] for lv, r in LEVEL_RANK.items() if r == rank), str(rank))
    if factor == "sensitive_category":
        return "是" if value else "否"
    if factor == "spike_p":
        return f"{value:.3g}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


# --- validation ------------------------------------------------------------------------------------
def rules_from_dict(doc: Mapping[str, Any]) -> GradingRules:
    """Validate a parsed ``grading.toml``; raises ``RulesError`` naming the key."""
    _only(doc, {"items", "thresholds", "factor", "hard", "bump", "ledger"}, "")  # [ledger]: config.LedgerSettings
    items = doc.get("items", {})
    if not isinstance(items, Mapping):
        raise RulesError("items", f"expected a table, got {items!r}")
    _only(items, {"history_days", "recent_days", "sensitive_categories"}, "items")
    windows = {}
    for key, default in (("history_days", 365), ("recent_days", 90)):
        v = items.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise RulesError(f"items.{key}", f"expected a whole number of days >= 1, got {v!r}")
        windows[key] = v
    if windows["recent_days"] > windows["history_days"]:
        raise RulesError("items.recent_days", "must not exceed items.history_days")
    sensitive = items.get("sensitive_categories", [])
    if not isinstance(sensitive, list) or not all(isinstance(c, str) and c for c in sensitive):
        raise RulesError("items.sensitive_categories", f"expected a list of category codes, got {sensitive!r}")
    th = _table(doc, "thresholds", "")
    _only(th, {"yellow", "red"}, "thresholds")
    yellow, red = _number(th, "yellow", "thresholds"), _number(th, "red", "thresholds")
    if not 0 < yellow < red:
        raise RulesError("thresholds", f"need 0 < yellow < red, got yellow = {yellow}, red = {red}")
    factors = []
    seen: set[str] = set()
    for i, item in enumerate(_list(doc, "factor", "")):
        where = f"factor[{i}]"
        _only(item, {"key", "steps"}, where)
        key = _factor_name(item, where)
        if key in seen:
            raise RulesError(f"{where}.key", f"factor {key!r} listed twice")
        seen.add(key)
        steps = []
        for j, step in enumerate(_list(item, "steps", where)):
            sw = f"{where}.steps[{j}]"
            if not isinstance(step, list) or len(step) != 2:
                raise RulesError(sw, f"expected [threshold, points], got {step!r}")
            threshold = _value(key, step[0], sw)
            pts = step[1]
            if isinstance(pts, bool) or not isinstance(pts, (int, float)) or pts < 0:
                raise RulesError(sw, f"points must be a number >= 0, got {pts!r}")
            steps.append((threshold, float(pts)))
        at_least = FACTORS[key][2]
        ordered = sorted(steps, key=lambda s: s[0], reverse=not at_least)
        if steps != ordered:
            raise RulesError(f"{where}.steps", "thresholds must be " + ("ascending" if at_least else "descending"))
        if any(b[1] < a[1] for a, b in zip(steps, steps[1:], strict=False)):
            raise RulesError(f"{where}.steps", "points must not fall from one step to the next "
                                               "(more evidence never lowers a grade)")
        factors.append(Factor(key, tuple(steps), at_least))
    hard = []
    for i, item in enumerate(_list(doc, "hard", "", required=False)):
        where = f"hard[{i}]"
        _only(item, {"name", "when", "grade", "reason"}, where)
        grade_text = _string(item, "grade", where)
        try:
            grade = Grade(grade_text)
        except ValueError as exc:
            raise RulesError(f"{where}.grade", f"expected red, yellow or blue, got {grade_text!r}") from exc
        hard.append(HardRule(_string(item, "name", where), _conditions(item, where), grade,
                             _string(item, "reason", where)))
    bumps = []
    for i, item in enumerate(_list(doc, "bump", "", required=False)):
        where = f"bump[{i}]"
        _only(item, {"name", "when", "reason"}, where)
        bumps.append(Bump(_string(item, "name", where), _conditions(item, where), _string(item, "reason", where)))
    return GradingRules(yellow, red, tuple(factors), tuple(hard), tuple(bumps), windows["history_days"],
                        windows["recent_days"], frozenset(sensitive))


def _conditions(item: Mapping[str, Any], where: str) -> tuple[Condition, ...]:
    out = []
    for j, cond in enumerate(_list(item, "when", where)):
        cw = f"{where}.when[{j}]"
        if not isinstance(cond, Mapping):
            raise RulesError(cw, f"expected a table {{ factor = ..., at_least = ... }}, got {cond!r}")
        _only(cond, {"factor", "at_least", "at_most"}, cw)
        key = _factor_name(cond, cw, "factor")
        bounds = [b for b in ("at_least", "at_most") if b in cond]
        if len(bounds) != 1:
            raise RulesError(cw, "give exactly one of at_least, at_most")
        out.append(Condition(key, _value(key, cond[bounds[0]], f"{cw}.{bounds[0]}"), bounds[0] == "at_least"))
    if not out:
        raise RulesError(f"{where}.when", "at least one condition")
    return tuple(out)


def _factor_name(item: Mapping[str, Any], where: str, field: str = "key") -> str:
    key = _string(item, field, where)
    if key not in FACTORS:
        raise RulesError(f"{where}.{field}", f"unknown factor {key!r} (known: {', '.join(FACTORS)})")
    return key


def _value(factor: str, v: Any, where: str) -> float:
    if factor in LEVEL_FACTORS and isinstance(v, str):
        try:
            return float(LEVEL_RANK[Level(v)])
        except ValueError as exc:
            raise RulesError(where, f"unknown level {v!r} (district, city, province, national)") from exc
    if isinstance(v, bool) and factor == "sensitive_category":
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RulesError(where, f"expected a number, got {v!r}")
    return float(v)


def _only(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise RulesError(where or "grading", f"unknown key(s): {', '.join(unknown)}")


def _table(doc: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    full = f"{where}.{key}" if where else key
    v = doc.get(key)
    if not isinstance(v, Mapping):
        raise RulesError(full, "missing" if v is None else f"expected a table, got {v!r}")
    return v


def _list(doc: Mapping[str, Any], key: str, where: str, required: bool = True) -> list[Any]:
    full = f"{where}.{key}" if where else key
    if key not in doc:
        if required:
            raise RulesError(full, "missing")
        return []
    v = doc[key]
    if not isinstance(v, list):
        raise RulesError(full, f"expected a list, got {v!r}")
    return v


def _string(doc: Mapping[str, Any], key: str, where: str) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not v.strip():
        raise RulesError(f"{where}.{key}", "missing" if v is None else f"expected text, got {v!r}")
    return v


def _number(doc: Mapping[str, Any], key: str, where: str) -> float:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RulesError(f"{where}.{key}", "missing" if v is None else f"expected a number, got {v!r}")
    return float(v)

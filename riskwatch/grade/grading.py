"""Grade risk items: factor points, hard rules and bumps -> red / yellow / blue, with the reasons.

``grade_items(features, rules)`` is pure. ``features`` has one row per item: ``item_key`` and a column per
factor of ``rules.FACTORS`` (NaN where the factor does not apply; a missing column counts as NaN). It
returns ``item_key, score, grade, reasons, sentence``:

* ``score``: the sum of the factors' points;
* ``grade``: from the score (``thresholds``), raised to the floor of every hard rule that fires, then one
  step per bump that fires (at most red);
* ``reasons``: a list of dicts, one per rule that counted (``rule``, ``kind`` factor / hard / bump,
  ``points``, ``value``, ``text``), JSON-serializable; never empty (a blue item with no points says so);
* ``sentence``: the grade and its reasons as one Chinese sentence a report can print.

More evidence never lowers a grade: each factor's points are monotone in its risky direction, hard rules
only raise floors and bumps only add steps (property-tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskwatch.grade.rules import FACTORS, GradingRules, show_value
from riskwatch.schema import GRADE_LABELS, GRADE_RANK, ITEM_KEY, Grade, require_columns

GRADES_BY_RANK = {r: g for g, r in GRADE_RANK.items()}
GRADED_COLUMNS = (ITEM_KEY, "score", "grade", "reasons", "sentence")


def grade_items(features: pd.DataFrame, rules: GradingRules) -> pd.DataFrame:
    """Grade each row of ``features`` (see the module docstring for the columns)."""
    require_columns(features.columns, (ITEM_KEY,), "grade_items")
    rows = []
    values = {f: (features[f].to_numpy(dtype=float) if f in features else np.full(len(features), np.nan))
              for f in FACTORS}
    for i, key in enumerate(features[ITEM_KEY].to_numpy()):
        item = {f: values[f][i] for f in FACTORS}
        rows.append(_grade_one(str(key), item, rules))
    return pd.DataFrame(rows, columns=list(GRADED_COLUMNS))


def _grade_one(key: str, item: dict[str, float], rules: GradingRules) -> dict[str, Any]:
    reasons: list[dict[str, Any]] = []
    score = 0.0
    for factor in rules.factors:
        pts = factor.points(item[factor.key])
        if pts > 0:
            score += pts
            label, unit, _ = FACTORS[factor.key]
            shown = show_value(factor.key, item[factor.key])
            reasons.append({"rule": factor.key, "kind": "factor", "points": pts, "value": _plain(item[factor.key]),
                            "text": f"{label} {shown}{unit}（+{pts:g}）"})
    rank = GRADE_RANK[Grade.RED] if score >= rules.red_at else GRADE_RANK[Grade.YELLOW] if score >= rules.yellow_at \
        else GRADE_RANK[Grade.BLUE]
    for rule in rules.hard:
        if all(c.holds(item[c.factor]) for c in rule.when):
            reasons.append({"rule": rule.name, "kind": "hard", "points": 0.0,
                            "value": {c.factor: _plain(item[c.factor]) for c in rule.when},
                            "text": f"{rule.reason}（{GRADE_LABELS[rule.grade]}）"})
            rank = max(rank, GRADE_RANK[rule.grade])
    for bump in rules.bumps:
        if all(c.holds(item[c.factor]) for c in bump.when):
            reasons.append({"rule": bump.name, "kind": "bump", "points": 0.0,
                            "value": {c.factor: _plain(item[c.factor]) for c in bump.when},
                            "text": f"{bump.reason}（升一级）"})
            rank = min(rank + 1, GRADE_RANK[Grade.RED])
    grade = GRADES_BY_RANK[rank]
    if not reasons:
        reasons.append({"rule": "none", "kind": "factor", "points": 0.0, "value": None,
                        "text": "未达任何加分条件，按蓝色跟踪"})
    sentence = f"{GRADE_LABELS[grade]}（{score:g} 分）：" + "；".join(r["text"] for r in reasons)
    return {ITEM_KEY: key, "score": score, "grade": grade.value, "reasons": reasons, "sentence": sentence}


def _plain(v: float) -> float | None:
    return None if v != v else float(v)

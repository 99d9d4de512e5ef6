"""The figures the seed documents report, as pure functions of the stored cases as of a date.

Every function takes the cases frame (``schema.CASE_COLUMNS`` plus ``due`` from
``deadlines.effective_due``), the period, and ``as_of``: a case counts only if it had been received by
``as_of``, and it is concluded only if ``closed_at <= as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.deadlines import DUE

NEEDED = [S.SOURCE, S.CHANNEL, S.RECEIVED_AT, S.CLOSED_AT, S.CATEGORY_CODE, S.LEVEL, S.IS_GROUP,
          S.HEADCOUNT, S.STATUS, S.RESOLVED, S.SATISFACTION, S.RETURNED_COUNT, DUE]


@dataclass(frozen=True)
class Rate:
    """A ratio kept with its numerator and denominator (the reports print both)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else float("nan")


@dataclass(frozen=True)
class MonthStats:
    """Indicators of one month.

    ``by_channel`` and ``by_category``: columns ``key, count, prev_month, prev_year, mom, yoy``
    (环比 and 同比 as fractions, NaN when the base is 0). ``escalations``: columns ``level, cases``.
    """

    month: pd.Period
    as_of: pd.Timestamp
    total: int
    total_prev_month: int
    total_prev_year: int
    by_channel: pd.DataFrame
    by_category: pd.DataFrame
    on_time: Rate  # 按期办结率
    resolved: Rate  # 实际解决率
    satisfied: Rate  # 群众满意率
    group_cases: int
    group_headcount: int
    escalations: pd.DataFrame
    returned_orders: int
    returns: int
    overdue_open: int  # open at as_of and past deadline (received by the month's end)
    overdue_closed: int  # concluded in the month after the deadline
    repeats: Rate | None = None  # 重复信访占比: repeat cases / cases of the month (None: repeats not derived)


def _change(cur: pd.Series, base: pd.Series) -> pd.Series:
    base = base.astype(float)
    return (cur - base) / base.where(base > 0)


def _counts(cases: pd.DataFrame, key: str, month: pd.Period) -> pd.DataFrame:
    periods = cases[S.RECEIVED_AT].dt.to_period("M")
    cur = cases[periods == month][key].value_counts()
    pm = cases[periods == month - 1][key].value_counts()
    py = cases[periods == month - 12][key].value_counts()
    out = pd.DataFrame({"count": cur, "prev_month": pm, "prev_year": py}).fillna(0).astype(int)
    out["mom"] = _change(out["count"], out["prev_month"])
    out["yoy"] = _change(out["count"], out["prev_year"])
    out.index.name = "key"
    return out.sort_values(["count", "prev_year"], ascending=False).reset_index()


def compute_month_stats(cases: pd.DataFrame, month: pd.Period, as_of: pd.Timestamp,
                        category_level: int = 2) -> MonthStats:
    """Indicators of ``month`` as known at ``as_of``.

    Parameters
    ----------
    cases : frame with the columns of ``NEEDED`` (``due`` from ``deadlines.effective_due``), optionally
        ``is_repeat`` (from ``persons.repeats.find_matters``; null where unknown) for 重复信访占比
    category_level : 1 to count by top-level category (first two code digits), 2 by leaf
    """
    S.require_columns(cases.columns, NEEDED, "compute_month_stats")
    known = cases[cases[S.RECEIVED_AT] <= as_of].copy()
    closed_at = known[S.CLOSED_AT].where(known[S.CLOSED_AT] <= as_of)
    if category_level == 1:
        known[S.CATEGORY_CODE] = known[S.CATEGORY_CODE].str[:2]
    start, end = month.start_time, month.end_time
    received_month = known[S.RECEIVED_AT].dt.to_period("M")
    in_month = known[received_month == month]

    due = known[DUE]
    due_in_month = (due >= start) & (due <= min(end, as_of))
    on_time = Rate(int((due_in_month & (closed_at <= due)).sum()), int(due_in_month.sum()))

    concluded = (closed_at >= start) & (closed_at <= end)
    resolved = Rate(int((concluded & (known[S.RESOLVED] == True)).sum()),  # noqa: E712
                    int(concluded.sum()))
    rated = concluded & (known[S.SATISFACTION] != S.Satisfaction.NONE)
    happy = rated & known[S.SATISFACTION].isin([S.Satisfaction.SATISFIED, S.Satisfaction.BASIC])
    satisfied = Rate(int(happy.sum()), int(rated.sum()))

    esc = in_month[S.LEVEL].value_counts()
    escalations = pd.DataFrame({
        "level": [lv.value for lv in S.Level],
        "cases": [int(esc.get(lv.value, 0)) for lv in S.Level],
    })
    group = in_month[in_month[S.IS_GROUP].astype(bool)]
    horizon = min(end, as_of)
    open_at_end = known[S.RECEIVED_AT] <= horizon
    open_at_end &= closed_at.isna() | (closed_at > horizon)
    return MonthStats(
        month=month, as_of=as_of, total=len(in_month),
        total_prev_month=int((received_month == month - 1).sum()),
        total_prev_year=int((received_month == month - 12).sum()),
        by_channel=_counts(known, S.CHANNEL, month),
        by_category=_counts(known, S.CATEGORY_CODE, month),
        on_time=on_time, resolved=resolved, satisfied=satisfied,
        group_cases=len(group), group_headcount=int(group[S.HEADCOUNT].sum()),
        escalations=escalations,
        returned_orders=int((in_month[S.RETURNED_COUNT] > 0).sum()),
        returns=int(in_month[S.RETURNED_COUNT].sum()),
        overdue_open=int((open_at_end & (due < horizon)).sum()),
        overdue_closed=int((concluded & (closed_at > due)).sum()),
        repeats=(Rate(int(in_month["is_repeat"].fillna(False).astype(bool).sum()), len(in_month))
                 if "is_repeat" in in_month.columns and in_month["is_repeat"].notna().any() else None),
    )


def pct(x: float) -> str:
    """``+12.3%`` / ``—`` for NaN: how reports print a change or a rate."""
    return "—" if x is None or np.isnan(x) else f"{x * 100:+.1f}%"

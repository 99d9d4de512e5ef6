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


@dataclass(frozen=True)
class MonthCases:
    """The cases behind each figure of ``MonthStats``: ``known`` (the cases received by ``as_of``, the
    category cut to the level asked) and boolean masks over it, one per figure. ``MonthStats`` counts them;
    a report lists them (every number traceable to its cases)."""

    month: pd.Period
    as_of: pd.Timestamp
    known: pd.DataFrame
    in_month: pd.Series        # received in the month (受理量)
    prev_month: pd.Series      # received in the month before (环比's base)
    prev_year: pd.Series       # received in the same month a year before (同比's base)
    due_in_month: pd.Series    # deadline fell in the month (按期办结率's denominator)
    on_time: pd.Series         # ... and concluded by it
    concluded: pd.Series       # concluded in the month (实际解决率's denominator)
    resolved: pd.Series
    rated: pd.Series           # concluded in the month with an evaluation (满意率's denominator)
    satisfied: pd.Series
    group: pd.Series           # group cases received in the month
    returned: pd.Series        # work orders of the month returned at least once
    overdue_open: pd.Series    # open at the month's end (or as_of) and past the deadline
    overdue_closed: pd.Series  # concluded in the month after the deadline
    repeat: pd.Series | None   # repeat cases of the month (None: repeats not derived)

    def keys(self, mask: pd.Series) -> list[tuple[str, str]]:
        """The ``(source, source_id)`` of the cases of ``mask``."""
        rows = self.known[mask]
        return list(zip(rows[S.SOURCE].astype(str), rows[S.SOURCE_ID].astype(str), strict=True))


def month_cases(cases: pd.DataFrame, month: pd.Period, as_of: pd.Timestamp, category_level: int = 2) -> MonthCases:
    """The case sets of ``month`` as known at ``as_of`` (see ``compute_month_stats``, which counts them).
    ``cases`` also needs ``source_id`` when the sets are to be listed (``MonthCases.keys``)."""
    S.require_columns(cases.columns, NEEDED, "month_cases")
    known = cases[cases[S.RECEIVED_AT] <= as_of].copy()
    closed_at = known[S.CLOSED_AT].where(known[S.CLOSED_AT] <= as_of)
    if category_level == 1:
        known[S.CATEGORY_CODE] = known[S.CATEGORY_CODE].str[:2]
    start, end = month.start_time, month.end_time
    received_month = known[S.RECEIVED_AT].dt.to_period("M")
    in_month = received_month == month

    due = known[DUE]
    due_in_month = (due >= start) & (due <= min(end, as_of))
    concluded = (closed_at >= start) & (closed_at <= end)
    rated = concluded & (known[S.SATISFACTION] != S.Satisfaction.NONE)
    horizon = min(end, as_of)
    open_at_end = known[S.RECEIVED_AT] <= horizon
    open_at_end &= closed_at.isna() | (closed_at > horizon)
    repeat = None
    if "is_repeat" in known.columns and known.loc[in_month, "is_repeat"].notna().any():
        repeat = in_month & known["is_repeat"].fillna(False).astype(bool)
    return MonthCases(
        month=month, as_of=as_of, known=known, in_month=in_month,
        prev_month=received_month == month - 1, prev_year=received_month == month - 12,
        due_in_month=due_in_month, on_time=due_in_month & (closed_at <= due), concluded=concluded,
        resolved=concluded & (known[S.RESOLVED] == True),  # noqa: E712
        rated=rated,
        satisfied=rated & known[S.SATISFACTION].isin([S.Satisfaction.SATISFIED, S.Satisfaction.BASIC]),
        group=in_month & known[S.IS_GROUP].astype(bool),
        returned=in_month & (known[S.RETURNED_COUNT] > 0),
        overdue_open=open_at_end & (due < horizon),
        overdue_closed=concluded & (closed_at > due),
        repeat=repeat,
    )


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
    return stats_of(month_cases(cases, month, as_of, category_level))


def stats_of(mc: MonthCases) -> MonthStats:
    """The figures of ``MonthCases``: each a count of one of its case sets."""
    known, month = mc.known, mc.month

    def n(mask: pd.Series) -> int:
        return int(mask.sum())

    in_month = known[mc.in_month]
    esc = in_month[S.LEVEL].value_counts()
    escalations = pd.DataFrame({
        "level": [lv.value for lv in S.Level],
        "cases": [int(esc.get(lv.value, 0)) for lv in S.Level],
    })
    return MonthStats(
        month=month, as_of=mc.as_of, total=n(mc.in_month),
        total_prev_month=n(mc.prev_month), total_prev_year=n(mc.prev_year),
        by_channel=_counts(known, S.CHANNEL, month),
        by_category=_counts(known, S.CATEGORY_CODE, month),
        on_time=Rate(n(mc.on_time), n(mc.due_in_month)), resolved=Rate(n(mc.resolved), n(mc.concluded)),
        satisfied=Rate(n(mc.satisfied), n(mc.rated)),
        group_cases=n(mc.group), group_headcount=int(known.loc[mc.group, S.HEADCOUNT].sum()),
        escalations=escalations,
        returned_orders=n(mc.returned),
        returns=int(in_month[S.RETURNED_COUNT].sum()),
        overdue_open=n(mc.overdue_open),
        overdue_closed=n(mc.overdue_closed),
        repeats=Rate(n(mc.repeat), len(in_month)) if mc.repeat is not None else None,
    )


def pct(x: float) -> str:
    """``+12.3%`` / ``—`` for NaN: how reports print a change or a rate."""
    return "—" if x is None or np.isnan(x) else f"{x * 100:+.1f}%"

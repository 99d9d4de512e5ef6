"""Calendar regressors per period (pure): working days, Spring Festival phases, sensitive windows.

Every feature is the share of a period's days with a daily flag, so it lies in [0, 1] (0 or 1 for
daily periods) and a monthly value is the mean of the daily values of that month:

================  ===================================================================================
work_share        working days (official calendar with 调休 and local overrides)
sf_days           Spring Festival holiday: 除夕 (SF-1) .. SF+6, SF = 正月初一
pre_sf_days       the pre-festival rush (wage arrears before the new year): SF-28 .. SF-2
post_sf_days      after the holiday until 元宵 (lunar 1/15): SF+7 .. 元宵
sensitive_days    inside any sensitive window, lead time included: ``lead_start`` .. ``end``
================  ===================================================================================

The daily flags are built once for the span the periods cover and summed per period with a cumulative
sum, so the cost is linear in the number of days.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.forecast.base import days_in_periods, period_start

WORK_SHARE = "work_share"
SF_DAYS = "sf_days"
PRE_SF_DAYS = "pre_sf_days"
POST_SF_DAYS = "post_sf_days"
SENSITIVE_DAYS = "sensitive_days"
FEATURE_COLUMNS: tuple[str, ...] = (WORK_SHARE, SF_DAYS, PRE_SF_DAYS, POST_SF_DAYS, SENSITIVE_DAYS)

PRE_SF_FIRST = -28   # first day of the pre-festival window, relative to 正月初一
PRE_SF_LAST = -2
SF_FIRST = -1        # 除夕
SF_LAST = 6          # 初七
POST_SF_FIRST = 7    # last day: 元宵 (正月十五)


def _day_number(values: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Days since the epoch, as int64."""
    return np.asarray(pd.DatetimeIndex(values).values.astype("datetime64[D]").astype(np.int64))


def _interval_flags(n: int, first: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Daily 0/1 flags over days ``first .. first + n - 1`` of the union of ``[starts, ends]`` (inclusive)."""
    lo = np.clip(starts - first, 0, n)
    hi = np.clip(ends - first + 1, 0, n)
    keep = hi > lo
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, lo[keep], 1)
    np.add.at(diff, hi[keep], -1)
    return (np.cumsum(diff[:n]) > 0).astype(float)


def _sf_intervals(years: range) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Start and end day numbers of the three Spring Festival windows of each year in ``years``."""
    epoch = date(1970, 1, 1)
    sf = np.array([(cal.spring_festival(y) - epoch).days for y in years], dtype=np.int64)
    lantern = np.array([(cal.lunar_to_solar(y, 1, 15) - epoch).days for y in years], dtype=np.int64)
    return {
        SF_DAYS: (sf + SF_FIRST, sf + SF_LAST),
        PRE_SF_DAYS: (sf + PRE_SF_FIRST, sf + PRE_SF_LAST),
        POST_SF_DAYS: (sf + POST_SF_FIRST, lantern),
    }


def daily_flags(first: date, last: date, workcal: cal.WorkCalendar, windows: pd.DataFrame) -> pd.DataFrame:
    """Daily 0/1 flags of every day ``first .. last`` (inclusive).

    Parameters
    ----------
    first, last : the span of days.
    workcal : the working-day calendar.
    windows : sensitive windows, columns ``lead_start, end`` (as from ``calendar.sensitive_windows``).

    Returns
    -------
    DataFrame indexed by day (``ds``) with columns ``FEATURE_COLUMNS``, values 0.0 or 1.0.
    """
    S.require_columns(windows.columns, (cal.LEAD_START, cal.WINDOW_END), "daily_flags")
    days = pd.date_range(first, last, freq="D", name=S.DS)
    n = len(days)
    start = _day_number(days[:1])[0] if n else 0
    out = {WORK_SHARE: workcal.working_mask(days).astype(float)}
    for col, (lo, hi) in _sf_intervals(range(first.year - 1, last.year + 2)).items():
        out[col] = _interval_flags(n, start, lo, hi)
    if len(windows):
        out[SENSITIVE_DAYS] = _interval_flags(n, start, _day_number(windows[cal.LEAD_START]),
                                              _day_number(windows[cal.WINDOW_END]))
    else:
        out[SENSITIVE_DAYS] = np.zeros(n)
    return pd.DataFrame(out, index=days)[list(FEATURE_COLUMNS)]


def calendar_features(ds: pd.DatetimeIndex, freq: str, workcal: cal.WorkCalendar,
                      windows: pd.DataFrame) -> pd.DataFrame:
    """Calendar regressors of the periods starting at ``ds``.

    Parameters
    ----------
    ds : period starts (``base.period_start``: the day, the Monday, the 1st of the month), any order.
    freq : ``"D"``, ``"W"`` or ``"M"``.
    workcal : the working-day calendar (``calendar.work_calendar``).
    windows : sensitive windows, columns ``period_id, name, start, end, lead_start``
        (``calendar.sensitive_windows``); only ``lead_start`` and ``end`` are used.

    Returns
    -------
    DataFrame indexed by ``ds`` with columns ``work_share, sf_days, pre_sf_days, post_sf_days,
    sensitive_days``: the share of the period's days with each flag, in [0, 1].
    """
    S.require_columns(windows.columns, (cal.LEAD_START, cal.WINDOW_END), "calendar_features")
    idx = pd.DatetimeIndex(ds, name=S.DS)
    if not len(idx):
        return pd.DataFrame({c: np.zeros(0) for c in FEATURE_COLUMNS}, index=idx)
    if not (period_start(idx, freq) == idx).all():
        raise ValueError(f"calendar_features: ds are not {freq} period starts")
    length = days_in_periods(idx, freq).astype(np.int64)
    day0 = _day_number(idx)
    first = int(day0.min())
    span_end = int((day0 + length).max())  # exclusive
    epoch = date(1970, 1, 1)
    flags = daily_flags(epoch + timedelta(first), epoch + timedelta(span_end - 1), workcal, windows)
    cum = np.vstack([np.zeros((1, flags.shape[1])), np.cumsum(flags.to_numpy(), axis=0)])
    lo = day0 - first
    shares = (cum[lo + length] - cum[lo]) / length[:, None]
    return pd.DataFrame(shares, index=idx, columns=list(FEATURE_COLUMNS))

"""Calendar regressors per period: Spring Festival phases, working days with 调休, sensitive windows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from riskwatch import calendar as cal
from riskwatch.config import HolidayOverrides, SensitivePeriod
from riskwatch.forecast import features as F
from riskwatch.forecast.base import period_range

NO_WINDOWS = pd.DataFrame(columns=list(cal.WINDOW_COLUMNS))


def _windows(*spans: tuple[str, str, str]) -> pd.DataFrame:
    """A windows frame from ``(lead_start, start, end)`` strings."""
    return pd.DataFrame([{cal.PERIOD_ID: f"p{i}", cal.PERIOD_NAME: "测试", cal.LEAD_START: pd.Timestamp(lead),
                          cal.WINDOW_START: pd.Timestamp(start), cal.WINDOW_END: pd.Timestamp(end)}
                         for i, (lead, start, end) in enumerate(spans)], columns=list(cal.WINDOW_COLUMNS))


def _weekly(start: str, periods: int, windows: pd.DataFrame = NO_WINDOWS,
            workcal: cal.WorkCalendar | None = None) -> pd.DataFrame:
    ds = period_range(pd.Timestamp(start), periods, "W")
    return F.calendar_features(ds, "W", workcal or cal.work_calendar(), windows)


@pytest.mark.parametrize(("year", "sf_week", "next_week", "share"), [
    (2025, "2025-01-27", "2025-02-03", 6 / 7),   # SF Wed 01-29: 除夕 Tue 01-28 .. 02-04
    (2026, "2026-02-16", "2026-02-23", 7 / 7),   # SF Tue 02-17: 除夕 Mon 02-16 .. 02-23
])
def test_spring_festival_week(year: int, sf_week: str, next_week: str, share: float) -> None:
    f = _weekly(f"{year}-01-01", 52)
    assert f.loc[sf_week, F.SF_DAYS] == pytest.approx(share)
    assert f.loc[next_week, F.SF_DAYS] > 0
    assert f.loc[next_week, F.POST_SF_DAYS] > 0
    far = f.index[(f.index < pd.Timestamp(sf_week) - pd.Timedelta(weeks=6))
                  | (f.index > pd.Timestamp(sf_week) + pd.Timedelta(weeks=6))]
    assert (f.loc[far, [F.SF_DAYS, F.PRE_SF_DAYS, F.POST_SF_DAYS]] == 0).all().all()
    assert f.loc[pd.Timestamp(sf_week) - pd.Timedelta(weeks=2), F.PRE_SF_DAYS] == 1.0


def test_frame_shape_and_range() -> None:
    f = _weekly("2021-01-04", 260, cal.sensitive_windows(
        (SensitivePeriod("x", "两会", "fixed", "03-03", 10, 14),), range(2021, 2026)))
    assert list(f.columns) == list(F.FEATURE_COLUMNS) and f.index.name == "ds"
    assert len(f) == 260 and ((f >= 0) & (f <= 1)).all().all()
    assert f[F.SF_DAYS].sum() == pytest.approx(5 * 8 / 7)       # 8 holiday days a year
    assert f[F.POST_SF_DAYS].sum() == pytest.approx(5 * 8 / 7)  # SF+7 .. 元宵 = SF+14


def test_daily_values_and_adjusted_working_saturday() -> None:
    ds = pd.date_range("2025-01-01", "2025-02-28", freq="D")
    f = F.calendar_features(ds, "D", cal.work_calendar(), NO_WINDOWS)
    assert set(np.unique(f.to_numpy())) <= {0.0, 1.0}
    assert f.loc["2025-02-08", F.WORK_SHARE] == 1.0   # Saturday, 补班
    assert f.loc["2025-01-26", F.WORK_SHARE] == 1.0   # Sunday, 补班
    assert f.loc["2025-02-15", F.WORK_SHARE] == 0.0   # ordinary Saturday
    assert f.loc["2025-01-29", F.WORK_SHARE] == 0.0   # 春节
    sf = f.index[f[F.SF_DAYS] == 1]
    assert (sf.min(), sf.max()) == (pd.Timestamp("2025-01-28"), pd.Timestamp("2025-02-04"))
    pre = f.index[f[F.PRE_SF_DAYS] == 1]
    assert (pre.min(), pre.max()) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-27"))  # SF-28 .. SF-2
    post = f.index[f[F.POST_SF_DAYS] == 1]
    assert (post.min(), post.max()) == (pd.Timestamp("2025-02-05"), pd.Timestamp("2025-02-12"))  # 元宵
    week = _weekly("2025-02-03", 1)
    assert week.iloc[0][F.WORK_SHARE] == pytest.approx(4 / 7)   # Mon, Tue off; Wed-Sat working


def test_monthly_is_the_mean_of_daily() -> None:
    windows = _windows(("2024-02-20", "2024-03-04", "2024-03-11"), ("2024-09-20", "2024-10-01", "2024-10-07"),
                       ("2025-12-25", "2026-01-03", "2026-01-05"))
    days = pd.date_range("2024-01-01", "2026-12-31", freq="D")
    daily = F.calendar_features(days, "D", cal.work_calendar(), windows)
    months = period_range(pd.Timestamp("2024-01-01"), 36, "M")
    monthly = F.calendar_features(months, "M", cal.work_calendar(), windows)
    expected = daily.groupby(daily.index.to_period("M")).mean()
    np.testing.assert_allclose(monthly.to_numpy(), expected.to_numpy())


def test_sensitive_days_from_windows() -> None:
    windows = _windows(("2024-03-01", "2024-03-05", "2024-03-10"), ("2024-03-08", "2024-03-09", "2024-03-12"))
    f = _weekly("2024-02-19", 5, windows)
    assert list(f[F.SENSITIVE_DAYS]) == pytest.approx([0, 3 / 7, 1, 2 / 7, 0])   # overlaps count once
    d = F.calendar_features(pd.date_range("2024-02-28", "2024-03-14"), "D", cal.work_calendar(), windows)
    on = d.index[d[F.SENSITIVE_DAYS] == 1]
    assert (on.min(), on.max(), len(on)) == (pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-12"), 12)


def test_work_share_uses_the_override() -> None:
    off = frozenset(date(2027, 2, d) for d in (5, 8, 9, 10, 11, 12))
    local = cal.work_calendar(HolidayOverrides(frozenset({2027}), off, frozenset({date(2027, 2, 20)})))
    plain = _weekly("2027-02-08", 2)
    mine = _weekly("2027-02-08", 2, workcal=local)
    assert mine.iloc[0][F.WORK_SHARE] == 0.0 and plain.iloc[0][F.WORK_SHARE] > 0
    assert mine.iloc[1][F.WORK_SHARE] == pytest.approx(6 / 7)   # 补班 Saturday 02-20


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="calendar_features: ds are not W period starts"):
        F.calendar_features(pd.DatetimeIndex(["2025-01-07"]), "W", cal.work_calendar(), NO_WINDOWS)
    with pytest.raises(ValueError, match="calendar_features: missing column"):
        F.calendar_features(pd.DatetimeIndex(["2025-01-06"]), "W", cal.work_calendar(), pd.DataFrame())
    empty = F.calendar_features(pd.DatetimeIndex([]), "M", cal.work_calendar(), NO_WINDOWS)
    assert empty.empty and list(empty.columns) == list(F.FEATURE_COLUMNS)


def test_unsorted_periods() -> None:
    ds = period_range(pd.Timestamp("2025-01-01"), 8, "W")
    f = F.calendar_features(ds, "W", cal.work_calendar(), NO_WINDOWS)
    g = F.calendar_features(ds[::-1], "W", cal.work_calendar(), NO_WINDOWS)
    pd.testing.assert_frame_equal(f, g.sort_index())

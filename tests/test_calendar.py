"""Calendar: lunar new year, official holidays and 调休, sensitive windows with overrides."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from riskwatch import calendar as cal
from riskwatch.config import HolidayOverrides, SensitivePeriod, load_settings


@pytest.mark.parametrize(("year", "expected"), [(2024, date(2024, 2, 10)), (2025, date(2025, 1, 29)),
                                                (2023, date(2023, 1, 22))])
def test_spring_festival(year: int, expected: date) -> None:
    assert cal.spring_festival(year) == expected


def test_official_holidays_and_adjusted_working_days() -> None:
    days = cal.official_holidays([2024])
    assert days[date(2024, 10, 1)] and date(2024, 2, 12) in days
    assert not cal.is_working_day(date(2024, 10, 1))
    assert cal.is_working_day(date(2024, 2, 4))  # Sunday, 补班 before the Spring Festival
    assert cal.is_working_day(date(2024, 2, 5))
    assert not cal.is_working_day(date(2024, 2, 3))  # an ordinary Saturday
    assert date(2024, 2, 18) in cal.adjusted_working_days([2024])
    assert cal.official_calendar_last_year() >= 2025


def test_sensitive_windows_rules_and_overrides() -> None:
    periods = load_settings().periods
    w = cal.sensitive_windows(periods, [2022, 2024])
    assert list(w.columns) == ["period_id", "name", "start", "end", "lead_start"]
    two = w[w["period_id"] == "two_sessions"].set_index(w[w["period_id"] == "two_sessions"]["start"].dt.year)
    assert two.loc[2022, "start"] == pd.Timestamp("2022-03-03")  # the rule
    assert two.loc[2024, "start"] == pd.Timestamp("2024-03-04")  # the override
    assert two.loc[2024, "end"] == pd.Timestamp("2024-03-11")
    assert two.loc[2024, "lead_start"] == pd.Timestamp("2024-02-19")
    congress = w[w["period_id"] == "party_congress"]
    assert list(congress["start"]) == [pd.Timestamp("2022-10-16")]  # range: only from overrides
    sf = w[(w["period_id"] == "spring_festival")]
    assert pd.Timestamp("2024-02-09") in list(sf["start"])  # 除夕 of the lunar new year 2024-02-10


def test_lunar_period_and_offset() -> None:
    p = SensitivePeriod("mid", "中秋", "lunar", "08-15", 3, 7)
    w = cal.sensitive_windows([p], [2024])
    assert w.iloc[0]["start"] == pd.Timestamp("2024-09-17")
    assert w.iloc[0]["end"] == pd.Timestamp("2024-09-19")
    assert w.iloc[0]["lead_start"] == pd.Timestamp("2024-09-10")


# --- WorkCalendar: the package calendar with a local override -----------------------------------------
def _override_2027() -> HolidayOverrides:
    """A made-up 2027 notice: Spring Festival off Fri 02-05 .. Fri 02-12, Saturday 02-20 is 补班."""
    off = frozenset({date(2027, 2, 5), *(date(2027, 2, d) for d in range(8, 13))})
    return HolidayOverrides(years=frozenset({2027}), days_off=off, workdays=frozenset({date(2027, 2, 20)}),
                            names={d: "春节" for d in off})


def test_work_calendar_override_replaces_the_package_year() -> None:
    plain, local = cal.work_calendar(), cal.work_calendar(_override_2027())
    assert not plain.is_working_day(date(2027, 2, 20))   # the package's estimate has no 补班
    assert local.is_working_day(date(2027, 2, 20))       # 补班 from the override
    assert plain.is_working_day(date(2027, 2, 12)) and not local.is_working_day(date(2027, 2, 12))
    assert not local.is_working_day(date(2027, 2, 27))   # an ordinary Saturday
    assert local.is_working_day(date(2027, 1, 1))        # not in the override's days off: the year is replaced
    assert local.is_working_day(date(2026, 10, 9)) == cal.is_working_day(date(2026, 10, 9))
    assert not local.is_working_day(date(2026, 10, 1))   # other years: the package


def test_work_calendar_mask_matches_day_by_day() -> None:
    days = pd.date_range("2023-12-01", "2027-03-31", freq="D")
    for wc in (cal.work_calendar(), cal.work_calendar(_override_2027())):
        mask = wc.working_mask(days)
        assert mask.dtype == bool and len(mask) == len(days)
        assert list(mask) == [wc.is_working_day(d.date()) for d in days]
    assert cal.work_calendar().working_mask(pd.DatetimeIndex([])).shape == (0,)


def test_work_calendar_is_estimated() -> None:
    last = cal.official_calendar_last_year()
    plain, local = cal.work_calendar(), cal.work_calendar(_override_2027())
    assert not plain.is_estimated(date(last, 6, 1))
    assert plain.is_estimated(date(last + 1, 6, 1))
    assert not local.is_estimated(date(2027, 6, 1)) and local.is_estimated(date(2028, 6, 1))

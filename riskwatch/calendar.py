"""Holidays, lunar dates and sensitive periods for any year (pure: no clock, no files).

Official holidays and adjusted working days (调休) come from the ``holidays`` package (China). It carries
the State Council notices for the years it knows and rule-based estimates after them; an estimated year
has no adjusted working days (``holidays`` lists none for it), so for such years ``is_working_day`` is
simply "not a weekend and not a holiday". ``official_calendar_last_year`` tells which years are from a
notice (the last year with any adjusted working day), so callers can mark later dates as estimated.

Sensitive windows (``sensitive_windows``) are computed from ``config.SensitivePeriod`` values:

==========  ==============================================================================
fixed       ``start`` is a solar "MM-DD"
lunar       ``start`` is a lunar "MM-DD" of the lunar year that begins in the given solar year
range       only the explicit per-year ``overrides`` exist
==========  ==============================================================================

An override whose start falls in a year replaces the rule's date for that year.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from functools import lru_cache

import holidays
import pandas as pd
from lunardate import LunarDate

from riskwatch.config import SensitivePeriod

PERIOD_ID = "period_id"
PERIOD_NAME = "name"
WINDOW_START = "start"
WINDOW_END = "end"
LEAD_START = "lead_start"
WINDOW_COLUMNS: tuple[str, ...] = (PERIOD_ID, PERIOD_NAME, WINDOW_START, WINDOW_END, LEAD_START)


def spring_festival(year: int) -> date:
    """Lunar new year's day (正月初一) of the lunar year that starts in solar ``year``."""
    return LunarDate(year, 1, 1).to_solar_date()


def lunar_to_solar(year: int, month: int, day: int) -> date:
    """Solar date of lunar ``month``/``day`` (non-leap month) in the lunar year starting in ``year``."""
    return LunarDate(year, month, day).to_solar_date()


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year, language="zh_CN")


def official_holidays(years: Iterable[int]) -> dict[date, str]:
    """Official days off (statutory holidays and the days off swapped in by 调休), name in Chinese."""
    out: dict[date, str] = {}
    for y in sorted(set(years)):
        out.update(dict(_china(y).items()))
    return dict(sorted(out.items()))


def adjusted_working_days(years: Iterable[int]) -> list[date]:
    """Weekend days that are working days by 调休 (补班), as published; empty for estimated years."""
    out: set[date] = set()
    for y in sorted(set(years)):
        out.update(d for d in _china(y).weekend_workdays if d.year == y)
    return sorted(out)


def official_calendar_last_year(until: int = 2100) -> int:
    """The last year for which ``holidays`` has adjusted working days (a published notice)."""
    last = 0
    for y in range(2010, until + 1):
        if adjusted_working_days([y]):
            last = y
        elif last and y > last + 2:
            break
    return last


def is_working_day(d: date) -> bool:
    """Mon-Fri that is not an official holiday, or a weekend day that is an adjusted working day (补班)."""
    cal = _china(d.year)
    if d in cal.weekend_workdays:
        return True
    return d.weekday() < 5 and d not in cal


def _window(period: SensitivePeriod, start: date, end: date) -> dict[str, object]:
    return {
        PERIOD_ID: period.id, PERIOD_NAME: period.name,
        WINDOW_START: pd.Timestamp(start), WINDOW_END: pd.Timestamp(end),
        LEAD_START: pd.Timestamp(start - timedelta(days=period.lead_days)),
    }


def sensitive_windows(periods: Sequence[SensitivePeriod], years: Iterable[int]) -> pd.DataFrame:
    """Every sensitive window of ``periods`` in ``years``.

    Returns
    -------
    DataFrame with columns ``period_id, name, start, end, lead_start`` (``datetime64``, day precision,
    ``end`` inclusive, ``lead_start = start - lead_days``), sorted by ``start, period_id``.
    """
    rows: list[dict[str, object]] = []
    for y in sorted(set(years)):
        for p in periods:
            overrides = [(s, e) for s, e in p.overrides if s.year == y]
            if overrides:
                rows.extend(_window(p, s, e) for s, e in overrides)
                continue
            if p.kind == "range" or not p.start:
                continue
            month, day = (int(x) for x in p.start.split("-"))
            if p.kind == "lunar":
                first = lunar_to_solar(y, month, day)
            else:
                first = date(y, month, day)
            first += timedelta(days=p.offset_days)
            rows.append(_window(p, first, first + timedelta(days=max(p.days, 1) - 1)))
    frame = pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
    for col in (WINDOW_START, WINDOW_END, LEAD_START):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return frame.sort_values([WINDOW_START, PERIOD_ID], kind="stable").reset_index(drop=True)

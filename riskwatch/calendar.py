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

``WorkCalendar`` adds the local override (``config.HolidayOverrides``, from ``config/holidays.toml``): a
year listed there takes its days off and 补班 days from the newer State Council notice instead of the
package's estimate. ``working_mask`` answers for a whole index at once (one cached mask per year).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd
from lunardate import LunarDate

from riskwatch.config import HolidayOverrides, SensitivePeriod

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


@lru_cache(maxsize=1)
def _last_official_year() -> int:
    return official_calendar_last_year()


@lru_cache(maxsize=256)
def _official_year_mask(year: int) -> np.ndarray:
    """Working-day mask of every day of ``year`` (index = day of year - 1) from the ``holidays`` package."""
    start = date(year, 1, 1)
    n = (date(year + 1, 1, 1) - start).days
    mask = np.fromiter((is_working_day(start + timedelta(i)) for i in range(n)), dtype=bool, count=n)
    mask.flags.writeable = False
    return mask


def _override_year_mask(year: int, days_off: frozenset[date], workdays: frozenset[date]) -> np.ndarray:
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    mask = np.array(days.day_of_week < 5, dtype=bool)
    first = date(year, 1, 1)
    for d in days_off:
        if d.year == year:
            mask[(d - first).days] = False
    for d in workdays:
        if d.year == year:
            mask[(d - first).days] = True
    mask.flags.writeable = False
    return mask


@dataclass(frozen=True)
class WorkCalendar:
    """Working days from the ``holidays`` package, with the years of ``overrides`` taken from config.

    For a year in ``overrides.years`` a day is working when it is Mon-Fri and not in ``days_off``, or
    when it is in ``workdays`` (补班); other years follow ``is_working_day``.
    """

    overrides: HolidayOverrides
    _masks: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _year_mask(self, year: int) -> np.ndarray:
        mask = self._masks.get(year)
        if mask is None:
            if year in self.overrides.years:
                mask = _override_year_mask(year, self.overrides.days_off, self.overrides.workdays)
            else:
                mask = _official_year_mask(year)
            self._masks[year] = mask
        return mask

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` is a working day (补班 weekend days included, holidays excluded)."""
        if d.year in self.overrides.years:
            return d in self.overrides.workdays or (d.weekday() < 5 and d not in self.overrides.days_off)
        return is_working_day(d)

    def working_mask(self, days: pd.DatetimeIndex) -> np.ndarray:
        """Boolean array, one per day of ``days`` (times are ignored): is it a working day."""
        idx = pd.DatetimeIndex(days)
        out = np.zeros(len(idx), dtype=bool)
        if not len(idx):
            return out
        years = np.asarray(idx.year)
        doy = np.asarray(idx.day_of_year) - 1
        for y in np.unique(years):
            sel = years == y
            out[sel] = self._year_mask(int(y))[doy[sel]]
        return out

    def is_estimated(self, d: date) -> bool:
        """True when ``d``'s year is after the last published notice and not in the overrides."""
        return d.year > _last_official_year() and d.year not in self.overrides.years


def work_calendar(overrides: HolidayOverrides | None = None) -> WorkCalendar:
    """A ``WorkCalendar`` with ``overrides`` (none: the ``holidays`` package alone)."""
    return WorkCalendar(overrides if overrides is not None else HolidayOverrides())


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

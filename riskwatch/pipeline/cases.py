"""The stored cases with their effective deadlines: what the figures, the detect run and the ledger read,
in their latest state or as known at a past time (``store.history``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.deadlines import DUE, effective_due
from riskwatch.store import load_cases, load_cases_as_of


def working_dates(start: date, end: date) -> list[date]:
    """The official working days between two dates (holidays and adjusted working days applied)."""
    days = (end - start).days + 1
    return [d for d in (start + timedelta(i) for i in range(days)) if cal.is_working_day(d)]


def received_since(cases: pd.DataFrame) -> datetime | None:
    """The time from which to read what belongs to ``cases`` (their repeat flags, their petitioners) by the
    stored receipt time: a day before the earliest, since a later export may store a receipt time more
    precisely than the version read as of a date; None for no cases."""
    if cases.empty:
        return None
    return (pd.to_datetime(cases["received_at"]).min() - pd.Timedelta(days=1)).to_pydatetime()


def cases_with_due(session: Session, settings: Settings, end: pd.Timestamp | None = None,
                   columns: Iterable[str] | None = None, start: pd.Timestamp | None = None,
                   open_at: pd.Timestamp | None = None, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """The stored cases (received up to ``end``, and from ``start`` or still open at ``open_at``: see
    ``load_cases``; all columns or ``columns``) with their effective deadline in ``due``; with ``as_of``,
    each case as known then (``store.load_cases_as_of``: the version in force, a later closing undone),
    else in its latest state."""
    names = list(columns) if columns is not None else None
    if as_of is None:
        cases = load_cases(session, start=start, end=end, columns=names, open_at=open_at)
    else:
        cases = load_cases_as_of(session, pd.Timestamp(as_of), start=start, end=end,
                                 columns=names, open_at=open_at)
    return add_due(cases, settings)


def add_due(cases: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """``cases`` (``deadlines.DUE_NEEDED``) with their effective deadline in ``due`` (in place, returned)."""
    if cases.empty:
        cases[DUE] = pd.Series(dtype="datetime64[ns]")
        return cases
    lo = cases["received_at"].min().date()
    hi = max(cases["received_at"].max().date(), lo) + timedelta(days=60)
    kinds = {name: m.kind for name, m in settings.mappings.items()}
    cases[DUE] = effective_due(cases, settings.deadlines, kinds, working_dates(lo, hi))
    return cases

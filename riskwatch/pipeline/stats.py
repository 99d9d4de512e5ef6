"""Use case: the month's figures (``riskwatch stats``) — load the month's cases, compute the indicators."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch.config import Settings
from riskwatch.deadlines import DUE, DUE_NEEDED
from riskwatch.indicators import MonthStats, compute_month_stats
from riskwatch.pipeline.cases import cases_with_due, received_since


def month_stats(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp,
                category_level: int = 2) -> MonthStats:
    """Indicators of one month as known at ``as_of`` (see ``indicators.compute_month_stats``), from each case
    as it stood then (``store.history``)."""
    return compute_month_stats(load_month_cases(session, settings, month, as_of), month, as_of, category_level)


def load_month_cases(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp,
                     extra_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The cases ``month_stats`` counts (``indicators.NEEDED``, ``source_id``, ``is_repeat`` when persons ran,
    and ``extra_columns``), each as it stood at ``as_of``: what the report lists behind each figure
    (``indicators.month_cases``)."""
    from riskwatch.indicators import NEEDED
    from riskwatch.store.persons import load_matters

    columns = dict.fromkeys([*(c for c in NEEDED if c != DUE), "source_id", *DUE_NEEDED, *extra_columns])
    # what the month's figures can touch: the cases received since the same month a year earlier (同比),
    # and older ones still open when the month began; no texts or addresses
    since = (month - 12).start_time
    # each case as it stood at as_of: a later export that closes, escalates or reclassifies it changes nothing
    cases = cases_with_due(session, settings, end=as_of, columns=list(columns), start=since, open_at=month.start_time,
                           as_of=as_of)
    # only the loaded cases' repeat flags (the month's figures count repeats among the month's cases)
    matters = load_matters(session, columns=["source", "source_id", "is_repeat"],
                           received_since=received_since(cases)) if len(cases) else \
        pd.DataFrame(columns=["source", "source_id", "is_repeat"])
    if len(matters):
        cases = cases.merge(matters[["source", "source_id", "is_repeat"]], on=["source", "source_id"], how="left")
    return cases

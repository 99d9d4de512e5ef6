"""Late entry: how long after receipt cases are entered, and the correction for the latest periods (pure).

Petition offices often register letters days or weeks after they arrive, so a series built today
under-counts the last weeks. ``estimate_delays`` measures, per source, the share of cases entered within
``d`` days of receipt (from cases old enough for every delay up to ``max_delay_days`` to have been seen);
``completeness_weights`` gives each case known at ``as_of`` the weight ``1 / F(elapsed days)``, so that the
weighted count of a recent period estimates what it will be once every late entry is in (the nowcast).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.forecast.series import known_cases

DELAY_DAYS = "delay_days"
COMPLETENESS = "completeness"
SAMPLE = "sample"
DELAY_COLUMNS: tuple[str, ...] = (S.SOURCE, DELAY_DAYS, COMPLETENESS, SAMPLE)
MIN_COMPLETENESS = 0.2   # never scale a count by more than 5
STEPS_PER_DAY = 24       # completeness is tabulated by the hour
BATCH_FACTOR = 5.0       # a registration day with this many times the usual late entries is a batch
BATCH_MIN = 20           # ... and at least this many late entries
LATE_DAYS = 7            # "late": entered more than this many days after receipt
MIN_SAMPLE = 50          # fewer measured cases: the source is assumed complete (weight 1)


def _delay_days(cases: pd.DataFrame) -> np.ndarray:
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    registered = pd.to_datetime(cases[S.REGISTERED_AT]).fillna(received)
    return np.maximum((registered - received).dt.total_seconds().to_numpy() / 86400.0, 0.0)


def _batch_entries(cases: pd.DataFrame, delays: np.ndarray) -> np.ndarray:
    """Cases entered late on a day when one source entered far more late cases than usual (an office
    clearing a backlog of old letters at year end): a one-off, not the routine delay, so not measured."""
    late = delays > LATE_DAYS
    if not late.any():
        return np.zeros(len(cases), dtype=bool)
    day = pd.to_datetime(cases[S.REGISTERED_AT]).dt.normalize().to_numpy()
    source = cases[S.SOURCE].to_numpy()
    frame = pd.DataFrame({"source": source[late], "day": day[late]})
    per_day = frame.groupby(["source", "day"]).size()
    usual = per_day.groupby(level="source").transform("median")
    batch_days = set(per_day[(per_day >= BATCH_MIN) & (per_day >= BATCH_FACTOR * usual)].index)
    if not batch_days:
        return np.zeros(len(cases), dtype=bool)
    return late & np.array([(s, d) in batch_days for s, d in zip(source, day, strict=True)], dtype=bool)


def estimate_delays(cases: pd.DataFrame, as_of: pd.Timestamp, max_delay_days: int = 90,
                    window_days: int = 365) -> pd.DataFrame:
    """Completeness by days since receipt, per source, measured on cases received in the window
    ``[as_of - max_delay_days - window_days, as_of - max_delay_days)``.

    Parameters
    ----------
    cases
        Columns ``source, received_at, registered_at``.

    Returns
    -------
    Frame with ``source, delay_days, completeness, sample``: for ``delay_days`` 0..max_delay_days (by the hour) the share
    of the source's cases entered within that many days of receipt (non-decreasing), and the number of cases measured.
    Batch entries (``_batch_entries``) are left out of the measurement.
    """
    S.require_columns(cases.columns, (S.SOURCE, S.RECEIVED_AT, S.REGISTERED_AT), "estimate_delays")
    end = as_of - pd.Timedelta(days=max_delay_days)
    start = end - pd.Timedelta(days=window_days)
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    sample = cases.loc[(received >= start) & (received < end)]
    delays = _delay_days(sample)
    keep = ~_batch_entries(sample, delays)
    sample, delays = sample.loc[keep], delays[keep]
    grid = np.arange(max_delay_days * STEPS_PER_DAY + 1) / STEPS_PER_DAY
    rows = []
    for source, idx in sample.groupby(S.SOURCE, sort=True).indices.items():
        d = np.sort(np.minimum(delays[idx], max_delay_days + 1))
        share = np.searchsorted(d, grid, side="right") / len(d)
        rows.append(pd.DataFrame({S.SOURCE: source, DELAY_DAYS: grid, COMPLETENESS: share,
                                  SAMPLE: len(d)}))
    if not rows:
        return pd.DataFrame(columns=list(DELAY_COLUMNS))
    return pd.concat(rows, ignore_index=True)


def completeness_weights(cases: pd.DataFrame, as_of: pd.Timestamp, delays: pd.DataFrame) -> np.ndarray:
    """Weight ``1 / F_source(days from receipt to as_of)`` for each case (1 where nothing is measured).

    Cases received more than the measured maximum delay before ``as_of`` get weight 1. Completeness below
    ``MIN_COMPLETENESS`` is raised to it, and sources measured on fewer than ``MIN_SAMPLE`` cases are
    taken as complete.
    """
    S.require_columns(cases.columns, (S.SOURCE, S.RECEIVED_AT), "completeness_weights")
    S.require_columns(delays.columns, DELAY_COLUMNS, "completeness_weights(delays)")
    weights = np.ones(len(cases))
    if delays.empty or cases.empty:
        return weights
    elapsed = ((as_of - pd.to_datetime(cases[S.RECEIVED_AT])).dt.total_seconds().to_numpy() / 86400.0)
    sources = cases[S.SOURCE].to_numpy()
    for source, table in delays.groupby(S.SOURCE, sort=False):
        if int(table[SAMPLE].iloc[0]) < MIN_SAMPLE:
            continue
        share = table.sort_values(DELAY_DAYS)[COMPLETENESS].to_numpy()
        rows = np.flatnonzero(sources == source)
        steps = np.floor(np.maximum(elapsed[rows], 0) * STEPS_PER_DAY).astype(int)
        inside = steps < len(share)
        f = np.ones(len(rows))
        f[inside] = share[steps[inside]]
        weights[rows] = 1.0 / np.maximum(f, MIN_COMPLETENESS)
    return weights


def nowcast_weights(cases: pd.DataFrame, as_of: pd.Timestamp) -> tuple[np.ndarray, pd.DataFrame]:
    """``completeness_weights`` with delays measured on the same cases as known at ``as_of``."""
    delays = estimate_delays(known_cases(cases, as_of), as_of)
    return completeness_weights(cases, as_of, delays), delays

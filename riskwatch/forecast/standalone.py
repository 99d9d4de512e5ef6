"""Turn any ``date,count`` table into a regular series a model can fit (pure).

Input rows may come at any granularity (days, weeks, months), unsorted, with dates missing and blank
counts. Rules, each reported in the returned notes (never silent):

- the input's own granularity is inferred from the spacing of its dates; forecasting at a finer ``freq``
  than the input is refused;
- a date absent from the table, or present with a blank count, is *missing*, not zero;
- finer input is summed into periods; a period with at least half of its input dates present is scaled up
  by (expected / present), otherwise it is missing;
- missing periods before the first and after the last observed period are dropped; missing periods
  inside are filled by linear interpolation for fitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskwatch.forecast.base import FREQS, PANDAS_FREQ, period_start
from riskwatch.schema import COUNT, DATE

_ORDER = {"D": 0, "W": 1, "M": 2}


@dataclass(frozen=True)
class RegularSeries:
    ds: pd.DatetimeIndex
    y: np.ndarray          # float, no NaN
    imputed: np.ndarray    # bool: the period was missing and is interpolated
    notes: tuple[str, ...]


def infer_granularity(dates: pd.Series) -> str:
    """"D", "W" or "M" from the median spacing of the distinct dates (one date: "D")."""
    d = pd.DatetimeIndex(dates.dropna().unique()).sort_values()
    if len(d) < 2:
        return "D"
    step = float(np.median(np.diff(d.to_numpy())) / np.timedelta64(1, "D"))
    return "D" if step < 4 else "W" if step < 20 else "M"


def _expected_dates(ds: pd.DatetimeIndex, native: str, freq: str) -> np.ndarray:
    """How many input dates of granularity ``native`` each period of ``freq`` should hold."""
    if native == freq:
        return np.ones(len(ds))
    if native == "D":
        return np.where(np.full(len(ds), freq == "W"), 7.0, np.asarray(ds.days_in_month, dtype=float))
    return np.asarray([len(pd.date_range(p, p + pd.offsets.MonthEnd(0), freq="W-MON")) for p in ds], float)


def regularize_counts(table: pd.DataFrame, freq: str) -> RegularSeries:
    """A regular series at ``freq`` from a frame with ``date`` (datetime64) and ``count`` (float, NaN blank)."""
    if freq not in FREQS:
        raise ValueError(f"regularize_counts: unknown freq {freq!r} (one of {', '.join(FREQS)})")
    notes: list[str] = []
    native = infer_granularity(table[DATE])
    if _ORDER[native] > _ORDER[freq]:
        raise ValueError(f"the input has one row per {'week' if native == 'W' else 'month'}: "
                         f"it cannot be forecast by {'day' if freq == 'D' else 'week'} (use --freq {native})")
    rows = table.dropna(subset=[DATE]).copy()
    rows[DATE] = period_start(rows[DATE], native)
    dup = rows[DATE].duplicated(keep=False) & rows[COUNT].notna()
    if dup.any():
        notes.append(f"{int(rows.loc[dup, DATE].nunique())} dates appear more than once: their counts are added")
    per_date = rows.groupby(DATE)[COUNT].agg(lambda c: c.sum() if c.notna().any() else np.nan)
    observed = per_date.dropna()
    if observed.empty:
        raise ValueError("no row has a count")
    p = period_start(pd.DatetimeIndex(observed.index), freq)
    sums = observed.groupby(p).sum()
    present = observed.groupby(p).size()
    ds = pd.date_range(sums.index.min(), sums.index.max(), freq=PANDAS_FREQ[freq])
    expected = _expected_dates(ds, native, freq)
    got = present.reindex(ds, fill_value=0).to_numpy(dtype=float)
    y = sums.reindex(ds).to_numpy(dtype=float)
    enough = got >= expected / 2
    scaled = enough & (got < expected)
    y = np.where(enough, y * np.where(scaled, expected / np.maximum(got, 1), 1.0), np.nan)
    if scaled.any():
        notes.append(f"{int(scaled.sum())} periods with some dates missing: scaled up to the full period")
    if np.isnan(y).all():
        unit = {"D": "day", "W": "week", "M": "month"}[freq]
        raise ValueError(f"no {unit} has data for at least half of its {'dates' if native == 'D' else 'periods'}: "
                         f"the file is shorter than one {unit} (use a finer --freq or a longer file)")
    first, last = np.flatnonzero(~np.isnan(y))[[0, -1]]
    if first > 0 or last < len(y) - 1:
        notes.append(f"{first + len(y) - 1 - last} periods without data at the start or end: dropped")
    ds, y = ds[first:last + 1], y[first:last + 1]
    imputed = np.isnan(y)
    if imputed.any():
        y = pd.Series(y).interpolate(limit_direction="both").to_numpy()
        when = ", ".join(str(d.date()) for d in ds[imputed][:5]) + (" ..." if imputed.sum() > 5 else "")
        notes.append(f"{int(imputed.sum())} missing periods ({when}) filled by interpolation for fitting, "
                     "not counted as zero")
    return RegularSeries(ds, np.maximum(y, 0.0), imputed, tuple(notes))

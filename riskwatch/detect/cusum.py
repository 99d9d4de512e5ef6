"""CUSUM for slow, sustained rises that no single period reveals (pure).

The statistic accumulates standardized excesses over a baseline, ``S_t = max(0, S_{t-1} + z_t - k)``, and
alarms when ``S_t > h``; after an alarm it restarts from 0 (the signal lifecycle, not the statistic, says
that a rise is ongoing). With ``k = 0.5`` and ``h = 4`` a normal in-control series alarms about once in
170 periods, and a rise of one standard deviation is found after about 8 periods on average.

The baseline must not contain the rise it is looking for: ``lagged_baseline`` takes the mean and
standard deviation of a window that ends ``gap`` periods before the scored one (a 26-week window ending
8 weeks back, by default for weekly data); a stored forecast made before the period is another valid
baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SIGMA = 0.5


@dataclass(frozen=True)
class CusumScore:
    index: np.ndarray
    expected: np.ndarray    # baseline mean
    upper: np.ndarray       # the count that would make S_t reach h this period
    score: np.ndarray       # S_t
    alarm: np.ndarray       # bool
    sufficient: np.ndarray  # bool


def lagged_baseline(y: np.ndarray, t: int, window: int, gap: int) -> tuple[float, float] | None:
    """Mean and standard deviation (floored at the Poisson value and ``MIN_SIGMA``) of
    ``y[t - gap - window : t - gap]``; None when that window is not fully observed."""
    lo, hi = t - gap - window, t - gap
    if lo < 0:
        return None
    w = y[lo:hi]
    if np.isnan(w).any():
        return None
    mean = float(w.mean())
    return mean, max(float(w.std(ddof=1)), np.sqrt(mean), MIN_SIGMA)


def cusum(y: np.ndarray, positions: Sequence[int], window: int = 26, gap: int = 8, k: float = 0.5,
          h: float = 4.0) -> CusumScore:
    """Score ``positions`` (ascending) of ``y`` with a one-sided CUSUM on a lagged baseline.

    The statistic runs over every period from the first with a baseline up to the last position, so a
    position's score depends only on ``y`` up to it. Missing periods (NaN) add nothing.
    """
    y = np.asarray(y, dtype=float)
    pos = np.asarray(list(positions), dtype=int)
    n = int(pos.max()) + 1 if len(pos) else 0
    s = np.zeros(n)
    mean = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    alarm_at = np.zeros(n, dtype=bool)
    prev = 0.0
    for t in range(n):
        base = lagged_baseline(y, t, window, gap)
        if base is None or np.isnan(y[t]):
            s[t] = prev
            continue
        mean[t], sd[t] = base
        cur = max(0.0, prev + (y[t] - base[0]) / base[1] - k)
        alarm_at[t] = cur > h
        s[t] = cur
        prev = 0.0 if alarm_at[t] else cur
    before = np.concatenate([[0.0], np.where(alarm_at, 0.0, s)[:-1]]) if n else np.zeros(0)
    upper = mean + sd * (h + k - before)
    ok = ~np.isnan(mean)
    return CusumScore(pos, mean[pos], upper[pos], s[pos], alarm_at[pos], ok[pos])

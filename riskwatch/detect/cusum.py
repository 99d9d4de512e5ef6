"""CUSUM for slow, sustained rises that no single period reveals (pure).

The statistic accumulates standardized excesses over a baseline, ``S_t = max(0, S_{t-1} + z_t - k)``, and
alarms when ``S_t > h``; after an alarm it restarts from 0 (the signal lifecycle, not the statistic, says
that a rise is ongoing). With ``k = 0.5`` and ``h = 5`` a normal in-control series alarms about once in
460 periods (h = 4: once in 170), and a rise of one standard deviation is found after about 10 periods.

The baseline must not contain the rise it is looking for, and must know the season (or every seasonal
upswing reads as a rise). ``cusum_on`` takes any prospective expectation: the Farrington-flexible mean
and its dispersion, or a stored forecast made before the period. ``baseline.window_stats`` (a 26-week
window ending 8 weeks back) is the fallback for short histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from riskwatch.detect.baseline import MIN_SIGMA, window_expectation

CALIBRATION_WINDOW = 52  # residuals of the last periods used to correct an under-estimated sd
CALIBRATION_MIN = 13


@dataclass(frozen=True)
class CusumScore:
    index: np.ndarray
    expected: np.ndarray    # baseline mean
    upper: np.ndarray       # the count that would make S_t reach h this period
    score: np.ndarray       # S_t
    p_value: np.ndarray     # normal tail probability of the excess accumulated since the excursion began
    run: np.ndarray         # periods in that excursion (0 when S = 0)
    run_observed: np.ndarray  # counts summed over the excursion
    run_expected: np.ndarray  # expectations summed over the excursion
    alarm: np.ndarray       # bool
    sufficient: np.ndarray  # bool


def cusum_on(y: np.ndarray, expected: np.ndarray, sd: np.ndarray, positions: Sequence[int], k: float = 0.5,
             h: float = 5.0) -> CusumScore:
    """One-sided CUSUM of ``(y - expected) / sd`` over ``positions`` (ascending; the statistic starts at 0
    at the first position). ``expected`` and ``sd`` are aligned with ``positions``; NaN means no baseline
    for that period (nothing added, not sufficient)."""
    y = np.asarray(y, dtype=float)
    pos = np.asarray(list(positions), dtype=int)
    mean = np.asarray(expected, dtype=float)
    sdev = np.maximum(np.asarray(sd, dtype=float), MIN_SIGMA)
    s = np.zeros(len(pos))
    p_value = np.full(len(pos), np.nan)
    run = 0   # periods in the current excursion (S > 0): S + k * run is their summed z, ~ N(0, run)
    runs = np.zeros(len(pos), dtype=int)
    run_obs, run_exp = np.zeros(len(pos)), np.zeros(len(pos))
    acc_obs = acc_exp = 0.0
    before = np.zeros(len(pos))
    alarm = np.zeros(len(pos), dtype=bool)
    ok = ~np.isnan(mean) & ~np.isnan(sdev)
    prev = 0.0
    past: list[float] = []
    scale = np.ones(len(pos))
    for i, t in enumerate(pos):
        before[i] = prev
        if len(past) >= CALIBRATION_MIN:   # the baseline's sd, corrected by how the past residuals spread
            scale[i] = max(1.0, float(np.sqrt(np.mean(np.square(past[-CALIBRATION_WINDOW:])))))
        if not ok[i] or np.isnan(y[t]):
            s[i] = prev
            continue
        z = (y[t] - mean[i]) / sdev[i]
        past.append(min(abs(z), 4.0))
        cur = max(0.0, prev + z / scale[i] - k)
        run = run + 1 if cur > 0 else 0
        acc_obs, acc_exp = (acc_obs + y[t], acc_exp + mean[i]) if run else (0.0, 0.0)
        runs[i], run_obs[i], run_exp[i] = run, acc_obs, acc_exp
        p_value[i] = float(stats.norm.sf((cur + k * run) / np.sqrt(run))) if run else 1.0
        alarm[i] = cur > h
        s[i] = cur
        prev = 0.0 if alarm[i] else cur
        if alarm[i]:
            run, acc_obs, acc_exp = 0, 0.0, 0.0
    upper = mean + sdev * scale * (h + k - before)
    return CusumScore(pos, mean, upper, s, p_value, runs, run_obs, run_exp, alarm, ok)


def cusum(y: np.ndarray, positions: Sequence[int], window: int = 26, gap: int = 8, k: float = 0.5,
          h: float = 5.0) -> CusumScore:
    """``cusum_on`` with the lagged baseline (``baseline.window_stats``) of each position: for series without a
    seasonal expectation. The statistic starts at the first position."""
    pos = np.asarray(list(positions), dtype=int)
    mean, sd = window_expectation(np.asarray(y, dtype=float), pos, window, gap)
    return cusum_on(y, mean, sd, pos, k, h)

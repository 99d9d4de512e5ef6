"""EARS C1, C2 and C3 (Hutwagner et al. 2003; CDC's Early Aberration Reporting System), for short histories.

C1 compares a period with the mean and standard deviation of the ``baseline`` periods just before it; C2
does the same with a gap of ``guard`` periods (so that the start of a rise is not in its own baseline); C3
adds up the last three C2 excesses over 1. Counts are small and often constant in a 7-period window, so
the standard deviation is floored (``baseline.window_stats``; without that floor one extra case after a
run of identical counts would alarm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from riskwatch.detect.baseline import window_stats

C3_THRESHOLD = 2.0


@dataclass(frozen=True)
class EarsScore:
    """One value per scored position."""

    index: np.ndarray
    expected: np.ndarray     # baseline mean (NaN where insufficient)
    upper: np.ndarray        # the count above which the period alarms
    p_value: np.ndarray      # normal tail probability of the statistic
    score: np.ndarray        # the C statistic
    alarm: np.ndarray        # bool
    sufficient: np.ndarray   # bool: a full baseline without missing values


def ears(y: np.ndarray, positions: Sequence[int], method: str = "C2", baseline: int = 7,
         alpha: float = 0.001) -> EarsScore:
    """Score ``positions`` of ``y`` with EARS ``method`` ("C1", "C2" or "C3").

    C1 and C2 alarm when the statistic exceeds the standard normal ``1 - alpha`` quantile (surveillance's
    ``earsC`` default alpha 0.001); C3 when the sum of the last three C2 excesses over 1 exceeds 2.
    ``y`` may hold NaN (missing periods): a baseline touching one is insufficient.
    """
    if method not in ("C1", "C2", "C3"):
        raise ValueError(f"ears: unknown method {method!r} (C1, C2 or C3)")
    y = np.asarray(y, dtype=float)
    gap = 0 if method == "C1" else 2   # C2 / C3: periods t-9..t-3
    z = stats.norm.ppf(1 - alpha)
    pos = np.asarray(list(positions), dtype=int)
    out = {k: np.full(len(pos), np.nan) for k in ("expected", "upper", "p_value", "score")}
    alarm = np.zeros(len(pos), dtype=bool)
    sufficient = np.zeros(len(pos), dtype=bool)

    def c_stat(t: int) -> tuple[float, float, float] | None:
        got = window_stats(y, t, baseline, gap)
        if got is None or np.isnan(y[t]):
            return None
        mean, sd = got
        return (y[t] - mean) / sd, mean, sd

    for i, t in enumerate(pos):
        now = c_stat(int(t))
        if now is None:
            continue
        c, mean, sd = now
        if method == "C3":
            past = [c_stat(int(t) - k) for k in (1, 2)]
            if any(p is None for p in past):
                continue
            carried = sum(max(0.0, p[0] - 1.0) for p in past if p is not None)
            stat = carried + max(0.0, c - 1.0)
            upper = mean + sd * (1.0 + max(C3_THRESHOLD - carried, 0.0))
            out["p_value"][i] = float(stats.norm.sf(c))
            out["score"][i] = stat
            alarm[i] = stat > C3_THRESHOLD
        else:
            upper = mean + z * sd
            out["p_value"][i] = float(stats.norm.sf(c))
            out["score"][i] = c
            alarm[i] = c > z
        out["expected"][i], out["upper"][i] = mean, upper
        sufficient[i] = True
    return EarsScore(pos, out["expected"], out["upper"], out["p_value"], out["score"], alarm, sufficient)

"""The short-window baseline EARS and the fallback CUSUM share (pure).

Counts are small and often constant over a few periods, so the standard deviation is never taken below
the Poisson value ``sqrt(mean)`` nor below ``MIN_SIGMA``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_SIGMA = 0.5


def window_stats(y: np.ndarray, t: int, window: int, gap: int) -> tuple[float, float] | None:
    """Mean and floored standard deviation of ``y[t - gap - window : t - gap]``; None when that window
    starts before the series or holds a missing value."""
    lo, hi = t - gap - window, t - gap
    if lo < 0:
        return None
    w = y[lo:hi]
    if np.isnan(w).any():
        return None
    mean = float(w.mean())
    return mean, max(float(w.std(ddof=1)), np.sqrt(mean), MIN_SIGMA)


def window_expectation(y: np.ndarray, positions: Sequence[int], window: int, gap: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``window_stats`` for each position, as arrays (NaN where there is no baseline)."""
    stats = [window_stats(y, int(t), window, gap) for t in positions]
    return (np.array([s[0] if s else np.nan for s in stats]), np.array([s[1] if s else np.nan for s in stats]))

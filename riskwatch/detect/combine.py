"""Score every period of one series with the detector its history allows (pure).

Per period, prospectively: Farrington-flexible when it has enough comparable past years, else EARS C2
(seven periods of baseline are enough), else only the CUSUM's lagged baseline, else the period is
"insufficient" (no alarm, and said so, never a silent pass). The CUSUM runs beside them for slow rises.
``alarm`` is the spike alarm or the rise alarm; ``detector`` names the one whose expected and upper are
shown (``+cusum`` when the rise alarm fired too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from riskwatch.detect.baseline import window_expectation
from riskwatch.detect.cusum import CusumScore, cusum_on
from riskwatch.detect.ears import ears
from riskwatch.detect.farrington import FarringtonOptions, FarringtonScore, farrington_flexible
from riskwatch.forecast.base import SEASON

OBSERVED = "observed"
EXPECTED = "expected"
UPPER = "upper"
P_VALUE = "p_value"
SCORE = "score"
ALARM = "alarm"
SPIKE = "spike"
RISE = "rise"
DETECTOR = "detector"
STATE = "state"
SCORED, INSUFFICIENT, MISSING = "scored", "insufficient", "missing"
SCORE_COLUMNS: tuple[str, ...] = (OBSERVED, EXPECTED, UPPER, P_VALUE, SCORE, SPIKE, RISE, ALARM, DETECTOR,
                                  STATE)
CUSUM_WINDOW = {"D": 56, "W": 26, "M": 12}
CUSUM_GAP = {"D": 14, "W": 8, "M": 3}


class Scores(Protocol):
    """What every detector returns, one value per scored position."""

    expected: np.ndarray
    upper: np.ndarray
    score: np.ndarray
    alarm: np.ndarray
    sufficient: np.ndarray


def farrington_options(freq: str) -> FarringtonOptions:
    """Noufaily's settings for weekly data; the monthly equivalents (half-window 1, 6 months excluded)."""
    if freq == "M":
        return FarringtonOptions(half_window=1, past_weeks_not_included=6)
    return FarringtonOptions()


def _rise_detector(y: np.ndarray, freq: str, pos: np.ndarray, far: FarringtonScore | None) -> CusumScore:
    """The CUSUM on the Farrington expectation (seasonal, outbreaks down-weighted; sd = sqrt(phi mu0))
    where it exists, else on the lagged baseline."""
    mean, sd = window_expectation(y, pos, CUSUM_WINDOW[freq], CUSUM_GAP[freq])
    if far is not None:
        mean = np.where(far.sufficient, far.expected, mean)
        sd = np.where(far.sufficient, np.sqrt(np.maximum(far.phi, 1.0) * np.maximum(far.expected, 0.0)), sd)
    return cusum_on(y, mean, sd, pos)


def score_periods(y: np.ndarray, freq: str, positions: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per position of ``y`` (default: every period) with ``SCORE_COLUMNS``.

    ``y`` is a regular count series with NaN for missing periods (a missing period is ``missing``, not 0).
    Daily series are scored by EARS and the CUSUM only (Farrington-flexible is a weekly/monthly method).
    """
    y = np.asarray(y, dtype=float)
    pos = np.arange(len(y)) if positions is None else np.asarray(list(positions), dtype=int)
    out = pd.DataFrame({OBSERVED: y[pos], EXPECTED: np.nan, UPPER: np.nan, P_VALUE: np.nan, SCORE: np.nan,
                        SPIKE: False, RISE: False, ALARM: False, DETECTOR: "", STATE: INSUFFICIENT},
                       index=pos)
    far = farrington_flexible(y, SEASON[freq], pos, farrington_options(freq)) if freq in ("W", "M") else None
    rise = _rise_detector(y, freq, pos, far)
    layers: list[tuple[str, Scores]] = [("cusum", rise)]
    layers.append(("ears_c2", ears(y, pos, "C2")))
    if far is not None:
        layers.append(("farrington", far))
    for name, det in layers:   # later (better) detectors override earlier ones
        use = det.sufficient
        p_value = getattr(det, "p_value", np.full(len(pos), np.nan))
        out.loc[pos[use], [EXPECTED, UPPER, P_VALUE, SCORE]] = np.column_stack(
            [det.expected, det.upper, p_value, det.score])[use]
        out.loc[pos[use], DETECTOR] = name
        if name != "cusum":
            out.loc[pos[use], SPIKE] = det.alarm[use]
    out[RISE] = rise.alarm & rise.sufficient
    out.loc[out[DETECTOR] != "", STATE] = SCORED
    out.loc[np.isnan(y[pos]), [STATE, SPIKE, RISE]] = [MISSING, False, False]
    out[ALARM] = out[SPIKE] | out[RISE]
    out.loc[out[RISE] & ~out[DETECTOR].isin(["", "cusum"]), DETECTOR] += "+cusum"
    return out

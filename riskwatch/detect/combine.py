"""Score every period of one series with the detector its history allows (pure).

Per period, prospectively: Farrington-flexible when it has enough comparable past years, else EARS C2
(seven periods of baseline are enough), else only the CUSUM's lagged baseline, else the period is
"insufficient" (no alarm, and said so, never a silent pass). The CUSUM runs beside them for slow rises.
``alarm`` is the spike alarm or the rise alarm; ``detector`` names the one whose expected and upper are
shown (``+cusum`` when the rise alarm fired too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from riskwatch.detect.baseline import window_expectation
from riskwatch.detect.cusum import CusumScore, cusum_on
from riskwatch.detect.ears import ears
from riskwatch.detect.farrington import FarringtonOptions, FarringtonScore, farrington_flexible
from riskwatch.forecast.base import SEASON
from riskwatch.schema import (  # the score frame's columns, named once in schema
    ALARM as ALARM,
)
from riskwatch.schema import (
    DETECTOR as DETECTOR,
)
from riskwatch.schema import (
    EXPECTED as EXPECTED,
)
from riskwatch.schema import (
    INSUFFICIENT as INSUFFICIENT,
)
from riskwatch.schema import (
    MISSING as MISSING,
)
from riskwatch.schema import (
    OBSERVED as OBSERVED,
)
from riskwatch.schema import (
    P_VALUE as P_VALUE,
)
from riskwatch.schema import (
    RISE as RISE,
)
from riskwatch.schema import (
    RISE_EXPECTED as RISE_EXPECTED,
)
from riskwatch.schema import (
    RISE_OBSERVED as RISE_OBSERVED,
)
from riskwatch.schema import (
    RISE_P as RISE_P,
)
from riskwatch.schema import (
    RISE_RUN as RISE_RUN,
)
from riskwatch.schema import (
    SCORE as SCORE,
)
from riskwatch.schema import (
    SCORE_COLUMNS as SCORE_COLUMNS,
)
from riskwatch.schema import (
    SCORED as SCORED,
)
from riskwatch.schema import (
    SPIKE as SPIKE,
)
from riskwatch.schema import (
    STATE as STATE,
)
from riskwatch.schema import (
    UPPER as UPPER,
)

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
    """Noufaily's settings for weekly data; the monthly equivalents (half-window 1, 6 months excluded, and
    the minimum-count rule "5 cases in the last 4 weeks" read as 5 cases in the month itself: over 4 months
    it let 1, 1, 1, 2 after years of zeros be called a spike of 2 against an expectation of 0)."""
    if freq == "M":
        return FarringtonOptions(half_window=1, past_weeks_not_included=6, min_weeks=1)
    return FarringtonOptions()


def _rise_detector(y: np.ndarray, freq: str, pos: np.ndarray, far: FarringtonScore | None) -> CusumScore:
    """The CUSUM on the Farrington expectation (seasonal, outbreaks down-weighted; sd = sqrt(phi mu0))
    where it exists, else on the lagged baseline."""
    mean, sd = window_expectation(y, pos, CUSUM_WINDOW[freq], CUSUM_GAP[freq])
    if far is not None:
        mean = np.where(far.sufficient, far.expected, mean)
        sd = np.where(far.sufficient, np.sqrt(np.maximum(far.phi, 1.0) * np.maximum(far.expected, 0.0)), sd)
    return cusum_on(y, mean, sd, pos)


def adapt_to_shifts(y: np.ndarray, shifts: Sequence[tuple[int, float]]) -> np.ndarray:
    """``y`` with the periods before each confirmed level shift ``(start position, ratio)`` brought to the
    level after it (multiplied by ``ratio``), so that the baseline of later periods is the new level."""
    out = np.asarray(y, dtype=float).copy()
    for start, ratio in shifts:
        out[:start] *= ratio
    return out


def score_series(wide: pd.DataFrame, freq: str, position: int,
                 shifts: Mapping[str, Sequence[tuple[int, float]]] | None = None, workers: int = 1) -> pd.DataFrame:
    """``score_periods`` of one position in every column of ``wide`` (periods x series ids), with
    ``series_id``; the series split over ``workers`` processes (``riskwatch.parallel``)."""
    from riskwatch.parallel import map_chunks

    shifts = shifts or {}
    items = [(str(sid), wide[sid].to_numpy(dtype=float), tuple(shifts.get(sid, ()))) for sid in wide.columns]
    size = max(1, -(-len(items) // (4 * max(workers, 1))))   # four chunks a worker: balance
    chunks = [(items[i:i + size], freq, position) for i in range(0, len(items), size)]
    frames = [f for got in map_chunks(_score_chunk, chunks, workers) for f in got]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*SCORE_COLUMNS, "series_id"])


def _score_chunk(args: tuple[list[tuple[str, np.ndarray, tuple[tuple[int, float], ...]]], str, int]
                 ) -> list[pd.DataFrame]:
    items, freq, position = args
    return [score_periods(y, freq, [position], shifts).assign(series_id=sid) for sid, y, shifts in items]


def score_periods(y: np.ndarray, freq: str, positions: Sequence[int] | None = None,
                  shifts: Sequence[tuple[int, float]] = ()) -> pd.DataFrame:
    """One row per position of ``y`` (default: every period) with ``SCORE_COLUMNS``.

    ``y`` is a regular count series with NaN for missing periods (a missing period is ``missing``, not 0).
    Daily series are scored by EARS and the CUSUM only (Farrington-flexible is a weekly/monthly method).
    ``shifts``: level shifts confirmed before the scored positions (see ``adapt_to_shifts``); every scored
    position must lie after them.
    """
    observed = np.asarray(y, dtype=float)
    y = adapt_to_shifts(observed, shifts) if shifts else observed
    pos = np.arange(len(y)) if positions is None else np.asarray(list(positions), dtype=int)
    n = len(pos)
    values = np.full((n, 4), np.nan)   # expected, upper, p_value, score of the detector shown
    spike = np.zeros(n, dtype=bool)
    detector = np.full(n, "", dtype=object)
    far = farrington_flexible(y, SEASON[freq], pos, farrington_options(freq)) if freq in ("W", "M") else None
    rise = _rise_detector(y, freq, pos, far)
    layers: list[tuple[str, Scores]] = [("cusum", rise), ("ears_c2", ears(y, pos, "C2"))]
    if far is not None:
        layers.append(("farrington", far))
    for name, det in layers:   # later (better) detectors override earlier ones
        use = np.asarray(det.sufficient, dtype=bool)
        p_value = getattr(det, "p_value", np.full(n, np.nan))
        values[use] = np.column_stack([det.expected, det.upper, p_value, det.score])[use]
        detector[use] = name
        if name != "cusum":
            spike[use] = det.alarm[use]
    rise_alarm = rise.alarm & rise.sufficient
    missing = np.isnan(y[pos])
    state = np.where(missing, MISSING, np.where(detector != "", SCORED, INSUFFICIENT))
    spike &= ~missing
    rise_alarm &= ~missing
    detector = np.where(rise_alarm & ~np.isin(detector, ["", "cusum"]), detector + "+cusum", detector)
    out = pd.DataFrame({OBSERVED: observed[pos], EXPECTED: values[:, 0], UPPER: values[:, 1],
                        P_VALUE: values[:, 2], SCORE: values[:, 3], SPIKE: spike, RISE: rise_alarm,
                        RISE_P: np.where(rise.sufficient, rise.p_value, np.nan), RISE_RUN: rise.run,
                        RISE_OBSERVED: rise.run_observed, RISE_EXPECTED: rise.run_expected,
                        ALARM: spike | rise_alarm, DETECTOR: detector, STATE: state}, index=pos)
    return out

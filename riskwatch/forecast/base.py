"""The contract between the forecast engine and its model families (pure).

A model is a function ``(SeriesData, horizon) -> ModelForecast``: it fits on the whole history it is
given and forecasts the ``horizon`` periods that follow ``ds[-1]``. It raises ``ModelFailed`` (with the
reason) when it cannot fit; the engine then falls back and records why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Freq = Literal["D", "W", "M"]
FREQS: tuple[str, ...] = ("D", "W", "M")
SEASON: dict[str, int] = {"D": 7, "W": 52, "M": 12}           # seasonal-naive lag
PERIODS_PER_YEAR: dict[str, float] = {"D": 365.25, "W": 365.25 / 7, "M": 12.0}
PANDAS_FREQ: dict[str, str] = {"D": "D", "W": "W-MON", "M": "MS"}


class ModelFailed(Exception):
    """A model could not fit or forecast this series; the message says why."""


def period_start(values: pd.Series | pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The start of the period containing each time: the day, the Monday of the week, the 1st."""
    idx = pd.DatetimeIndex(values).normalize()
    if freq == "D":
        return idx
    if freq == "W":
        return idx - pd.to_timedelta(idx.day_of_week, unit="D")
    if freq == "M":
        return idx - pd.to_timedelta(idx.day - 1, unit="D")
    raise ValueError(f"period_start: unknown freq {freq!r} (expected one of {', '.join(FREQS)})")


def last_period_start(as_of: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The start of the period that ends just before ``as_of`` (the week or month a run on ``as_of`` is
    about)."""
    return period_start(pd.DatetimeIndex([pd.Timestamp(as_of) - pd.Timedelta(days=1)]), freq)[0]


def period_range(start: pd.Timestamp, periods: int, freq: str) -> pd.DatetimeIndex:
    """``periods`` consecutive period starts from the period containing ``start``."""
    first = period_start(pd.DatetimeIndex([start]), freq)[0]
    return pd.date_range(first, periods=periods, freq=PANDAS_FREQ[freq])


def days_in_periods(ds: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Number of days in each period starting at ``ds``."""
    if freq == "D":
        return np.ones(len(ds))
    if freq == "W":
        return np.full(len(ds), 7.0)
    return np.asarray(ds.days_in_month, dtype=float)


@dataclass(frozen=True)
class SeriesData:
    """One series, ready to fit.

    ``y``: float counts, no NaN (history already cleaned of outliers and brought to the current level);
    ``ds``: the period starts of ``y`` (regular at ``freq``); ``exog``: calendar regressors
    (``features.FEATURE_COLUMNS``) indexed by ``ds`` followed by the future periods a model may be asked
    for (at least ``horizon`` of them).
    """

    y: np.ndarray
    ds: pd.DatetimeIndex
    freq: str
    exog: pd.DataFrame

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def season(self) -> int:
        return SEASON[self.freq]

    def future_ds(self, horizon: int) -> pd.DatetimeIndex:
        return pd.date_range(self.ds[-1], periods=horizon + 1, freq=PANDAS_FREQ[self.freq])[1:]

    def exog_history(self) -> pd.DataFrame:
        return self.exog.loc[self.ds]

    def exog_future(self, horizon: int) -> pd.DataFrame:
        return self.exog.loc[self.future_ds(horizon)]

    def head(self, n: int) -> SeriesData:
        """The first ``n`` periods (for backtests); ``exog`` keeps its future rows."""
        return SeriesData(self.y[:n], self.ds[:n], self.freq, self.exog)


@dataclass(frozen=True)
class ModelForecast:
    """``horizon`` periods of one model's forecast: the predictive median (``mean``, kept under that name
    for the models), 80% / 95% bounds, and the predictive mean (``expected``) when the model knows it.

    ``point`` (what is reported as ``yhat``, scored in backtests and reconciled) is ``expected`` when set,
    else the median: expected counts add up across the trees, medians of skewed small counts do not.
    All arrays are finite with ``0 <= lower95 <= lower80 <= min(mean, point)`` and
    ``max(mean, point) <= upper80 <= upper95``.
    """

    model: str
    mean: np.ndarray
    lower80: np.ndarray
    upper80: np.ndarray
    lower95: np.ndarray
    upper95: np.ndarray
    note: str = ""
    expected: np.ndarray | None = None

    @property
    def point(self) -> np.ndarray:
        return self.expected if self.expected is not None else self.mean

    @classmethod
    def make(cls, model: str, mean: np.ndarray, lower80: np.ndarray, upper80: np.ndarray,
             lower95: np.ndarray, upper95: np.ndarray, note: str = "",
             expected: np.ndarray | None = None) -> ModelForecast:
        """Build a forecast that respects the invariants: bounds clipped at 0 and ordered around the
        median and the expected value."""
        arrays = [np.asarray(a, dtype=float) for a in (mean, lower80, upper80, lower95, upper95)]
        if expected is not None:
            arrays.append(np.asarray(expected, dtype=float))
        if len({a.shape for a in arrays}) != 1:
            raise ModelFailed(f"{model}: forecast arrays of different lengths")
        if not all(np.isfinite(a).all() for a in arrays):
            raise ModelFailed(f"{model}: non-finite forecast")
        m, l80, u80, l95, u95, *rest = (np.maximum(a, 0.0) for a in arrays)
        e = rest[0] if rest else None
        lo, hi = (np.minimum(m, e), np.maximum(m, e)) if e is not None else (m, m)
        l80 = np.minimum(l80, lo)
        l95 = np.minimum(l95, l80)
        u80 = np.maximum(u80, hi)
        u95 = np.maximum(u95, u80)
        return cls(model, m, l80, u80, l95, u95, note, e)

    def frame(self, ds: pd.DatetimeIndex) -> pd.DataFrame:
        """As rows ``ds, step, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model, note``."""
        from riskwatch import schema as S

        return pd.DataFrame({
            S.DS: ds, S.STEP: np.arange(1, len(ds) + 1), S.YHAT: self.point,
            S.YHAT_LOWER_80: self.lower80, S.YHAT_UPPER_80: self.upper80,
            S.YHAT_LOWER_95: self.lower95, S.YHAT_UPPER_95: self.upper95,
            S.MODEL: self.model, S.NOTE: self.note,
        })

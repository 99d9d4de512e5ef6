"""Prophet on ``log1p(y)`` with the calendar regressors (imports prophet; keep it out of other modules).

Prophet silently ignores holidays given as daily dates when the data are weekly or monthly (no history
row falls on most of those dates), so for "W" and "M" each calendar feature (``features.FEATURE_COLUMNS``,
the share of the period's days) enters as a regressor. For "D" the daily flags become a ``holidays``
frame (春节, 敏感期, 法定节假日 = a non-working Mon-Fri) and the remaining features are regressors.

Intervals and the median come from ``predictive_samples`` (``UNCERTAINTY_SAMPLES`` draws, a fixed seed
so that a rerun gives the same forecast), mapped back with ``expm1``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

from riskwatch.forecast.base import ModelFailed, ModelForecast, SeriesData
from riskwatch.forecast.features import (
    FEATURE_COLUMNS,
    POST_SF_DAYS,
    PRE_SF_DAYS,
    SENSITIVE_DAYS,
    SF_DAYS,
    WORK_SHARE,
)
from riskwatch.forecast.models import QUANTILES, check_input, check_plausible, from_quantiles

logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed" at import
from cmdstanpy.utils import get_logger as _cmdstanpy_logger  # noqa: E402
from prophet import Prophet  # noqa: E402

UNCERTAINTY_SAMPLES = 300
SEED = 20240101
_QUIET_LOGGERS = ("cmdstanpy", "prophet", "prophet.models", "prophet.forecaster")
DAILY_HOLIDAYS = {SF_DAYS: "春节", SENSITIVE_DAYS: "敏感期"}
PUBLIC_HOLIDAY = "法定节假日"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Raise the Prophet and cmdstanpy loggers to WARNING and swallow stdout for the block."""
    _cmdstanpy_logger()  # its first call sets the level to DEBUG: let it happen before ours
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, logging.WARNING))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (Prophet samples from it) and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _daily_holidays(exog: pd.DataFrame) -> pd.DataFrame | None:
    """Prophet holidays frame (columns ``holiday, ds``) from the daily 0/1 flags of history and future."""
    parts = [pd.DataFrame({"holiday": name, "ds": exog.index[exog[col] > 0.5]})
             for col, name in DAILY_HOLIDAYS.items() if col in exog]
    if WORK_SHARE in exog:
        off = (exog[WORK_SHARE] < 0.5) & (exog.index.day_of_week < 5)
        parts.append(pd.DataFrame({"holiday": PUBLIC_HOLIDAY, "ds": exog.index[off]}))
    frame = pd.concat(parts, ignore_index=True) if parts else None
    return frame if frame is not None and len(frame) else None


def prophet(data: SeriesData, horizon: int) -> ModelForecast:
    """Prophet fitted on ``log1p(y)``: yearly seasonality (from 2 years of history), weekly only for "D".

    Regressors: the columns of ``data.exog`` in ``FEATURE_COLUMNS`` that are not constant in the history
    (for "D": ``work_share, pre_sf_days, post_sf_days``; ``sf_days``, ``sensitive_days`` and non-working
    weekdays become holidays). Returns the median and 80% / 95% quantiles of the predictive samples.
    """
    check_input(data, horizon, "prophet")
    y = np.asarray(data.y, dtype=float)
    n = len(y)
    if n < max(data.season, 10):
        raise ModelFailed(f"prophet: {n} periods (needs >= one season, {data.season})")
    if np.ptp(y) == 0:
        raise ModelFailed("prophet: constant history")
    future_ds = data.future_ds(horizon)
    all_ds = data.ds.append(future_ds)
    exog = data.exog.reindex(all_ds)
    daily = data.freq == "D"
    regressors = [c for c in FEATURE_COLUMNS if c in exog and np.ptp(exog[c].to_numpy()[:n]) > 1e-9
                  and (not daily or c in (WORK_SHARE, PRE_SF_DAYS, POST_SF_DAYS))]
    if exog[regressors].isna().any().any():
        raise ModelFailed("prophet: calendar regressors missing for some periods")
    yearly = n >= 2 * {"D": 365, "W": 52, "M": 12}[data.freq]
    model = Prophet(
        yearly_seasonality=(10 if data.freq != "M" else 5) if yearly else False,
        weekly_seasonality=daily, daily_seasonality=False,
        holidays=_daily_holidays(exog) if daily else None,
        uncertainty_samples=UNCERTAINTY_SAMPLES,
    )
    for c in regressors:
        model.add_regressor(c)
    history = pd.DataFrame({"ds": data.ds, "y": np.log1p(y)})
    future = pd.DataFrame({"ds": future_ds})
    for c in regressors:
        history[c] = exog[c].to_numpy()[:n]
        future[c] = exog[c].to_numpy()[n:]
    try:
        with _quiet(), _seeded(SEED), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # pandas deprecations inside prophet
            model.fit(history)
            samples = model.predictive_samples(future)["yhat"]
    except (RuntimeError, ValueError) as exc:
        raise ModelFailed(f"prophet: fit failed: {exc}") from exc
    q = np.expm1(np.quantile(samples, QUANTILES, axis=1))
    check_plausible("prophet", q[2], y)
    note = "" if yearly else f"no yearly seasonality: {n} periods < 2 years"
    return from_quantiles("prophet", q, note, np.expm1(samples).mean(axis=1))

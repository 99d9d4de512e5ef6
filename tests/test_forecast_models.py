"""Model families: Spring Festival alignment, forecast invariants, degenerate series.

The synthetic series are negative-binomial counts (variance ~13x the mean at 100 a week) with a yearly
cycle, a working-day effect and a Spring Festival dip of about 50% put in through the calendar features,
so the dip moves between calendar weeks from year to year as it does in the data.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch import calendar as cal
from riskwatch.forecast.base import ModelFailed, ModelForecast, SeriesData, period_range
from riskwatch.forecast.features import SF_DAYS, WORK_SHARE, calendar_features
from riskwatch.forecast.models import MODELS, fit_nb_glm, nb_quantiles, seasonal_naive, sparse_nb

FAST = ("seasonal_naive", "ets", "nb_glm", "sparse_nb")
ALL = (*FAST, "prophet")
NO_WINDOWS = pd.DataFrame(columns=list(cal.WINDOW_COLUMNS))
HORIZON = 13


def synthetic(last: str, freq: str = "W", n: int = 260, horizon: int = HORIZON, seed: int = 0,
              level: float = 100.0, trend: float = 0.0, size: float = 8.0) -> tuple[SeriesData, np.ndarray]:
    """History of ``n`` periods ending at the period of ``last``, and the ``horizon`` true future counts."""
    rng = np.random.default_rng(seed)
    end = period_range(pd.Timestamp(last), 1, freq)[0]
    ds = pd.date_range(end=end, periods=n, freq={"D": "D", "W": "W-MON", "M": "MS"}[freq])
    ds = ds.append(pd.date_range(end, periods=horizon + 1, freq=ds.freq)[1:])
    exog = calendar_features(ds, freq, cal.work_calendar(), NO_WINDOWS)
    t = np.asarray((ds - ds[0]) / pd.Timedelta(days=365.25))
    mu = level * np.exp(0.25 * np.sin(2 * np.pi * (t + 0.1)) + 0.1 * np.cos(4 * np.pi * t) + trend * t
                        - 0.5 * exog[SF_DAYS].to_numpy() + 0.4 * (exog[WORK_SHARE].to_numpy() - 5 / 7))
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    return SeriesData(y[:n], ds[:n], freq, exog), y[n:]


def with_y(data: SeriesData, y: np.ndarray) -> SeriesData:
    return SeriesData(np.asarray(y, dtype=float), data.ds[:len(y)], data.freq, data.exog)


def assert_valid(fc: ModelForecast, horizon: int) -> None:
    arrays = (fc.lower95, fc.lower80, fc.mean, fc.upper80, fc.upper95)
    for a in arrays:
        assert a.shape == (horizon,) and np.isfinite(a).all()
    assert (fc.lower95 >= 0).all()
    for lo, hi in zip(arrays, arrays[1:], strict=False):
        assert (lo <= hi).all()


def run(name: str, data: SeriesData, horizon: int = HORIZON) -> ModelForecast | None:
    """The forecast, or None when the model declines with ``ModelFailed``."""
    try:
        fc = MODELS[name](data, horizon)
    except ModelFailed as exc:
        assert str(exc)
        return None
    assert_valid(fc, horizon)
    return fc


# --- Spring Festival alignment ----------------------------------------------------------------------
def _sf_ratio(fc: np.ndarray, i: int) -> float:
    """The forecast of week ``i`` over the mean of the weeks two before and two after."""
    return float(fc[i] / ((fc[i - 2] + fc[i + 2]) / 2))


@pytest.mark.parametrize("model", ["nb_glm", "prophet"])
@pytest.mark.parametrize("last", ["2024-12-02", "2025-12-01"])   # SF 2025-01-29 (Wed), 2026-02-17 (Tue)
def test_spring_festival_dip_lands_in_the_right_week(model: str, last: str) -> None:
    data, _ = synthetic(last)
    sf = data.exog_future(HORIZON)[SF_DAYS].to_numpy()
    i = int(np.argmax(sf))
    assert sf[i] >= 6 / 7
    fc = MODELS[model](data, HORIZON)
    assert fc.model == model
    assert _sf_ratio(fc.mean, i) < 0.7
    assert int(np.argmin(fc.mean[i - 3:i + 4])) == 3        # the lowest week is the SF week


def test_prophet_dip_comes_from_the_calendar_regressors() -> None:
    for last in ("2024-12-02", "2025-12-01"):
        data, _ = synthetic(last)
        blind = SeriesData(data.y, data.ds, data.freq, data.exog * 0.0)   # constant: no regressors
        i = int(np.argmax(data.exog_future(HORIZON)[SF_DAYS].to_numpy()))
        seen = _sf_ratio(MODELS["prophet"](data, HORIZON).mean, i)
        unseen = _sf_ratio(MODELS["prophet"](blind, HORIZON).mean, i)
        assert unseen > 0.75 and unseen - seen > 0.2


# --- invariants on any count series -------------------------------------------------------------------
@settings(max_examples=6, deadline=None)
@given(n=st.integers(60, 160), mean=st.floats(0.2, 300.0), size=st.floats(0.3, 50.0),
       seed=st.integers(0, 2**16), horizon=st.integers(1, 20))
def test_fast_models_give_valid_forecasts(n: int, mean: float, size: float, seed: int, horizon: int) -> None:
    rng = np.random.default_rng(seed)
    data, _ = synthetic("2025-06-02", n=n, horizon=horizon)
    y = rng.negative_binomial(size, size / (size + mean), n)
    for name in FAST:
        run(name, with_y(data, y), horizon)
    assert run("sparse_nb", with_y(data, y), horizon) is not None


@pytest.mark.parametrize("model", ALL)
def test_all_zero_series(model: str) -> None:
    data, _ = synthetic("2025-06-02", n=104)
    fc = run(model, with_y(data, np.zeros(104)))
    if model == "sparse_nb":
        assert fc is not None and (fc.mean == 0).all()
        assert (fc.upper95 > 0).all() and (fc.upper95 <= 4 / 52).all()   # rate bounds over 52 weeks
    elif fc is not None:
        assert (fc.mean == 0).all()


@pytest.mark.parametrize("model", ALL)
def test_short_series(model: str) -> None:
    data, _ = synthetic("2025-06-02", n=30)
    fc = run(model, data)
    if model in ("sparse_nb", "seasonal_naive"):
        assert fc is not None
    if model == "seasonal_naive":
        assert fc is not None and fc.model == "naive" and "naive" in fc.note


@pytest.mark.parametrize("model", ALL)
def test_single_huge_value(model: str) -> None:
    data, _ = synthetic("2025-06-02", n=156)
    y = data.y.copy()
    y[100] = 50 * y.max()
    fc = run(model, with_y(data, y))
    assert fc is not None or model != "sparse_nb"
    if fc is not None:
        assert fc.mean.max() < y[100]


@pytest.mark.parametrize("freq,n,horizon", [("M", 60, 6), ("D", 400, 28)])
def test_monthly_and_daily(freq: str, n: int, horizon: int) -> None:
    data, _ = synthetic("2025-06-02", freq=freq, n=n, horizon=horizon, level=100.0 if freq == "W" else 20.0)
    for name in ALL:
        fc = run(name, data, horizon)
        assert fc is not None, name


# --- individual models -------------------------------------------------------------------------------
def test_seasonal_naive_repeats_the_last_season() -> None:
    data, _ = synthetic("2025-06-02", n=120)
    fc = seasonal_naive(data, 60)
    assert fc.model == "seasonal_naive"
    np.testing.assert_array_equal(fc.mean[:52], data.y[-52:])
    np.testing.assert_array_equal(fc.mean[52:], data.y[-52:-44])


def test_sparse_nb_never_fails() -> None:
    data, _ = synthetic("2025-06-02", n=20)
    for y in ([0.0], [3.0], [0, 0, 1], [0, 5, 0, 0, 2]):
        fc = sparse_nb(with_y(data, np.asarray(y)), 5)
        assert_valid(fc, 5)
    assert sparse_nb(with_y(data, np.array([0.0])), 1).upper95[0] == pytest.approx(-np.log(0.025))


def test_nb_glm_trend_is_held_after_a_year() -> None:
    data, _ = synthetic("2024-12-02", n=260, horizon=160, trend=0.3, size=50.0)
    fc = MODELS["nb_glm"](data, 156).mean
    years = [fc[k * 52:(k + 1) * 52].sum() for k in range(3)]
    assert years[1] > 1.1 * years[0]                   # the trend goes on for a year ...
    assert years[2] == pytest.approx(years[1], rel=0.03)   # ... and is held after it


def test_nb_quantiles_match_scipy_without_parameter_uncertainty() -> None:
    from scipy import stats

    mu, alpha = np.array([0.5, 7.0, 120.0]), 0.3
    q = nb_quantiles(np.log(mu), np.zeros(3), alpha, (0.1, 0.5, 0.975))
    size = 1 / alpha
    expected = [stats.nbinom.ppf(p, size, size / (size + mu)) for p in (0.1, 0.5, 0.975)]
    np.testing.assert_array_equal(q, np.array(expected))


@pytest.mark.parametrize("alpha", [0.0, 0.15])
def test_nb_glm_irls_matches_statsmodels(alpha: float) -> None:
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    data, _ = synthetic("2024-12-02")
    t = np.arange(data.n) / 52.18
    X = np.column_stack([np.ones(data.n), t, np.sin(2 * np.pi * t), np.cos(2 * np.pi * t),
                         data.exog_history()[SF_DAYS].to_numpy()])
    family = families.Poisson() if alpha == 0 else families.NegativeBinomial(alpha=alpha)
    reference = GLM(data.y, X, family=family).fit(tol=1e-12)
    fit = fit_nb_glm(data.y, X, alpha)
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), reference.bse, rtol=1e-5)


def test_prophet_daily_holidays_from_flags() -> None:
    from riskwatch.forecast.prophet_model import _daily_holidays

    data, _ = synthetic("2025-03-03", freq="D", n=120, horizon=7)
    frame = _daily_holidays(data.exog)
    assert frame is not None
    spring = set(frame.loc[frame["holiday"] == "春节", "ds"])
    assert spring == set(pd.date_range("2025-01-28", "2025-02-04"))
    public = set(frame.loc[frame["holiday"] == "法定节假日", "ds"])
    assert pd.Timestamp("2025-01-01") in public and pd.Timestamp("2025-02-08") not in public


def test_models_module_does_not_import_prophet() -> None:
    code = "import sys, riskwatch.forecast.models; assert 'prophet' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

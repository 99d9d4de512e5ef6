"""The engine on awkward series (short, all zero, a level shift), backtest scoring, and coherence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.config import load_settings
from riskwatch.forecast.backtest import choose_model, origins_for, run_backtest, seasonal_scale
from riskwatch.forecast.base import PANDAS_FREQ, ModelForecast, SeriesData
from riskwatch.forecast.coherence import reconcile_forecasts, stage_one
from riskwatch.forecast.engine import EngineOptions, forecast_all, forecast_one
from riskwatch.forecast.features import calendar_features
from riskwatch.forecast.series import build_series

SETTINGS = load_settings()
OPTIONS = EngineOptions(horizon=13, origins=2, min_weekly_mean=1.0, prophet_min_weekly_mean=1e9, workers=1)


def exog_for(ds: pd.DatetimeIndex, horizon: int = 13, freq: str = "W") -> pd.DataFrame:
    full = pd.date_range(ds[0], periods=len(ds) + horizon, freq=PANDAS_FREQ[freq])
    windows = cal.sensitive_windows(SETTINGS.periods, range(full[0].year - 1, full[-1].year + 2))
    return calendar_features(full, freq, cal.work_calendar(SETTINGS.holidays), windows)


def weekly(n: int, start: str = "2021-01-04") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="W-MON")


def check_bounds(frame: pd.DataFrame) -> None:
    cols = [S.YHAT_LOWER_95, S.YHAT_LOWER_80, S.YHAT, S.YHAT_UPPER_80, S.YHAT_UPPER_95]
    v = frame[cols].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (np.diff(v, axis=1) >= -1e-9).all()


def test_short_series_is_forecast_from_what_it_has_and_says_so() -> None:
    ds = weekly(20)
    y = np.random.default_rng(1).poisson(12, 20).astype(float)
    out = forecast_one("short", y, ds, "W", exog_for(ds), OPTIONS)
    check_bounds(out.forecast)
    assert len(out.forecast) == 13 and out.forecast[S.DS].iloc[0] == ds[-1] + pd.Timedelta(weeks=1)
    assert "too short for a backtest" in out.forecast[S.NOTE].iloc[0]
    assert 5 < out.forecast[S.YHAT].mean() < 20


def test_all_zero_series_gets_a_zero_forecast_not_a_drop() -> None:
    ds = weekly(160)
    out = forecast_one("zeros", np.zeros(160), ds, "W", exog_for(ds), OPTIONS)
    check_bounds(out.forecast)
    assert (out.forecast[S.YHAT] == 0).all()
    assert out.forecast[S.MODEL].iloc[0] in ("sparse_nb", "seasonal_naive")


def test_level_shift_is_not_carried_forward() -> None:
    rng = np.random.default_rng(5)
    n = 208
    t = np.arange(n)
    mu = 30 * np.exp(0.25 * np.cos(2 * np.pi * t / 52.18)) * np.where(t >= 150, 1.8, 1.0)
    y = rng.negative_binomial(20, 20 / (20 + mu)).astype(float)
    ds = weekly(n)
    out = forecast_one("shift", y, ds, "W", exog_for(ds), OPTIONS)
    check_bounds(out.forecast)
    recent = y[-52:].mean()
    assert out.forecast[S.YHAT].mean() > 0.8 * recent  # the forecast stands at the new level
    assert "shift" in out.forecast[S.NOTE].iloc[0]


def test_backtest_scores_against_the_seasonal_naive() -> None:
    ds = weekly(120)
    y = np.tile(np.arange(52, dtype=float), 3)[:120] + 5

    def perfect(data: SeriesData, h: int) -> ModelForecast:
        nxt = (np.arange(data.n, data.n + h) % 52) + 5.0
        return ModelForecast.make("perfect", nxt, nxt, nxt, nxt, nxt)

    def flat(data: SeriesData, h: int) -> ModelForecast:
        v = np.full(h, data.y.mean())
        return ModelForecast.make("flat", v, v * 0.9, v * 1.1, v * 0.5, v * 1.5)

    from riskwatch.forecast.models import MODELS

    raw = SeriesData(y, ds, "W", exog_for(ds))
    origins = origins_for(raw.n, 13, 3, 60)
    assert origins == [81, 94, 107]
    bt = run_backtest(raw, {"seasonal_naive": MODELS["seasonal_naive"], "perfect": perfect, "flat": flat},
                      13, origins, lambda d: d)
    scores = bt.scores.set_index(S.MODEL)
    assert scores.loc["perfect", "mae"] == 0 and scores.loc["perfect", "cover_95"] == 1
    assert scores.loc["flat", "rel_mae"] > 1 or np.isinf(scores.loc["flat", "rel_mae"])
    assert choose_model(bt.scores, ("seasonal_naive", "perfect", "flat")) in ("perfect", "seasonal_naive")
    assert seasonal_scale(y, 52) == 0


def test_forecast_all_and_reconciliation_add_up() -> None:
    """Districts sum to the city and leaves to their category after reconciliation, bounds stay ordered."""
    rng = np.random.default_rng(2)
    towns = [r.code for r in SETTINGS.regions.regions.values() if r.level.value == "township"][:12]
    n = 3000
    received = pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.uniform(0, 3 * 364, n), unit="D")
    cases = pd.DataFrame({S.RECEIVED_AT: received, S.REGISTERED_AT: received,
                          S.CATEGORY_CODE: rng.choice(["0101", "0102", "0203", "0401"], n),
                          S.REGION_CODE: rng.choice(towns, n)})
    as_of = pd.Timestamp("2025-12-29")
    series, catalog = build_series(cases, SETTINGS.taxonomy, SETTINGS.regions, as_of, "W")
    ds = pd.DatetimeIndex(sorted(series[S.DS].unique()))
    result = forecast_all(series, "W", exog_for(ds), OPTIONS)
    assert set(result.forecasts[S.SERIES_ID]) == set(catalog[S.SERIES_ID])
    rec = reconcile_forecasts(result.forecasts, catalog, result.errors, "wls")
    check_bounds(rec)
    wide = rec.pivot(index=S.SERIES_ID, columns=S.STEP, values=S.YHAT)
    hier = stage_one(catalog)
    for agg, members in hier.aggregates.items():
        assert np.allclose(wide.loc[agg], wide.loc[list(members)].sum(), atol=1e-6), agg
    for (cat, parent), group in catalog[catalog["region_level"] == "township"].groupby(["category",
                                                                                      "parent_region"]):
        parent_id = f"W:{cat}:{parent}"
        assert np.allclose(wide.loc[parent_id], wide.loc[list(group[S.SERIES_ID])].sum(), atol=1e-6)
    assert (rec["yhat_base"] >= 0).all()


@pytest.mark.parametrize("method", ["ols", "wls_struct", "mint_shrink", "none"])
def test_every_reconciliation_method_runs(method: str) -> None:
    ds = weekly(3)
    catalog = pd.DataFrame({
        S.SERIES_ID: ["W:*:C", "W:*:D1", "W:*:D2"], "freq": "W", "category": "*",
        "region": ["C", "D1", "D2"], "category_level": "all", "region_level": ["city", "district", "district"],
        "label": "", "parent_category": "", "parent_region": ["", "C", "C"]})
    rows = []
    for sid, v in (("W:*:C", 10.0), ("W:*:D1", 4.0), ("W:*:D2", 4.0)):
        f = ModelForecast.make("m", np.full(3, v), np.full(3, v - 1), np.full(3, v + 1), np.full(3, v - 2),
                               np.full(3, v + 2)).frame(ds)
        f.insert(0, S.SERIES_ID, sid)
        rows.append(f)
    base = pd.concat(rows, ignore_index=True)
    errors = pd.DataFrame({S.SERIES_ID: np.repeat(["W:*:C", "W:*:D1", "W:*:D2"], 6), S.MODEL: "m",
                           "origin": np.tile([1, 1, 1, 2, 2, 2], 3), S.STEP: np.tile([1, 2, 3], 6),
                           "error": np.random.default_rng(0).normal(0, 1, 18)})
    rec = reconcile_forecasts(base, catalog, errors, method).set_index([S.SERIES_ID, S.STEP])[S.YHAT]
    if method == "none":
        assert rec.loc["W:*:C"].iloc[0] == 10
    else:
        assert np.allclose(rec.loc["W:*:C"].to_numpy(),
                           rec.loc["W:*:D1"].to_numpy() + rec.loc["W:*:D2"].to_numpy())


def test_candidates_by_series_size() -> None:
    from riskwatch.forecast.engine import candidates

    options = EngineOptions(horizon=13, min_weekly_mean=1.0, ets_min_weekly_mean=5.0,
                            prophet_min_weekly_mean=20.0)
    assert candidates(np.full(104, 0.5), "W", options) == ("seasonal_naive", "sparse_nb")
    assert candidates(np.full(104, 3.0), "W", options) == ("seasonal_naive", "sparse_nb", "nb_glm")
    assert candidates(np.full(104, 8.0), "W", options) == ("seasonal_naive", "sparse_nb", "ets", "nb_glm")
    assert candidates(np.full(104, 30.0), "W", options)[-1] == "prophet"
    assert SETTINGS.forecast.ets_min_weekly_mean == 5.0  # config/settings.toml sets it

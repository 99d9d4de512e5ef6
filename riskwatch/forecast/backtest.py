"""Rolling-origin backtests and the choice of a model per series (pure).

From each of ``origins`` past origins (the last at ``n - horizon``, then every ``horizon`` periods back) a
model is fitted on the history before the origin and forecasts ``horizon`` periods, scored against what
was really counted. Scores per model: MAE, ``rel_mae`` (its MAE divided by the seasonal naive's on the
same points: below 1 beats the baseline), MASE (MAE scaled by the in-sample MAE of the one-season-back
forecast, Hyndman and Koehler 2006) and the share of points inside the 80% and 95% intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.forecast.base import ModelFailed, ModelForecast, SeriesData

Model = Callable[[SeriesData, int], ModelForecast]
Prepare = Callable[[SeriesData], SeriesData]
BASELINE = "seasonal_naive"

MAE = "mae"
REL_MAE = "rel_mae"
MASE = "mase"
COVER_80 = "cover_80"
COVER_95 = "cover_95"
POINTS = "points"
FAILED = "failed"
SELECTED = "selected"
SCORE_COLUMNS: tuple[str, ...] = (S.SERIES_ID, S.MODEL, MAE, REL_MAE, MASE, COVER_80, COVER_95, POINTS,
                                  FAILED, SELECTED)
ORIGIN = "origin"
ERROR = "error"  # actual - forecast
REACH_80 = "reach_80"  # |actual - point| / (distance from the point to the 80% bound on that side)
REACH_95 = "reach_95"  # the same for the 95% bound: the point is inside the interval when reach <= 1
ERROR_COLUMNS: tuple[str, ...] = (S.SERIES_ID, S.MODEL, ORIGIN, S.STEP, ERROR, REACH_80, REACH_95)
MAX_WIDEN = 3.0


@dataclass(frozen=True)
class Backtest:
    """Scores per model (``SCORE_COLUMNS`` without series_id/selected) and errors per origin and step."""

    scores: pd.DataFrame
    errors: pd.DataFrame


def origins_for(n: int, horizon: int, count: int, min_train: int) -> list[int]:
    """Up to ``count`` origins ``n - horizon, n - 2 horizon, ...`` leaving at least ``min_train`` periods."""
    return [o for o in (n - k * horizon for k in range(1, count + 1)) if o >= min_train][::-1]


def seasonal_scale(y: np.ndarray, season: int) -> float:
    """In-sample MAE of the forecast "same period one season back" (one period back when too short)."""
    lag = season if len(y) > season + 1 else 1
    if len(y) <= lag:
        return float("nan")
    d = np.abs(y[lag:] - y[:-lag])
    return float(d.mean())


def run_backtest(raw: SeriesData, models: dict[str, Model], horizon: int, origins: Sequence[int],
                 prepare: Prepare) -> Backtest:
    """Backtest every model from every origin.

    ``raw.y`` is the history as counted (scores compare with it); ``prepare`` turns the history before
    an origin into what a model fits on (cleaning of breaks, as the engine does for the final fit), so that
    nothing after the origin is used.
    """
    season = raw.season
    rows, errors = [], []
    actual_by_origin, forecasts = {}, {name: {} for name in models}
    failures = {name: 0 for name in models}
    for o in origins:
        h = min(horizon, raw.n - o)
        actual_by_origin[o] = raw.y[o:o + h]
        train = prepare(raw.head(o))
        for name, model in models.items():
            try:
                forecasts[name][o] = model(train, h)
            except ModelFailed:
                failures[name] += 1
    base = forecasts.get(BASELINE, {})
    for name in models:
        got = forecasts[name]
        if not got:
            rows.append({S.MODEL: name, MAE: np.nan, REL_MAE: np.nan, MASE: np.nan, COVER_80: np.nan,
                         COVER_95: np.nan, POINTS: 0, FAILED: failures[name]})
            continue
        act = np.concatenate([actual_by_origin[o] for o in got])
        mean = np.concatenate([f.point for f in got.values()])
        lo80 = np.concatenate([f.lower80 for f in got.values()])
        hi80 = np.concatenate([f.upper80 for f in got.values()])
        lo95 = np.concatenate([f.lower95 for f in got.values()])
        hi95 = np.concatenate([f.upper95 for f in got.values()])
        mae = float(np.abs(act - mean).mean())
        same = _mae({o: base[o] for o in got if o in base}, actual_by_origin)
        own = _mae({o: got[o] for o in base if o in got}, actual_by_origin)
        rel = _ratio(own, same)
        scale = seasonal_scale(raw.y[:min(got)], season)
        rows.append({
            S.MODEL: name, MAE: mae, REL_MAE: rel,
            MASE: mae / scale if scale and scale > 0 else np.nan,
            COVER_80: float(((act >= lo80) & (act <= hi80)).mean()),
            COVER_95: float(((act >= lo95) & (act <= hi95)).mean()),
            POINTS: len(act), FAILED: failures[name],
        })
        for o, f in got.items():
            err = actual_by_origin[o] - f.point
            errors.append(pd.DataFrame({S.MODEL: name, ORIGIN: o, S.STEP: np.arange(1, len(err) + 1),
                                        ERROR: err, REACH_80: _reach(err, f.point, f.lower80, f.upper80),
                                        REACH_95: _reach(err, f.point, f.lower95, f.upper95)}))
    err_frame = (pd.concat(errors, ignore_index=True) if errors
                 else pd.DataFrame(columns=[S.MODEL, ORIGIN, S.STEP, ERROR, REACH_80, REACH_95]))
    return Backtest(pd.DataFrame(rows), err_frame)


def _reach(err: np.ndarray, point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """How far out an actual value fell, in units of the interval's half-width on its side."""
    side = np.where(err >= 0, upper - point, point - lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(err) / side
    return np.where(side > 0, out, np.where(np.abs(err) > 0, np.inf, 0.0))


def widen_factors(errors: pd.DataFrame, min_points: int = 12) -> tuple[float, float]:
    """Factors (80%, 95%) by which the intervals must widen so that the backtest points would have been
    covered at their nominal rate (1 when they were, or with fewer than ``min_points``); at most
    ``MAX_WIDEN``. Only widening: a backtest of a few dozen points cannot justify narrower intervals."""
    if len(errors) < min_points:
        return 1.0, 1.0
    out = []
    for col, level in ((REACH_80, 0.80), (REACH_95, 0.95)):
        reach = errors[col].to_numpy(dtype=float)
        q = float(np.quantile(reach, level, method="higher"))
        out.append(float(np.clip(q, 1.0, MAX_WIDEN)) if np.isfinite(q) else MAX_WIDEN)
    return out[0], out[1]


def widen(f: ModelForecast, factor80: float, factor95: float) -> ModelForecast:
    """``f`` with each bound moved away from the point by its factor (clipped at 0)."""
    if factor80 <= 1 and factor95 <= 1:
        return f
    p = f.point
    note = f"intervals widened x{factor80:.2f} (80%) / x{factor95:.2f} (95%) to the backtest's coverage"
    return ModelForecast.make(
        f.model, f.mean, p - (p - f.lower80) * factor80, p + (f.upper80 - p) * factor80,
        p - (p - f.lower95) * factor95, p + (f.upper95 - p) * factor95,
        "; ".join(x for x in (f.note, note) if x), f.expected)


def _ratio(own: float, baseline: float) -> float:
    if np.isnan(baseline) or np.isnan(own):
        return float("nan")
    if baseline > 0:
        return own / baseline
    return 1.0 if own == 0 else float("inf")


def _mae(forecasts: dict[int, ModelForecast], actual: dict[int, np.ndarray]) -> float:
    if not forecasts:
        return float("nan")
    err = np.concatenate([np.abs(actual[o] - f.point) for o, f in forecasts.items()])
    return float(err.mean())


def choose_model(scores: pd.DataFrame, preference: Sequence[str], tolerance: float = 0.02) -> str | None:
    """The model with the lowest backtest MAE, among those that never failed; a model within
    ``tolerance`` (relative) of the best that comes earlier in ``preference`` (simpler first) wins the tie.
    Models whose 95% intervals covered less than half the points are passed over when another exists."""
    ok = scores[(scores[FAILED] == 0) & scores[MAE].notna()]
    good = ok[ok[COVER_95] >= 0.5]
    if not good.empty:
        ok = good
    if ok.empty:
        return None
    best = float(ok[MAE].min())
    near = ok[ok[MAE] <= best * (1 + tolerance) + 1e-12]
    rank = {name: i for i, name in enumerate(preference)}
    return str(min(near[S.MODEL], key=lambda m: rank.get(m, len(rank))))

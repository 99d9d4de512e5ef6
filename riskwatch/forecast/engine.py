"""Forecast many series: clean each history, backtest the candidate models, choose, fit, forecast.

``forecast_all`` takes the long series frame of ``series.build_series`` (``series_id, ds, y``) and the
calendar regressors, and returns one forecast frame, the backtest scores and the backtest errors. Each
series is independent, so the work is spread over worker processes (forked, each limited to one BLAS
thread: small statsmodels fits slow down many times when several BLAS threads compete for 2 cores).
No files, sessions or clock: the pool is the only side effect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.forecast.backtest import (
    BASELINE,
    ERROR_COLUMNS,
    FAILED,
    MAE,
    POINTS,
    SCORE_COLUMNS,
    SELECTED,
    choose_model,
    origins_for,
    run_backtest,
    widen,
    widen_factors,
)
from riskwatch.forecast.base import PERIODS_PER_YEAR, ModelFailed, ModelForecast, SeriesData
from riskwatch.forecast.history import clean_history
from riskwatch.parallel import map_chunks

#: Simpler first: a model within 2% of the best MAE that comes earlier here is preferred.
PREFERENCE: tuple[str, ...] = ("seasonal_naive", "sparse_nb", "ets", "nb_glm", "prophet")
SPARSE_MODELS: tuple[str, ...] = ("seasonal_naive", "sparse_nb")
FULL_MODELS: tuple[str, ...] = ("seasonal_naive", "sparse_nb", "ets", "nb_glm")
FALLBACK = "sparse_nb"
MIN_FIT = 8  # periods: fewer and the history is used whole, however broken


@dataclass(frozen=True)
class EngineOptions:
    """How series are forecast (``config.ForecastSettings`` gives the defaults)."""

    horizon: int
    origins: int = 3
    min_weekly_mean: float = 1.0        # below: only the sparse-count models are tried
    prophet_min_weekly_mean: float = 50.0
    ets_min_weekly_mean: float = 0.0    # ETS (STL + ETS, the costliest fit after Prophet) from this size up
    workers: int = 1
    only: str = ""                      # force one family (benchmarks: "ets alone"); the baseline still runs


@dataclass(frozen=True)
class SeriesResult:
    series_id: str
    forecast: pd.DataFrame   # FORECAST_COLUMNS
    scores: pd.DataFrame     # SCORE_COLUMNS
    errors: pd.DataFrame     # ERROR_COLUMNS of the chosen model
    seconds: dict[str, list[float]] = field(default_factory=dict)  # model -> [seconds, fits]


@dataclass(frozen=True)
class EngineResult:
    forecasts: pd.DataFrame  # FORECAST_COLUMNS, base (not yet reconciled) forecasts
    scores: pd.DataFrame     # SCORE_COLUMNS, one row per (series, model tried)
    errors: pd.DataFrame     # ERROR_COLUMNS, backtest errors of each series' chosen model
    seconds: pd.DataFrame    # model, fits, seconds: fitting time per family


def weekly_mean(y: np.ndarray, freq: str) -> float:
    """Mean cases a week over the last year of ``y``."""
    per_year = PERIODS_PER_YEAR[freq]
    recent = y[-int(round(per_year)):] if len(y) else y
    return float(recent.mean() * per_year / (365.25 / 7)) if len(recent) else 0.0


def candidates(y: np.ndarray, freq: str, options: EngineOptions) -> tuple[str, ...]:
    """The model families worth trying on ``y``."""
    if options.only:
        return tuple(dict.fromkeys((BASELINE, options.only)))
    size = weekly_mean(y, freq)
    names = FULL_MODELS if size >= options.min_weekly_mean else SPARSE_MODELS
    if size < options.ets_min_weekly_mean:
        names = tuple(n for n in names if n != "ets")
    if size >= options.prophet_min_weekly_mean and size >= options.min_weekly_mean:
        names = (*names, "prophet")
    return names


def _model_table(names: Sequence[str]) -> dict[str, Callable[[SeriesData, int], ModelForecast]]:
    from riskwatch.forecast.models import MODELS

    return {n: MODELS[n] for n in names}


def _timed(name: str, fn: Callable[[SeriesData, int], ModelForecast], seconds: dict[str, list[float]]
           ) -> Callable[[SeriesData, int], ModelForecast]:
    import time

    def run(data: SeriesData, h: int) -> ModelForecast:
        t0 = time.perf_counter()
        try:
            return fn(data, h)
        finally:
            slot = seconds.setdefault(name, [0.0, 0.0])
            slot[0] += time.perf_counter() - t0
            slot[1] += 1

    return run


def prepare_history(data: SeriesData) -> tuple[SeriesData, str]:
    """The history a model fits on: breaks neutralised, leading zeros before a category's birth dropped."""
    clean = clean_history(data.y, data.season)
    start = min(clean.start, max(0, data.n - MIN_FIT))
    note = clean.note
    if note and clean.shifts:
        when = ", ".join(str(data.ds[i].date()) for i in clean.shifts if i < data.n)
        note = f"{note} [shift from {when}]"
    return SeriesData(clean.y[start:], data.ds[start:], data.freq, data.exog), note


def forecast_one(series_id: str, y: np.ndarray, ds: pd.DatetimeIndex, freq: str, exog: pd.DataFrame,
                 options: EngineOptions) -> SeriesResult:
    """Clean, backtest, choose, fit and forecast one series (see the module docstring)."""
    seconds: dict[str, list[float]] = {}
    raw = SeriesData(np.asarray(y, dtype=float), ds, freq, exog)
    names = candidates(raw.y, freq, options)
    models = {n: _timed(n, f, seconds) for n, f in _model_table(names).items()}
    min_train = raw.season + MIN_FIT
    # a forced family needs no choice: its backtest is skipped (benchmarks of one family)
    origins = [] if options.only else origins_for(raw.n, options.horizon, options.origins, min_train)
    notes: list[str] = []
    if origins:
        bt = run_backtest(raw, models, options.horizon, origins, lambda d: prepare_history(d)[0])
        scores, errors = bt.scores, bt.errors
        ranked = _ranked(scores)
        chosen = options.only or choose_model(scores, PREFERENCE)
    else:
        scores = pd.DataFrame({S.MODEL: list(names), POINTS: 0, FAILED: 0})
        errors = pd.DataFrame(columns=[c for c in ERROR_COLUMNS if c != S.SERIES_ID])
        chosen = None
        ranked = []
        if not options.only:
            notes.append(f"history of {raw.n} periods too short for a backtest")
    if chosen is None:
        chosen = options.only or _rule_choice(names)
        if origins:
            notes.append("no model passed the backtest")
        if not options.only:
            notes.append(f"{chosen} chosen by rule")
    data, clean_note = prepare_history(raw)
    if clean_note:
        notes.append(clean_note)
    order = [chosen, *[m for m in ranked if m != chosen], FALLBACK]
    result, failed = _first_that_fits(order, models, data, options.horizon)
    if failed:
        notes.append("; ".join(failed))
    result = widen(result, *widen_factors(errors[errors[S.MODEL] == result.model]))
    frame = result.frame(raw.future_ds(options.horizon))
    frame.insert(0, S.SERIES_ID, series_id)
    frame[S.NOTE] = "; ".join(n for n in [result.note, *notes] if n)
    scores = scores.assign(**{S.SERIES_ID: series_id, SELECTED: scores[S.MODEL] == result.model})
    for c in SCORE_COLUMNS:
        if c not in scores:
            scores[c] = np.nan
    err = errors[errors[S.MODEL] == result.model].assign(**{S.SERIES_ID: series_id})
    return SeriesResult(series_id, frame, scores[list(SCORE_COLUMNS)], err[list(ERROR_COLUMNS)], seconds)


def _ranked(scores: pd.DataFrame) -> list[str]:
    ok = scores[scores[MAE].notna()].sort_values(MAE)
    return [str(m) for m in ok[S.MODEL]]


def _rule_choice(names: Sequence[str]) -> str:
    return "ets" if "ets" in names else FALLBACK


def _first_that_fits(order: Sequence[str], models: dict[str, Callable[[SeriesData, int], ModelForecast]],
                     data: SeriesData, horizon: int) -> tuple[ModelForecast, list[str]]:
    failed: list[str] = []
    seen: set[str] = set()
    for name in order:
        if name in seen:
            continue
        seen.add(name)
        model = models.get(name) or _model_table([name])[name]
        try:
            out = model(data, horizon)
        except ModelFailed as exc:
            failed.append(f"{name} failed ({exc}), fell back")
            continue
        return out, failed
    raise ModelFailed(f"every model failed: {'; '.join(failed)}")


# --- many series -------------------------------------------------------------------------------
def _run_chunk(args: tuple[list[tuple[str, np.ndarray]], pd.DatetimeIndex, str, pd.DataFrame, EngineOptions]
               ) -> list[SeriesResult]:
    items, ds, freq, exog, options = args
    return [forecast_one(sid, y, ds, freq, exog, options) for sid, y in items]


def forecast_all(series: pd.DataFrame, freq: str, exog: pd.DataFrame, options: EngineOptions,
                 progress: Callable[[int], None] | None = None) -> EngineResult:
    """Forecast every series of a long frame.

    Parameters
    ----------
    series
        Columns ``series_id, ds, y``; every series has the same regular ``ds`` (as ``build_series`` gives).
    exog
        Calendar regressors (``features.calendar_features``) for those ``ds`` and at least ``horizon``
        periods after them.
    progress
        Called with the number of series just finished (for a progress bar).
    """
    S.require_columns(series.columns, (S.SERIES_ID, S.DS, S.Y), "forecast_all")
    wide = series.pivot(index=S.DS, columns=S.SERIES_ID, values=S.Y).sort_index()
    ds = pd.DatetimeIndex(wide.index)
    items = [(str(sid), wide[sid].to_numpy(dtype=float)) for sid in wide.columns]
    items.sort(key=lambda it: -weekly_mean(it[1], freq))  # costly (large) series first: better balance
    chunks = [items[i:i + 8] for i in range(0, len(items), 8)]
    results: list[SeriesResult] = []
    for got in map_chunks(_run_chunk, [(chunk, ds, freq, exog, options) for chunk in chunks], options.workers):
        results += got
        if progress:
            progress(len(got))
    return _collect(results)


def _collect(results: list[SeriesResult]) -> EngineResult:
    forecasts = pd.concat([r.forecast for r in results], ignore_index=True)
    scores = pd.concat([r.scores for r in results], ignore_index=True)
    errors = pd.concat([r.errors for r in results if not r.errors.empty], ignore_index=True) \
        if any(not r.errors.empty for r in results) else pd.DataFrame(columns=list(ERROR_COLUMNS))
    totals: dict[str, list[float]] = {}
    for r in results:
        for name, (secs, fits) in r.seconds.items():
            slot = totals.setdefault(name, [0.0, 0.0])
            slot[0] += secs
            slot[1] += fits
    seconds = pd.DataFrame([{S.MODEL: k, "fits": int(v[1]), "seconds": v[0]} for k, v in sorted(totals.items())])
    return EngineResult(forecasts, scores, errors, seconds)

"""Use case: forecast — the stored cases as series, forecast, reconciled and saved; and the standalone
mode on one ``date,count`` file.

Functions here take an open session and never commit; time is an argument (``as_of``, ``now``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.export import write_csv
from riskwatch.schema import UnreadableFileError
from riskwatch.store import load_cases_as_of

if TYPE_CHECKING:  # the forecast engine pulls in scipy: imported where it is used, not at CLI start-up
    from riskwatch.forecast.engine import EngineOptions
    from riskwatch.forecast.standalone import RegularSeries


@dataclass(frozen=True)
class ForecastSummary:
    """What ``run_forecast`` did: the run's key, its history, and the models chosen."""

    run_id: int
    freq: str
    as_of: datetime
    history_start: datetime
    history_end: datetime
    data_end: datetime | None      # set when the store's data stops before as_of: the history stops there
    series: int
    models: dict[str, int]         # chosen model -> number of series
    fallbacks: int                 # series whose chosen model failed and fell back
    seconds: pd.DataFrame          # model, fits, seconds
    history: pd.DataFrame          # the series forecast (series_id, ds, y, y_observed)


def calendar_exog(settings: Settings, ds: pd.DatetimeIndex, freq: str, horizon: int) -> pd.DataFrame:
    """Calendar regressors (``forecast.features``) for ``ds`` and the ``horizon`` periods after it."""
    from riskwatch.forecast.base import PANDAS_FREQ
    from riskwatch.forecast.features import calendar_features

    full = pd.date_range(ds[0], periods=len(ds) + horizon, freq=PANDAS_FREQ[freq])
    years = range(full[0].year - 1, full[-1].year + 2)
    windows = cal.sensitive_windows(settings.periods, years)
    return calendar_features(full, freq, cal.work_calendar(settings.holidays), windows)


def engine_options(settings: Settings, freq: str, horizon: int | None, workers: int | None = None,
                   only: str = "") -> EngineOptions:
    from riskwatch.forecast.engine import EngineOptions

    f = settings.forecast
    default_h = f.horizon_weeks if freq == "W" else f.horizon_months if freq == "M" else 28
    return EngineOptions(horizon=horizon or default_h, origins=f.backtest_origins,
                         min_weekly_mean=f.min_weekly_mean, prophet_min_weekly_mean=f.prophet_min_weekly_mean,
                         ets_min_weekly_mean=f.ets_min_weekly_mean,
                         workers=workers or f.workers, only=only)


def data_cutoff(cases: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """``as_of``, or the day after the last receipt when the data stops more than a day before ``as_of``
    (an ingest that stalled must not read as weeks of zero cases)."""
    if cases.empty:
        return as_of, None
    last = pd.Timestamp(cases["received_at"].max())
    if as_of - last > pd.Timedelta(days=1):
        return last.normalize() + pd.Timedelta(days=1), last
    return as_of, None


def build_store_series(session: Session, settings: Settings, as_of: pd.Timestamp, freq: str
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, pd.Timestamp | None]:
    """Series and catalog (``forecast.series.build_series``) of the stored cases as known at ``as_of`` (received
    by then, in the category and region they had then: ``store.load_cases_as_of``), nowcast-corrected; also
    the effective as-of and the data end (see ``data_cutoff``)."""
    cases = load_cases_as_of(session, as_of.to_pydatetime(), end=as_of.to_pydatetime(),
                             columns=["source", "received_at", "registered_at", "category_code", "region_code"])
    return series_from_cases(cases, settings, as_of, freq)


def series_from_cases(cases: pd.DataFrame, settings: Settings, as_of: pd.Timestamp, freq: str
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, pd.Timestamp | None]:
    """``build_store_series`` on cases already loaded."""
    from riskwatch.forecast.nowcast import nowcast_weights
    from riskwatch.forecast.series import build_series

    cutoff, data_end = data_cutoff(cases, as_of)
    weights, _ = nowcast_weights(cases, cutoff)
    series, catalog = build_series(cases, settings.taxonomy, settings.regions, cutoff, freq, weights=weights,
                                   levels=settings.forecast.levels)
    return series, catalog, cutoff, data_end


def run_forecast(session: Session, settings: Settings, as_of: pd.Timestamp, freq: str, now: datetime,
                 horizon: int | None = None, workers: int | None = None, method: str = "wls",
                 progress: Callable[[int], None] | None = None) -> ForecastSummary:
    """Build every series as of ``as_of``, forecast, reconcile and store the run ``(freq, as_of)``."""
    from riskwatch.forecast.coherence import YHAT_BASE, reconcile_forecasts
    from riskwatch.forecast.engine import forecast_all, weekly_mean
    from riskwatch.store.forecasts import RunInfo, save_forecast_run

    series, catalog, cutoff, data_end = build_store_series(session, settings, as_of, freq)
    if series.empty:
        raise ValueError(f"no cases received before {as_of}: nothing to forecast")
    options = engine_options(settings, freq, horizon, workers)
    ds = pd.DatetimeIndex(sorted(series["ds"].unique()))
    exog = calendar_exog(settings, ds, freq, options.horizon)
    result = forecast_all(series, freq, exog, options, progress)
    values = reconcile_forecasts(result.forecasts, catalog, result.errors, method)
    chosen = values.drop_duplicates("series_id").set_index("series_id")
    sizes = series.groupby("series_id")["y"].apply(lambda y: weekly_mean(y.to_numpy(), freq))
    table = catalog.set_index("series_id").assign(
        model=chosen["model"], note=chosen["note"], weekly_mean=sizes).reset_index()
    run = RunInfo(freq=freq, as_of=as_of.to_pydatetime(), horizon=options.horizon,
                  history_start=ds[0].to_pydatetime(), history_end=ds[-1].to_pydatetime(),
                  reconciliation=method, started_at=now, finished_at=now)
    run_id = save_forecast_run(session, run, table, values.rename(columns={YHAT_BASE: "yhat_base"}),
                               result.scores)
    return ForecastSummary(
        run_id=run_id, freq=freq, as_of=as_of.to_pydatetime(), history_start=ds[0].to_pydatetime(),
        history_end=ds[-1].to_pydatetime(), data_end=data_end.to_pydatetime() if data_end is not None else None,
        series=len(table), models=dict(Counter(table["model"])),
        fallbacks=int(table["note"].str.contains("fell back", regex=False).sum()), seconds=result.seconds,
        history=series)


def read_count_series(in_path: Path, freq: str) -> RegularSeries:
    """A ``date,count`` file as a regular series at ``freq``; a file that cannot be one is refused, named."""
    from riskwatch.forecast.standalone import regularize_counts
    from riskwatch.ingest.count_file import read_count_file

    try:
        return regularize_counts(read_count_file(in_path), freq)
    except ValueError as exc:
        raise UnreadableFileError(str(in_path), str(exc)) from exc


def forecast_file(settings: Settings, in_path: Path, out_path: Path, freq: str, horizon: int
                  ) -> tuple[pd.DataFrame, tuple[str, ...], RegularSeries]:
    """The standalone mode: forecast the ``date,count`` file ``in_path`` and write ``out_path`` (CSV with
    ``date, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model``). Returns the
    output frame, the notes on how the input was read, and the history as read."""
    from riskwatch.forecast.engine import forecast_one

    regular = read_count_series(in_path, freq)
    options = engine_options(settings, freq, horizon, workers=1)
    exog = calendar_exog(settings, regular.ds, freq, options.horizon)
    result = forecast_one("input", regular.y, regular.ds, freq, exog, options)
    out = result.forecast.rename(columns={"ds": "date"})
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    cols = ["date", "yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]
    out[cols[1:]] = out[cols[1:]].round(3)
    out = out[[*cols, "model"]]
    write_csv(out, out_path)
    notes = regular.notes + ((str(result.forecast["note"].iloc[0]),) if result.forecast["note"].iloc[0] else ())
    return out, notes, regular

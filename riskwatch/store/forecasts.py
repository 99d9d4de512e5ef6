"""Forecast runs in the store: save one run (replacing an earlier run of the same freq and as-of), read back.

A run is keyed by ``(freq, as_of)``. Saving deletes the run's earlier rows and writes the new ones in the
caller's transaction, so running ``riskwatch forecast`` twice for the same as-of gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from riskwatch import schema as S
from riskwatch.store.cases import frame_records
from riskwatch.store.frames import rows_frame
from riskwatch.store.models import (
    forecast_runs_table,
    forecast_scores_table,
    forecast_series_table,
    forecasts_table,
)

SERIES_TABLE_COLUMNS = ("series_id", "category", "region", "category_level", "region_level", "parent_category",
                        "parent_region", "label",
                        "model", "note", "weekly_mean")
VALUE_COLUMNS = ("series_id", "ds", "step", "yhat", "yhat_base", *S.INTERVAL_COLUMNS, "model")
SCORE_TABLE_COLUMNS = ("series_id", "model", "mae", "rel_mae", "mase", "cover_80", "cover_95", "points",
                       "failed", "selected")


@dataclass(frozen=True)
class RunInfo:
    freq: str
    as_of: datetime
    horizon: int
    history_start: datetime
    history_end: datetime
    reconciliation: str
    started_at: datetime
    finished_at: datetime


def save_forecast_run(session: Session, run: RunInfo, series: pd.DataFrame, values: pd.DataFrame,
                      scores: pd.DataFrame) -> int:
    """Replace the run ``(run.freq, run.as_of)`` with these rows; returns the run id.

    ``series`` has ``SERIES_TABLE_COLUMNS``, ``values`` ``VALUE_COLUMNS``, ``scores`` ``SCORE_TABLE_COLUMNS``.
    """
    S.require_columns(series.columns, SERIES_TABLE_COLUMNS, "save_forecast_run(series)")
    S.require_columns(values.columns, VALUE_COLUMNS, "save_forecast_run(values)")
    S.require_columns(scores.columns, SCORE_TABLE_COLUMNS, "save_forecast_run(scores)")
    t = forecast_runs_table.c
    conn = session.connection()
    old = conn.execute(select(t.id).where(t.freq == run.freq, t.as_of == run.as_of)).scalar_one_or_none()
    if old is not None:
        for table in (forecasts_table, forecast_scores_table, forecast_series_table):
            conn.execute(delete(table).where(table.c.run_id == old))
        conn.execute(delete(forecast_runs_table).where(t.id == old))
    run_id = conn.execute(insert(forecast_runs_table).values(
        freq=run.freq, as_of=run.as_of, horizon=run.horizon, history_start=run.history_start,
        history_end=run.history_end, reconciliation=run.reconciliation, series_count=len(series),
        started_at=run.started_at, finished_at=run.finished_at,
    ).returning(t.id)).scalar_one()
    for table, frame, cols in ((forecast_series_table, series, SERIES_TABLE_COLUMNS),
                               (forecasts_table, values, VALUE_COLUMNS),
                               (forecast_scores_table, scores, SCORE_TABLE_COLUMNS)):
        rows = frame_records(frame, cols, {"run_id": [run_id] * len(frame)})
        for i in range(0, len(rows), 5000):
            conn.execute(insert(table), rows[i:i + 5000])
    return int(run_id)


def load_forecast_run(session: Session, freq: str, as_of: datetime | None = None
                      ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """The run of ``freq`` at ``as_of`` (default: the latest as-of): (run, series, values, scores) frames."""
    t = forecast_runs_table.c
    stmt = select(forecast_runs_table).where(t.freq == freq)
    stmt = stmt.where(t.as_of == as_of) if as_of is not None else stmt.order_by(t.as_of.desc()).limit(1)
    conn = session.connection()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    run = dict(row)

    def frame(table: Any, cols: tuple[str, ...], order: tuple[str, ...]) -> pd.DataFrame:
        c = table.c
        rows = conn.execute(select(*[c[n] for n in cols]).where(c.run_id == run["id"])
                            .order_by(*[c[n] for n in order])).all()
        return rows_frame(rows, list(cols))

    values = frame(forecasts_table, VALUE_COLUMNS, ("series_id", "ds"))
    values["ds"] = pd.to_datetime(values["ds"]).astype("datetime64[us]")
    return (run, frame(forecast_series_table, SERIES_TABLE_COLUMNS, ("series_id",)), values,
            frame(forecast_scores_table, SCORE_TABLE_COLUMNS, ("series_id", "model")))


def load_forecast_run_before(session: Session, freq: str, before: datetime) -> pd.DataFrame | None:
    """The values (``VALUE_COLUMNS``) of the latest run of ``freq`` made at or before ``before``, or None."""
    t = forecast_runs_table.c
    as_of = session.connection().execute(
        select(t.as_of).where(t.freq == freq, t.as_of <= before).order_by(t.as_of.desc()).limit(1)
    ).scalar_one_or_none()
    if as_of is None:
        return None
    got = load_forecast_run(session, freq, as_of)
    return got[2] if got is not None else None

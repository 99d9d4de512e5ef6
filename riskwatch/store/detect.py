"""Detect runs, scores, signal states and silences in the store.

A run is keyed by ``(freq, as_of)``; saving replaces the run's rows in the caller's transaction, so
``riskwatch detect`` twice for the same as-of gives the same rows. The signals of a run follow from the run
before it (the latest earlier as-of), which ``load_states`` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from riskwatch import schema as S
from riskwatch.schema import FORECAST_UPPER, LAST_SEEN, OPENED, QUIET, SILENCED, STATE_COLUMNS
from riskwatch.store.cases import frame_records
from riskwatch.store.frames import rows_frame
from riskwatch.store.models import detect_runs_table, detect_scores_table, signals_table, silences_table

SCORE_TABLE_COLUMNS: tuple[str, ...] = (S.SERIES_ID, S.DS, S.OBSERVED, S.EXPECTED, S.UPPER, S.P_VALUE, S.SCORE,
                                        S.SPIKE, S.RISE, S.RISE_P, S.ALARM, S.DETECTOR, S.STATE, FORECAST_UPPER,
                                        "shift_start", "shift_ratio")
SILENCE_COLUMNS: tuple[str, ...] = ("id", "pattern", "reason", "created_by", "starts_at", "expires_at")


@dataclass(frozen=True)
class DetectRunInfo:
    freq: str
    as_of: datetime
    period: datetime
    started_at: datetime
    finished_at: datetime


def _run_id(session: Session, freq: str, as_of: datetime) -> int | None:
    t = detect_runs_table.c
    return session.connection().execute(
        select(t.id).where(t.freq == freq, t.as_of == as_of)).scalar_one_or_none()


def save_detect_run(session: Session, run: DetectRunInfo, scores: pd.DataFrame, states: pd.DataFrame) -> int:
    """Replace the run ``(run.freq, run.as_of)`` with these scores (``SCORE_TABLE_COLUMNS``) and signal
    states (``lifecycle.STATE_COLUMNS``); returns the run id."""
    S.require_columns(scores.columns, SCORE_TABLE_COLUMNS, "save_detect_run(scores)")
    S.require_columns(states.columns, STATE_COLUMNS, "save_detect_run(states)")
    conn = session.connection()
    old = _run_id(session, run.freq, run.as_of)
    if old is not None:
        for table in (detect_scores_table, signals_table):
            conn.execute(delete(table).where(table.c.run_id == old))
        conn.execute(delete(detect_runs_table).where(detect_runs_table.c.id == old))
    run_id = conn.execute(insert(detect_runs_table).values(
        freq=run.freq, as_of=run.as_of, period=run.period, series_count=len(scores),
        scored_count=int((scores[S.STATE] == S.SCORED).sum()), started_at=run.started_at,
        finished_at=run.finished_at,
    ).returning(detect_runs_table.c.id)).scalar_one()
    states = states.assign(**{S.EVIDENCE: [json.dumps(e, ensure_ascii=False, sort_keys=True, default=str)
                                           for e in states[S.EVIDENCE]]})
    for table, frame, cols in ((detect_scores_table, scores, SCORE_TABLE_COLUMNS),
                               (signals_table, states, STATE_COLUMNS)):
        rows = frame_records(frame, cols, {"run_id": [run_id] * len(frame)})
        for i in range(0, len(rows), 5000):
            conn.execute(insert(table), rows[i:i + 5000])
    return int(run_id)


def load_states(session: Session, freq: str, period_before: datetime | None = None
                ) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """(run, states) of the latest run; with ``period_before``, of the latest run that scored an earlier
    period (what a run scoring ``period_before`` continues from: two runs of the same period, e.g. on a
    Monday and a Wednesday, both continue from the week before)."""
    t = detect_runs_table.c
    stmt = select(detect_runs_table).where(t.freq == freq)
    if period_before is not None:
        stmt = stmt.where(t.period < period_before)
    got = session.connection().execute(stmt.order_by(t.period.desc(), t.as_of.desc()).limit(1)).mappings().first()
    run = dict(got) if got else None
    if run is None:
        return None, pd.DataFrame(columns=list(STATE_COLUMNS))
    c = signals_table.c
    rows = session.connection().execute(select(*[c[n] for n in STATE_COLUMNS]).where(c.run_id == run["id"])
                                        .order_by(c.signal_key)).all()
    states = rows_frame(rows, list(STATE_COLUMNS))
    states[S.EVIDENCE] = [json.loads(e) if e else {} for e in states[S.EVIDENCE]]
    for col in (S.PERIOD, OPENED, LAST_SEEN):
        states[col] = pd.to_datetime(states[col])
    states[QUIET] = states[QUIET].astype(int)
    states[SILENCED] = states[SILENCED].fillna("")
    return run, states


def load_recent_scores(session: Session, freq: str, period_before: datetime, periods: int) -> pd.DataFrame:
    """``series_id, ds, observed, expected, alarm`` of the last ``periods`` periods scored before
    ``period_before`` (of each period, its latest run)."""
    r, c = detect_runs_table.c, detect_scores_table.c
    found = session.connection().execute(
        select(r.id, r.period).where(r.freq == freq, r.period < period_before)
        .order_by(r.period.desc(), r.as_of.desc())).all()
    latest: dict[Any, int] = {}
    for run_id, period in found:
        latest.setdefault(period, run_id)
    runs = list(latest.values())[:periods]
    cols = (S.SERIES_ID, S.DS, S.OBSERVED, S.EXPECTED, S.ALARM, S.STATE)
    if not runs:
        return pd.DataFrame(columns=list(cols))
    rows = session.connection().execute(select(*[c[n] for n in cols]).where(c.run_id.in_(runs))).all()
    out = rows_frame(rows, list(cols))
    out[S.DS] = pd.to_datetime(out[S.DS])
    return out.loc[out[S.STATE] == S.SCORED].drop(columns=S.STATE).sort_values([S.SERIES_ID, S.DS],
                                                                                ignore_index=True)


def load_shifts(session: Session, freq: str, period_before: datetime) -> pd.DataFrame:
    """Level shifts confirmed by runs of periods before ``period_before``: ``series_id, start, ratio,
    confirmed`` (the period that confirmed it), one row per series and start."""
    r, c = detect_runs_table.c, detect_scores_table.c
    rows = session.connection().execute(
        select(c.series_id, c.shift_start, c.shift_ratio, r.period).join(detect_runs_table, r.id == c.run_id)
        .where(r.freq == freq, r.period < period_before, c.shift_ratio.is_not(None))
        .order_by(r.period, r.as_of, c.series_id)).all()
    out = rows_frame(rows, [S.SERIES_ID, "start", "ratio", "confirmed"])
    for col in ("start", "confirmed"):
        out[col] = pd.to_datetime(out[col])
    return out.drop_duplicates([S.SERIES_ID, "start"], keep="last").reset_index(drop=True)


def add_silence(session: Session, pattern: str, reason: str, created_by: str, starts_at: datetime,
                expires_at: datetime) -> int:
    """Record a silence; a silence with the same pattern and start is replaced (re-running is harmless)."""
    if not reason.strip():
        raise ValueError("a silence needs a reason")
    if expires_at <= starts_at:
        raise ValueError(f"a silence must expire after it starts ({starts_at:%Y-%m-%d %H:%M})")
    conn = session.connection()
    t = silences_table.c
    conn.execute(delete(silences_table).where(t.pattern == pattern, t.starts_at == starts_at))
    return int(conn.execute(insert(silences_table).values(
        pattern=pattern, reason=reason.strip(), created_by=created_by, starts_at=starts_at,
        expires_at=expires_at).returning(t.id)).scalar_one())


def load_silences(session: Session) -> pd.DataFrame:
    """Every silence ever recorded (``SILENCE_COLUMNS``), oldest first."""
    c = silences_table.c
    rows = session.connection().execute(select(*[c[n] for n in SILENCE_COLUMNS]).order_by(c.starts_at, c.id)).all()
    return rows_frame(rows, list(SILENCE_COLUMNS))

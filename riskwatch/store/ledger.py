"""The risk ledger in the store: ``risk_items`` (as it stands), ``risk_item_events`` (append-only history) and
``ledger_runs`` (one per as-of date). Functions take the session and never commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from riskwatch.assign.lifecycle import EVENT_COLUMNS, TIME_COLUMNS
from riskwatch.assign.step import ITEM_COLUMNS
from riskwatch.schema import ITEM_KEY
from riskwatch.store.cases import dialect_insert, frame_records
from riskwatch.store.frames import rows_frame
from riskwatch.store.models import LedgerRun, RiskItem, RiskItemEvent

items_table = RiskItem.__table__
events_table = RiskItemEvent.__table__
runs_table = LedgerRun.__table__
JSON_COLUMNS = ("evidence", "case_keys", "chain", "reasons")


def load_items(session: Session, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The ledger (``ITEM_COLUMNS``; JSON columns decoded), ordered by item key."""
    c = items_table.c
    stmt = select(*[c[n] for n in ITEM_COLUMNS]).order_by(c.item_key)
    if keys is not None:
        stmt = stmt.where(c.item_key.in_(sorted(set(keys))))
    out = rows_frame(session.connection().execute(stmt).all(), list(ITEM_COLUMNS))
    for col in JSON_COLUMNS:
        out[col] = [json.loads(v) if v else ([] if col != "chain" else {}) for v in out[col]]
    for col in TIME_COLUMNS:
        out[col] = pd.to_datetime(out[col])
    out["renotified"] = out["renotified"].astype(bool)
    return out


def save_items(session: Session, items: pd.DataFrame) -> None:
    """Upsert the ledger rows of ``items`` (``ITEM_COLUMNS``) by item key."""
    if items.empty:
        return
    frame = items.copy()
    for col in JSON_COLUMNS:
        frame[col] = [json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) for v in frame[col]]
    conn = session.connection()
    existing = set(conn.execute(select(items_table.c.item_key).where(
        items_table.c.item_key.in_(frame[ITEM_KEY].tolist()))).scalars())
    rows = frame_records(frame, list(ITEM_COLUMNS))
    new = [r for r in rows if r[ITEM_KEY] not in existing]
    if new:
        conn.execute(dialect_insert(session, items_table), new)
    for r in rows:
        if r[ITEM_KEY] in existing:
            conn.execute(update(items_table).where(items_table.c.item_key == r[ITEM_KEY]).values(**r))


def append_events(session: Session, events: pd.DataFrame) -> int:
    """Append ``events`` (``EVENT_COLUMNS``) to the history; returns how many."""
    if events.empty:
        return 0
    frame = events.copy()
    frame["note"] = frame["note"].fillna("").astype(str)
    session.connection().execute(dialect_insert(session, events_table), frame_records(frame, list(EVENT_COLUMNS)))
    return len(frame)


def load_events(session: Session, item_key: str | None = None, until: datetime | None = None) -> pd.DataFrame:
    """The history (``EVENT_COLUMNS``) in the order it happened, of one item or all."""
    c = events_table.c
    stmt = select(*[c[n] for n in EVENT_COLUMNS]).order_by(c.at, c.id)
    if item_key is not None:
        stmt = stmt.where(c.item_key == item_key)
    if until is not None:
        stmt = stmt.where(c.at <= until)
    out = rows_frame(session.connection().execute(stmt).all(), list(EVENT_COLUMNS))
    for col in ("at", "due_at"):
        out[col] = pd.to_datetime(out[col])
    return out


def latest_run(session: Session) -> dict[str, Any] | None:
    c = runs_table.c
    got = session.connection().execute(select(runs_table).order_by(c.as_of.desc()).limit(1)).mappings().first()
    return dict(got) if got else None


def save_run(session: Session, as_of: datetime, detect_run_id: int | None, items: int, events: int,
             started_at: datetime, finished_at: datetime) -> None:
    """Record the run of ``as_of`` (replacing an earlier record of the same date)."""
    conn = session.connection()
    conn.execute(delete(runs_table).where(runs_table.c.as_of == as_of))
    conn.execute(dialect_insert(session, runs_table), [{
        "as_of": as_of, "detect_run_id": detect_run_id, "items": items, "events": events,
        "started_at": started_at, "finished_at": finished_at}])

"""Reading the store back as frames with the column names of ``riskwatch.schema``.

Times come back as naive ``datetime64[us]`` (wall-clock Asia/Shanghai), text as pandas' string dtype,
``is_group`` as ``bool``, ``headcount`` / ``returned_count`` as ``int64``, nullable flags
(``resolved``, ``id_valid``, ``phone_valid``) as ``boolean``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.orm import Session

from riskwatch.schema import CLOSED_AT, PARTY_COLUMNS, SEQ, SOURCE, SOURCE_ID
from riskwatch.store.cases import SELECT_CHUNK, STORED_CASE_COLUMNS, chunks
from riskwatch.store.frames import rows_frame
from riskwatch.store.history import CLOSING_COLUMNS, HISTORY_COLUMNS, VERSION_COLUMNS, CaseHistory
from riskwatch.store.models import (
    Base,
    batches_table,
    cases_table,
    events_table,
    notes_table,
    parties_table,
    quarantine_table,
)

CASE_ID = "case_id"
#: Extra columns ``load_cases(columns=...)`` can ask for.
EXTRA_CASE_COLUMNS: tuple[str, ...] = ("version_at", "version_hash", "first_batch_id", "last_batch_id")
_CHANGED = "changed_after"  # load_case_history: whether the case has a version after its ``since``
_BOOL = {"is_group", _CHANGED}
_NULLABLE_BOOL = {"resolved", "id_valid", "phone_valid"}
_INT = {"headcount", "returned_count", "seq", "row_number", "cap", CASE_ID, "batch_id", "first_batch_id",
        "last_batch_id", "rows_read", "rows_new", "rows_updated", "rows_unchanged", "rows_older",
        "rows_quarantined", "rows_blank"}
_TIMES = {"received_at", "registered_at", "due_at", "closed_at", "updated_at", "version_at", "at",
          "started_at", "finished_at"}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for c in frame.columns:
        if c in _TIMES:
            frame[c] = pd.to_datetime(frame[c]).astype("datetime64[us]")
        elif c in _BOOL:
            frame[c] = frame[c].astype(bool)
        elif c in _NULLABLE_BOOL:
            frame[c] = frame[c].astype("boolean")
        elif c in _INT:
            frame[c] = frame[c].astype("int64") if frame[c].notna().all() else frame[c].astype("Int64")
        else:
            frame[c] = frame[c].astype("str")
    return frame


def _frame(session: Session, stmt: Select[Any], names: Sequence[str]) -> pd.DataFrame:
    return _typed(rows_frame(session.connection().execute(stmt).all(), names))


def load_cases(session: Session, start: datetime | None = None, end: datetime | None = None,
               columns: Sequence[str] | None = None, open_at: datetime | None = None,
               source_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Cases received in ``[start, end)`` (either bound optional), ordered by (source, source_id), in their
    latest version; with ``open_at``, also the cases received before ``start`` that were not yet closed at
    ``open_at``; with ``source_ids``, only the cases of those ids (one person's cases, say).
    ``load_cases_as_of`` reads them as they stood at a past time.

    Returns ``schema.CASE_COLUMNS`` except ``row_number`` by default; ``columns`` may name any of these
    plus ``case_id`` and ``EXTRA_CASE_COLUMNS``.
    """
    names = list(columns) if columns is not None else list(STORED_CASE_COLUMNS)
    c = cases_table.c
    cols = [c.id.label(CASE_ID) if n == CASE_ID else c[n] for n in names]
    stmt = _case_window(select(*cols), start, end, open_at)
    if source_ids is not None:
        stmt = stmt.where(c.source_id.in_(sorted(set(source_ids))))
    return _frame(session, stmt.order_by(c.source, c.source_id), names)


def _case_window(stmt: Select[Any], start: datetime | None, end: datetime | None, open_at: datetime | None,
                 changed_after: datetime | None = None) -> Select[Any]:
    """``stmt`` restricted to the cases of ``load_cases``' window; with ``changed_after``, the cases with a
    version after it are kept whatever their closing (their closing then may differ)."""
    c = cases_table.c
    if start is not None and open_at is not None:
        keep = [c.received_at >= start, c.closed_at.is_(None), c.closed_at >= open_at]
        if changed_after is not None:
            keep.append(c.version_at > changed_after)
        stmt = stmt.where(or_(*keep))
    elif start is not None:
        stmt = stmt.where(c.received_at >= start)
    if end is not None:
        stmt = stmt.where(c.received_at < end)
    return stmt


def load_case_history(session: Session, since: datetime, start: datetime | None = None,
                      end: datetime | None = None, columns: Sequence[str] | None = None,
                      open_at: datetime | None = None) -> CaseHistory:
    """The cases of ``load_cases``' window (``start``, ``end``, ``open_at``) with the versions that give their
    state at any time from ``since`` on (``history.CaseHistory.at``). Only the cases whose latest version is
    after ``since`` have their versions read: none when ``since`` is past every version."""
    names = list(columns) if columns is not None else list(STORED_CASE_COLUMNS)
    since = pd.Timestamp(since).floor("us")  # a month's end_time has nanoseconds the database has not
    c, e = cases_table.c, events_table.c
    needed = [*HISTORY_COLUMNS]
    if open_at is not None or any(n in CLOSING_COLUMNS for n in names):
        needed.append(CLOSED_AT)
    read = [*names, *(n for n in needed if n not in names)]
    cols = [c.id.label(CASE_ID) if n == CASE_ID else c[n] for n in read]
    changed = (c.version_at > since.to_pydatetime()).label(_CHANGED)
    stmt = _case_window(select(*cols, changed), start, end, open_at, since.to_pydatetime())
    latest = _frame(session, stmt.order_by(c.source, c.source_id), [*read, _CHANGED])
    changed_ids = latest.loc[latest.pop(_CHANGED).to_numpy(dtype=bool), CASE_ID].tolist()
    rows: list[Any] = []
    for part in chunks(changed_ids, SELECT_CHUNK):  # none as of now; by the events' case index, no scan
        rows.extend(session.connection().execute(
            select(e.case_id, e.at, e.version_hash, e.snapshot).where(e.case_id.in_(part))).all())
    versions = rows_frame(rows, VERSION_COLUMNS)
    versions["at"] = pd.to_datetime(versions["at"]).astype("datetime64[us]")
    return CaseHistory(latest, versions, since, tuple(names),
                       pd.Timestamp(start) if start is not None else None,
                       pd.Timestamp(open_at) if open_at is not None else None)


def load_cases_as_of(session: Session, as_of: datetime, start: datetime | None = None,
                     end: datetime | None = None, columns: Sequence[str] | None = None,
                     open_at: datetime | None = None) -> pd.DataFrame:
    """The cases of ``load_cases``' window (the same columns) known at ``as_of`` — received and entered by
    then — each as it stood then: the tracked fields of the version in force, a closing after it undone
    (``store.history``). When no case has a version after ``as_of`` no event is read."""
    return load_case_history(session, as_of, start, end, columns, open_at).at(pd.Timestamp(as_of))


def load_parties(session: Session) -> pd.DataFrame:
    """Every party: ``case_id`` and ``schema.PARTY_COLUMNS``, ordered by (source, source_id, seq)."""
    p, c = parties_table.c, cases_table.c
    names = [CASE_ID, *PARTY_COLUMNS]
    cols = [p.case_id, c.source, c.source_id, *[p[n] for n in PARTY_COLUMNS if n not in (SOURCE, SOURCE_ID)]]
    stmt = select(*cols).join(cases_table, c.id == p.case_id).order_by(c.source, c.source_id, p.seq)
    return _frame(session, stmt, names)


def load_events(session: Session) -> pd.DataFrame:
    """Case events: ``case_id, source, source_id, at, kind, version_hash, snapshot, batch_id``,
    ordered by (source, source_id, at, version_hash)."""
    e, c = events_table.c, cases_table.c
    names = [CASE_ID, SOURCE, SOURCE_ID, "at", "kind", "version_hash", "snapshot", "batch_id"]
    stmt = (select(e.case_id, c.source, c.source_id, e.at, e.kind, e.version_hash, e.snapshot, e.batch_id)
            .join(cases_table, c.id == e.case_id).order_by(c.source, c.source_id, e.at, e.version_hash))
    return _frame(session, stmt, names)


def load_quarantine(session: Session) -> pd.DataFrame:
    """Quarantined rows with their batch: ``batch_id, source, file_name, file_sha256, row_number, field,
    reason, raw``, ordered by (batch_id, row_number, field)."""
    q, b = quarantine_table.c, batches_table.c
    names = ["batch_id", SOURCE, "file_name", "file_sha256", "row_number", "field", "reason", "raw"]
    stmt = (select(q.batch_id, b.source, q.file_name, b.file_sha256, q.row_number, q.field, q.reason, q.raw)
            .join(batches_table, b.id == q.batch_id).order_by(q.batch_id, q.row_number, q.field))
    return _frame(session, stmt, names)


def count_rows(session: Session) -> dict[str, int]:
    """Number of rows of every table of the schema."""
    conn = session.connection()
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in Base.metadata.sorted_tables}


def _table(session: Session, table: Table, exclude: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    names = [c.name for c in table.columns if c.name not in exclude]
    stmt = select(*[table.c[n] for n in names]).order_by(*[table.c[n] for n in order])
    return _frame(session, stmt, names)


def dump_database(session: Session) -> dict[str, pd.DataFrame]:
    """Every table as a frame keyed by natural keys, without surrogate ids, batch ids or ingestion times.

    Two databases holding the same data (whatever the order and number of ingests) give equal dumps.
    Batch counts that depend on ingest order (new/updated/unchanged/older) are left out.
    """
    b = batches_table.c
    batch_key = select(b.id, b.source.label("batch_source"), b.file_sha256).subquery()
    out: dict[str, pd.DataFrame] = {
        "regions": _table(session, Base.metadata.tables["regions"], (), ["code"]),
        "categories": _table(session, Base.metadata.tables["categories"], (), ["code"]),
        "staff": _table(session, Base.metadata.tables["staff"], (), ["id"]),
        "ingest_batches": _table(
            session, batches_table,
            ("id", "started_at", "finished_at", "rows_new", "rows_updated", "rows_unchanged", "rows_older"),
            ["source", "file_sha256"]),
        "cases": _table(session, cases_table, ("id", "first_batch_id", "last_batch_id"), ["source", "source_id"]),
    }
    parties = load_parties(session).drop(columns=[CASE_ID])
    out["parties"] = parties.sort_values([SOURCE, SOURCE_ID, SEQ], kind="stable").reset_index(drop=True)
    events = load_events(session).drop(columns=[CASE_ID, "batch_id"])
    out["case_events"] = events.sort_values([SOURCE, SOURCE_ID, "version_hash"], kind="stable").reset_index(drop=True)
    for name, table in (("quarantine", quarantine_table), ("ingest_notes", notes_table)):
        t = table.c
        cols = [c for c in table.columns if c.name not in ("id", "batch_id")]
        stmt = (select(batch_key.c.batch_source, batch_key.c.file_sha256, *cols)
                .join(batch_key, batch_key.c.id == t.batch_id)
                .order_by(batch_key.c.batch_source, batch_key.c.file_sha256, t.row_number, t.field))
        out[name] = _frame(session, stmt, ["batch_source", "file_sha256", *[c.name for c in cols]])
    return out

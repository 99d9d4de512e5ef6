"""Writing ingested cases, parties, quarantined rows and batch bookkeeping.

Every function takes the caller's ``Session`` and never commits. Writes are bulk Core statements
(executemany / insertmanyvalues), idempotent on the natural keys:

* cases on (source, source_id), versions ordered by ``versions.SORT_COLUMNS``;
* case events on (case_id, version_hash);
* quarantine and notes on (batch_id, row_number, field);
* batches on (source, file_sha256).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import String, Table, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskwatch.schema import (
    CASE_COLUMNS,
    FIELD,
    PARTY_COLUMNS,
    RAW,
    REASON,
    RETURNED_COUNT,
    ROW_NUMBER,
    SEQ,
    SOURCE,
    SOURCE_ID,
    require_columns,
)
from riskwatch.store.frames import rows_frame
from riskwatch.store.models import (
    batches_table,
    cases_table,
    notes_table,
    parties_table,
    quarantine_table,
)
from riskwatch.store.versions import (
    KEY,
    SNAPSHOT,
    SORT_COLUMNS,
    VERSION_AT,
    VERSION_HASH,
    add_sort_columns,
    iso_datetimes,
    party_key,
    prepare_versions,
)

STORED_CASE_COLUMNS: tuple[str, ...] = tuple(c for c in CASE_COLUMNS if c != ROW_NUMBER)
STORED_PARTY_COLUMNS: tuple[str, ...] = tuple(c for c in PARTY_COLUMNS if c not in KEY)
NOTE = "note"
SELECT_CHUNK = 5000
WRITE_CHUNK = 20000


class SaveCounts(NamedTuple):
    """How the rows of one ``save_cases`` call were classified (they sum to the rows given)."""

    new: int
    updated: int
    unchanged: int
    older: int


@dataclass(frozen=True)
class BatchCounts:
    """Row counts of one ingested file, for ``finish_batch``."""

    rows_read: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_older: int = 0
    rows_quarantined: int = 0
    rows_blank: int = 0


# --- helpers --------------------------------------------------------------------------------------
def dialect_insert(session: Session, table: Table) -> Any:
    """``INSERT`` for ``table`` in the session's dialect (supports ``on_conflict_do_nothing/update``)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"dialect_insert: unsupported dialect {name}")


def _py_values(s: pd.Series) -> list[Any]:
    """Column values as Python objects with ``None`` for missing (what DB drivers accept)."""
    mask = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        arr = np.empty(len(s), dtype=object)
        arr[:] = s.dt.to_pydatetime() if len(s) else []
    else:
        arr = s.to_numpy(dtype=object).copy()
    arr[mask] = None
    return arr.tolist()


def frame_records(frame: pd.DataFrame, columns: Sequence[str], extra: dict[str, list[Any]] | None = None
                  ) -> list[dict[str, Any]]:
    """Rows of ``frame[columns]`` (plus ``extra`` columns) as dicts of Python values, ``None`` for missing."""
    names = list(columns)
    lists = [_py_values(frame[c]) if c in frame.columns else [None] * len(frame) for c in names]
    for k, v in (extra or {}).items():
        names.append(k)
        lists.append(v)
    return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]


def _values(frame: pd.DataFrame, columns: Sequence[str], dialect: str,
            extra: Sequence[list[Any]] = ()) -> list[tuple[Any, ...]]:
    """Rows as DB-API parameter tuples; for SQLite, datetimes are pre-formatted the way SQLAlchemy stores
    them (``YYYY-MM-DD HH:MM:SS.ffffff``) so raw and ORM-written values compare and sort alike."""
    lists = []
    for c in columns:
        if c not in frame.columns:
            lists.append([None] * len(frame))
            continue
        s = frame[c]
        if dialect == "sqlite" and pd.api.types.is_datetime64_any_dtype(s.dtype):
            lists.append(iso_datetimes(s, sep=" ").tolist())
        else:
            lists.append(_py_values(s))
    lists.extend(extra)
    return list(zip(*lists, strict=True))


def _executemany(session: Session, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Plain DB-API ``executemany`` (no per-row SQLAlchemy processing: this is the hot path)."""
    conn = session.connection()
    for part in chunks(rows, WRITE_CHUNK):
        conn.exec_driver_sql(sql, part)


def _insert_sql(session: Session, table: str, columns: Sequence[str], suffix: str = "") -> str:
    ph = _placeholder(session)
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join([ph] * len(columns))}){suffix}'


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.name == "sqlite" else "%s"


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _select_existing(session: Session, cases: pd.DataFrame) -> pd.DataFrame:
    c = cases_table.c
    cols = [c.source, c.source_id, c.id, c.version_at, c.version_hash, c.status, c.returned_count, c.level]
    rows: list[Any] = []
    conn = session.connection()
    for source, ids in cases.groupby(SOURCE, sort=True)[SOURCE_ID]:
        for part in chunks(sorted(set(ids.tolist())), SELECT_CHUNK):
            if conn.dialect.name == "postgresql":
                cond = c.source_id == any_(bindparam("ids", part, type_=postgresql.ARRAY(String)))
            else:
                cond = c.source_id.in_(part)
            rows.extend(tuple(r) for r in conn.execute(select(*cols).where(c.source == source, cond)))
    names = [SOURCE, SOURCE_ID, "case_id", VERSION_AT, VERSION_HASH, "status", RETURNED_COUNT, "level"]
    frame = rows_frame(rows, names)
    frame[VERSION_AT] = pd.to_datetime(frame[VERSION_AT])
    return frame


# --- cases ----------------------------------------------------------------------------------------
def classify_versions(cases: pd.DataFrame, existing: pd.DataFrame) -> pd.DataFrame:
    """Sort incoming versions with the stored ones and classify each incoming row (pure).

    Returns the incoming rows (``cases`` with ``version_*`` columns), in version order per key, with
    ``_class`` (new / updated / unchanged / older), ``_winner`` (the row that must end up stored:
    inserted when ``case_id`` is null, else updated), ``_event`` (a version event to record) and
    ``case_id`` (stored id or null).
    """
    if existing.empty and not cases.duplicated(list(KEY)).any():  # the common first load: all new
        return cases.assign(_class="new", _winner=True, _event=True, case_id=None)
    inc = cases.copy()
    inc["_stored"] = False
    inc = add_sort_columns(inc).sort_values([*KEY, *SORT_COLUMNS], kind="stable")
    dup = inc.duplicated([*KEY, VERSION_HASH], keep="first")  # the same version twice in the chunk
    ex = existing.copy()
    ex["_stored"] = True
    allv = pd.concat([inc[~dup], ex], ignore_index=True) if len(ex) else inc[~dup]
    allv = add_sort_columns(allv)
    allv = allv.sort_values([*KEY, *SORT_COLUMNS, "_stored"], kind="stable").reset_index(drop=True)
    allv["_stored_hash"] = None
    allv["case_id"] = None
    if len(ex):
        keys = pd.MultiIndex.from_arrays([allv[SOURCE], allv[SOURCE_ID]])
        indexed = ex.set_index(list(KEY))
        allv["_stored_hash"] = indexed[VERSION_HASH].reindex(keys).to_numpy()
        allv["case_id"] = indexed["case_id"].reindex(keys).to_numpy()
    has_stored = allv["_stored_hash"].notna()
    after_stored = allv.groupby(list(KEY), sort=False)["_stored"].cumsum() > 0
    is_last = ~allv.duplicated(list(KEY), keep="last")
    inc_mask = ~allv["_stored"].astype(bool)
    distinct = inc_mask & (allv[VERSION_HASH] != allv["_stored_hash"])
    later = allv[distinct].duplicated(list(KEY), keep="first").reindex(allv.index, fill_value=True)
    allv["_class"] = np.select(
        [~distinct, ~has_stored & ~later, ~has_stored, after_stored],
        ["unchanged", "new", "updated", "updated"],
        default="older",
    )
    allv["_winner"] = is_last & distinct
    allv["_event"] = distinct
    dups = inc[dup].assign(_class="unchanged", _winner=False, _event=False, case_id=None)
    out = pd.concat([allv[inc_mask], dups], ignore_index=True) if len(dups) else allv[inc_mask]
    return out.drop(columns=["_stored", "_stored_hash"])


def save_cases(session: Session, batch_id: int, cases: pd.DataFrame, parties: pd.DataFrame | None) -> SaveCounts:
    """Store one chunk of clean cases and their parties; return how the rows were classified.

    Parameters
    ----------
    cases
        Clean case frame (``schema.CASE_COLUMNS``; ``row_number`` is not stored). ``version_at`` and
        ``version_hash`` are (re)computed here.
    parties
        Clean party frame (``schema.PARTY_COLUMNS``) of those cases. If a (source, source_id) occurs in
        several rows of ``cases``, give both frames a ``row_number`` column so that each version gets
        its own parties; otherwise the parties with that key are shared by all its versions.

    A key not stored is inserted (case, parties, a ``version`` event); a version equal to the stored one
    is unchanged (nothing written); a newer one replaces the case row and its parties and adds an
    event; an older one only adds its event if unknown. Several versions of one key in the chunk are
    applied in version order, so the result does not depend on row order or on the order of calls.
    """
    if cases is None or not len(cases):
        return SaveCounts(0, 0, 0, 0)
    if VERSION_HASH not in cases.columns:
        cases, parties = prepare_versions(cases, parties)
    existing = _select_existing(session, cases)
    inc = classify_versions(cases, existing)
    counts = inc["_class"].value_counts()
    conn = session.connection()

    winners = inc[inc["_winner"] & inc["_event"]]
    to_insert = winners[winners["case_id"].isna()]
    to_update = winners[winners["case_id"].notna()]
    ids: dict[tuple[str, str], int] = {}
    if len(existing):
        ids.update(zip(zip(existing[SOURCE].tolist(), existing[SOURCE_ID].tolist(), strict=True),
                       existing["case_id"].astype(int).tolist(),
                       strict=True))

    dialect = session.get_bind().dialect.name
    ph = _placeholder(session)
    case_cols = [*STORED_CASE_COLUMNS, VERSION_AT, VERSION_HASH]
    # new cases
    if len(to_insert):
        n = len(to_insert)
        c = cases_table.c
        before = conn.execute(select(func.coalesce(func.max(c.id), 0))).scalar_one()
        _executemany(session, _insert_sql(session, "cases", [*case_cols, "first_batch_id", "last_batch_id"]),
                     _values(to_insert, case_cols, dialect, ([batch_id] * n, [batch_id] * n)))
        # the rows just inserted are those above the largest id before (a primary-key range scan)
        created = conn.exec_driver_sql(
            f'SELECT "source", "source_id", "id" FROM "cases" WHERE "id" > {_placeholder(session)}', (before,))
        ids.update(((src, sid), i) for src, sid, i in created.fetchall())
    # newer versions of stored cases
    if len(to_update):
        upd_cols = [c for c in case_cols if c not in KEY]
        sets = ", ".join(f'"{c}" = {ph}' for c in [*upd_cols, "last_batch_id"])
        upd_ids = to_update["case_id"].astype(int).tolist()
        _executemany(session, f'UPDATE "cases" SET {sets} WHERE "id" = {ph}',
                     _values(to_update, upd_cols, dialect, ([batch_id] * len(to_update), upd_ids)))
        for part in chunks(upd_ids, SELECT_CHUNK):
            conn.execute(delete(parties_table).where(parties_table.c.case_id.in_(part)))
    # parties of every written case
    if len(winners) and len(parties):
        pkey = party_key(winners, parties)
        wkeys = winners[pkey].astype(object)
        chosen = parties.merge(wkeys, on=pkey, how="inner").drop_duplicates([*KEY, SEQ], keep="last")
        if len(chosen):
            case_ids = [ids[k] for k in zip(chosen[SOURCE].tolist(), chosen[SOURCE_ID].tolist(), strict=True)]
            _executemany(session, _insert_sql(session, "parties", [*STORED_PARTY_COLUMNS, "case_id"]),
                         _values(chosen, STORED_PARTY_COLUMNS, dialect, (case_ids,)))
    # version events (also for older versions: any order of exports gives the same history)
    events = inc[inc["_event"]]
    if len(events):
        n = len(events)
        case_ids = [ids[k] for k in zip(events[SOURCE].tolist(), events[SOURCE_ID].tolist(), strict=True)]
        sql = _insert_sql(session, "case_events",
                          ["at", "version_hash", "case_id", "kind", "snapshot", "batch_id"],
                          ' ON CONFLICT ("case_id", "version_hash") DO NOTHING')
        _executemany(session, sql, _values(events, [VERSION_AT, VERSION_HASH], dialect,
                                           (case_ids, ["version"] * n, events[SNAPSHOT].tolist(), [batch_id] * n)))
    return SaveCounts(int(counts.get("new", 0)), int(counts.get("updated", 0)),
                      int(counts.get("unchanged", 0)), int(counts.get("older", 0)))


# --- quarantine and notes ---------------------------------------------------------------------------
def save_quarantine(session: Session, batch_id: int, file_name: str, frame: pd.DataFrame) -> int:
    """Store quarantined rows (``row_number, field, reason, raw``); rows already stored for this batch
    (same row_number and field) are left as they are. Returns the number of rows given."""
    if frame is None or not len(frame):
        return 0
    require_columns(frame.columns, [ROW_NUMBER, FIELD, REASON], "save_quarantine")
    f = frame.drop_duplicates([ROW_NUMBER, FIELD], keep="first")
    n = len(f)
    recs = frame_records(f, [ROW_NUMBER, FIELD, REASON, RAW],
                    {"batch_id": [batch_id] * n, "file_name": [file_name] * n})
    for r in recs:
        if r[RAW] is not None and not isinstance(r[RAW], str):
            r[RAW] = json.dumps(r[RAW], ensure_ascii=False)
    stmt = dialect_insert(session, quarantine_table).on_conflict_do_nothing(
        index_elements=["batch_id", "row_number", "field"])
    for part in chunks(recs, WRITE_CHUNK):
        session.connection().execute(stmt, part)
    return len(frame)


def save_notes(session: Session, batch_id: int, frame: pd.DataFrame) -> int:
    """Store ingest notes (``row_number, field, note``: value fixes worth telling, not errors);
    idempotent on (batch_id, row_number, field). Returns the number of rows given."""
    if frame is None or not len(frame):
        return 0
    require_columns(frame.columns, [ROW_NUMBER, FIELD, NOTE], "save_notes")
    f = frame.drop_duplicates([ROW_NUMBER, FIELD], keep="first")
    recs = frame_records(f, [ROW_NUMBER, FIELD, NOTE], {"batch_id": [batch_id] * len(f)})
    stmt = dialect_insert(session, notes_table).on_conflict_do_nothing(
        index_elements=["batch_id", "row_number", "field"])
    for part in chunks(recs, WRITE_CHUNK):
        session.connection().execute(stmt, part)
    return len(frame)


# --- batches ----------------------------------------------------------------------------------------
def start_batch(session: Session, source: str, file_name: str, sha256: str, started_at: datetime,
                encoding: str | None = None) -> int:
    """Return the id of the batch of (source, sha256), creating it if needed (one row per file content)."""
    b = batches_table.c
    found = session.connection().execute(
        select(b.id).where(b.source == source, b.file_sha256 == sha256)).scalar_one_or_none()
    if found is not None:
        return int(found)
    return int(session.connection().execute(
        insert(batches_table).returning(b.id),
        {"source": source, "file_name": file_name, "file_sha256": sha256, "started_at": started_at,
         "encoding": encoding},
    ).scalar_one())


def finish_batch(session: Session, batch_id: int, counts: BatchCounts | None = None, *,
                 finished_at: datetime, **row_counts: int) -> bool:
    """Record the counts and ``finished_at`` of a batch that has not finished yet.

    Counts come from ``counts`` and/or keyword arguments (``rows_read=...``, ``rows_new=...``, ...).
    A batch already finished (the same file ingested again) keeps its first counts; returns whether
    the row was updated.
    """
    values = dict(vars(counts)) if counts is not None else {}
    for k, v in row_counts.items():
        if k not in BatchCounts.__dataclass_fields__:
            raise TypeError(f"finish_batch: unknown count {k!r}")
        values[k] = int(v)
    values["finished_at"] = finished_at
    b = batches_table.c
    res = session.connection().execute(
        update(batches_table).where(b.id == batch_id, b.finished_at.is_(None)).values(**values))
    return bool(res.rowcount)

"""Persons in the store: the record -> person register, runs with their model, analysts' decisions, matters
(repeat petitions) and groups.

``person_records`` is keyed by the party's natural key (``<source>:<source_id>:<seq>``) because party rows
are rewritten when a case is updated. Matters and groups are derived in full by every run: the groups are
replaced, the matters written where they differ (a re-run gives the same rows); the register is updated in
place (an incremental run writes only what changed). Functions take the session and never commit.

``load_persons_inputs`` digests what a run's result depends on in the store (every case's version hash,
which covers its fields and parties; the decisions; the register; the schema revision); a run records them
(``persons_runs.inputs``) so that the next one can tell that nothing changed without loading anything.
The frame layouts of matters and groups come from ``schema`` (not from ``persons.groups`` and
``persons.repeats``, which pull in networkx and scipy: a second of start-up a run with nothing new need not pay).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from alembic.runtime.migration import MigrationContext
from sqlalchemy import String, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from riskwatch import schema as S
from riskwatch.schema import DECISION_KINDS, GROUP_CASE_COLUMNS, GROUP_COLUMNS, MEMBER_COLUMNS, REPEAT_COLUMNS
from riskwatch.store.cases import chunks, frame_records
from riskwatch.store.frames import rows_frame
from riskwatch.store.models import (
    case_matters_table,
    cases_table,
    group_cases_table,
    group_members_table,
    parties_table,
    person_decisions_table,
    person_groups_table,
    person_records_table,
    persons_runs_table,
)

PERSON_RECORD_COLUMNS: tuple[str, ...] = ("record_id", S.SOURCE, S.SOURCE_ID, S.SEQ, "person_id", "confidence",
                                          "record_hash", "run_id")
GROUP_JSON_COLUMNS: tuple[str, ...] = ("levels", "townships", "central")
DECISION_COLUMNS: tuple[str, ...] = ("id", "kind", "left", "right", "reason", "created_by", "created_at")
_CHUNK = 5000
_FIELD_SEP, _ROW_SEP = "\x1f", "\x1e"


@dataclass(frozen=True)
class PersonsRunInfo:
    mode: str            # "full" | "incremental"
    records: int
    new_records: int
    persons: int
    pairs: int
    merged: int
    model: Mapping[str, Any]
    started_at: datetime
    finished_at: datetime
    inputs: Mapping[str, str]  # digests of what the run read (``load_persons_inputs`` and the settings)


def load_party_records(session: Session, source_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Every stored party (or those of cases with these ``source_ids``) as a record to resolve:
    ``record_id, source, source_id, seq, name, id_number, phone, address, district`` (the district of its
    case: the first 6 characters of the case region), ``received_at, category_code, case_region``;
    ordered by record id."""
    p, c = parties_table.c, cases_table.c
    stmt = (select(c.source, c.source_id, p.seq, p.name, p.id_number, p.phone, p.address, c.received_at,
                   c.category_code, c.region_code)
            .join(cases_table, c.id == p.case_id).order_by(c.source, c.source_id, p.seq))
    if source_ids is not None:
        stmt = stmt.where(c.source_id.in_(sorted(set(source_ids))))
    names = [S.SOURCE, S.SOURCE_ID, S.SEQ, S.NAME, S.ID_NUMBER, S.PHONE, S.ADDRESS, S.RECEIVED_AT,
             S.CATEGORY_CODE, "case_region"]
    out = rows_frame(session.connection().execute(stmt).all(), names)
    out[S.SEQ] = out[S.SEQ].astype(int)
    out[S.RECEIVED_AT] = pd.to_datetime(out[S.RECEIVED_AT])
    out["district"] = out["case_region"].fillna("").str[:6]
    out.insert(0, "record_id", out[S.SOURCE] + ":" + out[S.SOURCE_ID] + ":" + out[S.SEQ].astype(str))
    return out.sort_values("record_id", ignore_index=True)


def load_person_records(session: Session, person_id: str | None = None) -> pd.DataFrame:
    """The register (or the records of one person): ``PERSON_RECORD_COLUMNS``, ordered by record id."""
    c = person_records_table.c
    stmt = select(*[c[n] for n in PERSON_RECORD_COLUMNS]).order_by(c.record_id)
    if person_id is not None:
        stmt = stmt.where(c.person_id == person_id)
    rows = session.connection().execute(stmt).all()
    return rows_frame(rows, list(PERSON_RECORD_COLUMNS))


def load_case_persons(session: Session, received_since: datetime | None = None) -> pd.DataFrame:
    """Who petitioned in each case (``person_id, source, source_id``, distinct), of every case or of the cases
    received since ``received_since``: the register without the rest of its columns."""
    c, k = person_records_table.c, cases_table.c
    stmt = select(c.person_id, c.source, c.source_id).distinct().order_by(c.source, c.source_id, c.person_id)
    if received_since is not None:
        stmt = stmt.join(cases_table, (k.source == c.source) & (k.source_id == c.source_id)) \
            .where(k.received_at >= received_since)
    return rows_frame(session.connection().execute(stmt).all(), ["person_id", S.SOURCE, S.SOURCE_ID])


def save_person_records(session: Session, rows: pd.DataFrame, remove: Iterable[str] = (),
                        replace_all: bool = False) -> None:
    """Write register rows (``PERSON_RECORD_COLUMNS``): with ``replace_all`` the register becomes exactly
    ``rows``; otherwise the records ``remove`` and those in ``rows`` are deleted, then ``rows`` inserted."""
    S.require_columns(rows.columns, PERSON_RECORD_COLUMNS, "save_person_records")
    conn = session.connection()
    t = person_records_table
    if replace_all:
        conn.execute(delete(t))
    else:
        gone = sorted({*remove, *rows["record_id"]})
        for part in chunks(gone, 900):
            conn.execute(delete(t).where(t.c.record_id.in_(part)))
    _insert(session, t, rows, PERSON_RECORD_COLUMNS)


def relabel_persons(session: Session, mapping: Mapping[str, str]) -> None:
    """Move every record of person ``old`` to person ``new`` for each ``old -> new``."""
    t = person_records_table
    for old, new in sorted(mapping.items()):
        session.connection().execute(update(t).where(t.c.person_id == old).values(person_id=new))


def move_records(session: Session, record_ids: Sequence[str], person_id: str) -> None:
    """Put the records ``record_ids`` under ``person_id`` (an analyst's split)."""
    t = person_records_table
    ids = sorted(record_ids)
    for part in chunks(ids, 900):
        session.connection().execute(update(t).where(t.c.record_id.in_(part)).values(
            person_id=person_id, confidence=1.0))


def start_persons_run(session: Session, started_at: datetime) -> int:
    """A run's row, so that the register rows it writes carry its id; ``finish_persons_run`` fills it in
    (in the same transaction: nobody sees it half done)."""
    return int(session.connection().execute(insert(persons_runs_table).values(
        mode="", model="{}", started_at=started_at).returning(persons_runs_table.c.id)).scalar_one())


def finish_persons_run(session: Session, run_id: int, run: PersonsRunInfo) -> None:
    """Record what the run ``run_id`` did and its fitted model."""
    session.connection().execute(update(persons_runs_table).where(persons_runs_table.c.id == run_id).values(
        mode=run.mode, records=run.records, new_records=run.new_records, persons=run.persons, pairs=run.pairs,
        merged=run.merged, model=json.dumps(dict(run.model), sort_keys=True), started_at=run.started_at,
        finished_at=run.finished_at, inputs=json.dumps(dict(run.inputs), sort_keys=True)))


def load_latest_run(session: Session, with_model: bool = True) -> dict[str, Any] | None:
    """The latest run (its model and inputs decoded from JSON; an incremental run stores the model it used;
    a run before migration 0005 has empty inputs), or None. ``with_model=False`` leaves the model out (it
    is large: decoding it takes half a second)."""
    t = persons_runs_table.c
    columns = [c for c in persons_runs_table.c if with_model or c.name != "model"]
    got = session.connection().execute(select(*columns).order_by(t.id.desc()).limit(1)).mappings().first()
    if got is None:
        return None
    run = dict(got)
    if with_model:
        run["model"] = json.loads(run["model"]) if run["model"] else {}
    run["inputs"] = json.loads(run["inputs"]) if run.get("inputs") else {}
    return run


def load_persons_inputs(session: Session, parts: Sequence[str] = ("cases", "decisions", "register", "schema")
                        ) -> dict[str, str]:
    """A digest of each of ``parts`` as the store holds them now, without loading them into frames:

    ``cases``
        ``source, source_id, version_hash`` of every case: the version hash covers every stored field of
        the case and its parties (``store.versions``), so any ingest that changes a case (a status or
        level from an ``updates/`` export, a corrected name) or adds or drops one changes this;
    ``decisions``
        every analyst's merge and split;
    ``register``
        ``record_id, person_id, record_hash`` of every register row;
    ``schema``
        the Alembic revision (a migration may change what the derived tables hold).
    """
    c, d, r = cases_table.c, person_decisions_table.c, person_records_table.c
    columns = {"cases": (c.id, (c.source, c.source_id, c.version_hash)),
               "decisions": (d.id, (d.id, d.kind, d.left, d.right)),
               "register": (r.id, (r.record_id, r.person_id, r.record_hash))}
    out: dict[str, str] = {}
    for part in parts:
        if part == "schema":
            out[part] = MigrationContext.configure(session.connection()).get_current_revision() or ""
        else:
            order, fields = columns[part]
            out[part] = _digest(session, fields, order)
    return out


def count_derived(session: Session) -> tuple[int, int]:
    """(cases that repeat an earlier one, groups) as the last run stored them."""
    conn = session.connection()
    repeats = conn.execute(select(func.count()).select_from(case_matters_table)
                           .where(case_matters_table.c.is_repeat.is_(True))).scalar_one()
    groups = conn.execute(select(func.count()).select_from(person_groups_table)).scalar_one()
    return int(repeats), int(groups)


def add_decision(session: Session, kind: str, left: Sequence[str], right: Sequence[str], reason: str,
                 created_by: str, created_at: datetime) -> int:
    """Record an analyst's merge or split of two sets of record ids; returns its id."""
    if kind not in DECISION_KINDS:
        raise ValueError(f"a decision is 'merge' or 'split', not {kind!r}")
    if not reason.strip():
        raise ValueError("a merge or split needs a reason")
    if not left or not right or set(left) & set(right):
        raise ValueError("a merge or split needs two non-empty, disjoint sets of records")
    return int(session.connection().execute(insert(person_decisions_table).values(
        kind=kind, left=json.dumps(sorted(left)), right=json.dumps(sorted(right)), reason=reason.strip(),
        created_by=created_by, created_at=created_at).returning(person_decisions_table.c.id)).scalar_one())


def load_decisions(session: Session) -> pd.DataFrame:
    """Every decision (``DECISION_COLUMNS``; ``left`` and ``right`` as lists), oldest first."""
    c = person_decisions_table.c
    rows = session.connection().execute(select(*[c[n] for n in DECISION_COLUMNS]).order_by(c.created_at, c.id)).all()
    out = rows_frame(rows, list(DECISION_COLUMNS))
    for col in ("left", "right"):
        out[col] = [json.loads(v) for v in out[col]]
    return out


def save_matters(session: Session, matters: pd.DataFrame) -> None:
    """Make the stored matters exactly ``matters`` (``REPEAT_COLUMNS``, one row per case), writing only the
    rows that differ: a daily run changes the matters of a few cases (on the demo city's 216,467 cases,
    comparing and writing the difference takes 1.6 s with the commit, rewriting them all took 2.5 s)."""
    S.require_columns(matters.columns, REPEAT_COLUMNS, "save_matters")
    t, conn = case_matters_table, session.connection()
    wanted = [tuple(r.values()) for r in frame_records(matters, REPEAT_COLUMNS)]
    stored = {tuple(r) for r in conn.execute(select(*[t.c[n] for n in REPEAT_COLUMNS])).all()}
    fresh = [r for r in wanted if r not in stored]
    stale = stored.difference(wanted)
    src, sid = REPEAT_COLUMNS.index(S.SOURCE), REPEAT_COLUMNS.index(S.SOURCE_ID)
    by_source: dict[str, set[str]] = {}
    for row in (*stale, *fresh):         # a changed row: its old version is stale, its new one fresh
        by_source.setdefault(row[src], set()).add(row[sid])
    for source, ids in sorted(by_source.items()):
        for part in chunks(sorted(ids), 900):
            conn.execute(delete(t).where(t.c.source == source, t.c.source_id.in_(part)))
    rows = [dict(zip(REPEAT_COLUMNS, r, strict=True)) for r in fresh]
    for i in range(0, len(rows), _CHUNK):
        conn.execute(insert(t), rows[i:i + _CHUNK])


def load_matters(session: Session, source_ids: Sequence[str] | None = None, columns: Sequence[str] | None = None,
                 received_since: datetime | None = None) -> pd.DataFrame:
    """The matters and repeats of every case (``REPEAT_COLUMNS``, or those of ``columns``), or of the cases
    with ``source_ids``, or of the cases received since ``received_since``."""
    c = case_matters_table.c
    names = list(columns) if columns is not None else list(REPEAT_COLUMNS)
    stmt = select(*[c[n] for n in names]).order_by(c.source, c.source_id)
    if source_ids is not None:
        stmt = stmt.where(c.source_id.in_(sorted(set(source_ids))))
    if received_since is not None:
        k = cases_table.c
        stmt = stmt.join(cases_table, (k.source == c.source) & (k.source_id == c.source_id)) \
            .where(k.received_at >= received_since)
    rows = session.connection().execute(stmt).all()
    return rows_frame(rows, names)


def save_groups(session: Session, groups: pd.DataFrame, members: pd.DataFrame, group_cases: pd.DataFrame) -> None:
    """Replace the groups with these (``GROUP_COLUMNS``, ``MEMBER_COLUMNS``, ``GROUP_CASE_COLUMNS``)."""
    S.require_columns(groups.columns, GROUP_COLUMNS, "save_groups(groups)")
    S.require_columns(members.columns, MEMBER_COLUMNS, "save_groups(members)")
    S.require_columns(group_cases.columns, GROUP_CASE_COLUMNS, "save_groups(group_cases)")
    conn = session.connection()
    for table in (group_cases_table, group_members_table, person_groups_table):
        conn.execute(delete(table))
    groups = groups.assign(**{c: [json.dumps(list(v), ensure_ascii=False) for v in groups[c]]
                              for c in GROUP_JSON_COLUMNS})
    _insert(session, person_groups_table, groups, GROUP_COLUMNS)
    _insert(session, group_members_table, members, MEMBER_COLUMNS)
    _insert(session, group_cases_table, group_cases, GROUP_CASE_COLUMNS)


def load_groups(session: Session) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(groups, members, group_cases) as the last run stored them; list columns decoded."""
    conn = session.connection()
    g, m, k = person_groups_table.c, group_members_table.c, group_cases_table.c
    groups = rows_frame(conn.execute(select(*[g[n] for n in GROUP_COLUMNS])
                                                    .order_by(g.size.desc(), g.group_id)).all(), list(GROUP_COLUMNS))
    for col in GROUP_JSON_COLUMNS:
        groups[col] = [json.loads(v) for v in groups[col]]
    for col in ("first_seen", "last_seen"):
        groups[col] = pd.to_datetime(groups[col])
    members = rows_frame(conn.execute(select(*[m[n] for n in MEMBER_COLUMNS])
                                                     .order_by(m.group_id, m.person_id)).all(), list(MEMBER_COLUMNS))
    members["joined_at"] = pd.to_datetime(members["joined_at"])
    cases = rows_frame(conn.execute(select(*[k[n] for n in GROUP_CASE_COLUMNS])
                                                   .order_by(k.group_id, k.source, k.source_id)).all(), list(GROUP_CASE_COLUMNS))
    return groups, members, cases


def _digest(session: Session, fields: Sequence[Any], order: Any) -> str:
    """``<rows>:<32 hex digits>``: a digest of the text of ``fields`` of every row, in ``order``. The database
    joins each row's fields into one string (separated by a control character no stored value holds, a
    missing value empty), and the rows come through the driver's own cursor in blocks: the demo city's
    216,467 cases take 0.5 s, half of what SQLAlchemy rows joined in Python take, and no list of them all."""
    parts = [func.coalesce(f if isinstance(f.type, String) else cast(f, String), "") for f in fields]
    line = parts[0]
    for p in parts[1:]:
        line = line + _FIELD_SEP + p
    conn = session.connection()
    sql = str(select(line).order_by(order).compile(conn, compile_kwargs={"literal_binds": True}))
    h, n = hashlib.blake2b(digest_size=16), 0
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(50_000):
            n += len(rows)
            h.update(("".join([row[0] + _ROW_SEP for row in rows])).encode())
    finally:
        cursor.close()
    return f"{n}:{h.hexdigest()}"


def _insert(session: Session, table: Any, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    rows = frame_records(frame, columns)
    conn = session.connection()
    for i in range(0, len(rows), _CHUNK):
        conn.execute(insert(table), rows[i:i + _CHUNK])


def load_person_names(session: Session, person_ids: Sequence[str]) -> pd.DataFrame:
    """``person_id, name`` of every recorded party of these persons (for masked display names)."""
    if not person_ids:
        return pd.DataFrame(columns=["person_id", "name"])
    r, p, c = person_records_table.c, parties_table.c, cases_table.c
    out = []
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 500):
        stmt = (select(r.person_id, p.name).select_from(person_records_table)
                .join(cases_table, (c.source == r.source) & (c.source_id == r.source_id))
                .join(parties_table, (p.case_id == c.id) & (p.seq == r.seq))
                .where(r.person_id.in_(ids[start:start + 500])))
        out.append(rows_frame(session.connection().execute(stmt).all(), ["person_id", "name"]))
    return pd.concat(out, ignore_index=True)

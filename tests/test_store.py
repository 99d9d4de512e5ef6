"""Store: migrations match the models, case versioning, idempotent writes, round trips (SQLite + PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from riskwatch.config import load_settings
from riskwatch.schema import CASE_COLUMNS, PARTY_COLUMNS
from riskwatch.store import (
    add_version_columns,
    count_rows,
    dump_database,
    finish_batch,
    load_cases,
    load_events,
    load_parties,
    load_quarantine,
    make_engine,
    save_cases,
    save_notes,
    save_quarantine,
    start_batch,
    sync_reference,
    upgrade_database,
)
from riskwatch.store.models import Base

T0 = datetime(2024, 3, 1, 9, 30)
HSETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


def case_row(source_id: str, **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "hotline_12345", "source_id": source_id, "channel": "hotline_12345",
        "received_at": T0, "registered_at": T0 + timedelta(minutes=5), "due_at": T0 + timedelta(days=5),
        "closed_at": None, "updated_at": None, "category_code": "0101", "category_raw": "拖欠工资",
        "region_code": "339902001", "region_raw": "某区|某街道", "level": "district", "is_group": False,
        "headcount": 1, "handling_unit": "区人社局", "status": "received", "resolved": None,
        "satisfaction": "none", "returned_count": 0, "urgency": "一般", "content": "反映工地拖欠工资",
        "summary": "欠薪", "row_number": 2,
    }
    row.update(over)
    return row


def party_row(source_id: str, seq: int = 0, **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "hotline_12345", "source_id": source_id, "seq": seq, "role": "petitioner",
        "name": "张三", "id_number": "11010519491231002X", "id_valid": True, "phone": "13800138000",
        "phone_valid": True, "address": "某路1号", "region_code": "339902001", "account_id": None,
    }
    row.update(over)
    return row


def frames(cases: list[dict[str, object]], parties: list[dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = pd.DataFrame(cases, columns=list(CASE_COLUMNS))
    for col in ("received_at", "registered_at", "due_at", "closed_at", "updated_at"):
        c[col] = pd.to_datetime(c[col])
    p = pd.DataFrame(parties, columns=list(PARTY_COLUMNS))
    return c, p


def new_batch(session: Session, name: str = "f.csv") -> int:
    return start_batch(session, "hotline_12345", name, name.rjust(64, "0"), T0, "utf-8")


# --- migrations ----------------------------------------------------------------------------------
def test_migration_creates_the_models_schema(db_url: str) -> None:
    upgrade_database(db_url)
    upgrade_database(db_url)  # a second upgrade is a no-op
    engine = make_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diffs == []


# --- versions ------------------------------------------------------------------------------------
def test_version_hash_is_stable_and_sees_parties() -> None:
    c, p = frames([case_row("A1")], [party_row("A1")])
    h1 = add_version_columns(c, p)["version_hash"].iloc[0]
    assert add_version_columns(c.copy(), p.copy())["version_hash"].iloc[0] == h1
    assert len(h1) == 32
    c2, p2 = frames([case_row("A1")], [party_row("A1", phone="13900000000")])
    assert add_version_columns(c2, p2)["version_hash"].iloc[0] != h1
    out = add_version_columns(c, p)
    assert out["version_at"].iloc[0] == T0 + timedelta(minutes=5)  # max(received, registered)


# --- save_cases ------------------------------------------------------------------------------------
def test_new_unchanged_updated_older(session: Session) -> None:
    b = new_batch(session)
    v1 = case_row("A1")
    v2 = case_row("A1", status="closed", closed_at=T0 + timedelta(days=2), resolved=True, row_number=3)
    c1, p1 = frames([v1, case_row("B1")], [party_row("A1"), party_row("B1", name="李四")])
    assert save_cases(session, b, c1, p1) == (2, 0, 0, 0)
    assert save_cases(session, b, c1, p1) == (0, 0, 2, 0)
    before = dump_database(session)
    assert count_rows(session)["case_events"] == 2

    c2, p2 = frames([v2], [party_row("A1", name="张三丰"), party_row("A1", 1, role="co_petitioner")])
    assert save_cases(session, b, c2, p2) == (0, 1, 0, 0)
    cases = load_cases(session).set_index("source_id")
    assert cases.loc["A1", "status"] == "closed" and bool(cases.loc["A1", "resolved"]) is True
    parties = load_parties(session)
    assert parties[parties.source_id == "A1"]["name"].tolist() == ["张三丰", "张三"]
    assert len(load_events(session)) == 3

    # the first version again: older, the case is untouched, nothing new in history
    assert save_cases(session, b, c1.iloc[:1], p1.iloc[:1]) == (0, 0, 0, 1)
    assert load_cases(session).set_index("source_id").loc["A1", "status"] == "closed"
    assert len(load_events(session)) == 3
    assert not dump_database(session)["cases"].equals(before["cases"])


def test_older_version_is_recorded_as_event(session: Session) -> None:
    b = new_batch(session)
    v1 = case_row("A1")
    v2 = case_row("A1", status="in_progress", updated_at=T0 + timedelta(days=1))
    v3 = case_row("A1", status="closed", updated_at=T0 + timedelta(days=3))
    for v in (v3, v1, v2):
        c, p = frames([v], [party_row("A1")])
        save_cases(session, b, c, p)
    assert load_cases(session)["status"].tolist() == ["closed"]
    ev = load_events(session)
    assert len(ev) == 3
    snaps = sorted(json.loads(s)["status"] for s in ev["snapshot"])
    assert snaps == ["closed", "in_progress", "received"]


def test_duplicates_in_one_chunk_are_successive_versions(session: Session) -> None:
    b = new_batch(session)
    v1 = case_row("A1", row_number=2)
    v2 = case_row("A1", status="closed", closed_at=T0 + timedelta(days=1), row_number=3)
    c, p = frames([v2, v1, v1], [party_row("A1")])
    assert save_cases(session, b, c, p) == (1, 1, 1, 0)
    assert load_cases(session)["status"].tolist() == ["closed"]
    assert len(load_events(session)) == 2
    assert len(load_parties(session)) == 1


VERSIONS = [
    case_row("A1"),
    case_row("A1", status="in_progress", registered_at=T0 + timedelta(hours=1)),
    case_row("A1", status="returned", returned_count=1, registered_at=T0 + timedelta(hours=1)),
    case_row("A1", status="closed", closed_at=T0 + timedelta(days=3), satisfaction="satisfied"),
    case_row("B1", level="city"),
    case_row("B1", level="province", content="再次反映"),
    case_row("C1", updated_at=T0 + timedelta(days=9), content="同一时间 A"),
    case_row("C1", updated_at=T0 + timedelta(days=9), content="同一时间 B"),
]


@HSETTINGS
@given(order=st.permutations(range(len(VERSIONS))), split=st.integers(0, len(VERSIONS)))
def test_result_does_not_depend_on_order(db_url: str, order: list[int], split: int) -> None:
    dumps = []
    for perm in (list(range(len(VERSIONS))), order):
        # fresh schema per run: drop everything, migrate again
        engine = make_engine(db_url)
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
        upgrade_database(db_url)
        engine = make_engine(db_url)
        with Session(engine) as s:
            b = new_batch(s)
            rows = [VERSIONS[i] for i in perm]
            for chunk in (rows[:split], rows[split:]):
                if chunk:
                    ids = {r["source_id"] for r in chunk}
                    c, p = frames(chunk, [party_row(i) for i in sorted(ids)])
                    save_cases(s, b, c, p)
            s.commit()
            dumps.append(dump_database(s))
        engine.dispose()
    for name in dumps[0]:
        pd.testing.assert_frame_equal(dumps[0][name], dumps[1][name], obj=name)


# --- round trip ------------------------------------------------------------------------------------
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
cjk_text = st.one_of(safe_text, st.sampled_from(["拖欠工资😡", "他说:\"还钱\"'", "  空格  ", "換行\n第二行", "𠮷野家"]))
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@HSETTINGS
@given(data=st.lists(st.tuples(cjk_text, cjk_text, times, st.one_of(st.none(), times), st.booleans(),
                               st.integers(1, 500), st.one_of(st.none(), st.booleans())),
                     min_size=1, max_size=6))
def test_round_trip(session: Session, data: list[tuple]) -> None:
    session.rollback()
    b = new_batch(session)
    rows = [case_row(f"R{i}", content=content, summary=summary, received_at=rec, registered_at=None,
                     closed_at=closed, is_group=grp, headcount=hc, resolved=res)
            for i, (content, summary, rec, closed, grp, hc, res) in enumerate(data)]
    c, p = frames(rows, [party_row(f"R{i}", name=d[0][:10]) for i, d in enumerate(data)])
    save_cases(session, b, c, p)
    got = load_cases(session)
    want = c.drop(columns=["row_number"]).sort_values("source_id").reset_index(drop=True)
    got = got.sort_values("source_id").reset_index(drop=True)
    for col in want.columns:
        w, g = want[col], got[col]
        if col in ("received_at", "registered_at", "due_at", "closed_at", "updated_at"):
            assert g.dtype.kind == "M"
            assert g.astype("datetime64[us]").tolist() == w.astype("datetime64[us]").tolist(), col
        else:
            assert [None if pd.isna(x) else x for x in g.astype(object)] == \
                   [None if pd.isna(x) else x for x in w.astype(object)], col
    session.rollback()


def test_load_cases_window_and_columns(session: Session) -> None:
    b = new_batch(session)
    c, p = frames([case_row("A1"), case_row("B1", received_at=T0 + timedelta(days=10))], [])
    save_cases(session, b, c, p)
    assert load_cases(session, start=T0 + timedelta(days=1))["source_id"].tolist() == ["B1"]
    assert load_cases(session, end=T0 + timedelta(days=1))["source_id"].tolist() == ["A1"]
    got = load_cases(session, columns=["case_id", "source_id", "version_hash", "received_at"])
    assert list(got.columns) == ["case_id", "source_id", "version_hash", "received_at"]
    assert got["received_at"].dtype.kind == "M"


# --- quarantine, notes, batches ----------------------------------------------------------------------
def test_quarantine_and_notes_are_idempotent(session: Session) -> None:
    b = new_batch(session)
    q = pd.DataFrame({"row_number": [5, 5, 9], "field": ["received_at", "phone", "source_id"],
                      "reason": ["不是日期", "号码位数不对", "空"],
                      "raw": [json.dumps({"受理时间": "昨天"}, ensure_ascii=False)] * 3})
    save_quarantine(session, b, "f.csv", q)
    save_quarantine(session, b, "f.csv", q)
    got = load_quarantine(session)
    assert len(got) == 3 and got["reason"].tolist()[0] == "号码位数不对"
    notes = pd.DataFrame({"row_number": [3], "field": ["category"], "note": ["未分类"]})
    save_notes(session, b, notes)
    save_notes(session, b, notes)
    assert count_rows(session)["ingest_notes"] == 1


def test_batch_is_one_row_per_file_content(session: Session) -> None:
    b1 = start_batch(session, "hotline_12345", "a.csv", "ab" * 32, T0, "gb18030")
    b2 = start_batch(session, "hotline_12345", "a-copy.csv", "ab" * 32, T0 + timedelta(hours=1), "gb18030")
    assert b1 == b2 and count_rows(session)["ingest_batches"] == 1
    assert finish_batch(session, b1, finished_at=T0 + timedelta(minutes=1), rows_read=10, rows_new=10)
    assert not finish_batch(session, b1, finished_at=T0 + timedelta(hours=2), rows_read=10, rows_unchanged=10)
    batches = dump_database(session)["ingest_batches"]
    assert batches["rows_read"].tolist() == [10]


def test_sync_reference_is_idempotent(session: Session) -> None:
    cfg = load_settings()
    sync_reference(session, cfg)
    first = dump_database(session)
    sync_reference(session, cfg)
    second = dump_database(session)
    for t in ("regions", "categories", "staff"):
        pd.testing.assert_frame_equal(first[t], second[t])
    counts = count_rows(session)
    assert counts["regions"] == len(cfg.regions.regions)
    assert counts["categories"] == len(cfg.taxonomy.categories)
    assert counts["staff"] == len(cfg.staff)


@pytest.mark.parametrize("n", [3000])
def test_bulk_chunk_with_updates(session: Session, n: int) -> None:
    b = new_batch(session)
    rows = [case_row(f"X{i:06d}") for i in range(n)]
    c, p = frames(rows, [party_row(f"X{i:06d}") for i in range(n)])
    assert save_cases(session, b, c, p) == (n, 0, 0, 0)
    c2 = c.copy()
    c2.loc[: n // 2 - 1, "status"] = "closed"
    assert save_cases(session, b, c2, p) == (0, n // 2, n - n // 2, 0)
    counts = count_rows(session)
    assert counts["cases"] == n and counts["parties"] == n and counts["case_events"] == n + n // 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(-10**9, 10**9)),
                          st.one_of(st.none(), st.floats(allow_nan=False)),
                          st.one_of(st.none(), st.text(max_size=5)),
                          st.one_of(st.none(), st.datetimes(min_value=datetime(1990, 1, 1),
                                                            max_value=datetime(2100, 1, 1)))),
                max_size=8))
def test_rows_frame_is_from_records(rows: list[tuple[Any, ...]]) -> None:
    from riskwatch.store.frames import rows_frame

    names = ["i", "f", "s", "t"]
    pd.testing.assert_frame_equal(rows_frame(rows, names), pd.DataFrame.from_records(rows, columns=names))

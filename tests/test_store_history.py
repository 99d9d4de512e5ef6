"""Cases as known at a past time (``store.history``, ``store.load_cases_as_of``): the version in force then,
a later closing undone, old snapshots, and the property that a store read as of a time equals a store that
was given only the versions dated by then (SQLite + PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from test_store import T0, case_row, frames, new_batch, party_row

from riskwatch.store import (
    load_case_history,
    load_cases,
    load_cases_as_of,
    make_engine,
    save_cases,
    upgrade_database,
)
from riskwatch.store.history import cases_as_of, undo_later_closings
from riskwatch.store.models import Base
from riskwatch.store.versions import TRACKED_FIELDS

DAY = timedelta(days=1)
COMPARED = ["source", "source_id", "received_at", *TRACKED_FIELDS]


def save(session: Session, rows: list[dict[str, object]]) -> None:
    b = new_batch(session)
    for row in rows:  # one call per version: each a later export
        c, p = frames([row], [party_row(str(row["source_id"]))])
        save_cases(session, b, c, p)


def comparable(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    f = frame[COMPARED].sort_values(["source", "source_id"])
    return [tuple(None if pd.isna(v) else v for v in row) for row in f.astype(object).itertuples(index=False)]


# --- the pure reading -------------------------------------------------------------------------------
def test_the_version_in_force_is_read_and_a_later_closing_undone() -> None:
    latest = pd.DataFrame({"case_id": [1, 2], "version_at": pd.to_datetime(["2024-03-20", "2024-02-01"]),
                           "closed_at": pd.to_datetime(["2024-03-20", "2024-02-01"]),
                           "status": ["closed", "closed"], "level": ["city", "district"],
                           "satisfaction": ["dissatisfied", "satisfied"], "resolved": [True, True],
                           "category_code": ["0202", "0101"]})
    latest["resolved"] = latest["resolved"].astype("boolean")
    snap = {"status": "in_progress", "level": "district", "closed_at": None, "returned_count": 0,
            "satisfaction": "none", "resolved": None, "due_at": "2024-03-10T00:00:00", "handling_unit": "区人社局",
            "category_code": "0101", "region_code": "339902001", "channel": "hotline_12345", "is_group": False,
            "headcount": 1, "urgency": "一般"}
    versions = pd.DataFrame({"case_id": [1, 1], "at": pd.to_datetime(["2024-03-01", "2024-03-20"]),
                             "version_hash": ["a", "b"],
                             "snapshot": [json.dumps(snap), json.dumps({**snap, "status": "closed"})]})
    got = cases_as_of(latest, versions, pd.Timestamp("2024-03-10"))
    assert got.loc[0, ["status", "level", "category_code", "satisfaction"]].tolist() == \
        ["in_progress", "district", "0101", "none"]
    assert pd.isna(got.loc[0, "closed_at"]) and pd.isna(got.loc[0, "resolved"])
    assert got.loc[1].equals(latest.loc[1])          # not changed since: read as stored
    assert list(got.dtypes) == list(latest.dtypes)
    assert cases_as_of(latest, versions, pd.Timestamp("2024-04-01")).equals(latest)


def test_undo_later_closings_leaves_earlier_ones() -> None:
    frame = pd.DataFrame({"closed_at": pd.to_datetime(["2024-01-05", "2024-02-05", None]),
                          "status": ["closed", "closed", "returned"],
                          "satisfaction": ["satisfied", "dissatisfied", "none"]})
    got = undo_later_closings(frame.copy(), pd.Timestamp("2024-02-01"))
    assert got["status"].tolist() == ["closed", "in_progress", "returned"]
    assert got["satisfaction"].tolist() == ["satisfied", "none", "none"]
    assert got["closed_at"].isna().tolist() == [False, True, True]


# --- the store ----------------------------------------------------------------------------------------
def test_later_exports_do_not_change_a_past_reading(session: Session) -> None:
    """Closed, escalated, returned, reclassified after the as-of: the reading as of then is unchanged."""
    v1 = case_row("A1", updated_at=T0 + DAY)
    save(session, [v1, case_row("B1", updated_at=T0 + DAY)])
    as_of = T0 + 3 * DAY
    before = load_cases_as_of(session, as_of)
    assert before.equals(load_cases(session))  # nothing after as_of: the stored cases as they are
    save(session, [
        case_row("A1", status="closed", closed_at=T0 + 5 * DAY, updated_at=T0 + 5 * DAY, satisfaction="dissatisfied",
                 resolved=False, level="city", returned_count=2, category_code="0202", region_code="339901001"),
        case_row("B1", status="returned", returned_count=1, updated_at=T0 + 4 * DAY, is_group=True, headcount=7),
    ])
    after = load_cases_as_of(session, as_of)
    assert comparable(after) == comparable(before)
    latest = load_cases(session).set_index("source_id")
    assert latest.loc["A1", "category_code"] == "0202" and latest.loc["B1", "headcount"] == 7
    # and as of a later time, the later versions
    assert comparable(load_cases_as_of(session, T0 + 10 * DAY)) == comparable(load_cases(session))


def test_a_case_only_known_from_a_later_export_is_read_open(session: Session) -> None:
    """Received before the as-of, first exported after it was closed: there, open and not yet rated."""
    save(session, [case_row("A1", status="closed", closed_at=T0 + 5 * DAY, updated_at=T0 + 5 * DAY,
                            satisfaction="satisfied", resolved=True, level="city")])
    got = load_cases_as_of(session, T0 + 2 * DAY).iloc[0]
    assert got["status"] == "in_progress" and pd.isna(got["closed_at"]) and pd.isna(got["resolved"])
    assert got["satisfaction"] == "none" and got["level"] == "city"  # the earliest level the store knows
    assert len(load_cases_as_of(session, T0 - DAY, end=T0 - DAY)) == 0  # received later: not known then


def test_window_and_columns_as_of(session: Session) -> None:
    """start / open_at / columns as in load_cases, the open-at test on the closing as of then."""
    save(session, [
        case_row("OLD", received_at=T0 - 40 * DAY, status="closed", closed_at=T0 - 34 * DAY),
        case_row("REOPENED", received_at=T0 - 40 * DAY, status="closed", closed_at=T0 - 35 * DAY,
                 updated_at=T0 - 35 * DAY),
        case_row("REOPENED", received_at=T0 - 40 * DAY, status="in_progress", updated_at=T0 + 9 * DAY),
        case_row("LATE", received_at=T0 - 40 * DAY, status="closed", closed_at=T0 + 9 * DAY),
        case_row("NEW", received_at=T0 + DAY),
    ])
    got = load_cases_as_of(session, T0 + 2 * DAY, start=T0, end=T0 + 2 * DAY, open_at=T0 - 32 * DAY,
                           columns=["source_id", "status"])
    assert list(got.columns) == ["source_id", "status"]
    assert dict(zip(got["source_id"], got["status"], strict=True)) == {"LATE": "in_progress", "NEW": "received"}
    later = load_cases_as_of(session, T0 + 10 * DAY, start=T0, open_at=T0 - 32 * DAY, columns=["source_id"])
    assert sorted(later["source_id"]) == ["LATE", "NEW", "REOPENED"]


def test_history_reads_events_only_for_cases_changed_after_its_start(session: Session) -> None:
    save(session, [case_row("A1", updated_at=T0 + DAY),
                   case_row("A1", status="closed", closed_at=T0 + 5 * DAY, updated_at=T0 + 5 * DAY),
                   case_row("B1", updated_at=T0 + DAY)])
    assert load_case_history(session, T0 + 6 * DAY).versions.empty
    history = load_case_history(session, T0 + 2 * DAY)
    assert history.versions["case_id"].nunique() == 1 and len(history.versions) == 2
    assert history.at(T0 + 2 * DAY)["status"].tolist() == ["received", "received"]
    assert history.at(T0 + 6 * DAY)["status"].tolist() == ["closed", "received"]
    with pytest.raises(ValueError, match="before the history's start"):
        history.at(T0)


def test_a_snapshot_written_before_a_field_was_tracked_reads_the_stored_value(session: Session) -> None:
    save(session, [case_row("A1", updated_at=T0 + DAY),
                   case_row("A1", status="closed", closed_at=T0 + 5 * DAY, updated_at=T0 + 5 * DAY,
                            category_code="0202")])
    conn = session.connection()
    rows = conn.exec_driver_sql("SELECT id, snapshot FROM case_events").all()
    for event_id, snapshot in rows:  # as an event of an older riskwatch: no category, region, ...
        old = {k: v for k, v in json.loads(snapshot).items() if k not in ("category_code", "region_code")}
        conn.exec_driver_sql("UPDATE case_events SET snapshot = %s WHERE id = %s"
                             if session.get_bind().dialect.name == "postgresql"
                             else "UPDATE case_events SET snapshot = ? WHERE id = ?", (json.dumps(old), event_id))
    got = load_cases_as_of(session, T0 + 2 * DAY).iloc[0]
    assert got["status"] == "received" and got["category_code"] == "0202"


# --- the property -----------------------------------------------------------------------------------
STATUSES = ["received", "in_progress", "returned", "closed"]
version_st = st.tuples(
    st.sampled_from(["A1", "B1", "C1"]),
    st.integers(0, 12),                               # update day (None: dated by its other times)
    st.booleans(),                                    # has an update time
    st.sampled_from(STATUSES),
    st.sampled_from(["district", "city", "province"]),
    st.integers(0, 3),                                # returned count
    st.sampled_from(["0101", "0202"]),
    st.sampled_from(["339902001", "339901001"]),
)


def version_row(i: int, v: tuple[object, ...]) -> dict[str, object]:
    sid, day, dated, status, level, returned, category, region = v
    at = T0 + timedelta(days=int(day), hours=i % 5)  # type: ignore[arg-type]
    closed = at if status == "closed" else None
    return case_row(str(sid), updated_at=at if dated else None, status=status, closed_at=closed, level=level,
                    returned_count=returned, category_code=category, region_code=region,
                    satisfaction="satisfied" if closed else "none", content=f"第{i}次导出")


def fresh(db_url: str) -> None:
    engine = make_engine(db_url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    upgrade_database(db_url)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(versions=st.lists(version_st, min_size=1, max_size=8), day=st.integers(0, 13), order=st.randoms())
def test_a_past_reading_equals_a_store_given_only_the_versions_dated_by_then(
        db_url: str, versions: list[tuple[object, ...]], day: int, order: object) -> None:
    rows = [version_row(i, v) for i, v in enumerate(versions)]
    as_of = T0 + timedelta(days=day, hours=2)
    dated = pd.DataFrame(rows).assign(version_at=lambda f: f["updated_at"].fillna(
        f[["received_at", "registered_at", "closed_at"]].max(axis=1)))
    known = [r for r, t in zip(rows, dated["version_at"], strict=True) if t <= as_of]
    shuffled = list(rows)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    readings = []
    for given_rows, read in ((known, lambda s: undo_later_closings(load_cases(s), pd.Timestamp(as_of))),
                             (shuffled, lambda s: load_cases_as_of(s, as_of))):
        fresh(db_url)
        engine = make_engine(db_url)
        with Session(engine) as s:
            save(s, given_rows)
            s.commit()
            readings.append(read(s))
        engine.dispose()
    want, got = readings
    got = got[got["source_id"].isin(want["source_id"])]  # the cases with a version dated by then
    assert comparable(got) == comparable(want)


def test_as_of_reading_is_fast_when_nothing_changed_since(session: Session) -> None:
    """No case with a version after the as-of: the reading is load_cases itself (no event read)."""
    save(session, [case_row(f"X{i}", updated_at=T0 + DAY) for i in range(3)])
    history = load_case_history(session, datetime(2030, 1, 1))
    assert history.versions.empty
    pd.testing.assert_frame_equal(history.at(pd.Timestamp(2030, 1, 1)), load_cases(session))


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=5),
       flags=st.lists(st.one_of(st.none(), st.booleans()), min_size=5, max_size=5))
def test_snapshot_json_reads_back_as_the_values(texts: list[str | None], flags: list[bool | None]) -> None:
    from riskwatch.store.versions import snapshot_json

    rows = [case_row(f"S{i}", handling_unit=t, resolved=flags[i], closed_at=T0 + i * DAY if i % 2 else None,
                     returned_count=i, is_group=bool(i % 2)) for i, t in enumerate(texts)]
    c, _ = frames(rows, [])
    c["resolved"] = c["resolved"].astype("boolean")
    for snap, row in zip(snapshot_json(c), rows, strict=True):
        got = json.loads(snap)
        assert list(got) == list(TRACKED_FIELDS)
        assert got["handling_unit"] == row["handling_unit"] and got["resolved"] == row["resolved"]
        assert got["returned_count"] == row["returned_count"] and got["is_group"] == row["is_group"]
        assert got["closed_at"] == (None if row["closed_at"] is None else row["closed_at"].isoformat())
        assert got["received_at"] == T0.isoformat() and got["status"] == "received"

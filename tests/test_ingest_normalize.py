"""normalize_chunk on tiny raw frames: quarantine rules, dates, categories, regions, values, parties, notes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskwatch.config import load_settings
from riskwatch.ingest.dates import parse_datetimes
from riskwatch.ingest.normalize import NOTE_COLUMNS, TOTAL_ROW_REASON, normalize_chunk
from riskwatch.ingest.refs import build_refs, resolve_category, resolve_region
from riskwatch.schema import CASE_COLUMNS, PARTY_COLUMNS, QUARANTINE_COLUMNS, UNCLASSIFIED

SETTINGS = load_settings()
REFS = build_refs(SETTINGS)
HOTLINE = SETTINGS.mappings["hotline_12345"]
PETITION = SETTINGS.mappings["petition_register"]
CITY = SETTINGS.regions.root
VALID_ID = "11010519491231002X"


def raw_frame(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, dtype=object)
    df = df.astype(object).where(df.notna(), None)
    df["row_number"] = np.arange(2, len(df) + 2, dtype="int64")
    return df


def base(**kw: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {"工单编号": "A1", "来电时间": "2024-03-05 14:30:00"}
    row.update(kw)
    return row


def notes_for(chunk, field: str) -> list[str]:  # type: ignore[no-untyped-def]
    n = chunk.notes
    return n.loc[n["field"] == field, "note"].tolist()


def test_output_columns_and_dtypes() -> None:
    out = normalize_chunk(raw_frame([base(来电人="张三", 联系电话="13812345678"), base(工单编号="")]), HOTLINE, REFS, "f.csv")
    assert tuple(out.cases.columns) == CASE_COLUMNS
    assert tuple(out.parties.columns) == (*PARTY_COLUMNS, "row_number")
    assert tuple(out.quarantine.columns) == QUARANTINE_COLUMNS
    assert tuple(out.notes.columns) == NOTE_COLUMNS
    c = out.cases
    assert c["received_at"].dtype == "datetime64[ns]" and c["closed_at"].dtype == "datetime64[ns]"
    assert c["is_group"].dtype == bool and c["headcount"].dtype == "int64" and c["returned_count"].dtype == "int64"
    assert c["resolved"].dtype == "boolean" and c["row_number"].dtype == "int64"
    for col in ("source", "source_id", "channel", "category_code", "region_code", "status", "content"):
        assert c[col].dtype == object, col
    p = out.parties
    assert p["seq"].dtype == "int64" and p["id_valid"].dtype == bool and p["phone_valid"].dtype == bool
    assert p["name"].dtype == object and p["id_number"].iloc[0] is None


def test_quarantine_rules_and_raw_json() -> None:
    rows = [
        base(),
        base(工单编号="  "),
        base(工单编号="A3", 来电时间="2024-02-30 10:00"),
        base(工单编号="A4", 来电时间=None),
        base(工单编号="A5", 来电时间="待补录"),
        {"工单编号": "合计", "来电时间": "共5条"},
    ]
    raw = raw_frame(rows)
    raw["is_total_row"] = [False] * 5 + [True]
    raw["extra_cells"] = [None] * 6
    raw.loc[0, "extra_cells"] = "垃圾|数据"
    out = normalize_chunk(raw, HOTLINE, REFS, "f.csv")
    assert out.cases.empty
    q = out.quarantine.set_index("row_number")
    assert q.loc[2, "reason"].startswith("structurally broken row")
    assert q.loc[3, "field"] == "source_id"
    assert q.loc[4, "reason"] == "received_at unparseable"
    assert q.loc[5, "reason"] == "received_at missing"
    assert q.loc[6, "reason"] == "received_at unparseable"
    assert q.loc[7, "reason"] == TOTAL_ROW_REASON
    raw3 = json.loads(q.loc[4, "raw"])
    assert raw3 == {"工单编号": "A3", "来电时间": "2024-02-30 10:00"}
    assert "合计" in q.loc[7, "raw"]  # ensure_ascii=False


def test_duplicate_ids_are_kept() -> None:
    out = normalize_chunk(raw_frame([base(工单状态="已受理"), base(工单状态="已办结", 办结时间="2024-03-06")]), HOTLINE, REFS, "f")
    assert out.cases["source_id"].tolist() == ["A1", "A1"]
    assert out.cases["status"].tolist() == ["received", "closed"]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-05", "2024-03-05 00:00:00"),
    ("2024-03-05 14:30:00", "2024-03-05 14:30:00"),
    ("2024-03-05T14:30:00+08:00", "2024-03-05 14:30:00"),
    ("2024-03-05T06:30:00Z", "2024-03-05 14:30:00"),
    ("2024-03-05T14:30:00-05:00", "2024-03-06 03:30:00"),
    ("2024/3/5", "2024-03-05 00:00:00"),
    ("2024/3/5 14:30", "2024-03-05 14:30:00"),
    ("2024年3月5日", "2024-03-05 00:00:00"),
    ("2024年3月5日 14:30", "2024-03-05 14:30:00"),
    ("2024.3.5", "2024-03-05 00:00:00"),
    ("45356", "2024-03-05 00:00:00"),
    ("45356.604166", "2024-03-05 14:30:00"),
    ("２０２４－０３－０５", "2024-03-05 00:00:00"),
    ("2024-02-29", "2024-02-29 00:00:00"),
    ("2024-02-30", None),
    ("2023-02-29 10:00:00", None),
    ("2024-03-05 25:61", None),
    ("待补录", None),
    ("3", None),
])
def test_parse_datetimes(text: str, expected: str | None) -> None:
    parsed, bad = parse_datetimes(pd.Series([text], dtype=object))
    if expected is None:
        assert pd.isna(parsed.iloc[0]) and bool(bad.iloc[0])
    else:
        assert parsed.iloc[0] == pd.Timestamp(expected) and not bool(bad.iloc[0])


def test_other_dates_unparseable_are_noted_not_quarantined() -> None:
    out = normalize_chunk(raw_frame([base(办结时间="不详")]), HOTLINE, REFS, "f")
    assert len(out.cases) == 1 and pd.isna(out.cases["closed_at"].iloc[0])
    assert notes_for(out, "closed_at") == ["unparseable date: 不详"]


@pytest.mark.parametrize(("label", "code"), [
    ("劳动社保-欠薪", "0101"), ("劳动社保/欠薪", "0101"), ("劳动社保>欠薪", "0101"), ("劳动社保›欠薪", "0101"),
    ("欠薪", "0101"), ("拖欠农民工工资", "0101"), (" 劳动社保 - 欠 薪 ", "0101"), ("劳动社保", "01"),
    ("城建-烂尾楼", "0202"), ("其他", "99"),
])
def test_category_labels(label: str, code: str) -> None:
    assert resolve_category(REFS, label, None, None) == (code, True)


def test_category_pair_and_unknown() -> None:
    assert resolve_category(REFS, None, "劳动社保", "欠薪") == ("0101", True)
    assert resolve_category(REFS, None, "劳动社保", "不存在") == ("01", True)
    out = normalize_chunk(raw_frame([base(问题分类="外星人入侵")]), HOTLINE, REFS, "f")
    assert out.cases["category_code"].iloc[0] == UNCLASSIFIED
    assert out.cases["category_raw"].iloc[0] == "外星人入侵"
    assert notes_for(out, "category")[0].startswith("unknown category: 外星人入侵")
    pair = normalize_chunk(raw_frame([base(一级分类="劳动社保", 二级分类="欠薪")]), HOTLINE, REFS, "f")
    assert pair.cases["category_code"].iloc[0] == "0101" and pair.cases["category_raw"].iloc[0] == "劳动社保/欠薪"


def test_regions() -> None:
    grid = "339902001001001"
    assert resolve_region(REFS, grid, (None, None, None, None)) == (grid, "")
    assert resolve_region(REFS, None, ("东湖区", "康明街道", "丰北社区", "丰北社区第1网格")) == (grid, "")
    assert resolve_region(REFS, None, ("东湖", "康明", "丰北", "第1网格")) == (grid, "")
    assert resolve_region(REFS, None, (None, "康明街道", None, None))[0] == "339902001"
    code, problem = resolve_region(REFS, None, ("东湖区", "康明街道", "不存在社区", None))
    assert code == "339902001" and "不存在社区" in problem
    code, problem = resolve_region(REFS, None, (None, None, None, None))
    assert code == CITY and problem
    code, problem = resolve_region(REFS, "339902001001999", (None, None, None, None))
    assert code == "339902001001" and problem  # unknown grid code -> its community
    out = normalize_chunk(raw_frame([base(所属区县="东湖区", 所属街道="康明街道", 所属社区="火星社区")]), HOTLINE, REFS, "f")
    assert out.cases["region_code"].iloc[0] == "339902001"
    assert out.cases["region_raw"].iloc[0] == "东湖区/康明街道/火星社区"
    assert notes_for(out, "region")[0].startswith("region unresolved")


def test_values_defaults_and_numbers() -> None:
    rows = [
        base(来源渠道="12328热线", 工单状态="办理中", 满意度="满意", 是否解决="是", 诉求层级="市级", 诉求人数=" ６ ", 退单次数="2.0"),
        base(来源渠道="飞鸽", 工单状态="神秘", 满意度="很好", 是否解决="也许", 诉求人数="许多", 退单次数="x"),
        base(办结时间="2024-03-06 10:00"),
    ]
    out = normalize_chunk(raw_frame(rows), HOTLINE, REFS, "f")
    c = out.cases
    assert c["channel"].tolist() == ["hotline_12328", "hotline_12345", "hotline_12345"]
    assert c["status"].tolist() == ["in_progress", "received", "closed"]
    assert c["satisfaction"].tolist() == ["satisfied", "none", "none"]
    assert c["resolved"].tolist()[0] is True and pd.isna(c["resolved"].iloc[1])
    assert c["level"].tolist() == ["city", "district", "district"]
    assert c["headcount"].tolist() == [6, 1, 1]
    assert c["is_group"].tolist() == [True, False, False]
    assert c["returned_count"].tolist() == [2, 0, 0]
    noted = set(out.notes.loc[out.notes["row_number"] == 3, "field"])
    assert {"channel", "status", "satisfaction", "resolved", "headcount", "returned_count"} <= noted


def test_free_text_truncation_and_formula_like() -> None:
    huge = "很长" * 15000
    out = normalize_chunk(raw_frame([base(诉求内容="  多个   空格\n\n换行  ", 标题="=cmd|' /C calc'!A0"),
                                     base(诉求内容=huge), base(诉求内容="-楼上噪音")]), HOTLINE, REFS, "f")
    c = out.cases
    assert c["content"].iloc[0] == "多个 空格 换行"
    assert c["summary"].iloc[0] == "=cmd|' /C calc'!A0"  # kept verbatim
    assert notes_for(out, "summary")[0].startswith("formula-like text")
    assert len(c["content"].iloc[1]) == REFS.max_field_chars
    assert notes_for(out, "content") == [f"truncated: 30000 chars to {REFS.max_field_chars}"]


def test_parties_and_co_parties() -> None:
    rows = [
        {"信访件编号": "P1", "信访日期": "2024年3月5日", "信访人姓名": "张三", "证件号码": "110105491231002",
         "联系电话": "138 1234 5678", "住址": "临海市东湖区康明街道", "人数": "3",
         "联名人": "李四|11010519491231002X|13912345678|某地；王五||0571-88889999|;赵六|123|abc|"},
        {"信访件编号": "P2", "信访日期": "2024-03-06", "信访人姓名": None, "证件号码": None, "联系电话": None},
        {"信访件编号": "P3", "信访日期": "2024-03-06", "证件号码": "110105194912310021"},
    ]
    out = normalize_chunk(raw_frame(rows), PETITION, REFS, "f")
    p = out.parties
    assert p["source_id"].tolist() == ["P1", "P1", "P1", "P1", "P3"]
    assert p["seq"].tolist() == [0, 1, 2, 3, 0]
    assert p["role"].tolist() == ["petitioner", "co_petitioner", "co_petitioner", "co_petitioner", "petitioner"]
    first = p.iloc[0]
    assert first["id_number"] == VALID_ID and first["id_valid"] and first["phone"] == "13812345678"
    assert p.iloc[2]["name"] == "王五" and p.iloc[2]["id_number"] is None and p.iloc[2]["phone"] == "0571-88889999"
    assert p.iloc[3]["address"] is None and not p.iloc[3]["phone_valid"]
    assert p.iloc[4]["id_number"] == "110105194912310021" and not p.iloc[4]["id_valid"]
    assert (p["region_code"] == out.cases["region_code"].iloc[0]).all()
    assert notes_for(out, "id_number") == ["invalid id number: kept as 110105194912310021"]
    assert any(n.startswith("invalid id number") for n in notes_for(out, "co_parties"))
    assert out.notes.duplicated(["row_number", "field"]).sum() == 0


# --- properties -----------------------------------------------------------------------------------
CELL = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["2024-03-05", "2024/3/5 14:30", "45356", "2024-02-30", "合计", "=1+1", "A1", "欠薪", "东湖区", "是", "３"]))
COLUMNS = ["工单编号", "来电时间", "问题分类", "所属区县", "诉求人数", "工单状态", "来电人", "证件号码", "联系电话", "诉求内容"]


@given(st.lists(st.fixed_dictionaries({c: CELL for c in COLUMNS}), min_size=0, max_size=25),
       st.lists(st.booleans(), min_size=25, max_size=25))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_row_is_a_case_or_quarantined(rows: list[dict[str, str | None]], totals: list[bool]) -> None:
    raw = raw_frame(rows) if rows else pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}).assign(
        row_number=pd.Series(dtype="int64"))
    raw["is_total_row"] = totals[: len(raw)]
    out = normalize_chunk(raw, HOTLINE, REFS, "junk.csv")
    assert len(out.cases) + len(out.quarantine) == len(raw)
    assert set(out.cases["row_number"]).isdisjoint(out.quarantine["row_number"])
    assert out.cases["received_at"].notna().all()
    assert out.cases["source_id"].map(lambda s: isinstance(s, str) and s.strip() != "").all()
    assert set(out.parties["row_number"]) <= set(out.cases["row_number"])
    assert not out.notes.duplicated(["row_number", "field"]).any()


def test_large_uniform_chunk() -> None:
    """A 25-column hotline chunk of 20,000 rows normalizes whole (speed lives in benchmarks/, not here)."""
    n = 20000
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({
        "工单编号": [f"H{i:08d}" for i in range(n)],
        "来源渠道": rng.choice(["电话", "微信", "APP"], n),
        "来电时间": pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "派单时间": "2024/1/2 10:00", "办理时限": "2024年1月9日", "办结时间": None, "最后更新时间": "2024-01-02 11:00:00",
        "一级分类": "劳动社保", "二级分类": rng.choice(["欠薪", "社保缴纳", "劳动合同"], n),
        "所属区县": "东湖区", "所属街道": "康明街道", "所属社区": "丰北社区", "所属网格": "丰北社区第1网格",
        "网格编码": "339902001001001", "紧急程度": "一般", "来电人": "张三", "证件号码": VALID_ID,
        "联系电话": "138-1234-5678", "联系地址": "临海市东湖区康明街道", "用户账号": None, "标题": "欠薪",
        "诉求内容": "某公司拖欠工资三个月，多次讨要未果", "承办单位": "人力社保局", "工单状态": "办理中", "是否解决": None,
    }).astype(object)
    rows["row_number"] = np.arange(2, n + 2)
    out = normalize_chunk(rows, HOTLINE, REFS, "bench")
    assert len(out.cases) == n and out.cases["region_code"].eq("339902001001001").all()
    assert out.cases["category_code"].isin(["0101", "0102", "0103"]).all()
    assert out.parties["id_valid"].all() and out.quarantine.empty


def test_receipts_outside_the_plausible_window_are_quarantined_other_times_noted() -> None:
    """1899-12-31 / 1900-01-01 are spreadsheet placeholders and 2099 a typo: never stored as receipts, so
    no single row can stop a forecast for the whole city (issue 12, item 4)."""
    rows = [base(工单编号="A1", 来电时间="1899-12-31"), base(工单编号="A2", 来电时间="1900-01-01 00:00"),
            base(工单编号="A3", 来电时间="2099-01-01"), base(工单编号="A4", 办结时间="1900-01-01"),
            base(工单编号="A5")]
    out = normalize_chunk(raw_frame(rows), HOTLINE, REFS, "f.csv", latest=pd.Timestamp("2026-12-04"))
    q = out.quarantine.set_index("row_number")
    assert list(q["field"]) == ["received_at"] * 3
    assert "before 2000-01-01" in q["reason"].iloc[0] and "before 2000-01-01" in q["reason"].iloc[1]
    assert "in the future" in q["reason"].iloc[2]
    assert list(out.cases["source_id"]) == ["A4", "A5"]
    assert out.cases["closed_at"].isna().iloc[0]
    note = out.notes.loc[out.notes["field"] == "closed_at", "note"]
    assert len(note) == 1 and "implausible date" in note.iloc[0] and "1900-01-01" in note.iloc[0]

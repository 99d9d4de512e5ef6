"""Case signals: each rule at its boundaries, stable keys, plain sentences without personal data."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from riskwatch import schema as S
from riskwatch.config import Category, Region, RegionTree, Taxonomy
from riskwatch.detect.case_signals import case_signals

AS_OF = pd.Timestamp("2026-11-02")  # a Monday: the week is 2026-10-26 .. 2026-11-01
WEEK = pd.Timestamp("2026-10-26")
NAME, PHONE = "张三丰", "13912345678"


def case(source_id: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in S.CASE_COLUMNS}
    row.update({
        S.SOURCE: "hotline_12345", S.SOURCE_ID: source_id, S.CHANNEL: "hotline_12345",
        S.RECEIVED_AT: pd.Timestamp("2026-10-20 09:00"), S.REGISTERED_AT: pd.Timestamp("2026-10-20 09:05"),
        S.CLOSED_AT: pd.NaT, S.CATEGORY_CODE: "0301", S.REGION_CODE: "33990101", S.LEVEL: "district",
        S.IS_GROUP: False, S.HEADCOUNT: 1, S.HANDLING_UNIT: "区住建局", S.STATUS: "in_progress",
        S.SATISFACTION: "none", S.RETURNED_COUNT: 0, S.CONTENT: f"{NAME} 电话 {PHONE} 反映物业问题",
        "party_name": NAME, "party_phone": PHONE,
    })
    row.update(kw)
    return row


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    out = pd.DataFrame(list(rows))
    for col in (S.RECEIVED_AT, S.REGISTERED_AT, S.CLOSED_AT):
        out[col] = pd.to_datetime(out[col], format="mixed")
    return out


def far_due(cases: pd.DataFrame) -> pd.Series:
    return pd.Series(pd.Timestamp("2027-01-01"), index=cases.index)


def run(cases: pd.DataFrame, due: pd.Series | None = None, as_of: pd.Timestamp = AS_OF,
        **kw: Any) -> pd.DataFrame:
    return case_signals(cases, far_due(cases) if due is None else due, as_of, **kw)


def kinds(out: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(out[S.KIND], out[S.SUBJECT], strict=True))


def test_escalation_open_or_received_in_period_and_not_when_closed_before() -> None:
    cases = frame(
        case("A", level="province", is_group=True, headcount=12),           # open: signal
        case("B", level="city", closed_at="2026-10-27 10:00", is_group=True, headcount=6,
             received_at="2026-10-27 08:00"),                               # group at the city, in the week
        case("F", level="city"),                                            # one person at the city: routine
        case("C", level="national", closed_at="2026-10-25 10:00"),          # closed before the week
        case("D", level="district"),                                        # not escalated
        case("E", level="national", closed_at=AS_OF),                       # closed exactly at as_of: open
    )
    out = run(cases)
    assert kinds(out) == [("escalation", "hotline_12345:A"), ("escalation", "hotline_12345:B"),
                          ("escalation", "hotline_12345:E")]
    first = out.iloc[0]
    assert "已到省级" in first[S.SENTENCE] and "群体访 12 人" in first[S.SENTENCE]
    assert "仍未办结" in first[S.SENTENCE]
    assert first[S.EVIDENCE]["level"] == "province" and first[S.EVIDENCE]["headcount"] == 12
    assert "已进京" in out.iloc[2][S.SENTENCE]


def test_overdue_boundaries_and_days() -> None:
    cases = frame(case("A"), case("B"), case("C", closed_at="2026-11-01 23:00"), case("D", closed_at=AS_OF),
                  case("E"))
    due = pd.Series([pd.Timestamp("2026-10-30 00:00"), AS_OF, pd.Timestamp("2026-10-20"),
                     pd.Timestamp("2026-10-28 18:00"), pd.NaT], index=cases.index)
    out = run(cases, due)
    assert kinds(out) == [("overdue", "hotline_12345:A"), ("overdue", "hotline_12345:D")]
    a, d = out.iloc[0], out.iloc[1]
    assert a[S.EVIDENCE]["days_overdue"] == 3 and a[S.EVIDENCE]["due"] == "2026-10-30T00:00:00"
    assert "已超期 3 天" in a[S.SENTENCE] and "期限 10 月 30 日" in a[S.SENTENCE]
    assert d[S.EVIDENCE]["days_overdue"] == 4 + 1  # 4 whole days and a started one


def test_a_case_closed_exactly_at_as_of_is_open_one_closed_just_before_is_not() -> None:
    cases = frame(case("A", returned_count=2, closed_at=AS_OF),
                  case("B", returned_count=2, closed_at=AS_OF - pd.Timedelta(seconds=1)))
    assert kinds(run(cases)) == [("returned", "hotline_12345:A")]


def test_returned_twice_open_only() -> None:
    cases = frame(case("A", returned_count=3, handling_unit="某某街道办"), case("B", returned_count=1),
                  case("C", returned_count=2, closed_at="2026-10-28"))
    out = run(cases)
    assert kinds(out) == [("returned", "hotline_12345:A")]
    assert "已被退单 3 次" in out.iloc[0][S.SENTENCE] and "某某街道办" in out.iloc[0][S.SENTENCE]
    assert out.iloc[0][S.EVIDENCE]["returned_count"] == 3


def test_dissatisfied_closed_within_the_period_only() -> None:
    cases = frame(case("A", satisfaction="dissatisfied", closed_at="2026-10-26 00:00"),
                  case("B", satisfaction="dissatisfied", closed_at="2026-10-25 23:59"),
                  case("C", satisfaction="dissatisfied", closed_at=AS_OF),
                  case("D", satisfaction="satisfied", closed_at="2026-10-28"))
    out = run(cases)
    assert kinds(out) == [("dissatisfied", "hotline_12345:A")]
    assert "10 月 26 日 办结" in out.iloc[0][S.SENTENCE] and "不满意" in out.iloc[0][S.SENTENCE]


def test_cases_received_at_or_after_as_of_are_ignored() -> None:
    cases = frame(case("A", received_at=AS_OF, level="national", returned_count=5),
                  case("B", received_at=AS_OF - pd.Timedelta(minutes=1), level="national"))
    due = pd.Series(pd.Timestamp("2026-10-01"), index=cases.index)
    assert kinds(run(cases, due)) == [("escalation", "hotline_12345:B"), ("overdue", "hotline_12345:B")]


def test_monthly_period_and_order_by_kind_then_source() -> None:
    cases = frame(case("Z", source="petition_register", level="province"), case("B", returned_count=2),
                  case("A", level="national", returned_count=2),
                  case("M", satisfaction="dissatisfied", received_at="2026-10-01", closed_at="2026-10-03"))
    out = run(cases, as_of=pd.Timestamp("2026-11-01"), period="M")
    assert kinds(out) == [("escalation", "hotline_12345:A"), ("escalation", "petition_register:Z"),
                          ("returned", "hotline_12345:A"), ("returned", "hotline_12345:B"),
                          ("dissatisfied", "hotline_12345:M")]
    assert (out[S.PERIOD] == pd.Timestamp("2026-10-01")).all()
    assert (run(cases)[S.PERIOD] == WEEK).all()


def test_keys_are_stable_across_two_runs() -> None:
    cases = frame(case("A", level="province"), case("B", returned_count=2))
    week1, week2 = run(cases), run(cases, as_of=AS_OF + pd.Timedelta(days=7))
    assert list(week1[S.SIGNAL_KEY]) == list(week2[S.SIGNAL_KEY]) == [
        "escalation:hotline_12345:A", "returned:hotline_12345:B"]
    assert (week2[S.PERIOD] == WEEK + pd.Timedelta(days=7)).all()


def test_sentence_names_category_region_and_source_label_without_personal_data() -> None:
    taxonomy = Taxonomy({"03": Category("03", "城乡建设", ""), "0301": Category("0301", "物业管理", "03")})
    regions = RegionTree({"339901": Region("339901", "示范区", S.RegionLevel.DISTRICT, ""),
                          "33990101": Region("33990101", "某某街道", S.RegionLevel.TOWNSHIP, "339901")},
                         "339901")
    cases = frame(case("H20261028001"), case("X9", source="petition_register", level="province",
                                              is_group=True, headcount=12, region_code="00000000"))
    due = pd.Series([pd.Timestamp("2026-10-29 12:00"), pd.Timestamp("2027-01-01")], index=cases.index)
    out = run(cases, due, taxonomy=taxonomy, regions=regions,
              source_labels={"hotline_12345": "12345热线 工单", "petition_register": "信访件"})
    esc, over = out.iloc[0], out.iloc[1]
    assert over[S.SENTENCE] == ("12345热线 工单 H20261028001（城乡建设›物业管理 · 某某街道）"
                                "已超期 4 天（期限 10 月 29 日），仍未办结")
    assert esc[S.SENTENCE] == "信访件 X9（城乡建设›物业管理 · 00000000）已到省级（群体访 12 人），仍未办结"
    for _, row in out.iterrows():
        text = row[S.SENTENCE] + json.dumps(row[S.EVIDENCE], ensure_ascii=False)
        assert NAME not in text and PHONE not in text and "物业问题" not in text


def test_columns_types_and_json_evidence() -> None:
    cases = frame(case("A", level="province", returned_count=2, satisfaction="dissatisfied",
                       received_at="2026-10-26 09:00", closed_at="2026-10-30"))
    out = run(cases)
    assert tuple(out.columns) == S.SIGNAL_COLUMNS
    assert list(out[S.KIND]) == ["escalation", "dissatisfied"]
    assert out[S.OBSERVED].isna().all() and out[S.P_VALUE].isna().all() and (out[S.LABEL] == "").all()
    assert out[S.CATEGORY_CODE].tolist() == ["0301", "0301"] and out[S.REGION_CODE].iloc[0] == "33990101"
    for ev in out[S.EVIDENCE]:
        assert json.loads(json.dumps(ev)) == ev
        assert ev["received"] == "2026-10-26T09:00:00" and ev["handling_unit"] == "区住建局"


def test_empty_input_gives_empty_frame_with_the_columns() -> None:
    cases = frame(case("A")).iloc[:0]
    out = run(cases, pd.Series([], dtype="datetime64[ns]", index=cases.index))
    assert out.empty and tuple(out.columns) == S.SIGNAL_COLUMNS
    assert str(out[S.PERIOD].dtype) == "datetime64[ns]"


def test_input_checks() -> None:
    cases = frame(case("A"))
    with pytest.raises(ValueError, match="case_signals: missing column.*returned_count"):
        case_signals(cases.drop(columns=[S.RETURNED_COUNT]), far_due(cases), AS_OF)
    with pytest.raises(ValueError, match="aligned"):
        case_signals(cases, pd.Series([AS_OF], index=[5]), AS_OF)

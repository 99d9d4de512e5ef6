"""Repeat petitions (pure): same person + same matter on tiny hand-made frames, counts, share, row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.persons.repeats import (
    REPEAT_COLUMNS,
    RepeatOptions,
    char_ngram_tfidf,
    find_matters,
    repeat_counts,
    repeat_share,
)

NOISE = "东湖区康明街道丰北社区锦绣小区楼下商铺音响声音过大，长期扰民，请求处理。"
NOISE_REWORDED = "再次反映：锦绣小区一楼商铺每天放音乐到深夜，噪音太吵睡不着，希望管一管。"
WAGES = "宏达建筑公司锦绣项目工地拖欠本人工资3万元，多次讨要未果，请求督促支付。"
SITE_A = "东湖区康明街道丰北社区锦绣小区附近夜间施工噪音扰民，晚上10点后仍在施工，请求查处。"
SITE_B = "西山区华乐街道康河社区滨江小区附近夜间施工噪音扰民，晚上10点后仍在施工，请求查处。"


def case(sid: str, at: str, cat: str, region: str, content: str, source: str = "hotline_12345",
         summary: str | None = None) -> dict:
    return {"source": source, "source_id": sid, "received_at": pd.Timestamp(at), "category_code": cat,
            "region_code": region, "content": content, "summary": summary}


def frames(cases: list[dict], persons: list[tuple[str, str]], source: str = "hotline_12345"
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    cp = pd.DataFrame([{"source": source, "source_id": s, "person_id": p} for s, p in persons],
                      columns=["source", "source_id", "person_id"])
    return pd.DataFrame(cases), cp


def by_id(out: pd.DataFrame) -> pd.DataFrame:
    return out.set_index("source_id")


def test_same_person_same_matter_reworded_is_repeat() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339902001001002", NOISE_REWORDED),
                        case("3", "2024-03-01", "0401", "339902001001", NOISE)],
                       [("1", "P1"), ("2", "P1"), ("3", "P1")])
    out = by_id(find_matters(cases, cp))
    assert list(find_matters(cases, cp).columns) == list(REPEAT_COLUMNS)
    assert out["matter_id"].eq("hotline_12345:1").all()
    assert out["is_repeat"].tolist() == [False, True, True]
    assert out.loc["2", "repeat_of_source_id"] == "1" and out.loc["3", "repeat_of_source_id"] == "1"
    assert out.loc["3", "similarity"] == pytest.approx(1.0)
    assert out.loc["2", "similarity"] < RepeatOptions().text_threshold   # linked by leaf + township
    assert np.isnan(out.loc["1", "similarity"]) and pd.isna(out.loc["1", "repeat_of_source"])


def test_reworded_in_another_township_needs_text() -> None:
    """Without the same township, a reworded complaint is the same matter only by its text."""
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339902002001001", NOISE_REWORDED),
                        case("3", "2024-03-10", "0402", "339902002001001", NOISE)],
                       [("1", "P1"), ("2", "P1"), ("3", "P1")])
    out = by_id(find_matters(cases, cp))
    assert not out.loc["2", "is_repeat"]
    assert out.loc["3", "is_repeat"] and out.loc["3", "repeat_of_source_id"] == "1"   # same top, same text


def test_same_person_other_category_is_not_repeat() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0101", "339902001001001", NOISE)],
                       [("1", "P1"), ("2", "P1")])
    out = by_id(find_matters(cases, cp))
    assert not out["is_repeat"].any()
    assert out.loc["2", "matter_id"] == "hotline_12345:2"


def test_same_person_other_district_is_not_repeat() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339903001001001", NOISE)],
                       [("1", "P1"), ("2", "P1")])
    assert not find_matters(cases, cp)["is_repeat"].any()


def test_city_level_place_agrees_with_every_district() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339900", NOISE)],
                       [("1", "P1"), ("2", "P1")])
    assert by_id(find_matters(cases, cp)).loc["2", "is_repeat"]


def test_different_persons_same_text_are_not_repeats() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339902001001001", NOISE)],
                       [("1", "P1"), ("2", "P2")])
    out = by_id(find_matters(cases, cp))
    assert not out["is_repeat"].any()
    assert out.loc["2", "matter_id"] == "hotline_12345:2"


def test_case_without_persons_is_its_own_matter() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("2", "2024-02-10", "0401", "339902001001001", NOISE)], [])
    out = by_id(find_matters(cases, cp))
    assert out["matter_id"].tolist() == ["hotline_12345:1", "hotline_12345:2"]
    assert not out["is_repeat"].any()


def test_different_matters_of_one_template_in_other_districts() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", SITE_A),
                        case("2", "2024-02-10", "0401", "339903001003001", SITE_B)],
                       [("1", "P1"), ("2", "P1")])
    assert not find_matters(cases, cp)["is_repeat"].any()


def test_group_case_with_many_persons() -> None:
    """Group cases link through any member; a joiner's first case still repeats the group's matter."""
    members = [f"G{i}" for i in range(12)]
    cases, cp = frames(
        [case("1", "2024-01-05", "0201", "339902001", "锦绣地块征收补偿标准过低，安置房迟迟未落实，涉及40户。"),
         case("2", "2024-03-05", "0201", "339902001", "锦绣地块征收补偿标准过低，安置房迟迟未落实，涉及40户。"),
         case("3", "2024-04-05", "0201", "339902001", "锦绣地块补偿款至今未到位，安置房未落实，村民要求兑现。"),
         case("4", "2024-05-05", "0101", "339902001", WAGES)],
        [("1", m) for m in members[:10]] + [("2", m) for m in members[5:12]] + [("3", "G11"), ("3", "X")]
        + [("4", "G0")])
    out = by_id(find_matters(cases, cp))
    assert out["is_repeat"].tolist() == [False, True, True, False]
    assert out.loc[["1", "2", "3"], "matter_id"].eq("hotline_12345:1").all()
    assert out.loc["2", "repeat_of_source_id"] == "1"
    assert out.loc["3", "repeat_of_source_id"] == "2"   # shares only G11 with case 1's matter, first in 2
    persons, matters = repeat_counts(out.reset_index().merge(cases, on=["source", "source_id"]), cp)
    top = matters.iloc[0]
    assert (top["matter_id"], top["cases"], top["repeats"], top["persons"]) == ("hotline_12345:1", 3, 2, 13)
    assert top["category_code"] == "0201" and top["region_code"] == "339902"
    p = persons.set_index("person_id")
    assert p.loc["G11", ["cases", "repeats", "matters"]].tolist() == [2, 1, 1]
    assert p.loc["G0", ["cases", "repeats", "matters"]].tolist() == [2, 0, 2]
    assert p.loc["X", ["cases", "repeats", "matters"]].tolist() == [1, 0, 1]
    assert persons["repeats"].is_monotonic_decreasing


def test_ties_in_received_at_break_by_source_then_id() -> None:
    at = "2024-01-05 00:00:00"
    cases = pd.DataFrame([case("B", at, "0401", "339902001001001", NOISE, source="petition_register"),
                          case("A", at, "0401", "339902001001001", NOISE, source="petition_register"),
                          case("9", at, "0401", "339902001001001", NOISE, source="hotline_12345")])
    cp = pd.DataFrame({"source": ["petition_register", "petition_register", "hotline_12345"],
                       "source_id": ["B", "A", "9"], "person_id": "P1"})
    out = find_matters(cases, cp).set_index(["source", "source_id"])
    assert not out.loc[("hotline_12345", "9"), "is_repeat"]
    assert out.loc[("petition_register", "A"), "repeat_of_source_id"] == "9"
    assert out.loc[("petition_register", "B"), "repeat_of_source"] == "hotline_12345"
    assert out["matter_id"].eq("hotline_12345:9").all()


def test_matter_id_is_smallest_key_not_earliest_case() -> None:
    cases, cp = frames([case("Z", "2024-01-05", "0401", "339902001001001", NOISE),
                        case("A", "2024-02-10", "0401", "339902001001001", NOISE)],
                       [("Z", "P1"), ("A", "P1")])
    out = by_id(find_matters(cases, cp))
    assert out["matter_id"].eq("hotline_12345:A").all()
    assert out.loc["A", "repeat_of_source_id"] == "Z"


def test_window_and_cap_bound_the_comparisons() -> None:
    cases, cp = frames([case(str(i), f"2024-01-{i + 1:02d}", "0401", "339902001001001", NOISE) for i in range(6)],
                       [(str(i), "P1") for i in range(6)])
    out = find_matters(cases, cp, RepeatOptions(window=1))
    assert out["is_repeat"].sum() == 5 and out["matter_id"].nunique() == 1   # through the chain
    out = find_matters(cases, cp, RepeatOptions(max_person_cases=5))
    assert not out["is_repeat"].any() and out["matter_id"].nunique() == 6


def test_missing_columns_name_the_function() -> None:
    cases, cp = frames([case("1", "2024-01-05", "0401", "339902001001001", NOISE)], [("1", "P1")])
    with pytest.raises(ValueError, match="find_matters: missing column.*summary"):
        find_matters(cases.drop(columns="summary"), cp)
    with pytest.raises(ValueError, match="find_matters: missing column.*person_id"):
        find_matters(cases, cp.drop(columns="person_id"))
    with pytest.raises(ValueError, match="repeat_counts: missing column.*matter_id"):
        repeat_counts(cases, cp)
    with pytest.raises(ValueError, match="repeat_share: missing column.*is_repeat"):
        repeat_share(cases, cases)
    with pytest.raises(ValueError, match="duplicate"):
        find_matters(pd.concat([cases, cases]), cp)


def test_char_ngram_tfidf_reads_full_width_and_ignores_punctuation() -> None:
    x = char_ngram_tfidf(pd.Series(["ＡＢ反映，噪音", "ab反映 噪音", None, ""]))
    sim = (x @ x.T).toarray()
    assert sim[0, 1] == pytest.approx(1.0)
    assert np.allclose(sim[2:], 0)


def test_repeat_share_per_month_and_area() -> None:
    rows = [("1", "2024-01-03", "339902001001001", False), ("2", "2024-01-20", "339902002", True),
            ("3", "2024-01-31 23:59", "339903001001001", True), ("4", "2024-02-01", "339903001", False),
            ("5", "2024-02-11", "339900", True), ("6", "2024-02-12", "339902001", False)]
    f = pd.DataFrame(rows, columns=["source_id", "received_at", "region_code", "is_repeat"])
    f["source"] = "hotline_12345"
    f["received_at"] = pd.to_datetime(f["received_at"], format="ISO8601")
    out = repeat_share(f, f)
    got = {(str(r.period.date()), r.region_code): (r.cases, r.repeats, r.share) for r in out.itertuples()}
    assert got == {
        ("2024-01-01", ""): (3, 2, pytest.approx(2 / 3)), ("2024-01-01", "339902"): (2, 1, 0.5),
        ("2024-01-01", "339903"): (1, 1, 1.0),
        ("2024-02-01", ""): (3, 1, pytest.approx(1 / 3)), ("2024-02-01", "339900"): (1, 1, 1.0),
        ("2024-02-01", "339902"): (1, 0, 0.0), ("2024-02-01", "339903"): (1, 0, 0.0),
    }
    town = repeat_share(f, f, region_level=9)
    assert set(town["region_code"]) == {"", "339902001", "339902002", "339903001", "339900"}
    assert repeat_share(f, f, region_level=0)["region_code"].eq("").all()
    # the denominator is the cases given; repeats may come from a longer history, but must cover them
    assert repeat_share(f.iloc[:3], f)["cases"].sum() == 6
    with pytest.raises(ValueError, match="repeat_share: 1 case"):
        repeat_share(f, f.iloc[1:])


# --- row order -------------------------------------------------------------------------------------
TEXTS = [NOISE, NOISE_REWORDED, WAGES, SITE_A, SITE_B]
CATS = ["0401", "0402", "0101", "99"]
REGIONS = ["339902001001001", "339902001", "339902002001001", "339903001", "339900"]


@st.composite
def city(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, list[int], list[int]]:
    n = draw(st.integers(1, 14))
    cases = pd.DataFrame([case(f"{i:02d}", f"2024-01-{draw(st.integers(1, 4)):02d}", draw(st.sampled_from(CATS)),
                               draw(st.sampled_from(REGIONS)), draw(st.sampled_from(TEXTS)),
                               source=draw(st.sampled_from(["hotline_12345", "petition_register"])))
                          for i in range(n)])
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(["P1", "P2", "P3", "P4"])),
                          max_size=3 * n))
    cp = pd.DataFrame({"source": [cases.at[i, "source"] for i, _ in pairs],
                       "source_id": [cases.at[i, "source_id"] for i, _ in pairs],
                       "person_id": [p for _, p in pairs]}, columns=["source", "source_id", "person_id"])
    return cases, cp, draw(st.permutations(range(n))), draw(st.permutations(range(len(cp))))


@settings(max_examples=60, deadline=None)
@given(city())
def test_result_does_not_depend_on_row_order(drawn: tuple[pd.DataFrame, pd.DataFrame, list[int], list[int]]) -> None:
    cases, cp, order, cp_order = drawn
    a = find_matters(cases, cp)
    b = find_matters(cases.iloc[order].reset_index(drop=True), cp.iloc[cp_order].reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)
    full = a.merge(cases, on=["source", "source_id"])
    for x, y in zip(repeat_counts(full, cp), repeat_counts(full.iloc[::-1], cp.iloc[::-1]), strict=True):
        pd.testing.assert_frame_equal(x, y)
    # a repeat always points to an earlier case of its matter sharing a person
    keyed = a.set_index(["source", "source_id"])
    persons = cp.groupby(["source", "source_id"])["person_id"].agg(set)
    at = cases.set_index(["source", "source_id"])["received_at"]
    for (src, sid), row in keyed[keyed["is_repeat"]].iterrows():
        prev = (row["repeat_of_source"], row["repeat_of_source_id"])
        assert keyed.loc[prev, "matter_id"] == row["matter_id"]
        assert persons[(src, sid)] & persons[prev]
        assert (at[prev], *prev) < (at[(src, sid)], src, sid)

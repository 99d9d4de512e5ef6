"""Organised groups: the graph, its communities, stable ids, and the growth / spread / escalation findings."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch import schema as S
from riskwatch.config import Category, Region, RegionTree, Taxonomy
from riskwatch.persons.group_signals import GroupSignalOptions, group_findings
from riskwatch.persons.groups import (
    GROUP_CASE_COLUMNS,
    GROUP_COLUMNS,
    MEMBER_COLUMNS,
    WEIGHTS,
    build_graph,
    carry_group_ids,
    find_groups,
    match_group_ids,
    new_group_id,
)

TOWN_A, TOWN_B = "339901001", "339901002"
AS_OF = pd.Timestamp("2026-11-02")   # a Monday: the week is 2026-10-26 .. 2026-11-01


def case(source_id: str, when: str = "2026-06-01 09:00", *, level: str = "district", town: str = TOWN_A,
         is_group: bool | None = None, headcount: int | None = None, category: str = "0801",
         matter: str | None = None) -> dict[str, Any]:
    return {S.SOURCE: "petition_register", S.SOURCE_ID: source_id, S.RECEIVED_AT: pd.Timestamp(when),
            S.CATEGORY_CODE: category, S.REGION_CODE: town + "001002", S.LEVEL: level,
            S.IS_GROUP: bool(is_group), S.HEADCOUNT: headcount or 1, "matter_id": matter}


def world(*cases_and_persons: tuple[dict[str, Any], list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cases, case_persons) from (case, person ids) pairs; is_group and headcount follow the persons."""
    rows, parts = [], []
    for c, persons in cases_and_persons:
        c = dict(c)
        c[S.HEADCOUNT] = max(c[S.HEADCOUNT], len(persons))
        c[S.IS_GROUP] = c[S.IS_GROUP] or len(persons) >= 5
        rows.append(c)
        parts += [{S.SOURCE: c[S.SOURCE], S.SOURCE_ID: c[S.SOURCE_ID], "person_id": p, S.SEQ: i}
                  for i, p in enumerate(persons)]
    return pd.DataFrame(rows), pd.DataFrame(parts)


def keys(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "phone_key", "address_key"])


def run(cases: pd.DataFrame, cp: pd.DataFrame, pk: pd.DataFrame | None = None, **kw: Any
        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return find_groups(build_graph(cases, cp, pk), cases, cp, **kw)


def persons(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(n)]


# --- graph and groups -----------------------------------------------------------------------------
def test_six_person_joint_case_forms_a_group() -> None:
    cases, cp = world((case("J1", level="city"), persons("A", 6)))
    groups, members, gcases = run(cases, cp)
    assert list(groups.columns) == list(GROUP_COLUMNS)
    assert list(members.columns) == list(MEMBER_COLUMNS)
    assert list(gcases.columns) == list(GROUP_CASE_COLUMNS)
    assert len(groups) == 1
    g = groups.iloc[0]
    assert g["size"] == 6 and g["cases"] == 1 and g["group_cases"] == 1
    assert g["max_level"] == "city" and g["levels"] == ["city"] and g["townships"] == [TOWN_A]
    assert g["category_code"] == "0801" and g["group_id"] == new_group_id("A00")
    assert g["central"][0] == "A00"    # a tie on centrality: the first-named person leads
    assert sorted(members["person_id"]) == persons("A", 6)
    assert (members["joined_at"] == pd.Timestamp("2026-06-01 09:00")).all()
    assert list(gcases[S.SOURCE_ID]) == ["J1"]


def test_graph_keeps_only_cases_that_tie_persons_and_documents_weights() -> None:
    cases, cp = world((case("J1"), persons("A", 6)), (case("S1"), ["A00"]), (case("S2"), ["Z00"]),
                      (case("F1"), ["F00", "F01"]))
    pk = keys(("A00", "138", ""), ("Z00", "138", ""), ("F00", "139", "x路1号"), ("F01", "139", "x路1号"))
    graph = build_graph(cases, cp, pk)
    case_nodes = sorted(n[1] for n, d in graph.nodes(data=True) if d["kind"] == "case")
    assert case_nodes == ["petition_register:F1", "petition_register:J1"]   # one-person cases are not nodes
    assert ("p", "Z00") not in graph                                        # a phone alone brings no one in
    assert graph.edges[("p", "A00"), ("c", "petition_register:J1")]["weight"] == WEIGHTS["joint"]
    assert graph.edges[("p", "F00"), ("c", "petition_register:F1")]["weight"] == WEIGHTS["co_signed"]
    family = graph.edges[("p", "F00"), ("p", "F01")]
    assert family["kinds"] == ("address", "phone") and family["weight"] == WEIGHTS["phone"] + WEIGHTS["address"]
    assert WEIGHTS["phone"] < WEIGHTS["co_signed"] < WEIGHTS["joint"]


def test_same_matter_ties_persons_of_separate_cases() -> None:
    cases, cp = world(*[(case(f"M{i}", matter="m1"), [p]) for i, p in enumerate(persons("M", 6))])
    graph = build_graph(cases, cp)
    assert graph.edges[("p", "M00"), ("p", "M05")]["kinds"] == ("matter",)
    groups, members, gcases = find_groups(graph, cases, cp, min_households=1)
    assert len(groups) == 1 and groups.iloc[0]["size"] == 6 and len(gcases) == 6


def test_family_of_three_sharing_a_phone_is_not_a_group() -> None:
    family = persons("F", 3)
    cases, cp = world((case("F1"), family), (case("F2", "2026-07-01"), family))
    pk = keys(*[(p, "13900000001", "") for p in family])
    assert run(cases, cp, pk)[0].empty                      # three people: below min_size
    assert run(cases, cp, pk, min_size=3)[0].empty          # and one household, even when 3 would do
    assert len(run(cases, cp, None, min_size=3)[0]) == 1    # without the phone they are three households


def test_one_address_co_signing_is_a_household_but_five_households_are_a_group() -> None:
    home = persons("H", 5)
    cases, cp = world((case("H1", headcount=1), home))
    pk = keys(*[(p, "", "东湖区解放路31号") for p in home])
    assert run(cases, cp, pk)[0].empty                     # a petitioner and four relatives
    assert len(run(cases, cp, pk, min_households=1)) == 3 and len(run(cases, cp, pk, min_households=1)[0]) == 1
    mixed = keys(("H00", "1", ""), ("H01", "1", ""), ("H02", "2", ""), ("H03", "3", ""), ("H04", "4", ""))
    assert len(run(cases, cp, mixed)[0]) == 1               # a couple among four households: a group


def test_two_joint_cases_sharing_two_members_merge_into_one_group() -> None:
    left, right = persons("A", 6), persons("B", 6)
    cases, cp = world((case("J1"), left), (case("J2", "2026-07-01", town=TOWN_B), right[:4] + left[:2]))
    groups, members, gcases = run(cases, cp)
    assert len(groups) == 1
    g = groups.iloc[0]
    assert g["size"] == 10 and g["cases"] == 2 and g["townships"] == [TOWN_A, TOWN_B]
    assert set(g["central"]) <= {"A00", "A01", "B00"} and g["central"][:2] == ["A00", "A01"]
    joined = members.set_index("person_id")["joined_at"]
    assert joined["A00"] == pd.Timestamp("2026-06-01 09:00") and joined["B00"] == pd.Timestamp("2026-07-01")


def test_louvain_splits_two_groups_joined_by_one_shared_phone() -> None:
    left, right = persons("A", 8), persons("B", 8)
    rows = [(case(f"L{i}", f"2026-0{i + 1}-01"), left) for i in range(3)]
    rows += [(case(f"R{i}", f"2026-0{i + 1}-02", town=TOWN_B), right) for i in range(3)]
    cases, cp = world(*rows)
    pk = keys(("A07", "13800000000", ""), ("B07", "13800000000", ""))
    groups, members, _ = run(cases, cp, pk)
    assert sorted(groups["size"]) == [8, 8]
    assert run(cases, cp, pk, method="components")[0]["size"].tolist() == [16]


def test_levels_and_category_summarise_the_group_cases() -> None:
    a = persons("A", 5)
    cases, cp = world((case("1", level="district", category="0101"), a), (case("2", "2026-07-01", level="province"), a),
                      (case("3", "2026-08-01", level="city"), a))
    g = run(cases, cp)[0].iloc[0]
    assert g["levels"] == ["district", "city", "province"] and g["max_level"] == "province"
    assert g["category_code"] == "0801" and g["first_seen"] == pd.Timestamp("2026-06-01 09:00")
    assert g["last_seen"] == pd.Timestamp("2026-08-01")


def test_find_groups_names_a_missing_column() -> None:
    cases, cp = world((case("J1"), persons("A", 6)))
    with pytest.raises(ValueError, match=r"find_groups\(case_persons\).*person_id"):
        find_groups(build_graph(cases, cp), cases, cp.drop(columns="person_id"))


# --- ids ------------------------------------------------------------------------------------------
def _city() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = [(case(f"A{i}", f"2026-0{i + 1}-01"), persons("A", 9)) for i in range(3)]
    rows += [(case(f"B{i}", f"2026-0{i + 1}-03", town=TOWN_B), persons("B", 7) + ["A08"]) for i in range(2)]
    rows += [(case("C0"), persons("C", 6)), (case("F0"), persons("F", 3)), (case("S0"), ["S00"])]
    cases, cp = world(*rows)
    pk = keys(("A00", "1380", ""), ("C05", "1380", ""), ("F00", "", "x1"), ("F01", "", "x1"))
    return cases, cp, pk


def _canonical(result: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> list[Any]:
    groups, members, gcases = result
    return [json.dumps(groups.astype(str).to_dict("records"), sort_keys=True),
            members.round({"centrality": 9}).astype(str).to_dict("records"), gcases.to_dict("records")]


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_groups_do_not_depend_on_row_order(rnd: Any) -> None:
    cases, cp, pk = _city()
    expected = _canonical(run(cases, cp, pk))
    perm = [np.array(rnd.sample(range(len(f)), len(f))) for f in (cases, cp, pk)]
    shuffled = run(cases.iloc[perm[0]], cp.iloc[perm[1]], pk.iloc[perm[2]])
    assert _canonical(shuffled) == expected


def test_group_ids_are_carried_across_runs() -> None:
    cases, cp, pk = _city()
    groups, members, gcases = run(cases, cp, pk)
    previous = members.assign(group_id=members["group_id"].map(lambda g: "OLD" + g))
    _, carried, _ = carry_group_ids(groups, members, gcases, previous)
    assert set(carried["group_id"]) == {"OLD" + g for g in groups["group_id"]}
    # the next run: A00 (the smallest member, hence the fresh id) left, three newcomers joined
    more, more_cp = world((case("A9", "2026-09-01"), persons("A", 9)[1:] + ["N01", "N02", "N03"]))
    cases2, cp2 = pd.concat([cases, more]), pd.concat([cp.loc[cp["person_id"] != "A00"], more_cp])
    g2, m2, c2 = run(cases2, cp2, pk)
    assert g2["group_id"].iloc[0] != groups["group_id"].iloc[0]              # the fresh id changed ...
    g3, m3, c3 = carry_group_ids(g2, m2, c2, members)                        # ... the carried one does not
    assert set(g3["group_id"]) == set(groups["group_id"])
    assert set(m3["group_id"]) == set(g3["group_id"]) == set(c3["group_id"])


def test_an_unmatched_group_never_takes_a_previous_groups_id() -> None:
    new = pd.DataFrame({"group_id": ["GX"] * 5, "person_id": persons("A", 5)})
    old = pd.DataFrame({"group_id": ["GX"] * 5, "person_id": persons("Z", 5)})
    mapping = match_group_ids(new, old)
    assert set(mapping) == {"GX"} and mapping["GX"] != "GX"


# --- findings -------------------------------------------------------------------------------------
def findings(rows: list[tuple[dict[str, Any], list[str]]], options: GroupSignalOptions | None = None,
             **kw: Any) -> pd.DataFrame:
    cases, cp = world(*rows)
    groups, members, gcases = run(cases, cp, min_households=1)
    return group_findings(groups, members, gcases, cases, AS_OF, options=options or GroupSignalOptions(), **kw)


def kinds(out: pd.DataFrame) -> list[str]:
    return list(out[S.KIND])


OLD = "2026-06-01 09:00"
RECENT = "2026-10-20 09:00"   # within 4 weeks of AS_OF, before this week
THIS_WEEK = "2026-10-28 10:00"


@pytest.mark.parametrize(("newcomers", "fires"), [(5, True), (4, False)])
def test_growth_needs_enough_new_members(newcomers: int, fires: bool) -> None:
    base = persons("A", 15)
    out = findings([(case("1", OLD), base), (case("2", RECENT), base[:5] + persons("N", newcomers))])
    assert kinds(out) == (["group_growth"] if fires else [])
    if fires:
        row = out.iloc[0]
        assert row[S.SIGNAL_KEY] == f"group_growth:{row[S.SUBJECT]}" and row[S.OBSERVED] == 5
        assert row[S.EVIDENCE]["new_members"] == 5 and row[S.EVIDENCE]["size"] == 20
        assert "近 4 周新增 5 人（占 25%）" in row[S.SENTENCE]


@pytest.mark.parametrize(("size", "fires"), [(15, True), (16, False)])
def test_growth_needs_a_large_enough_share(size: int, fires: bool) -> None:
    base = persons("A", size)   # 5 newcomers: 25% of 20, 23.8% of 21
    out = findings([(case("1", OLD), base), (case("2", RECENT), base[:5] + persons("N", 5))])
    assert kinds(out) == (["group_growth"] if fires else [])


def test_growth_counts_only_the_window_and_a_new_group_is_news() -> None:
    base = persons("A", 10)
    older = "2026-09-20 09:00"    # six weeks before AS_OF
    assert findings([(case("1", OLD), base), (case("2", older), base[:5] + persons("N", 5))]).empty
    out = findings([(case("1", RECENT), base)])
    assert kinds(out) == ["group_growth"] and out.iloc[0][S.EVIDENCE]["new_group"] is True
    assert "近 4 周新形成，10 月 20 日首次出现" in out.iloc[0][S.SENTENCE]


def test_spread_fires_on_a_new_township_in_the_period_only() -> None:
    a = persons("A", 6)
    out = findings([(case("1", OLD), a), (case("2", THIS_WEEK, town=TOWN_B), a[:5])])
    assert kinds(out) == ["group_spread"]
    row = out.iloc[0]
    assert row[S.REGION_CODE] == TOWN_B and row[S.OBSERVED] == 1
    assert row[S.EVIDENCE]["new_townships"] == [TOWN_B] and row[S.EVIDENCE]["earlier_townships"] == 1
    assert findings([(case("1", OLD), a), (case("2", THIS_WEEK), a[:5])]).empty            # same township
    assert findings([(case("1", OLD), a), (case("2", RECENT, town=TOWN_B), a[:5])]).empty  # last week's news
    assert "group_spread" not in kinds(findings([(case("1", THIS_WEEK, town=TOWN_B), a)]))  # a first township


@pytest.mark.parametrize(("before", "now", "fires"), [
    ("district", "city", True), ("city", "province", True), ("province", "national", True),
    ("province", "province", False), ("province", "city", False), ("district", "district", False)])
def test_escalation_fires_on_a_higher_level_than_ever(before: str, now: str, fires: bool) -> None:
    a = persons("A", 6)
    out = findings([(case("1", OLD, level=before), a), (case("2", THIS_WEEK, level=now), a[:5])])
    assert ("group_escalation" in kinds(out)) is fires
    if fires:
        row = out.set_index(S.KIND).loc["group_escalation"]
        assert json.loads(json.dumps(row[S.EVIDENCE]))["level"] == now
        assert ("首次进京" if now == "national" else f"首次到{S.LEVEL_LABELS[S.Level(now)]}级") in row[S.SENTENCE]


def test_escalation_threshold_is_an_option() -> None:
    a = persons("A", 6)
    rows = [(case("1", OLD, level="district"), a), (case("2", THIS_WEEK, level="city"), a[:5])]
    assert kinds(findings(rows, GroupSignalOptions(escalation_min_level=S.Level.PROVINCE))) == []


def test_findings_ignore_what_came_after_as_of() -> None:
    a = persons("A", 6)
    rows = [(case("1", OLD), a), (case("2", "2026-11-03 10:00", level="national", town=TOWN_B), a + persons("N", 6))]
    assert findings(rows).empty


def test_sentences_name_the_group_not_its_people() -> None:
    a = persons("P00", 6)
    rows = [(case("1", OLD), a), (case("2", THIS_WEEK, level="province", town=TOWN_B), a[:3] + persons("P1", 6))]
    cases, cp = world(*rows)
    pk = keys(*[(p, f"139{i:08d}", f"解放路{i}号") for i, p in enumerate(a)])
    groups, members, gcases = find_groups(build_graph(cases, cp, pk), cases, cp)
    taxonomy = Taxonomy({"08": Category("08", "城乡建设", ""), "0801": Category("0801", "征地拆迁", "08")})
    regions = RegionTree({"339901": Region("339901", "示范区", S.RegionLevel.DISTRICT, ""),
                          TOWN_A: Region(TOWN_A, "南塘镇", S.RegionLevel.TOWNSHIP, "339901"),
                          TOWN_B: Region(TOWN_B, "北山街道", S.RegionLevel.TOWNSHIP, "339901")}, "339901")
    out = group_findings(groups, members, gcases, cases, AS_OF, regions=regions, taxonomy=taxonomy)
    assert kinds(out) == ["group_escalation", "group_spread", "group_growth"]
    gid = groups.iloc[0]["group_id"]
    assert out.iloc[0][S.SENTENCE] == f"群体 {gid}（征地拆迁 · 南塘镇等 2 个镇街，12 人）：本周首次到省级（此前最高到区级）"
    assert out.iloc[1][S.SENTENCE].endswith("本周首次出现在北山街道（此前涉及 1 个镇街）")
    assert out.iloc[2][S.SENTENCE].endswith("近 4 周新增 6 人（占 50%）")
    text = " ".join(out[S.SENTENCE]) + json.dumps(out[S.EVIDENCE].tolist(), ensure_ascii=False)
    for p in set(cp["person_id"]) | set(pk["phone_key"]) | set(pk["address_key"]):
        assert p not in text
    assert list(out.columns) == list(S.SIGNAL_COLUMNS) and out[S.PERIOD].eq(pd.Timestamp("2026-10-26")).all()


def test_monthly_period_and_options_are_checked() -> None:
    a = persons("A", 6)
    cases, cp = world((case("1", OLD), a), (case("2", "2026-10-05", level="city"), a))
    groups, members, gcases = run(cases, cp)
    out = group_findings(groups, members, gcases, cases, AS_OF, period="M")
    assert kinds(out) == [] and group_findings(groups, members, gcases, cases, pd.Timestamp("2026-11-01"),
                                               period="M")[S.SENTENCE].str.contains("本月首次到市级").all()
    with pytest.raises(ValueError, match="growth_min_share"):
        GroupSignalOptions(growth_min_share=0)
    with pytest.raises(ValueError, match="period"):
        group_findings(groups, members, gcases, cases, AS_OF, period="D")


def test_no_groups_and_no_previous_run_are_fine() -> None:
    cases, cp = world((case("F1"), persons("F", 3)), (case("S1"), ["S00"]))
    groups, members, gcases = run(cases, cp)
    assert groups.empty and members.empty and gcases.empty
    assert list(groups.columns) == list(GROUP_COLUMNS) and list(members.columns) == list(MEMBER_COLUMNS)
    empty = pd.DataFrame(columns=list(MEMBER_COLUMNS))
    assert all(f.empty for f in carry_group_ids(groups, members, gcases, empty))
    assert group_findings(groups, members, gcases, cases, AS_OF).empty
    cases, cp = world((case("J1"), persons("A", 6)))
    groups, members, gcases = run(cases, cp)
    assert carry_group_ids(groups, members, gcases, empty)[1]["group_id"].tolist() == members["group_id"].tolist()

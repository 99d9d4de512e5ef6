"""Risk items: one per subject, never duplicated; a person's case signals make one item; a group's members'
cases point to the group; a hotspot says how much came from groups and repeat petitioners (issue 13)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskwatch.config import load_settings
from riskwatch.grade import grade_items
from riskwatch.grade.items import ItemInputs, ItemOptions, build_items

AS_OF = pd.Timestamp("2026-11-30")
T = "339902001"          # a township
GRID = T + "001001"


def case(sid: str, days_ago: int, *, level: str = "district", category: str = "0101", region: str = GRID,
         due_in: int | None = 30, closed: bool = False, returned: int = 0, sat: str = "none",
         source: str = "petition_register") -> dict[str, object]:
    received = AS_OF - pd.Timedelta(days=days_ago)
    return {"source": source, "source_id": sid, "received_at": received, "category_code": category,
            "region_code": region, "level": level, "status": "closed" if closed else "in_progress",
            "due_at": received + pd.Timedelta(days=due_in) if due_in is not None else pd.NaT,
            "closed_at": received + pd.Timedelta(days=5) if closed else pd.NaT,
            "returned_count": returned, "satisfaction": sat}


def signal(kind: str, subject: str, **kw: object) -> dict[str, object]:
    return {"signal_key": f"{kind}:{subject}", "kind": kind, "subject": subject,
            "category_code": kw.get("category"), "region_code": kw.get("region"),
            "period": kw.get("period", AS_OF - pd.Timedelta(days=7)), "observed": kw.get("observed", np.nan),
            "expected": kw.get("expected", np.nan), "p_value": kw.get("p_value", np.nan)}


def inputs(cases: list[dict], signals: list[dict], case_persons: list[tuple[str, str]],
           members: list[tuple[str, str, int]] = (), group_cases: list[tuple[str, str]] = ()) -> ItemInputs:
    return ItemInputs(
        signals=pd.DataFrame(signals),
        cases=pd.DataFrame(cases),
        case_persons=pd.DataFrame([("petition_register", s, p) for s, p in case_persons],
                                  columns=["source", "source_id", "person_id"]),
        members=pd.DataFrame([(g, p, AS_OF - pd.Timedelta(days=d)) for g, p, d in members],
                             columns=["group_id", "person_id", "joined_at"]),
        group_cases=pd.DataFrame([(g, "petition_register", s) for g, s in group_cases],
                                 columns=["group_id", "source", "source_id"]))


def test_a_person_s_case_signals_make_one_item_with_the_person_s_figures() -> None:
    cases = [case("A", 100, closed=True, sat="dissatisfied"), case("B", 40, due_in=10, returned=2),
             case("C", 3, level="province"), case("X", 500)]
    signals = [signal("dissatisfied", "petition_register:A"), signal("overdue", "petition_register:B"),
               signal("escalation", "petition_register:C")]
    items, feats = build_items(inputs(cases, signals, [("A", "P1"), ("B", "P1"), ("C", "P1"), ("X", "P1")]), AS_OF)
    assert items["item_key"].tolist() == ["person:P1"]
    row = items.iloc[0]
    assert row["signal_keys"] == sorted(s["signal_key"] for s in signals)
    assert row["case_keys"] == ["petition_register:A", "petition_register:B",
                                "petition_register:C"]   # the person's cases of the year: X is older
    f = feats.iloc[0]
    assert (f["cases_90d"], f["cases_365d"], f["days_since_last"]) == (2, 3, 3)
    assert (f["max_level"], f["days_since_max_level"]) == (2, 3)
    assert f["overdue_days"] == 30 and f["returns"] == 2 and f["dissatisfied"] == 1
    assert np.isnan(f["group_members"]) and np.isnan(f["spike_p"])


def test_members_cases_point_to_their_group_and_anonymous_cases_stay_cases() -> None:
    cases = [case("G1", 10, region=GRID), case("G2", 8, region="339902002001001"), case("M", 5),
             case("N", 2, source="hotline_12345")]
    signals = [signal("escalation", "petition_register:M"), signal("group_growth", "GR1"),
               signal("overdue", "hotline_12345:N")]
    members = [("GR1", "P1", 400), ("GR1", "P2", 20), ("GR1", "P3", 5), ("GR1", "P4", -3)]  # P4 joins later
    got, feats = build_items(inputs(cases, signals, [("M", "P2")], members, [("GR1", "G1"), ("GR1", "G2")]),
                             AS_OF, ItemOptions(days_to_sensitive=12))
    assert got["item_key"].tolist() == ["case:hotline_12345:N", "group:GR1"]
    group = got.set_index("item_key").loc["group:GR1"]
    assert group["signal_keys"] == ["escalation:petition_register:M", "group_growth:GR1"]
    assert set(group["case_keys"]) == {"petition_register:G1", "petition_register:G2", "petition_register:M"}
    f = feats.set_index("item_key").loc["group:GR1"]
    assert (f["group_members"], f["group_new_30d"], f["group_townships"]) == (3, 2, 2)
    assert (feats["days_to_sensitive"] == 12).all()


def test_a_hotspot_says_how_much_came_from_groups_and_repeat_petitioners() -> None:
    week = AS_OF - pd.Timedelta(days=7)
    cases = ([case(f"g{i}", 5, category="0101") for i in range(5)]
             + [case("r1", 5, category="0101"), case("r0", 60, category="0102")]
             + [case(f"o{i}", 4, category="0101") for i in range(3)] + [case("far", 4, category="0201")])
    persons = [(f"g{i}", f"M{i}") for i in range(5)] + [("r1", "R"), ("r0", "R")] + [(f"o{i}", f"O{i}") for i in range(3)]
    members = [("GR9", f"M{i}", 100) for i in range(5)]
    signals = [signal("spike", "W:0101:" + T, category="0101", region=T, period=week, observed=9, expected=3,
                      p_value=0.0004),
               signal("rise", "W:0101:" + T, category="0101", region=T, period=week - pd.Timedelta(days=7),
                      observed=5, expected=3, p_value=0.02)]
    got, feats = build_items(inputs(cases, signals, persons, members),
                             AS_OF, ItemOptions(sensitive_categories=frozenset({"0101"})))
    assert got["item_key"].tolist() == ["hotspot:W:0101:" + T]
    assert got.iloc[0]["chain"] == {"cases": 9, "groups": [{"group_id": "GR9", "cases": 5}], "repeat_cases": 1}
    f = feats.iloc[0]
    assert (f["spike_p"], f["spike_ratio"], f["excess"], f["sensitive_category"]) == (0.0004, 3.0, 6.0, 1.0)
    rules = load_settings().grading
    assert rules is not None
    graded = grade_items(feats, replace(rules, yellow_at=30.0, red_at=60.0))
    assert graded["score"].iloc[0] == 60 and graded["grade"].iloc[0] == "red"   # p 30 + ratio 20 + sensitive 10


def test_row_order_does_not_matter() -> None:
    cases = [case(f"c{i}", i * 7 + 1, level=["district", "city", "province"][i % 3], sat="dissatisfied" if i % 2 else "none")
             for i in range(12)]
    persons = [(f"c{i}", f"P{i % 4}") for i in range(12)]
    signals = [signal(k, f"petition_register:c{i}") for i, k in enumerate(["overdue", "dissatisfied", "escalation"] * 4)]
    members = [("GR1", "P0", 10), ("GR1", "P1", 50)]
    a_items, a_feats = build_items(inputs(cases, signals, persons, members), AS_OF)
    rng = np.random.default_rng(3)
    shuffled = inputs([cases[i] for i in rng.permutation(12)], [signals[i] for i in rng.permutation(12)],
                      [persons[i] for i in rng.permutation(12)], members[::-1])
    b_items, b_feats = build_items(shuffled, AS_OF)
    pd.testing.assert_frame_equal(a_items, b_items)
    pd.testing.assert_frame_equal(a_feats, b_feats)
    assert a_items["item_key"].is_unique

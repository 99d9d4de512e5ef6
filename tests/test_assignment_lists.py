"""The case-assignment lists a leader prints: per county leader and per township, masked, neutralized, laid
out for A4 landscape with a frozen, repeated header (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from riskwatch.assign.lifecycle import LEDGER_COLUMNS
from riskwatch.config import load_settings
from riskwatch.report.assignment_lists import LIST_COLUMNS, assignment_lists, write_assignment_lists

SETTINGS = load_settings()
STAFF = {m.id: m for m in SETTINGS.staff}
LEADER = next(m for m in SETTINGS.staff if m.role == "county_leader" and m.region == "339902")
TOWN_LEADER = next(m for m in SETTINGS.staff if m.role == "township_leader" and m.region == "339902001")
WORKER = next(m for m in SETTINGS.staff if m.role == "grid_worker" and m.region.startswith("339902001"))
AT = pd.Timestamp("2026-11-30 08:00")


def item(key: str, grade: str, owner: str | None, status: str = "assigned", kind: str = "person",
         sid: str = "P1", sentence: str = "红色（70 分）：一年内进京上访") -> dict[str, object]:
    row = {c: None for c in LEDGER_COLUMNS}
    row.update(item_key=key, grade=grade, score=70.0, status=status, owner_id=owner, due_at=AT + pd.Timedelta(days=7),
               subject_kind=kind, subject_id=sid, category_code="0101", region_code=WORKER.region,
               sentence=sentence, evidence=[], case_keys=[], chain={}, reasons=[])
    return row


def test_lists_per_leader_and_township_masked_and_printable(tmp_path: Path) -> None:
    items = pd.DataFrame([item("person:P1", "red", LEADER.id), item("group:G1", "yellow", TOWN_LEADER.id, kind="group", sid="G1"),
                          item("person:P2", "blue", WORKER.id, sid="P2", sentence="=HYPERLINK(\"http://x\")"),
                          item("person:P3", "blue", None, status="new", sid="P3"),
                          item("person:P4", "red", LEADER.id, status="verified", sid="P4")])
    events = pd.DataFrame([{"item_key": "person:P1", "at": AT, "kind": "assigned", "by": "riskwatch", "grade": "red",
                            "owner_id": LEADER.id, "due_at": AT, "note": "x"},
                           {"item_key": "person:P1", "at": AT + pd.Timedelta(days=1), "kind": "progress",
                            "by": LEADER.id, "grade": "red", "owner_id": LEADER.id, "due_at": AT, "note": "+约谈"}])
    lists = assignment_lists(items, events, SETTINGS.staff, SETTINGS.taxonomy, SETTINGS.regions,
                             {"P1": "张*", "P2": "李*"}, AT)
    by_stem = {lst.stem: lst for lst in lists}
    leader = next(v for k, v in by_stem.items() if LEADER.name in k)
    assert list(leader.rows.columns) == LIST_COLUMNS
    assert leader.rows["事项"].tolist() == ["信访人 张*（P1）"]          # verified P4 is not on it, P3 not owned
    assert leader.rows["最新进展"].iloc[0] == "12-01 +约谈" and leader.rows["交办日期"].iloc[0] == "2026-11-30"
    assert len(lists) == 2
    town = next(v for k, v in by_stem.items() if LEADER.name not in k)
    assert town.rows["等级"].tolist() == ["黄色", "蓝色"]
    paths = write_assignment_lists([leader, town], tmp_path)
    assert sorted(p.suffix for p in paths) == [".csv", ".csv", ".xlsx", ".xlsx"]
    wb = load_workbook(next(p for p in paths if p.suffix == ".xlsx" and p.stem == town.stem))
    ws = wb.active
    assert ws["A1"].value.startswith("乡镇（街道）包案清单") and [c.value for c in ws[2]] == LIST_COLUMNS
    assert ws.freeze_panes == "A3" and ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows == "$1:$2"
    assert ws.column_dimensions["F"].width > 40
    texts = [c.value for row in ws.iter_rows(min_row=3) for c in row if isinstance(c.value, str)]
    assert "'=HYPERLINK(\"http://x\")" in texts                       # neutralized
    csv_text = next(p for p in paths if p.suffix == ".csv" and p.stem == town.stem).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in csv_text

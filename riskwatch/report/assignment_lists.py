"""The case-assignment lists (领导包案清单) a leader prints: one per county-level leader (their red items) and one
per township (the yellow items of its leaders and the blue items of its grid workers), as XLSX laid out for A4
landscape and as CSV. Personal data is masked (the caller passes masked names); formula-like text is
neutralized by ``export``.

``assignment_lists(items, events, staff, taxonomy, regions, names, as_of)`` builds the frames (``LIST_COLUMNS``);
``write_assignment_lists(lists, folder)`` writes them and returns the paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskwatch.assign.lifecycle import OPEN_WORK, STATUS_LABELS, Status
from riskwatch.config import RegionTree, StaffMember, Taxonomy
from riskwatch.export import SheetLayout, write_csv, write_xlsx
from riskwatch.schema import GRADE_LABELS, GRADE_RANK, Grade, RegionLevel

LIST_COLUMNS = ["序号", "等级", "事项", "类别", "区域", "研判依据", "包案人", "职务", "交办日期", "化解期限", "状态",
                "最新进展"]
WIDTHS = {"序号": 5, "等级": 6, "事项": 16, "类别": 12, "区域": 12, "研判依据": 44, "包案人": 7, "职务": 10,
          "交办日期": 10, "化解期限": 10, "状态": 8, "最新进展": 20}
WRAPPED = frozenset({"事项", "类别", "区域", "研判依据", "职务", "最新进展"})
PERSON_ACTIONS = frozenset({"acknowledge", "progress", "resolve", "verify", "reopen", "override", "confirm"})


@dataclass(frozen=True)
class AssignmentList:
    stem: str     # file name without extension
    title: str
    rows: pd.DataFrame


def assignment_lists(items: pd.DataFrame, events: pd.DataFrame, staff: Sequence[StaffMember], taxonomy: Taxonomy,
                     regions: RegionTree, names: Mapping[str, str], as_of: pd.Timestamp) -> list[AssignmentList]:
    """The lists of the open, owned items (see the module docstring); ``names``: person id -> masked name."""
    by_id = {m.id: m for m in staff}
    owned = items[items["status"].isin([s.value for s in OPEN_WORK]) & items["owner_id"].isin(list(by_id))]
    day = f"{pd.Timestamp(as_of):%Y-%m-%d}"
    out = []
    for leader in sorted((m for m in staff if m.role == "county_leader"), key=lambda m: m.id):
        mine = owned[owned["owner_id"] == leader.id]
        if len(mine):
            out.append(AssignmentList(f"包案清单_{region_label(regions, leader.region)}_{leader.name}",
                                      f"领导包案清单 · {leader.name}（{leader.title}） · 截至 {day}",
                                      _rows(mine, events, by_id, taxonomy, regions, names)))
    townships = sorted({m.region for m in staff if m.role == "township_leader"}
                       | {regions.ancestor_at(m.region, RegionLevel.TOWNSHIP) or "" for m in staff
                          if m.role == "grid_worker"} - {""})
    home = {o: (regions.ancestor_at(by_id[o].region, RegionLevel.TOWNSHIP) if by_id[o].region in regions.regions
                else None) for o in set(owned["owner_id"])}
    for town in townships:
        local_owners = {o for o, t in home.items() if t == town and by_id[o].role != "county_leader"}
        local = owned[owned["owner_id"].isin(local_owners)]
        if len(local):
            out.append(AssignmentList(f"包案清单_{region_label(regions, town)}",
                                      f"乡镇（街道）包案清单 · {region_label(regions, town)} · 截至 {day}",
                                      _rows(local, events, by_id, taxonomy, regions, names)))
    return out


def write_assignment_lists(lists: Sequence[AssignmentList], folder: Path) -> list[Path]:
    """Each list as ``<stem>.xlsx`` (printable) and ``<stem>.csv``; returns the paths written."""
    paths = []
    for lst in lists:
        xlsx, csv = folder / f"{lst.stem}.xlsx", folder / f"{lst.stem}.csv"
        write_xlsx({"包案清单": lst.rows}, xlsx, {"包案清单": SheetLayout(lst.title, WIDTHS, WRAPPED)})
        write_csv(lst.rows, csv, encoding="utf-8-sig")
        paths += [xlsx, csv]
    return paths


def _rows(items: pd.DataFrame, events: pd.DataFrame, staff: Mapping[str, StaffMember], taxonomy: Taxonomy,
          regions: RegionTree, names: Mapping[str, str]) -> pd.DataFrame:
    ordered = items.assign(_r=items["grade"].map(lambda g: -GRADE_RANK[Grade(g)]),
                           _d=pd.to_datetime(items["due_at"])).sort_values(["_r", "_d", "item_key"])
    rows = []
    for n, item in enumerate(ordered.itertuples(index=False), start=1):
        own = events[events["item_key"] == item.item_key]
        handed = own[own["kind"].isin(["assigned", "reassigned"])]
        latest = own[own["kind"].isin(PERSON_ACTIONS)]
        owner = staff[item.owner_id]
        rows.append({
            "序号": n, "等级": GRADE_LABELS[Grade(item.grade)], "事项": subject_label(item, taxonomy, regions, names),
            "类别": taxonomy.label(item.category_code) if item.category_code in taxonomy.categories else "",
            "区域": region_label(regions, item.region_code), "研判依据": item.sentence,
            "包案人": owner.name, "职务": owner.title,
            "交办日期": f"{pd.Timestamp(handed['at'].iloc[-1]):%Y-%m-%d}" if len(handed) else "",
            "化解期限": f"{pd.Timestamp(item.due_at):%Y-%m-%d}" if pd.notna(item.due_at) else "",
            "状态": STATUS_LABELS[Status(item.status)],
            "最新进展": f"{pd.Timestamp(latest['at'].iloc[-1]):%m-%d} {latest['note'].iloc[-1]}" if len(latest) else "",
        })
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def subject_label(item: object, taxonomy: Taxonomy, regions: RegionTree, names: Mapping[str, str]) -> str:
    kind, sid = item.subject_kind, str(item.subject_id)
    if kind == "person":
        return f"信访人 {names.get(sid, '（无名）')}（{sid}）"
    if kind == "group":
        return f"群体 {sid}"
    if kind == "case":
        return f"案件 {sid.split(':', 1)[-1]}"
    parts = sid.split(":")  # hotspot: <freq>:<category>:<region>
    cat = taxonomy.label(parts[1]) if len(parts) == 3 and parts[1] in taxonomy.categories else "全部类别"
    return f"热点 {cat} · {region_label(regions, parts[-1])}"


def region_label(regions: RegionTree, code: object) -> str:
    text = "" if code is None or code != code else str(code)
    while text and text not in regions.regions:
        text = text[:-1]
    if not text:
        return ""
    chain = [regions.regions[c] for c in reversed(regions.ancestors(text))]
    shown = [r.name for r in chain if r.level in (RegionLevel.DISTRICT, RegionLevel.TOWNSHIP, RegionLevel.COMMUNITY)]
    return "".join(shown[-2:]) if shown else regions.regions[text].name

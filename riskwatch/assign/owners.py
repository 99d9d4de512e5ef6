"""Owners for graded risk items (包案): who, and by when (pure).

``assign_owners(items, staff, regions, load, as_of, deadlines)`` gives each item in ``items`` (``item_key,
grade, region_code, owner_id`` — the current owner or missing) one owner:

* red → a county-level leader (``county_leader``) of the item's district, yellow → a township or street
  leader (``township_leader``) of its township, blue → the grid worker (``grid_worker``) of its grid; an item
  whose region is coarser than that (a hotspot of a whole township graded blue) goes to someone of that role
  under its region, and one with no such person goes up: to the role above in the nearest region that has
  one (the reason says so);
* an item keeps its current owner while that owner still fits the grade (no churn from one run to the next);
* otherwise the candidate with the least open load (``load``: owner id -> open items, counting those given
  in this run) under their ``cap`` is chosen, ties by staff id; when every candidate is at the cap, the
  least loaded takes it and ``over_cap`` says so, for the analyst to see.

Returns ``item_key, owner_id, owner_role, due_at, over_cap, assign_reason``. ``due_at`` is ``as_of`` plus
``deadlines[grade]`` days: an item handed out (new, escalated, reopened) starts a new deadline, whoever holds it;
missing only when nobody could be named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from riskwatch.config import RegionTree, StaffMember
from riskwatch.schema import GRADE_RANK, ITEM_KEY, REGION_CODE, Grade, RegionLevel, require_columns

ROLE_OF_GRADE: dict[Grade, str] = {Grade.RED: "county_leader", Grade.YELLOW: "township_leader",
                                   Grade.BLUE: "grid_worker"}
LEVEL_OF_ROLE: dict[str, RegionLevel] = {"county_leader": RegionLevel.DISTRICT,
                                         "township_leader": RegionLevel.TOWNSHIP, "grid_worker": RegionLevel.GRID}
ROLE_LABELS: dict[str, str] = {"county_leader": "县级包案领导", "township_leader": "乡镇（街道）包案领导",
                               "grid_worker": "网格员"}
ROLE_ABOVE: dict[str, str | None] = {"grid_worker": "township_leader", "township_leader": "county_leader",
                                     "county_leader": None}
ASSIGNED_COLUMNS = (ITEM_KEY, "owner_id", "owner_role", "due_at", "over_cap", "assign_reason")


def assign_owners(items: pd.DataFrame, staff: Sequence[StaffMember], regions: RegionTree,
                  load: Mapping[str, int], as_of: pd.Timestamp, deadlines: Mapping[Grade, int]) -> pd.DataFrame:
    """One owner per item (see the module docstring)."""
    require_columns(items.columns, (ITEM_KEY, "grade", REGION_CODE, "owner_id"), "assign_owners")
    by_id = {m.id: m for m in staff}
    open_load = dict(load)
    rows = []
    # the highest grades first, so leaders' caps go to red items before anything else
    order = items.assign(_rank=items["grade"].map(lambda g: -GRADE_RANK[Grade(g)])).sort_values(["_rank", ITEM_KEY])
    for item in order.itertuples(index=False):
        key, grade = str(getattr(item, ITEM_KEY)), Grade(item.grade)
        region = _known_region(getattr(item, REGION_CODE), regions)
        role = ROLE_OF_GRADE[grade]
        current = by_id.get(str(item.owner_id)) if isinstance(item.owner_id, str) else None
        if current is not None and current.role == role and _covers(current, region, regions):
            rows.append({ITEM_KEY: key, "owner_id": current.id, "owner_role": role,
                         "due_at": pd.Timestamp(as_of).normalize() + pd.Timedelta(days=int(deadlines[grade])),
                         "over_cap": open_load.get(current.id, 0) > current.cap, "assign_reason": "原包案人继续负责"})
            continue
        candidates, used_role, note = _candidates(role, region, staff, regions)
        if not candidates:
            rows.append({ITEM_KEY: key, "owner_id": None, "owner_role": role, "due_at": pd.NaT, "over_cap": False,
                         "assign_reason": f"无可分配的{ROLE_LABELS[role]}（{region}）：请在 staff.toml 中配置"})
            continue
        under = [m for m in candidates if open_load.get(m.id, 0) < m.cap]
        pool = under or candidates
        chosen = min(pool, key=lambda m: (open_load.get(m.id, 0), m.id))
        open_load[chosen.id] = open_load.get(chosen.id, 0) + 1
        reason = f"{ROLE_LABELS[used_role]}中在办最少（{open_load[chosen.id] - 1} 件）" + note
        if not under:
            reason += "；所有候选人均已达上限"
        rows.append({ITEM_KEY: key, "owner_id": chosen.id, "owner_role": used_role,
                     "due_at": pd.Timestamp(as_of).normalize() + pd.Timedelta(days=int(deadlines[grade])),
                     "over_cap": not under, "assign_reason": reason})
    out = pd.DataFrame(rows, columns=list(ASSIGNED_COLUMNS))
    return out.set_index(ITEM_KEY).loc[items[ITEM_KEY].astype(str)].reset_index()


def _known_region(code: object, regions: RegionTree) -> str:
    """The item's region if the tree knows it, else its nearest known prefix, else the city."""
    text = "" if code is None or code != code else str(code)
    while text and text not in regions.regions:
        text = text[:-1]
    return text or regions.root


def _covers(member: StaffMember, region: str, regions: RegionTree) -> bool:
    """Whether ``member`` works where the item is: their region is the item's, or an ancestor or a
    descendant of it."""
    if member.region not in regions.regions:
        return False
    return member.region in regions.ancestors(region) or region in regions.ancestors(member.region)


def _candidates(role: str, region: str, staff: Sequence[StaffMember], regions: RegionTree
                ) -> tuple[list[StaffMember], str, str]:
    """Staff of ``role`` for ``region``: at the role's level above the region, else under it; if nobody
    has that role there, the role above (a grid without a worker goes to its township leader)."""
    current: str | None = role
    note = ""
    while current is not None:
        level = LEVEL_OF_ROLE[current]
        home = regions.ancestor_at(region, level)
        if home is not None:
            found = [m for m in staff if m.role == current and m.region == home]
        else:   # the item's region is coarser than the role's level: anyone of the role under it
            found = [m for m in staff if m.role == current and m.region in regions.regions
                     and region in regions.ancestors(m.region)]
        if found:
            return sorted(found, key=lambda m: m.id), current, note
        note = f"；{ROLE_LABELS[current]}未配置，上交{ROLE_LABELS[ROLE_ABOVE[current]] if ROLE_ABOVE[current] else ''}"
        current = ROLE_ABOVE[current]
    return [], role, note

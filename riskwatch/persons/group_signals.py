"""Signals of organised groups (pure): growth, spread to new townships and escalation.

``group_findings``: growth, spread to new townships and escalation in the period ending just before
``as_of``, as rows of ``schema.SIGNAL_COLUMNS`` keyed ``<kind>:<group_id>`` for ``detect.lifecycle``, on the
frames of ``groups.find_groups`` (or as stored). Sentences and evidence name a group by id, category,
townships and size: never a person. When a change is a signal is ``GroupSignalOptions``.

Nothing here reads the clock, files or the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import RegionTree, Taxonomy
from riskwatch.detect.lifecycle import findings_frame
from riskwatch.detect.sentences import day_text
from riskwatch.forecast.base import last_period_start
from riskwatch.persons.groups import (
    GROUP_CASE_COLUMNS,
    GROUP_ID,
    PERSON_ID,
    TOWNSHIP_LEN,
    known_levels,
    most_common,
    township_codes,
)


@dataclass(frozen=True)
class GroupSignalOptions:
    """When a group's change is a signal.

    ``growth_weeks``: the window new members are counted in: a month of weekly review meetings, long
    enough to see a group mobilising ahead of a sensitive period (lead-ins run 10-14 days).
    ``growth_min_new``: at least this many new members: five people make a group case (DOMAIN.md); fewer
    is the rotation of the five representatives a visiting group may send.
    ``growth_min_share``: and at least this share of the group's size: 5 new names in a group of 40 is
    churn, a quarter of the group is a change in kind.
    ``escalation_min_level``: the lowest level whose first reach is a signal: district visits are the
    normal route; reaching the city, the province or Beijing for the first time is not.
    A group's first township is not a spread: a group needs cases before the period to spread.
    """

    growth_weeks: int = 4
    growth_min_new: int = 5
    growth_min_share: float = 0.25
    escalation_min_level: S.Level = S.Level.CITY

    def __post_init__(self) -> None:
        if self.growth_weeks < 1 or self.growth_min_new < 1 or not 0 < self.growth_min_share <= 1:
            raise ValueError("GroupSignalOptions: growth_weeks >= 1, growth_min_new >= 1, "
                             "growth_min_share in (0, 1]")
        object.__setattr__(self, "escalation_min_level", S.Level(self.escalation_min_level))


KIND_ORDER: tuple[S.SignalKind, ...] = (S.SignalKind.GROUP_ESCALATION, S.SignalKind.GROUP_SPREAD,
                                        S.SignalKind.GROUP_GROWTH)


def group_findings(groups: pd.DataFrame, members: pd.DataFrame, group_cases: pd.DataFrame, cases: pd.DataFrame,
                   as_of: pd.Timestamp, period: str = "W", regions: RegionTree | None = None,
                   taxonomy: Taxonomy | None = None, options: GroupSignalOptions = GroupSignalOptions()
                   ) -> pd.DataFrame:
    """One row per group finding, columns ``schema.SIGNAL_COLUMNS``, ordered by kind then group id.

    The period (``"W"``: Monday weeks, ``"M"``: months) ends just before ``as_of``. Only what was known
    before ``as_of`` counts: cases received and members joined before it. ``groups``: ``group_id``;
    ``members``: ``group_id, person_id, joined_at``; ``group_cases``: ``group_id, source, source_id``;
    ``cases``: ``source, source_id, received_at, category_code, region_code, level``.

    - ``group_growth``: at least ``growth_min_new`` members joined in the last ``growth_weeks`` weeks
      and they are at least ``growth_min_share`` of the group (a group that just formed counts);
    - ``group_spread``: a case of the period lies in a township none of the group's earlier cases did;
    - ``group_escalation``: a case of the period reached a level (``escalation_min_level`` or above)
      higher than any earlier case of the group.

    ``signal_key`` is ``<kind>:<group_id>``, ``subject`` the group id, ``region_code`` the township the
    finding is about (the group's main one, or the first new one), ``observed`` new members, new
    townships, or the level's rank. Sentences name groups by category, townships and size, never a person.
    """
    S.require_columns(groups.columns, (GROUP_ID,), "group_findings(groups)")
    S.require_columns(members.columns, (GROUP_ID, PERSON_ID, "joined_at"), "group_findings(members)")
    S.require_columns(group_cases.columns, GROUP_CASE_COLUMNS, "group_findings(group_cases)")
    S.require_columns(cases.columns, (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE,
                                      S.LEVEL), "group_findings(cases)")
    if period not in ("W", "M"):
        raise ValueError(f"group_findings: period must be 'W' or 'M', got {period!r}")
    as_of = pd.Timestamp(as_of)
    start = last_period_start(as_of, period)
    since = as_of - pd.Timedelta(weeks=options.growth_weeks)
    info = cases[[S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE, S.LEVEL]]
    gc = group_cases[list(GROUP_CASE_COLUMNS)].astype(str).merge(
        info.astype({S.SOURCE: str, S.SOURCE_ID: str}), on=[S.SOURCE, S.SOURCE_ID])
    gc[S.RECEIVED_AT] = pd.to_datetime(gc[S.RECEIVED_AT])
    gc = gc.loc[gc[S.RECEIVED_AT] < as_of]
    mem = members.assign(joined_at=pd.to_datetime(members["joined_at"]))
    mem = mem.loc[mem["joined_at"] < as_of]
    by_case, by_member = dict(tuple(gc.groupby(GROUP_ID))), dict(tuple(mem.groupby(GROUP_ID)))
    rows: list[dict[str, Any]] = []
    for gid in sorted(set(groups[GROUP_ID].astype(str))):
        if gid not in by_case or gid not in by_member:
            continue
        state = _state(gid, by_case[gid], by_member[gid], start, since, options)
        for kind in KIND_ORDER:
            if kind in state["kinds"]:
                rows.append(_finding(kind, state, start, as_of, period, options, regions, taxonomy))
    rows.sort(key=lambda r: (KIND_ORDER.index(S.SignalKind(r[S.KIND])), r[S.SUBJECT]))
    return findings_frame(rows)


def _rank(values: pd.Series) -> int:
    """The highest ``LEVEL_RANK`` among ``values`` (unknown values ignored), -1 when none."""
    return max((S.LEVEL_RANK[S.Level(v)] for v in known_levels(values)), default=-1)


def _state(gid: str, gc: pd.DataFrame, mem: pd.DataFrame, start: pd.Timestamp, since: pd.Timestamp,
           options: GroupSignalOptions) -> dict[str, Any]:
    """The group's figures as of the end of the period, and which kinds fire."""
    before, now = gc.loc[gc[S.RECEIVED_AT] < start], gc.loc[gc[S.RECEIVED_AT] >= start]
    size, new = len(mem), int((mem["joined_at"] >= since).sum())
    towns = township_codes(gc[S.REGION_CODE])
    town_cases = gc[S.REGION_CODE].dropna().astype(str).str[:TOWNSHIP_LEN]
    main = most_common(town_cases[town_cases.str.len() == TOWNSHIP_LEN]) or most_common(gc[S.REGION_CODE])
    towns_before = township_codes(before[S.REGION_CODE])
    new_towns = sorted(set(township_codes(now[S.REGION_CODE])) - set(towns_before))
    rank_before, rank_now = _rank(before[S.LEVEL]), _rank(now[S.LEVEL])
    kinds = set()
    if new >= options.growth_min_new and new / size >= options.growth_min_share:
        kinds.add(S.SignalKind.GROUP_GROWTH)
    if len(before) and new_towns:
        kinds.add(S.SignalKind.GROUP_SPREAD)
    if rank_now > rank_before and rank_now >= S.LEVEL_RANK[options.escalation_min_level]:
        kinds.add(S.SignalKind.GROUP_ESCALATION)
    return {"group_id": gid, "kinds": kinds, "size": size, "new": new, "new_group": new == size,
            "cases": len(gc), "cases_in_period": len(now), "townships": towns, "main": main,
            "new_townships": new_towns, "earlier_townships": len(towns_before),
            "rank_before": rank_before, "rank_now": rank_now, S.CATEGORY_CODE: most_common(gc[S.CATEGORY_CODE]),
            "first_seen": gc[S.RECEIVED_AT].min(), "first_joined": mem["joined_at"].min()}


_LEVEL_BY_RANK: dict[int, S.Level] = {r: lv for lv, r in S.LEVEL_RANK.items()}


def _reach(rank: int) -> str:
    level = _LEVEL_BY_RANK[rank]
    return "进京" if level == S.Level.NATIONAL else f"到{S.LEVEL_LABELS[level]}级"


def _finding(kind: S.SignalKind, st: Mapping[str, Any], start: pd.Timestamp, as_of: pd.Timestamp, period: str,
             options: GroupSignalOptions, regions: RegionTree | None, taxonomy: Taxonomy | None) -> dict[str, Any]:
    gid, size = st["group_id"], st["size"]
    when = "本周" if period == "W" else "本月"
    evidence: dict[str, Any] = {
        "group_id": gid, "size": size, "cases": st["cases"], "cases_in_period": st["cases_in_period"],
        "townships": list(st["townships"]), "category_code": st[S.CATEGORY_CODE],
        "first_seen": pd.Timestamp(st["first_seen"]).isoformat()}
    region = st["main"]
    if kind == S.SignalKind.GROUP_GROWTH:
        share = st["new"] / size
        evidence.update(new_members=st["new"], window_weeks=options.growth_weeks, share=round(share, 4),
                        new_group=bool(st["new_group"]))
        observed = float(st["new"])
        text = (f"近 {options.growth_weeks} 周新形成，{day_text(st['first_joined'], as_of)}首次出现" if st["new_group"]
                else f"近 {options.growth_weeks} 周新增 {st['new']} 人（占 {share:.0%}）")
    elif kind == S.SignalKind.GROUP_SPREAD:
        names = "、".join(_region_name(c, regions) for c in st["new_townships"])
        evidence.update(new_townships=list(st["new_townships"]), earlier_townships=st["earlier_townships"])
        observed, region = float(len(st["new_townships"])), st["new_townships"][0]
        text = f"{when}首次出现在{names}（此前涉及 {st['earlier_townships']} 个镇街）"
    else:
        before = st["rank_before"]
        evidence.update(level=_LEVEL_BY_RANK[st["rank_now"]].value,
                        previous_level=_LEVEL_BY_RANK[before].value if before >= 0 else "")
        observed = float(st["rank_now"])
        text = (f"{when}首次{_reach(st['rank_now'])}（此前最高{_reach(before)}）" if before >= 0
                else f"{when}首次出现即{_reach(st['rank_now'])}")
    return {
        S.SIGNAL_KEY: f"{kind.value}:{gid}", S.KIND: kind.value, S.SUBJECT: gid,
        S.CATEGORY_CODE: st[S.CATEGORY_CODE], S.REGION_CODE: region, S.PERIOD: start, S.OBSERVED: observed,
        S.EXPECTED: np.nan, S.UPPER: np.nan, S.P_VALUE: np.nan, S.LABEL: "",
        S.SENTENCE: f"群体 {gid}（{_name_group(st, regions, taxonomy)}）：{text}", S.EVIDENCE: evidence,
    }


def _name_group(st: Mapping[str, Any], regions: RegionTree | None, taxonomy: Taxonomy | None) -> str:
    """``征地拆迁 · 南塘镇等 2 个镇街，23 人``."""
    cat = str(st[S.CATEGORY_CODE]) if st[S.CATEGORY_CODE] is not None else "未分类"
    if taxonomy is not None and cat in taxonomy.categories:
        cat = taxonomy.categories[cat].name
    towns = list(st["townships"])
    where = _region_name(str(st["main"]), regions) if st["main"] is not None else "地区不详"
    if len(towns) > 1:
        where += f"等 {len(towns)} 个镇街"
    return f"{cat} · {where}，{st['size']} 人"


def _region_name(code: str, regions: RegionTree | None) -> str:
    if regions is not None and code in regions.regions:
        return regions.regions[code].name
    return code

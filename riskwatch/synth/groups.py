"""Organised groups (群体): joint letters and group visits that grow, spread and escalate under pressure.

Two steps around the lifecycle of ``synth.model``:

1. ``plan_group_events`` (before the lifecycle): each group gets a hidden grievance size, persistence and
   temperament (``synth.pressure``), a township of origin with a site grid, for ``SPREAD_SHARE`` of the
   groups a neighbouring township of the same district whose residents share the grievance (the next
   township in code order), and up to ``MAX_EVENTS`` candidate dates (gaps drawn around
   ``GAP_MEDIAN_DAYS``, some pulled into the lead-in of 全国两会 or 国庆). Each candidate is a petition case
   row, so the lifecycle gives it a deadline, a reply, an evaluation.
2. ``run_groups`` (after it): the first candidate always happens; each later one happens when the group
   comes back (``pressure.return_probability`` on the pressure at its date, which the last case's reply,
   lateness, returned orders and evaluation move), otherwise the group stops and its remaining
   candidates are dropped. At each event new members join (more under pressure; from the neighbouring
   township when the group has one, ``SPREAD_JOIN`` of them), and once enough live there the event may be
   led from there (written at a grid of that township, a local member named first). Its level is an
   ordered-logit draw on the pressure like a solo petition's, ``GROUP_LEVEL_OFFSET`` higher: no fixed
   climb to a planned maximum.

A joint letter (来信) carries every member's name; a visit (来访) the five representatives (the first-named
and the earliest members), with a headcount of half to all of the members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from riskwatch.synth import pressure as pr
from riskwatch.synth.matters import sensitive_days, to_days

if TYPE_CHECKING:
    from riskwatch.synth.model import Geography

GROUP_CATEGORIES = ("0101", "0201", "0202", "0503", "0504", "0801", "0104", "0902", "0701")
MAX_EVENTS = 14             # candidate events of a group
GAP_MEDIAN_DAYS = 35.0      # median gap between candidate events
GAP_SIGMA = 0.7
SENSITIVE_GATHER = 0.4      # a candidate event pulled into the next lead-in of 全国两会 / 国庆
FOUNDERS = (6, 26)          # members at the first event: integers in [low, high)
JOIN_RATE = 0.15            # expected joiners at an event: members * JOIN_RATE * p / (p + 1)
MAX_MEMBERS = 60
SPREAD_SHARE = 0.6          # groups whose grievance reaches a neighbouring township
SPREAD_JOIN = 0.6           # of their joiners, the share living there
LEAD_FROM_SPREAD = 0.4      # an event led from the neighbouring township, once 3+ members live there
GROUP_PERSIST_MU, GROUP_PERSIST_SIGMA = -0.2, 0.6  # groups come back more readily than one person
GROUP_LEVEL_OFFSET = 0.2
GROUP_SIZE_SHIFT = 0.8      # a group's grievance is larger: lognormal mu shifted by this
VISIT_SHARE = 0.7           # later events: a visit, else a joint letter
LETTER_AFTER_JOINERS = 0.6  # after 3+ joiners, a joint letter with this chance (the new names sign)
STAY_AT_SITE = 0.7          # events written at the site grid (or the neighbouring township's grid)
GROUP_PERIODS = ("two_sessions", "national_day")


@dataclass
class GroupPlan:
    """Hidden state of one group (never written to the exports)."""

    group_id: str
    code: str
    town: int
    site_grid: int
    spread_town: int
    spread_grid: int
    size: float
    persist: float
    temper: float


@dataclass
class GroupResult:
    """What ``run_groups`` decided: the groups table, each member's township, home grid and joining
    time, and the members named on each group case (slots into the group's members, first-named first)."""

    groups: pd.DataFrame
    member_town: dict[str, np.ndarray] = field(default_factory=dict)
    member_grid: dict[str, np.ndarray] = field(default_factory=dict)
    member_joined: dict[str, np.ndarray] = field(default_factory=dict)
    case_slots: dict[int, np.ndarray] = field(default_factory=dict)


def plan_group_events(rng: np.random.Generator, frame: pd.DataFrame, geo: Geography, codes: list[str],
                      days: pd.DatetimeIndex, windows: pd.DataFrame, scale: float, years: int
                      ) -> tuple[pd.DataFrame, list[GroupPlan]]:
    """The frame with every group's candidate events appended (time-ordered), and the groups' plans."""
    n_groups = max(2, round(8 * years * scale ** 0.5))
    sens = windows[windows["period_id"].isin(list(GROUP_PERIODS))]
    lead_starts = np.sort(sens["lead_start"].to_numpy())
    towns_w = geo.town_w / geo.town_w.sum()
    town_district = geo.town_district
    rows, plans = [], []
    d_n = len(days)
    for g in range(n_groups):
        code = GROUP_CATEGORIES[int(rng.integers(0, len(GROUP_CATEGORIES)))]
        if code not in codes:
            code = codes[0]
        town = int(rng.choice(len(geo.towns), p=towns_w))
        site = int(geo.sample_grids(rng, np.array([town]))[0])
        spread, spread_grid = -1, -1
        if rng.random() < SPREAD_SHARE:
            spread = _neighbour(town, town_district)
            if spread >= 0:
                spread_grid = int(geo.sample_grids(rng, np.array([spread]))[0])
        gid = f"GR{g + 1:03d}"
        plans.append(GroupPlan(gid, code, town, site, spread, spread_grid,
                               float(pr.grievance(rng, 1)[0] * math.exp(GROUP_SIZE_SHIFT)),
                               float(rng.lognormal(GROUP_PERSIST_MU, GROUP_PERSIST_SIGMA)),
                               float(pr.temperament(rng, 1)[0])))
        d0 = int(rng.integers(0, max(1, d_n - 60)))
        gaps = np.exp(np.log(GAP_MEDIAN_DAYS) + GAP_SIGMA * rng.standard_normal(MAX_EVENTS - 1))
        when = [days[0] + pd.Timedelta(days=d0)]
        for gap in gaps:
            nxt = when[-1] + pd.Timedelta(days=float(np.ceil(gap)))
            if rng.random() < SENSITIVE_GATHER and len(lead_starts):
                ahead = lead_starts[lead_starts > when[-1].to_datetime64()]
                if len(ahead) and pd.Timestamp(ahead[0]) <= nxt + pd.Timedelta(days=60):
                    nxt = pd.Timestamp(ahead[0]) + pd.Timedelta(days=int(rng.integers(0, 10)))
            when.append(nxt)
        last = None
        for day in when:
            day = day.normalize()
            if last is not None and day <= last:
                day = last + pd.Timedelta(days=1)
            if day.day_of_week >= 5:  # offices receive on working days
                day += pd.Timedelta(days=7 - day.day_of_week)
            if day > days[-1]:
                break
            last = day
            ts = day + pd.Timedelta(hours=int(rng.integers(8, 17)), minutes=int(rng.integers(0, 60)))
            rows.append({"source": "petition_register", "channel": "来访", "stream": "office",
                         "category_code": code, "grid": site, "town": town, "received_at": ts.to_datetime64(),
                         "outbreak_id": "", "group_id": gid, "headcount": 5, "is_group": True, "level": 0})
    extra = pd.DataFrame(rows)
    extra["received_at"] = extra["received_at"].astype("datetime64[s]")
    frame["received_at"] = frame["received_at"].astype("datetime64[s]")
    frame = pd.concat([frame, extra], ignore_index=True)
    frame = frame[frame["received_at"] <= (days[-1] + pd.Timedelta(hours=23, minutes=59)).to_datetime64()]
    frame = frame.sort_values("received_at", kind="stable").reset_index(drop=True)
    return frame, plans


def _neighbour(town: int, town_district: np.ndarray) -> int:
    """The next township of the same district in code order (the previous one for the last); -1 if alone."""
    same = np.flatnonzero(town_district == town_district[town])
    if len(same) < 2:
        return -1
    i = int(np.searchsorted(same, town))
    return int(same[i + 1] if i + 1 < len(same) else same[i - 1])


def run_groups(rng: np.random.Generator, f: pd.DataFrame, plans: list[GroupPlan], geo: Geography,
               days: pd.DatetimeIndex, windows: pd.DataFrame) -> tuple[pd.DataFrame, GroupResult]:
    """Which candidate events happen, their level, channel, headcount, place and named members (see the
    module doc). Returns the frame without the events that did not happen, and the groups."""
    origin = days[0]
    t = to_days(f["received_at"].to_numpy(), origin)
    closed = to_days(f["closed_at"].to_numpy(), origin)
    due = to_days(f["due_at"].to_numpy(), origin)
    sat = f["satisfaction"].to_numpy()
    unresolved = f["resolved"].to_numpy() == "no"
    returned = f["returned_count"].to_numpy().astype(np.int64)
    inside, _ = sensitive_days(windows, days)
    day_of = np.clip(np.floor(t).astype(np.int64), 0, len(days) - 1)
    gids = f["group_id"].to_numpy()
    keep = np.ones(len(f), dtype=bool)
    level = f["level"].to_numpy().copy()
    later = f["escalate_later"].to_numpy().copy() if "escalate_later" in f else np.zeros(len(f), dtype=bool)
    channel = f["channel"].to_numpy().copy()
    head = f["headcount"].to_numpy().copy()
    grid = f["grid"].to_numpy().copy()
    town = f["town"].to_numpy().copy()
    slots_by_row: dict[int, np.ndarray] = {}
    result = GroupResult(pd.DataFrame())
    group_rows = []
    for plan in plans:
        rows = np.flatnonzero(gids == plan.group_id)
        if not len(rows):
            continue
        n0 = int(rng.integers(*FOUNDERS))
        m_town = [plan.town] * n0
        m_joined = [t[rows[0]]] * n0
        p, prev_max = plan.size, 0
        for e, r in enumerate(rows):
            joiners = 0
            if e:
                prev = rows[e - 1]
                replied = closed[prev] <= t[r]
                p = float(pr.next_pressure(p, t[r] - t[prev], plan.size, replied, ~replied & (t[r] > due[prev]),
                                           sat[prev] == "不满意", sat[prev] == "基本满意", sat[prev] == "未评价",
                                           unresolved[prev], closed[prev] > due[prev], returned[prev]))
                if not rng.random() < pr.return_probability(p, plan.persist):
                    keep[rows[e:]] = False
                    break
                joiners = min(int(rng.poisson(len(m_town) * JOIN_RATE * p / (p + 1.0))), MAX_MEMBERS - len(m_town))
                for _ in range(joiners):
                    there = plan.spread_town >= 0 and rng.random() < SPREAD_JOIN
                    m_town.append(plan.spread_town if there else plan.town)
                    m_joined.append(t[r])
            towns = np.array(m_town)
            local = np.flatnonzero(towns == plan.spread_town) if plan.spread_town >= 0 else np.array([], int)
            from_spread = e > 0 and len(local) >= 3 and rng.random() < LEAD_FROM_SPREAD
            first = int(local[0]) if from_spread else 0
            letter = e == 0 or (joiners >= 3 and rng.random() < LETTER_AFTER_JOINERS) or rng.random() >= VISIT_SHARE
            channel[r] = "来信" if letter else "来访"
            size_now = len(m_town)
            head[r] = size_now if letter else int(max(5, round(size_now * rng.uniform(0.5, 1.0))))
            others = [i for i in range(size_now) if i != first]
            named = [first] + (others if letter else others[:4])
            slots_by_row[int(r)] = np.array(named, dtype=np.int64)
            lead_town = plan.spread_town if from_spread else plan.town
            lead_grid = plan.spread_grid if from_spread else plan.site_grid
            if rng.random() < STAY_AT_SITE:
                grid[r] = lead_grid
            else:
                grid[r] = int(geo.sample_grids(rng, np.array([lead_town]))[0])
            town[r] = lead_town
            score = pr.level_score(plan.temper, p, bool(inside[day_of[r]]), prev_max, GROUP_LEVEL_OFFSET)
            lv = int(pr.level_from_score(score, rng.random()))
            up = lv < 3 and rng.random() < pr.later_probability(p)
            level[r], later[r] = lv + int(up), up
            prev_max = max(prev_max, int(level[r]))
        result.member_town[plan.group_id] = np.array(m_town, dtype=np.int64)
        result.member_grid[plan.group_id] = np.where(np.array(m_town) == plan.town, plan.site_grid,
                                                     plan.spread_grid).astype(np.int64)
        result.member_joined[plan.group_id] = np.array(m_joined)
        happened = rows[keep[rows]]
        towns_seen = sorted(set(geo.towns[np.array(m_town)]) | set(geo.towns[town[happened]]))
        group_rows.append({"group_id": plan.group_id, "category": plan.code, "townships": ";".join(towns_seen),
                           "members": len(m_town), "founders": n0, "events": len(happened),
                           "first_case": days[0] + pd.Timedelta(days=float(t[happened[0]])),
                           "last_case": days[0] + pd.Timedelta(days=float(t[happened[-1]]))})
    f = f.assign(level=level, escalate_later=later, channel=channel, headcount=head, grid=grid, town=town,
                 is_group=np.where(gids != "", head >= 5, f["is_group"].to_numpy()))
    kept = np.flatnonzero(keep)
    new_index = {int(old): i for i, old in enumerate(kept)}
    result.case_slots = {new_index[r]: s for r, s in slots_by_row.items() if keep[r]}
    result.groups = pd.DataFrame(group_rows)
    for col in ("first_case", "last_case"):
        if col in result.groups:
            result.groups[col] = pd.to_datetime(result.groups[col]).dt.strftime("%Y-%m-%d")
    return f[keep].reset_index(drop=True), result

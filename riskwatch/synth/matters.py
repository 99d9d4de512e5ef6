"""Solo petitioners and their matters, driven by the hidden pressure of ``synth.pressure``.

The cases of the city are drawn first (``synth.volume``: category, township, day, stream); this module
decides who stands behind each one-person case, which matter it belongs to, and the level a petition
reached. Every one-person case is the first visit of a new matter unless an earlier matter claims it:

1. each case, read as a first visit, gets a hidden grievance size, and its would-be person a hidden
   persistence and temperament; its level is drawn from them (``pressure.level_from_score``), so a few
   first-ever petitions already reach the province;
2. in time order, a matter whose petitioner comes back (``pressure.return_probability`` on the pressure
   at the drawn date of the next visit, which depends on how the last case stood then) claims the next
   free case of its category in its township on or after that date (a petition case rather than a hotline
   order the more pressure has built up; within ``MAX_WAIT_DAYS``; failing that, a case of its
   category elsewhere in its district, moved to the matter's grid). Its level is drawn again from the
   pressure, the temperament, a sensitive period and the matter's highest level so far;
3. ``EXTRA_MATTER`` of the persons who came back raise a second (and some a third) matter, some time
   after the first began, in their township or a neighbouring one of their district: mostly of another
   leaf category, ``SAME_LEAF_MATTER`` of them of the same leaf (a second wage claim, another plot of
   land: another site, another company in the text). The same person, so the same persistence and
   temperament.

The volumes stay those of ``synth.volume`` (cases are only claimed, never made), and so do the townships,
except for the follow-ups taken from elsewhere in a district (no outbreak case is ever moved). A repeat
petitioner's cases sit in the matter's first grid ``STAY_IN_GRID`` of the time, as before.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskwatch.synth import pressure as pr
from riskwatch.synth.volume import SENSITIVE_FOR_PETITIONS

MAX_WAIT_DAYS = 150.0     # a return finds a case of its cell within this many days of its date, or ends
PULL_AHEAD_DAYS = 60.0    # a return may be pulled into a sensitive lead-in starting this soon after its date
PREFER_PETITION_HALF = 10.0  # a return goes to the petition office with chance p / (p + this), if it can
EXTRA_MATTER = 0.3        # persons with 2+ cases on a matter who raise another one
THIRD_MATTER = 0.35       # of those, the share who raise a third
EXTRA_MATTER_WINDOW = 365.0  # the next matter starts between the first's start and this long after its last case
NEIGHBOUR_TOWN = 0.2      # the next matter lies in another township of the district
SAME_LEAF_MATTER = 0.2    # the next matter is of the same leaf category as the person's first
STAY_IN_GRID = 0.7        # share of a matter's later cases written at the matter's first grid


@dataclass
class SoloMatters:
    """Per case (``-1`` for group cases): person, matter, visit number within the matter."""

    person: np.ndarray
    matter: np.ndarray
    visit_no: np.ndarray
    n_persons: int
    n_matters: int


def sensitive_days(windows: pd.DataFrame, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per day: inside a petition-sensitive period or its lead-in; and the day index of the next lead-in
    start strictly after it (``-1`` when none)."""
    d_n = len(days)
    inside = np.zeros(d_n + 1, dtype=bool)
    starts: list[int] = []
    for _, row in windows.iterrows():
        if row["period_id"] not in SENSITIVE_FOR_PETITIONS:
            continue
        a = int((row["lead_start"] - days[0]).days)
        b = int((row["end"] - days[0]).days)
        if b < 0 or a > d_n - 1:
            continue
        inside[max(a, 0):min(b, d_n - 1) + 1] = True
        if a >= 0:
            starts.append(a)
    s = np.array(sorted(set(starts)), dtype=np.int64)
    pos = np.searchsorted(s, np.arange(d_n + 1), side="right")
    nxt = np.where(pos < len(s), s[np.minimum(pos, len(s) - 1)] if len(s) else -1, -1)
    return inside, nxt.astype(np.int64)


def to_days(values: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Timestamps as float days since ``origin``."""
    return (values.astype("datetime64[s]") - origin.to_datetime64()).astype("timedelta64[s]").astype(
        np.float64) / 86400.0


class _Outcomes:
    """What the records show of each case (arrays over the frame's rows)."""

    def __init__(self, f: pd.DataFrame, origin: pd.Timestamp) -> None:
        self.t = to_days(f["received_at"].to_numpy(), origin)
        self.closed = to_days(f["closed_at"].to_numpy(), origin)
        self.due = to_days(f["due_at"].to_numpy(), origin)
        sat = f["satisfaction"].to_numpy()
        self.dissatisfied = sat == "不满意"
        self.basic = sat == "基本满意"
        self.unrated = sat == "未评价"
        self.unresolved = f["resolved"].to_numpy() == "no"
        self.late = self.closed > self.due
        self.returned = f["returned_count"].to_numpy().astype(np.int64)
        # the same as Python lists, for the one-matter-at-a-time loop (numpy scalars are slow there)
        self.lists = [a.tolist() for a in (self.t, self.closed, self.due, self.dissatisfied, self.basic,
                                           self.unrated, self.unresolved, self.late, self.returned)]

    def pressure_one(self, i: int, p: float, when: float, size: float) -> float:
        """``pressure_at`` for one case, in Python floats."""
        t, closed, due, dis, basic, unrated, unres, late, ret = self.lists
        replied = closed[i] <= when
        return float(pr.next_pressure(p, when - t[i], size, replied, (not replied) and when > due[i], dis[i],
                                      basic[i], unrated[i], unres[i], late[i], ret[i]))

    def pressure_at(self, i: np.ndarray | int, p: np.ndarray | float, when: np.ndarray | float,
                    size: np.ndarray | float) -> np.ndarray | float:
        """Pressure at time ``when`` after case ``i`` was the matter's last, at pressure ``p``."""
        replied = self.closed[i] <= when
        return pr.next_pressure(p, when - self.t[i], size, replied, ~replied & (when > self.due[i]),
                                self.dissatisfied[i], self.basic[i], self.unrated[i], self.unresolved[i],
                                self.late[i], self.returned[i])


class _Pool:
    """Free one-person cases by (category, township), (category, district) and township, in time order."""

    def __init__(self, rows: np.ndarray, t: np.ndarray, keys: dict[str, np.ndarray]) -> None:
        self.t = t
        self.lists: dict[str, tuple[list[int], list[float], list[int]]] = {}
        for name, key in keys.items():
            k = key[rows]
            ok = k >= 0
            r, k = rows[ok], k[ok]
            order = np.argsort(k, kind="stable")   # rows are in time order: stable keeps it
            r, k = r[order], k[order]
            n_keys = int(key.max()) + 1 if len(key) else 0
            bounds = np.searchsorted(k, np.arange(n_keys + 1))
            self.lists[name] = (r.tolist(), t[r].tolist(), bounds.tolist())

    def first_free(self, name: str, key: int, after: float, until: float, taken: np.ndarray,
                   cat: list[int] | None = None, avoid: frozenset[int] = frozenset()) -> int:
        """The first row of list ``name`` / ``key`` received in ``[after, until]`` that is free (and whose
        ``cat`` is not in ``avoid``); -1 when none."""
        rows, times, bounds = self.lists[name]
        if key < 0 or key + 1 >= len(bounds):
            return -1
        lo, hi = bounds[key], bounds[key + 1]
        j = bisect.bisect_left(times, after, lo, hi)
        while j < hi and times[j] <= until:
            r = rows[j]
            if not taken[r] and (cat is None or cat[r] not in avoid):
                return r
            j += 1
        return -1


def assign_solo_matters(rng: np.random.Generator, f: pd.DataFrame, town_district: np.ndarray,
                        grid_town: np.ndarray, days: pd.DatetimeIndex, windows: pd.DataFrame) -> SoloMatters:
    """Persons, matters, visit numbers, levels and later raises of the one-person cases of ``f``.

    ``f`` is in time order and carries the lifecycle (``closed_at, due_at, satisfaction, resolved,
    returned_count``). Sets ``level`` and ``escalate_later`` of its one-person petition cases and moves
    follow-up cases to their matter's grid (``grid``, ``town``) in place.
    """
    n = len(f)
    origin = days[0]
    out = _Outcomes(f, origin)
    solo = np.flatnonzero(f["group_id"].to_numpy() == "")
    pet = f["source"].to_numpy() == "petition_register"
    town = f["town"].to_numpy().astype(np.int64)
    grid = f["grid"].to_numpy().astype(np.int64).copy()
    codes = np.array(sorted(set(f["category_code"])), dtype=object)
    cat = np.searchsorted(codes, f["category_code"].to_numpy())
    districts = np.unique(town_district)
    town_d = np.searchsorted(districts, town_district)
    n_towns = len(town_district)
    cell = cat * n_towns + town
    dcell = cat * len(districts) + town_d[town]
    movable = f["outbreak_id"].to_numpy() == ""
    pool = _Pool(solo, out.t, {"cell": cell, "pet": np.where(pet, cell, -1), "district": np.where(movable, dcell, -1),
                               "town": town})
    inside, next_lead = sensitive_days(windows, days)
    day_of = np.clip(np.floor(out.t).astype(np.int64), 0, len(days) - 1)

    # every case read as a first visit: hidden draws, its level, and whether its petitioner comes back
    size = pr.grievance(rng, n)
    persist = pr.persistence(rng, n)
    temper = pr.temperament(rng, n)
    level = np.zeros(n, dtype=np.int64)
    raised = np.zeros(n, dtype=bool)
    drawn = pr.level_from_score(pr.level_score(temper, size, inside[day_of], 0), rng.random(n))
    later = (rng.random(n) < pr.later_probability(size)) & (drawn < 3)
    level[pet] = drawn[pet] + later[pet]
    raised[pet] = later[pet]
    target = out.t + pr.gap_days(rng, size, persist)
    nl = next_lead[np.minimum(day_of + 1, len(days))]
    pull = (rng.random(n) < pr.pull_probability(size)) & (nl >= 0) & (nl <= target + PULL_AHEAD_DAYS)
    target = np.where(pull, nl + 10.0 * rng.random(n), target)
    p1 = out.pressure_at(np.arange(n), size, target, size)
    comes_back = rng.random(n) < pr.return_probability(p1, persist)

    taken = np.zeros(n, dtype=bool)
    person = np.full(n, -1, dtype=np.int64)
    matter = np.full(n, -1, dtype=np.int64)
    visit = np.zeros(n, dtype=np.int64)
    sim = _Simulation(rng, out, pool, taken, cell, dcell, pet, level, raised, inside, next_lead, day_of, grid,
                      town, grid_town, days)
    cat_list = cat.tolist()
    pid = mid = 0
    for s in solo[comes_back[solo]].tolist():
        if taken[s]:
            continue
        taken[s] = True
        person[s], matter[s] = pid, mid
        rows = sim.chain(s, float(p1[s]), float(target[s]), float(size[s]), float(persist[s]),
                         float(temper[s]))
        for k, r in enumerate(rows):
            person[r], matter[r], visit[r] = pid, mid, k
        mid += 1
        if len(rows) >= 2 and rng.random() < EXTRA_MATTER:
            n_extra = 2 if rng.random() < THIRD_MATTER else 1
            cats = {cat_list[s]}
            for _ in range(n_extra):
                first = sim.next_matter(rows[0], rows[-1], frozenset(cats), cat_list, town_district)
                if first < 0:
                    break
                cats.add(cat_list[first])
                taken[first] = True
                if pet[first]:   # the first visit's level, with this person's temperament
                    sim.first_level(first, float(size[first]), float(temper[s]))
                t_next, p_next, back = sim.step(first, float(size[first]), float(size[first]), float(persist[s]))
                extra = sim.chain(first, p_next, t_next, float(size[first]), float(persist[s]), float(temper[s]),
                                  comes_back=back)
                for k, r in enumerate(extra):
                    person[r], matter[r], visit[r] = pid, mid, k
                mid += 1
        pid += 1
    rest = solo[~taken[solo]]
    person[rest] = np.arange(pid, pid + len(rest))
    matter[rest] = np.arange(mid, mid + len(rest))
    pid += len(rest)
    mid += len(rest)
    lv = f["level"].to_numpy().copy()
    lv[solo] = np.where(pet[solo], level[solo], 0)
    f["level"] = lv
    esc = f["escalate_later"].to_numpy().copy() if "escalate_later" in f else np.zeros(n, dtype=bool)
    esc[solo] = pet[solo] & raised[solo]
    f["escalate_later"] = esc
    f["grid"] = grid
    f["town"] = town
    return SoloMatters(person, matter, visit, pid, mid)


class _Simulation:
    """One matter at a time: its later visits, claimed from the pool of free cases."""

    def __init__(self, rng: np.random.Generator, out: _Outcomes, pool: _Pool, taken: np.ndarray,
                 cell: np.ndarray, dcell: np.ndarray, pet: np.ndarray, level: np.ndarray, raised: np.ndarray,
                 inside: np.ndarray, next_lead: np.ndarray, day_of: np.ndarray, grid: np.ndarray,
                 town: np.ndarray, grid_town: np.ndarray, days: pd.DatetimeIndex) -> None:
        self.rng, self.out, self.pool, self.taken = rng, out, pool, taken
        self.level, self.raised = level, raised
        # read-only per-case facts as lists: one-at-a-time reads of numpy scalars are slow
        self.cell, self.dcell, self.pet = cell.tolist(), dcell.tolist(), pet.tolist()
        self.inside, self.next_lead, self.day_of = inside.tolist(), next_lead.tolist(), day_of.tolist()
        self.t = out.lists[0]
        self.n_towns = int(grid_town.max()) + 1   # every township has grids
        self.grid, self.town, self.grid_town = grid, town, grid_town
        self.last_day = float(len(days))

    def step(self, cur: int, p: float, size: float, persist: float) -> tuple[float, float, bool]:
        """When the next visit after ``cur`` would come, the pressure then, and whether it comes."""
        rng = self.rng
        med = float(pr.gap_median(p, persist))
        target = self.t[cur] + max(pr.MIN_GAP_DAYS, med * math.exp(pr.GAP_SIGMA * rng.standard_normal()))
        nl = self.next_lead[min(self.day_of[cur] + 1, len(self.next_lead) - 1)]
        if nl >= 0 and nl <= target + PULL_AHEAD_DAYS and rng.random() < pr.pull_probability(p):
            target = nl + 10.0 * rng.random()
        p_next = self.out.pressure_one(cur, p, target, size)
        back = rng.random() < float(pr.return_probability(p_next, persist))
        return target, p_next, back

    def first_level(self, r: int, p: float, temper: float) -> None:
        """Level of a first visit (a new matter of a known person), drawn with that person's temperament."""
        self.level[r], self.raised[r] = self._draw_level(r, p, temper, 0)

    def _draw_level(self, r: int, p: float, temper: float, prev_max: int) -> tuple[int, bool]:
        score = pr.level_score(temper, p, self.inside[self.day_of[r]], prev_max)
        lv = int(pr.level_from_score(score, self.rng.random()))
        up = lv < 3 and self.rng.random() < pr.later_probability(p)
        return lv + int(up), up

    def chain(self, start: int, p: float, target: float, size: float, persist: float, temper: float,
              comes_back: bool = True) -> list[int]:
        """Rows of the matter that starts at ``start``, in order; the first return is already decided
        (``comes_back``) for a visit at ``target`` under pressure ``p``."""
        rows = [start]
        home_grid = int(self.grid[start])
        cur = start
        prev_max = int(self.level[start]) if self.pet[start] else 0
        while comes_back and target < self.last_day:
            prefer = self.rng.random() < p / (p + PREFER_PETITION_HALF)
            until = target + MAX_WAIT_DAYS
            nxt = -1
            if prefer:
                nxt = self.pool.first_free("pet", self.cell[start], target, until, self.taken)
            if nxt < 0:
                nxt = self.pool.first_free("cell", self.cell[start], target, until, self.taken)
            moved = False
            if nxt < 0:
                nxt = self.pool.first_free("district", self.dcell[start], target, until, self.taken)
                moved = nxt >= 0
            if nxt < 0:
                break
            self.taken[nxt] = True
            rows.append(nxt)
            if moved or self.rng.random() < STAY_IN_GRID:
                self.grid[nxt] = home_grid
                self.town[nxt] = self.grid_town[home_grid]
            if self.pet[nxt]:
                self.level[nxt], self.raised[nxt] = self._draw_level(nxt, p, temper, prev_max)
                prev_max = max(prev_max, int(self.level[nxt]))
            cur = nxt
            target, p, comes_back = self.step(cur, p, size, persist)
        return rows

    def next_matter(self, first: int, last: int, cats: frozenset[int], cat: list[int],
                    town_district: np.ndarray) -> int:
        """The first case of a person's next matter: in the person's township or a neighbouring one of the
        district, starting after the first matter began, of another leaf category than ``cats`` or (by
        chance ``SAME_LEAF_MATTER``) of the first matter's; -1 when none is free."""
        rng, t = self.rng, self.t
        t0 = t[first] + rng.random() * (t[last] + EXTRA_MATTER_WINDOW - t[first])
        same_leaf = rng.random() < SAME_LEAF_MATTER
        home = int(self.town[first])
        towns = [home]
        if rng.random() < NEIGHBOUR_TOWN:
            same = np.flatnonzero(town_district == town_district[home])
            same = same[same != home]
            if len(same):
                towns = [int(same[int(rng.integers(0, len(same)))])]
        for tw in towns:
            if same_leaf:
                r = self.pool.first_free("cell", cat[first] * self.n_towns + tw, t0, t0 + MAX_WAIT_DAYS, self.taken)
            else:
                r = self.pool.first_free("town", tw, t0, t0 + MAX_WAIT_DAYS, self.taken, cat, cats)
            if r >= 0:
                return r
        return -1

"""The synthetic city as frames: cases (with their true category, grid, person, matter), parties and persons.

``build_city`` is pure: settings, seed and dates in, frames out. ``writer`` turns them into exports. The
order: volumes and outbreaks (``synth.volume``), candidate group events (``synth.groups``), the lifecycle
of every case (registration, deadline, reply, evaluation), which group events happen (``synth.groups``),
who stands behind each one-person case and which matter it is (``synth.matters``), then persons and
party records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.schema import RegionLevel
from riskwatch.synth import people as ppl
from riskwatch.synth.groups import GroupResult, plan_group_events, run_groups
from riskwatch.synth.matters import SoloMatters, assign_solo_matters
from riskwatch.synth.text import ROADS, render_texts
from riskwatch.synth.volume import (
    MERGE_CHANNEL_12328,
    SHARE_12328,
    TRANSPORT_PREFIX,
    Breaks,
    daily_rates,
    working_days,
)

OUTBREAK_CATEGORIES = ("0101", "0202", "0503", "0401", "0403", "0203", "0304", "0201", "0504", "0502")
OFFICE_CHANNELS = (("来信", 0.45), ("来访", 0.40), ("来电", 0.15))
HOTLINE_CHANNELS = (("电话", 0.75), ("微信", 0.10), ("APP", 0.08), ("网站", 0.07))
URGENCY = (("一般", 0.85), ("加急", 0.12), ("紧急", 0.03))
SATISFACTION = (("满意", 0.70), ("基本满意", 0.14), ("不满意", 0.08), ("未评价", 0.08))
LATE_ENTRY_SHARE = 0.04


@dataclass
class City:
    """Frames of one synthetic city (all columns English; see ``writer`` for the export labels)."""

    cases: pd.DataFrame
    parties: pd.DataFrame
    persons: pd.DataFrame
    outbreaks: pd.DataFrame
    groups: pd.DataFrame
    group_members: pd.DataFrame
    breaks: pd.DataFrame
    start: date
    end: date
    merge_day: date


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    labels = np.array([t[0] for t in table], dtype=object)
    p = np.array([t[1] for t in table])
    return labels[rng.choice(len(labels), n, p=p / p.sum())]


class Geography:
    """Grids, townships and districts of the configured city as parallel arrays."""

    def __init__(self, settings: Settings, rng: np.random.Generator) -> None:
        reg = settings.regions
        self.city_name = reg.regions[reg.root].name
        grids = sorted(r.code for r in reg.at_level(RegionLevel.GRID))
        towns = sorted(r.code for r in reg.at_level(RegionLevel.TOWNSHIP))
        self.towns = np.array(towns, dtype=object)
        t_index = {c: i for i, c in enumerate(towns)}
        self.grids = np.array(grids, dtype=object)
        self.grid_town = np.array([t_index[reg.ancestor_at(g, RegionLevel.TOWNSHIP)] for g in grids])
        self.grid_comm = np.array([reg.ancestor_at(g, RegionLevel.COMMUNITY) for g in grids], dtype=object)
        self.town_district = np.array([reg.ancestor_at(t, RegionLevel.DISTRICT) for t in towns], dtype=object)
        self.name = {c: r.name for c, r in reg.regions.items()}
        self.rural = np.array([self.name[t].endswith(("镇", "乡")) for t in towns])
        # uneven volumes by township and grid
        self.town_w = np.exp(rng.normal(0, 0.8, len(towns)))
        self.grid_w = np.exp(rng.normal(0, 0.5, len(grids)))
        self.town_grids = [np.flatnonzero(self.grid_town == i) for i in range(len(towns))]

    def place(self, grid_idx: np.ndarray) -> np.ndarray:
        """``东湖区康明街道丰北社区`` for each grid index."""
        names = np.array([self.name[self.town_district[self.grid_town[g]]] + self.name[self.towns[self.grid_town[g]]]
                          + self.name[self.grid_comm[g]] for g in range(len(self.grids))], dtype=object)
        return names[grid_idx]

    def sample_grids(self, rng: np.random.Generator, town_idx: np.ndarray) -> np.ndarray:
        out = np.empty(len(town_idx), dtype=np.int64)
        for i, members in enumerate(self.town_grids):
            sel = np.flatnonzero(town_idx == i)
            if len(sel):
                w = self.grid_w[members]
                out[sel] = members[rng.choice(len(members), len(sel), p=w / w.sum())]
        return out


def _times_of_day(rng: np.random.Generator, stream: np.ndarray) -> np.ndarray:
    """Seconds after midnight: hotline peaks mid-morning and afternoon, offices keep office hours."""
    n = len(stream)
    hot_p = np.array([1, .5, .3, .3, .3, .5, 1, 3, 7, 9, 9, 8, 5, 6, 8, 8, 7, 6, 5, 5, 4, 3, 2, 1.5])
    hours = rng.choice(24, n, p=hot_p / hot_p.sum())
    office = stream == "office"
    hours[office] = rng.choice(np.arange(8, 18), office.sum(), p=np.array([4, 9, 9, 8, 3, 5, 8, 8, 7, 3]) / 64)
    return hours * 3600 + rng.integers(0, 3600, n)


def build_city(settings: Settings, years: int, seed: int, end: date, scale: float = 1.0) -> City:
    """All cases, parties and persons of a synthetic city over ``years`` years ending on ``end``."""
    rng = np.random.default_rng(seed)
    start = (pd.Timestamp(end) - pd.DateOffset(years=years) + pd.Timedelta(days=1)).date()
    days = pd.date_range(start, end, freq="D")
    d_n = len(days)
    geo = Geography(settings, rng)
    leaves = [c for c in settings.taxonomy.leaves() if c.code != "99"]
    codes = [c.code for c in leaves]
    cat_names = {c.code: c.name for c in leaves}
    petition_share = {c: 0.3 for c in codes}
    from riskwatch.synth.volume import CATEGORY_PROFILE
    petition_share.update({c: CATEGORY_PROFILE[c][1] for c in codes if c in CATEGORY_PROFILE})
    windows = cal.sensitive_windows(settings.periods, range(start.year, end.year + 1))
    breaks = Breaks()
    rates = daily_rates(rng, codes, days, scale, windows, breaks)

    # --- expand counts into cases --------------------------------------------------------------
    parts = []
    for stream in ("hotline", "office", "web"):
        counts = rng.poisson(rates[stream])
        ci, di = np.nonzero(counts)
        reps = counts[ci, di]
        parts.append(pd.DataFrame({"cat": np.repeat(ci, reps), "day": np.repeat(di, reps), "stream": stream,
                                   "outbreak_id": ""}))
    # outbreaks in (category, township) cells
    n_out = max(3, round(14 * years / 5))
    ob_rows, ob_parts = [], []
    town_p = geo.town_w / geo.town_w.sum()
    for k in range(n_out):
        code = OUTBREAK_CATEGORIES[int(rng.integers(0, len(OUTBREAK_CATEGORIES)))]
        if code not in codes:
            continue
        town = int(rng.choice(len(geo.towns), p=town_p))
        dur = int(rng.integers(7, 43))
        d0 = int(rng.integers(0, max(1, d_n - dur)))
        extra = max(8, round(float(rng.uniform(30, 150)) * scale))
        dd = np.clip(d0 + np.round(rng.triangular(0, dur * 0.35, dur, extra)).astype(int), 0, d_n - 1)
        pet = rng.random(extra) < max(0.2, petition_share[code])
        oid = f"OB{k + 1:03d}"
        ob_parts.append(pd.DataFrame({"cat": codes.index(code), "day": dd,
                                      "stream": np.where(pet, "office", "hotline"), "outbreak_id": oid,
                                      "town": town}))
        ob_rows.append({"outbreak_id": oid, "category_code": code, "township_code": geo.towns[town],
                        "start": days[d0].date().isoformat(), "end": days[min(d0 + dur, d_n - 1)].date().isoformat(),
                        "extra_cases": extra})
    cases = pd.concat(parts + ob_parts, ignore_index=True)
    # offices log outbreak letters and visits on weekdays
    dow = days.day_of_week.to_numpy()[cases["day"].to_numpy()]
    shift = ((cases["stream"] == "office") & (cases["outbreak_id"] != "")).to_numpy() & (dow >= 5)
    cases.loc[shift, "day"] = np.minimum(cases.loc[shift, "day"].to_numpy() + 7 - dow[shift], d_n - 1)
    n = len(cases)
    cat = cases["cat"].to_numpy()
    # township by per-category uneven weights; rural categories only in towns
    town = np.empty(n, dtype=np.int64)
    cell_w = geo.town_w[None, :] * np.exp(rng.normal(0, 0.6, (len(codes), len(geo.towns))))
    for i, code in enumerate(codes):
        if code.startswith("08") and geo.rural.any():
            cell_w[i, ~geo.rural] = 0
        sel = np.flatnonzero(cat == i)
        town[sel] = rng.choice(len(geo.towns), len(sel), p=cell_w[i] / cell_w[i].sum())
    if "town" in cases:
        has = cases["town"].notna().to_numpy()
        town[has] = cases.loc[has, "town"].to_numpy().astype(np.int64)
    grid = geo.sample_grids(rng, town)
    stream = cases["stream"].to_numpy().astype(object)
    day = cases["day"].to_numpy()
    received = days.to_numpy()[day] + _times_of_day(rng, stream).astype("timedelta64[s]")
    order = np.argsort(received, kind="stable")
    cat, town, grid, stream, day, received = cat[order], town[order], grid[order], stream[order], day[order], received[order]
    outbreak = cases["outbreak_id"].to_numpy()[order]
    code_arr = np.array(codes, dtype=object)[cat]

    # source and channel
    merge = days[0] + pd.Timedelta(days=int(0.45 * d_n))
    merge = pd.Timestamp(merge.year, merge.month, 1)
    breaks.merge_day = int((merge - days[0]).days)
    breaks.add("hotline_merge", "hotline_12328", merge.date(), end, 1.0, "12328 merged into 12345")
    transport = np.array([c.startswith(TRANSPORT_PREFIX) for c in code_arr])
    is_hot = stream == "hotline"
    before = received < merge.to_datetime64()
    to_12328 = is_hot & transport & before & (rng.random(n) < SHARE_12328)
    source = np.where(is_hot, "hotline_12345", "petition_register").astype(object)
    source[to_12328] = "hotline_12328"
    channel = np.empty(n, dtype=object)
    channel[is_hot] = _pick(rng, HOTLINE_CHANNELS, int(is_hot.sum()))
    labelled = is_hot & transport & ~before & (rng.random(n) < MERGE_CHANNEL_12328)
    channel[labelled] = "12328热线"
    channel[to_12328] = "12328"
    office = stream == "office"
    channel[office] = _pick(rng, OFFICE_CHANNELS, int(office.sum()))
    channel[stream == "web"] = "网上信访"

    frame = pd.DataFrame({
        "source": source, "channel": channel, "stream": stream, "category_code": code_arr, "grid": grid,
        "town": town, "received_at": received, "outbreak_id": outbreak, "group_id": "",
        "headcount": 1, "is_group": False, "level": 0,
    })
    frame, plans = plan_group_events(rng, frame, geo, codes, days, windows, scale, years)
    frame = _lifecycle(rng, frame, settings, days, breaks, end)
    frame, grouped = run_groups(rng, frame, plans, geo, days, windows)
    solo = assign_solo_matters(rng, frame, geo.town_district, geo.grid_town, days, windows)
    parties, persons, members = _people(rng, frame, geo, solo, grouped)
    members = pd.DataFrame({
        "group_id": members["group_id"], "person_id": persons["person_id"].to_numpy()[members["person"].to_numpy(int)],
        "township_code": members["township_code"],
        "joined_at": (days[0] + pd.to_timedelta(members["joined_day"].to_numpy(float), unit="D")).strftime("%Y-%m-%d"),
    })
    frame["matter"] = frame["matter"].astype(np.int64)
    place = geo.place(frame["grid"].to_numpy())
    frame["content"], frame["summary"] = render_texts(
        frame["category_code"].to_numpy(), cat_names, place, frame["matter"].to_numpy(),
        frame["visit_no"].to_numpy(), seed + 1)
    return City(frame, parties, persons, pd.DataFrame(ob_rows), grouped.groups, members,
                pd.DataFrame(breaks.rows), start, end, merge.date())


def _add_working(day: np.ndarray, n: int, wdays: np.ndarray) -> np.ndarray:
    """The ``n``-th working day after each date (``datetime64[D]``)."""
    pos = np.searchsorted(wdays, day, side="right")
    return wdays[np.minimum(pos + n - 1, len(wdays) - 1)]


def _lifecycle(rng: np.random.Generator, f: pd.DataFrame, settings: Settings, days: pd.DatetimeIndex,
               breaks: Breaks, end: date) -> pd.DataFrame:
    """Registration, deadline, closure, returns, satisfaction, level; batch and late entries."""
    n = len(f)
    rec = f["received_at"].to_numpy().astype("datetime64[s]")
    hot = f["source"].to_numpy() != "petition_register"
    sec = np.timedelta64(1, "s")
    reg = rec.copy()
    reg[hot] = rec[hot] + (rng.exponential(40 * 60, hot.sum()) + 120).astype(np.int64) * sec
    pet = ~hot
    lag_days = rng.geometric(0.55, n) - 1
    late = pet & (rng.random(n) < LATE_ENTRY_SHARE)
    lag_days[late] = rng.integers(16, 61, late.sum())
    rec_day = rec.astype("datetime64[D]")
    reg_pet = rec_day + lag_days.astype("timedelta64[D]") + (rng.integers(8 * 3600, 17 * 3600, n)) * sec
    reg_pet = np.maximum(reg_pet, rec)
    reg[pet] = reg_pet[pet]
    # batch entry: several hundred old letters entered on one day at the end of a year
    batch = np.zeros(n, dtype=bool)
    target = days[int(0.6 * len(days))]
    bday = pd.Timestamp(target.year, 12, 28)
    if bday > days[-1]:
        bday = days[-1] - pd.Timedelta(days=3)
    cand = np.flatnonzero(pet & (f["channel"].to_numpy() == "来信")
                          & (rec >= (bday - pd.Timedelta(days=240)).to_datetime64())
                          & (rec <= (bday - pd.Timedelta(days=30)).to_datetime64())
                          & (f["group_id"].to_numpy() == ""))
    k = min(len(cand), max(20, round(400 * len(f) / 200_000)))
    if k:
        pick = np.sort(rng.choice(cand, k, replace=False))
        batch[pick] = True
        reg[pick] = bday.to_datetime64() + rng.integers(9 * 3600, 17 * 3600, k) * sec
        late[pick] = False
        breaks.add("batch_entry", "petition_register", bday.date(), bday.date(), float(k),
                   f"{k} old letters registered on one day")
    # deadlines
    due = np.empty(n, dtype="datetime64[s]")
    urg = np.full(n, "", dtype=object)
    urg[hot] = _pick(rng, URGENCY, int(hot.sum()))
    wdays = working_days(days, extra=200)
    for sla in settings.deadlines.hotline_slas:
        sel = hot & (urg == sla.urgency)
        if sla.unit == "hours":
            due[sel] = rec[sel] + sla.limit * 3600 * sec
        elif sla.unit == "working_days":
            d = _add_working(rec[sel].astype("datetime64[D]"), sla.limit, wdays)
            due[sel] = d.astype("datetime64[s]") + (rec[sel] - rec[sel].astype("datetime64[D]"))
        else:
            due[sel] = rec[sel] + sla.limit * 86400 * sec
    dl = settings.deadlines
    extended = pet & (rng.random(n) < 0.05)
    pet_due = reg.astype("datetime64[D]") + (dl.conclude_days + np.where(extended, dl.extension_max_days, 0)
                                              ).astype("timedelta64[D]")
    due[pet] = pet_due[pet].astype("datetime64[s]") + np.timedelta64(17 * 3600 + 30 * 60, "s")
    # returns and closure: most on time, some late
    returned = rng.choice(4, n, p=[0.85, 0.11, 0.03, 0.01])
    returned[pet] = rng.choice(4, int(pet.sum()), p=[0.93, 0.05, 0.015, 0.005])
    allowed = (due - reg).astype(np.int64)
    frac = rng.beta(2.0, 3.0, n)
    late_close = rng.random(n) < np.where(pet, 0.10, 0.08)
    frac[late_close] = rng.uniform(1.05, 2.5, late_close.sum())
    took = (np.maximum(allowed, 3600) * frac).astype(np.int64) + returned * rng.integers(20000, 150000, n)
    closed = reg + took * sec
    f = f.assign(registered_at=reg, due_at=due, closed_at=closed, urgency=urg, returned_count=returned,
                 extended=extended, is_batch_entry=batch, is_late_entry=late)
    f["satisfaction"] = _pick(rng, SATISFACTION, n)
    f.loc[late_close & (rng.random(n) < 0.5), "satisfaction"] = "不满意"
    f["resolved"] = np.where(rng.random(n) < np.where(f["satisfaction"] == "不满意", 0.4, 0.92), "yes", "no")
    # levels and later raises come from the pressure process (synth.matters, synth.groups)
    f["level"] = 0
    f["escalate_later"] = False
    # drop what is not registered by the end (not in any export yet)
    end_ts = np.datetime64(end) + np.timedelta64(86399, "s")
    f = f[f["registered_at"].to_numpy() <= end_ts].reset_index(drop=True)
    return f


def _people(rng: np.random.Generator, f: pd.DataFrame, geo: Geography, solo: SoloMatters, grouped: GroupResult
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Persons behind the cases (solo petitioners from ``synth.matters``, group members from
    ``synth.groups``) and the party records of every case; and the groups' members over time."""
    n = len(f)
    person = solo.person.copy()
    matter = solo.matter.copy()
    visit = solo.visit_no.copy()
    pid = solo.n_persons
    gids = f["group_id"].to_numpy()
    # groups: members are new persons; each group is one matter
    members: dict[str, np.ndarray] = {}
    member_rows = []
    for k, gid in enumerate(sorted(grouped.member_town)):
        m = np.arange(pid, pid + len(grouped.member_town[gid]))
        members[gid] = m
        pid += len(m)
        rows = np.flatnonzero(gids == gid)
        person[rows] = m[[int(grouped.case_slots[int(r)][0]) for r in rows]]
        matter[rows] = solo.n_matters + k
        visit[rows] = np.arange(len(rows))
        member_rows.append(pd.DataFrame({"group_id": gid, "person": m,
                                         "township_code": geo.towns[grouped.member_town[gid]],
                                         "joined_day": grouped.member_joined[gid]}))
    n_persons = pid
    f["person_id"] = person
    f["matter"] = matter
    f["visit_no"] = visit
    # home grid: the grid of a person's first case; group members live at their group's site (or at the
    # neighbouring township's grid)
    first = pd.Series(np.arange(n)).groupby(person).min()
    home = np.zeros(n_persons, dtype=np.int64)
    home[first.index.to_numpy()] = f["grid"].to_numpy()[first.to_numpy()]
    for gid, m in members.items():
        home[m] = grouped.member_grid[gid]
    pet = f["source"].to_numpy() == "petition_register"
    # --- persons -------------------------------------------------------------------------------
    names, surnames = ppl.make_names(rng, n_persons)
    for gid in sorted(members):  # villagers share surnames
        m = members[gid]
        same = rng.random(len(m)) < 0.4
        names[m[same]] = np.array([surnames[m[0]] + nm[1:] for nm in names[m[same]]], dtype=object)
    male = rng.random(n_persons) < 0.55
    birth = (np.datetime64("1940-01-01") + rng.integers(0, 65 * 365, n_persons).astype("timedelta64[D]"))
    districts = geo.town_district[geo.grid_town[home]]
    born_here = rng.random(n_persons) < 0.8
    other = np.array(sorted(set(geo.town_district)), dtype=object)[rng.integers(0, len(set(geo.town_district)), n_persons)]
    region6 = np.where(born_here, districts, other)
    ids = ppl.make_id_numbers(rng, region6, birth, male)
    phones = ppl.make_mobiles(rng, n_persons)
    land = rng.random(n_persons) < 0.1
    phones[land] = ppl.make_landlines(rng, int(land.sum()))
    roads = np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), n_persons)]
    num = rng.integers(1, 300, n_persons)
    place = geo.place(home)
    address = np.array([f"{p}{r}{k}号" for p, r, k in zip(place, roads, num, strict=True)], dtype=object)
    # families share a phone and an address
    fam = np.flatnonzero(rng.random(n_persons) < 0.04)
    partner = rng.integers(0, n_persons, len(fam))
    town_of = geo.grid_town[home]
    ok = (town_of[partner] == town_of[fam]) | (rng.random(len(fam)) < 0.0)
    # pair with someone in the same township: choose among the township's persons instead
    by_town = pd.Series(np.arange(n_persons)).groupby(town_of).apply(lambda s: s.to_numpy())
    for i, p in enumerate(fam):
        pool = by_town[town_of[p]]
        q = int(pool[int(rng.integers(0, len(pool)))])
        partner[i] = q
    ok = partner != fam
    fam, partner = fam[ok], partner[ok]
    phones[fam] = phones[partner]
    address[fam] = address[partner]
    home[fam] = home[partner]
    keep_surname = rng.random(len(fam)) < 0.6
    names[fam[keep_surname]] = np.array([names[q][0] + names[p][1:] for p, q in
                                         zip(fam[keep_surname], partner[keep_surname], strict=True)], dtype=object)
    accounts = np.array([f"wx{int(a):010d}" for a in rng.integers(0, 10**10, n_persons)], dtype=object)
    activity = np.bincount(person, minlength=n_persons)
    persons = pd.DataFrame({"person_id": [f"P{i:07d}" for i in range(n_persons)], "name": names,
                            "id_number": ids, "district": districts, "phone": phones, "address": address,
                            "household_of": "", "activity": activity, "account_id": accounts})
    persons.loc[fam, "household_of"] = [f"P{q:07d}" for q in partner]
    persons["male"] = male
    # --- parties: primary plus co-parties (joint letters, group members) -----------------------
    rows_case = [np.arange(n)]
    rows_person = [person]
    rows_seq = [np.zeros(n, dtype=np.int64)]
    # companions of petitioners (joint letters), persistent per person
    pet_idx = np.flatnonzero(pet & (gids == ""))
    firsts = np.unique(person[pet_idx])
    has_comp = firsts[rng.random(len(firsts)) < 0.15]
    comp_n = rng.integers(1, 5, len(has_comp))
    comp_start = np.concatenate([[0], np.cumsum(comp_n)])[:-1] + n_persons
    # companions are extra persons appended to the pool
    extra_n = int(comp_n.sum())
    comp_of = dict(zip(has_comp.tolist(), zip(comp_start.tolist(), comp_n.tolist(), strict=True), strict=True))
    for ci in pet_idx:
        c = comp_of.get(int(person[ci]))
        if c is None:
            continue
        s0, cn = c
        mem = np.arange(s0, s0 + cn)
        mem = mem[rng.random(cn) < 0.8]
        if len(mem):
            rows_case.append(np.full(len(mem), ci))
            rows_person.append(mem)
            rows_seq.append(np.arange(1, len(mem) + 1))
    for gid in sorted(members):
        mem = members[gid]
        for ci in np.flatnonzero(gids == gid):
            others = mem[grouped.case_slots[int(ci)][1:]]
            rows_case.append(np.full(len(others), ci))
            rows_person.append(others)
            rows_seq.append(np.arange(1, len(others) + 1))
    if extra_n:
        e_names, _ = ppl.make_names(rng, extra_n)
        e_male = rng.random(extra_n) < 0.5
        e_birth = np.datetime64("1945-01-01") + rng.integers(0, 60 * 365, extra_n).astype("timedelta64[D]")
        owner = np.repeat(has_comp, comp_n)
        e_region = districts[owner]
        e_ids = ppl.make_id_numbers(rng, e_region, e_birth, e_male)
        e_phones = ppl.make_mobiles(rng, extra_n)
        persons = pd.concat([persons, pd.DataFrame({
            "person_id": [f"P{i:07d}" for i in range(n_persons, n_persons + extra_n)], "name": e_names,
            "id_number": e_ids, "district": e_region, "phone": e_phones, "address": address[owner],
            "household_of": "", "activity": 0, "male": e_male, "account_id": ""})], ignore_index=True)
    parties = pd.DataFrame({"case": np.concatenate(rows_case), "person": np.concatenate(rows_person),
                            "seq": np.concatenate(rows_seq)})
    parties = parties.sort_values(["case", "seq"], kind="stable").reset_index(drop=True)
    act = np.bincount(parties["person"].to_numpy(), minlength=len(persons))
    persons["activity"] = act
    group_members = (pd.concat(member_rows, ignore_index=True) if member_rows else
                     pd.DataFrame(columns=["group_id", "person", "township_code", "joined_day"]))
    return parties, persons, group_members

"""The synthetic city: realistic petition and hotline exports plus their ground truth.

``generate_city`` writes, under ``out_dir``::

    hotline_12345/      one export per calendar year (CSV UTF-8-BOM or GB18030; the last month as XLSX)
    hotline_12328/      the transport hotline's exports until it merged into 12345
    petition_register/  信访登记 exports (XLSX and GB18030 CSV)
    updates/            a later export (at ``end``) of cases that were open at their yearly export
    truth/              the ground truth (CSV UTF-8), below
    manifest.json       seed, years, end, scale and rows per file

``truth/``:

    cases.csv           every case: source, source_id, true category and grid, outbreak, group, person
                        (the first-named), matter_id, visit_no (earlier cases of its matter), headcount,
                        level (the highest reached: 0 district, 1 city, 2 province, 3 national)
    parties.csv         every party record: the true person, what was written, how it was spoiled
    persons.csv         every person: name, ID number, district, phone, household, cases
    outbreaks.csv       injected outbreaks: category, township, dates, extra cases
    groups.csv          groups: category, townships (all, ``;``-joined), members (all who joined),
                        founders, events, first and last case, max level, organiser, matter_id
    group_members.csv   group_id, person_id, township_code, joined_at: the members over time
    escalations.csv     every escalation (a petition at the province or above, a group case at the city or
                        above) and every rise of a subject's level, with its subject (person or group),
                        matter and whether earlier records foreshadowed it (``synth.escalations``)
    breaks.csv          breaks in the history (merge, pandemic, policy shifts, typhoons, batch entry)
    bad_rows.csv        rows deliberately broken in the exports

Repeat petitions and levels come from a hidden grievance process (``synth.pressure``): whether a
petitioner comes back and how high they go depend on unanswered, overdue or dissatisfying replies,
returned orders, sensitive periods and hidden per-person traits, never on a visit count
(``synth.matters`` for one-person cases, ``synth.groups`` for groups).

Deterministic by ``(seed, years, end, scale)``: the same inputs give byte-identical files. The
statistical knobs live in ``synth.volume``, ``synth.model``, ``synth.pressure``, ``synth.matters`` and
``synth.groups`` (never in ``config/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import Settings
from riskwatch.schema import RegionLevel
from riskwatch.synth.bulk import write_hotline_bulk
from riskwatch.synth.escalations import escalation_events, matter_ids
from riskwatch.synth.model import City, build_city
from riskwatch.synth.records import written_parties
from riskwatch.synth.writer import DATE_FORMATS, FilePlan, record_frame, write_plan

__all__ = ["SynthSummary", "generate_city", "write_hotline_bulk"]

SOURCES = ("hotline_12345", "hotline_12328", "petition_register")
TRUTH_FILES = ("cases", "parties", "persons", "outbreaks", "groups", "group_members", "escalations", "breaks",
               "bad_rows")
LEVEL_ZH = ("区", "市", "省", "进京")
FILE_STEM = {"hotline_12345": "12345工单", "hotline_12328": "12328工单", "petition_register": "信访登记"}


@dataclass
class SynthSummary:
    """What ``generate_city`` wrote: counts and files (paths relative to ``out_dir``)."""

    cases: int
    parties: int
    persons: int
    outbreaks: int
    groups: int
    bad_rows: int
    files: list[str] = field(default_factory=list)
    rows_per_file: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"{self.cases} cases, {self.parties} party records, {self.persons} persons, "
                f"{self.outbreaks} outbreaks, {self.groups} groups, {len(self.files)} files")


def _assign_ids(cases: pd.DataFrame, geo_district: np.ndarray) -> pd.Series:
    ids = pd.Series("", index=cases.index, dtype=object)
    for src in SOURCES:
        sel = cases["source"] == src
        c = cases[sel]
        if not len(c):
            continue
        if src == "petition_register":
            key = c["registered_at"].dt.year
            seq = c.groupby(key).cumcount() + 1
            ids[sel] = ("XF" + pd.Series(geo_district[c["grid"].to_numpy()], index=c.index) + key.astype(str)
                        + seq.map("{:06d}".format))
        elif src == "hotline_12328":
            key = c["received_at"].dt.strftime("%Y%m")
            ids[sel] = "JT" + key + (c.groupby(key).cumcount() + 1).map("{:05d}".format)
        else:
            key = c["received_at"].dt.strftime("%Y%m%d")
            ids[sel] = key + (c.groupby(key).cumcount() + 1).map("{:06d}".format)
    return ids


def _plans(cases: pd.DataFrame, out: Path, end: date, seed: int) -> list[FilePlan]:
    """Which rows go to which file, with which layout, encoding and date format."""
    end_ts = pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    plans: list[FilePlan] = []
    file_year = np.where(cases["source"] == "petition_register", cases["registered_at"].dt.year,
                         cases["received_at"].dt.year)
    for src in SOURCES:
        sel = (cases["source"] == src).to_numpy()
        years = sorted(set(file_year[sel].tolist()))
        for i, y in enumerate(years):
            rows = np.flatnonzero(sel & (file_year == y))
            as_of = min(pd.Timestamp(y + 1, 1, 3, 9, 0, 0), end_ts)
            stem = f"{FILE_STEM[src]}_{y}"
            k = i + seed  # vary shapes between files
            if src == "hotline_12345":
                variant = k % 3
                plan = FilePlan(out / src / f"{stem}.csv", src, rows, variant, DATE_FORMATS[k % 3],
                                "utf-8-sig" if k % 2 == 0 else "gb18030", as_of, title=k % 2 == 0,
                                total=variant == 1, trailing=3 if variant == 2 else 0, bad_rows=True)
                if y == years[-1]:  # the latest month arrives as XLSX
                    last_m = cases["received_at"].iloc[rows].dt.month.to_numpy()
                    month = int(last_m.max())
                    xl = rows[last_m == month]
                    plan.rows = rows[last_m != month]
                    plans.append(FilePlan(out / src / f"{stem}年{month:02d}月.xlsx", src, xl, 1, "xlsx", "xlsx",
                                          as_of, title=True))
                    if not len(plan.rows):
                        continue
                plans.append(plan)
            elif src == "hotline_12328":
                plans.append(FilePlan(out / src / f"{stem}.csv", src, rows, k % 2,
                                      "serial" if i == 0 else DATE_FORMATS[(k + 1) % 3], "gb18030", as_of,
                                      title=i % 2 == 1, total=True, bad_rows=True))
            else:
                variant = k % 3
                if i % 2 == 0:
                    plans.append(FilePlan(out / src / f"{stem}.xlsx", src, rows, 1 if i == 0 else variant, "xlsx",
                                          "xlsx", as_of, title=True))
                else:
                    plans.append(FilePlan(out / src / f"{stem}.csv", src, rows, variant, DATE_FORMATS[k % 3],
                                          "gb18030", as_of, title=k % 2 == 0, total=True, tab_ids=variant == 0,
                                          trailing=2, bad_rows=True))
    return plans


def _update_plans(cases: pd.DataFrame, plans: list[FilePlan], out: Path, end: date) -> list[FilePlan]:
    """Cases open at their file's export that changed by ``end`` (closed, returned, escalated)."""
    end_ts = pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    ups: dict[str, list[np.ndarray]] = {s: [] for s in SOURCES}
    for p in plans:
        if p.as_of >= end_ts:
            continue
        c = cases.iloc[p.rows]
        was_open = c["closed_at"].to_numpy() > p.as_of.to_datetime64()
        ups[p.source].append(p.rows[was_open])
    out_plans = []
    stamp = f"{end:%Y%m%d}"
    for i, src in enumerate(SOURCES):
        rows = np.sort(np.concatenate(ups[src])) if ups[src] else np.array([], dtype=np.int64)
        if not len(rows):
            continue
        if src == "petition_register":
            out_plans.append(FilePlan(out / "updates" / f"{FILE_STEM[src]}_更新_{stamp}.csv", src, rows, 0, "iso",
                                      "gb18030", end_ts, title=True, is_update=True))
        else:
            out_plans.append(FilePlan(out / "updates" / f"{FILE_STEM[src]}_更新_{stamp}.csv", src, rows, 0,
                                      "iso", "utf-8-sig", end_ts, title=i == 0, is_update=True))
    return out_plans


def _geo_codes(settings: Settings, city: City) -> dict[str, np.ndarray]:
    reg = settings.regions
    grids = sorted(r.code for r in reg.at_level(RegionLevel.GRID))
    name = {c: r.name for c, r in reg.regions.items()}
    anc = [(reg.ancestor_at(g, RegionLevel.DISTRICT), reg.ancestor_at(g, RegionLevel.TOWNSHIP),
            reg.ancestor_at(g, RegionLevel.COMMUNITY)) for g in grids]
    return {
        "grid_code": np.array(grids, dtype=object), "grid_name": np.array([name[g] for g in grids], dtype=object),
        "district_code": np.array([a[0] for a in anc], dtype=object),
        "district_name": np.array([name[a[0]] for a in anc], dtype=object),
        "town_name": np.array([name[a[1]] for a in anc], dtype=object),
        "comm_name": np.array([name[a[2]] for a in anc], dtype=object),
        "comm_code": np.array([a[2] for a in anc], dtype=object),
    }


def generate_city(settings: Settings, out_dir: Path, years: int = 5, seed: int = 7,
                  end: date | None = None, scale: float = 1.0) -> SynthSummary:
    """Write a synthetic city's exports, updates and ground truth under ``out_dir``; see the module doc."""
    if end is None:
        raise ValueError("generate_city: end is required (time is an argument)")
    if years < 1 or not scale > 0:
        raise ValueError(f"generate_city: needs years >= 1 and scale > 0 (got years={years}, scale={scale})")
    out = Path(out_dir)
    city = build_city(settings, years, seed, end, scale)
    rng = np.random.default_rng(seed + 2)
    cases = city.cases
    cases.attrs["end_ts"] = pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    for col in ("received_at", "registered_at", "due_at", "closed_at"):
        cases[col] = pd.to_datetime(cases[col]).astype("datetime64[s]")
    geo = _geo_codes(settings, city)
    cases["source_id"] = _assign_ids(cases, geo["district_code"]).to_numpy()
    city_name = settings.city_name
    parties = written_parties(rng, cases, city.parties, city.persons, city_name)
    names = {c.code: c.name for c in settings.taxonomy.categories.values()}
    alias = {c.code: c.aliases[0] for c in settings.taxonomy.categories.values() if c.aliases}
    plans = _plans(cases, out, end, seed)
    plans += _update_plans(cases, plans, out, end)
    bad: list[dict[str, object]] = []
    for plan in plans:
        rec = record_frame(plan, cases, parties, names, geo, alias, rng)
        write_plan(plan, rec, city_name, rng)
        for b in plan.bad:
            b["file"] = str(plan.path.relative_to(out))
        bad += plan.bad
    _write_truth(out, city, cases, parties, geo, bad)
    rows = {str(p.path.relative_to(out)): p.written for p in plans}
    files = sorted(rows) + [f"truth/{n}.csv" for n in TRUTH_FILES] + ["manifest.json"]
    summary = SynthSummary(cases=len(cases), parties=len(parties), persons=len(city.persons),
                           outbreaks=len(city.outbreaks), groups=len(city.groups), bad_rows=len(bad),
                           files=files, rows_per_file=dict(sorted(rows.items())))
    manifest = {"seed": seed, "years": years, "end": end.isoformat(), "scale": scale,
                "start": city.start.isoformat(), "merge_12328": city.merge_day.isoformat(),
                "counts": {"cases": summary.cases, "parties": summary.parties, "persons": summary.persons,
                           "outbreaks": summary.outbreaks, "groups": summary.groups, "bad_rows": summary.bad_rows},
                "files": summary.rows_per_file}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return summary


def _write_truth(out: Path, city: City, cases: pd.DataFrame, parties: pd.DataFrame, geo: dict[str, np.ndarray],
                 bad: list[dict[str, object]]) -> None:
    t = out / "truth"
    t.mkdir(parents=True, exist_ok=True)
    pid = city.persons["person_id"].to_numpy()
    truth = pd.DataFrame({
        "source": cases["source"], "source_id": cases["source_id"], "category_code": cases["category_code"],
        "region_code": geo["grid_code"][cases["grid"].to_numpy()], "outbreak_id": cases["outbreak_id"],
        "group_id": cases["group_id"], "is_batch_entry": cases["is_batch_entry"],
        "is_late_entry": cases["is_late_entry"], "channel": cases["channel"],
        "received_at": cases["received_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "registered_at": cases["registered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "person_id": pid[cases["person_id"].to_numpy()], "matter_id": matter_ids(cases["matter"].to_numpy()),
        "visit_no": cases["visit_no"], "headcount": cases["headcount"], "level": cases["level"],
    })
    truth.to_csv(t / "cases.csv", index=False, encoding="utf-8", lineterminator="\n")
    pt = pd.DataFrame({
        "source": cases["source"].to_numpy()[parties["case"].to_numpy()],
        "source_id": cases["source_id"].to_numpy()[parties["case"].to_numpy()], "seq": parties["seq"],
        "person_id": pid[parties["person"].to_numpy()], "written_name": parties["name"],
        "written_id": parties["id_number"], "id_spoil": parties["id_spoil"], "name_typo": parties["name_typo"],
        "anonymous": parties["anonymous"],
    })
    pt.to_csv(t / "parties.csv", index=False, encoding="utf-8", lineterminator="\n")
    city.persons[["person_id", "name", "id_number", "district", "activity", "phone", "household_of"]].to_csv(
        t / "persons.csv", index=False, encoding="utf-8", lineterminator="\n")
    city.outbreaks.to_csv(t / "outbreaks.csv", index=False, encoding="utf-8", lineterminator="\n")
    g = city.groups.copy()
    if len(g):
        grouped = cases[cases["group_id"] != ""].groupby("group_id")
        # the organiser: the member named first on the group's first case
        first = grouped["person_id"].first()
        g["leader_person_id"] = g["group_id"].map(lambda x: pid[first[x]] if x in first else "")
        # the level the group's cases finally reached (raises after the first export included)
        reached = grouped["level"].max()
        g["max_level"] = [LEVEL_ZH[int(reached[x])] if x in reached else "" for x in g["group_id"]]
        g["matter_id"] = g["group_id"].map(lambda x: matter_ids(grouped["matter"].first()[[x]].to_numpy())[0])
        g = g[["group_id", "category", "townships", "members", "founders", "events", "first_case", "last_case",
               "max_level", "leader_person_id", "matter_id"]]
    g.to_csv(t / "groups.csv", index=False, encoding="utf-8", lineterminator="\n")
    city.group_members.to_csv(t / "group_members.csv", index=False, encoding="utf-8", lineterminator="\n")
    escalation_events(cases, pid).to_csv(t / "escalations.csv", index=False, encoding="utf-8", lineterminator="\n")
    city.breaks.to_csv(t / "breaks.csv", index=False, encoding="utf-8", lineterminator="\n")
    pd.DataFrame(bad, columns=["file", "row_number", "source_id", "field", "reason"]).to_csv(
        t / "bad_rows.csv", index=False, encoding="utf-8", lineterminator="\n")

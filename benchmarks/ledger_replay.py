"""Replay the last year of the demo city week by week, as the Monday runs would have done, and measure the
risk ledger against a simple baseline rule (issue 13).

    riskwatch demo                                   # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/ledger_replay.py [--weeks 52] [--work var/replay] [--scale 1.0 1.5] [--quiet-weeks 1 4]

1. Detect (cached in ``--work``): a copy of the store, its detect runs and ledger cleared, gets one weekly
   detect run per Monday of the replayed year. Each run reads the cases received before its Monday, with the
   outcome each had then (closed after the Monday: still open, no satisfaction, no returns). A case's level
   is read as last exported (the store keeps no dated history of it before issue 14).
2. Items: each Monday's open signals are built into items and their factors (``grade.items.build_items``)
   from the cases of that Monday, the petitioners of the store's persons run and the groups' members who had
   joined by then.
3. Ledger: the items are graded (``grade.grade_items``) and run through the ledger (``assign.ledger_step``)
   with an office that behaves the same every week: the Monday meeting confirms every new item, owners
   acknowledge at once, report progress each week on an item whose subject still signals (so its deadline
   is extended, not escalated) and resolve it once its subject has had no open signal for ``--quiet-weeks``
   Mondays, and an analyst verifies the resolution a week later; the meeting lowers every grade the review
   proposes (``stale_grades``: no run has supported it for four weeks) unless ``--lower-stale no``. ``--scale`` multiplies the yellow and red
   thresholds, to see the trade between load and warning.
4. Baseline, on the same subjects (the persons and groups of the persons run) and Mondays: yellow for 3 or
   more cases in 90 days or a case at the city level or above in the last year, red for a case at the
   province level or above in the last year.

Measured against ``truth/escalations.csv`` (``city_escalation``: a petition at the province or national
level, or a group case at the city level or above) in the replayed year:

* early warning: the share of escalations whose subject (the case's petitioners and their groups, as
  riskwatch resolved them) held an open red or yellow item on the last Monday at least 7 days before, and
  the median lead time (from the Monday the subject's red or yellow item began, unbroken to that Monday).
  Compared at the same number of red + yellow items: each Monday, both lists are cut to the shorter one's
  length, each by its own order (grade, then score; red, then level, cases in 90 days, recency);
* load: open red items per county leader and yellow per township leader each Monday, against their caps;
* stability: grade changes (up with new evidence, escalated on a missed deadline) per item per open month,
  and items reopened.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from riskwatch import assign, pipeline
from riskwatch.assign.lifecycle import CLOSED, OPEN_WORK, Status, stale_grades
from riskwatch.config import load_settings
from riskwatch.deadlines import DUE
from riskwatch.grade import grade_items
from riskwatch.grade.items import ItemInputs, build_items
from riskwatch.pipeline import ledger as ledger_use
from riskwatch.schema import GRADE_RANK, ITEM_KEY, LEVEL_RANK, Grade, Level
from riskwatch.store import detect as detect_store
from riskwatch.store import make_engine, make_session, upgrade_database
from riskwatch.store import persons as persons_store

CLEARED = ("risk_item_events", "risk_items", "ledger_runs", "signals", "detect_scores", "detect_runs")
OUTCOME = ("closed_at", "satisfaction", "returned_count")
ANALYST, VERIFIER = "analyst", "verifier"


def as_known(cases: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The cases received before ``day`` with the outcome each had then (see the module docstring)."""
    out = cases[cases["received_at"] < day].copy()
    later = ~(pd.to_datetime(out["closed_at"]) < day)
    out.loc[later, "closed_at"] = pd.NaT
    out.loc[later, "satisfaction"] = None
    out.loc[later, "returned_count"] = 0
    return out


def mondays(last_received: pd.Timestamp, weeks: int) -> list[pd.Timestamp]:
    end = last_received.normalize() - pd.Timedelta(days=last_received.weekday())  # the last week is incomplete
    return [end - pd.Timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


# --- 1. detect -----------------------------------------------------------------------------------------
def detect_year(store: Path, work: Path, weeks: int, settings) -> tuple[str, list[pd.Timestamp]]:
    db = work / "replay.db"
    marker = work / f"detect-{weeks}.done"
    url = f"sqlite:///{db}"
    if marker.exists() and db.exists() and marker.stat().st_mtime >= store.stat().st_mtime:
        return url, pickle.loads(marker.read_bytes())
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(store, db)
    upgrade_database(url)
    engine = make_engine(url)
    with make_session(engine) as session:
        for table in CLEARED:
            session.execute(text(f"DELETE FROM {table}"))
        session.commit()
        cases = pipeline.detect_cases(session, settings, pd.Timestamp("2100-01-01"))
    days = mondays(pd.Timestamp(cases["received_at"].max()), weeks)
    t0 = time.perf_counter()
    for i, day in enumerate(days):
        with make_session(engine) as session:
            summary = pipeline.run_detect(session, settings, day, datetime.now(), "W", cases=as_known(cases, day))
            session.commit()
        live = (summary.states["status"] != "closed").sum()
        print(f"  detect {day:%Y-%m-%d} ({i + 1}/{len(days)}): {live} open signals, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    engine.dispose()
    marker.write_bytes(pickle.dumps(days))
    return url, days


# --- 2. items --------------------------------------------------------------------------------------------
def weekly_items(url: str, work: Path, days: list[pd.Timestamp], settings) -> tuple[dict, dict]:
    """Monday -> (items, features), cached; and the links the evaluation needs."""
    cache = work / f"items-{len(days)}.pkl"
    if cache.exists() and cache.stat().st_mtime >= (work / "replay.db").stat().st_mtime:
        return pickle.loads(cache.read_bytes())
    rules = settings.grading
    engine = make_engine(url)
    with make_session(engine) as session:
        cases = pipeline.cases_with_due(session, settings)
        records = persons_store.load_person_records(session)
        _, members, group_cases = persons_store.load_groups(session)
        signals = {day: detect_store.load_states(session, "W", period_before=day.to_pydatetime())[1] for day in days}
    engine.dispose()
    case_persons = records[["source", "source_id", "person_id"]].drop_duplicates()
    out = {}
    t0 = time.perf_counter()
    for day in days:
        states = signals[day]
        live = states[(states["status"] != "closed") & (states["silenced"] == "")].reset_index(drop=True)
        known = as_known(cases, day)
        known = known[known["received_at"] > day - pd.Timedelta(days=rules.history_days + 1)]
        known["due_at"] = known[DUE]
        joined = pd.to_datetime(members["joined_at"])
        inputs = ItemInputs(live, known, case_persons, members[joined.isna() | (joined <= day)], group_cases)
        out[day] = build_items(inputs, day, ledger_use._options(settings, day))
    print(f"  items for {len(days)} Mondays: {time.perf_counter() - t0:.0f} s", flush=True)
    links = {"cases": cases[["source", "source_id", "received_at", "level"]], "case_persons": case_persons,
             "members": members, "group_cases": group_cases}
    cache.write_bytes(pickle.dumps((out, links)))
    return out, links


# --- 3. the ledger with a steady office -------------------------------------------------------------------
def replay_ledger(weekly: dict, days: list[pd.Timestamp], settings, scale: float, quiet_weeks: int = 1,
                  lower_stale: bool = True) -> tuple[dict, pd.DataFrame]:
    """Monday -> the ledger after that Monday's run and office; and every event. The owner resolves an item
    once its subject has had no open signal for ``quiet_weeks`` Mondays; with ``lower_stale`` the meeting
    lowers each grade the review proposes (``stale_grades``: no run has supported it for four weeks)."""
    rules = settings.grading
    rules = replace(rules, yellow_at=rules.yellow_at * scale, red_at=rules.red_at * scale)
    ledger = assign.empty_ledger().assign(**{c: pd.Series(dtype=object) for c in assign.INFO_COLUMNS})
    states, events = {}, []
    last_signal: dict[str, pd.Timestamp] = {}
    for day in days:
        items, features = weekly[day]
        graded = grade_items(features, rules).merge(items, on=ITEM_KEY)
        # the past week's office: verify what was resolved a week ago
        resolved = ledger.loc[ledger["status"] == Status.RESOLVED.value, ITEM_KEY]
        ledger = _act_all(ledger, resolved, "verify", VERIFIER, day - pd.Timedelta(days=1), "回访满意", events)
        ledger, ev = assign.ledger_step(ledger, graded, day, settings.staff, settings.regions,
                                        settings.ledger.deadline_days)
        events.append(ev)
        # the Monday meeting confirms every new item; owners are named and acknowledge at once
        waiting = ledger.loc[ledger["status"].isin([Status.NEW.value, Status.MONITORING.value]), ITEM_KEY]
        ledger = _act_all(ledger, waiting, "confirm", ANALYST, day, "研判会确认", events)
        if lower_stale:
            for key, proposed in stale_grades(ledger, day)[[ITEM_KEY, "proposed"]].itertuples(index=False):
                ledger = _act_all(ledger, [key], "override", ANALYST, day, "研判会：四周证据不足，降级",
                                  events, grade=Grade(proposed))
        ledger, ev = assign.ledger_step(ledger, graded, day, settings.staff, settings.regions,
                                        settings.ledger.deadline_days)
        events.append(ev)
        fresh = ledger.loc[ledger["status"].isin([Status.ASSIGNED.value, Status.REOPENED.value]), ITEM_KEY]
        ledger = _act_all(ledger, fresh, "acknowledge", "owner", day, "已签收", events)
        last_signal.update(dict.fromkeys(graded[ITEM_KEY], day))
        quiet_since = day - pd.Timedelta(weeks=quiet_weeks - 1)
        # owners report progress on what still signals, and resolve an item whose subject no longer does
        open_work = ledger[ledger["status"].isin([s.value for s in OPEN_WORK])]
        quiet = open_work[ITEM_KEY].map(last_signal) < quiet_since
        working = open_work.loc[~quiet & (open_work["status"] != Status.IN_PROGRESS.value), ITEM_KEY]
        ledger = _act_all(ledger, working, "progress", "owner", day + pd.Timedelta(hours=1), "走访协调，化解中", events)
        ledger = _act_all(ledger, open_work.loc[quiet, ITEM_KEY], "resolve", "owner", day + pd.Timedelta(hours=12),
                          "已化解", events)
        states[day] = ledger.copy()
    every = pd.concat([e for e in events if len(e)], ignore_index=True)
    return states, every


def _act_all(ledger: pd.DataFrame, keys, action: str, by: str, at: pd.Timestamp, note: str,
             events: list, grade: Grade | None = None) -> pd.DataFrame:
    """The same action on each of ``keys`` (``assign.act``, its checks included); events appended."""
    keys = list(keys)
    if not keys:
        return ledger
    core = ledger[list(assign.LEDGER_COLUMNS)]
    for key in keys:
        core, ev = assign.act(core, key, action, by, at, note, grade=grade)
        events.append(ev)
    out = core.merge(ledger[[ITEM_KEY, *assign.INFO_COLUMNS]], on=ITEM_KEY, how="left")
    return out[list(assign.ITEM_COLUMNS)]


# --- 4. the baseline rule ------------------------------------------------------------------------------
def baseline(links: dict, days: list[pd.Timestamp]) -> dict:
    """Monday -> the baseline's red and yellow subjects (``subject, grade, level, n90, last``), in its order."""
    cases = links["cases"].assign(case_key=lambda c: c["source"].astype(str) + ":" + c["source_id"].astype(str))
    cases["rank"] = cases["level"].map(lambda v: LEVEL_RANK.get(Level(v), 0) if isinstance(v, str) and v else 0)
    cp = links["case_persons"].assign(case_key=lambda c: c["source"].astype(str) + ":" + c["source_id"].astype(str))
    gc = links["group_cases"].assign(case_key=lambda c: c["source"].astype(str) + ":" + c["source_id"].astype(str))
    by_subject = pd.concat([cp.assign(subject="person:" + cp["person_id"].astype(str))[["case_key", "subject"]],
                            gc.assign(subject="group:" + gc["group_id"].astype(str))[["case_key", "subject"]]])
    facts = by_subject.merge(cases[["case_key", "received_at", "rank"]], on="case_key")
    out = {}
    for day in days:
        year = facts[(facts["received_at"] < day) & (facts["received_at"] >= day - pd.Timedelta(days=365))]
        year = year.assign(recent=year["received_at"] >= day - pd.Timedelta(days=90))
        g = year.groupby("subject")
        s = pd.DataFrame({"level": g["rank"].max(), "last": g["received_at"].max(), "n90": g["recent"].sum()})
        s["grade"] = np.where(s["level"] >= 2, "red", np.where((s["n90"] >= 3) | (s["level"] >= 1), "yellow", ""))
        s = s[s["grade"] != ""].reset_index()
        s["_red"] = s["grade"] == "red"
        out[day] = s.sort_values(["_red", "level", "n90", "last", "subject"],
                                 ascending=[False, False, False, False, True]).drop(columns="_red")
    return out


# --- measures ----------------------------------------------------------------------------------------------
def riskwatch_lists(states: dict) -> dict:
    """Monday -> open red and yellow items (``subject, grade, score``), in the ledger's order."""
    out = {}
    for day, ledger in states.items():
        held = ledger[~ledger["status"].isin([s.value for s in CLOSED])
                      & ledger["grade"].isin([Grade.RED.value, Grade.YELLOW.value])]
        held = held.assign(subject=held["subject_kind"] + ":" + held["subject_id"].astype(str),
                           _rank=held["grade"].map(lambda g: -GRADE_RANK[Grade(g)]))
        out[day] = held.sort_values(["_rank", "score", ITEM_KEY], ascending=[True, False, True])[
            ["subject", "grade", "score"]]
    return out


def escalation_subjects(truth: Path, links: dict, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    esc = pd.read_csv(truth / "escalations.csv", dtype={"source_id": str}, parse_dates=["received_at"])
    esc = esc[esc["city_escalation"] & (esc["received_at"] >= start) & (esc["received_at"] < end)]
    cp, members, gc = links["case_persons"], links["members"], links["group_cases"]
    persons = cp.groupby(["source", "source_id"])["person_id"].agg(lambda v: sorted(set(map(str, v)))).to_dict()
    groups_of_case = gc.groupby(["source", "source_id"])["group_id"].agg(lambda v: sorted(set(map(str, v)))).to_dict()
    groups_of_person = members.groupby("person_id")["group_id"].agg(lambda v: sorted(set(map(str, v)))).to_dict()
    subjects = []
    for source, sid in zip(esc["source"], esc["source_id"], strict=True):
        ps = persons.get((source, sid), [])
        gs = set(groups_of_case.get((source, sid), []))
        for p in ps:
            gs |= set(groups_of_person.get(p, []))
        subjects.append({f"person:{p}" for p in ps} | {f"group:{g}" for g in gs})
    return esc.assign(subjects=subjects).reset_index(drop=True)


def early_warning(esc: pd.DataFrame, lists: dict, days: list[pd.Timestamp]) -> dict:
    held = {d: set(lists[d]["subject"]) for d in days}
    warned, leads = 0, []
    for t, subjects in zip(esc["received_at"], esc["subjects"], strict=True):
        before = [d for d in days if d <= t - pd.Timedelta(days=7)]
        if not before or not subjects:
            continue
        i = days.index(before[-1])
        if not subjects & held[days[i]]:
            continue
        warned += 1
        j = i
        while j > 0 and subjects & held[days[j - 1]]:
            j -= 1
        leads.append((t - days[j]).days)
    return {"warned": warned, "share": warned / len(esc) if len(esc) else float("nan"),
            "median_lead": statistics.median(leads) if leads else float("nan")}


def cut(lists_a: dict, lists_b: dict) -> tuple[dict, dict]:
    a, b = {}, {}
    for d in lists_a:
        k = min(len(lists_a[d]), len(lists_b[d]))
        a[d], b[d] = lists_a[d].head(k), lists_b[d].head(k)
    return a, b


def load_figures(states: dict, settings) -> dict:
    caps = {m.id: (m.role, m.cap) for m in settings.staff}
    rows = []
    for day, ledger in states.items():
        held = ledger[ledger["status"].isin([s.value for s in OPEN_WORK]) & ledger["owner_id"].notna()]
        for role, grade in (("county_leader", "red"), ("township_leader", "yellow")):
            people = [i for i, (r, _) in caps.items() if r == role]
            n = held[held["grade"] == grade]["owner_id"].value_counts()
            for p in people:
                rows.append({"day": day, "role": role, "n": int(n.get(p, 0)), "cap": caps[p][1]})
    f = pd.DataFrame(rows)
    out = {}
    for role, g in f.groupby("role"):
        busy = g[g["n"] > 0]
        out[role] = {"mean_per_owner": g["n"].mean(), "max": int(g["n"].max()),
                     "mean_when_holding": busy["n"].mean() if len(busy) else 0.0,
                     "over_cap_share": float((g["n"] > g["cap"]).mean()), "cap": int(g["cap"].max())}
    return out


def stability(states: dict, events: pd.DataFrame, days: list[pd.Timestamp]) -> dict:
    changes = events[events["kind"].isin(["graded_up", "escalated", "override_lapsed", "override"])]
    open_weeks = sum(int((~ledger["status"].isin([s.value for s in CLOSED])).sum()) for ledger in states.values())
    items = len(states[days[-1]])
    return {"items": items, "grade_changes": len(changes),
            "per_item_month": len(changes) / (open_weeks * 7 / 30.4) if open_weeks else float("nan"),
            "escalated_on_deadline": int((events["kind"] == "escalated").sum()),
            "lowered": int((events["kind"] == "override").sum()),
            "reopened": int((events["kind"] == "reopened").sum()),
            "reopened_items": int(events.loc[events["kind"] == "reopened", ITEM_KEY].nunique())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="var/riskwatch.db")
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--work", default="var/replay")
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--scale", type=float, nargs="*", default=[1.0])
    ap.add_argument("--lower-stale", choices=["yes", "no"], nargs="*", default=["yes"],
                    help="whether the Monday meeting lowers the grades no run has supported for four weeks")
    ap.add_argument("--quiet-weeks", type=int, nargs="*", default=[1],
                    help="the office resolves an item after this many Mondays without a signal (one run each)")
    args = ap.parse_args()
    settings = load_settings()
    work = Path(args.work)
    t0 = time.perf_counter()
    url, days = detect_year(Path(args.db), work, args.weeks, settings)
    weekly, links = weekly_items(url, work, days, settings)
    print(f"detect and items ready: {time.perf_counter() - t0:.0f} s", flush=True)
    esc = escalation_subjects(Path(args.truth), links, days[0] + pd.Timedelta(days=7), days[-1] + pd.Timedelta(days=7))
    base = baseline(links, days)
    linked = int((esc["subjects"].map(len) > 0).sum())
    print(f"\nreplayed {len(days)} Mondays {days[0]:%Y-%m-%d} .. {days[-1]:%Y-%m-%d}; {len(esc)} city escalations "
          f"in the year after the first ({linked} with a petitioner or group riskwatch resolved)")
    b_alone = early_warning(esc, base, days)
    b_n = statistics.mean(len(base[d]) for d in days)
    print(f"baseline alone: {b_n:.0f} red+yellow a Monday; warned {b_alone['warned']} "
          f"({b_alone['share']:.1%}), median lead {b_alone['median_lead']} days")
    for scale, quiet, lower in [(sc, q, lo) for sc in args.scale for q in args.quiet_weeks for lo in args.lower_stale]:
        t1 = time.perf_counter()
        states, events = replay_ledger(weekly, days, settings, scale, quiet, lower == "yes")
        rw = riskwatch_lists(states)
        r_alone = early_warning(esc, rw, days)
        rw_cut, b_cut = cut(rw, base)
        r_eq, b_eq = early_warning(esc, rw_cut, days), early_warning(esc, b_cut, days)
        n_rw = statistics.mean(len(rw[d]) for d in days)
        n_eq = statistics.mean(len(rw_cut[d]) for d in days)
        last = states[days[-1]]
        grades = last[~last["status"].isin([s.value for s in CLOSED])]["grade"].value_counts().to_dict()
        print(f"\n== thresholds x{scale:g} (yellow {settings.grading.yellow_at * scale:g}, red "
              f"{settings.grading.red_at * scale:g}), resolved after {quiet} quiet Monday(s), stale grades lowered: "
              f"{lower}; ledger "
              f"{time.perf_counter() - t1:.0f} s")
        print(f"riskwatch alone: {n_rw:.0f} open red+yellow a Monday (last Monday open: {grades}); warned "
              f"{r_alone['warned']} ({r_alone['share']:.1%}), median lead {r_alone['median_lead']} days")
        print(f"at equal counts ({n_eq:.0f} a Monday): riskwatch {r_eq['warned']} ({r_eq['share']:.1%}, lead "
              f"{r_eq['median_lead']} d) vs baseline {b_eq['warned']} ({b_eq['share']:.1%}, lead "
              f"{b_eq['median_lead']} d): ratio {r_eq['share'] / b_eq['share'] if b_eq['share'] else float('inf'):.2f}")
        mid = days[len(days) // 2]
        for half, part in (("first half", esc[esc["received_at"] < mid]), ("second half", esc[esc["received_at"] >= mid])):
            r_h, b_h = early_warning(part, rw_cut, days), early_warning(part, b_cut, days)
            print(f"  {half} ({len(part)} escalations): riskwatch {r_h['share']:.1%} vs baseline {b_h['share']:.1%}: "
                  f"ratio {r_h['share'] / b_h['share'] if b_h['share'] else float('inf'):.2f}")
        for role, f in load_figures(states, settings).items():
            print(f"load {role}: mean {f['mean_per_owner']:.2f} a Monday, {f['mean_when_holding']:.2f} when holding "
                  f"any, max {f['max']} (cap {f['cap']}), over cap {f['over_cap_share']:.1%} of owner-Mondays")
        s = stability(states, events, days)
        print(f"stability: {s['items']} items; {s['grade_changes']} grade changes = {s['per_item_month']:.3f} per "
              f"item per open month ({s['escalated_on_deadline']} on a missed deadline, {s['lowered']} lowered by the "
              f"meeting's review); {s['reopened']} reopenings "
              f"of {s['reopened_items']} items")


if __name__ == "__main__":
    main()

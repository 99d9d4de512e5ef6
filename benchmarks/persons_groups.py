"""Organised-group discovery on the demo city against the synthetic ground truth.

    riskwatch demo                                  # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/persons_groups.py [--no-resolve] [--replay]

Cases and parties come from the store; ``person_keys`` (phone, address) from ``party_features`` of the
stored parties. Persons are taken (a) from the truth (truth/parties.csv: the real person behind each party)
and (b) from ``persons.linkage.resolve`` over all stored parties. ``build_graph`` + ``find_groups`` run
with the defaults and with the alternatives the module docstring weighs (Louvain over the whole graph,
connected components only, resolution 1, no household rule).

A true group (truth/groups.csv, 40 of them; truth/group_members.csv has every member with the day they
joined and their township, including members never named on a case) is *found* when a found group's members overlap its members
(the persons on its cases, truth/cases.csv ``group_id``) with Jaccard >= 0.5. Member precision and recall
are pooled over the found pairs (recall: over all true members); a *false group* matches no true group.
With resolved persons, a found member is the true person most of its records belong to. ``--replay``
runs ``group_findings`` every Monday over the data (groups as found on all of it) and counts findings.

Measured on the demo city of 2026-12-03 (216,431 stored cases, 228,919 parties, 40 groups with 966 members
on cases; groups grow, and 12 have members in a neighbouring township); about 7 minutes with ``--replay``
on a busy machine:

| variant | groups | found | false | member P | member R |
|---|---|---|---|---|---|
| default: components + Louvain 0.5, 3 households | 40 | 40 / 40 | 0 | 1.000 | 1.000 |
| Louvain over the whole graph | 39 | 39 / 40 | 0 | 0.967 | 0.984 |
| connected components only | 38 | 38 / 40 | 0 | 0.954 | 0.971 |
| resolution 1.0 | 62 | 38 / 40 | 24 | 1.000 | 0.689 |
| no household rule | 496 | 40 / 40 | 456 | 1.000 | 1.000 |

The same with resolved persons (b); 2 of the 966 true members are split in two by resolution. The true
leader is among the 3 most central members of all 40 groups. The found max level equals the highest level
of each group's cases in truth/cases.csv for all 40, and so does truth/groups.csv ``max_level`` (taken
from the cases). Replay: 205 growth findings (40 groups), 41 escalation findings (26 groups), 6 spread
findings (the 6 groups with cases in a second township; the other 6 that span two townships do so only
in their members' addresses, which ``group_findings`` does not read). BENCHMARKS.md has the city before.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import load_settings, resolve_database_url
from riskwatch.persons.features import party_features
from riskwatch.persons.group_signals import group_findings
from riskwatch.persons.groups import build_graph, find_groups
from riskwatch.store import load_cases, load_parties, make_engine, make_session

CASE_COLUMNS = [S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE, S.LEVEL, S.IS_GROUP,
                S.HEADCOUNT]
LEVEL_ZH = {lv.value: S.LEVEL_LABELS[lv] for lv in S.Level}
VARIANTS: dict[str, dict[str, Any]] = {
    "default (components + Louvain 0.5, 3 households)": {},
    "Louvain over the whole graph": {"method": "louvain"},
    "connected components only": {"method": "components"},
    "resolution 1.0": {"resolution": 1.0},
    "no household rule": {"min_households": 1},
}


def load(db: str | None, truth: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(cases, parties with record_id and true person_id, true groups, true members, the highest level of
    each true group's cases)."""
    engine = make_engine(resolve_database_url(db))
    with make_session(engine) as session:
        parties = load_parties(session)
        cases = load_cases(session, columns=CASE_COLUMNS)
    engine.dispose()
    parties["record_id"] = parties[S.SOURCE] + ":" + parties[S.SOURCE_ID] + ":" + parties[S.SEQ].astype(str)
    region = parties[[S.SOURCE, S.SOURCE_ID]].merge(cases[[S.SOURCE, S.SOURCE_ID, S.REGION_CODE]],
                                                    on=[S.SOURCE, S.SOURCE_ID], how="left")[S.REGION_CODE]
    parties["district"] = region.fillna("").str[:6].to_numpy()
    true = pd.read_csv(truth / "parties.csv", dtype=str)
    true["record_id"] = true["source"] + ":" + true["source_id"] + ":" + true["seq"]
    parties = parties.merge(true[["record_id", "person_id"]], on="record_id", how="left")
    tcases = pd.read_csv(truth / "cases.csv", dtype=str, usecols=["source", "source_id", "group_id", "level"])
    tcases = tcases.dropna(subset=["group_id"])
    zh = ["区", "市", "省", "进京"]   # truth levels are ranks
    case_levels = {str(g): zh[int(v)] for g, v in tcases.groupby("group_id")["level"].agg(
        lambda x: max(int(i) for i in x)).items()}
    tmembers = (tcases.merge(true[["source", "source_id", "person_id"]], on=["source", "source_id"])
                [["group_id", "person_id"]].drop_duplicates())
    tgroups = pd.read_csv(truth / "groups.csv", dtype=str)
    return cases, parties.dropna(subset=["person_id"]).reset_index(drop=True), tgroups, tmembers, case_levels


def resolve_persons(feats: pd.DataFrame) -> np.ndarray:
    """Person labels from ``linkage.resolve``: a tuple (labels, model, info) or a ``Resolution``."""
    from riskwatch.persons.linkage import resolve

    result: Any = resolve(feats)
    return np.asarray(result.labels if hasattr(result, "labels") else result[0], dtype=object)


def score(members: pd.DataFrame, truth_of: Callable[[pd.Series], pd.Series], tmembers: pd.DataFrame
          ) -> dict[str, Any]:
    """Found / false groups, pooled member precision and recall, and the best match of each true group."""
    found = members.assign(true_person=truth_of(members["person_id"]).to_numpy())
    found = found.dropna(subset=["true_person"]).drop_duplicates(["group_id", "true_person"])
    both = found.merge(tmembers.rename(columns={"group_id": "true_group", "person_id": "true_person"}),
                       on="true_person")
    inter = both.groupby(["group_id", "true_group"]).size().rename("inter").reset_index()
    inter["n_found"] = inter["group_id"].map(found.groupby("group_id").size())
    inter["n_true"] = inter["true_group"].map(tmembers.groupby("group_id").size())
    inter["jaccard"] = inter["inter"] / (inter["n_found"] + inter["n_true"] - inter["inter"])
    best = inter.sort_values(["jaccard", "inter"], ascending=False).drop_duplicates("true_group")
    hit = best.loc[best["jaccard"] >= 0.5]
    matched_found = set(inter.loc[inter["jaccard"] >= 0.5, "group_id"])
    return {"found": len(hit), "groups": members["group_id"].nunique(),
            "false": members["group_id"].nunique() - len(matched_found),
            "precision": hit["inter"].sum() / max(hit["n_found"].sum(), 1),
            "recall": hit["inter"].sum() / len(tmembers), "best": best.set_index("true_group")}


def run_variant(cases: pd.DataFrame, cp: pd.DataFrame, keys: pd.DataFrame, **kw: Any
                ) -> tuple[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], float, float, int]:
    t0 = time.perf_counter()
    graph = build_graph(cases, cp, keys)
    t1 = time.perf_counter()
    result = find_groups(graph, cases, cp, **kw)
    t2 = time.perf_counter()
    return result, t1 - t0, t2 - t1, graph.number_of_nodes()


def report(name: str, cases: pd.DataFrame, cp: pd.DataFrame, keys: pd.DataFrame,
           truth_of: Callable[[pd.Series], pd.Series], tgroups: pd.DataFrame, tmembers: pd.DataFrame,
           leaders: set[str], case_levels: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The variants' scores, then each true group against the default's match (max level: the plan in
    groups.csv, the highest level of its cases in truth/cases.csv, the found group's)."""
    print(f"\n## persons: {name}\n")
    print("| variant | groups | true groups found | false groups | member precision | member recall "
          "| graph nodes | build | find |\n|---|---|---|---|---|---|---|---|---|")
    default: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None
    best = pd.DataFrame()
    for label, kw in VARIANTS.items():
        result, t_build, t_find, nodes = run_variant(cases, cp, keys, **kw)
        s = score(result[1], truth_of, tmembers)
        print(f"| {label} | {s['groups']} | {s['found']} / {len(tgroups)} | {s['false']} | {s['precision']:.3f} "
              f"| {s['recall']:.3f} | {nodes} | {t_build:.1f} s | {t_find:.1f} s |")
        if default is None:
            default, best = result, s["best"]
    assert default is not None
    groups, members, _ = default
    central = groups.set_index("group_id")["central"]
    lead = sum(bool(truth_of(pd.Series(central[g], dtype=object)).isin(leaders).any())
               for g in best.loc[best["jaccard"] >= 0.5, "group_id"])
    matched = members.loc[members["group_id"].isin(set(best.loc[best["jaccard"] >= 0.5, "group_id"]))]
    true_persons = truth_of(matched["person_id"])
    print(f"\nmembers of the found groups: {len(matched)} persons for {true_persons.nunique()} true persons "
          f"({len(matched) - matched.assign(t=true_persons.to_numpy()).drop_duplicates(['group_id', 't']).shape[0]}"
          " a true person split in two)")
    print(f"true leader among the 3 most central members: {lead} of {int((best['jaccard'] >= 0.5).sum())} "
          "found groups")
    print("\n| true group | members | max level (groups.csv) | max level (its cases) | found group | size | Jaccard "
          "| max level (found) |\n|---|---|---|---|---|---|---|---|")
    info = groups.set_index("group_id").to_dict("index")
    matches = best.to_dict("index")
    for g in tgroups.to_dict("records"):
        tid = str(g["group_id"])
        n_true = int((tmembers["group_id"] == tid).sum())
        cells = [tid, str(n_true), str(g["max_level"]), case_levels.get(tid, "-")]
        m = matches.get(tid)
        if m is not None and m["jaccard"] >= 0.5:
            found = LEVEL_ZH.get(str(info[m["group_id"]]["max_level"]), "-")
            mark = "" if found == case_levels.get(tid) else " ≠"
            cells += [str(m["group_id"]), str(info[m["group_id"]]["size"]), f"{m['jaccard']:.2f}", found + mark]
        else:
            cells += ["not found", "", "", ""]
        print("| " + " | ".join(cells) + " |")
    return default


def replay(result: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], cases: pd.DataFrame) -> None:
    """``group_findings`` every Monday (groups as found on all the data: only their timing is replayed)."""
    groups, members, gcases = result
    info = cases[[S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE, S.LEVEL]]
    start = pd.Timestamp(cases[S.RECEIVED_AT].min()).normalize()
    mondays = pd.date_range(start + pd.offsets.Week(weekday=0), cases[S.RECEIVED_AT].max(), freq="W-MON")
    t0 = time.perf_counter()
    settings = load_settings()
    found = pd.concat([group_findings(groups, members, gcases, info, d, regions=settings.regions,
                                      taxonomy=settings.taxonomy) for d in mondays], ignore_index=True)
    took = time.perf_counter() - t0
    print(f"\n## weekly findings over {len(mondays)} Mondays ({took:.1f} s, {took / len(mondays) * 1000:.0f} ms "
          "a run)\n")
    print(found.groupby(S.KIND).agg(findings=(S.SUBJECT, "size"), groups=(S.SUBJECT, "nunique")).to_string())
    print("\nexamples:")
    for kind in found[S.KIND].unique():
        print("  " + found.loc[found[S.KIND] == kind, S.SENTENCE].iloc[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--no-resolve", action="store_true", help="skip (b): persons from linkage.resolve")
    ap.add_argument("--replay", action="store_true", help="weekly group_findings over the whole span")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cases, parties, tgroups, tmembers, case_levels = load(args.db, Path(args.truth))
    feats = party_features(parties[["record_id", "name", "id_number", "phone", "address", "district"]])
    print(f"{len(cases)} cases, {len(parties)} parties, {len(tgroups)} true groups with {len(tmembers)} members; "
          f"loaded in {time.perf_counter() - t0:.1f} s")
    leaders = set(tgroups["leader_person_id"])

    cp = parties[[S.SOURCE, S.SOURCE_ID, "person_id", S.SEQ]]
    keys = pd.DataFrame({"person_id": parties["person_id"], "phone_key": feats["phone_key"],
                         "address_key": feats["address_key"]})
    result = report("(a) the true person of each party", cases, cp, keys, lambda s: s, tgroups, tmembers, leaders,
                    case_levels)
    if args.replay:
        replay(result, cases)

    if not args.no_resolve:
        t1 = time.perf_counter()
        labels = resolve_persons(feats)
        print(f"\nlinkage.resolve: {len(np.unique(labels))} persons in {time.perf_counter() - t1:.1f} s")
        resolved = parties.assign(label=labels)
        majority = (resolved.groupby(["label", "person_id"]).size().rename("n").reset_index()
                    .sort_values(["n", "person_id"], ascending=[False, True]).drop_duplicates("label")
                    .set_index("label")["person_id"])
        cp_b = resolved[[S.SOURCE, S.SOURCE_ID, "label", S.SEQ]].rename(columns={"label": "person_id"})
        keys_b = keys.assign(person_id=resolved["label"].to_numpy())
        report("(b) persons from linkage.resolve", cases, cp_b, keys_b, lambda s: s.map(majority), tgroups,
               tmembers, leaders, case_levels)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

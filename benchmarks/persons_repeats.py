"""Repeat petitions (重复信访) of the demo city against the synthetic ground truth.

    riskwatch demo                                  # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/persons_repeats.py [--db URL] [--truth var/demo/truth] [--skip-resolve] [--sweep]

``persons.repeats.find_matters`` runs twice on every stored case: (a) with the true persons of the
parties (truth/parties.csv), which measures the matter rules alone, and (b) with the persons found by
``persons.linkage.resolve`` over ``party_features`` of the stored parties, the production path.
``is_repeat`` is scored with precision and recall against two truths:

- ``visit_no > 0`` from truth/cases.csv (the generator's own count of the earlier cases of the matter);
- *store truth*: a case is a repeat when an earlier **stored** case (ordered as ``find_matters`` orders:
  received_at, source, source_id) has the same true matter (``matter_id`` of truth/cases.csv; a city
  written before that column existed gave every solo petitioner one matter and every group one, so
  its ``person_id`` is the matter). This truth differs from ``visit_no > 0`` where the earlier case was
  quarantined at ingest, or where a petition register case (dated to the day, 00:00) and a hotline
  case of the same day swap order.

``matter_id`` is also scored as a clustering of cases against the true matter (pairwise and B-cubed,
``persons.metrics.cluster_scores``). Last, the city-wide repeat share (重复信访占比) of the last six
months by ``repeat_share``.

Two probes with the true persons: *text only* (``leaf_township=False``) shows what the text similarity
finds without the same-leaf-same-township rule; *paired* joins true persons two by two within a
district, as if each pair were one petitioner with two matters, and shows how often the rules then join
two different matters (pairwise matter precision, is_repeat precision); ``--sweep`` repeats the paired
probe over text thresholds, with and without the leaf-and-township rule.

Since the city of 2026-12 a quarter of the repeat petitioners have two or three matters (another leaf
category, in their township or a neighbouring one), so the rules are asked to keep a person's matters
apart as well as to join one matter's retellings; the *paired* probe (two persons' matters as one
person's) is kept for comparison with the earlier figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import resolve_database_url
from riskwatch.persons.features import party_features
from riskwatch.persons.linkage import resolve
from riskwatch.persons.metrics import cluster_scores
from riskwatch.persons.repeats import RepeatOptions, find_matters, repeat_counts, repeat_share
from riskwatch.store import load_cases, load_parties, make_engine, make_session

KEY = ["source", "source_id"]


def load(db: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    engine = make_engine(resolve_database_url(db))
    with make_session(engine) as session:
        cases = load_cases(session, columns=["source", "source_id", "received_at", "category_code",
                                             "region_code", "content", "summary"])
        parties = load_parties(session)
    engine.dispose()
    return cases, parties


def store_truth(cases: pd.DataFrame, truth_cases: pd.DataFrame) -> pd.DataFrame:
    """``source, source_id, matter, visit_repeat, store_repeat, is_group`` of every stored case."""
    matter = "matter_id" if "matter_id" in truth_cases else "person_id"
    t = truth_cases[[*KEY, matter, "visit_no", "group_id"]].rename(columns={matter: "true_matter"})
    c = cases[[*KEY, "received_at"]].merge(t, on=KEY, how="inner", validate="one_to_one")
    c = c.sort_values(["received_at", *KEY])
    c["store_repeat"] = c.duplicated("true_matter")
    c["visit_repeat"] = c["visit_no"].astype(int) > 0
    c["is_group"] = c["group_id"].fillna("") != ""
    return c.rename(columns={"true_matter": "matter"})[[*KEY, "matter", "visit_repeat", "store_repeat", "is_group"]]


def resolved_persons(cases: pd.DataFrame, parties: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """``source, source_id, person_id`` with persons from ``linkage.resolve``; and the seconds it took."""
    rec = parties.merge(cases[[*KEY, "received_at", "region_code"]].rename(columns={"region_code": "case_region"}),
                        on=KEY, how="left")
    rec["district"] = rec["case_region"].fillna("").str[:6]
    rec["record_id"] = rec["source"] + ":" + rec["source_id"] + ":" + rec["seq"].astype(str)
    t0 = time.perf_counter()
    feats = party_features(rec[["record_id", "name", "id_number", "phone", "address", "district", "received_at"]])
    res = resolve(feats)
    labels = res[0] if isinstance(res, tuple) else res.labels   # older API: (labels, model, info)
    return pd.DataFrame({"source": rec["source"], "source_id": rec["source_id"],
                         "person_id": np.asarray(labels)}), time.perf_counter() - t0


def paired_persons(true_parties: pd.DataFrame, cases: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """True persons joined two by two within a district (as if each pair were one person with two
    matters): a probe of how well the matter rules keep two matters of one person apart."""
    first = true_parties.merge(cases[[*KEY, "region_code"]], on=KEY).drop_duplicates("person_id")
    first = first.sample(frac=1.0, random_state=seed)
    first["district"] = first["region_code"].str[:6]
    first["rank"] = first.groupby("district").cumcount()
    first["pair"] = first["district"] + ":" + (first["rank"] // 2).astype(str)
    return true_parties.merge(first[["person_id", "pair"]], on="person_id").drop(columns="person_id").rename(
        columns={"pair": "person_id"})


def score(name: str, repeats: pd.DataFrame, truth: pd.DataFrame) -> list[str]:
    m = repeats.merge(truth, on=KEY, validate="one_to_one")
    lines = []
    for subset, rows in (("all", m), ("solo", m[~m["is_group"]]), ("group", m[m["is_group"]])):
        for col in ("visit_repeat", "store_repeat"):
            tp = int((rows["is_repeat"] & rows[col]).sum())
            p = tp / max(int(rows["is_repeat"].sum()), 1)
            r = tp / max(int(rows[col].sum()), 1)
            lines.append(f"| {name} | {subset} | {col} | {len(rows)} | {int(rows[col].sum())} | "
                         f"{int(rows['is_repeat'].sum())} | {p:.4f} | {r:.4f} |")
    s = cluster_scores(m["matter_id"].to_numpy(), m["matter"].to_numpy())
    lines.append(f"| {name} | matters (pairwise P / R, B-cubed F1) | | | | | {s.pair_precision:.4f} | "
                 f"{s.pair_recall:.4f} / {s.bcubed_f1:.4f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--skip-resolve", action="store_true", help="only the run with the true persons")
    ap.add_argument("--sweep", action="store_true",
                    help="also the paired probe at several text thresholds, with and without leaf_township")
    args = ap.parse_args()
    truth_dir = Path(args.truth)
    cases, parties = load(args.db)
    truth = store_truth(cases, pd.read_csv(truth_dir / "cases.csv", dtype=str))
    true_parties = pd.read_csv(truth_dir / "parties.csv", dtype=str)[[*KEY, "person_id"]]
    print(f"{len(cases)} cases, {len(parties)} parties; {len(truth)} cases with a truth row")
    runs: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    t0 = time.perf_counter()
    runs["true persons"] = (find_matters(cases, true_parties), true_parties)
    print(f"find_matters with true persons: {time.perf_counter() - t0:.1f} s")
    runs["true persons, text only"] = (find_matters(cases, true_parties, RepeatOptions(leaf_township=False)),
                                       true_parties)
    paired = paired_persons(true_parties, cases)
    runs["true persons paired"] = (find_matters(cases, paired), paired)
    if not args.skip_resolve:
        found, secs = resolved_persons(cases, parties)
        print(f"party_features + resolve: {secs:.1f} s, {found['person_id'].nunique()} persons")
        t0 = time.perf_counter()
        runs["resolved persons"] = (find_matters(cases, found), found)
        print(f"find_matters with resolved persons: {time.perf_counter() - t0:.1f} s")
    lines = ["| persons | cases | truth | cases | true repeats | found repeats | precision | recall |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (rep, _) in runs.items():
        lines += score(name, rep, truth)
    print("\n" + "\n".join(lines))
    if args.sweep:
        print("\n| text_threshold | leaf_township | found repeats | false (paired) | missed |\n|---|---|---|---|---|")
        for threshold in (0.4, 0.5, 0.6, 0.7, 0.8):
            for leaf in (True, False):
                rep = find_matters(cases, paired, RepeatOptions(text_threshold=threshold, leaf_township=leaf))
                m = rep.merge(truth, on=KEY)
                print(f"| {threshold} | {leaf} | {int(m['is_repeat'].sum())} | "
                      f"{int((m['is_repeat'] & ~m['store_repeat']).sum())} | "
                      f"{int((~m['is_repeat'] & m['store_repeat']).sum())} |")
    info = cases[[*KEY, "received_at", "category_code", "region_code"]]
    last = cases["received_at"].max().to_period("M")
    window = cases[cases["received_at"].dt.to_period("M") > last - 6]
    shares = {}
    for name, (rep, cp) in runs.items():
        if name not in ("true persons", "resolved persons"):
            continue
        persons, matters = repeat_counts(rep.merge(info, on=KEY), cp)
        print(f"\n{name}: {len(matters)} matters; busiest persons:\n{persons.head(5).to_string(index=False)}")
        s = repeat_share(window, rep, region_level=0)
        shares[name] = s.set_index("period")[["cases", "repeats", "share"]]
    tm = truth.merge(cases[[*KEY, "received_at", "region_code"]], on=KEY)
    tm["is_repeat"] = tm["store_repeat"]
    shares["store truth"] = repeat_share(tm[tm["received_at"].dt.to_period("M") > last - 6], tm,
                                         region_level=0).set_index("period")[["cases", "repeats", "share"]]
    table = pd.concat(shares, axis=1)
    print(f"\n重复信访占比, city-wide, last 6 months (last month {last} may be partial):")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()

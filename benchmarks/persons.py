"""Identity resolution of the demo city's parties against the synthetic ground truth.

    riskwatch demo                                  # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/persons.py [--sample N] [--threshold 0.95]

Every stored party (≈ 230,000 for the demo city) becomes a record: name, ID number, phone, address as
stored, the district of its case. ``persons.features.party_features`` then ``persons.linkage.resolve``
(blocking, Fellegi–Sunter with EM, constrained clustering); the clusters are scored against the true
person of each party (truth/parties.csv) with pairwise and B-cubed precision / recall / F1
(``persons.metrics.cluster_scores``). ``--sample N`` keeps the records of N random true persons.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import resolve_database_url
from riskwatch.persons.features import party_features
from riskwatch.persons.linkage import LinkageOptions, resolve
from riskwatch.persons.metrics import cluster_scores
from riskwatch.store import make_engine, make_session
from riskwatch.store.persons import load_party_records


def load_records(db: str | None, truth: Path) -> pd.DataFrame:
    engine = make_engine(resolve_database_url(db))
    with make_session(engine) as session:
        rec = load_party_records(session)   # as `riskwatch persons` reads them
    engine.dispose()
    true = pd.read_csv(truth / "parties.csv", dtype=str)
    true["record_id"] = true["source"] + ":" + true["source_id"] + ":" + true["seq"]
    rec = rec.merge(true[["record_id", "person_id"]], on="record_id", how="left")
    missing = int(rec["person_id"].isna().sum())
    if missing:
        print(f"{missing} stored parties have no truth row: left out")
    return rec.dropna(subset=["person_id"]).reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--sample", type=int, default=0, help="keep the records of this many true persons")
    ap.add_argument("--threshold", type=float, default=LinkageOptions().threshold)
    args = ap.parse_args()
    rec = load_records(args.db, Path(args.truth))
    if args.sample:
        persons = rec["person_id"].drop_duplicates().sample(args.sample, random_state=1)
        rec = rec.loc[rec["person_id"].isin(set(persons))].reset_index(drop=True)
    print(f"{len(rec)} records of {rec['person_id'].nunique()} true persons")
    t0 = time.perf_counter()
    feats = party_features(rec[["record_id", "name", "id_number", "phone", "address", "district",
                                "received_at"]])
    t1 = time.perf_counter()
    res = resolve(feats, LinkageOptions(threshold=args.threshold))
    labels, model = res.labels, res.model
    t2 = time.perf_counter()
    s = cluster_scores(labels, rec["person_id"].to_numpy())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"features {t1 - t0:.1f} s, linkage {t2 - t1:.1f} s; {res.pairs} candidate pairs; "
          f"skipped blocks {res.skipped_groups}; peak memory {peak:.0f} MiB")
    print(f"{len(np.unique(labels))} persons found; prior {model.prior:.4f}")
    print(model.describe().round(4).to_string(index=False))
    print(f"\n| measure | value |\n|---|---|\n| pairwise precision | {s.pair_precision:.4f} |\n"
          f"| pairwise recall | {s.pair_recall:.4f} |\n| pairwise F1 | {s.pair_f1:.4f} |\n"
          f"| B-cubed F1 | {s.bcubed_f1:.4f} |")


if __name__ == "__main__":
    main()

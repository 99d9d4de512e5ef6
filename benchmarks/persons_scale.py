"""Identity resolution at scale: a million party records, then a batch of new records against them.

    python benchmarks/persons_scale.py [--records 1000000] [--new 10000] [--repeat 1] [--workdir DIR]

The records are the synthetic generator's own parties (``synth.model.build_city`` with a larger
``scale``: one bigger city, so common names pile up in its districts as they would; then
``synth.records.written_parties``: names, IDs, phones and addresses as clerks write them, with typos,
spoiled IDs, anonymous callers), without the export / ingest round trip. Each record's district is the
district of its case's grid; its true person is the generator's. ``--records + --new`` records are drawn
at random from the city; ``--new`` of them are held out.

1. **full**: ``party_features`` + ``resolve`` on the ``--records`` records, in a subprocess (its peak
   RSS is the run's own); scored against the truth (pairwise and B-cubed).
2. **incremental**: in another subprocess, the known records' features (as the full run left them, with
   their person labels) and the model (``Model.to_dict``, as the store keeps it) are loaded; then
   ``party_features`` of the new records and ``resolve_incremental``; the known labels plus the new ones
   are scored against the truth of all ``--records + --new`` records.

Each stage (generating, full, incremental) runs in its own process. Times are wall-clock medians over
``--repeat`` runs; the peak memory is the stage process's own high-water mark (``VmHWM``; Linux carries
``ru_maxrss`` over from a parent across fork and exec, which would count the generator's memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import load_settings
from riskwatch.persons.features import FEATURE_COLUMNS, party_features
from riskwatch.persons.fellegi_sunter import Model
from riskwatch.persons.linkage import PERSON_ID, resolve, resolve_incremental
from riskwatch.persons.metrics import cluster_scores
from riskwatch.schema import RegionLevel
from riskwatch.synth.model import build_city
from riskwatch.synth.records import written_parties

RECORDS_PER_SCALE = 229_000     # party records of a 5-year city at scale 1 (about)
INPUT = ["record_id", "name", "id_number", "phone", "address", "district", "received_at"]


def make_records(n: int, seed: int = 7, years: int = 5, end: date = date(2025, 10, 31)) -> pd.DataFrame:
    """``n`` party records as written (``INPUT`` columns + ``person_id``) drawn from one synthetic city
    large enough to hold them."""
    settings = load_settings()
    scale = n / RECORDS_PER_SCALE * 1.06
    city = build_city(settings, years, seed, end, scale)
    parties = written_parties(np.random.default_rng(seed + 2), city.cases, city.parties, city.persons,
                              settings.city_name)
    if len(parties) < n:
        raise RuntimeError(f"make_records: the city holds {len(parties)} records, fewer than {n}")
    reg = settings.regions
    grids = sorted(r.code for r in reg.at_level(RegionLevel.GRID))
    district = np.array([reg.ancestor_at(g, RegionLevel.DISTRICT) for g in grids], dtype=object)
    case = parties["case"].to_numpy()
    rec = pd.DataFrame({
        "record_id": [f"C{c:08d}:{s}" for c, s in zip(case, parties["seq"].to_numpy(), strict=True)],
        "name": parties["name"], "id_number": parties["id_number"], "phone": parties["phone"],
        "address": parties["address"], "district": district[city.cases["grid"].to_numpy()[case]],
        "received_at": pd.to_datetime(city.cases["received_at"]).to_numpy()[case],
        "person_id": city.persons["person_id"].to_numpy()[parties["person"].to_numpy()],
    })
    keep = np.sort(np.random.default_rng(seed + 3).choice(len(rec), n, replace=False))
    return rec.iloc[keep].reset_index(drop=True)


def _peak_mib() -> float:
    """This process's peak resident memory: ``VmHWM`` (of this program alone: Linux carries
    ``ru_maxrss`` over from the parent across fork and exec), else ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_generate(workdir: Path, records: int, new: int) -> dict[str, object]:
    """Child: the synthetic records, split into ``known.parquet`` and ``new.parquet``."""
    t0 = time.perf_counter()
    rec = make_records(records + new)
    held = np.random.default_rng(11).choice(len(rec), new, replace=False)
    is_new = np.zeros(len(rec), dtype=bool)
    is_new[held] = True
    rec[~is_new].reset_index(drop=True).to_parquet(workdir / "known.parquet")
    rec[is_new].reset_index(drop=True).to_parquet(workdir / "new.parquet")
    return {"records": len(rec), "persons": int(rec["person_id"].nunique()), "seconds": time.perf_counter() - t0}


def run_full(workdir: Path) -> dict[str, object]:
    """Child: features + resolve of ``known.parquet``; writes the features with labels and the model."""
    rec = pd.read_parquet(workdir / "known.parquet")
    t0 = time.perf_counter()
    feats = party_features(rec[INPUT])
    t1 = time.perf_counter()
    res = resolve(feats)
    t2 = time.perf_counter()
    s = cluster_scores(res.labels, rec["person_id"].to_numpy())
    out = feats.assign(**{PERSON_ID: res.labels})
    out.to_parquet(workdir / "known_feats.parquet")
    (workdir / "model.json").write_text(json.dumps(res.model.to_dict()))
    return {"records": len(rec), "features_s": t1 - t0, "resolve_s": t2 - t1, "pairs": res.pairs,
            "skipped": res.skipped_groups, "persons": int(pd.Series(res.labels).nunique()),
            "pair_p": s.pair_precision, "pair_r": s.pair_recall, "pair_f1": s.pair_f1, "b3_f1": s.bcubed_f1,
            "peak_mib": _peak_mib()}


def run_incremental(workdir: Path, repeat: int) -> dict[str, object]:
    """Child: ``resolve_incremental`` of ``new.parquet`` against the known features and model."""
    known = pd.read_parquet(workdir / "known_feats.parquet")
    model = Model.from_dict(json.loads((workdir / "model.json").read_text()))
    new = pd.read_parquet(workdir / "new.parquet")
    truth = pd.read_parquet(workdir / "known.parquet", columns=["person_id"])["person_id"].to_numpy()
    times, feat_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        feats = party_features(new[INPUT])
        t1 = time.perf_counter()
        res = resolve_incremental(known[[*FEATURE_COLUMNS, PERSON_ID]], feats[list(FEATURE_COLUMNS)], model)
        t2 = time.perf_counter()
        feat_times.append(t1 - t0)
        times.append(t2 - t1)
    labels = np.concatenate([known[PERSON_ID].to_numpy(dtype=object), res.labels.astype(object)])
    s = cluster_scores(labels, np.concatenate([truth, new["person_id"].to_numpy()]))
    persons = set(known[PERSON_ID].tolist())
    joined = float(np.mean([label in persons for label in res.labels]))
    return {"known": len(known), "new": len(new), "features_s": statistics.median(feat_times),
            "incremental_s": statistics.median(times), "pairs": res.pairs, "merged": len(res.merged),
            "joined_known": joined, "pair_p": s.pair_precision, "pair_r": s.pair_recall, "pair_f1": s.pair_f1,
            "b3_f1": s.bcubed_f1, "peak_mib": _peak_mib()}


def _child(stage: str, workdir: Path, *options: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--child", stage, "--workdir", str(workdir), *options],
                          check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1, help="full runs (median); incremental runs per child")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the generated records here")
    ap.add_argument("--child", choices=["generate", "full", "incremental"], default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = (run_generate(args.workdir, args.records, args.new) if args.child == "generate" else
                  run_full(args.workdir) if args.child == "full" else run_incremental(args.workdir, args.repeat))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "known.parquet").exists():   # each stage in its own process: its own peak memory
            gen = _child("generate", work, "--records", str(args.records), "--new", str(args.new))
            print(f"generated {gen['records']} records of {gen['persons']} true persons in {gen['seconds']:.0f} s")
        fulls = [_child("full", work) for _ in range(args.repeat)]
        full = fulls[-1]
        med = {k: statistics.median(float(f[k]) for f in fulls) for k in ("features_s", "resolve_s", "peak_mib")}
        print(f"full: {full['records']} records, {full['pairs']} pairs, skipped {full['skipped']}, "
              f"{full['persons']} persons; features {med['features_s']:.1f} s + resolve {med['resolve_s']:.1f} s "
              f"= {med['features_s'] + med['resolve_s']:.1f} s (median of {len(fulls)}); "
              f"peak RSS {med['peak_mib']:.0f} MiB; pairwise P {full['pair_p']:.4f} R {full['pair_r']:.4f} "
              f"F1 {full['pair_f1']:.4f}; B3 F1 {full['b3_f1']:.4f}")
        inc = _child("incremental", work, "--repeat", str(max(args.repeat, 3)))
        print(f"incremental: {inc['new']} new against {inc['known']} known, {inc['pairs']} pairs; "
              f"features {inc['features_s']:.2f} s + resolve_incremental {inc['incremental_s']:.2f} s "
              f"(median of {max(args.repeat, 3)}); peak RSS {inc['peak_mib']:.0f} MiB; "
              f"{inc['joined_known']:.1%} joined a known person, {inc['merged']} persons merged; "
              f"all records: pairwise P {inc['pair_p']:.4f} R {inc['pair_r']:.4f} F1 {inc['pair_f1']:.4f}; "
              f"B3 F1 {inc['b3_f1']:.4f}")


if __name__ == "__main__":
    main()

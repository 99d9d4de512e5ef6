"""`riskwatch persons` on the demo store: a full run, a re-run with nothing new, and a daily run with 10,000
new records, end to end (load, features, resolution, register, matters, groups, writes).

    riskwatch demo                                   # once: var/riskwatch.db
    python benchmarks/persons_store.py [--db var/riskwatch.db] [--new 10000]

Works on a copy of the store. "New" records are made by deleting 10,000 random records from the register
after the full run: the next run sees them as never resolved and matches them against the persons already
known with the stored model, as a daily run does with the day's parties. The script reports each run's
wall time and peak memory (each run in its own process) and how far the persons after the daily run agree
with the full run's (pairwise, over all records).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from riskwatch.persons.metrics import cluster_scores

CHILD = """
import resource, sys, time
from datetime import datetime
from riskwatch import pipeline
from riskwatch.config import load_settings
from riskwatch.store import make_engine, make_session
engine = make_engine(sys.argv[1])
t0 = time.perf_counter()
with make_session(engine) as session:
    s = pipeline.run_persons(session, load_settings(), datetime(2026, 11, 24, 2, 0), full=sys.argv[2] == "full")
    session.commit()
print(f"{time.perf_counter() - t0:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} "
      f"{s.mode} {s.resolved} {s.persons} {s.merged}")
"""


def run(url: str, mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", CHILD, url, mode], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="var/riskwatch.db")
    ap.add_argument("--new", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "p.db"
        shutil.copy(args.db, db)
        url = f"sqlite:///{db}"
        rows = [("full", *run(url, "full")), ("re-run, nothing new", *run(url, "daily"))]
        engine = create_engine(url)
        before = pd.read_sql("select record_id, person_id from person_records", engine)
        chosen = before.sample(args.new, random_state=5)
        with engine.begin() as conn:
            conn.execute(text("create temp table gone (record_id text)"))
            conn.execute(text("insert into gone values (:r)"), [{"r": r} for r in chosen["record_id"]])
            conn.execute(text("delete from person_records where record_id in (select record_id from gone)"))
        rows.append((f"daily, {args.new:,} new records", *run(url, "daily")))
        after = pd.read_sql("select record_id, person_id from person_records", engine).set_index("record_id")
        engine.dispose()
        agree = cluster_scores(after.loc[before["record_id"], "person_id"].to_numpy(), before["person_id"].to_numpy())
    print("| run | wall time | peak memory | mode | records resolved | persons | merged |")
    print("|---|---|---|---|---|---|---|")
    for name, secs, mib, mode, resolved, persons, merged in rows:
        print(f"| {name} | {secs} s | {mib} MiB | {mode} | {int(resolved):,} | {int(persons):,} | {merged} |")
    print(f"\nthe persons after the daily run against the full run's (all records): pairwise P {agree.pair_precision:.4f}"
          f" R {agree.pair_recall:.4f} F1 {agree.pair_f1:.4f}")


if __name__ == "__main__":
    main()

"""`riskwatch persons` on the demo store: a full run, re-runs with nothing new, a daily run with 10,000 new
records and a re-run after it, end to end (load, features, resolution, register, matters, groups, writes).

    riskwatch demo                                   # once: var/riskwatch.db
    python benchmarks/persons_store.py [--db var/riskwatch.db] [--new 10000] [--repeat 3]

Works on a copy of the store (upgraded to this riskwatch's schema first). "New" records are made by
deleting 10,000 random records from the register after the full run: the next run sees them as never
resolved and matches them against the persons already known with the stored model, as a daily run does
with the day's parties. The script reports each run's time inside the process (``run_persons``), the
process's wall time (interpreter start and imports included: what a user at a terminal waits for) and
peak memory, each run in its own process; re-runs with nothing new are repeated (median, then all), and
how far the persons after the daily run agree with the full run's (pairwise, over all records).
Running it with PYTHONPATH set to another checkout measures that code on the same store.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from riskwatch.persons.metrics import cluster_scores

CHILD = """
import resource, sys, time
from datetime import datetime
from riskwatch import pipeline
from riskwatch.config import load_settings
from riskwatch.store import make_engine, make_session, upgrade_database
upgrade_database(sys.argv[1])
engine = make_engine(sys.argv[1])
t0 = time.perf_counter()
with make_session(engine) as session:
    s = pipeline.run_persons(session, load_settings(), datetime(2026, 11, 24, 2, 0), full=sys.argv[2] == "full")
    session.commit()
print(f"{time.perf_counter() - t0:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} "
      f"{s.mode} {s.resolved} {s.persons} {s.merged}")
"""


def run(url: str, mode: str, cwd: str) -> list[str]:
    """One run in its own process (in ``cwd``, so that the riskwatch imported is PYTHONPATH's or the
    installed one, never a checkout in the current directory): [run s, MiB, mode, resolved, persons,
    merged, process wall s]."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, url, mode], check=True, capture_output=True, text=True,
                         cwd=cwd)
    return [*out.stdout.split(), f"{time.perf_counter() - t0:.1f}"]


def repeated(name: str, url: str, cwd: str, times: int) -> tuple[str, ...]:
    """``times`` re-runs with nothing new: the median of each figure, and every run's seconds."""
    runs = [run(url, "daily", cwd) for _ in range(times)]
    med = [statistics.median(float(r[i]) for r in runs) for i in (0, 1, 6)]
    every = ", ".join(f"{r[0]}/{r[6]}" for r in runs)
    last = runs[-1]
    return (f"{name} (median of {times}: {every} s)", f"{med[0]:.1f}", f"{med[1]:.0f}", last[2], last[3], last[4],
            last[5], f"{med[2]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="var/riskwatch.db")
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="re-runs with nothing new, each time")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "p.db"
        shutil.copy(args.db, db)
        url = f"sqlite:///{db}"
        rows = [("full", *run(url, "full", tmp)), repeated("re-run, nothing new", url, tmp, args.repeat)]
        engine = create_engine(url)
        before = pd.read_sql("select record_id, person_id from person_records", engine)
        chosen = before.sample(args.new, random_state=5)
        with engine.begin() as conn:
            conn.execute(text("create temp table gone (record_id text)"))
            conn.execute(text("insert into gone values (:r)"), [{"r": r} for r in chosen["record_id"]])
            conn.execute(text("delete from person_records where record_id in (select record_id from gone)"))
        rows.append((f"daily, {args.new:,} new records", *run(url, "daily", tmp)))
        rows.append(repeated("re-run after the daily run, nothing new", url, tmp, args.repeat))
        after = pd.read_sql("select record_id, person_id from person_records", engine).set_index("record_id")
        engine.dispose()
        agree = cluster_scores(after.loc[before["record_id"], "person_id"].to_numpy(), before["person_id"].to_numpy())
    print("| run | run_persons | process wall time | peak memory | mode | records resolved | persons | merged |")
    print("|---|---|---|---|---|---|---|---|")
    for name, secs, mib, mode, resolved, persons, merged, wall in rows:
        print(f"| {name} | {secs} s | {wall} s | {int(mib):,} MiB | {mode} | {int(resolved):,} | {int(persons):,} "
              f"| {merged} |")
    print(f"\nthe persons after the daily run against the full run's (all records): pairwise P {agree.pair_precision:.4f}"
          f" R {agree.pair_recall:.4f} F1 {agree.pair_f1:.4f}")


if __name__ == "__main__":
    main()

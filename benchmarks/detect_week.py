"""One weekly detect run on the demo city: every series scored for the new week, signals updated and stored.

    riskwatch demo                         # once: var/riskwatch.db
    python benchmarks/detect_week.py [--db var/riskwatch.db] [--runs 3]

Works on a copy of the SQLite store (the original is left alone). The as-of is the Monday after the last
complete week of data; the run is repeated ``--runs`` times (each replaces the last: the same as-of) and
the median wall time is reported, with the time of the scoring alone (``combine.score_periods`` over
every series) measured inside the same process.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from riskwatch import pipeline
from riskwatch.config import load_settings
from riskwatch.detect import combine as C
from riskwatch.store import load_cases, make_engine, make_session, upgrade_database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="var/riskwatch.db")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "copy.db"
        shutil.copy(args.db, db)
        url = f"sqlite:///{db}"
        upgrade_database(url)
        engine = make_engine(url)
        with make_session(engine) as session:
            last = pd.Timestamp(load_cases(session, columns=["received_at"])["received_at"].max())
            pipeline.prepare_store(session, settings)
            session.commit()
        monday = last.normalize() - pd.Timedelta(days=last.weekday())   # the week of the last case: incomplete
        as_of = monday if last.weekday() < 6 else monday + pd.Timedelta(weeks=1)
        walls = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            with make_session(engine) as session:
                summary = pipeline.run_detect(session, settings, as_of, datetime.now())
                session.commit()
            walls.append(time.perf_counter() - t0)
        with make_session(engine) as session:
            series, _, _, _ = pipeline.build_store_series(session, settings, as_of, "W")
        wide = series.pivot(index="ds", columns="series_id", values="y_observed").sort_index()
        t0 = time.perf_counter()
        for sid in wide.columns:
            C.score_periods(wide[sid].to_numpy(), "W", [len(wide) - 1])
        scoring = time.perf_counter() - t0
        engine.dispose()
    live = summary.states.loc[summary.states["status"] != "closed"]
    print(f"as of {as_of:%Y-%m-%d} (week of {summary.period:%Y-%m-%d}): {summary.series} series, "
          f"{summary.scored} scored, {len(live)} open signals")
    print(f"detect run (load cases, build series, score, case signals, lifecycle, store): median "
          f"{statistics.median(walls):.1f} s over {len(walls)} runs ({', '.join(f'{w:.1f}' for w in walls)})")
    print(f"of which scoring every series for the week: {scoring:.1f} s")


if __name__ == "__main__":
    main()

"""What reading the cases as known at a past time costs against reading their latest state (issue 14).

    riskwatch demo                         # once: var/riskwatch.db
    python benchmarks/as_of.py [--db var/riskwatch.db] [--runs 5]

Works on a copy of the SQLite store (the original is left alone). For each as-of — the day after the last
receipt ("now": nothing is later, no event is read), the end of the month before the last ("a month back":
that month's report run with a month of later data in the store), one year and three years before that — two reads,
interleaved ``--runs`` times, medians reported:

- ``stats``: the cases ``month_stats`` reads for the month ending at the as-of (13 months, older ones still
  open, 15 columns), ``store.load_cases`` (latest state) against ``store.load_cases_as_of``;
- ``series``: every case received before the as-of with the 5 columns the forecast's series read.

It also prints how many cases had a version after the as-of (their events are read) and how many events
that was.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from riskwatch.deadlines import DUE, DUE_NEEDED
from riskwatch.indicators import NEEDED
from riskwatch.store import (
    load_case_history,
    load_cases,
    load_cases_as_of,
    make_engine,
    make_session,
    upgrade_database,
)

STATS_COLUMNS = list(dict.fromkeys([*(c for c in NEEDED if c != DUE), "source_id", *DUE_NEEDED]))
SERIES_COLUMNS = ["source", "received_at", "registered_at", "category_code", "region_code"]


def timed(runs: list[float], read: Callable[..., pd.DataFrame], *args: object, **kwargs: object) -> int:
    """Rows of ``read(*args, **kwargs)``; its wall time appended to ``runs``."""
    t0 = time.perf_counter()
    rows = len(read(*args, **kwargs))
    runs.append(time.perf_counter() - t0)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="var/riskwatch.db")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "copy.db"
        shutil.copy(args.db, db)
        url = f"sqlite:///{db}"
        upgrade_database(url)
        engine = make_engine(url)
        with make_session(engine) as session:
            counts = session.connection().exec_driver_sql(
                "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM case_events), "
                "(SELECT max(received_at) FROM cases)").one()
        last = pd.Timestamp(counts[2])
        now = last.normalize() + pd.Timedelta(days=1)
        month_end = (now.to_period("M") - 1).start_time
        as_ofs = {"now": now, "a month back": month_end, "a year back": month_end - pd.DateOffset(years=1),
                  "three years back": month_end - pd.DateOffset(years=3)}
        print(f"{args.db}: {counts[0]:,} cases, {counts[1]:,} events, last receipt {last:%Y-%m-%d %H:%M}; "
              f"{args.runs} interleaved runs, medians")
        print(f"{'as of':<28} {'read':<7} {'rows':>8} {'latest':>8} {'as of':>8} {'ratio':>6}  changed cases / events read")
        for label, as_of in as_ofs.items():
            month = (as_of - pd.Timedelta(seconds=1)).to_period("M")
            window = {"start": (month - 12).start_time, "open_at": month.start_time, "end": as_of}
            for read, columns, kw in (("stats", STATS_COLUMNS, window), ("series", SERIES_COLUMNS, {"end": as_of})):
                with make_session(engine) as session:
                    history = load_case_history(session, as_of, columns=columns, **kw)
                changed = history.versions["case_id"].nunique() if len(history.versions) else 0
                latest: list[float] = []
                past: list[float] = []
                for _ in range(args.runs):
                    with make_session(engine) as session:
                        rows = timed(latest, load_cases, session, columns=columns, **kw)
                        known = timed(past, load_cases_as_of, session, as_of, columns=columns, **kw)
                a, b = statistics.median(latest), statistics.median(past)
                print(f"{label + ' ' + f'{as_of:%Y-%m-%d}':<28} {read:<7} {rows:>8,} {a:>7.2f}s {b:>7.2f}s "
                      f"{b / a:>5.2f}x  {changed:,} / {len(history.versions):,}  ({known:,} known then)")
        engine.dispose()


if __name__ == "__main__":
    main()

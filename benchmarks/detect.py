"""Spike detection on the synthetic city's labelled outbreaks (first measurement; detectors only, no signals).

    riskwatch demo                     # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/detect.py [--db URL] [--truth var/demo/truth] [--years 2]

Every weekly series of the demo city is scored prospectively over its last ``--years`` years with
``detect.combine.score_periods`` (Farrington-flexible where 3+ comparable years exist, else EARS C2; the
CUSUM beside them). An injected outbreak (truth/outbreaks.csv: category x township, start, end) counts as
found when the top-category x township series or the leaf x district series that contains it alarms
within two weeks of the outbreak's first week. False alarms: alarm onsets (an alarm after a week without
one) outside every outbreak window (its weeks plus two), per series-year, over all series.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.config import load_settings, resolve_database_url
from riskwatch.detect.combine import ALARM, DETECTOR, RISE, SPIKE, score_periods
from riskwatch.forecast.base import period_start
from riskwatch.forecast.nowcast import nowcast_weights
from riskwatch.forecast.series import build_series
from riskwatch.store import load_cases, make_engine, make_session


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--years", type=int, default=2)
    args = ap.parse_args()
    settings = load_settings()
    engine = make_engine(resolve_database_url(args.db))
    with make_session(engine) as session:
        cases = load_cases(session, columns=["source", "received_at", "registered_at", "category_code",
                                             "region_code"])
    end = pd.Timestamp(cases["received_at"].max()).normalize() + pd.Timedelta(days=1)
    w, _ = nowcast_weights(cases, end)
    series, catalog = build_series(cases, settings.taxonomy, settings.regions, end, "W", weights=w,
                                   levels=settings.forecast.levels)
    wide = series.pivot(index="ds", columns="series_id", values="y_observed").sort_index()
    ds = wide.index
    n_score = 52 * args.years
    positions = range(len(ds) - n_score, len(ds))
    t0 = time.perf_counter()
    scored = {sid: score_periods(wide[sid].to_numpy(), "W", positions) for sid in wide.columns}
    seconds = time.perf_counter() - t0
    print(f"{len(scored)} weekly series x {n_score} weeks scored in {seconds:.1f} s "
          f"({seconds / len(scored) / n_score * 1000:.2f} ms per series-week)")

    outbreaks = pd.read_csv(Path(args.truth) / "outbreaks.csv", dtype=str)
    outbreaks["week"] = period_start(pd.to_datetime(outbreaks["start"]), "W")
    outbreaks["last"] = period_start(pd.to_datetime(outbreaks["end"]), "W")
    scored_weeks = ds[len(ds) - n_score:]
    outbreaks = outbreaks[outbreaks["week"].isin(scored_weeks)]
    region = settings.regions
    window: dict[str, set[pd.Timestamp]] = {}
    rows = []
    for ob in outbreaks.itertuples():
        district = region.regions[ob.township_code].parent
        ids = [f"W:{ob.category_code[:2]}:{ob.township_code}", f"W:{ob.category_code}:{district}"]
        weeks = pd.date_range(ob.week, ob.last + pd.Timedelta(weeks=2), freq="W-MON")
        found = {}
        for sid in ids:
            window.setdefault(sid, set()).update(weeks)
            f = scored.get(sid)
            if f is None:
                continue
            f = f.set_axis(scored_weeks)
            hits = f.loc[(f.index >= ob.week) & (f.index <= ob.week + pd.Timedelta(weeks=2)) & f[ALARM]]
            found[sid] = (hits.index.min() - ob.week).days // 7 if len(hits) else None
        delays = [d for d in found.values() if d is not None]
        rows.append({"outbreak": ob.outbreak_id, "extra": int(ob.extra_cases), "found": bool(delays),
                     "delay": min(delays) if delays else np.nan,
                     "by": ", ".join(f"{k}:{'-' if v is None else v}" for k, v in found.items())})
    table = pd.DataFrame(rows)
    onsets, spike_onsets, rise_onsets = 0, 0, 0
    for sid, f in scored.items():
        f = f.set_axis(scored_weeks)
        outside = ~f.index.isin(list(window.get(sid, set())))
        for col in (ALARM, SPIKE, RISE):
            a = f[col].to_numpy()
            start = a & ~np.concatenate([[False], a[:-1]])
            count = int((start & outside).sum())
            if col == ALARM:
                onsets += count
            elif col == SPIKE:
                spike_onsets += count
            else:
                rise_onsets += count
    series_years = len(scored) * args.years
    print(table.to_string(index=False))
    print(f"\noutbreaks in the scored years: {len(table)}; found within 2 weeks: {table['found'].sum()} "
          f"({table['found'].mean():.0%}), median delay {table['delay'].median():.0f} weeks")
    print(f"false alarm onsets per series-year: all {onsets / series_years:.2f} "
          f"(spike {spike_onsets / series_years:.2f}, rise {rise_onsets / series_years:.2f}) "
          f"over {series_years} series-years")
    used = pd.concat([f[DETECTOR] for f in scored.values()]).value_counts()
    print("detector used per series-week:", ", ".join(f"{k or 'insufficient'} {v}" for k, v in used.items()))


if __name__ == "__main__":
    main()

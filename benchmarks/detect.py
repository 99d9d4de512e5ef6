"""Detectors and signals on the synthetic city's labelled outbreaks and planted breaks.

    riskwatch demo                     # once: var/riskwatch.db and var/demo/truth/
    python benchmarks/detect.py [--db URL] [--truth var/demo/truth] [--years 2] [--q 0.05]

Every weekly series of the demo city is replayed over its last ``--years`` years as weekly runs would have
done it (``detect.replay``: each week scored on the data before it, with the level shifts confirmed before
it; false-discovery control, one signal per event across the trees, hysteresis).

An injected outbreak (truth/outbreaks.csv: category x township, start, end) is *found* when, within two
weeks of its first week, an open signal (or, for a detector alone, an alarm) is on a series that contains
it (its category or an ancestor, its township or an ancestor). A signal or alarm onset is *false* when its
series contains no outbreak active in that week (the outbreak's weeks plus two). Reported per detector
(raw alarms of Farrington, EARS C2 and the CUSUM, each where it scored) and for the signals; the planted
level shifts and the batch entry (truth/breaks.csv) are listed with the signals they produced.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import load_settings, resolve_database_url
from riskwatch.detect import combine as C
from riskwatch.detect.lifecycle import OPEN, STATUS, SignalPolicy
from riskwatch.detect.replay import replay
from riskwatch.forecast.base import period_start
from riskwatch.forecast.series import CATEGORY, REGION, build_series
from riskwatch.store import load_cases, make_engine, make_session


def contains(catalog: pd.DataFrame, settings: object, category: str, township: str) -> set[str]:
    """Series whose cell contains (category, township)."""
    regions = settings.regions  # type: ignore[attr-defined]
    ups = set(regions.ancestors(township))
    cats = {"*", category, category[:2]}
    sel = catalog[CATEGORY].isin(cats) & catalog[REGION].isin(ups)
    return set(catalog.loc[sel, S.SERIES_ID])


def onsets(flags: pd.DataFrame) -> pd.DataFrame:
    """(series, week) where a flag starts (set this week, not the week before)."""
    prev = flags.shift(1, fill_value=False)
    return flags & ~prev


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--truth", default="var/demo/truth")
    ap.add_argument("--years", type=int, default=2)
    ap.add_argument("--q", type=float, default=SignalPolicy().fdr_q)
    ap.add_argument("--save", default="", help="pickle the replay here (states, scores)")
    ap.add_argument("--load", default="", help="reuse a pickled replay instead of running it")
    args = ap.parse_args()
    settings = load_settings()
    engine = make_engine(resolve_database_url(args.db))
    with make_session(engine) as session:
        cases = load_cases(session, columns=["source", "received_at", "registered_at", "category_code",
                                             "region_code"])
    end = pd.Timestamp(cases["received_at"].max()).normalize() + pd.Timedelta(days=1)
    series, catalog = build_series(cases, settings.taxonomy, settings.regions, end, "W",
                                   levels=settings.forecast.levels)
    wide = series.pivot(index="ds", columns="series_id", values="y_observed").sort_index()
    ds = wide.index
    n_score = 52 * args.years
    positions = range(len(ds) - n_score, len(ds))
    weeks = ds[len(ds) - n_score:]
    policy = SignalPolicy(fdr_q=args.q)
    if args.load:
        states, scores, seconds = pickle.loads(Path(args.load).read_bytes())
    else:
        t0 = time.perf_counter()
        states, scores = replay(wide, catalog, "W", positions, policy)
        seconds = time.perf_counter() - t0
        if args.save:
            Path(args.save).write_bytes(pickle.dumps((states, scores, seconds)))
    n_series = wide.shape[1]
    print(f"{n_series} weekly series x {n_score} weeks replayed in {seconds:.1f} s "
          f"({seconds / n_series / n_score * 1000:.2f} ms per series-week, scoring and signals)")

    outbreaks = pd.read_csv(Path(args.truth) / "outbreaks.csv", dtype=str)
    outbreaks["week"] = period_start(pd.to_datetime(outbreaks["start"]), "W")
    outbreaks["last"] = period_start(pd.to_datetime(outbreaks["end"]), "W")
    outbreaks = outbreaks[outbreaks["week"].isin(weeks)].reset_index(drop=True)
    truth_cells = [contains(catalog, settings, ob.category_code, ob.township_code) for ob in outbreaks.itertuples()]
    active = pd.DataFrame(False, index=weeks, columns=wide.columns)   # an outbreak inside the series
    for ob, cells in zip(outbreaks.itertuples(), truth_cells, strict=True):
        span = (weeks >= ob.week) & (weeks <= ob.last + pd.Timedelta(weeks=2))
        active.loc[span, sorted(cells)] = True

    # flags per (week, series) for each detector alone and for the signals
    scores = scores.loc[scores[S.DS].isin(weeks)]
    flags: dict[str, pd.DataFrame] = {}
    for name, col, det in (("farrington", C.SPIKE, "farrington"), ("ears_c2", C.SPIKE, "ears_c2"),
                           ("cusum (rise)", C.RISE, None), ("any alarm", C.ALARM, None)):
        sel = scores[col] & (scores[C.DETECTOR].str.startswith(det) if det else True)
        flags[name] = (scores.assign(f=sel).pivot(index=S.DS, columns=S.SERIES_ID, values="f")
                       .reindex(index=weeks, columns=wide.columns).fillna(False).astype(bool))
    allstates = pd.concat(states, ignore_index=True)
    volume = allstates.loc[allstates[S.KIND].isin(["spike", "rise"])]
    sig = pd.DataFrame(False, index=weeks, columns=wide.columns)
    for sid, week in zip(volume[S.SUBJECT], volume[S.DS], strict=True):
        sig.at[week, sid] = True
    flags["signals"] = sig
    opened = volume.loc[volume[STATUS] == OPEN]
    sig_onsets = pd.DataFrame(False, index=weeks, columns=wide.columns)
    for sid, week in zip(opened[S.SUBJECT], opened[S.DS], strict=True):
        sig_onsets.at[week, sid] = True

    series_years = n_series * args.years
    rows = []
    for name, f in flags.items():
        start = sig_onsets if name == "signals" else onsets(f)
        false = int((start & ~active).to_numpy().sum())
        found, delays = 0, []
        for ob, cells in zip(outbreaks.itertuples(), truth_cells, strict=True):
            win = (weeks >= ob.week) & (weeks <= ob.week + pd.Timedelta(weeks=2))
            hit = f.loc[win, sorted(cells)].any(axis=1)
            if hit.any():
                found += 1
                delays.append((hit.idxmax() - ob.week).days // 7)
        rows.append({"detector": name, "found": f"{found}/{len(outbreaks)}",
                     "median delay (weeks)": np.median(delays) if delays else np.nan,
                     "false onsets / series-year": round(false / series_years, 3)})
    print(pd.DataFrame(rows).to_string(index=False))

    shifts = allstates.loc[(allstates[S.KIND] == "level_shift") & (allstates[STATUS] == OPEN)]
    breaks = pd.read_csv(Path(args.truth) / "breaks.csv")
    planted = breaks.loc[breaks["kind"].isin(["level_shift", "category_born"])]
    # a planted change starts at its start (and a temporary one ends at its end: the level comes back)
    moments = [(str(r.subject), pd.Timestamp(r.start)) for r in planted.itertuples()]
    moments += [(str(r.subject), pd.Timestamp(r.end)) for r in planted.itertuples()
                if r.kind == "level_shift" and pd.Timestamp(r.end) < weeks[-1]]
    matched = 0
    print(f"\nlevel-shift signals: {len(shifts)} (a match: same top-level category as a planted change whose "
          "start or end lies within 13 weeks of the signal's start)")
    for r in shifts.itertuples():
        ev = getattr(r, S.EVIDENCE)
        start = pd.Timestamp(ev["start"])
        cat = getattr(r, S.SUBJECT).split(":")[1]
        hit = any(cat != "*" and subj[:2] == cat[:2] and abs((when - start).days) <= 91 for subj, when in moments)
        matched += hit
        joined = f" (+{len(ev.get('joined', []))} joined)" if ev.get("joined") else ""
        print(f"  {'planted' if hit else 'other  '} {getattr(r, S.DS).date()} {getattr(r, S.SUBJECT)}{joined}: "
              f"{getattr(r, S.SENTENCE)}")
    print(f"matching a planted change: {matched} of {len(shifts)}")
    print("planted changes in or before the scored years:")
    print(breaks.loc[pd.to_datetime(breaks["end"]) >= weeks[0], ["kind", "subject", "start", "end", "factor"]]
          .to_string(index=False))
    per_week = opened.groupby(S.DS).size().reindex(weeks, fill_value=0)
    print(f"\nsignals opened per week: median {per_week.median():.0f}, max {per_week.max()} "
          f"({per_week.idxmax().date()})")


if __name__ == "__main__":
    main()

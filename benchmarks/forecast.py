"""Forecast accuracy on the synthetic city (the last year held out), and the cost of fitting every series.

    riskwatch demo                                   # once: builds var/riskwatch.db
    python benchmarks/forecast.py [--db URL] [--families default,ets,prophet] [--origins 4] [--speed-only]

Accuracy: from each of ``--origins`` origins in the last year (every 13 weeks, the first 52 weeks before the
data's last complete week), every weekly series is built as known at the origin (no look-ahead, late entries
nowcast), forecast 13 weeks ahead, and scored against the final counts. Per series (pooled over origins):
``rel`` = MAE / MAE of the seasonal naive on the same points (below 1 beats it), MASE (Hyndman), and the share
of held-out points inside the 80% / 95% intervals. "default" is riskwatch's selection by backtest; "ets" and
"prophet" force one family on every series. Reconciliation is scored by comparing ``yhat`` (reconciled) with
``yhat_base`` (the model's own) per level. Speed: one full run (fit + backtest of every series) with the
configured workers, seconds per family.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from riskwatch import pipeline
from riskwatch.config import load_settings, resolve_database_url
from riskwatch.forecast.coherence import reconcile_forecasts
from riskwatch.forecast.engine import forecast_all
from riskwatch.forecast.nowcast import nowcast_weights
from riskwatch.forecast.series import build_series
from riskwatch.store import load_cases, make_engine, make_session

H = 13


def load(url: str) -> pd.DataFrame:
    engine = make_engine(url)
    with make_session(engine) as session:
        return load_cases(session, columns=["source", "received_at", "registered_at", "category_code",
                                            "region_code"])


def series_at(cases: pd.DataFrame, settings, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    known = cases[cases["received_at"] < as_of]
    w, _ = nowcast_weights(known, as_of)
    return build_series(known, settings.taxonomy, settings.regions, as_of, "W", weights=w,
                        levels=settings.forecast.levels)


def run_origin(cases: pd.DataFrame, settings, as_of: pd.Timestamp, family: str, workers: int,
               method: str = "wls") -> tuple[pd.DataFrame, pd.DataFrame, float]:
    series, catalog = series_at(cases, settings, as_of)
    opts = pipeline.engine_options(settings, "W", H, workers, only="" if family == "default" else family)
    ds = pd.DatetimeIndex(sorted(series["ds"].unique()))
    exog = pipeline.calendar_exog(settings, ds, "W", H)
    t0 = time.perf_counter()
    res = forecast_all(series, "W", exog, opts)
    seconds = time.perf_counter() - t0
    rec = reconcile_forecasts(res.forecasts, catalog, res.errors, method if family == "default" else "none")
    return rec, catalog, seconds


def score(forecasts: pd.DataFrame, final: pd.DataFrame, first_nonzero: pd.Series, origin0: pd.Timestamp,
          column: str = "yhat") -> pd.DataFrame:
    """Per series: rel (vs seasonal naive), MASE, coverage over all held-out points."""
    y = final.pivot(index="ds", columns="series_id", values="y_observed")
    snaive = y.shift(52)
    f = forecasts.merge(y.stack().rename("actual").reset_index(), on=["series_id", "ds"])
    f["snaive"] = [snaive.at[d, s] for d, s in zip(f["ds"], f["series_id"], strict=True)]
    f["err"] = (f["actual"] - f[column]).abs()
    f["err_sn"] = (f["actual"] - f["snaive"]).abs()
    f["in80"] = (f["actual"] >= f["yhat_lower_80"]) & (f["actual"] <= f["yhat_upper_80"])
    f["in95"] = (f["actual"] >= f["yhat_lower_95"]) & (f["actual"] <= f["yhat_upper_95"])
    train = y[y.index < origin0]
    scale = (train - train.shift(52)).abs().mean()
    g = f.groupby("series_id").agg(mae=("err", "mean"), mae_sn=("err_sn", "mean"), in80=("in80", "mean"),
                                   in95=("in95", "mean"), points=("err", "size"), model=("model", "first"))
    g["rel"] = np.where(g["mae_sn"] > 0, g["mae"] / g["mae_sn"], np.where(g["mae"] == 0, 1.0, np.inf))
    g["mase"] = g["mae"] / scale.reindex(g.index)
    g["years"] = ((origin0 - first_nonzero.reindex(g.index)).dt.days / 365.25).fillna(0)
    return g


def festival_split(forecasts: pd.DataFrame, final: pd.DataFrame) -> str:
    """Pooled MAE / seasonal-naive MAE in the weeks SF-5 .. SF+2 of the held-out Spring Festivals and outside."""
    from riskwatch.calendar import spring_festival

    y = final.pivot(index="ds", columns="series_id", values="y_observed")
    f = forecasts.merge(y.stack().rename("actual").reset_index(), on=["series_id", "ds"])
    snaive = y.shift(52).stack().rename("snaive").reset_index()
    f = f.merge(snaive, on=["ds", "series_id"])
    inside = np.zeros(len(f), dtype=bool)
    for year in sorted(set(f["ds"].dt.year)):
        sf = pd.Timestamp(spring_festival(year))
        inside |= ((f["ds"] >= sf - pd.Timedelta(weeks=5)) & (f["ds"] <= sf + pd.Timedelta(weeks=2))).to_numpy()
    out = []
    for name, mask in (("inside", inside), ("outside", ~inside)):
        d = f[mask]
        out.append(f"{name} {(d['actual'] - d['yhat']).abs().sum() / (d['actual'] - d['snaive']).abs().sum():.2f}")
    return ", ".join(out)


def summarize(name: str, g: pd.DataFrame, points: pd.DataFrame) -> str:
    two = g[g["years"] >= 2]
    return (f"| {name} | {len(two)} | {(two['rel'] < 1).mean():.1%} | {two['rel'].median():.3f} | "
            f"{(two['mase'] < 1).mean():.1%} | {points.loc[two.index, 'in80'].mean():.1%} | "
            f"{points.loc[two.index, 'in95'].mean():.1%} |")


def nowcast_table(cases: pd.DataFrame, settings, end: pd.Timestamp) -> str:
    """Petition-register cases (the source entered late), city total, from 13 origins 4 weeks apart in the
    last year: the count of each of the last weeks as entered by the origin, and as nowcast, divided by
    the final count."""
    city = (("all", "city"),)
    rows = []
    petitions = cases[cases["source"] == "petition_register"]
    final, _ = build_series(petitions, settings.taxonomy, settings.regions, end, "W", levels=city)
    fin = final.set_index("ds")["y_observed"]
    for k in range(13):
        o = end - pd.Timedelta(weeks=13 + 4 * k)
        o = o - pd.Timedelta(days=o.day_of_week)
        known = cases[cases["received_at"] < o]
        w, _ = nowcast_weights(known, o)
        mask = (known["source"] == "petition_register").to_numpy()
        ser, _ = build_series(known[mask], settings.taxonomy, settings.regions, o, "W", weights=w[mask],
                              levels=city)
        ser = ser.set_index("ds")
        for back in range(4):
            d = ser.index.max() - pd.Timedelta(weeks=back)
            rows.append({"weeks_back": back + 1, "observed": ser.at[d, "y_observed"] / fin[d],
                         "nowcast": ser.at[d, "y"] / fin[d]})
    t = pd.DataFrame(rows).groupby("weeks_back").agg(["mean", "std"])
    return "\n".join(f"| {int(k)} | {r[('observed', 'mean')]:.3f} ± {r[('observed', 'std')]:.3f} | "
                     f"{r[('nowcast', 'mean')]:.3f} ± {r[('nowcast', 'std')]:.3f} |" for k, r in t.iterrows())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--families", default="default,ets,prophet")
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--reconcile", default="wls", help="reconciliation of the default run (wls, mint_shrink, ...)")
    ap.add_argument("--save", default=None, help="write each family's held-out forecasts here (parquet)")
    args = ap.parse_args()
    settings = load_settings()
    cases = load(resolve_database_url(args.db))
    end = pd.Timestamp(cases["received_at"].max()).normalize() + pd.Timedelta(days=1)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; cases {len(cases)}; "
          f"data end {end.date()}")
    final, catalog = series_at(cases, settings, end)
    print(f"series: {catalog['series_id'].nunique()} weekly, {final['ds'].nunique()} weeks of history")

    t0 = time.perf_counter()
    series = final
    opts = pipeline.engine_options(settings, "W", H, args.workers)
    ds = pd.DatetimeIndex(sorted(series["ds"].unique()))
    res = forecast_all(series, "W", pipeline.calendar_exog(settings, ds, "W", H), opts)
    wall = time.perf_counter() - t0
    n = series["series_id"].nunique()
    print(f"\nspeed: all {n} series fit + backtest ({opts.origins} origins) in {wall:.1f} s wall with "
          f"{opts.workers} workers ({wall / n * 1000:.0f} ms per series)")
    sec = res.seconds.assign(ms_per_fit=lambda f: f["seconds"] / f["fits"] * 1000)
    print(sec.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(res.scores[res.scores["selected"]]["model"].value_counts().to_string())
    if args.speed_only:
        return

    last_week = final["ds"].max()
    origins = [last_week - pd.Timedelta(weeks=52 - 13 * k) + pd.Timedelta(weeks=1) for k in range(args.origins)]
    first_nonzero = final[final["y_observed"] > 0].groupby("series_id")["ds"].min()
    print(f"\nheld-out origins: {', '.join(str(o.date()) for o in origins)}; horizon {H} weeks")
    print("\nlate entry: petition register, city total, 13 origins; count known at the origin / final count "
          "(mean ± sd)\n| week before the origin | as entered | nowcast |\n|---|---|---|")
    print(nowcast_table(cases, settings, end))
    rows, per_level = [], []
    for family in args.families.split(","):
        frames, secs = [], 0.0
        for o in origins:
            rec, cat, s = run_origin(cases, settings, o, family, args.workers, args.reconcile)
            frames.append(rec)
            secs += s
        fc = pd.concat(frames, ignore_index=True)
        fc = fc[fc["ds"] <= last_week]
        if args.save:
            fc.to_parquet(f"{args.save}/forecast_{family}.parquet")
            final.to_parquet(f"{args.save}/final.parquet")
        g = score(fc, final, first_nonzero, origins[0])
        rows.append(summarize(family, g, g))
        print(f"{family}: {secs:.0f} s for {len(origins)} origins; pooled MAE / seasonal naive around the "
              f"Spring Festival (SF-5 .. SF+2 weeks): {festival_split(fc, final)}")
        if family == "default":
            base = score(fc, final, first_nonzero, origins[0], column="yhat_base")
            lv = cat.set_index("series_id")[["category_level", "region_level"]]
            for (cl, rl), ids in lv.groupby(["category_level", "region_level"]).groups.items():
                ids = [i for i in ids if i in g.index]
                per_level.append(f"| {cl} × {rl} | {len(ids)} | {base.loc[ids, 'mae'].mean():.3f} | "
                                 f"{g.loc[ids, 'mae'].mean():.3f} | {base.loc[ids, 'rel'].median():.3f} | "
                                 f"{g.loc[ids, 'rel'].median():.3f} |")
            print(g[g["years"] >= 2]["model"].value_counts().to_string())
    print("\n| models | series (2+ years) | rel < 1 (beats seasonal naive) | median rel | MASE < 1 | "
          "80% coverage | 95% coverage |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if per_level:
        print("\n| level | series | MAE base | MAE reconciled | median rel base | median rel reconciled |\n"
              "|---|---|---|---|---|---|")
        print("\n".join(per_level))


if __name__ == "__main__":
    main()

"""Spike detectors against R surveillance::farringtonFlexible on a simulation of Noufaily et al. (2013).

    apt-get install r-base-core r-cran-surveillance      # the reference (Debian packages)
    python benchmarks/detect_noufaily.py [--series 10] [--seed 1]

Design (after Noufaily et al. 2013, Stat Med 32:1206): weekly negative-binomial baselines over 12 years,
mean exp(theta + beta t + sum_j gamma (cos + sin)(2 pi j t / 52)) with theta from -2 to 5 (about 0.1 to 150
cases a week), trend beta 0 or 0.0025, 0, 1 or 2 seasonal harmonics, dispersion phi 1.5 or 3 (variance
phi mu). In each series, outbreaks start in the last two years: size k x (baseline sd at the start),
k from 2 to 10, spread over the following weeks with a lognormal delay (as in the paper). Every week of the
last two years is scored prospectively by riskwatch's detectors and by farringtonFlexible (same options:
b 5, w 3, noPeriods 10, 26 past weeks excluded, reweighting, nbPlugin threshold, alpha 0.01, limit54 5/4).
POD: outbreaks with at least one alarm in their weeks; FPR: alarms in weeks without outbreak cases.

The simulated years are 52 weeks long and R gets an ``sts`` without dates (its years are then exactly
``frequency = 52`` weeks), so "riskwatch farrington" is given the same calendar
(``periods_per_year=52``); "riskwatch farrington (calendar year)" keeps the module's default year of
365.25 / 7 weeks, meant for dated weekly data. ``--check`` also runs riskwatch in surveillance-compatible
mode (``trend_dispersion="surveillance"``, see riskwatch/detect/farrington.py) and prints how many weekly
alarm decisions differ from R's.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.detect.ears import ears
from riskwatch.detect.farrington import FarringtonOptions, farrington_flexible

WEEKS = 624
SCORED = 104
HERE = Path(__file__).parent


def scenarios() -> list[dict[str, float]]:
    out = []
    for theta, beta, m, phi in itertools.product((-2.0, 0.5, 1.5, 3.0, 5.0), (0.0, 0.0025), (0, 1, 2),
                                                 (1.5, 3.0)):
        out.append({"theta": theta, "beta": beta, "m": m, "phi": phi})
    return out


def simulate(sc: dict[str, float], rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    t = np.arange(1, WEEKS + 1)
    log_mu = sc["theta"] + sc["beta"] * t
    for j in range(1, int(sc["m"]) + 1):
        log_mu = log_mu + 0.6 * np.cos(2 * np.pi * j * t / 52) + 0.6 * np.sin(2 * np.pi * j * t / 52)
    mu = np.exp(log_mu)
    phi = sc["phi"]
    size = mu / (phi - 1)
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    outbreaks = []
    for _ in range(4):   # four outbreaks, in the last two years, not overlapping their starts
        start = int(rng.integers(WEEKS - SCORED, WEEKS - 4))
        k = float(rng.integers(2, 11))
        cases = rng.poisson(k * np.sqrt(phi * mu[start]))
        if cases == 0:
            continue
        delay = np.minimum(np.floor(rng.lognormal(0, 0.5, cases)).astype(int), 6)
        weeks = np.clip(start + delay, 0, WEEKS - 1)
        np.add.at(y, weeks, 1)
        outbreaks.append(np.unique(weeks))
    return y, outbreaks


def rates(alarm: np.ndarray, outbreaks: list[np.ndarray]) -> tuple[int, int, int, int, int]:
    """(outbreaks detected, outbreaks, false alarms, weeks without outbreak cases, summed delay in weeks
    from an outbreak's first week to its first alarm over the detected ones)."""
    scored = np.zeros(WEEKS, dtype=bool)
    scored[WEEKS - SCORED:] = True
    in_ob = np.zeros(WEEKS, dtype=bool)
    for w in outbreaks:
        in_ob[w] = True
    hits = [w[alarm[w]] for w in outbreaks]
    detected = sum(len(h) > 0 for h in hits)
    delay = sum(int(h.min() - w.min()) for h, w in zip(hits, outbreaks, strict=True) if len(h))
    false = int((alarm & scored & ~in_ob).sum())
    return detected, len(outbreaks), false, int((scored & ~in_ob).sum()), delay


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10, help="series per scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="count alarm differences from R in compatible mode")
    ap.add_argument("--alphas", default="0.015,0.02,0.03",
                    help="other alphas for riskwatch, to read its POD at R's false-positive rate")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows, data, truth = [], [], {}
    for i, sc in enumerate(scenarios()):
        for r in range(args.series):
            sid = f"s{i:02d}_{r:02d}"
            y, obs = simulate(sc, rng)
            truth[sid] = (sc, y, obs)
            data.append(pd.DataFrame({"series_id": sid, "week": np.arange(1, WEEKS + 1), "count": y}))
    positions = range(WEEKS - SCORED, WEEKS)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        pd.concat(data).to_csv(src, index=False)
        t0 = time.perf_counter()
        subprocess.run(["Rscript", str(HERE / "farrington_flexible.R"), str(src), str(dst),
                        str(WEEKS - SCORED + 1)], check=True)
        r_seconds = time.perf_counter() - t0
        ref = pd.read_csv(dst)
    ours_seconds, differ = 0.0, 0
    alphas = [float(a) for a in args.alphas.split(",") if a]
    year52 = FarringtonOptions(periods_per_year=52)
    compat = FarringtonOptions(periods_per_year=52, trend_dispersion="surveillance")
    for sid, (sc, y, obs) in truth.items():
        t0 = time.perf_counter()
        far = farrington_flexible(y, 52, positions, year52)
        ours_seconds += time.perf_counter() - t0
        alarms = {"riskwatch farrington": far.alarm,
                  "riskwatch farrington (calendar year)": farrington_flexible(y, 52, positions).alarm,
                  "EARS C2": ears(y, positions, "C2").alarm,
                  "EARS C3": ears(y, positions, "C3").alarm}
        r = ref[ref["series_id"] == sid].sort_values("week")["alarm"].to_numpy().astype(bool)
        alarms["R farringtonFlexible"] = r
        if args.check:
            differ += int((farrington_flexible(y, 52, positions, compat).alarm != r).sum())
        for a in alphas:
            alarms[f"riskwatch alpha {a}"] = farrington_flexible(y, 52, positions,
                                                                 replace(year52, alpha=a)).alarm
        for name, a in alarms.items():
            full = np.zeros(WEEKS, dtype=bool)
            full[WEEKS - SCORED:] = a
            det, n_ob, false, weeks, delay = rates(full, obs)
            rows.append({"detector": name, "mean": "low (<1)" if sc["theta"] < 0 else
                         "mid (1-20)" if sc["theta"] < 3 else "high (20+)", "detected": det, "outbreaks": n_ob,
                         "false": false, "weeks": weeks, "delay": delay})
    t = pd.DataFrame(rows)
    cols = ["detected", "outbreaks", "false", "weeks", "delay"]
    agg = t.groupby(["detector"])[cols].sum()
    by = t.groupby(["mean", "detector"])[cols].sum()
    n = len(truth)
    print(f"{len(scenarios())} scenarios x {args.series} series = {n} series, {SCORED} weeks scored each; "
          f"R {r_seconds:.0f} s, riskwatch farrington {ours_seconds:.0f} s ({ours_seconds / n:.2f} s a series)")
    if args.check:
        print(f"surveillance-compatible riskwatch: {differ} of {n * SCORED} weekly alarms differ from R")
    print("\n| detector | POD | FPR | mean delay (weeks) |\n|---|---|---|---|")
    for name, r in agg.iterrows():
        print(f"| {name} | {r.detected / r.outbreaks:.1%} | {r.false / r.weeks:.2%} | {r.delay / r.detected:.2f} |")
    print("\n| baseline mean | detector | POD | FPR | mean delay |\n|---|---|---|---|---|")
    for (mean, name), r in by.iterrows():
        print(f"| {mean} | {name} | {r.detected / r.outbreaks:.1%} | {r.false / r.weeks:.2%} | "
              f"{r.delay / r.detected:.2f} |")
    print("\nriskwatch's POD at R's false-positive rate (linear between its alphas 0.01, "
          f"{', '.join(map(str, alphas))}):\n| baseline mean | R POD | riskwatch POD at the same FPR |\n|---|---|---|")
    sweep = ["riskwatch farrington", *(f"riskwatch alpha {a}" for a in alphas)]
    for mean, part in [("all", agg), *((m, by.loc[m]) for m in by.index.get_level_values(0).unique())]:
        ref_r = part.loc["R farringtonFlexible"]
        pts = sorted((part.loc[d, "false"] / part.loc[d, "weeks"], part.loc[d, "detected"] / part.loc[d, "outbreaks"])
                     for d in sweep)
        fpr = ref_r.false / ref_r.weeks
        at = np.interp(fpr, [p[0] for p in pts], [p[1] for p in pts])
        outside = " (R's FPR is outside riskwatch's range: clamped)" if not pts[0][0] <= fpr <= pts[-1][0] else ""
        print(f"| {mean} | {ref_r.detected / ref_r.outbreaks:.1%} at {fpr:.2%} | {at:.1%}{outside} |")


if __name__ == "__main__":
    main()

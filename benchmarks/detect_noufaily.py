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
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.detect.ears import ears
from riskwatch.detect.farrington import farrington_flexible

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


def rates(alarm: np.ndarray, outbreaks: list[np.ndarray]) -> tuple[int, int, int, int]:
    scored = np.zeros(WEEKS, dtype=bool)
    scored[WEEKS - SCORED:] = True
    in_ob = np.zeros(WEEKS, dtype=bool)
    for w in outbreaks:
        in_ob[w] = True
    detected = sum(bool(alarm[w].any()) for w in outbreaks)
    false = int((alarm & scored & ~in_ob).sum())
    return detected, len(outbreaks), false, int((scored & ~in_ob).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10, help="series per scenario")
    ap.add_argument("--seed", type=int, default=1)
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
    ours_seconds = 0.0
    for sid, (sc, y, obs) in truth.items():
        t0 = time.perf_counter()
        far = farrington_flexible(y, 52, positions)
        ours_seconds += time.perf_counter() - t0
        alarms = {"riskwatch farrington": far.alarm,
                  "EARS C2": ears(y, positions, "C2").alarm,
                  "EARS C3": ears(y, positions, "C3").alarm}
        r = ref[ref["series_id"] == sid].sort_values("week")["alarm"].to_numpy().astype(bool)
        alarms["R farringtonFlexible"] = r
        for name, a in alarms.items():
            full = np.zeros(WEEKS, dtype=bool)
            full[WEEKS - SCORED:] = a
            det, n_ob, false, weeks = rates(full, obs)
            rows.append({"detector": name, "mean": "low (<1)" if sc["theta"] < 0 else
                         "mid (1-20)" if sc["theta"] < 3 else "high (20+)", "detected": det, "outbreaks": n_ob,
                         "false": false, "weeks": weeks})
    t = pd.DataFrame(rows)
    agg = t.groupby(["detector"])[["detected", "outbreaks", "false", "weeks"]].sum()
    by = t.groupby(["mean", "detector"])[["detected", "outbreaks", "false", "weeks"]].sum()
    n = len(truth)
    print(f"{len(scenarios())} scenarios x {args.series} series = {n} series, {SCORED} weeks scored each; "
          f"R {r_seconds:.0f} s, riskwatch farrington {ours_seconds:.0f} s")
    print("\n| detector | POD | FPR |\n|---|---|---|")
    for name, r in agg.iterrows():
        print(f"| {name} | {r.detected / r.outbreaks:.1%} | {r.false / r.weeks:.2%} |")
    print("\n| baseline mean | detector | POD | FPR |\n|---|---|---|---|")
    for (mean, name), r in by.iterrows():
        print(f"| {mean} | {name} | {r.detected / r.outbreaks:.1%} | {r.false / r.weeks:.2%} |")


if __name__ == "__main__":
    main()

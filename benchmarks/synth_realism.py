"""How the synthetic city compares with what DOMAIN.md says real complaint data looks like.

    python benchmarks/synth_realism.py DIR      # DIR written by `riskwatch synth` / `riskwatch demo`

Reads only DIR/truth/cases.csv (no database), prints the figures quoted in BENCHMARKS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from riskwatch.calendar import spring_festival


def main(out: Path) -> None:
    cases = pd.read_csv(out / "truth" / "cases.csv", dtype=str, usecols=["source", "channel", "received_at",
                                                                           "category_code"])
    cases["received_at"] = pd.to_datetime(cases["received_at"])
    t = cases.set_index("received_at")
    weekly = t.resample("W-SUN").size().iloc[1:-1]
    resid = (weekly - weekly.rolling(13, center=True).mean()).dropna()
    print(f"cases {len(cases)}; weekly city total: mean {weekly.mean():.0f}, "
          f"variance around a 13-week trend / mean = {resid.var() / weekly.mean():.1f}  (real: 10-40)")
    kind = cases["source"].where(cases["source"] != "petition_register", "petition office")
    for name, g in cases.groupby(kind):
        day = g["received_at"].dt.day_of_week
        ratio = ((day >= 5).sum() / 2) / ((day < 5).sum() / 5)
        print(f"weekend/weekday daily volume, {name}: {ratio:.2f}  (real: 0.05 offices .. 0.4 hotline)")
    monthly = t.resample("MS").size().iloc[1:-1]
    by_month = monthly.groupby(monthly.index.month).mean()
    print(f"busiest / quietest calendar month: {by_month.max() / by_month.min():.2f}  (real: 1.7-2.5)")
    last_year = cases[cases["received_at"] > cases["received_at"].max() - pd.Timedelta(days=365)]
    per_week = last_year.groupby("category_code").size() / 52
    print(f"categories averaging >= 5 a week in the last year: {(per_week >= 5).sum()} of {len(per_week)}")
    daily = t.resample("D").size()
    wages = t[t["category_code"] == "0101"].resample("D").size()
    for year in sorted(set(daily.index.year))[1:]:
        sf = pd.Timestamp(spring_festival(year))
        if sf > daily.index.max():
            continue
        fest = daily[sf - pd.Timedelta(days=1): sf + pd.Timedelta(days=6)].mean()
        before = daily[sf - pd.Timedelta(days=56): sf - pd.Timedelta(days=29)].mean()
        surge = wages[sf - pd.Timedelta(days=28): sf - pd.Timedelta(days=2)].mean()
        base = wages[sf - pd.Timedelta(days=84): sf - pd.Timedelta(days=57)].mean()
        print(f"Spring Festival {sf:%Y-%m-%d}: festival week / weeks 5-8 before = {fest / before:.2f}; "
              f"欠薪 4 weeks before / weeks 9-12 before = {surge / base:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/demo"))
